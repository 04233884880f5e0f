//! The Settlement contract's calls, typed, and the settlement of a receipt:
//! its keys registered as one verifier bundle, its shard proofs encoded for
//! the precompiles, the job's values checked on chain.

use crate::abi::{Settlement as S, Status};
use crate::client::{Chain, LogEntry, TxReceipt, TxRequest, Wallet};
use crate::evm::{word, EvmKey, EvmProof};
use crate::{Error, Result};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_sol_types::{SolCall, SolEvent};
use ark_ff::PrimeField;
use zkgate_statement::field::{fr_from_hex, i128_to_field};
use zkgate_statement::groth16::{from_bytes, vk_sha256, Proof, VerifyingKey};
use zkgate_statement::{Fr, Receipt, SpecHeader};

/// A deployed Settlement contract on a chain.
#[derive(Debug)]
pub struct Settlement {
    chain: Chain,
    address: Address,
}

/// A job as the contract holds it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct JobView {
    /// Who opened it.
    pub researcher: Address,
    /// The dataset's id.
    pub dataset_id: u64,
    /// Unix time after which it can only be refunded.
    pub deadline: u64,
    /// Where it stands.
    pub status: Status,
    /// The dataset's owner when the job opened.
    pub payee: Address,
    /// The dataset's rows when the job opened.
    pub rows: u64,
    /// The verifier bundle (zero until settled, if the owner names it).
    pub verifier: B256,
    /// The dataset commitment when the job opened (in JSON: 32 bytes of
    /// hex, as every other commitment prints).
    #[serde(serialize_with = "word_hex")]
    pub commitment: U256,
    /// Wei in escrow (in JSON: a decimal string, as amounts print).
    #[serde(serialize_with = "decimal")]
    pub escrow: U256,
    /// The hash of the researcher's question.
    pub question: B256,
    /// keccak256 of the circuit ids the job may settle with.
    pub circuits: B256,
    /// What settling it pays the owner (the dataset's price for its rows
    /// when it opened; in JSON a decimal string): the rest of the escrow is
    /// refunded at settlement.
    #[serde(serialize_with = "decimal")]
    pub charge: U256,
}

/// A field element as 32 bytes of hex, leading zeros kept.
pub(crate) fn word_hex<S: serde::Serializer>(
    v: &U256,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{}", hex::encode(v.to_be_bytes::<32>())))
}

/// An amount as a decimal string.
pub(crate) fn decimal<S: serde::Serializer>(
    v: &U256,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// Bytes of a registered key's fixed part: circuit id, shard rows, alpha,
/// beta, gamma, delta (the contract's `KEY_HEAD`).
const KEY_HEAD: usize = 32 + 32 + 64 + 3 * 128;

/// A key bundle the contract holds (`VerifierRegistered`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Registered {
    /// Its id (what a job names as its verifier).
    pub id: B256,
    /// Keys in it.
    pub keys: u32,
    /// Public inputs of each key.
    pub inputs: u32,
    /// The shard size of its keys.
    pub shard_rows: u64,
    /// Each key's circuit id, hex.
    pub circuits: Vec<String>,
    /// The block it was registered in.
    pub block: u64,
}

/// What a researcher opens a job with (`openJob`).
#[derive(Clone, Debug)]
pub struct OpenJob {
    /// The dataset's id in the registry.
    pub dataset: u64,
    /// The commitment the researcher expects it to have.
    pub commitment: Fr,
    /// The hash of the researcher's question.
    pub question: B256,
    /// What the job pins (`Question::chain_pins`): its circuit id and,
    /// for a circuit that takes a suppression threshold, the largest one
    /// a settlement may publish (an ezkl job: [`ezkl_circuits`]).
    pub circuits: Vec<Fr>,
    /// The keys proofs must verify under; zero: the owner names a bundle
    /// of the pinned circuits at settlement.
    pub verifier: B256,
    /// Unix time after which the job can only be refunded.
    pub deadline: u64,
    /// Wei in escrow.
    pub value: U256,
}

impl OpenJob {
    /// The job a question asks for on `dataset`, whose keys the owner
    /// names, in time until `deadline`, with `value` wei in escrow.
    pub fn for_question(
        q: &zkgate_statement::Question,
        dataset: u64,
        deadline: u64,
        value: U256,
    ) -> Result<OpenJob> {
        Self::pinning(q, circuits_of(q)?, dataset, deadline, value)
    }

    /// The job question `q` asks for on `dataset`, pinning `circuits`.
    fn pinning(
        q: &zkgate_statement::Question,
        circuits: Vec<Fr>,
        dataset: u64,
        deadline: u64,
        value: U256,
    ) -> Result<OpenJob> {
        let commitment = fr_from_hex(&q.dataset.commitment)
            .map_err(|e| Error::Receipt(format!("question: {e}")))?;
        Ok(OpenJob {
            dataset,
            commitment,
            question: B256::from(q.hash()),
            circuits,
            verifier: B256::ZERO,
            deadline,
            value,
        })
    }
}

impl OpenJob {
    /// The job an ezkl question asks for (its circuits: [`ezkl_circuits_of`]
    /// with `binding`, ezkl's hash of its nonce).
    pub fn for_ezkl_question(
        q: &zkgate_statement::Question,
        binding: Fr,
        dataset: u64,
        deadline: u64,
        value: U256,
    ) -> Result<OpenJob> {
        Self::pinning(q, ezkl_circuits_of(q, binding)?, dataset, deadline, value)
    }
}

/// What the contract keeps of a job's circuit ids: keccak256 of them
/// packed.
pub fn circuits_hash(circuits: &[Fr]) -> B256 {
    let mut pre = Vec::with_capacity(32 * circuits.len());
    for c in circuits {
        pre.extend_from_slice(&word(c));
    }
    keccak256(pre)
}

/// What a job `receipt` settles must pin at least: the circuit id of its
/// shards (one circuit proves them all), then, for a circuit that takes a
/// suppression threshold, the receipt's.
pub fn receipt_circuits(receipt: &Receipt) -> Vec<Fr> {
    let h = &receipt.circuit;
    let mut pins = vec![h.id()];
    pins.extend(h.threshold_input(true).map(Fr::from));
    pins
}

/// The circuit ids a job opened for question `q` pins (an ezkl question's
/// also need its binding: [`ezkl_circuits_of`]).
pub fn circuits_of(q: &zkgate_statement::Question) -> Result<Vec<Fr>> {
    if q.proof_system == zkgate_statement::ezkl::ProofSystem::Ezkl {
        return Err(Error::Receipt(
            "an ezkl question's job pins its binding, ezkl's Poseidon hash of the job nonce: compute it with ezkl".into(),
        ));
    }
    q.chain_pins()
        .iter()
        .map(|h| fr_from_hex(h).map_err(|e| Error::Receipt(format!("question: {e}"))))
        .collect()
}

/// The first circuit id of a job settled by an ezkl proof (the
/// contract's `EZKL_TAG`).
pub fn ezkl_tag() -> Fr {
    Fr::from_be_bytes_mod_order(keccak256(b"zkgate.ezkl.v1").as_slice())
}

/// The id of an ezkl verifier contract: its code hash reduced into the
/// field (the contract's `ezklVerifierOf` key).
pub fn ezkl_code_id(code_hash: B256) -> Fr {
    Fr::from_be_bytes_mod_order(code_hash.as_slice())
}

/// The circuit ids an ezkl job pins: the tag, its verifier's code id, the
/// dataset's ezkl hash, and the binding (ezkl's Poseidon hash of the job
/// nonce's limbs, `zkgate_statement::ezkl::binding_limbs`).
pub fn ezkl_circuits(code_hash: B256, dataset_hash: Fr, binding: Fr) -> Vec<Fr> {
    vec![ezkl_tag(), ezkl_code_id(code_hash), dataset_hash, binding]
}

/// The circuit ids a job opened for ezkl question `q` pins, `binding`
/// being ezkl's hash of its nonce's limbs.
pub fn ezkl_circuits_of(q: &zkgate_statement::Question, binding: Fr) -> Result<Vec<Fr>> {
    let bad = |what: &str| Error::Receipt(format!("question: {what}"));
    let code = q.ezkl_verifier.as_deref().ok_or_else(|| {
        bad("an ezkl question settled on chain pins its verifier (`ezkl_verifier`)")
    })?;
    let code = hex::decode(code.trim_start_matches("0x"))
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| bad("`ezkl_verifier` is not a code hash"))?;
    let hash = q
        .dataset
        .ezkl_hash
        .as_deref()
        .ok_or_else(|| bad("an ezkl question names the dataset's ezkl hash"))?;
    let hash = zkgate_statement::ezkl::felt_to_fr(hash).map_err(|e| bad(&e.to_string()))?;
    Ok(ezkl_circuits(B256::from(code), hash, binding))
}

/// The calldata of `verifyProof(proof, instances)` for an ezkl verifier
/// contract, from ezkl's proof file (its `hex_proof` and instances).
pub fn ezkl_calldata(proof: &serde_json::Value) -> Result<Vec<u8>> {
    let bad = |what: &str| Error::Receipt(format!("the ezkl proof: {what}"));
    let bytes = proof["hex_proof"]
        .as_str()
        .and_then(|h| hex::decode(h.trim_start_matches("0x")).ok())
        .ok_or_else(|| bad("no hex_proof"))?;
    let instances = proof["instances"]
        .get(0)
        .and_then(|v| v.as_array())
        .ok_or_else(|| bad("no instances"))?
        .iter()
        .map(|f| {
            let f = f
                .as_str()
                .ok_or_else(|| bad("an instance is not a string"))?;
            let x = zkgate_statement::ezkl::felt_to_fr(f).map_err(|e| bad(&e.to_string()))?;
            Ok(fr_u256(&x))
        })
        .collect::<Result<Vec<U256>>>()?;
    Ok(crate::abi::Halo2Verifier::verifyProofCall {
        proof: bytes.into(),
        instances,
    }
    .abi_encode())
}

/// A receipt's keys as the contract registers them: one key per shard
/// size, the full shards' first.
#[derive(Clone, Debug)]
pub struct Bundle {
    /// The encoded keys (see `registerVerifier`).
    pub bytes: Vec<u8>,
    /// Keys in the bundle.
    pub keys: u32,
    /// Public inputs per key.
    pub inputs: u32,
    /// Shard rows of each key, in bundle order.
    pub rows: Vec<u64>,
}

impl Bundle {
    /// The bundle's id on chain: keccak256 of the key count and input
    /// count (4 bytes each, big-endian) and the bundle.
    pub fn id(&self) -> B256 {
        let mut pre = Vec::with_capacity(8 + self.bytes.len());
        pre.extend_from_slice(&self.keys.to_be_bytes());
        pre.extend_from_slice(&self.inputs.to_be_bytes());
        pre.extend_from_slice(&self.bytes);
        keccak256(pre)
    }

    /// The bundle for `receipt`'s shards out of its key file's keys (one
    /// circuit, of the header's shard size, proves every shard).
    pub fn for_receipt(receipt: &Receipt, vks: &[VerifyingKey]) -> Result<Bundle> {
        let shard = receipt
            .shards
            .first()
            .ok_or_else(|| Error::Receipt("the receipt has no proof".into()))?;
        if let Some(s) = receipt
            .shards
            .iter()
            .find(|s| s.vk_sha256 != shard.vk_sha256)
        {
            return Err(Error::Receipt(format!(
                "the shard at row {} names another key than the first",
                s.offset
            )));
        }
        let vk = vks
            .iter()
            .find(|vk| vk_sha256(vk) == shard.vk_sha256)
            .ok_or_else(|| Error::Receipt("no key for the receipt's shards".into()))?;
        Bundle::for_circuit(&receipt.circuit, vk)
    }

    /// The bundle of the one key of the shard circuit `header` describes:
    /// what a researcher registers for a ceremony key before opening a job
    /// naming it (the gateway's settlement then names the same bundle).
    pub fn for_circuit(header: &SpecHeader, vk: &VerifyingKey) -> Result<Bundle> {
        Bundle::of_keys(header, vec![(header.shard_rows, vk)])
    }

    /// The bundle of a shard plan's keys, each with its circuit's shard
    /// rows (a sharded job's ceremony keys, registered before the job).
    pub fn for_circuits(header: &SpecHeader, keys: Vec<(u64, &VerifyingKey)>) -> Result<Bundle> {
        Bundle::of_keys(header, keys)
    }

    fn of_keys(header: &SpecHeader, mut sizes: Vec<(u64, &VerifyingKey)>) -> Result<Bundle> {
        sizes.sort_by_key(|s| std::cmp::Reverse(s.0));
        let mut bytes = Vec::new();
        let mut inputs = None;
        for (rows, vk) in &sizes {
            let key = EvmKey::new(vk);
            if *inputs.get_or_insert(key.inputs()) != key.inputs() {
                return Err(Error::Receipt("keys with different inputs".into()));
            }
            bytes.extend_from_slice(&word(&header.with_shard_rows(*rows).id()));
            bytes.extend_from_slice(&U256::from(*rows).to_be_bytes::<32>());
            bytes.extend_from_slice(&key.to_bytes());
        }
        Ok(Bundle {
            bytes,
            keys: sizes.len() as u32,
            inputs: inputs.unwrap_or(0) as u32,
            rows: sizes.iter().map(|(r, _)| *r).collect(),
        })
    }
}

use crate::evm::fr_to_u256 as fr_u256;

/// The shards of `receipt` as `settle` takes them.
pub fn shards(receipt: &Receipt, bundle: &Bundle) -> Result<Vec<S::Shard>> {
    receipt
        .shards
        .iter()
        .map(|s| {
            let size = receipt.circuit.shard_rows;
            let key = bundle
                .rows
                .iter()
                .position(|r| *r == size)
                .ok_or_else(|| Error::Receipt(format!("no key for shards of {size} rows")))?;
            let proof: Proof = from_bytes(
                &hex::decode(&s.proof).map_err(|e| Error::Receipt(format!("proof: {e}")))?,
            )
            .map_err(|e| Error::Receipt(format!("proof: {e}")))?;
            let p = EvmProof::new(&proof).to_bytes();
            let words: Vec<U256> = p.chunks(32).map(U256::from_be_slice).collect();
            let fr = |h: &str| fr_from_hex(h).map_err(|e| Error::Receipt(e.to_string()));
            Ok(S::Shard {
                key: U256::from(key),
                offset: U256::from(s.offset),
                linkIn: fr_u256(&fr(&s.link_in)?),
                linkOut: fr_u256(&fr(&s.link_out)?),
                proof: words.try_into().expect("a proof is eight words"),
            })
        })
        .collect()
}

/// The job's values of `receipt` as `settle` takes them (and the
/// contract keeps them): the last shard's public inputs after the fixed
/// ones, so the suppression threshold first for a circuit that takes one.
pub fn values(receipt: &Receipt) -> Result<Vec<U256>> {
    let v = receipt
        .aggregates()
        .map_err(|e| Error::Receipt(e.to_string()))?;
    let mut words: Vec<U256> = receipt
        .circuit
        .threshold_input(true)
        .map(U256::from)
        .into_iter()
        .collect();
    words.extend(values_as_words(&v));
    Ok(words)
}

/// The job binding the proofs of the question hashing to `question`,
/// opened by `researcher`, carry on the contract at `contract` (its
/// `questionNonce`).
pub fn job_nonce(chain_id: u64, contract: Address, researcher: Address, question: B256) -> Fr {
    zkgate_statement::question::chain_nonce(chain_id, contract.0 .0, researcher.0 .0, question.0)
}

/// A job's values as field elements (how the contract stores them).
pub fn values_as_words(values: &[i128]) -> Vec<U256> {
    values.iter().map(|v| fr_u256(&i128_to_field(*v))).collect()
}

/// The settlement of one job: the transaction and its event.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Settled {
    /// The job.
    pub job: u64,
    /// The verifier bundle.
    pub verifier: B256,
    /// The settling transaction.
    pub tx: B256,
    /// Its block.
    pub block: u64,
    /// Gas it used.
    pub gas_used: u64,
    /// Wei paid per gas.
    pub gas_price: u128,
    /// The values the event carries.
    pub values: Vec<U256>,
    /// Who was paid, and how much.
    pub payee: Address,
    /// Wei paid.
    pub amount: U256,
}

impl Settlement {
    /// Deploys the contract from `from`.
    pub async fn deploy(chain: Chain, from: &Wallet) -> Result<(Settlement, TxReceipt)> {
        let r = chain
            .send(
                from,
                &TxRequest {
                    data: crate::abi::bytecode().into(),
                    ..Default::default()
                },
            )
            .await?;
        let address = r
            .contract
            .ok_or_else(|| Error::Chain("the deployment created no contract".into()))?;
        Ok((Settlement { chain, address }, r))
    }

    /// The contract at `address`.
    pub fn at(chain: Chain, address: Address) -> Settlement {
        Settlement { chain, address }
    }

    /// Its address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The chain.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    pub(crate) async fn send<C: SolCall>(
        &self,
        from: &Wallet,
        call: C,
        value: U256,
    ) -> Result<TxReceipt> {
        self.chain.send_call(from, self.address, call, value).await
    }

    pub(crate) async fn view<C: SolCall>(&self, call: C) -> Result<C::Return> {
        let out = self
            .chain
            .call(self.address, Bytes::from(call.abi_encode()))
            .await?;
        C::abi_decode_returns(&out).map_err(|e| Error::Chain(format!("{}: {e}", C::SIGNATURE)))
    }

    pub(crate) fn event<E: SolEvent>(&self, r: &TxReceipt) -> Result<E> {
        r.logs
            .iter()
            .filter(|l| l.address == self.address)
            .find_map(|l| decode_log::<E>(l).ok())
            .ok_or_else(|| Error::Chain(format!("no {} event", E::SIGNATURE)))
    }

    /// Registers a dataset's commitment; the sender owns it. Returns its id.
    pub async fn register_dataset(
        &self,
        from: &Wallet,
        commitment: Fr,
        rows: u64,
        schema_hash: B256,
        price: U256,
    ) -> Result<(u64, TxReceipt)> {
        let call = S::registerDatasetCall {
            commitment: fr_u256(&commitment),
            rows,
            schemaHash: schema_hash,
            price,
        };
        let r = self.send(from, call, U256::ZERO).await?;
        let e: S::DatasetRegistered = self.event(&r)?;
        Ok((e.id.to::<u64>(), r))
    }

    /// Retires a dataset (its owner only).
    pub async fn retire_dataset(&self, from: &Wallet, id: u64) -> Result<TxReceipt> {
        let call = S::retireDatasetCall { id: U256::from(id) };
        self.send(from, call, U256::ZERO).await
    }

    /// Sets a dataset's price per row proved (its owner only).
    pub async fn set_row_price(&self, from: &Wallet, id: u64, per_row: U256) -> Result<TxReceipt> {
        let call = S::setRowPriceCall {
            id: U256::from(id),
            pricePerRow: per_row,
        };
        self.send(from, call, U256::ZERO).await
    }

    /// What a job on dataset `id` costs now (its price plus its price per
    /// row times its rows): the least escrow `openJob` takes, and what
    /// settling it pays the owner.
    pub async fn price_of(&self, id: u64) -> Result<U256> {
        self.view(S::priceOfCall { id: U256::from(id) }).await
    }

    /// A dataset's registration.
    pub async fn dataset(&self, id: u64) -> Result<S::Dataset> {
        self.view(S::datasetCall { id: U256::from(id) }).await
    }

    /// Registers a key bundle (again: a no-op); returns its id.
    pub async fn register_verifier(&self, from: &Wallet, b: &Bundle) -> Result<(B256, TxReceipt)> {
        let call = S::registerVerifierCall {
            bundle: b.bytes.clone().into(),
            keys: b.keys,
            inputs: b.inputs,
        };
        let r = self.send(from, call, U256::ZERO).await?;
        Ok((b.id(), r))
    }

    /// Whether a bundle is registered.
    pub async fn has_verifier(&self, id: B256) -> Result<bool> {
        let v = self.view(S::verifierCall { id }).await?;
        Ok(v.data != Address::ZERO)
    }

    /// Opens a job with `o.value` wei in escrow on `o.dataset` as
    /// registered with `o.commitment` (refused if the owner changed it),
    /// for the question hashing to `o.question`; returns its id.
    pub async fn open_job(&self, from: &Wallet, o: &OpenJob) -> Result<(u64, TxReceipt)> {
        let call = S::openJobCall {
            datasetId: U256::from(o.dataset),
            commitment: fr_u256(&o.commitment),
            question: o.question,
            circuitIds: o.circuits.iter().map(fr_u256).collect(),
            verifierId: o.verifier,
            deadline: o.deadline,
        };
        let r = self.send(from, call, o.value).await?;
        let e: S::JobOpened = self.event(&r)?;
        Ok((e.id.to::<u64>(), r))
    }

    /// A job.
    pub async fn job(&self, id: u64) -> Result<JobView> {
        let j = self.view(S::jobCall { id: U256::from(id) }).await?;
        Ok(JobView {
            researcher: j.researcher,
            dataset_id: j.datasetId,
            deadline: j.deadline,
            status: Status::from_u8(j.status),
            payee: j.payee,
            rows: j.rows,
            verifier: j.verifier,
            commitment: j.commitment,
            escrow: j.escrow,
            question: j.question,
            circuits: j.circuits,
            charge: j.charge,
        })
    }

    /// A settled job's values.
    pub async fn result(&self, id: u64) -> Result<Vec<U256>> {
        self.view(S::resultCall { id: U256::from(id) }).await
    }

    /// The job nonce the contract computes for job `id`.
    pub async fn job_nonce(&self, id: u64) -> Result<Fr> {
        let n = self.view(S::jobNonceCall { id: U256::from(id) }).await?;
        Ok(Fr::from_be_bytes_mod_order(&n.to_be_bytes::<32>()))
    }

    /// Settles job `id` with explicit values and shards (tests and tools).
    pub async fn settle_shards(
        &self,
        from: &Wallet,
        id: u64,
        verifier: B256,
        circuits: &[Fr],
        values: Vec<U256>,
        shards: Vec<S::Shard>,
    ) -> Result<TxReceipt> {
        let call = S::settleCall {
            id: U256::from(id),
            verifierId: verifier,
            circuitIds: circuits.iter().map(fr_u256).collect(),
            values,
            shards,
        };
        self.send(from, call, U256::ZERO).await
    }

    /// Settles job `id`, opened with `circuits`, with a receipt and its
    /// keys (`vk.bin`): registers the key bundle if it is new, then
    /// submits every shard proof (`settleEntry` for a bounty's entry,
    /// whose fee stays in escrow until the bounty is finalized).
    pub async fn settle(
        &self,
        from: &Wallet,
        id: u64,
        circuits: &[Fr],
        receipt: &Receipt,
        vks: &[VerifyingKey],
    ) -> Result<Settled> {
        let bundle = Bundle::for_receipt(receipt, vks)?;
        if !self.has_verifier(bundle.id()).await? {
            self.register_verifier(from, &bundle).await?;
        }
        let (values, shards) = (values(receipt)?, shards(receipt, &bundle)?);
        let r = if self.bounty_of(id).await? != 0 {
            // A bounty's entry: the contract rebuilds each key's circuit
            // header from the bounty's template and this model's part.
            let tail = receipt.circuit.parts().tail;
            self.settle_entry_shards(from, id, bundle.id(), circuits, values, shards, tail)
                .await?
        } else {
            self.settle_shards(from, id, bundle.id(), circuits, values, shards)
                .await?
        };
        self.settled(id, &r)
    }

    /// The settlement of job `id` the transaction `r` made, from its event.
    fn settled(&self, id: u64, r: &TxReceipt) -> Result<Settled> {
        let e: S::JobSettled = self.event(r)?;
        Ok(Settled {
            job: id,
            verifier: e.verifier,
            tx: r.hash,
            block: r.block,
            gas_used: r.gas_used,
            gas_price: r.gas_price,
            values: e.values,
            payee: e.payee,
            amount: e.amount,
        })
    }

    /// Publishes dataset `id`'s ezkl hash (its owner only).
    pub async fn publish_ezkl_hash(&self, from: &Wallet, id: u64, hash: Fr) -> Result<TxReceipt> {
        let call = S::publishEzklHashCall {
            id: U256::from(id),
            hash: fr_u256(&hash),
        };
        self.send(from, call, U256::ZERO).await
    }

    /// Dataset `id`'s published ezkl hash (zero if none).
    pub async fn ezkl_hash_of(&self, id: u64) -> Result<U256> {
        self.view(S::ezklHashOfCall { id: U256::from(id) }).await
    }

    /// The ezkl verifier added under `code` (its code id), if any.
    pub async fn ezkl_verifier_of(&self, code: Fr) -> Result<Option<Address>> {
        let a = self
            .view(S::ezklVerifierOfCall {
                code: fr_u256(&code),
            })
            .await?;
        Ok((a != Address::ZERO).then_some(a))
    }

    /// Deploys an ezkl verifier contract from its creation code and adds it
    /// under its code id, unless one is there already; returns its address
    /// and its code id, and the transactions' gas.
    pub async fn add_ezkl_verifier(
        &self,
        from: &Wallet,
        creation: &[u8],
        code_hash: B256,
    ) -> Result<(Address, Fr, u64)> {
        let code = ezkl_code_id(code_hash);
        if let Some(a) = self.ezkl_verifier_of(code).await? {
            return Ok((a, code, 0));
        }
        let r = self
            .chain
            .send(
                from,
                &TxRequest {
                    data: creation.to_vec().into(),
                    ..Default::default()
                },
            )
            .await?;
        let address = r
            .contract
            .ok_or_else(|| Error::Chain("the verifier's deployment created no contract".into()))?;
        let added = self
            .send(
                from,
                S::addEzklVerifierCall { verifier_: address },
                U256::ZERO,
            )
            .await?;
        match self.ezkl_verifier_of(code).await? {
            Some(a) => Ok((a, code, r.gas_used + added.gas_used)),
            None => Err(Error::Chain(format!(
                "the deployed verifier's code does not hash to {code_hash}: not the contract the job pins"
            ))),
        }
    }

    /// Settles ezkl job `id` with `call` (`ezkl_calldata`), `circuits` being
    /// the ids the job pins.
    pub async fn settle_ezkl(
        &self,
        from: &Wallet,
        id: u64,
        circuits: &[Fr],
        call: Vec<u8>,
    ) -> Result<Settled> {
        let r = self
            .send(
                from,
                S::settleEzklCall {
                    id: U256::from(id),
                    circuitIds: circuits.iter().map(fr_u256).collect(),
                    call: call.into(),
                },
                U256::ZERO,
            )
            .await?;
        self.settled(id, &r)
    }

    /// Publishes the head of `from`'s audit log (`AuditAnchored`).
    pub async fn anchor_audit(&self, from: &Wallet, entries: u64, head: B256) -> Result<TxReceipt> {
        let call = S::anchorAuditCall {
            entries: U256::from(entries),
            head,
        };
        self.send(from, call, U256::ZERO).await
    }

    /// The audit heads `owner` anchored, oldest first: (entries, head).
    pub async fn audit_anchors(&self, owner: Address) -> Result<Vec<(u64, B256)>> {
        let logs = self
            .chain
            .logs(
                self.address,
                S::AuditAnchored::SIGNATURE_HASH,
                Some(B256::left_padding_from(owner.as_slice())),
            )
            .await?;
        logs.iter()
            .map(|l| {
                let e = decode_log::<S::AuditAnchored>(l)?;
                Ok((e.entries.saturating_to::<u64>(), e.head))
            })
            .collect()
    }

    /// Refunds a job past its deadline.
    pub async fn refund(&self, from: &Wallet, id: u64) -> Result<TxReceipt> {
        self.send(from, S::refundCall { id: U256::from(id) }, U256::ZERO)
            .await
    }

    /// Every key bundle registered with the contract, in the order of
    /// registration, with the circuit id of each key (read from the
    /// bundle's code): what a researcher looks up to reuse a ceremony's
    /// keys for a circuit (`zkgate chain verifiers`).
    pub async fn verifiers(&self) -> Result<Vec<Registered>> {
        let logs = self
            .chain
            .logs(self.address, S::VerifierRegistered::SIGNATURE_HASH, None)
            .await?;
        let mut out = Vec::with_capacity(logs.len());
        for l in logs {
            let e = decode_log::<S::VerifierRegistered>(&l)
                .map_err(|e| Error::Chain(format!("VerifierRegistered: {e}")))?;
            let code = self.chain.code(e.data).await?;
            // A key: circuit id, shard rows, alpha, beta, gamma, delta, then
            // one point per input and the constant; the code starts with
            // one byte that stops execution.
            let size = KEY_HEAD + 64 * (e.inputs as usize + 1);
            let circuits = (0..e.keys as usize)
                .map(|k| {
                    let at = 1 + k * size;
                    code.get(at..at + 32)
                        .map(|w| format!("0x{}", hex::encode(w)))
                        .ok_or_else(|| Error::Chain(format!("bundle {} is short", e.id)))
                })
                .collect::<Result<_>>()?;
            out.push(Registered {
                id: e.id,
                keys: e.keys,
                inputs: e.inputs,
                shard_rows: e.shardRows,
                circuits,
                block: l.block,
            });
        }
        Ok(out)
    }

    /// The `JobSettled` event of job `id`, if it settled.
    pub async fn settled_event(&self, id: u64) -> Result<Option<(S::JobSettled, LogEntry)>> {
        let logs = self
            .chain
            .logs(
                self.address,
                S::JobSettled::SIGNATURE_HASH,
                Some(B256::from(U256::from(id))),
            )
            .await?;
        Ok(logs
            .into_iter()
            .find_map(|l| decode_log::<S::JobSettled>(&l).ok().map(|e| (e, l))))
    }

    /// Whether on-chain job `id` settled with `receipt`: its values, dataset
    /// commitment and rows, binding and keys (`vk`, the receipt's key
    /// file), and if given, that it was opened for the question hashing to
    /// `question`. `Ok(Err(why))` names the first difference.
    pub async fn check_settled(
        &self,
        id: u64,
        receipt: &Receipt,
        vk: &[u8],
        question: Option<B256>,
    ) -> Result<std::result::Result<(S::JobSettled, LogEntry), String>> {
        let j = self.job(id).await?;
        if j.status != Status::Settled {
            return Ok(Err(format!(
                "on-chain job {id} is {:?}, not settled",
                j.status
            )));
        }
        let fr = |h: &str| fr_from_hex(h).map_err(|e| Error::Receipt(e.to_string()));
        if j.commitment != fr_u256(&fr(&receipt.commitment)?) || j.rows != receipt.rows {
            return Ok(Err(
                "the job was opened against another dataset commitment".into()
            ));
        }
        if question.is_some_and(|q| q != j.question) {
            return Ok(Err(format!(
                "on-chain job {id} was opened for another question"
            )));
        }
        if self.job_nonce(id).await? != fr(&receipt.nonce)? {
            return Ok(Err(format!(
                "the receipt is bound to another job than {id}"
            )));
        }
        let vks = zkgate_statement::groth16::keys_from_bytes(vk)
            .map_err(|e| Error::Receipt(format!("verifying keys: {e}")))?;
        if Bundle::for_receipt(receipt, &vks)?.id() != j.verifier {
            return Ok(Err("the job settled under other keys".into()));
        }
        let values = values(receipt)?;
        if self.result(id).await? != values {
            return Ok(Err("the settled values differ from the receipt's".into()));
        }
        Ok(match self.settled_event(id).await? {
            Some((e, l)) if e.values == values => Ok((e, l)),
            Some(_) => Err("the settlement event carries other values".into()),
            None => Err("no settlement event".into()),
        })
    }

    /// Checks one proof on chain (a view call: no gas is paid).
    pub async fn verify_proof(
        &self,
        verifier: B256,
        key: u64,
        inputs: Vec<U256>,
        proof: [U256; 8],
    ) -> Result<bool> {
        self.view(S::verifyProofCall {
            verifierId: verifier,
            key: U256::from(key),
            inputs,
            proof,
        })
        .await
    }
}

pub(crate) fn decode_log<E: SolEvent>(l: &LogEntry) -> Result<E> {
    let log = alloy_primitives::LogData::new_unchecked(l.topics.clone(), l.data.clone());
    E::decode_log_data(&log).map_err(|e| Error::Chain(format!("{}: {e}", E::SIGNATURE)))
}
