//! `zkgate inspect`: what a model becomes before anyone spends anything on
//! it — whether it compiles, which ops map to what, and, with the dataset's
//! declared schema, the circuit's size and an estimate of the prove time.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use zkgate_statement::quant::QuantConfig;
use zkgate_statement::Aggregate;
use zkgate_zkml::ir::{Op, TreeNode};
use zkgate_zkml::job::{compile_public, JobRequest};

/// `zkgate inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// ONNX model.
    model: PathBuf,
    /// The dataset's declared schema (as `GET /v1/datasets` lists it): with
    /// it, the circuit is compiled and measured.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Rows to size the circuit for.
    #[arg(long, default_value_t = 1000)]
    rows: u64,
    /// The aggregate (default: class-counts for classifiers, mean
    /// otherwise).
    #[arg(long)]
    aggregate: Option<String>,
    /// Label column (accuracy, confusion, mse, mae).
    #[arg(long)]
    label: Option<String>,
    /// Columns feeding the model, comma-separated, in its input order.
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// What to try when an op is refused.
fn hint(op: &str) -> String {
    let fixed = match op {
        "Sigmoid" | "Tanh" | "Softmax" => "a softmax is proved only as a classifier's last op (the class is its argmax); a sigmoid or tanh inside a network must directly follow a linear layer",
        "TreeEnsembleClassifier" | "TreeEnsembleRegressor" => "tree ensembles must read the model's input directly, with LEQ/LT/GTE/GT branches and a SUM or AVERAGE",
        "Mul" | "Div" => "products of two data-dependent values are not supported; a product with a constant is",
        "Gather" | "Where" | "If" | "Loop" => "data-dependent indexing and control flow are not supported (a Gather with constant indices is)",
        _ => "",
    };
    if fixed.is_empty() {
        format!(
            "supported: {} (the README's table says what each becomes)",
            zkgate_zkml::import::ops::names()
        )
    } else {
        fixed.to_string()
    }
}

fn describe(op: &Op) -> serde_json::Value {
    match op {
        Op::Affine(a) => serde_json::json!({
            "op": "affine", "inputs": a.inputs, "outputs": a.outputs(), "weights": a.nonzeros(),
        }),
        Op::Relu => serde_json::json!({ "op": "relu" }),
        Op::Activation(c) => {
            let bound = zkgate_zkml::quantize::error_bound(*c, QuantConfig::default().act_bits);
            let per_unit = if bound.per_unit > 0.0 {
                format!(" + {:.1e} |x|", bound.per_unit)
            } else {
                String::new()
            };
            match zkgate_zkml::quantize::Smooth::of(*c) {
                Some(sm) => serde_json::json!({
                    "op": c.name().to_ascii_lowercase(),
                    "segments": zkgate_zkml::quantize::SEGMENTS,
                    "note": format!("secants over [{}, {}], its tails' lines beyond: within {:.4}{per_unit} of the function at the default act_bits", sm.from, sm.to, bound.absolute),
                }),
                None => serde_json::json!({
                    "op": c.name().to_ascii_lowercase(),
                    "note": format!("piecewise linear, exact{}", if per_unit.is_empty() { String::new() } else { format!(" up to its slope's rounding ({})", per_unit.trim_start_matches(" + ")) }),
                }),
            }
        }
        Op::MaxPool(p) => serde_json::json!({ "op": "maxpool", "outputs": p.windows.len() }),
        Op::Trees(e) => {
            // Children come after their parent: one pass, no recursion.
            fn depth(t: &[TreeNode]) -> usize {
                let mut d = vec![0usize; t.len()];
                for (n, node) in t.iter().enumerate() {
                    if let TreeNode::Branch { yes, no, .. } = node {
                        d[*yes as usize] = d[n] + 1;
                        d[*no as usize] = d[n] + 1;
                    }
                }
                d.into_iter().max().unwrap_or(0)
            }
            let leaves = e
                .trees
                .iter()
                .flatten()
                .filter(|n| matches!(n, TreeNode::Leaf { .. }))
                .count();
            serde_json::json!({
                "op": "trees", "trees": e.trees.len(), "leaves": leaves,
                "depth": e.trees.iter().map(|t| depth(t)).max().unwrap_or(0),
                "inputs_compared": e.features().len(), "outputs": e.outputs,
            })
        }
        Op::Softmax => {
            serde_json::json!({ "op": "argmax", "note": "a final softmax, sigmoid or tanh: the class is the argmax of its input" })
        }
    }
}

/// Runs `zkgate inspect`; `Ok(false)` when the model does not compile.
pub fn inspect(a: InspectArgs) -> Result<bool> {
    let bytes =
        std::fs::read(&a.model).with_context(|| format!("reading {}", a.model.display()))?;
    let mut report = serde_json::json!({ "model": a.model.display().to_string() });
    let imported = match zkgate_zkml::import::load_bytes(&bytes) {
        Ok(m) => m,
        Err(e) => {
            let hint = match &e {
                zkgate_zkml::Error::UnsupportedOp { op, .. } => Some(hint(op)),
                _ => None,
            };
            report["compiles"] = false.into();
            report["error"] = e.to_string().into();
            report["hint"] = hint.into();
            print(&report, a.json);
            return Ok(false);
        }
    };
    let m = &imported.model;
    report["compiles"] = true.into();
    report["onnx_sha256"] = imported.onnx_sha256.clone().into();
    report["input_shape"] = serde_json::json!(m.input_shape);
    report["output"] = imported.output.clone().into();
    report["onnx_ops"] = serde_json::json!(imported.onnx_ops);
    report["ops"] = m.ops.iter().map(describe).collect();
    report["classifier"] = m.is_classifier().into();
    if let Some(path) = &a.schema {
        let schema = crate::read_schema(path)?;
        let aggregate = match &a.aggregate {
            Some(name) => Aggregate::parse(name, a.label.as_deref(), None)?,
            None if m.is_classifier() => Aggregate::ClassCounts,
            None => Aggregate::Mean,
        };
        // Without --columns: every column, or all but the last when that
        // is one too many (a label after the features).
        let names = schema.names();
        let columns = a.columns.clone().or_else(|| {
            (aggregate.label().is_none() && names.len() == m.inputs + 1)
                .then(|| names[..m.inputs].to_vec())
        });
        report["columns"] = serde_json::json!(columns);
        let request = JobRequest {
            aggregate,
            input_columns: columns,
            quant: QuantConfig::default(),
            epsilon: None,
        };
        match compile_public(m, &imported.onnx_sha256, &schema, a.rows, &request) {
            Ok(spec) => {
                // One proof over every row, as `zkgate prove` makes it.
                let est = zkgate_zkml::cost::Estimate::of(&spec, a.rows, None);
                let total = est.constraints;
                report["circuit"] = serde_json::json!({
                    "rows": a.rows,
                    "constraints": total,
                    "constraints_per_row": total as f64 / a.rows as f64,
                    "model_constraints_per_row": zkgate_zkml::cost::per_row(&spec),
                    "estimated_prove_s": est.prove_seconds(),
                    "estimated_prove_s_per_1k_rows": est.prove_seconds() * 1000.0 / a.rows as f64,
                    "estimated_setup_and_prove_s": est.seconds,
                    "estimated_memory_mb": est.memory as f64 / (1 << 20) as f64,
                });
                report["family"] = family(m, &imported.onnx_sha256, a.rows, &request, &spec);
            }
            Err(e) => {
                report["compiles"] = false.into();
                report["error"] = e.to_string().into();
            }
        }
    }
    print(&report, a.json);
    Ok(report["compiles"] == true)
}

/// The model-family circuit of the same job: the bounds this model fits
/// with one bit of headroom (what `--family` takes), its key's id and the
/// constraints of a row against the circuit with constant weights; or why
/// the model has none.
fn family(
    m: &zkgate_zkml::ir::Model,
    onnx_sha256: &str,
    rows: u64,
    request: &JobRequest,
    constant: &zkgate_zkml::spec::CircuitSpec,
) -> serde_json::Value {
    match zkgate_zkml::job::family_circuit(m, onnx_sha256, constant, request, rows, 1) {
        Ok((f, spec)) => {
            // Per row of a shard, its commitment and the weights' opening
            // included, against the same with constant weights.
            let per_row = |s: &zkgate_zkml::spec::CircuitSpec| {
                zkgate_zkml::cost::constraints(s) as f64 / s.shard_rows.max(1) as f64
            };
            serde_json::json!({
                "bounds": format!("{}:{}:{}", f.term_log2, f.weight_log2, f.bias_log2),
                "key_id": zkgate_statement::field::fr_to_hex(spec.key_id()),
                "circuit_id": zkgate_statement::field::fr_to_hex(spec.id()),
                "constraints_per_row": per_row(&spec),
                "model_constraints_per_row": zkgate_zkml::cost::per_row(&spec),
                "ratio_to_constant_weights": per_row(&spec) / per_row(constant),
                "weights_constraints_per_shard": zkgate_zkml::cost::weights_cost(&spec),
            })
        }
        Err(e) => serde_json::json!({ "none": e.to_string() }),
    }
}

fn print(report: &serde_json::Value, json: bool) {
    if json {
        println!("{report}");
        return;
    }
    for (k, v) in report.as_object().expect("an object") {
        match v {
            serde_json::Value::Array(items) if k == "ops" => {
                println!("{k:<13}");
                for i in items {
                    println!("  {i}");
                }
            }
            serde_json::Value::Null => {}
            _ => println!("{k:<13}{v}"),
        }
    }
}
