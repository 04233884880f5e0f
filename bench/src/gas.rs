//! Settlement gas: one job's receipt settled on a fresh embedded chain,
//! every call's gas measured (`zkgate bench --settle`).

use anyhow::Result;
use zkgate_chain::alloy_primitives::{B256, U256};
use zkgate_chain::settlement::Bundle;
use zkgate_chain::{Chain, Settlement, Wallet};

/// `zkgate bench --settle`: one job's settlement on a fresh embedded chain,
/// every call's gas measured.
pub struct GasBench {
    pub(crate) rt: tokio::runtime::Runtime,
    /// The embedded chain's state, removed with the bench.
    _dir: tempfile::TempDir,
    pub(crate) s: Settlement,
    /// The on-chain dataset.
    pub(crate) dataset: u64,
    /// Its commitment.
    pub(crate) commitment: zkgate_zkml::Fr,
    /// The stand-in question's hash.
    pub(crate) question: B256,
    /// The nonce the job's proofs must carry.
    pub nonce: zkgate_zkml::Fr,
    gas: serde_json::Map<String, serde_json::Value>,
}

/// Gas of a transaction's calldata (EIP-2028).
fn calldata_gas(data: &[u8]) -> u64 {
    data.iter().map(|b| if *b == 0 { 4 } else { 16 }).sum()
}

impl GasBench {
    /// Deploys, registers `dataset`'s commitment and opens a job on it.
    pub fn open(
        dataset: &zkgate_zkml::dataset::Dataset,
        secret: &zkgate_zkml::dataset::Secret,
    ) -> Result<GasBench> {
        let rt = tokio::runtime::Runtime::new()?;
        let dir = tempfile::Builder::new().prefix("zkgate-gas-").tempdir()?;
        let (s, ds, gas) = rt.block_on(async {
            let chain = Chain::embedded(&dir.path().join("state.json"))?;
            let (s, r) = Settlement::deploy(chain, &Wallet::dev(0)?).await?;
            let mut gas = serde_json::Map::new();
            gas.insert("deploy".into(), r.gas_used.into());
            let (ds, r) = s
                .register_dataset(
                    &Wallet::dev(0)?,
                    dataset.commitment(secret),
                    dataset.rows() as u64,
                    B256::ZERO,
                    U256::from(1u64),
                )
                .await?;
            gas.insert("register_dataset".into(), r.gas_used.into());
            anyhow::Ok((s, ds, gas))
        })?;
        // The question's hash fixes the nonce before the job is opened (in
        // `settle`, with the circuits the proofs were made with).
        let question = B256::from(rand::random::<[u8; 32]>());
        let nonce = zkgate_chain::settlement::job_nonce(
            zkgate_chain::embedded::CHAIN_ID,
            s.address(),
            Wallet::dev(1)?.address(),
            question,
        );
        Ok(GasBench {
            rt,
            _dir: dir,
            s,
            dataset: ds,
            commitment: dataset.commitment(secret),
            question,
            nonce,
            gas,
        })
    }

    /// Opens the job for the receipt's circuits, registers the keys,
    /// settles, and measures one proof's verification
    /// (a transaction to `verifyProof`, less its intrinsic and calldata gas)
    /// against the precompile floor.
    pub fn settle(mut self, out: &zkgate_zkml::pipeline::Outcome) -> Result<serde_json::Value> {
        use zkgate_chain::alloy_sol_types::SolCall;
        let vks: Vec<_> = out.keys.iter().map(|(_, vk)| vk.clone()).collect();
        let receipt = &out.receipt;
        let owner = Wallet::dev(0)?;
        let result = self.rt.block_on(async {
            let circuits = zkgate_chain::settlement::receipt_circuits(receipt);
            let deadline = self.s.chain().now().await? + 86_400;
            let (job, r) = self
                .s
                .open_job(
                    &Wallet::dev(1)?,
                    &zkgate_chain::settlement::OpenJob {
                        dataset: self.dataset,
                        commitment: self.commitment,
                        question: self.question,
                        circuits: circuits.clone(),
                        verifier: B256::ZERO,
                        deadline,
                        value: U256::from(1u64),
                    },
                )
                .await?;
            self.gas.insert("open_job".into(), r.gas_used.into());
            let bundle = Bundle::for_receipt(receipt, &vks)?;
            let (_, r) = self.s.register_verifier(&owner, &bundle).await?;
            self.gas
                .insert("register_verifier".into(), r.gas_used.into());
            let shards = zkgate_chain::settlement::shards(receipt, &bundle)?;
            let first = receipt.statement(0)?.public_inputs();
            let inputs: Vec<U256> = first.iter().map(zkgate_chain::evm::fr_to_u256).collect();
            let nonzero = inputs.iter().filter(|x| !x.is_zero()).count();
            let call = zkgate_chain::abi::Settlement::verifyProofCall {
                verifierId: bundle.id(),
                key: shards[0].key,
                inputs: inputs.clone(),
                proof: shards[0].proof,
            };
            let data = call.abi_encode();
            let r = self
                .s
                .chain()
                .send(
                    &owner,
                    &zkgate_chain::TxRequest {
                        to: Some(self.s.address()),
                        data: data.clone().into(),
                        ..Default::default()
                    },
                )
                .await?;
            let exec = r.gas_used - 21_000 - calldata_gas(&data);
            let floor = zkgate_chain::evm::verification_gas(nonzero);
            let settled = self.s.settle(&owner, job, &circuits, receipt, &vks).await?;
            self.gas.insert("settle".into(), settled.gas_used.into());
            anyhow::Ok(serde_json::json!({
                "gas": self.gas,
                "shards": receipt.shards.len(),
                "public_inputs": inputs.len(),
                "nonzero_inputs": nonzero,
                "verify_proof_exec_gas": exec,
                "precompile_floor_gas": floor,
                "verify_over_floor": exec as f64 / floor as f64,
                "floor_all_inputs_gas": zkgate_chain::evm::verification_gas(inputs.len()),
                "settle_calldata_bytes": zkgate_chain::abi::Settlement::settleCall {
                    id: U256::from(job),
                    verifierId: bundle.id(),
                    circuitIds: circuits.iter().map(zkgate_chain::evm::fr_to_u256).collect(),
                    values: zkgate_chain::settlement::values(receipt)?,
                    shards,
                }.abi_encode().len(),
            }))
        });
        result
    }
}
