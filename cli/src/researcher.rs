//! The researcher's commands, against a running gateway over HTTPS:
//! `submit`, `status`, `receipt`.

use crate::{spinner, AggregateArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use zkgate_client::{Answer, Client};
use zkgate_gateway::store::{JobState, Manifest};

/// How to reach a gateway.
#[derive(Args, Clone)]
pub(crate) struct Remote {
    /// Gateway URL, e.g. https://127.0.0.1:8443.
    #[arg(long)]
    gateway: String,
    /// The gateway's CA certificate (PEM); without it, the platform's
    /// trusted roots.
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// Bearer token (or $ZKGATE_TOKEN).
    #[arg(long, env = "ZKGATE_TOKEN", hide_env_values = true)]
    token: String,
}

impl Remote {
    pub(crate) fn client(&self) -> Result<Client> {
        let ca = self
            .ca_cert
            .as_ref()
            .map(std::fs::read)
            .transpose()
            .context("reading the CA certificate")?;
        Ok(Client::new(&self.gateway, &self.token, ca.as_deref())?)
    }
}

/// A record field as the gateway's JSON has it.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

pub(crate) fn ok<T>(a: Answer<T>) -> Result<T> {
    match a? {
        Ok(v) => Ok(v),
        Err(e) => bail!("gateway: {e}"),
    }
}

/// `zkgate submit`.
#[derive(Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    remote: Remote,
    /// Dataset name.
    #[arg(long)]
    dataset: String,
    /// ONNX model.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    aggregate: AggregateArgs,
    /// Columns feeding the model, comma-separated.
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Idempotency key (resubmitting returns the same job).
    #[arg(long)]
    idempotency_key: Option<String>,
    /// The on-chain job (`zkgate chain open-job`) the gateway settles once
    /// the proof is made.
    #[arg(long)]
    chain_job: Option<u64>,
    /// A ceremony key for the job's circuit (a `.zkey` from `zkgate
    /// ceremony` or snarkjs, its transcript inside), over the gateway's
    /// powers-of-tau file (`GET /v1/ceremony`). The gateway checks it and
    /// proves with it.
    #[arg(long)]
    ceremony_key: Option<PathBuf>,
    /// Do not wait for the receipt.
    #[arg(long)]
    no_wait: bool,
    /// Where to save the receipt.
    #[arg(long, default_value = "receipt.json")]
    out: PathBuf,
    /// Where to save the verifying key.
    #[arg(long, default_value = "vk.bin")]
    vk_out: PathBuf,
}

pub fn submit(a: SubmitArgs) -> Result<()> {
    let client = a.remote.client()?;
    let model =
        std::fs::read(&a.model).with_context(|| format!("reading {}", a.model.display()))?;
    let manifest = Manifest {
        dataset: a.dataset.clone(),
        columns: a.columns.clone(),
        aggregate: a.aggregate.build()?,
        idempotency_key: a.idempotency_key.clone(),
        quant: Default::default(),
        chain_job: a.chain_job,
        epsilon: a.aggregate.epsilon,
        // Off chain, the proofs (and any noise) are bound to a nonce of
        // ours, not to an id the gateway picks.
        nonce: a
            .chain_job
            .is_none()
            .then(|| hex::encode(rand::random::<[u8; 32]>())),
    };
    let ceremony = match &a.ceremony_key {
        Some(k) => Some(std::fs::read(k).with_context(|| format!("reading {}", k.display()))?),
        None => None,
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let t0 = Instant::now();
        let job = ok(client.submit_with_key(&manifest, model, ceremony).await)?;
        println!("job {} {}", job.id, job.state.name());
        if a.no_wait {
            return Ok(());
        }
        let pb = spinner(false);
        let job = loop {
            let j = ok(client.job(&job.id).await)?;
            pb.set_message(j.state.name().to_string());
            if j.state.is_terminal() {
                break j;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        pb.finish_and_clear();
        match job.state {
            JobState::Done => {
                let r = ok(client.receipt(&job.id).await)?;
                let vk = ok(client.vk(&job.id).await)?;
                std::fs::write(&a.out, &r)?;
                std::fs::write(&a.vk_out, &vk)?;
                // The receipt must verify and be this model's circuit over
                // the dataset's published schema, for this request.
                check_receipt(&r, &vk, &a.model, &manifest)?;
                if manifest.nonce.is_some() {
                    let want = zkgate_statement::field::fr_to_hex(manifest.proof_nonce(&job.id));
                    let got = zkgate_statement::Receipt::from_json(&r)?.nonce;
                    if got != want {
                        bail!("the gateway's receipt is bound to another nonce than ours");
                    }
                }
                println!(
                    "done in {:.1} s; wrote {} and {}",
                    t0.elapsed().as_secs_f64(),
                    a.out.display(),
                    a.vk_out.display()
                );
                if let Some(s) = &job.settlement {
                    if let Some(e) = s.error() {
                        bail!("proved, but the chain refused the settlement: {}", json(&e));
                    }
                    if let Some(s) = s.settled() {
                        println!(
                            "settled on chain: job {} in transaction {} (block {}, {} gas), values {}",
                            s.job,
                            s.tx,
                            s.block,
                            json(&s.gas_used),
                            json(&s.values)
                        );
                    }
                }
                Ok(())
            }
            s => bail!(
                "job {} {}: {}",
                job.id,
                s.name(),
                job.error.map(|e| json(&e)).unwrap_or_default()
            ),
        }
    })
}

/// `zkgate status` / `zkgate receipt`.
#[derive(Args)]
pub struct JobArgs {
    #[command(flatten)]
    remote: Remote,
    /// Job id (all my jobs when omitted, for status).
    job: Option<String>,
    /// Where to save the receipt (receipt command).
    #[arg(long, default_value = "receipt.json")]
    out: PathBuf,
    /// Where to save the verifying key (receipt command).
    #[arg(long, default_value = "vk.bin")]
    vk_out: PathBuf,
}

pub fn status(a: JobArgs) -> Result<()> {
    let client = a.remote.client()?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let jobs = match &a.job {
            Some(id) => vec![ok(client.job(id).await)?],
            None => ok(client.jobs().await)?,
        };
        for j in jobs {
            println!("{}", serde_json::to_string(&j)?);
        }
        Ok(())
    })
}

pub fn receipt(a: JobArgs) -> Result<()> {
    let client = a.remote.client()?;
    let id = a.job.clone().context("which job?")?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        std::fs::write(&a.out, ok(client.receipt(&id).await)?)?;
        std::fs::write(&a.vk_out, ok(client.vk(&id).await)?)?;
        println!("wrote {} and {}", a.out.display(), a.vk_out.display());
        Ok(())
    })
}

/// Checks a downloaded receipt: its proofs, then that its circuit is the
/// model's (rebuilt from the ONNX file and the receipt's schema) for the
/// request the researcher sent.
fn check_receipt(receipt: &str, vk: &[u8], model: &std::path::Path, m: &Manifest) -> Result<()> {
    let r = zkgate_statement::Receipt::from_json(receipt)?;
    if let zkgate_statement::Verdict::Invalid(why) = r.verify(vk)? {
        bail!("the gateway's receipt does not verify: {why}");
    }
    let loaded = zkgate_zkml::import::load(model)?;
    if let Err(why) = zkgate_zkml::job::rebuild(&loaded.model, &loaded.onnx_sha256, &r.circuit) {
        bail!("the gateway's receipt is not for the model sent: {why}");
    }
    if r.circuit.aggregate != m.aggregate {
        bail!("the gateway's receipt is for another aggregate");
    }
    Ok(())
}

/// `zkgate register-address`.
#[derive(Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    remote: Remote,
    /// The key file (hex) of the address that opens your on-chain jobs.
    #[arg(long, conflicts_with = "dev_account")]
    chain_key: Option<PathBuf>,
    /// Or a development account of a local chain (0, 1, 2).
    #[arg(long)]
    dev_account: Option<usize>,
}

/// Registers the address that opens the researcher's on-chain jobs: signs
/// the gateway's registration message with its key (nothing is sent to any
/// chain).
pub fn register_address(a: RegisterArgs) -> Result<()> {
    let wallet = match (&a.chain_key, a.dev_account) {
        (Some(f), _) => zkgate_chain::Wallet::from_file(f)?,
        (None, Some(i)) => zkgate_chain::Wallet::dev(i)?,
        (None, None) => bail!("which key? --chain-key FILE, or --dev-account N on a local chain"),
    };
    let client = a.remote.client()?;
    let rt = tokio::runtime::Runtime::new()?;
    let address = rt.block_on(async { ok(client.register_address(&wallet).await) })?;
    println!("registered {address}");
    Ok(())
}
