//! The append-only audit log of policy decisions (`audit.log` in the data
//! dir): one JSON object per line, written with `O_APPEND` and synced
//! before the decision takes effect. Each entry carries the SHA-256 of the
//! previous entry's line, so a removed, reordered or edited entry breaks
//! the chain that [`verify`] checks. The file is separate from sled so the
//! owner can read it (`zkgate audit`) while the gateway runs.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One decision, as written: its record between its place in the log and
/// the link to the entry before.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the log, from 1.
    pub seq: u64,
    /// Unix seconds.
    pub time: u64,
    /// What was decided.
    #[serde(flatten)]
    pub record: Record,
    /// SHA-256 (hex) of the previous entry's line; zeros for the first.
    pub prev: String,
}

/// What a decision says (the log adds `seq`, `time` and `prev`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Who asked (researcher name; `owner` for the owner's own actions).
    pub who: String,
    /// What: `submit`, `admit_compiled`, `release`, `read_receipt`,
    /// `policy_reload`.
    pub action: String,
    /// The dataset, when there is one.
    pub dataset: Option<String>,
    /// The job, when there is one.
    pub job: Option<String>,
    /// The model's SHA-256, when there is one.
    pub model: Option<String>,
    /// `allow`, `suppress`, `deny` (or `ok` / `rejected` for reloads).
    pub decision: String,
    /// The rules that decided.
    pub rules: Vec<String>,
    /// The explanation given.
    pub message: String,
}

/// The log's head, signed: the sequence number and hash of its last entry
/// at `time`, signed (EIP-191) by the vault's signing key. Anyone who keeps
/// an anchor (a researcher from `GET /v1/audit/head`, the settlement
/// contract's `AuditAnchored` event) can later check with [`check_anchor`]
/// that the log still holds that entry unchanged: a rewritten history
/// breaks the chain from the anchored entry on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// Entries in the log.
    pub seq: u64,
    /// SHA-256 (hex) of the last entry's line (zeros for an empty log).
    pub head: String,
    /// Unix seconds when it was signed.
    pub time: u64,
    /// The vault signing key's address.
    pub signer: String,
    /// EIP-191 signature of [`Anchor::message`], hex.
    pub signature: String,
}

impl Anchor {
    /// The signed text.
    pub fn message(seq: u64, head: &str, time: u64) -> String {
        format!("zkgate audit log head\nentries: {seq}\nhead: {head}\ntime: {time}")
    }
}

/// Checks that `anchor` is signed by `signer` (when given) and that the
/// log at `path` still holds its entry: the log's chain verifies, has at
/// least `anchor.seq` entries, and entry `anchor.seq` hashes to the head.
pub fn check_anchor(path: &Path, anchor: &Anchor, signer: Option<&str>) -> Result<()> {
    let message = Anchor::message(anchor.seq, &anchor.head, anchor.time);
    let who = zkgate_chain::identity::recover_signer(&message, &anchor.signature)
        .map_err(|e| Error::Store(format!("the anchor's signature: {e}")))?;
    let claimed = anchor.signer.to_lowercase();
    if format!("{who:#x}") != claimed {
        return Err(Error::Store(format!(
            "the anchor is signed by {who:#x}, not by the signer it names ({})",
            anchor.signer
        )));
    }
    if let Some(s) = signer {
        if s.to_lowercase() != claimed {
            return Err(Error::Store(format!(
                "the anchor is signed by {claimed}, not by the vault's key {s}"
            )));
        }
    }
    verify(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let hash = match anchor.seq {
        0 => GENESIS.to_string(),
        n => match text.lines().nth(n as usize - 1) {
            Some(line) => line_hash(line),
            None => {
                return Err(Error::Store(format!(
                    "the log has fewer entries than the {n} anchored"
                )))
            }
        },
    };
    if hash != anchor.head {
        return Err(Error::Store(format!(
            "entry {} is not the one anchored: the log was rewritten",
            anchor.seq
        )));
    }
    Ok(())
}

/// The open log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    state: Mutex<(u64, String)>,
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn line_hash(line: &str) -> String {
    hex::encode(Sha256::digest(line.as_bytes()))
}

impl AuditLog {
    /// Opens (or starts) the log at `path`, checking its chain.
    pub fn open(path: &Path) -> Result<AuditLog> {
        let (seq, prev) = if path.exists() {
            let entries = verify(path)?;
            (entries.0, entries.1)
        } else {
            (0, GENESIS.to_string())
        };
        Ok(AuditLog {
            path: path.to_path_buf(),
            state: Mutex::new((seq, prev)),
        })
    }

    /// The current head, signed by `signer`.
    pub fn anchor(&self, signer: &zkgate_chain::Wallet) -> Anchor {
        let (seq, head) = self.state.lock().expect("audit lock").clone();
        let time = crate::store::now();
        Anchor {
            seq,
            signature: signer.sign_message(&Anchor::message(seq, &head, time)),
            head,
            time,
            signer: format!("{:#x}", signer.address()),
        }
    }

    /// Appends and syncs an entry.
    pub fn append(&self, r: Record) -> Result<Entry> {
        let mut state = self.state.lock().expect("audit lock");
        let entry = Entry {
            seq: state.0 + 1,
            time: crate::store::now(),
            record: r,
            prev: state.1.clone(),
        };
        let line = serde_json::to_string(&entry).expect("entries serialize");
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts
            .open(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        f.write_all(format!("{line}\n").as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(|e| Error::io(&self.path, e))?;
        *state = (entry.seq, line_hash(&line));
        Ok(entry)
    }
}

/// Reads every entry of the log at `path`.
pub fn read(path: &Path) -> Result<Vec<Entry>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        out.push(
            serde_json::from_str(&line)
                .map_err(|e| Error::Store(format!("{}: line {}: {e}", path.display(), i + 1)))?,
        );
    }
    Ok(out)
}

/// Checks the log's chain; returns the last sequence number and the hash
/// the next entry must carry.
pub fn verify(path: &Path) -> Result<(u64, String)> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let (mut seq, mut prev) = (0u64, GENESIS.to_string());
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        let broken = |why: String| {
            Error::Store(format!(
                "{}: audit log's hash links broken at line {}: {why}",
                path.display(),
                i + 1
            ))
        };
        let e: Entry = serde_json::from_str(&line).map_err(|e| broken(e.to_string()))?;
        if e.seq != seq + 1 {
            return Err(broken(format!("sequence {} after {seq}", e.seq)));
        }
        if e.prev != prev {
            return Err(broken("it does not follow the previous entry".into()));
        }
        seq = e.seq;
        prev = line_hash(&line);
    }
    Ok((seq, prev))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(who: &str) -> Record {
        Record {
            who: who.into(),
            action: "submit".into(),
            decision: "deny".into(),
            rules: vec!["min-rows".into()],
            message: "denied by rule `min-rows`".into(),
            ..Record::default()
        }
    }

    #[test]
    fn chain_survives_reopen_and_catches_edits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&path).unwrap();
        log.append(record("alice")).unwrap();
        log.append(record("bob")).unwrap();
        drop(log);
        let log = AuditLog::open(&path).unwrap();
        assert_eq!(log.append(record("carol")).unwrap().seq, 3);
        assert_eq!(verify(&path).unwrap().0, 3);
        let who: Vec<String> = read(&path)
            .unwrap()
            .into_iter()
            .map(|e| e.record.who)
            .collect();
        assert_eq!(who, ["alice", "bob", "carol"]);

        // Editing an entry (bob -> mallory) breaks the next link.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"bob\"", "\"mallory\"")).unwrap();
        let err = verify(&path).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(AuditLog::open(&path).is_err());

        // Dropping an entry breaks the sequence.
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        assert!(verify(&path).unwrap_err().to_string().contains("line 2"));
    }

    #[test]
    fn an_anchored_head_outlives_no_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&path).unwrap();
        let record = |who: &str| Record {
            who: who.into(),
            action: "submit".into(),
            decision: "allow".into(),
            ..Record::default()
        };
        let key = zkgate_chain::Wallet::from_hex(&"11".repeat(32)).unwrap();
        let signer = format!("{:#x}", key.address());
        let empty = log.anchor(&key);
        assert_eq!((empty.seq, empty.head.as_str()), (0, GENESIS));
        for who in ["alice", "bob"] {
            log.append(record(who)).unwrap();
        }
        let anchor = log.anchor(&key);
        assert_eq!(anchor.seq, 2);
        check_anchor(&path, &anchor, Some(&signer)).unwrap();
        // Later entries keep it valid.
        log.append(record("carol")).unwrap();
        check_anchor(&path, &anchor, Some(&signer)).unwrap();
        check_anchor(&path, &empty, Some(&signer)).unwrap();
        // Another signer, a forged head or time, are refused.
        let other = zkgate_chain::Wallet::from_hex(&"22".repeat(32)).unwrap();
        let err = check_anchor(&path, &anchor, Some(&format!("{:#x}", other.address())));
        assert!(err.is_err());
        let mut forged = anchor.clone();
        forged.time += 1;
        assert!(check_anchor(&path, &forged, None).is_err());
        // The whole log rewritten from entry 2 on (a consistent chain, so
        // verify alone passes) no longer holds the anchored entry.
        std::fs::remove_file(&path).unwrap();
        let log = AuditLog::open(&path).unwrap();
        for who in ["alice", "mallory", "carol"] {
            log.append(record(who)).unwrap();
        }
        verify(&path).unwrap();
        let err = check_anchor(&path, &anchor, Some(&signer))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rewritten"), "{err}");
        // Or cut short.
        std::fs::remove_file(&path).unwrap();
        let log = AuditLog::open(&path).unwrap();
        log.append(record("alice")).unwrap();
        let err = check_anchor(&path, &anchor, Some(&signer))
            .unwrap_err()
            .to_string();
        assert!(err.contains("fewer entries"), "{err}");
    }
}
