//! Settlement from the gateway. A data dir with `chain.json` (written by
//! `zkgate chain deploy`) settles every job whose manifest names an on-chain
//! job: when the job is accepted it is bound to that job on the contract
//! and chain `chain.json` names then (a [`ChainBinding`] kept with it), its
//! proof carries that binding's nonce, and once it is proved the job runner
//! submits it to that contract, even if `chain.json` has changed since. The
//! embedded chain lives in `chain/state.json`; `rpc` points at a JSON-RPC
//! node instead.
//!
//! Settling is safe to repeat: before sending, the job runner reads the job on
//! chain, and a job already settled is recorded from its event instead of
//! being settled again (the contract would refuse a second settlement
//! anyway). A job whose settlement was in flight when the gateway stopped
//! is retried when it starts again.

use crate::config::Paths;
use crate::error::{Error, Result};
use crate::store::{ChainBinding, DatasetMeta, Job, Researcher, SettledTx};
use zkgate_chain::abi::Status;
use zkgate_chain::alloy_primitives::{B256, U256};
use zkgate_chain::{Chain, Settlement, Wallet};
use zkgate_statement::field::{fr_from_hex, fr_to_hex};
use zkgate_statement::{Question, Receipt};
use zkgate_zkml::Fr;

pub use zkgate_chain::config::ChainConfig;

/// The data dir's chain configuration, if it settles on a chain.
pub fn load_config(paths: &Paths) -> Result<Option<ChainConfig>> {
    ChainConfig::load(&paths.root).map_err(|e| Error::Config(e.to_string()))
}

/// The chain a configuration names, from this data dir.
fn chain_of(conf: &ChainConfig, paths: &Paths) -> Result<Chain> {
    conf.chain(&paths.root)
        .map_err(|e| Error::Config(format!("chain: {e}")))
}

/// The owner's wallet.
fn wallet_of(conf: &ChainConfig, paths: &Paths) -> Result<Wallet> {
    conf.wallet(&paths.root)
        .map_err(|e| Error::Config(format!("chain key: {e}")))
}

/// On-chain job `id` on the configured contract and chain, opened for the
/// question `q` by the address it names.
pub fn binding(conf: &ChainConfig, id: u64, q: &Question) -> Result<ChainBinding> {
    let researcher = q
        .chain
        .as_ref()
        .ok_or_else(|| Error::BadRequest("the question names no settlement contract".into()))?
        .researcher_bytes()
        .map_err(|e| Error::BadRequest(e.to_string()))?;
    Ok(ChainBinding {
        job: id,
        contract: conf.contract,
        chain_id: conf.chain_id,
        nonce: fr_to_hex(conf.nonce(researcher.into(), B256::from(q.hash()))),
    })
}

/// The on-chain job `job` settles, if it names one: the binding kept when
/// it was accepted, or for a record from before bindings were kept, the
/// one `chain.json` gives now.
pub fn job_binding(paths: &Paths, job: &Job) -> Result<Option<ChainBinding>> {
    let Some(id) = job.manifest.chain_job else {
        return Ok(None);
    };
    if let Some(b) = &job.chain {
        return Ok(Some(b.clone()));
    }
    let conf = load_config(paths)?
        .ok_or_else(|| Error::Config("the chain configuration is gone".into()))?;
    let q = job
        .manifest
        .question
        .as_ref()
        .ok_or_else(|| Error::Corrupt {
            record: format!("job {}", job.id),
            reason: "an on-chain job without the researcher's question".into(),
        })?;
    binding(&conf, id, q).map(Some)
}

/// The nonce `job`'s proofs carry: its on-chain job's, or off chain the
/// researcher's (or one from the job id, when they sent none).
pub fn proof_nonce(paths: &Paths, job: &Job) -> Result<Fr> {
    match job_binding(paths, job)? {
        Some(b) => b.nonce().map_err(|e| Error::Corrupt {
            record: format!("chain binding of on-chain job {}", b.job),
            reason: e.to_string(),
        }),
        None => Ok(job.manifest.proof_nonce(&job.id)),
    }
}

fn chain_err(e: zkgate_chain::Error) -> Error {
    match e {
        zkgate_chain::Error::Reverted(r) => Error::Conflict(format!("the chain refused: {r}")),
        other => Error::Config(format!("chain: {other}")),
    }
}

/// Checks, at submission, that the on-chain job `binding` names (on the
/// chain `conf` reaches) was opened by the address registered for `who`
/// (whose escrow pays for it and who alone may have its result), is open,
/// in time, was opened against this dataset's commitment and rows, for
/// the question `q` (its hash) pinning the circuits `q` allows, and that
/// `q` names this contract and the job's dataset. `ezkl_binding`: for an
/// ezkl question, ezkl's hash of its job nonce (its last pinned circuit
/// id). Returns the chain's time and the job as the chain has it.
pub async fn check_job(
    paths: &Paths,
    conf: &ChainConfig,
    binding: &ChainBinding,
    meta: &DatasetMeta,
    who: &Researcher,
    q: &Question,
    ezkl_binding: Option<Fr>,
) -> Result<(u64, zkgate_chain::settlement::JobView)> {
    let id = binding.job;
    let Some(mine) = who.address else {
        return Err(Error::Forbidden(format!(
            "on-chain job {id}: register the Ethereum address that opens your jobs first (`zkgate register-address`, or the owner's `researcher add --address`)"
        )));
    };
    let s = Settlement::at(chain_of(conf, paths)?, binding.contract);
    let job = s.job(id).await.map_err(chain_err)?;
    if job.status != Status::Open {
        return Err(Error::Unprocessable(format!(
            "on-chain job {id} is not open ({:?})",
            job.status
        )));
    }
    let now = s.chain().now().await.map_err(chain_err)?;
    if job.deadline <= now {
        return Err(Error::Unprocessable(format!(
            "on-chain job {id} is past its deadline"
        )));
    }
    if job.researcher != mine {
        return Err(Error::Forbidden(format!(
            "on-chain job {id} was not opened by your registered address {mine}"
        )));
    }
    let c = fr_from_hex(&meta.commitment).map_err(Error::from)?;
    let ours = U256::from_be_bytes(zkgate_chain::evm::word(&c));
    if job.commitment != ours || job.rows != meta.rows {
        return Err(Error::Unprocessable(format!(
            "on-chain job {id} was opened against another dataset than `{}`",
            meta.name
        )));
    }
    let pin = q
        .chain
        .as_ref()
        .ok_or_else(|| Error::BadRequest("the question names no settlement contract".into()))?;
    let contract = pin
        .contract_bytes()
        .map_err(|e| Error::BadRequest(e.to_string()))?;
    if pin.chain_id != binding.chain_id || contract != binding.contract.0 .0 {
        return Err(Error::Unprocessable(format!(
            "the question is for contract {} on chain {}; this gateway settles on {} on chain {}",
            pin.contract, pin.chain_id, binding.contract, binding.chain_id
        )));
    }
    if pin.researcher_bytes().ok() != Some(job.researcher.0 .0) {
        return Err(Error::Unprocessable(format!(
            "the question names {} as the address that opens its job; on-chain job {id} was opened by {}",
            pin.researcher, job.researcher
        )));
    }
    if pin.dataset_id != job.dataset_id {
        return Err(Error::Unprocessable(format!(
            "the question names on-chain dataset {}; on-chain job {id} was opened on dataset {}",
            pin.dataset_id, job.dataset_id
        )));
    }
    if job.question != B256::from(q.hash()) {
        return Err(Error::Unprocessable(format!(
            "on-chain job {id} was opened for another question than the one sent"
        )));
    }
    let circuits = match ezkl_binding {
        Some(b) => zkgate_chain::settlement::ezkl_circuits_of(q, b),
        None => zkgate_chain::settlement::circuits_of(q),
    }
    .map_err(|e| Error::BadRequest(e.to_string()))?;
    if job.circuits != zkgate_chain::settlement::circuits_hash(&circuits) {
        return Err(Error::Unprocessable(format!(
            "on-chain job {id} pins other circuits than the question allows"
        )));
    }
    check_entry(&s, id, q).await?;
    Ok((now, job))
}

/// If on-chain job `id` is a bounty's entry: its released score lands on
/// a public leaderboard, where exact scores of crafted models read the
/// private labels back, so an entry must carry noise (the dataset's budget
/// for on-chain releases pays for it, one account for every bounty and job
/// on the dataset); and its question must be the bounty's, or the contract
/// would refuse the settlement after the proving.
async fn check_entry(s: &Settlement, id: u64, q: &Question) -> Result<()> {
    let bounty = s.bounty_of(id).await.map_err(chain_err)?;
    if bounty == 0 {
        return Ok(());
    }
    if q.epsilon.is_none() {
        return Err(Error::Forbidden(format!(
            "on-chain job {id} is an entry of bounty {bounty}, whose scores are public: ask for them with noise (epsilon)"
        )));
    }
    let terms = s.bounty(bounty).await.map_err(chain_err)?;
    if terms.version != q.expected_circuit.version {
        return Err(Error::Unprocessable(format!(
            "on-chain job {id} is an entry of bounty {bounty}, written for circuit format {}; this gateway proves format {}: its settlement would be refused",
            terms.version, q.expected_circuit.version
        )));
    }
    let template = s.bounty_template(bounty).await.map_err(chain_err)?;
    if q.expected_circuit.template() != template {
        return Err(Error::Unprocessable(format!(
            "on-chain job {id} is an entry of bounty {bounty}, and the question is not the bounty's (its schema, quantization, columns, label or aggregate differ)"
        )));
    }
    Ok(())
}

/// Whether the gateway can settle on-chain job `id` (as the chain has it,
/// `job`, at chain time `now`) in time and under the verifier it names:
/// the deadline leaves room for `estimate_s` seconds of setup and proving
/// and `margin_s` more (queueing, the settlement transaction), and a job naming a verifier bundle comes with the ceremony key that
/// bundle was made from (`vk`, the key's verifying key, of the circuit
/// `header` describes): otherwise the gateway would prove for a settlement
/// the contract must refuse.
pub fn check_settleable(
    id: u64,
    job: &zkgate_chain::settlement::JobView,
    now: u64,
    (estimate_s, margin_s): (f64, u64),
    circuit: &zkgate_statement::SpecHeader,
    vk: Option<&zkgate_statement::groth16::VerifyingKey>,
) -> Result<()> {
    let left = job.deadline.saturating_sub(now);
    let need = estimate_s + margin_s as f64;
    if (left as f64) < need {
        return Err(Error::Unprocessable(format!(
            "on-chain job {id} ends in {left} s, and this job needs about {need:.0} s here ({estimate_s:.0} s of setup and proving estimated, {margin_s} s for queueing and settlement): open one with a later deadline"
        )));
    }
    if job.verifier == B256::ZERO {
        return Ok(());
    }
    let Some(vk) = vk else {
        return Err(Error::Unprocessable(format!(
            "on-chain job {id} names verifier bundle {}: the gateway can settle it only with the ceremony key that bundle was made from (send it as `ceremony_key`)",
            job.verifier
        )));
    };
    // Whether the key is the circuit's is checked before proving; here,
    // whether it makes the named bundle.
    let ours = zkgate_chain::settlement::Bundle::for_circuit(circuit, vk)
        .map_err(|e| Error::BadRequest(format!("ceremony_key: {e}")))?
        .id();
    if ours == job.verifier {
        return Ok(());
    }
    Err(Error::Unprocessable(format!(
        "on-chain job {id} names verifier bundle {}, and the ceremony key sent makes {ours}: the contract would refuse the settlement",
        job.verifier
    )))
}

/// What a settlement attempt came to.
#[derive(Debug)]
pub enum Attempt {
    /// Settled (now or before): the record to keep with the job.
    Settled(SettledTx),
    /// The chain refused it for good (expired, refunded, invalid).
    Refused(String),
    /// The chain could not be reached: try again later.
    Retry(String),
}

/// Settles the on-chain job `binding` names, opened for question `q`,
/// with a stored receipt and its key file, on the contract of the binding
/// through the chain (node, key) `chain.json` gives.
pub async fn settle(
    paths: &Paths,
    binding: &ChainBinding,
    q: &Question,
    receipt: &str,
    vk: &[u8],
) -> Result<Attempt> {
    let conf = load_config(paths)?
        .ok_or_else(|| Error::Config("the chain configuration is gone".into()))?;
    if conf.chain_id != binding.chain_id {
        return Ok(Attempt::Retry(format!(
            "the job was accepted on chain {}, chain.json names chain {}",
            binding.chain_id, conf.chain_id
        )));
    }
    let id = binding.job;
    let s = Settlement::at(chain_of(&conf, paths)?, binding.contract);
    let record = |tx: B256, block: u64, gas_used: Option<u64>, values: Vec<U256>| SettledTx {
        chain_id: binding.chain_id,
        contract: binding.contract,
        job: id,
        tx,
        block,
        gas_used,
        values: values.iter().map(U256::to_string).collect(),
    };
    let job = match s.job(id).await {
        Ok(j) => j,
        Err(e) => return Ok(Attempt::Retry(e.to_string())),
    };
    match job.status {
        Status::Open => {}
        Status::Settled => {
            // Settled before (a restart between the transaction and its
            // record): record it from the event.
            return Ok(match s.settled_event(id).await {
                Ok(Some((e, log))) => Attempt::Settled(record(log.tx, log.block, None, e.values)),
                Ok(None) => Attempt::Refused("settled, but its event is missing".into()),
                Err(e) => Attempt::Retry(e.to_string()),
            });
        }
        other => return Ok(Attempt::Refused(format!("on-chain job is {other:?}"))),
    }
    let receipt = Receipt::from_json(receipt)?;
    let wallet = wallet_of(&conf, paths)?;
    let done = if receipt.proof_system == zkgate_statement::ezkl::ProofSystem::Ezkl {
        settle_ezkl(&s, &wallet, id, job.dataset_id, q, &receipt, vk).await
    } else {
        let vks = zkgate_statement::groth16::keys_from_bytes(vk)?;
        let circuits = match zkgate_chain::settlement::circuits_of(q) {
            Ok(c) => c,
            Err(e) => return Ok(Attempt::Refused(e.to_string())),
        };
        s.settle(&wallet, id, &circuits, &receipt, &vks).await
    };
    Ok(match done {
        Ok(done) => Attempt::Settled(record(
            done.tx,
            done.block,
            Some(done.gas_used),
            done.values,
        )),
        Err(zkgate_chain::Error::Reverted(r)) => Attempt::Refused(r),
        // What the receipt lacks (an ezkl receipt's pins) is not retried.
        Err(e @ zkgate_chain::Error::Receipt(_)) => Attempt::Refused(e.to_string()),
        Err(e) => Attempt::Retry(e.to_string()),
    })
}

/// Settles ezkl job `id` on dataset `dataset`: publishes the dataset's
/// ezkl hash if the contract has another (the gateway's wallet owns the
/// dataset), deploys and adds the verifier contract from its creation
/// code `creation` unless one with its code is there, then submits the
/// proof. The binding comes from the proof's instances: the contract
/// checks it against the job's pinned circuits.
async fn settle_ezkl(
    s: &Settlement,
    wallet: &Wallet,
    id: u64,
    dataset: u64,
    q: &Question,
    receipt: &Receipt,
    creation: &[u8],
) -> zkgate_chain::Result<zkgate_chain::settlement::Settled> {
    use zkgate_chain::settlement::{ezkl_calldata, ezkl_circuits};
    use zkgate_statement::ezkl::felt_to_fr;
    let bad = |what: String| zkgate_chain::Error::Receipt(what);
    let proof = receipt
        .ezkl
        .as_ref()
        .ok_or_else(|| bad("the receipt carries no ezkl proof".into()))?;
    let code = q
        .ezkl_verifier
        .as_deref()
        .and_then(|h| hex::decode(h.trim_start_matches("0x")).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| bad("the question pins no verifier contract".into()))?;
    let dataset_hash = felt_to_fr(&proof.dataset_hash).map_err(|e| bad(e.to_string()))?;
    let binding = proof.proof["instances"][0][1]
        .as_str()
        .ok_or_else(|| bad("the ezkl proof has no binding instance".into()))
        .and_then(|f| felt_to_fr(f).map_err(|e| bad(e.to_string())))?;
    if creation.is_empty() {
        return Err(bad("the job kept no verifier contract".into()));
    }
    let published = s.ezkl_hash_of(dataset).await?;
    if published != zkgate_chain::evm::fr_to_u256(&dataset_hash) {
        s.publish_ezkl_hash(wallet, dataset, dataset_hash).await?;
    }
    s.add_ezkl_verifier(wallet, creation, B256::from(code))
        .await?;
    let circuits = ezkl_circuits(B256::from(code), dataset_hash, binding);
    s.settle_ezkl(wallet, id, &circuits, ezkl_calldata(&proof.proof)?)
        .await
}

/// Publishes the audit log's signed head on the contract `binding` names,
/// from the owner's chain key: a record of the decisions so far that no
/// later rewrite of the log can remove.
pub async fn anchor_audit(
    paths: &Paths,
    binding: &ChainBinding,
    anchor: &crate::audit::Anchor,
) -> Result<()> {
    let conf = load_config(paths)?
        .ok_or_else(|| Error::Config("the chain configuration is gone".into()))?;
    let head = hex::decode(&anchor.head)
        .ok()
        .filter(|h| h.len() == 32)
        .ok_or_else(|| Error::Store(format!("audit head `{}` is not 32 bytes", anchor.head)))?;
    let s = Settlement::at(chain_of(&conf, paths)?, binding.contract);
    s.anchor_audit(
        &wallet_of(&conf, paths)?,
        anchor.seq,
        B256::from_slice(&head),
    )
    .await
    .map_err(chain_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkgate_chain::alloy_primitives::Address;
    use zkgate_statement::question::ChainPin;

    /// The embedded chain's configuration with a contract at `byte`s.
    fn embedded(byte: u8) -> ChainConfig {
        ChainConfig {
            contract: Address::repeat_byte(byte),
            chain_id: 31337,
            rpc: None,
            key_file: None,
            ca_file: None,
            dev_account: Some(0),
        }
    }

    /// A question for the linear model's mean over the tabular fixture's
    /// schema, on the contract `conf` names.
    fn question(conf: &ChainConfig) -> Question {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let csv = fixtures.join("data/tabular.csv");
        let meta = DatasetMeta {
            name: "bc".into(),
            schema: zkgate_zkml::dataset::declared_schema(&csv).unwrap(),
            rows: 12,
            commitment: fr_to_hex(Fr::from(5u64)),
            price: 0,
            created: 0,
            shard_rows: None,
            ezkl_hash: None,
        };
        let model = std::fs::read(fixtures.join("models/linreg.onnx")).unwrap();
        let mut manifest = crate::store::tests::job("x").manifest;
        manifest.aggregate = zkgate_statement::Aggregate::Mean;
        manifest.columns = Some((0..13).map(|i| format!("f{i}")).collect());
        let pin = ChainPin {
            chain_id: conf.chain_id,
            contract: conf.contract.to_string(),
            dataset_id: 1,
            researcher: Address::repeat_byte(0x33).to_string(),
        };
        crate::question::ask(&meta, &manifest, &model, 0, Some(pin), [7; 32]).unwrap()
    }

    /// The gateway takes an on-chain job only when its deadline leaves
    /// room for the estimate and it can settle under the verifier the job
    /// names: none (its own keys), or the bundle of the ceremony key sent.
    #[test]
    fn a_job_is_taken_only_with_room_and_a_usable_verifier() {
        use ark_ec::{AffineRepr, CurveGroup};
        let conf = embedded(0x11);
        let q = question(&conf);
        let header = &q.expected_circuit;
        let (g1, g2) = (
            ark_bn254::G1Affine::generator(),
            ark_bn254::G2Affine::generator(),
        );
        let vk = zkgate_statement::groth16::VerifyingKey {
            alpha_g1: g1,
            beta_g2: g2,
            gamma_g2: g2,
            delta_g2: g2,
            gamma_abc_g1: vec![g1; 10],
        };
        let bundle = zkgate_chain::settlement::Bundle::for_circuit(header, &vk)
            .unwrap()
            .id();
        let job = zkgate_chain::settlement::JobView {
            researcher: Address::ZERO,
            dataset_id: 1,
            deadline: 1_000,
            status: Status::Open,
            payee: Address::ZERO,
            rows: 12,
            verifier: B256::ZERO,
            commitment: U256::ZERO,
            escrow: U256::ZERO,
            question: B256::ZERO,
            circuits: B256::ZERO,
            charge: U256::ZERO,
        };
        assert!(check_settleable(4, &job, 900, (79.0, 20), header, None).is_ok());
        let e = check_settleable(4, &job, 900, (81.0, 20), header, None).unwrap_err();
        assert!(e.to_string().contains("ends in 100 s"), "{e}");
        let named = zkgate_chain::settlement::JobView {
            verifier: bundle,
            ..job.clone()
        };
        let e = check_settleable(4, &named, 900, (1.0, 0), header, None).unwrap_err();
        assert!(e.to_string().contains("ceremony_key"), "{e}");
        assert!(check_settleable(4, &named, 900, (1.0, 0), header, Some(&vk)).is_ok());
        let other = zkgate_statement::groth16::VerifyingKey {
            delta_g2: (g2 + g2).into_affine(),
            ..vk.clone()
        };
        let e = check_settleable(4, &named, 900, (1.0, 0), header, Some(&other)).unwrap_err();
        assert!(e.to_string().contains("would refuse"), "{e}");
    }

    /// A job keeps the contract, chain and nonce it was accepted with when
    /// `chain.json` names another contract later (a new `chain deploy`):
    /// its proofs carry the first contract's nonce. A record from before
    /// bindings were kept takes `chain.json`'s; a job naming no on-chain
    /// job, a nonce of its own.
    #[test]
    fn a_job_keeps_the_binding_it_was_accepted_with() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        let first = embedded(0x11);
        first.save(&paths.root).unwrap();
        let q = question(&first);
        let hash = B256::from(q.hash());
        let who = Address::repeat_byte(0x33);
        let bound = binding(&first, 7, &q).unwrap();
        assert_eq!(
            bound.nonce().unwrap(),
            zkgate_chain::settlement::job_nonce(31337, first.contract, who, hash)
        );
        let mut job = crate::store::tests::job("job_a");
        job.manifest.chain_job = Some(7);
        job.manifest.question = Some(q);
        job.chain = Some(bound.clone());

        let second = ChainConfig {
            contract: Address::repeat_byte(0x22),
            ..first.clone()
        };
        second.save(&paths.root).unwrap();
        assert_ne!(first.nonce(who, hash), second.nonce(who, hash));
        assert_eq!(job_binding(&paths, &job).unwrap(), Some(bound.clone()));
        assert_eq!(proof_nonce(&paths, &job).unwrap(), first.nonce(who, hash));

        let mut legacy = job.clone();
        legacy.chain = None;
        assert_eq!(
            job_binding(&paths, &legacy).unwrap(),
            Some(binding(&second, 7, legacy.manifest.question.as_ref().unwrap()).unwrap())
        );
        assert_eq!(
            proof_nonce(&paths, &legacy).unwrap(),
            second.nonce(who, hash)
        );

        let mut plain = legacy.clone();
        plain.manifest.chain_job = None;
        plain.manifest.question = None;
        assert_eq!(job_binding(&paths, &plain).unwrap(), None);
        assert_eq!(
            proof_nonce(&paths, &plain).unwrap(),
            zkgate_statement::nonce_from(b"job_a")
        );

        // The binding is part of the stored job and reads back.
        let text = serde_json::to_string(&job).unwrap();
        assert!(
            text.contains(&format!("\"contract\":\"{}\"", first.contract)),
            "{text}"
        );
        let back: Job = serde_json::from_str(&text).unwrap();
        assert_eq!(back.chain, Some(bound));
    }
}
