//! The data owner's operations on a gateway, the same whether the gateway
//! is serving (the owner API under `/v1/owner`, behind the owner's token)
//! or stopped (the CLI opens the data dir): datasets, researchers, the
//! approval queue, the audit log. Every change is audited as the owner's.

pub(crate) mod api;
pub mod setup;

use crate::audit::{Entry, Record};
use crate::error::{Error, Result};
use crate::store::{now, DatasetMeta, Job, JobState, Researcher, Review};
use crate::Gateway;
use serde::{Deserialize, Serialize};
use zkgate_chain::alloy_primitives::Address;
use zkgate_statement::Schema;

fn audit(gw: &Gateway, action: &str, r: Record) -> Result<()> {
    gw.audit().append(Record {
        who: "owner".into(),
        action: action.into(),
        decision: if r.decision.is_empty() {
            "ok".into()
        } else {
            r.decision
        },
        ..r
    })?;
    Ok(())
}

/// Imports a CSV (held in memory: no plaintext is written) against its
/// declared schema.
pub fn import_dataset(
    gw: &Gateway,
    name: &str,
    schema: &Schema,
    csv: &[u8],
    price: u64,
) -> Result<DatasetMeta> {
    let meta = setup::import_reader(&gw.paths, &gw.store, gw.vault(), csv, name, schema, price)?;
    crate::ezkl::publish_hashes(gw)?;
    let meta = gw.store.dataset(&meta.name)?.unwrap_or(meta);
    audit(
        gw,
        "dataset_import",
        Record {
            dataset: Some(meta.name.clone()),
            message: format!(
                "{} rows x {} columns, commitment {}",
                meta.rows,
                meta.schema.columns.len(),
                meta.commitment
            ),
            ..Record::default()
        },
    )?;
    Ok(meta)
}

/// Removes a dataset, unless a job that is not finished reads it.
pub fn remove_dataset(gw: &Gateway, name: &str) -> Result<()> {
    if let Some(j) = gw
        .store
        .jobs()?
        .into_iter()
        .find(|j| j.manifest.dataset == name && !j.state.is_terminal())
    {
        return Err(Error::Conflict(format!(
            "job {} on `{name}` is {}: cancel or finish it first",
            j.id,
            j.state.name()
        )));
    }
    setup::remove_dataset(&gw.paths, &gw.store, name)?;
    audit(
        gw,
        "dataset_remove",
        Record {
            dataset: Some(name.into()),
            ..Record::default()
        },
    )
}

/// Adds a researcher; returns their token (shown once).
pub fn add_researcher(
    gw: &Gateway,
    name: &str,
    organisation: &str,
    trust: u8,
    address: Option<Address>,
) -> Result<String> {
    let token = setup::add_researcher(&gw.store, name, organisation, trust, address)?;
    audit(
        gw,
        "researcher_add",
        Record {
            message: format!("researcher `{name}` (organisation `{organisation}`, trust {trust})"),
            ..Record::default()
        },
    )?;
    Ok(token)
}

/// Revokes a researcher: their token stops working on their next request,
/// and their jobs that have not started (queued or held) are cancelled.
/// Returns those jobs.
pub fn revoke_researcher(gw: &Gateway, name: &str) -> Result<Vec<String>> {
    if !gw.store.remove_researcher(name)? {
        return Err(Error::NotFound(format!("researcher `{name}`")));
    }
    let mut cancelled = vec![];
    for j in gw.store.jobs()? {
        if j.researcher == name && matches!(j.state, JobState::Queued | JobState::Held) {
            gw.store.update_job(&j.id, |j| {
                if matches!(j.state, JobState::Queued | JobState::Held) {
                    j.state = JobState::Cancelled;
                }
            })?;
            cancelled.push(j.id);
        }
    }
    audit(
        gw,
        "researcher_revoke",
        Record {
            message: format!(
                "researcher `{name}` revoked; {} jobs not started cancelled",
                cancelled.len()
            ),
            ..Record::default()
        },
    )?;
    Ok(cancelled)
}

/// Registers a proving prover by its age recipient and its nkey (`zkgate
/// prover --init` prints both); returns its token (shown once), which it
/// fetches proving keys with.
pub fn add_prover(gw: &Gateway, name: &str, recipient: &str, nkey: &str) -> Result<String> {
    crate::owner::setup::check_name(name, "prover")?;
    recipient
        .parse::<age::x25519::Recipient>()
        .map_err(|e| Error::BadRequest(format!("`{recipient}` is not an age recipient: {e}")))?;
    crate::cluster::check_public_key(nkey)?;
    if gw.store.provers()?.iter().any(|w| w.nkey == nkey) {
        return Err(Error::Conflict(format!("nkey {nkey} is another prover's")));
    }
    if gw.store.provers()?.iter().any(|w| w.name == name) {
        return Err(Error::Conflict(format!("prover `{name}` already exists")));
    }
    let token = format!("zkgw_{}", hex::encode(rand::random::<[u8; 24]>()));
    gw.store.add_prover(
        &crate::owner::setup::token_hash(&token),
        &crate::store::ProverRecord {
            name: name.into(),
            recipient: recipient.into(),
            nkey: nkey.into(),
            created: now(),
        },
    )?;
    audit(
        gw,
        "prover_add",
        Record {
            message: format!("prover `{name}` ({recipient}, {nkey})"),
            ..Record::default()
        },
    )?;
    Ok(token)
}

/// Removes a prover: tasks are no longer encrypted to it, and its token
/// fetches no key.
pub fn remove_prover(gw: &Gateway, name: &str) -> Result<()> {
    if !gw.store.remove_prover(name)? {
        return Err(Error::NotFound(format!("prover `{name}`")));
    }
    audit(
        gw,
        "prover_remove",
        Record {
            message: format!("prover `{name}`"),
            ..Record::default()
        },
    )
}

/// The researchers, by name.
pub fn researchers(gw: &Gateway) -> Result<Vec<Researcher>> {
    let mut all = gw.store.researchers()?;
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}

/// The owner's decision on a held job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It runs (its holding rules admit it from now on).
    Approve,
    /// It fails, and a privacy budget it spent is given back.
    Deny,
}

/// Approves or denies a held job, with a note the researcher sees.
pub fn review(gw: &Gateway, id: &str, verdict: Verdict, note: &str) -> Result<Job> {
    if note.len() > 1_000 {
        return Err(Error::BadRequest(
            "a review note is at most 1000 bytes".into(),
        ));
    }
    let job = gw
        .store
        .job(id)?
        .ok_or_else(|| Error::NotFound(format!("job `{id}`")))?;
    if job.state != JobState::Held {
        return Err(Error::Conflict(format!(
            "job `{id}` is {}, not held",
            job.state.name()
        )));
    }
    let decision = match verdict {
        Verdict::Approve => "approved",
        Verdict::Deny => "denied",
    };
    let rules = job
        .hold
        .as_ref()
        .map(|h| h.rules.clone())
        .unwrap_or_default();
    let updated = gw.store.update_job(id, |j| {
        if j.state != JobState::Held {
            return;
        }
        j.review = Some(Review {
            decision: decision.into(),
            note: note.into(),
            at: now(),
        });
        match verdict {
            Verdict::Approve => j.state = JobState::Queued,
            Verdict::Deny => {
                j.state = JobState::Failed;
                let why = if note.is_empty() {
                    String::new()
                } else {
                    format!(": {note}")
                };
                j.error = Some(
                    Error::Denied {
                        message: format!("denied by the data owner after review{why}"),
                        rules: rules.clone(),
                    }
                    .detail(),
                );
            }
        }
    })?;
    if updated.review.as_ref().map(|r| r.decision.as_str()) != Some(decision) {
        return Err(Error::Conflict(format!(
            "job `{id}` changed while it was reviewed"
        )));
    }
    let mut message = note.to_string();
    if verdict == Verdict::Deny {
        // It never ran: nothing was released with the budget it spent.
        if let Some(e) = job.manifest.epsilon {
            let holder = job.manifest.budget_holder(&job.researcher);
            let spent = gw.store.refund(holder, &job.manifest.dataset, e)?;
            message = format!("{message} (epsilon {e} given back; {spent:.4} spent)");
        }
    }
    audit(
        gw,
        match verdict {
            Verdict::Approve => "approve",
            Verdict::Deny => "deny",
        },
        Record {
            dataset: Some(job.manifest.dataset.clone()),
            job: Some(id.into()),
            model: Some(job.model_sha256.clone()),
            decision: decision.into(),
            rules,
            message: message.trim().to_string(),
            ..Record::default()
        },
    )?;
    if verdict == Verdict::Approve {
        crate::runner::wake(gw);
    }
    Ok(updated)
}

/// Every job, newest first.
pub fn jobs(gw: &Gateway) -> Result<Vec<Job>> {
    let mut all = gw.store.jobs()?;
    all.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
    Ok(all)
}

/// The audit log's hash links (each entry carries the hash of the one
/// before), checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Links {
    /// Whether every entry follows the one before.
    pub ok: bool,
    /// Entries checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The hash the next entry carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// Where and why it breaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A page of the audit log with its links checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    /// The entries asked for, oldest first.
    pub entries: Vec<Entry>,
    /// Entries in the log.
    pub total: u64,
    /// The whole log's links, checked now.
    pub links: Links,
    /// The same, under the name an earlier release gave it (deprecated).
    pub chain: Links,
}

/// The last `limit` entries of the audit log (from entry `from` when
/// given), and the log's links checked.
pub fn audit_page(gw: &Gateway, from: Option<u64>, limit: usize) -> Result<AuditPage> {
    let path = gw.paths.audit();
    let links = match crate::audit::verify(&path) {
        Ok((seq, head)) => Links {
            ok: true,
            seq: Some(seq),
            head: Some(head),
            error: None,
        },
        Err(e) => Links {
            ok: false,
            seq: None,
            head: None,
            error: Some(e.to_string()),
        },
    };
    let all = crate::audit::read(&path)?;
    let total = all.len() as u64;
    let entries: Vec<Entry> = match from {
        Some(from) => all
            .into_iter()
            .filter(|e| e.seq >= from)
            .take(limit)
            .collect(),
        None => {
            let skip = all.len().saturating_sub(limit);
            all.into_iter().skip(skip).collect()
        }
    };
    Ok(AuditPage {
        entries,
        total,
        chain: links.clone(),
        links,
    })
}

/// What `add_researcher` takes over the API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewResearcher {
    pub name: String,
    #[serde(default)]
    pub organisation: String,
    #[serde(default)]
    pub trust: u8,
    #[serde(default)]
    pub address: Option<Address>,
}

/// A review's body over the API.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Note {
    #[serde(default)]
    pub note: String,
}
