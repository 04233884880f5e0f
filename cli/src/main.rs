//! `zkgate`: prove aggregate inference over a committed dataset, verify
//! receipts, and benchmark the prover.
#![forbid(unsafe_code)]

mod bounty;
mod ceremony;
mod chain;
mod ezkl;
mod federation;
mod inspect;
mod owner;
mod researcher;
mod rules;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use zkgate_statement::{nonce_from, Aggregate};

use zkgate_zkml::dataset::{Dataset, Secret};
use zkgate_zkml::job::JobRequest;
use zkgate_zkml::pipeline::{self, LocalJob, Step};
use zkgate_zkml::quantize::QuantConfig;

#[derive(Parser)]
#[command(
    name = "zkgate",
    version,
    about = "Compute-to-data with zero-knowledge proofs: prove what a model says about a committed dataset"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prove a model's aggregate over a local CSV dataset (no server).
    Prove(ProveArgs),
    /// Verify a receipt against a verifying key (exit 0 valid, 1 invalid, 2 error).
    Verify(VerifyArgs),
    /// Whether a model compiles, what its ops become, and (with the
    /// dataset's schema) its circuit's size and prove time (exit 0
    /// compiles, 1 does not).
    Inspect(inspect::InspectArgs),
    /// Benchmark the prover on the fixture models; one JSON line per case.
    Bench(zkgate_bench::BenchArgs),
    /// Phase-2 keys from a powers-of-tau file: init, contribute, verify.
    #[command(subcommand)]
    Ceremony(ceremony::CeremonyCmd),
    /// ezkl, the second proof system: a local (insecure) SRS for trials.
    #[command(subcommand)]
    Ezkl(ezkl::EzklCmd),
    /// Write a receipt's verifying keys, proofs and public inputs in
    /// snarkjs's JSON (`snarkjs groth16 verify` checks each shard).
    ExportSnarkjs(ExportArgs),
    /// Create a gateway data dir (config, vault identity, TLS certificate).
    Init(owner::InitArgs),
    /// Run the gateway.
    Serve(owner::ServeArgs),
    /// Manage datasets (through the owner API while the gateway serves,
    /// on the data dir while it is stopped); download a mock twin.
    #[command(subcommand)]
    Dataset(owner::DatasetCmd),
    /// Manage researchers: add, revoke, list.
    #[command(subcommand)]
    Researcher(owner::ResearcherCmd),
    /// Every researcher's jobs; approve or deny held ones.
    #[command(subcommand)]
    Jobs(owner::JobsCmd),
    /// Make a new owner token for the owner API and console (gateway
    /// stopped).
    #[command(alias = "admin-token")]
    OwnerToken(owner::OwnerTokenArgs),
    /// Register, list or remove the provers shard tasks are encrypted to.
    #[command(subcommand, alias = "workers")]
    Provers(owner::ProversCmd),
    /// Prove shards from the gateway's NATS JetStream queue (`--init`
    /// first makes the prover's identity).
    #[command(alias = "worker")]
    Prover(owner::ProverArgs),
    /// Submit a model to a gateway and wait for the receipt.
    Submit(Box<researcher::SubmitArgs>),
    /// Show one job or all my jobs.
    Status(researcher::StatusArgs),
    /// Register the Ethereum address that opens my on-chain jobs (signs
    /// the gateway's registration message with its key).
    RegisterAddress(researcher::RegisterArgs),
    /// Download a job's receipt and verifying key.
    Receipt(researcher::ReceiptArgs),
    /// Researcher: the ceremony keys the gateway kept from earlier jobs
    /// (by circuit, with their transcripts), which `submit
    /// --kept-ceremony-key` proves with at no setup cost.
    KeptKeys(researcher::KeptKeysArgs),
    /// Check, reload or print the data owner's policies.
    #[command(subcommand)]
    Policy(rules::PolicyCmd),
    /// Read the audit log of policy decisions.
    Audit(rules::AuditArgs),
    /// The settlement contract: deploy, register a dataset, open a job.
    #[command(subcommand)]
    Chain(chain::ChainCmd),
}

/// How to build the aggregate from flags.
#[derive(Args, Clone)]
pub struct AggregateArgs {
    /// The aggregate to compute: sum, mean, count-at-least, class-counts,
    /// accuracy, confusion, mse or mae.
    #[arg(long)]
    aggregate: String,
    /// Label column (accuracy, confusion, mse, mae).
    #[arg(long)]
    label: Option<String>,
    /// Threshold (count-at-least), in output units.
    #[arg(long)]
    threshold: Option<f64>,
    /// Release the values with differential-privacy noise at this epsilon
    /// (discrete Laplace, drawn in the circuit).
    #[arg(long)]
    epsilon: Option<f64>,
}

impl AggregateArgs {
    fn build(&self) -> Result<Aggregate> {
        Ok(Aggregate::parse(
            &self.aggregate,
            self.label.as_deref(),
            self.threshold,
        )?)
    }
}

/// Reads `--family T:W:B` (see `zkgate_statement::quant::Family`).
pub(crate) fn parse_family(
    s: &str,
) -> std::result::Result<zkgate_statement::quant::Family, String> {
    zkgate_statement::quant::Family::parse(s).map_err(|e| e.to_string())
}

#[derive(Args)]
struct ProveArgs {
    /// ONNX model.
    #[arg(long)]
    model: PathBuf,
    /// CSV dataset (header row, numeric cells).
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    aggregate: AggregateArgs,
    /// Columns feeding the model, comma-separated, in its input order
    /// (default: every column but the label).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// The dataset's declared schema (default: `NAME.schema.json` next to
    /// the CSV).
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Bits of the largest weight per layer.
    #[arg(long, default_value_t = QuantConfig::default().weight_bits)]
    weight_bits: u32,
    /// Bits of magnitude kept in activations.
    #[arg(long, default_value_t = QuantConfig::default().act_bits)]
    act_bits: u32,
    /// A model-family circuit: the weights are private inputs within these
    /// bounds (TERM_LOG2:WEIGHT_LOG2:BIAS_LOG2, as `zkgate inspect
    /// --schema` fits them), so a retrained model of the same architecture
    /// keeps the circuit and its keys.
    #[arg(long, value_parser = parse_family)]
    family: Option<zkgate_statement::quant::Family>,
    /// Rows per proof: a larger dataset is proved in shards of about this
    /// many rows, joined in one receipt (default: one proof).
    #[arg(long)]
    shard_rows: Option<u64>,
    /// Prove with ceremony keys (`zkgate ceremony`) instead of making keys
    /// here (`.zkey` files, from `zkgate ceremony` or snarkjs, their
    /// transcripts inside): the key of the plan's circuit, which proves
    /// every shard; needs --ptau, and it is checked first.
    #[arg(long, requires = "ptau")]
    ceremony_key: Vec<PathBuf>,
    /// The powers-of-tau file the ceremony key was made over.
    #[arg(long)]
    ptau: Option<PathBuf>,
    /// Job id the proof is bound to (default: random); `zkgate verify
    /// --job` checks it. (`--job-id` in an earlier release.)
    #[arg(long = "job", alias = "job-id")]
    job_id: Option<String>,
    /// Where to write the receipt.
    #[arg(long, default_value = "receipt.json")]
    out: PathBuf,
    /// Where to write the verifying key.
    #[arg(long, default_value = "vk.bin")]
    vk_out: PathBuf,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct VerifyArgs {
    /// The receipt (JSON).
    receipt: PathBuf,
    /// The verifying keys (`vk.bin` as `prove` or the gateway wrote it).
    #[arg(long)]
    vk: Option<PathBuf>,
    /// The receipt is a federated one (`zkgate submit --federation`):
    /// each part is checked against its own question and keys (carried
    /// inside), the parts against the federation (none missing, repeated
    /// or foreign), the questions against each other, and the pooled
    /// answer recomputed; with --model, each part's circuit is rebuilt.
    #[arg(long, conflicts_with_all = ["vk", "chain_job", "question", "schema", "job", "transcript", "require_ceremony"])]
    federated: bool,
    /// With --federated: the federation file asked (default: the one the
    /// receipt carries; tokens are not read).
    #[arg(long, requires = "federated")]
    federation: Option<PathBuf>,
    /// Print a JSON verdict.
    #[arg(long)]
    json: bool,
    /// Also check that this on-chain job settled with this receipt (its
    /// values, dataset commitment, binding and keys).
    #[arg(long)]
    chain_job: Option<u64>,
    /// Reject a receipt whose circuit is not this ONNX model's, quantized
    /// over the receipt's dataset schema (the plan is rebuilt and compared).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Reject a receipt for another dataset schema than this declared one.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Reject a receipt bound to another (off-chain) job than this id
    /// (receipts of `zkgate prove`; a gateway's receipt answers a
    /// question: use --question).
    #[arg(long)]
    job: Option<String>,
    /// The question the receipt must answer (`zkgate submit` writes
    /// `question.json`): every field is compared, the nonce included; with
    /// --model, the question's circuit is rebuilt from the model too.
    #[arg(long)]
    question: Option<PathBuf>,
    /// Accept only keys shown to come from a ceremony: by the question's
    /// pin of the keys you contributed to, or by --transcript, --ptau and
    /// --contribution (with --model). Without either it is an error.
    #[arg(long)]
    require_ceremony: bool,
    /// Check that the receipt's verifying key is the one this ceremony
    /// transcript made for the model's circuit (a `.zkey`, or its
    /// transcript as JSON; needs --model and --ptau).
    #[arg(long, requires_all = ["model", "ptau"])]
    transcript: Option<PathBuf>,
    /// The powers-of-tau file of the ceremony.
    #[arg(long)]
    ptau: Option<PathBuf>,
    /// The contribution hash you trust (yours: `zkgate ceremony contribute`
    /// and snarkjs print it); default: the question's.
    #[arg(long)]
    contribution: Option<String>,
    /// Accept keys made over this powers-of-tau file although it is not
    /// one of the public files (its BLAKE2b, as `zkgate ceremony
    /// ptau-info` prints it): only for a file you know the making of.
    #[arg(long)]
    trust_ptau: Vec<String>,
    #[command(flatten)]
    chain: chain::ChainArgs,
    /// For a receipt proved with ezkl.
    #[command(flatten)]
    ezkl: ezkl::EzklArgs,
}

pub(crate) fn spinner(json: bool) -> ProgressBar {
    if json {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"),
    );
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// A CSV's declared schema: the file given, or the one next to the CSV.
pub(crate) fn declared_schema(
    csv: &std::path::Path,
    given: Option<&std::path::Path>,
) -> Result<zkgate_statement::Schema> {
    let path = given.map_or_else(|| zkgate_zkml::dataset::schema_path(csv), Into::into);
    if !path.exists() {
        anyhow::bail!(
            "no declared schema at {}: run `zkgate dataset schema {}`, review its ranges, and save it there (or pass --schema)",
            path.display(),
            csv.display()
        );
    }
    read_schema(&path)
}

/// Reads a declared schema file.
pub(crate) fn read_schema(path: &std::path::Path) -> Result<zkgate_statement::Schema> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    zkgate_statement::Schema::from_json(&bytes)
        .with_context(|| format!("reading {}", path.display()))
}

fn cmd_prove(a: ProveArgs) -> Result<()> {
    let model = zkgate_zkml::import::load(&a.model)
        .with_context(|| format!("loading {}", a.model.display()))?;
    let schema = declared_schema(&a.data, a.schema.as_deref())?;
    let dataset = Dataset::from_csv_path(&a.data, &schema)
        .with_context(|| format!("reading {}", a.data.display()))?;
    let request = JobRequest {
        aggregate: a.aggregate.build()?,
        input_columns: a.columns.clone(),
        quant: QuantConfig {
            weight_bits: a.weight_bits,
            act_bits: a.act_bits,
            family: a.family,
            ..QuantConfig::default()
        },
        epsilon: a.aggregate.epsilon,
    };
    let mut rng = rand::rngs::OsRng;
    let secret = Secret::random(&mut rng);
    let job_id = a
        .job_id
        .clone()
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>()));
    let ptau = match (&a.ceremony_key[..], &a.ptau) {
        ([], _) | (_, None) => None,
        (_, Some(p)) => Some(
            zkgate_zkml::ceremony::Ptau::read(p)
                .with_context(|| format!("reading {}", p.display()))?,
        ),
    };
    let keys = a
        .ceremony_key
        .iter()
        .map(|k| ceremony::read_key(k))
        .collect::<Result<Vec<_>>>()?;
    let ceremony: Vec<zkgate_zkml::ceremony::Ceremony> = match &ptau {
        None => Vec::new(),
        Some(ptau) => keys
            .iter()
            .map(|(key, transcript)| zkgate_zkml::ceremony::Ceremony {
                ptau,
                key,
                transcript,
            })
            .collect(),
    };
    let pb = spinner(a.json);
    let outcome = pipeline::run(
        LocalJob {
            shard_rows: a.shard_rows,
            ceremony: &ceremony,
            ..LocalJob::new(
                &model,
                &dataset,
                &secret,
                &request,
                nonce_from(job_id.as_bytes()),
            )
        },
        &mut rng,
        &mut |step: Step| pb.set_message(format!("{}...", step.name())),
    )?;
    pb.finish_and_clear();
    let r = &outcome.receipt;
    std::fs::write(&a.out, r.to_json()).with_context(|| format!("writing {}", a.out.display()))?;
    std::fs::write(&a.vk_out, outcome.vk_bytes())
        .with_context(|| format!("writing {}", a.vk_out.display()))?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "receipt": a.out, "vk": a.vk_out, "job_id": job_id, "result": r.result, "agreement": r.agreement, "constraints": r.constraints, "timings": r.timings })
        );
    } else {
        println!("result      {}", r.result);
        if let Some(ag) = &r.agreement {
            match ag.class_agreement {
                Some(s) => println!(
                    "agreement   {:.4} of {} rows predict the same class as the float model",
                    s, ag.rows
                ),
                None => println!(
                    "agreement   max |float - quantized| = {:.6}, mean {:.6}",
                    ag.max_abs_error.unwrap_or(0.0),
                    ag.mean_abs_error.unwrap_or(0.0)
                ),
            }
        }
        println!(
            "circuit     {} constraints ({} per row){}",
            r.constraints["total"],
            r.constraints["total"] / r.rows.max(1) as usize,
            match r.shards.len() {
                1 if r.circuit.shard_rows == r.rows => String::new(),
                1 => format!(", one proof of {} rows, padded", r.circuit.shard_rows),
                n => format!(
                    ", {n} shard proofs of {} rows, the last padded",
                    r.circuit.shard_rows
                ),
            }
        );
        println!(
            "timings     {}",
            r.timings
                .iter()
                .map(|(k, v)| format!("{k}={v:.2}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        println!("commitment  {}", r.commitment);
        println!("job id      {job_id}");
        println!("wrote       {} and {}", a.out.display(), a.vk_out.display());
    }
    Ok(())
}

/// Why the receipt's keys are not the ones the ceremony transcript at `t`
/// made for `spec` over the file at `p` (`None`: they are).
fn ceremony_mismatch(
    receipt: &zkgate_statement::Receipt,
    vk: &std::path::Path,
    spec: &zkgate_zkml::spec::CircuitSpec,
    t: &std::path::Path,
    p: &std::path::Path,
    contribution: &str,
    trusted: &[String],
) -> Result<Option<String>> {
    let transcript = ceremony::read_transcript(t)?;
    if !transcript.contains(contribution) {
        return Ok(Some(format!(
            "the transcript holds no contribution with hash {contribution}"
        )));
    }
    let ptau =
        zkgate_zkml::ceremony::Ptau::read(p).with_context(|| format!("reading {}", p.display()))?;
    let b2 = hex::encode(ptau.blake2b);
    if ptau.public_name().is_none() && !trusted.iter().any(|h| h.eq_ignore_ascii_case(&b2)) {
        return Ok(Some(format!(
            "the keys were made over {}; a ceremony over a file whose maker may know tau proves nothing (pass --trust-ptau {b2} only for a file you know the making of)",
            ptau.describe()
        )));
    }
    let vks = zkgate_statement::groth16::keys_from_bytes(
        &std::fs::read(vk).with_context(|| format!("reading {}", vk.display()))?,
    )?;
    let [vk] = vks.as_slice() else {
        return Ok(Some(
            "a ceremony transcript covers one circuit; this receipt has several".into(),
        ));
    };
    if receipt
        .shards
        .iter()
        .any(|s| s.vk_sha256 != zkgate_statement::groth16::vk_sha256(vk))
    {
        return Ok(Some("the receipt's proofs name another key".into()));
    }
    let r1cs = zkgate_zkml::ceremony::r1cs_of(spec)?;
    Ok(transcript
        .verify_vk(vk, &r1cs, &ptau)
        .err()
        .map(|e| e.to_string()))
}

#[derive(Args)]
struct ExportArgs {
    /// The receipt (JSON).
    receipt: PathBuf,
    /// Its verifying keys (`vk.bin`).
    #[arg(long)]
    vk: PathBuf,
    /// Where to write `verification_key_K.json`, `proof_K.json` and
    /// `public_K.json`, one set per shard K.
    #[arg(long)]
    out_dir: PathBuf,
}

fn cmd_export(a: ExportArgs) -> Result<()> {
    use zkgate_statement::snarkjs;
    let text = std::fs::read_to_string(&a.receipt)
        .with_context(|| format!("reading {}", a.receipt.display()))?;
    let r = zkgate_statement::Receipt::from_json(&text)?;
    let vks = zkgate_statement::groth16::keys_from_bytes(
        &std::fs::read(&a.vk).with_context(|| format!("reading {}", a.vk.display()))?,
    )?;
    std::fs::create_dir_all(&a.out_dir)?;
    for (i, shard) in r.shards.iter().enumerate() {
        let vk = vks
            .iter()
            .find(|k| zkgate_statement::groth16::vk_sha256(k) == shard.vk_sha256)
            .with_context(|| format!("shard {i}: its key is not in {}", a.vk.display()))?;
        let inputs = r.statement(i)?.public_inputs();
        for (name, v) in [
            ("verification_key", snarkjs::verification_key(vk)),
            ("proof", snarkjs::proof(&shard.proof()?)),
            ("public", snarkjs::public(&inputs)),
        ] {
            let p = a.out_dir.join(format!("{name}_{i}.json"));
            std::fs::write(&p, serde_json::to_string_pretty(&v)?)
                .with_context(|| format!("writing {}", p.display()))?;
        }
    }
    println!(
        "wrote {} shard(s) to {}",
        r.shards.len(),
        a.out_dir.display()
    );
    Ok(())
}

fn cmd_verify(a: VerifyArgs) -> Result<bool> {
    use zkgate_verifier::CeremonyProof;
    if a.federated {
        return verify_federated(&a);
    }
    let text = std::fs::read_to_string(&a.receipt)
        .with_context(|| format!("reading {}", a.receipt.display()))?;
    if let Ok(r) = zkgate_statement::Receipt::from_json(&text) {
        if r.proof_system == zkgate_statement::ezkl::ProofSystem::Ezkl {
            let chain = match a.chain_job {
                Some(job) => Some((a.chain.target()?.settlement()?, job)),
                None => None,
            };
            return ezkl::verify(
                &r,
                a.question.as_deref(),
                a.model.as_deref(),
                &a.ezkl,
                chain,
                a.json,
            );
        }
    }
    let Some(vk) = a.vk.clone() else {
        bail!("--vk is needed");
    };
    let chain = match a.chain_job {
        Some(job) => Some((a.chain.target()?.settlement()?, job)),
        None => None,
    };
    let proof = match (&a.transcript, a.require_ceremony) {
        (Some(_), _) => CeremonyProof::Transcript,
        (None, true) => CeremonyProof::Required,
        (None, false) => CeremonyProof::None,
    };
    let expect = zkgate_verifier::Expect::from_args(
        a.question.as_deref(),
        a.schema.as_deref(),
        a.job.as_deref(),
        proof,
        &a.trust_ptau,
    )?;
    let contribution = match (&a.contribution, &expect.question) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(q)) => q.ceremony.as_ref().map(|c| c.contribution_hash.clone()),
        (None, None) => None,
    };
    if a.transcript.is_some() && contribution.is_none() {
        bail!("{}", zkgate_verifier::CEREMONY_NEEDS);
    }
    let mut checked = zkgate_verifier::verify_files(&a.receipt, &vk, chain, &expect)?;
    if let (true, Some(m)) = (checked.valid(), &a.model) {
        let model =
            zkgate_zkml::import::load(m).with_context(|| format!("loading {}", m.display()))?;
        match zkgate_zkml::question::receipt_circuit(
            &checked.receipt,
            expect.question.as_ref(),
            &model,
        ) {
            Err(why) => checked.invalid = Some(why),
            Ok(spec) => {
                if let (Some(t), Some(p), Some(c)) = (&a.transcript, &a.ptau, &contribution) {
                    checked.invalid =
                        ceremony_mismatch(&checked.receipt, &vk, &spec, t, p, c, &a.trust_ptau)?;
                }
            }
        }
    }
    println!("{}", checked.report(a.json));
    Ok(checked.valid())
}

/// `zkgate verify --federated`.
fn verify_federated(a: &VerifyArgs) -> Result<bool> {
    let expect = a
        .federation
        .as_deref()
        .map(federation::federation_of)
        .transpose()?;
    let model = a
        .model
        .as_ref()
        .map(|m| zkgate_zkml::import::load(m).with_context(|| format!("loading {}", m.display())))
        .transpose()?;
    let text = std::fs::read_to_string(&a.receipt)
        .with_context(|| format!("reading {}", a.receipt.display()))?;
    let mut checked =
        zkgate_verifier::federation::verify_federated(&text, expect.as_ref(), |q, r| {
            model
                .as_ref()
                .and_then(|m| zkgate_zkml::question::receipt_circuit(r, Some(q), m).err())
        })?;
    // With a node named, every part asked on chain must have settled its
    // job there with exactly its receipt, keys and question.
    if checked.valid() && a.chain.rpc_given() {
        let s = a.chain.target()?.settlement()?;
        checked.invalid = tokio::runtime::Runtime::new()?.block_on(
            zkgate_verifier::federation::check_settled(&checked.federated, &s),
        )?;
    }
    println!("{}", checked.report(a.json));
    Ok(checked.valid())
}

/// Ends the process quietly when stdout is a closed pipe (`zkgate ... |
/// head`): `println!` panics there, and a closed reader is no error.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info)
    }));
}

/// A command an earlier release named otherwise, and its name now (the
/// old name still works for this release).
fn renamed_command(arg: Option<&str>) -> Option<(&'static str, &'static str)> {
    [
        ("admin-token", "owner-token"),
        ("workers", "provers"),
        ("worker", "prover"),
    ]
    .into_iter()
    .find(|(old, _)| Some(*old) == arg)
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    if let Some((old, new)) = renamed_command(std::env::args().nth(1).as_deref()) {
        eprintln!("zkgate: `zkgate {old}` is deprecated, call it `zkgate {new}`");
    }
    if std::env::args().any(|a| a == "--job-id" || a.starts_with("--job-id=")) {
        eprintln!("zkgate: `--job-id` is deprecated, call it `--job`");
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Prove(a) => cmd_prove(a).map(|()| true),
        Command::Verify(a) => cmd_verify(a),
        Command::Ezkl(c) => ezkl::run(c).map(|()| true),
        Command::Inspect(a) => inspect::inspect(a),
        Command::Bench(a) => zkgate_bench::run(a).map(|()| true),
        Command::Ceremony(c) => ceremony::ceremony(c),
        Command::ExportSnarkjs(a) => cmd_export(a).map(|()| true),
        Command::Init(a) => owner::init(a).map(|()| true),
        Command::Serve(a) => owner::serve(a).map(|()| true),
        Command::Dataset(c) => owner::dataset(c).map(|()| true),
        Command::Researcher(c) => owner::researcher(c).map(|()| true),
        Command::Jobs(c) => owner::jobs(c).map(|()| true),
        Command::OwnerToken(a) => owner::owner_token(a).map(|()| true),
        Command::Provers(c) => owner::provers(c).map(|()| true),
        Command::Prover(a) => owner::prover(a).map(|()| true),
        Command::Submit(a) => researcher::submit(*a),
        Command::Status(a) => researcher::status(a).map(|()| true),
        Command::RegisterAddress(a) => researcher::register_address(a).map(|()| true),
        Command::Receipt(a) => researcher::receipt(a).map(|()| true),
        Command::KeptKeys(a) => researcher::kept_keys(a).map(|()| true),
        Command::Policy(c) => rules::policy(c).map(|()| true),
        Command::Audit(a) => rules::audit(a).map(|()| true),
        Command::Chain(c) => chain::run(c).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An earlier release's command names still parse, as the commands
    /// they became, and are named as deprecated.
    #[test]
    fn old_command_names_parse_as_the_new_ones() {
        for (old, args) in [
            ("admin-token", vec!["--data-dir", "d"]),
            ("workers", vec!["list", "--data-dir", "d"]),
            ("worker", vec!["--init", "--dir", "w"]),
        ] {
            let (_, new) = renamed_command(Some(old)).unwrap();
            let argv = |name: &'static str| {
                std::iter::once("zkgate")
                    .chain(std::iter::once(name))
                    .chain(args.iter().copied())
                    .collect::<Vec<_>>()
            };
            let a = Cli::try_parse_from(argv(old)).unwrap();
            let b = Cli::try_parse_from(argv(new)).unwrap();
            assert_eq!(
                std::mem::discriminant(&a.command),
                std::mem::discriminant(&b.command),
                "{old}"
            );
        }
        assert_eq!(renamed_command(Some("prover")), None);
        assert_eq!(renamed_command(None), None);
    }
}
