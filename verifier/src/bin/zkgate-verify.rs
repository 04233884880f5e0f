//! `zkgate-verify`: checks a zkgate receipt against its verifying keys, and
//! optionally that an on-chain job settled with it. Exit codes: 0 valid,
//! 1 invalid, 2 error.
#![forbid(unsafe_code)]

use anyhow::{bail, Result};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use zkgate_chain::alloy_primitives::Address;
use zkgate_chain::config::{ChainConfig, Endpoint};
use zkgate_chain::Settlement;

/// Verify a zkgate receipt (offline, or against the settlement contract).
#[derive(Parser)]
#[command(name = "zkgate-verify", version)]
struct Args {
    /// The receipt (JSON).
    receipt: PathBuf,
    /// The verifying keys (`vk.bin`).
    #[arg(long)]
    vk: PathBuf,
    /// Print a JSON verdict.
    #[arg(long)]
    json: bool,
    /// Also check that this on-chain job settled with this receipt (its
    /// values, dataset commitment, binding and keys).
    #[arg(long)]
    chain_job: Option<u64>,
    /// A gateway data dir: its embedded chain and `chain.json` (the
    /// contract, the node), which the flags below override.
    #[arg(long, default_value = "zkgate-data")]
    data_dir: PathBuf,
    /// A JSON-RPC node (`http://` or `https://`) instead of the data dir's.
    #[arg(long)]
    chain_rpc: Option<String>,
    /// The Settlement contract instead of the data dir's.
    #[arg(long)]
    contract: Option<Address>,
    /// CA certificate (PEM) of an `https://` node.
    #[arg(long)]
    chain_ca: Option<PathBuf>,
    /// Reject a receipt for another dataset schema than this declared one
    /// (the schema the dataset was published with).
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Reject a receipt bound to another (off-chain) job than this id
    /// (receipts of `zkgate prove`; a gateway's receipt answers a
    /// question: use --question).
    #[arg(long)]
    job: Option<String>,
    /// The question the receipt must answer (`zkgate submit` writes
    /// `question.json`): every field is compared, the nonce included.
    #[arg(long)]
    question: Option<PathBuf>,
    /// Accept only the keys the question pins (those you contributed to);
    /// an error without such a question (a transcript is checked by
    /// `zkgate verify --transcript`, which rebuilds the circuit).
    #[arg(long)]
    require_ceremony: bool,
    /// With --require-ceremony: accept keys made over this powers-of-tau
    /// file although it is not one of the public files (its BLAKE2b):
    /// only for a file you know the making of.
    #[arg(long)]
    trust_ptau: Vec<String>,
}

/// The contract and job to check against, resolved as `zkgate verify`
/// resolves them.
fn chain(a: &Args) -> Result<Option<(Settlement, u64)>> {
    let Some(job) = a.chain_job else {
        return Ok(None);
    };
    let endpoint = Endpoint {
        rpc: a.chain_rpc.clone(),
        contract: a.contract,
        ca_file: a.chain_ca.clone(),
        ..Endpoint::default()
    };
    let conf = ChainConfig::load(&a.data_dir)?;
    match endpoint.settlement_over(&a.data_dir, conf.as_ref())? {
        Some(s) => Ok(Some((s, job))),
        None => bail!("--chain-job needs --contract, or a --data-dir whose chain.json names one"),
    }
}

fn main() -> ExitCode {
    let a = Args::parse();
    let run = || -> Result<bool> {
        let expect = zkgate_verifier::Expect::from_args(
            a.question.as_deref(),
            a.schema.as_deref(),
            a.job.as_deref(),
            if a.require_ceremony {
                zkgate_verifier::CeremonyProof::Required
            } else {
                zkgate_verifier::CeremonyProof::None
            },
            &a.trust_ptau,
        )?;
        let checked = zkgate_verifier::verify_files(&a.receipt, &a.vk, chain(&a)?, &expect)?;
        println!("{}", checked.report(a.json));
        Ok(checked.valid())
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
