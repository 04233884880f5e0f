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
    /// The dataset's id in the shared settlement contract's registry
    /// (with the file's `chain`).
    #[serde(default)]
    chain_dataset: Option<u64>,
}

/// The one chain every part settles on: a JSON-RPC node, the settlement
/// contract, the researcher's key (a key file, or a development account
/// of a local chain), the escrow per part and the jobs' deadline.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileChain {
    rpc: String,
    contract: zkgate_chain::alloy_primitives::Address,
    #[serde(default)]
    ca_cert: Option<PathBuf>,
    #[serde(default)]
    key_file: Option<PathBuf>,
    #[serde(default)]
    dev_account: Option<usize>,
    #[serde(default)]
    value_wei: u128,
    #[serde(default = "a_day")]
    deadline_secs: u64,
}

fn a_day() -> u64 {
    86_400
}

impl FileChain {
    fn endpoint(&self, base: &Path) -> zkgate_chain::config::Endpoint {
        zkgate_chain::config::Endpoint {
            rpc: Some(self.rpc.clone()),
            contract: Some(self.contract),
            ca_file: self.ca_cert.as_ref().map(|c| base.join(c)),
            key_file: self.key_file.as_ref().map(|k| base.join(k)),
            dev_account: self.dev_account,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    parts: Vec<FilePart>,
    #[serde(default)]
    all_or_nothing: bool,
    #[serde(default)]
    chain: Option<FileChain>,
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
            chain_dataset: p.chain_dataset,
        };
        if file.chain.is_some() != p.chain_dataset.is_some() {
            bail!(
                "{}: part {name}: with a `chain`, every part names its `chain_dataset`, and only then",
                path.display()
            );
        }
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

/// The chain the parts settle on: the contract, and the researcher who
/// opens their jobs.
struct OnChain {
    settlement: zkgate_chain::Settlement,
    researcher: zkgate_chain::Wallet,
    value_wei: u128,
    deadline_secs: u64,
}

/// The federation a federation file asks for, a client per part, and the
/// chain they settle on.
fn read(path: &Path) -> Result<(Federation, Vec<Client>, Option<OnChain>)> {
    let (federation, file, base) = parse(path)?;
    let on_chain = match &file.chain {
        None => None,
        Some(c) => {
            let endpoint = c.endpoint(&base);
            let settlement = endpoint
                .settlement_over(&base, None)?
                .ok_or_else(|| anyhow::anyhow!("the chain names no contract"))?;
            Some(OnChain {
                settlement,
                researcher: endpoint.wallet(1, None)?,
                value_wei: c.value_wei,
                deadline_secs: c.deadline_secs,
            })
        }
    };
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
    Ok((federation, clients, on_chain))
}

enum Sent {
    Job {
        id: String,
        question: Box<zkgate_statement::Question>,
        at: Instant,
        chain_job: Option<u64>,
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
    let (federation, clients, on_chain) = read(path)?;
    let rt = tokio::runtime::Runtime::new()?;
    let t0 = Instant::now();
    let chain_id = match &on_chain {
        Some(c) => Some(rt.block_on(c.settlement.chain().chain_id())?),
        None => None,
    };
    let mut sent = Vec::new();
    for (name, client) in federation.parts.iter().zip(&clients) {
        let mut m = manifest.clone();
        m.dataset = name.dataset.clone();
        // The question is compiled against each owner's published dataset
        // (its own commitment, rows and schema); every part shares the
        // model, columns, aggregate, quantization and epsilon.
        let meta = rt
            .block_on(async { ok(client.dataset(&name.dataset).await) })
            .with_context(|| format!("part {name}"))?
            .ok_or_else(|| anyhow::anyhow!("part {name}: the gateway publishes no such dataset"))?;
        let pin = match (&on_chain, chain_id, name.chain_dataset) {
            (Some(c), Some(chain_id), Some(dataset_id)) => {
                Some(zkgate_statement::question::ChainPin {
                    chain_id,
                    contract: c.settlement.address().to_string(),
                    dataset_id,
                    researcher: c.researcher.address().to_string(),
                })
            }
            _ => None,
        };
        let q =
            zkgate_gateway::question::ask(&meta, &m, model, allow_suppression, pin, rand::random())
                .with_context(|| format!("part {name}: compiling the question"))?;
        m.columns = Some(q.columns.clone());
        m.question = Some(q.clone());
        if let (Some(c), Some(dataset_id)) = (&on_chain, name.chain_dataset) {
            // The part's own on-chain job, opened for its question with its
            // owner's escrow; the gateway accepts it only from the address
            // registered for us there.
            let id = rt
                .block_on(async {
                    ok(client.register_address(&c.researcher).await)?;
                    let deadline = c.settlement.chain().now().await? + c.deadline_secs;
                    let o = zkgate_chain::settlement::OpenJob::for_question(
                        &q,
                        dataset_id,
                        deadline,
                        zkgate_chain::alloy_primitives::U256::from(c.value_wei),
                    )?;
                    anyhow::Ok(c.settlement.open_job(&c.researcher, &o).await?.0)
                })
                .with_context(|| format!("part {name}: opening its on-chain job"))?;
            eprintln!(
                "part {name}: on-chain job {id} opened with {} wei in escrow",
                c.value_wei
            );
            m.chain_job = Some(id);
        }
        let at = Instant::now();
        sent.push(match rt.block_on(client.submit(&m, model.to_vec()))? {
            Ok(job) => {
                eprintln!("part {name}: job {} {}", job.id, job.state.name());
                Sent::Job {
                    id: job.id,
                    question: Box::new(q),
                    at,
                    chain_job: m.chain_job,
                }
            }
            Err(e) => {
                if let Some(id) = m.chain_job {
                    eprintln!("part {name}: on-chain job {id} stays open: `zkgate chain refund` returns its escrow after the deadline");
                }
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
            Sent::Job {
                id,
                question,
                at,
                chain_job,
            } => rt.block_on(async {
                let job = loop {
                    let j = ok(client.job(&id).await)?;
                    // A settlement the chain refused leaves the job proved,
                    // with the reason, for the owner to look at.
                    let refused = j.state == JobState::Proved
                        && j.settlement.as_ref().and_then(|s| s.error()).is_some();
                    if j.state.is_terminal() || refused {
                        break j;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                };
                if job.state != JobState::Done {
                    let settlement = job
                        .settlement
                        .as_ref()
                        .and_then(|s| s.error())
                        .map(|e| ("settlement_refused".to_string(), e.to_string()));
                    let (code, message) = job
                        .error
                        .map(|e| (e.code, e.message))
                        .or(settlement)
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
                    chain_job,
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
