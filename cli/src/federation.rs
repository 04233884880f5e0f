//! `zkgate submit --federation FILE`: one question asked of several
//! owners' gateways, each proving its own part under its own policy; the
//! parts' receipts pooled into one federated receipt that `zkgate verify
//! --federated` checks.

use crate::researcher::ok;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zkgate_client::api::{JobState, Manifest};
use zkgate_client::Client;
use zkgate_statement::federation::{
    pool, Federated, Federation, Outcome, Part, PartName, FEDERATION_VERSION,
};

/// A part of the federation file: where, which dataset, and how to reach
/// it (its CA certificate, relative to the file; its token, or the
/// environment variable holding it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePart {
    gateway: String,
    dataset: String,
    #[serde(default)]
    ca_cert: Option<PathBuf>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    token_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    parts: Vec<FilePart>,
    #[serde(default)]
    all_or_nothing: bool,
}

/// A federation file read: the federation, its parts as written, and the
/// folder its paths are relative to.
fn parse(path: &Path) -> Result<(Federation, File, PathBuf)> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let file: File =
        serde_json::from_slice(&text).with_context(|| format!("reading {}", path.display()))?;
    if file.parts.is_empty() {
        bail!("{}: a federation names at least one part", path.display());
    }
    let mut names: Vec<PartName> = Vec::new();
    for p in &file.parts {
        let name = PartName {
            gateway: p.gateway.clone(),
            dataset: p.dataset.clone(),
        };
        if names.contains(&name) {
            bail!("{}: part {name} is named twice", path.display());
        }
        names.push(name);
    }
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let federation = Federation {
        parts: names,
        all_or_nothing: file.all_or_nothing,
    };
    Ok((federation, file, base))
}

/// The federation a federation file names (for `verify --federation`:
/// no token is read).
pub(crate) fn federation_of(path: &Path) -> Result<Federation> {
    Ok(parse(path)?.0)
}

/// The federation a federation file asks for, and a client per part.
fn read(path: &Path) -> Result<(Federation, Vec<Client>)> {
    let (federation, file, base) = parse(path)?;
    let mut clients = Vec::new();
    for (p, name) in file.parts.iter().zip(&federation.parts) {
        let token = match (&p.token, &p.token_env) {
            (Some(t), None) => t.clone(),
            (None, Some(v)) => std::env::var(v)
                .with_context(|| format!("part {name}: the token variable ${v} is not set"))?,
            _ => bail!("part {name}: give its `token` or its `token_env`, one of them"),
        };
        let ca = p
            .ca_cert
            .as_ref()
            .map(|c| {
                let c = base.join(c);
                std::fs::read(&c).with_context(|| format!("reading {}", c.display()))
            })
            .transpose()?;
        clients.push(Client::new(&p.gateway, &token, ca.as_deref())?);
    }
    Ok((federation, clients))
}

enum Sent {
    Job {
        id: String,
        question: Box<zkgate_statement::Question>,
        at: Instant,
    },
    Refused {
        code: String,
        message: String,
    },
}

/// Asks `manifest` (its dataset set per part) with the ONNX `model` of
/// every part of the federation at `path`; writes the federated receipt to
/// `out`. True when there is a pooled answer.
pub(crate) fn submit(
    path: &Path,
    manifest: &Manifest,
    model: &[u8],
    allow_suppression: u64,
    out: &Path,
) -> Result<bool> {
    let (federation, clients) = read(path)?;
    let rt = tokio::runtime::Runtime::new()?;
    let t0 = Instant::now();
    let mut sent = Vec::new();
    for (name, client) in federation.parts.iter().zip(&clients) {
        let mut m = manifest.clone();
        m.dataset = name.dataset.clone();
        // The question is compiled against each owner's published dataset
        // (its own commitment, rows and schema); every part shares the
        // model, columns, aggregate, quantization and epsilon.
        let meta = rt
            .block_on(async { ok(client.datasets().await) })
            .with_context(|| format!("part {name}"))?
            .into_iter()
            .find(|d| d.name == name.dataset)
            .ok_or_else(|| anyhow::anyhow!("part {name}: the gateway publishes no such dataset"))?;
        let q = zkgate_gateway::question::ask(
            &meta,
            &m,
            model,
            allow_suppression,
            None,
            rand::random(),
        )
        .with_context(|| format!("part {name}: compiling the question"))?;
        m.columns = Some(q.columns.clone());
        m.question = Some(q.clone());
        let at = Instant::now();
        sent.push(match rt.block_on(client.submit(&m, model.to_vec()))? {
            Ok(job) => {
                eprintln!("part {name}: job {} {}", job.id, job.state.name());
                Sent::Job {
                    id: job.id,
                    question: Box::new(q),
                    at,
                }
            }
            Err(e) => {
                eprintln!("part {name}: refused: {e}");
                Sent::Refused {
                    code: e.code,
                    message: e.message,
                }
            }
        });
    }
    let mut parts = Vec::new();
    for ((name, client), s) in federation.parts.iter().zip(&clients).zip(sent) {
        let outcome = match s {
            Sent::Refused { code, message } => Outcome::Refused { code, message },
            Sent::Job { id, question, at } => rt.block_on(async {
                let job = loop {
                    let j = ok(client.job(&id).await)?;
                    if j.state.is_terminal() {
                        break j;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                };
                if job.state != JobState::Done {
                    let (code, message) = job
                        .error
                        .map(|e| (e.code, e.message))
                        .unwrap_or_else(|| (job.state.name().into(), String::new()));
                    eprintln!("part {name}: {} ({code}): {message}", job.state.name());
                    return anyhow::Ok(Outcome::Refused { code, message });
                }
                let receipt = ok(client.receipt(&id).await)?;
                let vk = ok(client.vk(&id).await)?;
                let seconds = at.elapsed().as_secs_f64();
                eprintln!("part {name}: done in {seconds:.1} s");
                Ok(Outcome::Answered {
                    question,
                    receipt: Box::new(zkgate_statement::Receipt::from_json(&receipt)?),
                    vk: hex::encode(vk),
                    seconds,
                })
            })?,
        };
        parts.push(Part {
            name: name.clone(),
            outcome,
        });
    }
    let answered: Vec<_> = parts
        .iter()
        .filter_map(|p| match &p.outcome {
            Outcome::Answered { receipt, .. } => Some((&p.name, receipt.as_ref())),
            Outcome::Refused { .. } => None,
        })
        .collect();
    let refused = answered.len() < parts.len();
    let t_pool = Instant::now();
    let pooled = if answered.is_empty() || (federation.all_or_nothing && refused) {
        None
    } else {
        Some(pool(&answered).map_err(anyhow::Error::msg)?)
    };
    let pool_s = t_pool.elapsed().as_secs_f64();
    let f = Federated {
        version: FEDERATION_VERSION,
        federation,
        parts,
        pooled,
    };
    std::fs::write(out, serde_json::to_string_pretty(&f)?)
        .with_context(|| format!("writing {}", out.display()))?;
    // The researcher's own check of what was written.
    let checked = zkgate_verifier::federation::verify_federated(
        &std::fs::read_to_string(out)?,
        None,
        |_, _| None,
    )?;
    println!("{}", checked.report(false));
    println!(
        "wrote {} in {:.1} s (pooling {:.3} ms)",
        out.display(),
        t0.elapsed().as_secs_f64(),
        pool_s * 1e3
    );
    if let Some(why) = &checked.invalid {
        bail!("the federated receipt does not verify: {why}");
    }
    Ok(f.pooled.is_some())
}
