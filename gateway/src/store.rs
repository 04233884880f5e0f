//! Durable state in sled: datasets' public metadata, researchers (token
//! hashes), jobs, their models and receipts. Every write is flushed before
//! it returns, so an acknowledged state change survives a crash.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zkgate_chain::alloy_primitives::Address;
pub use zkgate_client::api::{
    ChainBinding, DatasetMeta, Hold, Job, JobState, Manifest, Progress, Review, SettledTx,
    SettlementRecord, Timings,
};

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
    /// The Ethereum address registered for them (by the owner, or by a
    /// message they signed with it): the only opener of on-chain jobs
    /// their submissions may name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Unix seconds.
    pub created: u64,
}

/// A proving prover the owner registered: its name and the age recipient
/// shard tasks are encrypted to (its token is stored hashed, as the key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProverRecord {
    /// Name.
    pub name: String,
    /// Its age recipient (`age1...`).
    pub recipient: String,
    /// Its nkey public key (`U...`): its NATS user, and the key its results
    /// are signed with (empty: registered before results were signed).
    #[serde(default)]
    pub nkey: String,
    /// Unix seconds.
    pub created: u64,
}

/// Ceremony keys as a researcher uploaded them: snarkjs `.zkey` files
/// (their transcripts inside): the key of the job's circuit, which proves
/// every shard.
#[derive(Clone, Debug, PartialEq)]
pub struct CeremonyUpload {
    /// The `.zkey` files.
    pub zkeys: Vec<Vec<u8>>,
}

/// A ceremony key the gateway proved a job with, kept for the researcher
/// who sent it: their later jobs on its circuit name it instead of sending
/// it again (`kept_ceremony_key`) and prove at no setup cost. Kept per
/// researcher and listed only to them: a list open to all would tell
/// anyone which circuits (models, datasets, questions) others have run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptKey {
    /// The researcher who sent it.
    pub researcher: String,
    /// SHA-256 of its verifying key (what questions pin and receipts name).
    pub vk_sha256: String,
    /// The circuit it is the key of (`SpecHeader::key_id`: for a
    /// model-family circuit, its architecture's).
    pub circuit_id: String,
    /// That circuit's shard rows.
    pub shard_rows: u64,
    /// SHA-256 of its transcript (what receipts' `setup` lines name).
    pub transcript_sha256: String,
    /// Its contributors, in order.
    pub contributors: Vec<String>,
    /// Each contribution's hash (what snarkjs and `ceremony contribute`
    /// print), in order.
    pub contribution_hashes: Vec<String>,
    /// BLAKE2b of the powers-of-tau file it was checked over.
    pub ptau_blake2b: String,
    /// The job that first proved with it.
    pub first_job: String,
    /// Unix seconds.
    pub added: u64,
}

/// How several keys are stored: this tag, then each key's length (u64,
/// little-endian) and bytes. A record without it is one `.zkey` (as
/// earlier versions stored a job's only key).
const KEYS_TAG: &[u8] = b"zkgate.ceremony-keys.v1";

impl CeremonyUpload {
    fn encode(&self) -> Vec<u8> {
        let mut out = KEYS_TAG.to_vec();
        for z in &self.zkeys {
            out.extend((z.len() as u64).to_le_bytes());
            out.extend(z);
        }
        out
    }

    fn decode(b: &[u8]) -> Option<CeremonyUpload> {
        let Some(mut rest) = b.strip_prefix(KEYS_TAG) else {
            return Some(CeremonyUpload {
                zkeys: vec![b.to_vec()],
            });
        };
        let mut zkeys = Vec::new();
        while !rest.is_empty() {
            let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
            zkeys.push(rest.get(8..8 + len)?.to_vec());
            rest = &rest[8 + len..];
        }
        Some(CeremonyUpload { zkeys })
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
    provers: sled::Tree,
    datasets: sled::Tree,
    researchers: sled::Tree,
    jobs: sled::Tree,
    models: sled::Tree,
    /// A job's ceremony key and transcript, when its researcher sent one.
    ceremonies: sled::Tree,
    kept_keys: sled::Tree,
    kept_key_files: sled::Tree,
    receipts: sled::Tree,
    idempotency: sled::Tree,
    /// Epsilon spent per researcher and dataset.
    privacy: sled::Tree,
    /// Per circuit id: how long its keys took to make, and who used them.
    key_uses: sled::Tree,
}

/// Who used a kept circuit key, and how long making it took.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyUses {
    /// Seconds its setup took.
    pub setup_s: f64,
    /// The researchers whose jobs used it (made or paced).
    pub researchers: Vec<String>,
}

/// A researcher's differential-privacy budget on one dataset: the total
/// epsilon the owner allows (`privacy_budget`) and what their noised
/// releases have spent of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// The total.
    pub total: f64,
    /// Spent.
    pub spent: f64,
}

impl Budget {
    /// What is left.
    pub fn left(&self) -> f64 {
        (self.total - self.spent).max(0.0)
    }
}

fn budget_key(researcher: &str, dataset: &str) -> Vec<u8> {
    format!("{researcher}\0{dataset}").into_bytes()
}

fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("store values serialize")
}

/// Reads the record under `key` in `tree`; one that does not parse is an
/// error (and stays where it is).
fn dec<T: DeserializeOwned>(tree: &str, key: &[u8], b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| Error::Corrupt {
        record: format!("{tree}/{}", String::from_utf8_lossy(key)),
        reason: e.to_string(),
    })
}

/// Every record of `tree`, read.
fn dec_all<T: DeserializeOwned>(name: &str, tree: &sled::Tree) -> Result<Vec<T>> {
    tree.iter()
        .map(|kv| {
            let (k, v) = kv?;
            dec(name, &k, &v)
        })
        .collect()
}

impl Store {
    /// Opens (or creates) the database. Its lock is waited for up to two
    /// seconds (a process that held it may be exiting), then refused.
    pub fn open(path: &std::path::Path) -> Result<Store> {
        let config = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput);
        let t = std::time::Instant::now();
        let db = loop {
            match config.open() {
                // sled reports a held lock as an `Other` I/O error.
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock")
                        && t.elapsed() < std::time::Duration::from_secs(2) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => break other?,
            }
        };
        Ok(Store {
            datasets: db.open_tree("datasets")?,
            researchers: db.open_tree("researchers")?,
            jobs: db.open_tree("jobs")?,
            models: db.open_tree("models")?,
            ceremonies: db.open_tree("ceremonies")?,
            kept_keys: db.open_tree("kept_ceremony_keys")?,
            kept_key_files: db.open_tree("kept_ceremony_key_files")?,
            receipts: db.open_tree("receipts")?,
            idempotency: db.open_tree("idempotency")?,
            privacy: db.open_tree("privacy")?,
            // The tree keeps the name an earlier release gave it (`workers`).
            provers: db.open_tree("workers")?,
            key_uses: db.open_tree("key_uses")?,
            db,
        })
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// Who used circuit `id`'s kept key, and how long making it took.
    pub fn key_uses(&self, id: &str) -> Result<Option<KeyUses>> {
        self.key_uses
            .get(id.as_bytes())?
            .map(|b| dec("key_uses", id.as_bytes(), &b))
            .transpose()
    }

    /// Records that `researcher` used circuit `id`'s key; `setup_s` when
    /// this use made it.
    pub fn key_used(&self, id: &str, researcher: &str, setup_s: Option<f64>) -> Result<()> {
        let mut uses = self.key_uses(id)?.unwrap_or_default();
        if let Some(s) = setup_s {
            uses.setup_s = s;
        }
        if !uses.researchers.iter().any(|r| r == researcher) {
            uses.researchers.push(researcher.to_string());
        }
        self.key_uses.insert(id.as_bytes(), enc(&uses))?;
        self.flush()
    }

    /// `researcher`'s privacy budget on `dataset`, out of `total`.
    pub fn budget(&self, researcher: &str, dataset: &str, total: f64) -> Result<Budget> {
        let spent = match self.privacy.get(budget_key(researcher, dataset))? {
            Some(v) => dec::<f64>("privacy", researcher.as_bytes(), &v)?,
            None => 0.0,
        };
        Ok(Budget { total, spent })
    }

    /// Spends `epsilon` of `researcher`'s budget on `dataset` (flushed
    /// before it returns), or refuses with what is left. The read, the
    /// check and the write are one atomic update, so a concurrent spend or
    /// refund is never lost.
    pub fn spend(
        &self,
        researcher: &str,
        dataset: &str,
        total: f64,
        epsilon: f64,
    ) -> Result<std::result::Result<Budget, Budget>> {
        let outcome = self.update_spent(researcher, dataset, |spent| {
            (epsilon <= total - spent + 1e-9).then_some(spent + epsilon)
        })?;
        self.flush()?;
        Ok(match outcome {
            (spent, true) => Ok(Budget { total, spent }),
            (spent, false) => Err(Budget { total, spent }),
        })
    }

    /// Gives `epsilon` back to `researcher`'s budget on `dataset` (a held
    /// job the owner denied never ran, so nothing was released with it);
    /// returns what stays spent. Atomic like [`Store::spend`].
    pub fn refund(&self, researcher: &str, dataset: &str, epsilon: f64) -> Result<f64> {
        let (spent, _) = self.update_spent(researcher, dataset, |spent| {
            Some((spent - epsilon).max(0.0))
        })?;
        self.flush()?;
        Ok(spent)
    }

    /// Applies `f` to the epsilon spent atomically (compare and swap):
    /// `None` leaves it. Returns the value after and whether `f` changed it.
    fn update_spent(
        &self,
        researcher: &str,
        dataset: &str,
        f: impl Fn(f64) -> Option<f64>,
    ) -> Result<(f64, bool)> {
        let key = budget_key(researcher, dataset);
        let corrupt = std::cell::Cell::new(None);
        let changed = std::cell::Cell::new(false);
        let after = self.privacy.update_and_fetch(&key, |old| {
            let spent = match old.map(|v| dec::<f64>("privacy", researcher.as_bytes(), v)) {
                Some(Ok(s)) => s,
                Some(Err(e)) => {
                    corrupt.set(Some(e));
                    return old.map(<[u8]>::to_vec);
                }
                None => 0.0,
            };
            corrupt.set(None);
            match f(spent) {
                Some(next) => {
                    changed.set(true);
                    Some(enc(&next))
                }
                None => {
                    changed.set(false);
                    old.map(<[u8]>::to_vec)
                }
            }
        })?;
        if let Some(e) = corrupt.take() {
            return Err(e);
        }
        let spent = match after {
            Some(v) => dec::<f64>("privacy", researcher.as_bytes(), &v)?,
            None => 0.0,
        };
        Ok((spent, changed.get()))
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
            .map(|b| dec("datasets", name.as_bytes(), &b))
            .transpose()
    }

    /// Every dataset.
    pub fn datasets(&self) -> Result<Vec<DatasetMeta>> {
        dec_all("datasets", &self.datasets)
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
            .map(|b| dec("researchers", token_hash.as_bytes(), &b))
            .transpose()
    }

    /// Registers `address` for the researcher named `name`; `false` if
    /// there is none. Refuses an address another researcher holds.
    pub fn set_address(&self, name: &str, address: Address) -> Result<bool> {
        let mut found = None;
        for kv in self.researchers.iter() {
            let (k, v) = kv?;
            let r: Researcher = dec("researchers", &k, &v)?;
            if r.name == name {
                found = Some((k, r));
            } else if r.address == Some(address) {
                return Err(Error::Conflict(format!(
                    "address {address} is registered for another researcher"
                )));
            }
        }
        let Some((k, mut r)) = found else {
            return Ok(false);
        };
        r.address = Some(address);
        self.researchers.insert(k, enc(&r))?;
        self.flush()?;
        Ok(true)
    }

    /// Removes the researcher named `name` (their token stops working at
    /// once: every request looks it up); `false` if there is none.
    pub fn remove_researcher(&self, name: &str) -> Result<bool> {
        let mut key = None;
        for kv in self.researchers.iter() {
            let (k, v) = kv?;
            let r: Researcher = dec("researchers", &k, &v)?;
            if r.name == name {
                key = Some(k);
                break;
            }
        }
        let Some(k) = key else {
            return Ok(false);
        };
        self.researchers.remove(k)?;
        self.flush()?;
        Ok(true)
    }

    /// Registers a prover under the hash of its token.
    pub fn add_prover(&self, token_hash: &str, w: &ProverRecord) -> Result<()> {
        self.provers.insert(token_hash.as_bytes(), enc(w))?;
        self.flush()
    }

    /// The prover a token hash belongs to.
    pub fn prover(&self, token_hash: &str) -> Result<Option<ProverRecord>> {
        self.provers
            .get(token_hash.as_bytes())?
            .map(|b| dec("provers", token_hash.as_bytes(), &b))
            .transpose()
    }

    /// Every prover.
    pub fn provers(&self) -> Result<Vec<ProverRecord>> {
        dec_all("provers", &self.provers)
    }

    /// Removes the prover named `name`; `false` if there is none.
    pub fn remove_prover(&self, name: &str) -> Result<bool> {
        let mut key = None;
        for kv in self.provers.iter() {
            let (k, v) = kv?;
            let w: ProverRecord = dec("provers", &k, &v)?;
            if w.name == name {
                key = Some(k);
            }
        }
        let Some(k) = key else { return Ok(false) };
        self.provers.remove(k)?;
        self.flush()?;
        Ok(true)
    }

    /// Every researcher.
    pub fn researchers(&self) -> Result<Vec<Researcher>> {
        self.researchers
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                dec("researchers", &k, &v)
            })
            .collect()
    }

    /// A researcher by name.
    pub fn researcher_named(&self, name: &str) -> Result<Option<Researcher>> {
        for kv in self.researchers.iter() {
            let (k, v) = kv?;
            let r: Researcher = dec("researchers", &k, &v)?;
            if r.name == name {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// Stores a new job with its model, unless the researcher already
    /// submitted one with the same idempotency key: returns the stored job
    /// and whether it is new.
    pub fn create_job(
        &self,
        job: &Job,
        model: &[u8],
        ceremony: Option<&CeremonyUpload>,
    ) -> Result<(Job, bool)> {
        use sled::transaction::{ConflictableTransactionError, TransactionError};
        use sled::Transactional;
        let idem = job
            .manifest
            .idempotency_key
            .as_ref()
            .map(|k| format!("{}\u{0}{k}", job.researcher));
        let ceremony = ceremony.map(CeremonyUpload::encode);
        let result = (
            &self.jobs,
            &self.models,
            &self.idempotency,
            &self.ceremonies,
        )
            .transaction(|(jobs, models, idempotency, ceremonies)| {
                if let Some(k) = &idem {
                    if let Some(existing) = idempotency.get(k.as_bytes())? {
                        let old =
                            jobs.get(&existing)?
                                .ok_or(ConflictableTransactionError::Abort(
                                    "dangling idempotency key",
                                ))?;
                        return Ok((existing.to_vec(), old.to_vec(), false));
                    }
                    idempotency.insert(k.as_bytes(), job.id.as_bytes())?;
                }
                jobs.insert(job.id.as_bytes(), enc(job))?;
                models.insert(job.id.as_bytes(), model)?;
                if let Some(c) = &ceremony {
                    ceremonies.insert(job.id.as_bytes(), c.as_slice())?;
                }
                Ok((job.id.as_bytes().to_vec(), enc(job), true))
            });
        let (id, bytes, new) =
            result.map_err(|e: TransactionError<&str>| Error::Store(e.to_string()))?;
        self.flush()?;
        Ok((dec("jobs", &id, &bytes)?, new))
    }

    /// A job.
    pub fn job(&self, id: &str) -> Result<Option<Job>> {
        self.jobs
            .get(id.as_bytes())?
            .map(|b| dec("jobs", id.as_bytes(), &b))
            .transpose()
    }

    /// Every job, oldest first.
    pub fn jobs(&self) -> Result<Vec<Job>> {
        let mut all: Vec<Job> = dec_all("jobs", &self.jobs)?;
        all.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(all)
    }

    /// A job's ceremony key and transcript, if its researcher sent one.
    pub fn ceremony(&self, id: &str) -> Result<Option<CeremonyUpload>> {
        self.ceremonies
            .get(id.as_bytes())?
            .map(|v| {
                CeremonyUpload::decode(&v).ok_or_else(|| Error::Corrupt {
                    record: format!("ceremonies/{id}"),
                    reason: "not a ceremony upload".into(),
                })
            })
            .transpose()
    }

    /// Keeps a ceremony key (its `.zkey` and what it is) for its
    /// researcher; a key they kept already keeps its first record.
    pub fn keep_ceremony_key(&self, meta: &KeptKey, zkey: &[u8]) -> Result<()> {
        let id = format!("{}\u{0}{}", meta.researcher, meta.vk_sha256);
        if self.kept_keys.contains_key(id.as_bytes())? {
            return Ok(());
        }
        self.kept_key_files.insert(id.as_bytes(), zkey)?;
        self.kept_keys.insert(id.as_bytes(), enc(meta))?;
        self.flush()
    }

    /// The ceremony keys kept for `researcher`.
    pub fn kept_ceremony_keys(&self, researcher: &str) -> Result<Vec<KeptKey>> {
        self.kept_keys
            .scan_prefix(format!("{researcher}\u{0}").as_bytes())
            .map(|kv| {
                let (k, v) = kv?;
                dec("kept_ceremony_keys", &k, &v)
            })
            .collect()
    }

    /// A ceremony key kept for `researcher`, and its `.zkey`.
    pub fn kept_ceremony_key(
        &self,
        researcher: &str,
        vk_sha256: &str,
    ) -> Result<Option<(KeptKey, Vec<u8>)>> {
        let id = format!("{researcher}\u{0}{vk_sha256}");
        let Some(meta) = self.kept_keys.get(id.as_bytes())? else {
            return Ok(None);
        };
        let meta: KeptKey = dec("kept_ceremony_keys", id.as_bytes(), &meta)?;
        let file = self
            .kept_key_files
            .get(id.as_bytes())?
            .ok_or_else(|| Error::Corrupt {
                record: format!("kept_ceremony_key_files/{researcher}/{vk_sha256}"),
                reason: "the key's file is missing".into(),
            })?;
        Ok(Some((meta, file.to_vec())))
    }

    /// A job's model.
    pub fn model(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.models.get(id.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Applies `f` to a job and stores it durably; returns the new job.
    /// A record that does not parse is an error and is left untouched (`f`
    /// may run again when another write to the job comes in between).
    pub fn update_job(&self, id: &str, f: impl Fn(&mut Job)) -> Result<Job> {
        let key = id.as_bytes();
        loop {
            let old = self
                .jobs
                .get(key)?
                .ok_or_else(|| Error::NotFound(format!("job {id}")))?;
            let mut job: Job = dec("jobs", key, &old)?;
            f(&mut job);
            job.updated = now();
            if self
                .jobs
                .compare_and_swap(key, Some(&old), Some(enc(&job)))?
                .is_ok()
            {
                self.flush()?;
                return Ok(job);
            }
        }
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
pub(crate) mod tests {
    use super::*;
    use serde_json::json;
    use zkgate_chain::alloy_primitives::{Address, B256};
    use zkgate_client::api::ErrorDetail;
    use zkgate_statement::quant::QuantConfig;
    use zkgate_statement::Aggregate;

    #[test]
    fn ceremony_uploads_keep_several_keys_and_read_a_single_one_as_before() {
        let two = CeremonyUpload {
            zkeys: vec![b"zkey one".to_vec(), b"zkey two, longer".to_vec()],
        };
        assert_eq!(CeremonyUpload::decode(&two.encode()), Some(two.clone()));
        // A record from before several keys were taken: one .zkey as is.
        assert_eq!(
            CeremonyUpload::decode(b"zkey\x01\x00\x00\x00"),
            Some(CeremonyUpload {
                zkeys: vec![b"zkey\x01\x00\x00\x00".to_vec()]
            })
        );
        // A cut record is refused, not misread.
        let e = two.encode();
        assert_eq!(CeremonyUpload::decode(&e[..e.len() - 1]), None);
    }

    /// A queued job of alice's on dataset `bc`.
    pub(crate) fn job(id: &str) -> Job {
        Job {
            id: id.into(),
            researcher: "alice".into(),
            manifest: Manifest {
                dataset: "bc".into(),
                columns: None,
                aggregate: Aggregate::ClassCounts,
                idempotency_key: None,
                quant: QuantConfig::default(),
                chain_job: None,
                epsilon: None,
                nonce: None,
                question: None,
            },
            model_sha256: String::new(),
            state: JobState::Queued,
            error: None,
            attempts: 0,
            created: 1,
            updated: 1,
            timings: None,
            settlement: None,
            hold: None,
            review: None,
            progress: None,
            chain: None,
        }
    }

    /// A job record that does not parse makes `update_job` (and every
    /// read) fail with `corrupt_record`, and stays in the store byte for
    /// byte; a missing job is still `not_found`; a good one updates.
    #[test]
    fn a_corrupt_job_is_an_error_never_a_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let garbage = b"{\"id\": \"job_bad\", not json";
        store.jobs.insert("job_bad", garbage.as_slice()).unwrap();

        let e = store
            .update_job("job_bad", |j| j.state = JobState::Cancelled)
            .unwrap_err();
        assert!(
            matches!(&e, Error::Corrupt { record, .. } if record == "jobs/job_bad"),
            "{e}"
        );
        assert_eq!(e.code().1, "corrupt_record");
        assert_eq!(e.body()["error"]["message"], "internal error");
        assert_eq!(
            store.jobs.get("job_bad").unwrap().as_deref(),
            Some(garbage.as_slice())
        );
        assert!(matches!(store.job("job_bad"), Err(Error::Corrupt { .. })));
        assert!(matches!(store.jobs(), Err(Error::Corrupt { .. })));
        assert_eq!(
            store.jobs.get("job_bad").unwrap().as_deref(),
            Some(garbage.as_slice())
        );

        assert!(matches!(
            store.update_job("job_none", |_| {}),
            Err(Error::NotFound(_))
        ));
        store.jobs.remove("job_bad").unwrap();
        let (stored, new) = store.create_job(&job("job_ok"), b"onnx", None).unwrap();
        assert!(new);
        assert_eq!(stored, job("job_ok"));
        let updated = store
            .update_job("job_ok", |j| j.state = JobState::Cancelled)
            .unwrap();
        assert_eq!(updated.state, JobState::Cancelled);
        assert_eq!(store.job("job_ok").unwrap(), Some(updated));
    }

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

    /// Spends and refunds race (a submission against the owner's denial
    /// of a held job): every one counts, none overwrites another.
    #[test]
    fn concurrent_spends_and_refunds_are_never_lost() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(&dir.path().join("db")).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        s.spend("alice", "bc", 1000.0, 0.5).unwrap().unwrap();
                        s.spend("alice", "bc", 1000.0, 0.5).unwrap().unwrap();
                        s.refund("alice", "bc", 0.5).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(store.budget("alice", "bc", 1000.0).unwrap().spent, 40.0);
        // A spend over what is left is refused and changes nothing.
        let refused = store.spend("alice", "bc", 41.0, 2.0).unwrap().unwrap_err();
        assert_eq!(refused.spent, 40.0);
        assert_eq!(store.budget("alice", "bc", 41.0).unwrap().spent, 40.0);
    }

    /// On-chain releases are public: they spend the dataset's one public
    /// account, whoever opened the job; off chain each researcher has
    /// their own.
    #[test]
    fn on_chain_releases_spend_one_public_budget() {
        let mut m = job("j").manifest;
        assert_eq!(m.budget_holder("alice"), "alice");
        m.chain_job = Some(1);
        assert_eq!(m.budget_holder("alice"), m.budget_holder("bob"));
        assert!(crate::owner::setup::check_name(m.budget_holder("alice"), "researcher").is_err());
    }
}
