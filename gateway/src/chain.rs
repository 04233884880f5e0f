//! Settlement from the gateway. A data dir with `chain.json` (written by
//! `zkgate chain deploy`) settles every job whose manifest names an on-chain
//! job: the proof is bound to that job (the contract's nonce), and once it
//! is proved the worker submits it. The embedded chain lives in
//! `chain/state.json`; `rpc` points at a JSON-RPC node instead.
//!
//! Settling is safe to repeat: before sending, the worker reads the job on
//! chain, and a job already settled is recorded from its event instead of
//! being settled again (the contract would refuse a second settlement
//! anyway). A job whose settlement was in flight when the gateway stopped
//! is retried when it starts again.

use crate::config::Paths;
use crate::error::{Error, Result};
use crate::store::{DatasetMeta, SettledTx};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use zkgate_chain::abi::Status;
use zkgate_chain::alloy_primitives::{Address, B256, U256};
use zkgate_chain::{Chain, Settlement, Wallet};
use zkgate_zkml::receipt::{fr_from_hex, Receipt};
use zkgate_zkml::Fr;

/// Where the gateway settles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChainConfig {
    /// The Settlement contract.
    pub contract: Address,
    /// The chain id (the job nonce depends on it).
    pub chain_id: u64,
    /// A JSON-RPC node; `None` for the embedded chain.
    #[serde(default)]
    pub rpc: Option<String>,
    /// The data owner's key file (hex), relative to the data dir.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// CA certificate (PEM) an `https://` node's certificate chains to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Or a development account (local chains only).
    #[serde(default)]
    pub dev_account: Option<usize>,
}

impl ChainConfig {
    /// The data dir's chain configuration, if it settles on a chain.
    pub fn load(paths: &Paths) -> Result<Option<ChainConfig>> {
        let p = paths.chain_config();
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::Config(format!("{}: {e}", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&p, e)),
        }
    }

    /// Writes it to the data dir.
    pub fn save(&self, paths: &Paths) -> Result<()> {
        let p = paths.chain_config();
        let text = serde_json::to_string_pretty(self).expect("configs serialize");
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))
    }

    /// The owner's wallet.
    pub fn wallet(&self, paths: &Paths) -> Result<Wallet> {
        let w = match (&self.key_file, self.dev_account) {
            (Some(f), _) => Wallet::from_file(&resolve(&paths.root, f)),
            (None, Some(i)) => Wallet::dev(i),
            (None, None) => Wallet::dev(0),
        };
        w.map_err(|e| Error::Config(format!("chain key: {e}")))
    }

    /// The contract on its chain.
    pub fn connect(&self, paths: &Paths) -> Result<Settlement> {
        let chain = match &self.rpc {
            Some(url) => Chain::rpc(url, rpc_tls(&paths.root, self.ca_file.as_deref())?),
            None => Chain::embedded(&paths.chain_state()),
        }
        .map_err(|e| Error::Config(format!("chain: {e}")))?;
        Ok(Settlement::at(chain, self.contract))
    }

    /// The nonce a proof for on-chain job `id` carries.
    pub fn nonce(&self, id: u64) -> Fr {
        zkgate_chain::settlement::job_nonce(self.chain_id, self.contract, id)
    }
}

/// TLS for a JSON-RPC node whose certificate chains to `ca` (PEM).
pub fn rpc_tls(root: &Path, ca: Option<&Path>) -> Result<Option<rustls::ClientConfig>> {
    ca.map(|f| {
        let f = resolve(root, f);
        let pem = std::fs::read(&f).map_err(|e| Error::io(&f, e))?;
        crate::tls::client_config(&pem)
    })
    .transpose()
}

fn resolve(root: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    }
}

fn chain_err(e: zkgate_chain::Error) -> Error {
    match e {
        zkgate_chain::Error::Reverted(r) => Error::Conflict(format!("the chain refused: {r}")),
        other => Error::Config(format!("chain: {other}")),
    }
}

/// Checks, at submission, that on-chain job `id` is open, in time, and was
/// opened against this dataset's commitment and rows.
pub async fn check_job(paths: &Paths, id: u64, meta: &DatasetMeta) -> Result<()> {
    let conf = ChainConfig::load(paths)?.ok_or_else(|| {
        Error::Unprocessable("this gateway settles on no chain: drop `chain_job`".into())
    })?;
    let s = conf.connect(paths)?;
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
    let c = fr_from_hex(&meta.commitment).map_err(Error::Zkml)?;
    let ours = U256::from_be_bytes(zkgate_chain::evm::word(&c));
    if job.commitment != ours || job.rows != meta.rows {
        return Err(Error::Unprocessable(format!(
            "on-chain job {id} was opened against another dataset than `{}`",
            meta.name
        )));
    }
    Ok(())
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

/// Settles on-chain job `id` with a stored receipt and its key file.
pub async fn settle(paths: &Paths, id: u64, receipt: &str, vk: &[u8]) -> Result<Attempt> {
    let conf = ChainConfig::load(paths)?
        .ok_or_else(|| Error::Config("the chain configuration is gone".into()))?;
    let s = conf.connect(paths)?;
    let record = |tx: B256, block: u64, gas_used: Option<u64>, values: Vec<U256>| SettledTx {
        chain_id: conf.chain_id,
        contract: conf.contract,
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
    let vks = zkgate_zkml::prove::keys_from_bytes(vk)?;
    let wallet = conf.wallet(paths)?;
    Ok(match s.settle(&wallet, id, &receipt, &vks).await {
        Ok(done) => Attempt::Settled(record(
            done.tx,
            done.block,
            Some(done.gas_used),
            done.values,
        )),
        Err(zkgate_chain::Error::Reverted(r)) => Attempt::Refused(r),
        Err(e) => Attempt::Retry(e.to_string()),
    })
}
