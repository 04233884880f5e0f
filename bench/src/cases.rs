//! The benchmark cases: proves the fixture models at several sizes and prints one
//! JSON object per case. Each case runs in its own child process so that its
//! peak RSS is its own.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use zkgate_statement::{nonce_from, Aggregate, Statement};
use zkgate_zkml::dataset::{declared_schema, Dataset, Secret};
use zkgate_zkml::job::JobRequest;
use zkgate_zkml::pipeline::{self, LocalJob};
use zkgate_zkml::prove;

/// Flags of `zkgate bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Fixture directory.
    #[arg(long, default_value = "fixtures")]
    fixtures: PathBuf,
    /// Cases as MODEL:ROWS or MODEL:ROWS@SHARD_ROWS (default: the standard
    /// set).
    #[arg(long, value_delimiter = ',')]
    cases: Option<Vec<String>>,
    /// Only the small cases.
    #[arg(long)]
    quick: bool,
    /// Also time ark-groth16's own key generator on the first shard's
    /// circuit, next to ours (`ark_setup_s`).
    #[arg(long)]
    ark_setup: bool,
    /// Also settle each case's receipt on a fresh embedded chain and report
    /// the gas of every call (`settlement`), the proof verification's next
    /// to the precompiles' floor.
    #[arg(long)]
    settle: bool,
    /// Also run a phase-2 ceremony for each (one-shard) case over a local
    /// powers-of-tau file: each party's time and bytes, and the proof with
    /// the ceremony key next to one with keys made here (`ceremony`).
    #[arg(long)]
    ceremony: bool,
    /// Release every case with differential-privacy noise at this epsilon:
    /// each also reports the noise (`privacy`: sensitivity, standard
    /// deviation and mean absolute error over 1,000 seeds, in the result's
    /// units, next to the exact result) and its constraints.
    #[arg(long)]
    epsilon: Option<f64>,
    /// Times each prover proves the first shard again, alternating, for
    /// `first_shard` (the median of each is reported, with every sample).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    rounds: u16,
    /// Also prove each case's job with ezkl, with this Python (ezkl
    /// installed; a local SRS of each size is made, not timed as part of
    /// the job): its setup, proof, verification, memory and bytes
    /// (`ezkl`), next to the Groth16 figures.
    #[arg(long)]
    ezkl_python: Option<PathBuf>,
    /// With --ezkl-python: also settle the ezkl proof on a fresh embedded
    /// chain through its verifier contract, compiled with this solc-js
    /// (`contracts/node_modules/solc`), and report the gas.
    #[arg(long)]
    solc_js: Option<PathBuf>,
    /// With --ezkl-python: only size each case's ezkl circuit (ezkl's
    /// calibration, no key, no proof): its power of two, for the limits.
    #[arg(long)]
    ezkl_size: bool,
    /// Only estimate each case's constraints per row in a model-family
    /// circuit (weights private, committed by a hash the question pins),
    /// against its circuit with the weights as constants: from the public
    /// circuit, nothing proved (`zkgate_zkml::cost::family`).
    #[arg(long)]
    family_cost: bool,
    /// Prove each case with its model-family circuit (the weights private
    /// within bounds fitted with a bit of headroom, `zkgate inspect`'s),
    /// not the circuit with the weights as constants.
    #[arg(long)]
    family: bool,
    /// Run one case in this process (used by the parent run).
    #[arg(long, hide = true)]
    one: Option<String>,
}

struct Model {
    name: &'static str,
    /// `models` (hand-built) or `exports` (real exports, unchanged).
    dir: &'static str,
    data: &'static str,
    aggregate: fn() -> Aggregate,
    columns: fn(&Dataset) -> Option<Vec<String>>,
}

fn features(prefix: &'static str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

const MODELS: &[Model] = &[
    Model {
        dir: "models",
        name: "linreg",
        data: "tabular.csv",
        aggregate: || Aggregate::Mean,
        columns: |_| Some(features("f", 13)),
    },
    Model {
        dir: "models",
        name: "mlp",
        data: "tabular.csv",
        aggregate: || Aggregate::Mean,
        columns: |_| Some(features("f", 13)),
    },
    Model {
        dir: "models",
        name: "breast_cancer",
        data: "breast_cancer.csv",
        aggregate: || Aggregate::Confusion {
            label: "label".into(),
        },
        columns: |_| None,
    },
    Model {
        dir: "models",
        name: "digits",
        data: "digits.csv",
        aggregate: || Aggregate::Confusion {
            label: "label".into(),
        },
        columns: |_| None,
    },
    Model {
        dir: "models",
        name: "mnist_mlp",
        data: "digits28.csv",
        aggregate: || Aggregate::Accuracy {
            label: "label".into(),
        },
        columns: |_| None,
    },
    Model {
        dir: "models",
        name: "lenet_small",
        data: "digits28.csv",
        aggregate: || Aggregate::Accuracy {
            label: "label".into(),
        },
        columns: |_| None,
    },
];

/// A real export over breast_cancer.csv (every column but the label) or
/// tabular.csv.
const fn export(name: &'static str, classifier: bool) -> Model {
    if classifier {
        Model {
            dir: "exports",
            name,
            data: "breast_cancer.csv",
            aggregate: || Aggregate::Confusion {
                label: "label".into(),
            },
            columns: |_| None,
        }
    } else {
        Model {
            dir: "exports",
            name,
            data: "tabular.csv",
            aggregate: || Aggregate::Mean,
            columns: |_| Some(features("f", 13)),
        }
    }
}

const EXPORTS: &[Model] = &[
    export("sk_logreg", true),
    export("sk_mlp_classifier", true),
    export("sk_mlp_regressor", false),
    export("sk_random_forest", true),
    export("sk_random_forest_regressor", false),
    export("sk_gradient_boosting", true),
    export("xgboost", true),
    export("lightgbm", true),
    export("torch_mlp", true),
    export("torch_tanh_mlp", true),
    export("torch_sigmoid_regressor", false),
    export("elu_selu_mlp", true),
    export("softplus_hardswish_mlp", true),
    export("conv1d_gap", true),
    export("routing_mlp", true),
    export("sk_binarizer_logreg", true),
    export("sk_column_transformer", true),
    export("sk_linear_svc", true),
    export("sk_svc_linear", true),
    export("sk_extra_trees", true),
    export("sk_svr_linear", false),
    export("sk_onehot_ridge", false),
    Model {
        dir: "exports",
        name: "sk_gradient_boosting_multiclass",
        data: "digits.csv",
        aggregate: || Aggregate::Confusion {
            label: "label".into(),
        },
        columns: |_| None,
    },
    Model {
        dir: "exports",
        name: "torch_cnn",
        data: "digits28.csv",
        aggregate: || Aggregate::Accuracy {
            label: "label".into(),
        },
        columns: |_| None,
    },
];

const STANDARD: &[&str] = &[
    "linreg:64",
    "mlp:64",
    "mlp:256",
    "mlp:1024",
    "breast_cancer:569",
    "mnist_mlp:16",
    "lenet_small:4",
    "policy:2000",
];
const QUICK: &[&str] = &["linreg:64", "mlp:64", "breast_cancer:64", "policy:500"];

/// `rows` rows of a CSV; with `repeat`, a file with fewer rows is read
/// again from its first row as often as needed (the scaling cases: proving
/// cost does not depend on the values). Returns the dataset and how many of
/// its rows are distinct lines of the file.
fn rows_of_csv(path: &Path, rows: usize, repeat: bool) -> Result<(Dataset, usize)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().context("empty CSV")?;
    let data: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    if data.len() < rows && !repeat {
        bail!("{} has fewer than {rows} rows", path.display());
    }
    let mut kept = vec![header];
    kept.extend(data.iter().cycle().take(rows));
    Ok((
        Dataset::from_csv_reader(kept.join("\n").as_bytes(), &declared_schema(path)?)?,
        rows.min(data.len()),
    ))
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Policy evaluation per request, for each shipped profile: admission of
/// the breast-cancer job (facts read off the real model), release of an
/// accuracy (no cells) and of a 2x2 confusion matrix with two small cells
/// (per-cell rules, the threshold search and the complement check).
fn policy_bench(fixtures: &Path, iterations: usize) -> Result<serde_json::Value> {
    use zkgate_policies::{
        Admission, DatasetFacts, Engine, JobFacts, Release, Researcher, PROFILES,
    };
    let model = zkgate_zkml::import::load(fixtures.join("models/breast_cancer.onnx"))?;
    let columns: Vec<String> = (0..31).map(|i| format!("c{i}")).collect();
    let admission = Admission {
        researcher: Researcher {
            name: "alice".into(),
            organisation: "oncology".into(),
            trust: 2,
        },
        dataset: DatasetFacts {
            name: "breast_cancer".into(),
            rows: 569,
            columns: columns.clone(),
        },
        model: zkgate_gateway::policy::model_facts(&model, Some(667_200), Some(2_000)),
        job: JobFacts {
            proof_system: "groth16".into(),
            aggregate: "confusion".into(),
            rows: 569,
            columns,
            jobs_today: 3,
            epsilon: 1.0,
            epsilon_spent: 2.0,
            epsilon_left: 8.0,
        },
    };
    let time = |f: &dyn Fn()| {
        let t = Instant::now();
        for _ in 0..iterations {
            f();
        }
        t.elapsed().as_secs_f64() * 1e6 / iterations as f64
    };
    let mut profiles = serde_json::Map::new();
    for (name, _) in PROFILES {
        let e = Engine::profile(name).context("shipped profile")?;
        let plain = Release {
            admission: admission.clone(),
            cells: vec![],
            contributors: 569,
        };
        let cells = Release {
            admission: admission.clone(),
            cells: vec![210, 2, 1, 356],
            contributors: 569,
        };
        profiles.insert(
            name.into(),
            serde_json::json!({
                "rules": e.rules().len(),
                "admit_us": time(&|| { std::hint::black_box(e.admit(&admission)); }),
                "release_us": time(&|| { std::hint::black_box(e.release(&plain)); }),
                "release_4_cells_us": time(&|| { std::hint::black_box(e.release(&cells)); }),
                "decision_4_cells": format!("{:?}", e.release(&cells)),
            }),
        );
    }
    Ok(serde_json::json!({
        "model": "policy",
        "iterations": iterations,
        "profiles": profiles,
        "peak_rss_mb": peak_rss_mb(),
    }))
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    fixtures: &Path,
    case: &str,
    ark_setup: bool,
    settle: bool,
    ceremony: bool,
    epsilon: Option<f64>,
    rounds: u16,
    ezkl: Option<&crate::ezkl::EzklBench<'_>>,
    family: bool,
    family_circuit: bool,
) -> Result<serde_json::Value> {
    let (name, rest) = case
        .split_once(':')
        .context("cases are MODEL:ROWS or MODEL:ROWS@SHARD_ROWS")?;
    let (rows, shard_rows) = match rest.split_once('@') {
        Some((r, s)) => (
            r,
            Some(s.parse::<u64>().context("SHARD_ROWS must be a number")?),
        ),
        None => (rest, None),
    };
    let rows: usize = rows.parse().context("ROWS must be a number")?;
    if name == "policy" {
        return policy_bench(fixtures, rows.max(1));
    }
    if name == "load" {
        // MODEL:ROWS reads as load:CLIENTS here.
        // A fresh data dir, removed however the run ends.
        let dir = tempfile::Builder::new().prefix("zkgate-load-").tempdir()?;
        return tokio::runtime::Runtime::new()?.block_on(crate::load::run(
            dir.path(),
            fixtures,
            rows.max(1),
            60,
        ));
    }
    let m = MODELS
        .iter()
        .chain(EXPORTS)
        .find(|m| m.name == name)
        .with_context(|| format!("unknown model `{name}`"))?;
    let model = zkgate_zkml::import::load(fixtures.join(m.dir).join(format!("{name}.onnx")))?;
    let trees = model.model.ops.iter().find_map(|op| match op {
        zkgate_zkml::ir::Op::Trees(e) => Some(e.trees.len()),
        _ => None,
    });
    let (dataset, distinct) = rows_of_csv(
        &fixtures.join("data").join(m.data),
        rows,
        shard_rows.is_some(),
    )?;
    let mut request = JobRequest {
        aggregate: (m.aggregate)(),
        input_columns: (m.columns)(&dataset),
        quant: Default::default(),
        epsilon,
    };
    // A job's public circuit (no rows read, nothing proved).
    let compile = |request: &JobRequest| {
        zkgate_zkml::job::compile_public(
            &model.model,
            &model.onnx_sha256,
            &dataset.schema,
            rows as u64,
            request,
        )
    };
    if family_circuit {
        // The family bounds this model fits, with a bit of headroom (what
        // `zkgate inspect` suggests).
        let constant = compile(&request)?;
        request.quant.family = Some(zkgate_zkml::job::fit_family(&model.model, &constant, 1)?);
    }
    // The job's circuit, for the estimates that need no proof.
    let public = || compile(&request);
    if family {
        let spec = public()?;
        let f = zkgate_zkml::cost::family(&spec);
        // Per row of the circuit, its commitment's opening included (the
        // same in both).
        let now = zkgate_zkml::cost::constraints(&spec) as f64 / spec.shard_rows as f64;
        let mut out = serde_json::json!({
            "model": name,
            "rows": rows,
            "shard_rows": spec.shard_rows,
            "constraints_per_row": now,
            "model_per_row": f.per_row,
        });
        // The family circuit itself where the model has one (linear
        // layers): its bounds fitted with a bit of headroom, its
        // constraints counted from the built circuit's parts (the tests
        // check the count), and how far its outputs stay from float
        // against the constant-weight circuit's.
        let fitted = zkgate_zkml::job::family_circuit(
            &model.model,
            &model.onnx_sha256,
            &spec,
            &request,
            rows as u64,
            1,
        );
        match fitted {
            Ok((fam, fspec)) => {
                let family =
                    zkgate_zkml::cost::constraints(&fspec) as f64 / fspec.shard_rows as f64;
                let agree = |s: &zkgate_zkml::spec::CircuitSpec| -> Result<serde_json::Value> {
                    let eval = zkgate_zkml::spec::evaluate(s, &dataset.values)?;
                    Ok(serde_json::to_value(zkgate_zkml::reference::agreement(
                        &model, &dataset, s, &eval,
                    )?)?)
                };
                out["family"] = serde_json::json!({
                    "bounds": format!("{}:{}:{}", fam.term_log2, fam.weight_log2, fam.bias_log2),
                    "built": true,
                    "constraints_per_row": family,
                    "model_per_row": zkgate_zkml::cost::per_row(&fspec),
                    "weights_per_shard": zkgate_zkml::cost::weights_cost(&fspec),
                    "over_constants": family / now,
                    "agreement": agree(&fspec)?,
                    "agreement_constants": agree(&spec)?,
                });
            }
            Err(e) => {
                // No family circuit (trees): the estimate of one.
                let family = now
                    + (f.family_per_row() - f.per_row) as f64
                    + f.per_shard as f64 / spec.shard_rows as f64;
                out["family"] = serde_json::json!({
                    "built": false,
                    "why": e.to_string(),
                    "estimated_constraints_per_row": family,
                    "estimated_over_constants": family / now,
                    "tree_checks": f.tree_checks,
                    "tree_now": f.tree_now,
                });
            }
        }
        return Ok(out);
    }
    if let Some(e) = ezkl.filter(|e| e.size_only) {
        // Sizing only: the job's public circuit and ezkl's calibration of
        // its graph.
        let spec = public()?;
        let onnx = fixtures.join(m.dir).join(format!("{name}.onnx"));
        let size = crate::ezkl::size(e, spec.header(), &onnx, rows as u64)
            .unwrap_or_else(|e| serde_json::json!({ "error": format!("{e:#}") }));
        return Ok(serde_json::json!({
            "model": name,
            "rows": rows,
            "aggregate": request.aggregate,
            "groth16_constraints": zkgate_zkml::cost::Estimate::of(&spec, rows as u64, None).constraints,
            "ezkl": size,
        }));
    }
    let mut rng = rand::rngs::OsRng;
    let secret = Secret::random(&mut rng);
    let chain = if settle {
        Some(crate::gas::GasBench::open(&dataset, &secret)?)
    } else {
        None
    };
    let nonce = match &chain {
        Some(c) => c.nonce,
        None => nonce_from(case.as_bytes()),
    };
    let out = pipeline::run(
        LocalJob {
            shard_rows,
            ..LocalJob::new(&model, &dataset, &secret, &request, nonce)
        },
        &mut rng,
        &mut |_| {},
    )?;
    let settlement = chain.map(|c| c.settle(&out)).transpose()?;
    let vk_bytes = out.vk_bytes();
    let t = Instant::now();
    let verdict = out.receipt.verify(&vk_bytes)?;
    let verify_ms = t.elapsed().as_secs_f64() * 1e3;
    let r = &out.receipt;
    let total = r.constraints["total"];
    let prove_s = r.timings.get("prove_s").copied().unwrap_or(0.0);
    let padding = r.shards.len() as u64 * r.circuit.shard_rows - rows as u64;
    // What the padding rows cost: each through the model, its share
    // masked (a product per value), its flag (2) and its packed elements
    // masked; their range checks, and the Poseidon calls (with their
    // one-hot products) that absorb them.
    let shape = out.spec.shape(r.rows);
    let size = r.circuit.shard_rows;
    let calls = |rows: u64| shape.absorb_cost(rows) + shape.calls(rows);
    let padding_constraints = padding as usize
        * (zkgate_zkml::cost::per_row(&out.spec)
            + out.spec.aggregate_len()
            + 2
            + shape.elements_per_row())
        + calls(size)
        - calls(size - padding);
    // The job's peak, before the first shard is proved again below.
    let peak = peak_rss_mb();
    let floor = msm_floor(&out, &dataset, &secret, rounds)?;
    let ark_setup_s = if ark_setup {
        use ark_snark::SNARK;
        let circuit = zkgate_zkml::circuit::JobCircuit {
            spec: &out.spec,
            witness: None,
            counts: None,
            tape: Default::default(),
        };
        let t = Instant::now();
        ark_groth16::Groth16::<ark_bn254::Bn254>::circuit_specific_setup(circuit, &mut rng)
            .map_err(|e| anyhow::anyhow!("ark-groth16 setup: {e}"))?;
        Some(t.elapsed().as_secs_f64())
    } else {
        None
    };
    let onnx = fixtures.join(m.dir).join(format!("{name}.onnx"));
    let ezkl = ezkl.map(|e| {
        crate::ezkl::run(e, &out, &onnx, &dataset, &secret)
            .unwrap_or_else(|e| serde_json::json!({ "error": format!("{e:#}") }))
    });
    let ceremony = if ceremony && out.keys.len() == 1 {
        Some(ceremony_bench(&out, &dataset, &secret)?)
    } else {
        None
    };
    let privacy = match &out.spec.params.noise {
        Some(n) => Some(privacy_report(&out.spec, n, &dataset)?),
        None => None,
    };
    Ok(serde_json::json!({
        "model": name,
        "privacy": privacy,
        "rows": rows,
        "distinct_rows": distinct,
        "aggregate": r.circuit.aggregate,
        "constraints": total,
        "constraints_per_row": total as f64 / rows as f64,
        "constraints_by_part": r.constraints,
        "shards": r.shards.len(),
        "shard_rows": r.circuit.shard_rows,
        // Rows the circuits read beyond the dataset's (the last shard's
        // padding), and the constraints they cost: a padding row is a row
        // through the model, its share masked (one product per value), its
        // flag (2) and its packed elements masked.
        "padding_rows": padding,
        "padding_constraints": padding_constraints,
        "padding_share": padding_constraints as f64 / total as f64,
        "compile_s": r.timings.get("compile_s"),
        "evaluate_s": r.timings.get("evaluate_s"),
        "setup_s": r.timings.get("setup_s"),
        "ark_setup_s": ark_setup_s,
        "prove_s": prove_s,
        "prove_s_per_1k_rows": prove_s * 1000.0 / rows as f64,
        "trees": trees,
        "prove_ms_per_tree_per_row": trees.map(|t| prove_s * 1e3 / (rows as f64 * t as f64)),
        "keys": out.keys.len(),
        // With one key, setup and the first shard's proof are of one circuit.
        "setup_over_prove": r.timings.get("setup_s").filter(|_| out.keys.len() == 1).map(|s| s / floor.prove_s),
        "first_shard": floor,
        "verify_ms": verify_ms,
        "valid": verdict == zkgate_statement::Verdict::Valid,
        "pk_bytes": out.keys.iter().map(|(pk, _)| zkgate_statement::groth16::to_bytes(pk).len()).sum::<usize>(),
        "vk_bytes": vk_bytes.len(),
        "proof_bytes": r.shards.iter().map(|s| s.proof.len() / 2).sum::<usize>(),
        "peak_rss_mb": peak,
        "memory_estimate_mb": zkgate_zkml::cost::memory_bytes(&out.spec) as f64 / (1u64 << 20) as f64,
        "agreement": r.agreement,
        "result": r.result,
        "settlement": settlement,
        "ceremony": ceremony,
        "ezkl": ezkl,
    }))
}

/// A phase-2 ceremony for the case's circuit over a powers-of-tau file made
/// here (its secrets known: a stand-in for a public file of the same power,
/// whose making is not timed as anyone's). Times each party's work and the
/// bytes each transfers, then proves with the ceremony key and with the
/// gateway's key, one after the other on the same witness.
fn ceremony_bench(
    out: &pipeline::Outcome,
    dataset: &Dataset,
    secret: &Secret,
) -> Result<serde_json::Value> {
    use zkgate_zkml::ceremony::{self, Ceremony, OddCosetReduction, Ptau, Transcript};
    let spec = &out.spec;
    let mut rng = rand::rngs::OsRng;
    let r1cs = ceremony::r1cs_of(spec)?;
    let power = r1cs.domain().trailing_zeros() + 1;
    let t = Instant::now();
    let bytes = ceremony::ptau::write_random(power, &mut rng);
    let ptau_write_s = t.elapsed().as_secs_f64();
    let ptau_bytes = bytes.len();
    let ptau = Ptau::from_bytes(bytes)?;

    // The owner: the circuit's key with delta 1.
    let t = Instant::now();
    let owner_r1cs = ceremony::r1cs_of(spec)?;
    let key = ceremony::initial_key(&owner_r1cs, &ptau)?;
    let transcript = Transcript::new(&key, &ptau)?;
    let sent = ceremony::write(&key, &transcript, &owner_r1cs)?;
    let owner_init_s = t.elapsed().as_secs_f64();

    // The researcher: reads it, rebuilds the circuit, checks, contributes.
    let t = Instant::now();
    let (mut k, mut tr) = ceremony::read(&sent)?;
    let researcher_r1cs = ceremony::r1cs_of(spec)?;
    tr.verify(&k, &researcher_r1cs, &ptau)?;
    let researcher_check_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    ceremony::contribute(&mut k, &mut tr, "researcher", &mut rng)?;
    let back = ceremony::write(&k, &tr, &researcher_r1cs)?;
    let researcher_contribute_s = t.elapsed().as_secs_f64();

    // The gateway: reads the contribution and checks it before proving;
    // the first time for the circuit in the process (the circuit hash
    // needs the delta-1 key's L query), then as another key of the same
    // circuit would be (the hash known), then as a kept key proving again.
    let gateway_check = || -> Result<(f64, ceremony::Key)> {
        let t = Instant::now();
        let (k, tr) = ceremony::read(&back)?;
        Ceremony {
            ptau: &ptau,
            key: &k,
            transcript: &tr,
        }
        .check(spec)?;
        Ok((t.elapsed().as_secs_f64(), k))
    };
    ceremony::forget_circuit_hashes();
    ceremony::forget_checked_keys();
    let (gateway_check_s, _) = gateway_check()?;
    ceremony::forget_checked_keys();
    let (gateway_check_again_s, _) = gateway_check()?;
    // The same key once more: a kept key, checked already in this process
    // (what remains is reading it).
    let (gateway_check_kept_s, k) = gateway_check()?;

    let (prove_ceremony_s, valid, prove_gateway_s) =
        first_shard(out, dataset, secret, |statement, witness| {
            let t = Instant::now();
            let proof = prove::prove_with::<OddCosetReduction, _>(spec, &k, witness, &mut rng)?;
            let prove_ceremony_s = t.elapsed().as_secs_f64();
            let valid =
                zkgate_statement::groth16::verify(&prove::verifying_key(&k), statement, &proof)?;
            let t = Instant::now();
            prove::prove(spec, &out.keys[0].0, witness, &mut rng)?;
            Ok((prove_ceremony_s, valid, t.elapsed().as_secs_f64()))
        })?;
    Ok(serde_json::json!({
        "power": power,
        "ptau_bytes": ptau_bytes,
        "ptau_write_s": ptau_write_s,
        "owner_init_s": owner_init_s,
        "key_bytes": sent.len(),
        "transcript_bytes": tr.to_bytes().len(),
        "researcher_check_s": researcher_check_s,
        "researcher_contribute_s": researcher_contribute_s,
        "researcher_download_bytes": sent.len(),
        "researcher_upload_bytes": back.len(),
        "gateway_check_s": gateway_check_s,
        "gateway_check_again_s": gateway_check_again_s,
        "gateway_check_kept_s": gateway_check_kept_s,
        "prove_ceremony_s": prove_ceremony_s,
        "prove_gateway_s": prove_gateway_s,
        "prove_ceremony_over_gateway": prove_ceremony_s / prove_gateway_s,
        "researcher_check_over_prove": researcher_check_s / prove_gateway_s,
        "gateway_check_over_prove": gateway_check_s / prove_gateway_s,
        "gateway_check_again_over_prove": gateway_check_again_s / prove_gateway_s,
        "valid": valid,
    }))
}

/// The first shard proved again by the compiled prover and by
/// ark-groth16's `Groth16::prove` on the same key and witness (each with
/// the peak resident memory it reached), then each prover's stages timed
/// one by one.
#[derive(serde::Serialize)]
struct Floor {
    rows: u64,
    constraints: usize,
    /// The compiled prover (the compiled form kept from setup).
    prove_s: f64,
    /// ark-groth16's prover on the same circuit, in the same run.
    ark_prove_s: f64,
    /// Every timing of each prover, in the order taken (they alternate).
    prove_samples_s: Vec<f64>,
    ark_prove_samples_s: Vec<f64>,
    prove_over_ark: f64,
    prove_peak_rss_mb: Option<f64>,
    ark_prove_peak_rss_mb: Option<f64>,
    stages: zkgate_zkml::compiled::Stages,
    compiled_bytes_per_constraint: f64,
    ark_stages: prove::ArkProfile,
    /// The compiled prover's time over its MSMs.
    prove_over_msm: f64,
}

/// The median of a non-empty list.
fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `f` with the peak resident memory reset first (Linux:
/// `clear_refs` 5), giving its result and the peak it reached, MiB.
fn with_peak<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Option<f64>)> {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let out = f()?;
    Ok((out, peak_rss_mb().filter(|_| reset)))
}

/// What the noise costs in accuracy: the exact result, the noise's
/// standard deviation per value and the mean absolute error of each
/// decoded number over 1,000 seeds (drawn as the circuit draws them).
fn privacy_report(
    spec: &zkgate_zkml::spec::CircuitSpec,
    noise: &zkgate_statement::Noise,
    dataset: &Dataset,
) -> Result<serde_json::Value> {
    let exact = zkgate_zkml::spec::evaluate(spec, &dataset.values)?.aggregates;
    let numbers = |v: &serde_json::Value| -> Vec<f64> {
        let mut out = Vec::new();
        fn walk(v: &serde_json::Value, out: &mut Vec<f64>) {
            match v {
                serde_json::Value::Number(n) => out.extend(n.as_f64()),
                serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        walk(v, &mut out);
        out
    };
    let rows = dataset.rows() as u64;
    let truth = spec.decode(rows, &exact);
    let want = numbers(&truth);
    let sampler = noise.sampler();
    let seeds = 1000u64;
    let mut err = vec![0.0; want.len()];
    for i in 0..seeds {
        let seed =
            zkgate_circuits::noise::seed(zkgate_statement::Fr::from(i), nonce_from(b"bench"));
        let draws = sampler.sample(seed, exact.len());
        let noisy: Vec<i128> = exact.iter().zip(&draws).map(|(a, d)| a + d).collect();
        for (e, (g, w)) in err
            .iter_mut()
            .zip(numbers(&spec.decode(rows, &noisy)).iter().zip(&want))
        {
            *e += (g - w).abs() / seeds as f64;
        }
    }
    Ok(serde_json::json!({
        "mechanism": noise.mechanism,
        "epsilon": noise.epsilon,
        "sensitivity": noise.sensitivity,
        "noise_sd": noise.std_dev(),
        "exact": truth,
        "mean_abs_error": err,
        "noise_constraints": spec.params.noise.as_ref().map(|_| zkgate_zkml::circuit::count(spec).map(|(_, p)| p.get("noise").copied())).transpose()?.flatten(),
    }))
}

/// Calls `f` with the statement and witness of the case's first shard.
fn first_shard<T>(
    out: &pipeline::Outcome,
    dataset: &Dataset,
    secret: &Secret,
    f: impl FnOnce(&Statement, zkgate_zkml::circuit::Witness<'_>) -> Result<T>,
) -> Result<T> {
    use zkgate_zkml::circuit::{Links, Witness};
    let cuts = dataset.cuts(secret, out.spec.shard_rows);
    let statement = out.receipt.statement(0)?;
    // The first shard starts from the chain's start and zero totals.
    let zeros = vec![0; statement.aggregates.len()];
    let witness = Witness {
        row_base: 0,
        columns: &dataset.values,
        secret,
        statement: &statement,
        links: Links {
            h_in: cuts[0].h,
            acc_in: &zeros,
        },
    };
    f(&statement, witness)
}

fn msm_floor(
    out: &pipeline::Outcome,
    dataset: &Dataset,
    secret: &Secret,
    rounds: u16,
) -> Result<Floor> {
    let spec = &out.spec;
    first_shard(out, dataset, secret, |_, witness| {
        let pk = &out.keys[0].0;
        let mut rng = rand::rngs::OsRng;
        // The two provers alternate, each timed `rounds` times: the median
        // of each is reported (a single pair moved by up to 15% between
        // runs here), the samples with it, and each one's peak in the
        // first round (later rounds start from the memory the allocator
        // kept, which would count against whichever runs then).
        let (mut ours, mut ark) = (Vec::new(), Vec::new());
        let (mut prove_peak_rss_mb, mut ark_prove_peak_rss_mb) = (None, None);
        for round in 0..rounds {
            let (s, peak) = with_peak(|| {
                let t = Instant::now();
                prove::prove(spec, pk, witness, &mut rng)?;
                Ok(t.elapsed().as_secs_f64())
            })?;
            ours.push(s);
            if round == 0 {
                prove_peak_rss_mb = peak;
            }
            let (s, peak) = with_peak(|| {
                let t = Instant::now();
                prove::ark_prove_with::<ark_groth16::r1cs_to_qap::LibsnarkReduction, _>(
                    spec, pk, witness, &mut rng,
                )?;
                Ok(t.elapsed().as_secs_f64())
            })?;
            ark.push(s);
            if round == 0 {
                ark_prove_peak_rss_mb = peak;
            }
        }
        let (prove_s, ark_prove_s) = (median(&ours), median(&ark));
        let stages = zkgate_zkml::compiled::profile(spec, pk, witness)?;
        let ark_stages = prove::ark_profile(spec, pk, witness)?;
        let constraints = zkgate_zkml::circuit::count(spec)?.0;
        Ok(Floor {
            rows: spec.shard_rows,
            constraints,
            prove_s,
            ark_prove_s,
            prove_samples_s: ours,
            ark_prove_samples_s: ark,
            prove_over_ark: prove_s / ark_prove_s,
            prove_peak_rss_mb,
            ark_prove_peak_rss_mb,
            compiled_bytes_per_constraint: stages.compiled_bytes as f64 / constraints as f64,
            stages,
            ark_stages,
            prove_over_msm: prove_s / stages.msm_s,
        })
    })
}

/// Runs the benchmark.
pub fn run(a: BenchArgs) -> Result<()> {
    if let Some(case) = &a.one {
        let ezkl = a
            .ezkl_python
            .as_deref()
            .map(|python| crate::ezkl::EzklBench {
                python,
                solc_js: a.solc_js.as_deref(),
                size_only: a.ezkl_size,
            });
        println!(
            "{}",
            run_one(
                &a.fixtures,
                case,
                a.ark_setup,
                a.settle,
                a.ceremony,
                a.epsilon,
                a.rounds,
                ezkl.as_ref(),
                a.family_cost,
                a.family,
            )?
        );
        return Ok(());
    }
    let cases: Vec<String> = match &a.cases {
        Some(c) => c.clone(),
        None if a.quick => QUICK.iter().map(|s| s.to_string()).collect(),
        None => STANDARD.iter().map(|s| s.to_string()).collect(),
    };
    let exe = std::env::current_exe()?;
    for case in cases {
        let mut child = Command::new(&exe);
        child
            .arg("bench")
            .arg("--fixtures")
            .arg(&a.fixtures)
            .arg("--one")
            .arg(&case)
            .arg("--rounds")
            .arg(a.rounds.to_string());
        if a.ark_setup {
            child.arg("--ark-setup");
        }
        if a.settle {
            child.arg("--settle");
        }
        if let Some(e) = a.epsilon {
            child.arg("--epsilon").arg(e.to_string());
        }
        if a.ceremony {
            child.arg("--ceremony");
        }
        if let Some(p) = &a.ezkl_python {
            child.arg("--ezkl-python").arg(p);
        }
        if let Some(p) = &a.solc_js {
            child.arg("--solc-js").arg(p);
        }
        if a.ezkl_size {
            child.arg("--ezkl-size");
        }
        if a.family_cost {
            child.arg("--family-cost");
        }
        if a.family {
            child.arg("--family");
        }
        let out = child.output()?;
        if out.status.success() {
            print!("{}", String::from_utf8_lossy(&out.stdout));
        } else {
            println!(
                "{}",
                serde_json::json!({ "case": case, "error": String::from_utf8_lossy(&out.stderr).trim() })
            );
        }
    }
    Ok(())
}
