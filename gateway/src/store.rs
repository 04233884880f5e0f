//! Durable state in sled: datasets' public metadata, researchers (token
//! hashes), jobs, their models and receipts. Every write is flushed before
//! it returns, so an acknowledged state change survives a crash.

use crate::error::{Error, ErrorDetail, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zkgate_chain::alloy_primitives::{Address, B256};
use zkgate_zkml::quantize::QuantConfig;
use zkgate_zkml::statement::Aggregate;

/// Public metadata of a dataset (what researchers see).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetMeta {
    /// Name.
    pub name: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Per-column fixed-point scales.
    pub scales: Vec<i32>,
    /// Bits per stored value.
    pub value_bits: usize,
    /// Rows.
    pub rows: u64,
    /// The commitment, hex.
    pub commitment: String,
    /// Price per job (wei; 0 = free).
    pub price: u64,
    /// Unix seconds.
    pub created: u64,
}

/// A researcher (the token itself is never stored).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Researcher {
    /// Name.
    pub name: String,
    /// Organisation (a group in policies); empty for none.
    #[serde(default)]
    pub organisation: String,
    /// Trust level 0-3 the owner gives, read by policies.
    #[serde(default)]
    pub trust: u8,
    /// Unix seconds.
    pub created: u64,
}

/// What a researcher submits with the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Dataset name.
    pub dataset: String,
    /// Columns feeding the model (default: all but the label).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// The aggregate.
    pub aggregate: Aggregate,
    /// Resubmitting with the same key returns the same job.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Quantization settings.
    #[serde(default)]
    pub quant: QuantConfig,
    /// The on-chain job this one settles: the proof is bound to it and
    /// submitted to the settlement contract once proved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_job: Option<u64>,
}

/// A job's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted, waiting for a worker.
    Queued,
    /// Quantizing and compiling the circuit.
    Compiling,
    /// Generating keys.
    Setup,
    /// Proving.
    Proving,
    /// Proved; waiting to be settled on chain.
    Proved,
    /// Submitting the proof to the settlement contract.
    Settling,
    /// Receipt ready (and settled, for an on-chain job: see `settlement`).
    Done,
    /// Failed; see `error`.
    Failed,
    /// Cancelled by the researcher.
    Cancelled,
}

impl JobState {
    /// Whether the job will not change any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }

    /// All states, for metrics.
    pub const ALL: [JobState; 9] = [
        JobState::Queued,
        JobState::Compiling,
        JobState::Setup,
        JobState::Proving,
        JobState::Proved,
        JobState::Settling,
        JobState::Done,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Compiling => "compiling",
            JobState::Setup => "setup",
            JobState::Proving => "proving",
            JobState::Proved => "proved",
            JobState::Settling => "settling",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// A job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Id.
    pub id: String,
    /// Owner.
    pub researcher: String,
    /// The manifest.
    pub manifest: Manifest,
    /// SHA-256 of the ONNX model.
    pub model_sha256: String,
    /// State.
    pub state: JobState,
    /// Why it failed: `{code, message}` (and `rules` for a policy denial).
    pub error: Option<ErrorDetail>,
    /// Times a worker started it (restarts included).
    pub attempts: u32,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds.
    pub updated: u64,
    /// Seconds per step, when done.
    pub timings: Option<Timings>,
    /// The on-chain settlement: transaction, block, gas and values, or why
    /// the chain refused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<SettlementRecord>,
}

/// Seconds per step of a job (`compile_s`, `setup_s`, `prove_s`, ...), as
/// its receipt has them.
pub type Timings = BTreeMap<String, f64>;

/// What came of an on-chain job's settlement. In JSON: the settlement's
/// fields, `{"error": why}` or `{"retrying": why}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SettlementRecord {
    /// Settled (by this gateway now or before).
    Settled(SettledTx),
    /// The chain refused it for good (expired, refunded, invalid), or it
    /// could not be attempted.
    Refused {
        /// Why.
        error: String,
    },
    /// The chain could not be reached: the job waits in `proved` and is
    /// tried again.
    Retrying {
        /// Why the last attempt failed.
        retrying: String,
    },
}

impl SettlementRecord {
    /// The settlement, when settled.
    pub fn settled(&self) -> Option<&SettledTx> {
        match self {
            SettlementRecord::Settled(s) => Some(s),
            _ => None,
        }
    }

    /// Why the chain refused it, when it did.
    pub fn error(&self) -> Option<&str> {
        match self {
            SettlementRecord::Refused { error } => Some(error),
            _ => None,
        }
    }

    /// Why the last attempt could not reach the chain, when it could not.
    pub fn retrying(&self) -> Option<&str> {
        match self {
            SettlementRecord::Retrying { retrying } => Some(retrying),
            _ => None,
        }
    }
}

/// A settlement on chain, as recorded with its job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettledTx {
    /// The chain.
    pub chain_id: u64,
    /// The settlement contract (checksummed in JSON).
    #[serde(with = "checksummed")]
    pub contract: Address,
    /// The on-chain job.
    pub job: u64,
    /// The settling transaction.
    pub tx: B256,
    /// Its block.
    pub block: u64,
    /// The gas it used; `None` when recorded from the chain's event after
    /// a restart.
    pub gas_used: Option<u64>,
    /// The values the chain holds for the job, as decimal words.
    pub values: Vec<String>,
}

/// An address as its EIP-55 checksummed string.
mod checksummed {
    use serde::{Deserialize, Deserializer, Serializer};
    use zkgate_chain::alloy_primitives::Address;

    pub fn serialize<S: Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(a)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    datasets: sled::Tree,
    researchers: sled::Tree,
    jobs: sled::Tree,
    models: sled::Tree,
    receipts: sled::Tree,
    idempotency: sled::Tree,
}

fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("store values serialize")
}

fn dec<T: DeserializeOwned>(b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| Error::Store(format!("corrupt record: {e}")))
}

impl Store {
    /// Opens (or creates) the database.
    pub fn open(path: &std::path::Path) -> Result<Store> {
        let db = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        Ok(Store {
            datasets: db.open_tree("datasets")?,
            researchers: db.open_tree("researchers")?,
            jobs: db.open_tree("jobs")?,
            models: db.open_tree("models")?,
            receipts: db.open_tree("receipts")?,
            idempotency: db.open_tree("idempotency")?,
            db,
        })
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// Records a dataset's metadata.
    pub fn put_dataset(&self, meta: &DatasetMeta) -> Result<()> {
        self.datasets.insert(meta.name.as_bytes(), enc(meta))?;
        self.flush()
    }

    /// A dataset's metadata.
    pub fn dataset(&self, name: &str) -> Result<Option<DatasetMeta>> {
        self.datasets
            .get(name.as_bytes())?
            .map(|b| dec(&b))
            .transpose()
    }

    /// Every dataset.
    pub fn datasets(&self) -> Result<Vec<DatasetMeta>> {
        self.datasets.iter().values().map(|v| dec(&v?)).collect()
    }

    /// Forgets a dataset's metadata.
    pub fn remove_dataset(&self, name: &str) -> Result<bool> {
        let had = self.datasets.remove(name.as_bytes())?.is_some();
        self.flush()?;
        Ok(had)
    }

    /// Adds a researcher under the hash of their token.
    pub fn add_researcher(&self, token_hash: &str, r: &Researcher) -> Result<()> {
        self.researchers.insert(token_hash.as_bytes(), enc(r))?;
        self.flush()
    }

    /// The researcher a token hash belongs to.
    pub fn researcher(&self, token_hash: &str) -> Result<Option<Researcher>> {
        self.researchers
            .get(token_hash.as_bytes())?
            .map(|b| dec(&b))
            .transpose()
    }

    /// A researcher by name.
    pub fn researcher_named(&self, name: &str) -> Result<Option<Researcher>> {
        for v in self.researchers.iter().values() {
            let r: Researcher = dec(&v?)?;
            if r.name == name {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// Stores a new job with its model, unless the researcher already
    /// submitted one with the same idempotency key: returns the stored job
    /// and whether it is new.
    pub fn create_job(&self, job: &Job, model: &[u8]) -> Result<(Job, bool)> {
        use sled::transaction::{ConflictableTransactionError, TransactionError};
        use sled::Transactional;
        let idem = job
            .manifest
            .idempotency_key
            .as_ref()
            .map(|k| format!("{}\u{0}{k}", job.researcher));
        let result = (&self.jobs, &self.models, &self.idempotency).transaction(
            |(jobs, models, idempotency)| {
                if let Some(k) = &idem {
                    if let Some(existing) = idempotency.get(k.as_bytes())? {
                        let old =
                            jobs.get(&existing)?
                                .ok_or(ConflictableTransactionError::Abort(
                                    "dangling idempotency key",
                                ))?;
                        return Ok((old.to_vec(), false));
                    }
                    idempotency.insert(k.as_bytes(), job.id.as_bytes())?;
                }
                jobs.insert(job.id.as_bytes(), enc(job))?;
                models.insert(job.id.as_bytes(), model)?;
                Ok((enc(job), true))
            },
        );
        let (bytes, new) =
            result.map_err(|e: TransactionError<&str>| Error::Store(e.to_string()))?;
        self.flush()?;
        Ok((dec(&bytes)?, new))
    }

    /// A job.
    pub fn job(&self, id: &str) -> Result<Option<Job>> {
        self.jobs.get(id.as_bytes())?.map(|b| dec(&b)).transpose()
    }

    /// Every job, oldest first.
    pub fn jobs(&self) -> Result<Vec<Job>> {
        let mut all: Vec<Job> = self
            .jobs
            .iter()
            .values()
            .map(|v| dec(&v?))
            .collect::<Result<_>>()?;
        all.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(all)
    }

    /// A job's model.
    pub fn model(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.models.get(id.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Applies `f` to a job and stores it durably; returns the new job.
    pub fn update_job(&self, id: &str, f: impl Fn(&mut Job)) -> Result<Job> {
        let mut out = None;
        self.jobs.fetch_and_update(id.as_bytes(), |old| {
            let mut job: Job = serde_json::from_slice(old?).ok()?;
            f(&mut job);
            job.updated = now();
            let bytes = enc(&job);
            out = Some(job);
            Some(bytes)
        })?;
        self.flush()?;
        out.ok_or_else(|| Error::NotFound(format!("job {id}")))
    }

    /// Stores a job's receipt and verifying key.
    pub fn put_receipt(&self, id: &str, receipt: &str, vk: &[u8]) -> Result<()> {
        self.receipts
            .insert(format!("{id}/receipt").as_bytes(), receipt.as_bytes())?;
        self.receipts.insert(format!("{id}/vk").as_bytes(), vk)?;
        self.flush()
    }

    /// A job's receipt JSON.
    pub fn receipt(&self, id: &str) -> Result<Option<String>> {
        Ok(self
            .receipts
            .get(format!("{id}/receipt").as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// A job's verifying key.
    pub fn vk(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .receipts
            .get(format!("{id}/vk").as_bytes())?
            .map(|v| v.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The typed records write the JSON the untyped ones did, key order
    /// included, and read it back.
    #[test]
    fn records_keep_their_json() {
        let contract: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
            .parse()
            .unwrap();
        let tx = B256::repeat_byte(0xab);
        let settled = SettlementRecord::Settled(SettledTx {
            chain_id: 31337,
            contract,
            job: 7,
            tx,
            block: 12,
            gas_used: Some(345_678),
            values: vec!["1".into(), "23".into()],
        });
        let old = json!({
            "chain_id": 31337u64,
            "contract": contract.to_string(),
            "job": 7u64,
            "tx": tx.to_string(),
            "block": 12u64,
            "gas_used": Some(345_678u64),
            "values": ["1", "23"],
        });
        let from_event = SettlementRecord::Settled(SettledTx {
            gas_used: None,
            ..settled.settled().unwrap().clone()
        });
        let mut old_event = old.clone();
        old_event["gas_used"] = serde_json::Value::Null;
        let refused = SettlementRecord::Refused {
            error: "expired".into(),
        };
        let retrying = SettlementRecord::Retrying {
            retrying: "connection refused".into(),
        };
        for (typed, old) in [
            (settled, old),
            (from_event, old_event),
            (refused, json!({ "error": "expired" })),
            (retrying, json!({ "retrying": "connection refused" })),
        ] {
            assert_eq!(
                serde_json::to_string(&typed).unwrap(),
                serde_json::to_string(&old).unwrap()
            );
            let back: SettlementRecord = serde_json::from_value(old).unwrap();
            assert_eq!(back, typed);
        }

        let denied = Error::Denied {
            message: "no".into(),
            rules: vec!["small-cells".into()],
        };
        let conflict = Error::Conflict("cancelled".into());
        let internal = Error::Store("disk".into());
        for e in [denied, conflict, internal] {
            // The body as it was built before it had a type.
            let (status, code) = e.code();
            let message = if status.is_server_error() {
                "internal error".to_string()
            } else {
                e.to_string()
            };
            let mut old = json!({ "error": { "code": code, "message": message } });
            if let Error::Denied { rules, .. } = &e {
                old["error"]["rules"] = rules.clone().into();
            }
            assert_eq!(e.body().to_string(), old.to_string());
            assert_eq!(
                serde_json::to_string(&e.detail()).unwrap(),
                old["error"].to_string()
            );
            let back: ErrorDetail = serde_json::from_value(old["error"].clone()).unwrap();
            assert_eq!(back, e.detail());
        }

        let timings: Timings = [("prove_s".to_string(), 1.5), ("compile_s".into(), 0.25)].into();
        assert_eq!(
            serde_json::to_string(&timings).unwrap(),
            serde_json::to_value(&timings).unwrap().to_string()
        );
    }
}
