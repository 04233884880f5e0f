//! `zkgate-verify`: checks a zkgate receipt against its verifying keys, and
//! optionally that an on-chain job settled with it. Exit codes: 0 valid,
//! 1 invalid, 2 error.
#![forbid(unsafe_code)]

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use zkgate_chain::alloy_primitives::Address;
use zkgate_chain::{Chain, Settlement};

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
    #[arg(long, requires = "contract")]
    chain_job: Option<u64>,
    /// The Settlement contract.
    #[arg(long)]
    contract: Option<Address>,
    /// A JSON-RPC node (`http://` or `https://`).
    #[arg(long, conflicts_with = "chain_state")]
    chain_rpc: Option<String>,
    /// CA certificate (PEM) of an `https://` node.
    #[arg(long)]
    chain_ca: Option<PathBuf>,
    /// Or an embedded chain's state file (a gateway data dir's
    /// `chain/state.json`).
    #[arg(long)]
    chain_state: Option<PathBuf>,
}

fn chain(a: &Args) -> Result<Option<(Settlement, u64)>> {
    let (Some(job), Some(contract)) = (a.chain_job, a.contract) else {
        return Ok(None);
    };
    let chain = match (&a.chain_rpc, &a.chain_state) {
        (Some(url), _) => {
            let tls = match &a.chain_ca {
                Some(f) => {
                    let pem =
                        std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
                    Some(zkgate_chain::rpc::tls_with_ca(&pem)?)
                }
                None => None,
            };
            Chain::rpc(url, tls)?
        }
        (None, Some(state)) => Chain::embedded(state)?,
        (None, None) => bail!("--chain-job needs --chain-rpc URL or --chain-state FILE"),
    };
    Ok(Some((Settlement::at(chain, contract), job)))
}

fn main() -> ExitCode {
    let a = Args::parse();
    let run = || -> Result<bool> {
        let checked = zkgate_verifier::verify_files(&a.receipt, &a.vk, chain(&a)?)?;
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
