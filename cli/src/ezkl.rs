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
    /// The solc-js package that compiles an ezkl verifier contract (the
    /// pinned one: `contracts/node_modules/solc` after `npm ci --prefix
    /// contracts`), run by `node`: for ezkl jobs settled on chain.
    #[arg(long, env = "ZKGATE_SOLC_JS")]
    pub solc_js: Option<PathBuf>,
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
            max_logrows: None,
            make_srs: false,
        })
    }
}

impl EzklArgs {
    /// The verifier contract ezkl renders for question `q`'s graph of
    /// `model` over this SRS, compiled with the pinned solc-js.
    pub fn verifier(
        &self,
        q: &zkgate_statement::Question,
        model: &[u8],
    ) -> Result<(zkgate_ezkl::EvmVerifier, String, u32)> {
        let Some(solc) = &self.solc_js else {
            bail!("an ezkl job settled on chain pins the verifier contract it derives here: give --solc-js (contracts/node_modules/solc after `npm ci --prefix contracts`)");
        };
        let graph = zkgate_statement::ezkl::GraphSpec::new(&q.expected_circuit, q.dataset.rows)?;
        let file = tempfile::NamedTempFile::new()?;
        std::fs::write(file.path(), model)?;
        let (source, logrows) = self.backend()?.verifier_source(&graph, file.path())?;
        let v = zkgate_ezkl::compile_verifier(solc, &source)?;
        Ok((v, source, logrows))
    }

    /// Pins the verifier contract of on-chain ezkl question `q`.
    pub fn pin_verifier(&self, q: &mut zkgate_statement::Question, model: &[u8]) -> Result<()> {
        let (v, _, _) = self.verifier(q, model)?;
        v.check_deployable()?;
        q.ezkl_verifier = Some(v.code_hash_hex());
        q.check_self()?;
        Ok(())
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
    /// Derive the verifier contract of an ezkl question (its graph over
    /// your SRS, the key made as the prover makes it, rendered by ezkl and
    /// compiled with the pinned solc-js): prints its code hash, which an
    /// on-chain ezkl job pins (`ezkl_verifier`). `zkgate submit
    /// --proof-system ezkl --chain-dataset` does this itself.
    Verifier {
        #[command(flatten)]
        ezkl: EzklArgs,
        /// The question (JSON).
        #[arg(long)]
        question: PathBuf,
        /// The model it names.
        #[arg(long)]
        model: PathBuf,
        /// Write the contract's Solidity source and its creation code
        /// (hex) into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Rewrite the question with the code hash pinned.
        #[arg(long)]
        pin: bool,
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
        EzklCmd::Verifier {
            ezkl,
            question,
            model,
            out,
            pin,
        } => {
            let text = std::fs::read(&question)
                .with_context(|| format!("reading {}", question.display()))?;
            let mut q: zkgate_statement::Question = serde_json::from_slice(&text)?;
            let model_bytes =
                std::fs::read(&model).with_context(|| format!("reading {}", model.display()))?;
            let (v, source, logrows) = ezkl.verifier(&q, &model_bytes)?;
            if let Some(dir) = &out {
                std::fs::create_dir_all(dir)?;
                std::fs::write(dir.join("Verifier.sol"), &source)?;
                std::fs::write(dir.join("Verifier.bin"), hex::encode(&v.creation))?;
            }
            println!(
                "{}",
                serde_json::json!({
                    "code_hash": v.code_hash_hex(),
                    "logrows": logrows,
                    "runtime_bytes": v.runtime.len(),
                    "deployable": v.deployable(),
                    "compiler": v.compiler,
                })
            );
            if pin {
                v.check_deployable()?;
                q.ezkl_verifier = Some(v.code_hash_hex());
                q.check_self()?;
                std::fs::write(&question, q.to_json())
                    .with_context(|| format!("writing {}", question.display()))?;
            }
            Ok(())
        }
    }
}

/// Whether on-chain job `id` settled with `receipt` for question `q`: its
/// question, its verifier (the code the question pins) and its values.
fn settled_on_chain(
    s: &zkgate_chain::Settlement,
    id: u64,
    q: &zkgate_statement::Question,
    receipt: &zkgate_statement::Receipt,
) -> Result<std::result::Result<(), String>> {
    use zkgate_chain::alloy_primitives::B256;
    let rt = tokio::runtime::Runtime::new()?;
    let (job, values) =
        rt.block_on(async { Ok::<_, anyhow::Error>((s.job(id).await?, s.result(id).await?)) })?;
    if job.status != zkgate_chain::abi::Status::Settled {
        return Ok(Err(format!(
            "on-chain job {id} is not settled ({:?})",
            job.status
        )));
    }
    if job.question != B256::from(q.hash()) {
        return Ok(Err(format!(
            "on-chain job {id} was opened for another question"
        )));
    }
    let code = q
        .ezkl_verifier
        .as_deref()
        .and_then(|h| hex::decode(h.trim_start_matches("0x")).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(|b| zkgate_chain::settlement::ezkl_code_id(B256::from(b)));
    let named = code.map(|c| B256::from(zkgate_chain::evm::word(&c)));
    if named != Some(job.verifier) {
        return Ok(Err(format!(
            "on-chain job {id} settled under verifier {}, not the one the question pins",
            job.verifier
        )));
    }
    let ours: Vec<i128> = receipt
        .values
        .iter()
        .map(|v| v.parse())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("the receipt's values are not integers"))?;
    if values != zkgate_chain::settlement::values_as_words(&ours) {
        return Ok(Err(format!(
            "on-chain job {id} settled with other values than the receipt's"
        )));
    }
    Ok(Ok(()))
}

/// `zkgate verify` of an ezkl receipt: needs the question, the model and
/// ezkl; with `chain`, also that the on-chain job settled with it. Prints
/// the verdict; returns whether the receipt is valid.
pub fn verify(
    receipt: &zkgate_statement::Receipt,
    question: Option<&Path>,
    model: Option<&Path>,
    ezkl: &EzklArgs,
    chain: Option<(zkgate_chain::Settlement, u64)>,
    json: bool,
) -> Result<bool> {
    let (Some(qp), Some(model)) = (question, model) else {
        bail!("an ezkl receipt is checked against the question it answers and the model: give --question and --model (the circuit is rebuilt from both, never taken from the receipt)");
    };
    let q = zkgate_statement::Question::from_json(
        &std::fs::read(qp).with_context(|| format!("reading {}", qp.display()))?,
    )?;
    let backend = ezkl.backend()?;
    let mut outcome = zkgate_ezkl::verify_receipt(&backend, &q, receipt, model)?;
    let mut settled = None;
    if let (Ok(_), Some((s, id))) = (&outcome, &chain) {
        match settled_on_chain(s, *id, &q, receipt)? {
            Ok(()) => settled = Some(*id),
            Err(why) => outcome = Err(why),
        }
    }
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
                "settled_on_chain_job": settled,
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
                if let Some(id) = settled {
                    println!("  settled on chain as job {id}, with these values, under the verifier the question pins");
                }
                for u in unchecked {
                    println!("  not checked: {u}");
                }
            }
            Err(why) => println!("INVALID: {why}"),
        }
    }
    Ok(outcome.is_ok())
}
