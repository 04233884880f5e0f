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
    /// A model-family circuit's bounds (TERM_LOG2:WEIGHT_LOG2:BIAS_LOG2):
    /// its key serves every model of the architecture within them.
    #[arg(long, value_parser = crate::parse_family)]
    family: Option<zkgate_statement::quant::Family>,
    /// The powers-of-tau file (snarkjs `.ptau`, prepared for phase 2).
    #[arg(long)]
    ptau: PathBuf,
    /// The gateway's largest shard (`GET /v1/datasets` lists the size it
    /// uses for the dataset): one circuit of the plan's shard size proves
    /// every shard, the last padded. Default: one proof, at the shard
    /// ladder's size.
    #[arg(long)]
    shard_rows: Option<u64>,
}

impl CircuitArgs {
    /// The circuit of the job's shard plan (one proves every shard).
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
                family: self.family,
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
        let plan = spec.shard_plan(self.rows, self.shard_rows.filter(|r| *r > 0));
        Ok((spec.with_shard_rows(plan.size()), ptau))
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
    /// Register the verifying keys of contributed ceremony keys with the
    /// settlement contract (the researcher, before `chain open-job
    /// --verifier ID`): the job then settles only under these keys.
    Register {
        #[command(flatten)]
        circuit: CircuitArgs,
        /// The contributed key (`.zkey`; its transcript is checked first)
        /// of the plan's circuit, which proves every shard.
        #[arg(long, required = true)]
        key: Vec<PathBuf>,
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
    /// Write a powers-of-tau file for local tests and demonstrations, in
    /// seconds (snarkjs's `powersoftau new`, `contribute` and `prepare
    /// phase2` take about 20 minutes at power 16). Its secrets are drawn
    /// here and dropped, but nobody else can tell: every receipt made over
    /// it says it is not a public file, and `zkgate verify
    /// --require-ceremony` refuses it unless told to trust it
    /// (`--trust-ptau`). Use a public file (`ptau-info` names them) for
    /// anything real.
    LocalPtau {
        /// The file's power: keys of circuits up to `2^(power-1)`
        /// constraints and inputs.
        #[arg(long)]
        power: u32,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Read a powers-of-tau file (snarkjs's format, prepared for phase 2,
    /// such as the public `powersOfTau28_hez_final_NN.ptau`) and say what
    /// it is: its power, the largest circuit its keys cover, its BLAKE2b
    /// and whether it is one of the public files.
    PtauInfo {
        /// The file.
        #[arg(long)]
        ptau: PathBuf,
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
                    "circuit_id": fr_to_hex(spec.id()), "key_id": fr_to_hex(spec.key_id()),
                    "r1cs_sha256": hex::encode(r1cs.sha256()),
                    "cs_hash": hex::encode(transcript.cs_hash),
                    "constraints": r1cs.constraints(), "domain": r1cs.domain(),
                    "shard_rows": spec.header().shard_rows,
                    "ptau": ptau.describe(),
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
                    "vk_sha256": zkgate_statement::groth16::vk_sha256(&zkgate_zkml::prove::verifying_key(&k)),
                    "ptau": ptau.describe(),
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
            let specs = [spec];
            let read = key
                .iter()
                .map(|k| read_key(k))
                .collect::<Result<Vec<_>>>()?;
            let ceremonies: Vec<ceremony::Ceremony> = read
                .iter()
                .map(|(key, transcript)| ceremony::Ceremony {
                    ptau: &ptau,
                    key,
                    transcript,
                })
                .collect();
            let matched = ceremony::match_keys(&ceremonies, &specs)
                .context("the keys are not this plan's circuits', or a transcript does not hold")?;
            let vks: Vec<_> = matched
                .iter()
                .map(|(c, s)| {
                    (
                        s.header().shard_rows,
                        zkgate_zkml::prove::verifying_key(c.key),
                    )
                })
                .collect();
            let bundle = zkgate_chain::settlement::Bundle::for_circuits(
                specs[0].header(),
                vks.iter().map(|(r, vk)| (*r, vk)).collect(),
            )?;
            let t = &read[0].1;
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
        CeremonyCmd::LocalPtau { power, out } => {
            if !(1..=24).contains(&power) {
                anyhow::bail!("--power is 1 to 24 for a local file");
            }
            let t = Instant::now();
            let bytes = ceremony::ptau::write_random(power, &mut rand::rngs::OsRng);
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            let ptau = Ptau::from_bytes(bytes)?;
            println!(
                "{}",
                serde_json::json!({
                    "ptau": out.display().to_string(), "power": power,
                    "bytes": std::fs::metadata(&out)?.len(),
                    "blake2b": hex::encode(ptau.blake2b), "public": false,
                    "seconds": t.elapsed().as_secs_f64(),
                    "note": "a local file: not a public powers of tau; receipts over it say so and `zkgate verify --require-ceremony` refuses it without --trust-ptau",
                })
            );
            Ok(true)
        }
        CeremonyCmd::PtauInfo { ptau } => {
            let p = Ptau::read(&ptau).with_context(|| format!("reading {}", ptau.display()))?;
            println!(
                "{}",
                serde_json::json!({
                    "ptau": ptau.display().to_string(), "power": p.power,
                    "max_domain": 1u64 << p.power.saturating_sub(1),
                    "blake2b": hex::encode(p.blake2b), "sha256": hex::encode(p.sha256),
                    "public": p.public_name(), "describe": p.describe(),
                })
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
