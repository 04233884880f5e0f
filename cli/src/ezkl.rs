//! `zkgate ezkl ...` and the ezkl side of `zkgate verify`: receipts proved
//! with ezkl (`proof_system: ezkl`), checked through ezkl's verifier run
//! by the Python named with `--ezkl-python`.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where ezkl is.
#[derive(Args, Clone, Debug)]
pub struct EzklArgs {
    /// A Python with `ezkl` and `onnx` installed (a venv's `bin/python`;
    /// `bench/peers/requirements.txt` pins the versions).
    #[arg(long, env = "ZKGATE_EZKL_PYTHON")]
    pub ezkl_python: Option<PathBuf>,
    /// The directory of KZG SRS files (`kzg{logrows}.srs`). A verifier
    /// verifies with its own copy: a public ceremony's file converted, or
    /// (insecure) one made with `zkgate ezkl srs`.
    #[arg(long, env = "ZKGATE_EZKL_SRS_DIR")]
    pub ezkl_srs_dir: Option<PathBuf>,
    /// Longest ezkl may run, seconds.
    #[arg(long, default_value_t = 3600)]
    pub ezkl_timeout_s: u64,
}

impl EzklArgs {
    /// The backend these name.
    pub fn backend(&self) -> Result<zkgate_ezkl::Backend> {
        let (Some(python), Some(srs_dir)) = (&self.ezkl_python, &self.ezkl_srs_dir) else {
            bail!("an ezkl receipt is checked by ezkl's verifier: give --ezkl-python (a Python with ezkl installed) and --ezkl-srs-dir (your SRS files)");
        };
        Ok(zkgate_ezkl::Backend {
            python: python.clone(),
            srs_dir: srs_dir.clone(),
            timeout: Duration::from_secs(self.ezkl_timeout_s),
            memory_mb: 0,
        })
    }
}

/// `zkgate ezkl`.
#[derive(Subcommand)]
pub enum EzklCmd {
    /// Write a local KZG SRS of 2^LOGROWS points (`kzg{LOGROWS}.srs`) into
    /// --ezkl-srs-dir. INSECURE: this process drew its secret, so whoever
    /// ran it could forge proofs over it; for tests and trials only.
    Srs {
        #[command(flatten)]
        ezkl: EzklArgs,
        /// The circuit size, as a power of two.
        #[arg(long)]
        logrows: u32,
    },
}

/// Runs `zkgate ezkl ...`.
pub fn run(cmd: EzklCmd) -> Result<()> {
    match cmd {
        EzklCmd::Srs { ezkl, logrows } => {
            let (path, sha) = ezkl.backend()?.make_srs(logrows)?;
            println!(
                "wrote {} (sha256 {sha}); INSECURE: made here, for tests and trials only",
                path.display()
            );
            Ok(())
        }
    }
}

/// `zkgate verify` of an ezkl receipt: needs the question, the model and
/// ezkl. Prints the verdict; returns whether the receipt is valid.
pub fn verify(
    receipt: &zkgate_statement::Receipt,
    question: Option<&Path>,
    model: Option<&Path>,
    ezkl: &EzklArgs,
    json: bool,
) -> Result<bool> {
    let (Some(qp), Some(model)) = (question, model) else {
        bail!("an ezkl receipt is checked against the question it answers and the model: give --question and --model (the circuit is rebuilt from both, never taken from the receipt)");
    };
    let q = zkgate_statement::Question::from_json(
        &std::fs::read(qp).with_context(|| format!("reading {}", qp.display()))?,
    )?;
    let backend = ezkl.backend()?;
    let outcome = zkgate_ezkl::verify_receipt(&backend, &q, receipt, model)?;
    let srs = match &outcome {
        Ok(zkgate_ezkl::Checked::Valid { srs_sha256, .. }) => Some(srs_sha256.clone()),
        _ => None,
    };
    let unchecked = [
        "the SRS: the proof was verified with your own SRS file; it is sound only if nobody knows that file's secret (a public ceremony's file, not one made with `zkgate ezkl srs`)",
        "ezkl quantizes on its own: the values are ezkl's, at its output scale",
    ];
    if json {
        println!(
            "{}",
            serde_json::json!({
                "valid": outcome.is_ok(),
                "proof_system": "ezkl",
                "invalid": outcome.as_ref().err(),
                "result": receipt.result,
                "srs_sha256": srs,
                "unchecked": unchecked,
            })
        );
    } else {
        match &outcome {
            Ok(_) => {
                println!("VALID (ezkl): {}", receipt.result);
                println!(
                    "  verified with the SRS of sha256 {}",
                    srs.unwrap_or_default()
                );
                for u in unchecked {
                    println!("  not checked: {u}");
                }
            }
            Err(why) => println!("INVALID: {why}"),
        }
    }
    Ok(outcome.is_ok())
}
