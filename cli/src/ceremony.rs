//! `zkgate ceremony`: phase-2 keys of a job's circuit over a powers-of-tau
//! file, made and extended by any party that holds the public facts (the
//! model, the dataset's declared schema and row count, the request), with
//! no Node and no data.

use crate::AggregateArgs;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Instant;
use zkgate_statement::field::fr_to_hex;
use zkgate_statement::quant::QuantConfig;
use zkgate_zkml::ceremony::{self, Ptau, Transcript};
use zkgate_zkml::job::{compile_public, JobRequest};
use zkgate_zkml::spec::CircuitSpec;

/// The circuit a ceremony is for, from public facts.
#[derive(Args)]
pub struct CircuitArgs {
    /// ONNX model.
    #[arg(long)]
    model: PathBuf,
    /// The dataset's declared schema (as `GET /v1/datasets` lists it).
    #[arg(long)]
    schema: PathBuf,
    /// The dataset's row count.
    #[arg(long)]
    rows: u64,
    #[command(flatten)]
    aggregate: AggregateArgs,
    /// Columns feeding the model, comma-separated, in its input order.
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Bits of the largest weight per layer.
    #[arg(long, default_value_t = QuantConfig::default().weight_bits)]
    weight_bits: u32,
    /// Bits of magnitude kept in activations.
    #[arg(long, default_value_t = QuantConfig::default().act_bits)]
    act_bits: u32,
    /// The powers-of-tau file (snarkjs `.ptau`, prepared for phase 2).
    #[arg(long)]
    ptau: PathBuf,
}

impl CircuitArgs {
    fn load(&self) -> Result<(CircuitSpec, Ptau)> {
        let model = zkgate_zkml::import::load(&self.model)
            .with_context(|| format!("loading {}", self.model.display()))?;
        let schema = crate::read_schema(&self.schema)?;
        let request = JobRequest {
            aggregate: self.aggregate.build()?,
            input_columns: self.columns.clone(),
            quant: QuantConfig {
                weight_bits: self.weight_bits,
                act_bits: self.act_bits,
                ..QuantConfig::default()
            },
            epsilon: self.aggregate.epsilon,
        };
        let spec = compile_public(
            &model.model,
            &model.onnx_sha256,
            &schema,
            self.rows,
            &request,
        )?;
        let ptau =
            Ptau::read(&self.ptau).with_context(|| format!("reading {}", self.ptau.display()))?;
        Ok((spec, ptau))
    }
}

/// `zkgate ceremony`.
#[derive(Subcommand)]
pub enum CeremonyCmd {
    /// The circuit's phase-2 key with delta = 1 and an empty transcript,
    /// as a snarkjs `.zkey` (anyone can recompute it; `snarkjs zkey new`
    /// over the exported `.r1cs` writes the same file; it must be
    /// contributed to before use).
    Init {
        #[command(flatten)]
        circuit: CircuitArgs,
        /// Where to write the key (`.zkey`).
        #[arg(long)]
        key_out: PathBuf,
    },
    /// Check a key and its transcript against the circuit, then add a
    /// secret contribution (the secret is never written). The key may have
    /// been extended by `snarkjs zkey contribute` too, and the result can
    /// be.
    Contribute {
        #[command(flatten)]
        circuit: CircuitArgs,
        /// The key so far (`.zkey`).
        #[arg(long)]
        key: PathBuf,
        /// The contributor's name, as the transcript and receipts show it
        /// (at most 64 bytes).
        #[arg(long)]
        name: String,
        /// Where to write the extended key.
        #[arg(long)]
        key_out: PathBuf,
    },
    /// Register the verifying key of a contributed ceremony key with the
    /// settlement contract (the researcher, before `chain open-job
    /// --verifier ID`): the job then settles only under this key.
    Register {
        #[command(flatten)]
        circuit: CircuitArgs,
        /// The contributed key (`.zkey`; its transcript is checked first).
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        chain: crate::chain::ChainArgs,
    },
    /// Write the circuit as an iden3 `.r1cs` file, for snarkjs
    /// (`snarkjs zkey new` over the same file makes the same key as
    /// `init`; `snarkjs zkey verify` checks a chain of contributions).
    ExportR1cs {
        #[command(flatten)]
        circuit: CircuitArgs,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a key and its transcript against the circuit, as `snarkjs
    /// zkey verify` does, and the key's well-formedness (exit 0 valid, 1
    /// invalid, 2 error).
    Verify {
        #[command(flatten)]
        circuit: CircuitArgs,
        /// The key (`.zkey`).
        #[arg(long)]
        key: PathBuf,
        /// Also write its transcript as JSON here (what a receipt's
        /// verifier needs: `zkgate verify --transcript`).
        #[arg(long)]
        transcript_out: Option<PathBuf>,
    },
}

/// Reads a ceremony key (`.zkey`) with its transcript.
pub fn read_key(key: &Path) -> Result<(ceremony::Key, Transcript)> {
    let k = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
    ceremony::read(&k).with_context(|| format!("reading {}", key.display()))
}

/// Reads a ceremony transcript: a `.zkey` (its section 10) or the JSON
/// `zkgate ceremony verify --transcript-out` writes.
pub fn read_transcript(path: &Path) -> Result<Transcript> {
    let b = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if b.starts_with(b"zkey") {
        return Ok(ceremony::read(&b)
            .with_context(|| format!("reading {}", path.display()))?
            .1);
    }
    serde_json::from_slice(&b).with_context(|| format!("reading {}", path.display()))
}

fn write_key(
    k: &ceremony::Key,
    t: &Transcript,
    r1cs: &ceremony::R1cs,
    key: &Path,
) -> Result<usize> {
    let bytes = ceremony::write(k, t, r1cs)?;
    std::fs::write(key, &bytes).with_context(|| format!("writing {}", key.display()))?;
    Ok(bytes.len())
}

pub fn ceremony(cmd: CeremonyCmd) -> Result<bool> {
    match cmd {
        CeremonyCmd::Init { circuit, key_out } => {
            let (spec, ptau) = circuit.load()?;
            let t = Instant::now();
            let r1cs = ceremony::r1cs_of(&spec)?;
            let key = ceremony::initial_key(&r1cs, &ptau)?;
            let transcript = Transcript::new(&key, &ptau)?;
            let bytes = write_key(&key, &transcript, &r1cs, &key_out)?;
            println!(
                "{}",
                serde_json::json!({
                    "circuit_id": fr_to_hex(spec.id()), "r1cs_sha256": hex::encode(r1cs.sha256()),
                    "cs_hash": hex::encode(transcript.cs_hash),
                    "constraints": r1cs.constraints(), "domain": r1cs.domain(),
                    "key_bytes": bytes, "seconds": t.elapsed().as_secs_f64(),
                })
            );
            Ok(true)
        }
        CeremonyCmd::Contribute {
            circuit,
            key,
            name,
            key_out,
        } => {
            let (spec, ptau) = circuit.load()?;
            let (mut k, mut t) = read_key(&key)?;
            let start = Instant::now();
            let r1cs = ceremony::r1cs_of(&spec)?;
            t.verify(&k, &r1cs, &ptau)
                .context("the key is not this circuit's, or its transcript does not hold")?;
            let checked = start.elapsed().as_secs_f64();
            ceremony::contribute(&mut k, &mut t, &name, &mut rand::rngs::OsRng)?;
            let bytes = write_key(&k, &t, &r1cs, &key_out)?;
            println!(
                "{}",
                serde_json::json!({
                    "contributors": t.contributors(), "transcript_sha256": t.sha256(),
                    "contribution_hash": t.contributions.last().map(|c| hex::encode(c.hash())),
                    "key_bytes": bytes, "check_seconds": checked,
                    "seconds": start.elapsed().as_secs_f64(),
                })
            );
            Ok(true)
        }
        CeremonyCmd::Register {
            circuit,
            key,
            chain,
        } => {
            let (spec, ptau) = circuit.load()?;
            let (k, t) = read_key(&key)?;
            t.verify(&k, &ceremony::r1cs_of(&spec)?, &ptau)
                .context("the key is not this circuit's, or its transcript does not hold")?;
            let vk = zkgate_zkml::prove::verifying_key(&k);
            let bundle = zkgate_chain::settlement::Bundle::for_circuit(spec.header(), &vk)?;
            let target = chain.target()?;
            let s = target.settlement()?;
            let wallet = target.wallet(1)?;
            let rt = tokio::runtime::Runtime::new()?;
            let (id, r) = rt.block_on(s.register_verifier(&wallet, &bundle))?;
            println!(
                "{}",
                serde_json::json!({
                    "verifier": id.to_string(), "tx": r.hash.to_string(), "gas_used": r.gas_used,
                    "transcript_sha256": t.sha256(),
                })
            );
            Ok(true)
        }
        CeremonyCmd::ExportR1cs { circuit, out } => {
            let (spec, _) = circuit.load()?;
            let r1cs = ceremony::r1cs_of(&spec)?;
            std::fs::write(&out, ceremony::snarkjs::r1cs_bytes(&r1cs))
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {}: {} constraints, {} wires",
                out.display(),
                r1cs.constraints(),
                r1cs.variables()
            );
            Ok(true)
        }
        CeremonyCmd::Verify {
            circuit,
            key,
            transcript_out,
        } => {
            let (spec, ptau) = circuit.load()?;
            let (k, t) = read_key(&key)?;
            let r1cs = ceremony::r1cs_of(&spec)?;
            match t.verify(&k, &r1cs, &ptau) {
                Ok(()) => {
                    if let Some(out) = transcript_out {
                        std::fs::write(&out, serde_json::to_string_pretty(&t)?)
                            .with_context(|| format!("writing {}", out.display()))?;
                    }
                    println!(
                        "valid: the key of circuit {} by {}; transcript {}",
                        fr_to_hex(spec.id()),
                        t.contributors().join(", "),
                        t.sha256()
                    );
                    Ok(true)
                }
                Err(e) => {
                    println!("INVALID: {e}");
                    Ok(false)
                }
            }
        }
    }
}
