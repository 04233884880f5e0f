//! The researcher's commands, against a running gateway over HTTPS:
//! `submit`, `status`, `receipt`.

use crate::AggregateArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use zkgate_client::{Answer, Client};
use zkgate_gateway::store::{Job, JobState, Manifest};

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

/// How `submit` reaches a gateway: as [`Remote`], but not needed with
/// `--federation` (each part names its own).
#[derive(Args, Clone)]
pub(crate) struct SubmitRemote {
    /// Gateway URL, e.g. https://127.0.0.1:8443.
    #[arg(long, required_unless_present = "federation")]
    gateway: Option<String>,
    /// The gateway's CA certificate (PEM); without it, the platform's
    /// trusted roots.
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// Bearer token (or $ZKGATE_TOKEN).
    #[arg(long, env = "ZKGATE_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl SubmitRemote {
    fn client(&self) -> Result<Client> {
        let (Some(gateway), Some(token)) = (&self.gateway, &self.token) else {
            bail!("which gateway? --gateway URL and --token (or $ZKGATE_TOKEN)");
        };
        Remote {
            gateway: gateway.clone(),
            ca_cert: self.ca_cert.clone(),
            token: token.clone(),
        }
        .client()
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
    remote: SubmitRemote,
    /// Dataset name.
    #[arg(long, required_unless_present = "federation")]
    dataset: Option<String>,
    /// Ask the same question of several gateways at once: a JSON file
    /// naming each part (`gateway`, `dataset`, its `ca_cert` and its
    /// `token` or `token_env`) and whether the question is
    /// `all_or_nothing`. Each gateway proves its own rows under its own
    /// policy; the parts' receipts are pooled into one federated receipt
    /// at --out, which `zkgate verify --federated` checks.
    #[arg(long, conflicts_with_all = ["chain_dataset", "chain_job", "ceremony_key", "kept_ceremony_key", "dry_run", "dataset", "no_wait", "idempotency_key"])]
    federation: Option<PathBuf>,
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
    /// Settle on chain: write the question for this on-chain dataset id
    /// (of the contract `--contract` or the data dir's `chain.json` names),
    /// open a job for it with `--value-wei` in escrow from the researcher's
    /// key (`--chain-key`, or `--dev-account`, 1 by default on a local
    /// chain), then submit it; the gateway settles it once proved.
    #[arg(long, conflicts_with = "chain_job")]
    chain_dataset: Option<u64>,
    /// With --chain-dataset: escrow, in wei (default: the dataset's price
    /// on chain, `priceOf`: its price plus its price per row times its
    /// rows; anything above it is refunded at settlement).
    #[arg(long)]
    value_wei: Option<u128>,
    /// With --chain-dataset: seconds from now until the job can only be
    /// refunded.
    #[arg(long, default_value_t = 86_400)]
    deadline_secs: u64,
    /// With --chain-dataset: the key bundle proofs must verify under
    /// (default: the data owner names a bundle of the question's circuits
    /// at settlement).
    #[arg(long)]
    verifier: Option<zkgate_chain::alloy_primitives::B256>,
    #[command(flatten)]
    chain: crate::chain::ChainArgs,
    /// Enter this evaluation bounty (`zkgate chain bounty show`): the
    /// question is the bounty's (its dataset, columns and aggregate, which
    /// --aggregate and --label must state) with this model; the entry fee
    /// is paid from the researcher's key, and the gateway settles the
    /// entry into the bounty once proved. Give --epsilon: scores are
    /// published.
    #[arg(long, conflicts_with_all = ["chain_dataset", "chain_job", "federation"])]
    bounty: Option<u64>,
    /// An on-chain job already opened for a question (`zkgate chain
    /// open-job --question`): submit it, with that question (`--question`).
    #[arg(long, requires = "question")]
    chain_job: Option<u64>,
    /// With --chain-job: the question the job was opened for.
    #[arg(long)]
    question: Option<PathBuf>,
    /// A model-family circuit (TERM_LOG2:WEIGHT_LOG2:BIAS_LOG2, as `zkgate
    /// inspect --schema` fits them): the weights are private inputs within
    /// these bounds, so a retrained model keeps the circuit, its ceremony
    /// key and the owner's kept keys; the receipt's circuit id still names
    /// the weights proved.
    #[arg(long, value_parser = crate::parse_family)]
    family: Option<zkgate_statement::quant::Family>,
    /// The ceremony key of the job's shard circuit (a `.zkey` from
    /// `zkgate ceremony` or snarkjs, its transcript inside), over the
    /// gateway's powers-of-tau file (`GET /v1/ceremony`): one circuit
    /// proves every shard (`zkgate ceremony init --shard-rows`). The
    /// gateway checks it and proves every shard with it.
    #[arg(long)]
    ceremony_key: Vec<PathBuf>,
    /// The powers-of-tau file you made the key over: the question pins its
    /// BLAKE2b (without it, the file the gateway names), and a gateway
    /// naming another file is refused before anything is sent.
    #[arg(long)]
    ptau: Option<PathBuf>,
    /// A ceremony key the gateway kept from an earlier job, by its
    /// verifying key's SHA-256 (`zkgate kept-keys` lists them): proved
    /// with at no setup cost, nothing uploaded; repeated, with or instead
    /// of --ceremony-key. The question pins it like a key sent.
    #[arg(long)]
    kept_ceremony_key: Vec<String>,
    /// Do not wait for the receipt.
    #[arg(long)]
    no_wait: bool,
    /// Submit nothing: ask the gateway what it would do (admission, the
    /// circuit's size, estimated time and memory, the policy's decision)
    /// without storing or proving anything. Exit 0 when it would run, 1
    /// when it would be held or refused.
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: print the gateway's answer as JSON.
    #[arg(long, requires = "dry_run")]
    json: bool,
    /// Where to save the receipt.
    #[arg(long, default_value = "receipt.json")]
    out: PathBuf,
    /// Where to save the verifying key.
    #[arg(long, default_value = "vk.bin")]
    vk_out: PathBuf,
    /// Where to save the question (written before anything is sent; check
    /// the receipt against it with `zkgate verify --question`); default:
    /// next to the receipt, `receipt.question.json` for `receipt.json`.
    #[arg(long)]
    question_out: Option<PathBuf>,
    /// The largest small-cell suppression threshold the owner's release
    /// policy may apply to class counts and confusion cells (0: exact
    /// cells or none).
    #[arg(long, default_value_t = 10)]
    allow_suppression: u64,
    /// The proof system the question asks for: `groth16` (default), or
    /// `ezkl` (halo2 with KZG over a universal SRS: no ceremony, no noise,
    /// no suppression, small jobs; the gateway needs `[backends.ezkl]`).
    /// An ezkl receipt is checked with `zkgate verify --question --model
    /// --ezkl-python --ezkl-srs-dir`.
    #[arg(long, default_value = "groth16", value_parser = ["groth16", "ezkl"],
          conflicts_with_all = ["federation", "bounty", "ceremony_key", "kept_ceremony_key"])]
    proof_system: String,
    /// With `--proof-system ezkl --chain-dataset`: your ezkl (and SRS, and
    /// solc-js), to derive the verifier contract the job pins and the
    /// job's binding.
    #[command(flatten)]
    ezkl: crate::ezkl::EzklArgs,
}

/// The researcher's question for `manifest` over the dataset as the
/// gateway publishes it, compiled here from the model file and the
/// published schema (the rows are never needed), with fresh randomness;
/// `ceremony` the keys to pin, with the powers-of-tau file they are
/// checked against.
fn write_question(
    client: &Client,
    manifest: &Manifest,
    model: &[u8],
    allow_suppression: u64,
    (ceremony, ptau_blake2b): (&[Vec<u8>], Option<&str>),
    chain: Option<zkgate_statement::question::ChainPin>,
    ezkl: Option<&crate::ezkl::EzklArgs>,
) -> Result<zkgate_statement::Question> {
    let on_chain = chain.is_some();
    let rt = tokio::runtime::Runtime::new()?;
    let meta = rt
        .block_on(async { ok(client.dataset(&manifest.dataset).await) })?
        .ok_or_else(|| {
            anyhow::anyhow!("the gateway publishes no dataset `{}`", manifest.dataset)
        })?;
    let mut q = zkgate_gateway::question::ask(
        &meta,
        manifest,
        model,
        if ezkl.is_some() { 0 } else { allow_suppression },
        chain,
        rand::random(),
    )
    .context("compiling the question's circuit from the published schema")?;
    if let Some(args) = ezkl {
        let hash = meta.ezkl_hash.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "the gateway publishes no ezkl hash for `{}`: it has no ezkl backend",
                meta.name
            )
        })?;
        q = q.with_ezkl(hash);
        if on_chain {
            args.pin_verifier(&mut q, model)?;
        }
        q.check_self()?;
    }
    // The keys are pinned by their verifying keys; the contribution hash
    // is ours to the first key (each key carries its own in its
    // transcript).
    let pin = zkgate_zkml::question::ceremony_pin(ceremony, ptau_blake2b)?;
    q.ceremony = pin;
    Ok(q)
}

/// The settlement contract `chain` names and the researcher's address
/// that opens the job, as a question pins them.
fn chain_pin(
    chain: &crate::chain::ChainArgs,
    dataset_id: u64,
) -> Result<zkgate_statement::question::ChainPin> {
    let target = chain.target()?;
    let (s, researcher) = (target.settlement()?, target.wallet(1)?);
    let rt = tokio::runtime::Runtime::new()?;
    let chain_id = rt.block_on(s.chain().chain_id())?;
    Ok(zkgate_statement::question::ChainPin {
        chain_id,
        contract: s.address().to_string(),
        dataset_id,
        researcher: researcher.address().to_string(),
    })
}

/// Enters bounty `id` with question `q` from the researcher's key; returns
/// the entry's on-chain job.
fn enter_bounty(
    a: &SubmitArgs,
    q: &zkgate_statement::Question,
    id: u64,
    b: &crate::bounty::Bounty,
) -> Result<u64> {
    let target = a.chain.target()?;
    let (s, researcher) = (target.settlement()?, target.wallet(1)?);
    let circuits = zkgate_chain::settlement::circuits_of(q)?;
    let rt = tokio::runtime::Runtime::new()?;
    let (job, _) = rt.block_on(s.enter_bounty(
        &researcher,
        id,
        zkgate_chain::alloy_primitives::B256::from(q.hash()),
        &circuits,
        b.view.entry_fee,
    ))?;
    Ok(job)
}

/// Opens the on-chain job for question `q` from the researcher's key;
/// returns it and its escrow.
fn open_job(
    a: &SubmitArgs,
    q: &zkgate_statement::Question,
    dataset_id: u64,
) -> Result<(u64, zkgate_chain::alloy_primitives::U256)> {
    let target = a.chain.target()?;
    let (s, researcher) = (target.settlement()?, target.wallet(1)?);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let deadline = s.chain().now().await? + a.deadline_secs;
        let value = match a.value_wei {
            Some(v) => zkgate_chain::alloy_primitives::U256::from(v),
            None => s.price_of(dataset_id).await?,
        };
        let o = if q.proof_system == zkgate_statement::ezkl::ProofSystem::Ezkl {
            // The job's last pinned circuit id is ezkl's hash of its nonce.
            let binding = a.ezkl.backend()?.binding_hash(q.job_nonce())?;
            zkgate_chain::settlement::OpenJob::for_ezkl_question(
                q, binding, dataset_id, deadline, value,
            )?
        } else {
            zkgate_chain::settlement::OpenJob {
                verifier: a.verifier.unwrap_or_default(),
                ..zkgate_chain::settlement::OpenJob::for_question(q, dataset_id, deadline, value)?
            }
        };
        let (id, _) = s.open_job(&researcher, &o).await?;
        Ok((id, value))
    })
}

/// Shows a dry run's answer; whether the job would run.
fn dry_run(a: &SubmitArgs, client: &Client, manifest: &Manifest, model: Vec<u8>) -> Result<bool> {
    let rt = tokio::runtime::Runtime::new()?;
    let d = rt.block_on(async { ok(client.dry_run(manifest, model).await) })?;
    // On chain, what the job will cost: the contract charges exactly this.
    let price = match a.chain_dataset {
        Some(id) => {
            let s = a.chain.target()?.settlement()?;
            Some(rt.block_on(s.price_of(id))?)
        }
        None => None,
    };
    if a.json {
        let mut v = serde_json::to_value(&d)?;
        if let Some(p) = price {
            v["chain_price_wei"] = p.to_string().into();
        }
        println!("{v}");
    } else {
        if let Some(p) = price {
            println!("on chain: the job costs {p} wei (the dataset's price and its price per row), refunded beyond that at settlement");
        }
        println!(
            "circuit {}: {} constraints in {} shard{}, about {:.0} s of setup and proving and {} MiB on the gateway",
            &d.circuit_id[..d.circuit_id.len().min(18)],
            d.constraints,
            d.shards,
            if d.shards == 1 { "" } else { "s" },
            d.estimated_s,
            d.memory_mb
        );
        let rules = |r: &[String]| {
            if r.is_empty() {
                String::new()
            } else {
                format!(" [{}]", r.join(", "))
            }
        };
        println!("at submission: {}{}", d.decision, rules(&d.rules));
        println!(
            "once compiled: {}{}",
            d.compiled_decision,
            rules(&d.compiled_rules)
        );
        if !d.message.is_empty() {
            println!("{}", d.message);
        }
        println!("({})", d.note);
    }
    Ok(d.decision == "allow" && d.compiled_decision == "allow")
}

/// `zkgate submit`; false when a dry run says the job would not run.
pub fn submit(a: SubmitArgs) -> Result<bool> {
    let model =
        std::fs::read(&a.model).with_context(|| format!("reading {}", a.model.display()))?;
    // With --federation, each part sets its own dataset.
    let mut manifest = Manifest {
        dataset: a.dataset.clone().unwrap_or_default(),
        columns: a.columns.clone(),
        aggregate: a.aggregate.build()?,
        idempotency_key: a.idempotency_key.clone(),
        quant: zkgate_statement::quant::QuantConfig {
            family: a.family,
            ..Default::default()
        },
        chain_job: a.chain_job,
        epsilon: a.aggregate.epsilon,
        nonce: None,
        question: None,
    };
    if let Some(fed) = &a.federation {
        return crate::federation::submit(fed, &manifest, &model, a.allow_suppression, &a.out);
    }
    let client = a.remote.client()?;
    if manifest.dataset.is_empty() {
        bail!("which dataset? --dataset NAME");
    }
    let bounty = match a.bounty {
        Some(id) => {
            if manifest.epsilon.is_none() {
                bail!("a bounty's scores are public, and exact ones would read its private labels back: give --epsilon");
            }
            let s = a.chain.target()?.settlement()?;
            let b = tokio::runtime::Runtime::new()?.block_on(crate::bounty::read(&s, id))?;
            if b.view.version != zkgate_statement::VERSION {
                bail!(
                    "bounty {id} is written for circuit format {}, this client proves format {}: no entry of it could settle",
                    b.view.version,
                    zkgate_statement::VERSION
                );
            }
            if manifest.aggregate != b.template.aggregate {
                bail!(
                    "bounty {id} asks for {}: state it with --aggregate and --label",
                    crate::bounty::describe(&b.template)
                );
            }
            manifest
                .columns
                .get_or_insert_with(|| b.template.input_names());
            Some((id, b))
        }
        None => None,
    };
    let ceremony = a
        .ceremony_key
        .iter()
        .map(|k| std::fs::read(k).with_context(|| format!("reading {}", k.display())))
        .collect::<Result<Vec<_>>>()?;
    // Kept keys are read back from the gateway for the question's pin (the
    // verifying keys must hash to the names given).
    let kept: Vec<Vec<u8>> = {
        let rt = tokio::runtime::Runtime::new()?;
        a.kept_ceremony_key
            .iter()
            .map(|vk| {
                let z = rt.block_on(async { ok(client.kept_ceremony_key(vk).await) })?;
                zkgate_zkml::question::kept_key(&z, vk)?;
                Ok(z)
            })
            .collect::<Result<_>>()?
    };
    let pinned: Vec<Vec<u8>> = ceremony.iter().chain(&kept).cloned().collect();
    let mut ptau = None;
    if !pinned.is_empty() {
        // A ceremony over a file its maker knows tau of protects nothing:
        // say so before the keys are used. The question pins the file (the
        // gateway checks the keys against it), for verifiers to judge.
        let rt = tokio::runtime::Runtime::new()?;
        let file = rt.block_on(async { ok(client.ceremony_file().await) })?;
        if file["public"].is_null() {
            eprintln!(
                "warning: the gateway's powers-of-tau file (blake2b {}) is not a public one: whoever made it may know tau and forge with these keys",
                file["ptau_blake2b"].as_str().unwrap_or("?")
            );
        }
        ptau = file["ptau_blake2b"].as_str().map(str::to_string);
        if let Some(path) = &a.ptau {
            let mine = zkgate_zkml::ceremony::ptau::Ptau::read(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let mine = hex::encode(mine.blake2b);
            if ptau.as_deref() != Some(mine.as_str()) {
                bail!(
                    "{} (blake2b {mine}) is not the gateway's powers-of-tau file (blake2b {}): the gateway checks keys against its own",
                    path.display(),
                    ptau.as_deref().unwrap_or("none")
                );
            }
        }
    }
    let question_out = a
        .question_out
        .clone()
        .unwrap_or_else(|| a.out.with_extension("question.json"));
    // The job answers our question, written down here before anything is
    // sent: its hash binds the proofs (and seeds any noise), so the
    // gateway picks neither the question nor the randomness. On chain the
    // job is opened for its hash, with the circuits it allows.
    let q = match (&a.question, a.chain_job) {
        (Some(file), Some(_)) => {
            let text =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            zkgate_statement::Question::from_json(&text)?
        }
        (Some(_), None) => {
            bail!("--question names the question of an on-chain job: add --chain-job")
        }
        (None, _) => {
            let pin = match (a.chain_dataset, &bounty) {
                (Some(dataset_id), _) => Some(chain_pin(&a.chain, dataset_id)?),
                (None, Some((_, b))) => Some(chain_pin(&a.chain, b.view.dataset_id)?),
                (None, None) => None,
            };
            let q = write_question(
                &client,
                &manifest,
                &model,
                a.allow_suppression,
                (&pinned, ptau.as_deref()),
                pin,
                (a.proof_system == "ezkl").then_some(&a.ezkl),
            )?;
            if !a.dry_run {
                std::fs::write(&question_out, q.to_json())
                    .with_context(|| format!("writing {}", question_out.display()))?;
            }
            q
        }
    };
    manifest.columns = Some(q.columns.clone());
    manifest.question = Some(q.clone());
    if a.dry_run {
        // The gateway judges a dry run as the question's job; its on-chain
        // job does not exist yet (the price is read from the chain).
        if let Some(q) = manifest.question.as_mut() {
            q.chain = None;
        }
        return dry_run(&a, &client, &manifest, model);
    }
    if let Some((id, b)) = &bounty {
        // The contract would refuse to settle another question's proofs:
        // check before paying the fee.
        if q.expected_circuit.template() != b.template {
            bail!(
                "this question is not bounty {id}'s ({}): same dataset schema, columns, label and aggregate, default quantization",
                crate::bounty::describe(&b.template)
            );
        }
        let job = enter_bounty(&a, &q, *id, b)?;
        println!(
            "entered bounty {id} as on-chain job {job} for the question in {}, paying its {} wei entry fee",
            question_out.display(),
            b.view.entry_fee
        );
        manifest.chain_job = Some(job);
    }
    if let Some(dataset_id) = a.chain_dataset {
        let (id, escrow) = open_job(&a, &q, dataset_id)?;
        println!(
            "opened on-chain job {id} for the question in {} with {escrow} wei in escrow",
            question_out.display(),
        );
        manifest.chain_job = Some(id);
    }
    let question = Some(q);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let t0 = Instant::now();
        let job = ok(client
            .submit_with_keys(&manifest, model, ceremony, a.kept_ceremony_key.clone())
            .await)?;
        println!("job {} {}", job.id, job.state.name());
        if let Some(h) = &job.hold {
            println!("{}", h.message);
        }
        if a.no_wait {
            return Ok(true);
        }
        let pb = progress_bar();
        let job = loop {
            let j = ok(client.job(&job.id).await)?;
            show_progress(&pb, &j);
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
                println!(
                    "done in {:.1} s; wrote {} and {}{}",
                    t0.elapsed().as_secs_f64(),
                    a.out.display(),
                    a.vk_out.display(),
                    if question.is_some() {
                        format!(" (it answers {})", question_out.display())
                    } else {
                        String::new()
                    }
                );
                if let Some(r) = &job.review {
                    println!("approved by the data owner: {}", r.note);
                }
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
                Ok(true)
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

/// A bar over the job's shards, with its state and times as the message.
fn progress_bar() -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(1);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} shards  {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// The job's state on the bar: held (and why), queued, or the stage with
/// shard k of n, elapsed and estimated seconds.
fn show_progress(pb: &indicatif::ProgressBar, j: &zkgate_client::api::Job) {
    match (&j.progress, j.state) {
        (_, JobState::Held) => pb.set_message(format!(
            "held for the data owner: {}",
            j.hold.as_ref().map_or("", |h| h.message.as_str())
        )),
        (Some(p), s) if !s.is_terminal() && s != JobState::Queued => {
            pb.set_length(p.shards.max(1));
            pb.set_position(p.shard.saturating_sub(u64::from(p.stage == "prove")));
            let estimate = p
                .estimated_s
                .map(|e| format!(" of ~{e:.0} s"))
                .unwrap_or_default();
            pb.set_message(format!(
                "{} ({}) {:.0} s{estimate}",
                s.name(),
                p.stage,
                p.elapsed_s
            ));
        }
        (_, s) => pb.set_message(s.name().to_string()),
    }
}

/// `zkgate status`.
#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    remote: Remote,
    /// Job id (all my jobs when omitted).
    job: Option<String>,
    /// One JSON object per job and line, as the API answers them.
    #[arg(long)]
    json: bool,
}

/// `zkgate kept-keys`.
#[derive(Args)]
pub struct KeptKeysArgs {
    #[command(flatten)]
    remote: Remote,
    /// Save this kept key's `.zkey` (by its verifying key's SHA-256)
    /// instead of listing them.
    #[arg(long, requires = "out")]
    get: Option<String>,
    /// Where to save it.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `zkgate kept-keys`: the ceremony keys the gateway kept, a JSON object a
/// line, or one saved.
pub fn kept_keys(a: KeptKeysArgs) -> Result<()> {
    let client = a.remote.client()?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        match (&a.get, &a.out) {
            (Some(vk), Some(out)) => {
                let z = ok(client.kept_ceremony_key(vk).await)?;
                std::fs::write(out, &z).with_context(|| format!("writing {}", out.display()))?;
                println!("wrote {} ({} bytes)", out.display(), z.len());
            }
            _ => {
                for k in ok(client.kept_ceremony_keys().await)? {
                    println!("{k}");
                }
            }
        }
        Ok(())
    })
}

/// `zkgate receipt`.
#[derive(Args)]
pub struct ReceiptArgs {
    #[command(flatten)]
    remote: Remote,
    /// Job id.
    job: String,
    /// Where to save the receipt.
    #[arg(long, default_value = "receipt.json")]
    out: PathBuf,
    /// Where to save the verifying key.
    #[arg(long, default_value = "vk.bin")]
    vk_out: PathBuf,
}

/// A job in a line of `zkgate status`: its id, state, dataset and
/// aggregate, and where it stands (progress while it runs, the error when
/// it failed, the hold's reason while held).
fn status_line(j: &Job) -> String {
    let at = match (&j.state, &j.progress, &j.error, &j.hold) {
        (JobState::Failed, _, Some(e), _) => format!("{}: {}", e.code, e.message),
        (JobState::Held, _, _, Some(h)) => format!("held: {}", h.message),
        (s, Some(p), _, _) if !s.is_terminal() => {
            let shard = if p.shards > 1 && p.shard > 0 {
                format!(" shard {} of {}", p.shard, p.shards)
            } else {
                String::new()
            };
            match p.estimated_s {
                Some(e) => format!("{}{shard} · {:.0} s / ~{e:.0} s", p.stage, p.elapsed_s),
                None => format!("{}{shard} · {:.0} s", p.stage, p.elapsed_s),
            }
        }
        _ => String::new(),
    };
    format!(
        "{:<28} {:<10} {:<16} {:<14} {at}",
        j.id,
        j.state.name(),
        j.manifest.dataset,
        j.manifest.aggregate.name()
    )
    .trim_end()
    .to_string()
}

pub fn status(a: StatusArgs) -> Result<()> {
    let client = a.remote.client()?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let jobs = match &a.job {
            Some(id) => vec![ok(client.job(id).await)?],
            None => ok(client.jobs().await)?,
        };
        if a.json {
            for j in jobs {
                println!("{}", serde_json::to_string(&j)?);
            }
        } else if jobs.is_empty() {
            println!("no jobs");
        } else {
            println!(
                "{:<28} {:<10} {:<16} {:<14} progress",
                "job", "state", "dataset", "aggregate"
            );
            for j in &jobs {
                println!("{}", status_line(j));
            }
        }
        Ok(())
    })
}

pub fn receipt(a: ReceiptArgs) -> Result<()> {
    let client = a.remote.client()?;
    let id = a.job.clone();
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
    let ezkl = r.proof_system == zkgate_statement::ezkl::ProofSystem::Ezkl;
    if ezkl {
        // ezkl's verifier runs in the Python that has ezkl: `zkgate
        // verify` with --ezkl-python. The fields are checked here.
        eprintln!("zkgate: an ezkl receipt: its proof is not checked here; run zkgate verify with --question, --model, --ezkl-python and --ezkl-srs-dir");
    } else if let zkgate_statement::Verdict::Invalid(why) = r.verify(vk)? {
        bail!("the gateway's receipt does not verify: {why}");
    }
    // The verification `zkgate verify --question` runs: the receipt must
    // answer our question, field by field, with our nonce (and, with a
    // ceremony key, with the key we contributed to).
    if let Some(q) = &m.question {
        if let Err(why) = q.check(&r, zkgate_verifier::Expect::question_nonce(q)?) {
            bail!("{why}");
        }
    }
    let loaded = zkgate_zkml::import::load(model)?;
    if let Err(why) = zkgate_zkml::question::receipt_circuit(&r, m.question.as_ref(), &loaded) {
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
