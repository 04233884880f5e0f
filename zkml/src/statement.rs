//! The proved statement: what the circuit fixes, and its public inputs.
//!
//! A job is proved in one or more shards of rows (one unless the dataset is
//! larger than the owner's shard size). Public inputs of a shard proof, in
//! order: the dataset commitment `C_D`, the dataset's row count `n`, the job
//! nonce, the circuit id (a hash of the [`CircuitSpec`]: model plan, schema,
//! columns, aggregate, shard size), the shard's first row, the links before
//! and after it (see `zkgate_circuits::shard`), then the shard's aggregate
//! values. The circuit constrains `C_D` and the links to the commitment of
//! the rows it reads, `n` and the id to its constants, and every aggregate
//! to the value it computes over its rows; the nonce appears in no gadget
//! but is bound all the same, because Groth16's verifier folds every public
//! input into the pairing check. Every aggregate is a sum over rows, so the
//! job's values are the sums of the shards' values.
//! This module has no dependency on tract: verifiers use it as is.

use crate::error::{Error, Result};
use crate::quantize::Plan;
use ark_ff::PrimeField;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zkgate_circuits::{i128_to_field, Fr};

/// Format version of specs and receipts.
pub const VERSION: u32 = 2;

/// What a job computes over the model's per-row outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Aggregate {
    /// Sum of every output over all rows.
    Sum,
    /// Mean of every output (proved as the sum; the verifier divides by `n`).
    Mean,
    /// Rows whose (single) output is at least `threshold`.
    CountAtLeast {
        /// The threshold, in output units.
        threshold: f64,
    },
    /// Rows per predicted class.
    ClassCounts,
    /// Rows whose predicted class equals the label column.
    Accuracy {
        /// Label column.
        label: String,
    },
    /// Confusion matrix (row = label, column = prediction).
    Confusion {
        /// Label column.
        label: String,
    },
    /// Mean squared error of the (single) output against the label column.
    Mse {
        /// Label column.
        label: String,
    },
    /// Mean absolute error of the (single) output against the label column.
    Mae {
        /// Label column.
        label: String,
    },
}

impl Aggregate {
    /// The label column, if the aggregate reads one.
    pub fn label(&self) -> Option<&str> {
        match self {
            Aggregate::Accuracy { label }
            | Aggregate::Confusion { label }
            | Aggregate::Mse { label }
            | Aggregate::Mae { label } => Some(label),
            _ => None,
        }
    }

    /// Whether the aggregate needs a predicted class per row.
    pub fn needs_classes(&self) -> bool {
        matches!(
            self,
            Aggregate::ClassCounts | Aggregate::Accuracy { .. } | Aggregate::Confusion { .. }
        )
    }

    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            Aggregate::Sum => "sum",
            Aggregate::Mean => "mean",
            Aggregate::CountAtLeast { .. } => "count_at_least",
            Aggregate::ClassCounts => "class_counts",
            Aggregate::Accuracy { .. } => "accuracy",
            Aggregate::Confusion { .. } => "confusion",
            Aggregate::Mse { .. } => "mse",
            Aggregate::Mae { .. } => "mae",
        }
    }
}

/// Constants of the aggregate fixed at compile time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AggregateParams {
    /// Number of classes (outputs) for class aggregates.
    pub classes: usize,
    /// Quantized threshold (at the output scale) for `count_at_least`.
    pub threshold_q: i128,
    /// Range-check width for `count_at_least` and `mae`.
    pub bits: usize,
    /// Common scale of output and label for `mse` / `mae`, and the shifts
    /// that bring each to it.
    pub error_scale: i32,
    /// Left shift of the output to the error scale.
    pub output_shift: u32,
    /// Left shift of the label to the error scale.
    pub label_shift: u32,
    /// Class counts and confusion cells below this many rows are proved
    /// and published as zero (0: no suppression). Set by the data owner's
    /// release policy.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppress_below: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Aggregate {
    /// Whether the aggregate publishes one count per cell, so that small
    /// cells can be suppressed one by one.
    pub fn has_cells(&self) -> bool {
        matches!(self, Aggregate::ClassCounts | Aggregate::Confusion { .. })
    }
}

/// Everything the circuit (and so the verifying key) fixes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CircuitSpec {
    /// Format version.
    pub version: u32,
    /// Rows in the dataset.
    pub rows: u64,
    /// Rows this circuit proves (`rows` unless the job is sharded).
    pub shard_rows: u64,
    /// The dataset's column names.
    pub columns: Vec<String>,
    /// The dataset's column scales.
    pub column_scales: Vec<i32>,
    /// Bits per stored value.
    pub value_bits: usize,
    /// Columns feeding the model, in model input order.
    pub input_columns: Vec<usize>,
    /// Label column, if the aggregate reads one.
    pub label_column: Option<usize>,
    /// The aggregate.
    pub aggregate: Aggregate,
    /// Its compile-time constants.
    pub params: AggregateParams,
    /// The quantized model.
    pub plan: Plan,
    /// SHA-256 of the ONNX file the plan came from.
    pub onnx_sha256: String,
}

/// A 248-bit field element from a hash (the top byte dropped so it is
/// always canonical).
pub fn hash_to_field(digest: &[u8]) -> Fr {
    Fr::from_be_bytes_mod_order(&digest[1..32])
}

/// The public description of a circuit that a receipt carries: the spec
/// with the plan replaced by its hash. The circuit id is its hash, so a
/// verifier that decodes aggregates with these scales decodes what was
/// proved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpecHeader {
    /// Format version.
    pub version: u32,
    /// Rows in the dataset.
    pub rows: u64,
    /// Rows per shard proof (the last shard may hold fewer).
    pub shard_rows: u64,
    /// The dataset's column names.
    pub columns: Vec<String>,
    /// The dataset's column scales.
    pub column_scales: Vec<i32>,
    /// Bits per stored value.
    pub value_bits: usize,
    /// Columns feeding the model.
    pub input_columns: Vec<usize>,
    /// Label column.
    pub label_column: Option<usize>,
    /// The aggregate.
    pub aggregate: Aggregate,
    /// Its constants.
    pub params: AggregateParams,
    /// Scale of the model's outputs.
    pub output_scale: i32,
    /// Number of model outputs.
    pub outputs: usize,
    /// SHA-256 of the ONNX file.
    pub onnx_sha256: String,
    /// SHA-256 of the quantized plan's JSON.
    pub plan_sha256: String,
}

impl SpecHeader {
    /// The header of the circuit for shards of `rows` rows.
    pub fn with_shard_rows(&self, rows: u64) -> SpecHeader {
        SpecHeader {
            shard_rows: rows,
            ..self.clone()
        }
    }

    /// The circuit id: SHA-256 of this header's JSON, as a field element.
    pub fn id(&self) -> Fr {
        let json = serde_json::to_vec(self).expect("headers serialize");
        hash_to_field(&Sha256::digest(json))
    }

    /// Number of aggregate values the statement carries.
    pub fn aggregate_len(&self) -> usize {
        match &self.aggregate {
            Aggregate::Sum | Aggregate::Mean => self.outputs,
            Aggregate::ClassCounts => self.params.classes,
            Aggregate::Confusion { .. } => self.params.classes * self.params.classes,
            Aggregate::CountAtLeast { .. }
            | Aggregate::Accuracy { .. }
            | Aggregate::Mse { .. }
            | Aggregate::Mae { .. } => 1,
        }
    }

    /// The aggregate values read as numbers.
    pub fn decode(&self, values: &[i128]) -> serde_json::Value {
        let mut v = decode(
            &self.aggregate,
            values,
            self.rows,
            self.output_scale,
            self.params.error_scale,
            self.params.classes,
        );
        if self.params.suppress_below > 0 && self.aggregate.has_cells() {
            // A zero count stands for fewer than this many rows, so an
            // accuracy read off the matrix is only a lower bound.
            v["suppressed_below"] = self.params.suppress_below.into();
            if let Some(a) = v.as_object_mut().and_then(|o| o.remove("accuracy")) {
                v["accuracy_at_least"] = a;
            }
        }
        v
    }
}

impl CircuitSpec {
    /// The public header.
    pub fn header(&self) -> SpecHeader {
        let plan = serde_json::to_vec(&self.plan).expect("plans serialize");
        SpecHeader {
            version: self.version,
            rows: self.rows,
            shard_rows: self.shard_rows,
            columns: self.columns.clone(),
            column_scales: self.column_scales.clone(),
            value_bits: self.value_bits,
            input_columns: self.input_columns.clone(),
            label_column: self.label_column,
            aggregate: self.aggregate.clone(),
            params: self.params.clone(),
            output_scale: self.plan.output_scale,
            outputs: self.plan.outputs(),
            onnx_sha256: self.onnx_sha256.clone(),
            plan_sha256: hex::encode(Sha256::digest(plan)),
        }
    }

    /// The circuit id (see [`SpecHeader::id`]).
    pub fn id(&self) -> Fr {
        self.header().id()
    }

    /// The same circuit over shards of `rows` rows.
    pub fn with_shard_rows(&self, rows: u64) -> CircuitSpec {
        CircuitSpec {
            shard_rows: rows,
            ..self.clone()
        }
    }

    /// The dataset's shape, as the commitment sees it.
    pub fn shape(&self) -> zkgate_circuits::commitment::Shape {
        zkgate_circuits::commitment::Shape {
            rows: self.rows,
            columns: self.columns.len() as u64,
            value_bits: self.value_bits,
        }
    }

    /// Number of aggregate values the statement carries.
    pub fn aggregate_len(&self) -> usize {
        self.header().aggregate_len()
    }
}

/// A job nonce from any byte string (a job id).
pub fn nonce_from(job: &[u8]) -> Fr {
    let mut h = Sha256::new();
    h.update(b"zkgate.job.v1");
    h.update(job);
    hash_to_field(&h.finalize())
}

/// The public statement of one (shard) proof.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// The dataset commitment.
    pub commitment: Fr,
    /// Rows in the dataset.
    pub rows: u64,
    /// The job binding.
    pub nonce: Fr,
    /// The circuit id.
    pub circuit_id: Fr,
    /// The shard's first row.
    pub offset: u64,
    /// The link before the shard (0 for the first).
    pub link_in: Fr,
    /// The link after the shard (0 for the last).
    pub link_out: Fr,
    /// The shard's aggregate values (integers at the plan's scales).
    pub aggregates: Vec<i128>,
}

impl Statement {
    /// The public inputs, in the circuit's order.
    pub fn public_inputs(&self) -> Vec<Fr> {
        let mut v = vec![
            self.commitment,
            Fr::from(self.rows),
            self.nonce,
            self.circuit_id,
            Fr::from(self.offset),
            self.link_in,
            self.link_out,
        ];
        v.extend(self.aggregates.iter().map(|a| i128_to_field(*a)));
        v
    }
}

/// Per-row results and aggregates computed natively (the witness's view).
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Each row's quantized outputs.
    pub outputs: Vec<Vec<i128>>,
    /// Each row's predicted class, for classifiers.
    pub classes: Option<Vec<usize>>,
    /// The aggregate values.
    pub aggregates: Vec<i128>,
}

/// Index of the first maximum.
pub fn argmax(v: &[i128]) -> usize {
    zkgate_circuits::argmax::argmax_native(v)
}

/// Evaluates the spec natively on column-major quantized data: every row's
/// outputs, and the aggregate over all rows as published.
pub fn evaluate(spec: &CircuitSpec, columns: &[Vec<i64>]) -> Result<Evaluation> {
    let n = spec.rows as usize;
    let mut outputs = Vec::with_capacity(n);
    #[allow(clippy::needless_range_loop)] // rows index every column
    for r in 0..n {
        let x: Vec<i64> = spec.input_columns.iter().map(|j| columns[*j][r]).collect();
        outputs.push(spec.plan.run(&x).map_err(|e| match e {
            Error::Overflow(m) => Error::Overflow(format!("row {}: {m}", r + 1)),
            other => other,
        })?);
    }
    let classes: Option<Vec<usize>> = spec
        .aggregate
        .needs_classes()
        .then(|| outputs.iter().map(|o| argmax(o)).collect());
    let mut eval = Evaluation {
        outputs,
        classes,
        aggregates: vec![],
    };
    eval.aggregates = suppress(spec, aggregate_rows(spec, columns, &eval, 0..n)?);
    Ok(eval)
}

/// The aggregate over rows `range` of an evaluation, before suppression:
/// what one shard proves.
pub fn aggregate_rows(
    spec: &CircuitSpec,
    columns: &[Vec<i64>],
    eval: &Evaluation,
    range: std::ops::Range<usize>,
) -> Result<Vec<i128>> {
    let outputs = &eval.outputs[range.clone()];
    let classes = eval.classes.as_ref().map(|c| &c[range.clone()]);
    let label = |r: usize| -> i128 {
        i128::from(columns[spec.label_column.expect("label column")][range.start + r])
    };
    let n = outputs.len();
    let p = &spec.params;
    Ok(match &spec.aggregate {
        Aggregate::Sum | Aggregate::Mean => (0..spec.plan.outputs())
            .map(|o| outputs.iter().map(|y| y[o]).sum())
            .collect(),
        Aggregate::CountAtLeast { .. } => {
            vec![outputs.iter().filter(|y| y[0] >= p.threshold_q).count() as i128]
        }
        Aggregate::ClassCounts => {
            let mut h = vec![0i128; p.classes];
            classes.expect("classes").iter().for_each(|c| h[*c] += 1);
            h
        }
        Aggregate::Accuracy { .. } => {
            let cs = classes.expect("classes");
            vec![(0..n).filter(|r| cs[*r] as i128 == label(*r)).count() as i128]
        }
        Aggregate::Confusion { .. } => {
            let cs = classes.expect("classes");
            let mut m = vec![0i128; p.classes * p.classes];
            for (r, c) in cs.iter().enumerate() {
                let l = label(r);
                if !(0..p.classes as i128).contains(&l) {
                    return Err(Error::Job(format!(
                        "row {}: label {l} is not one of the model's {} classes",
                        range.start + r + 1,
                        p.classes
                    )));
                }
                m[l as usize * p.classes + c] += 1;
            }
            m
        }
        Aggregate::Mse { .. } => vec![(0..n)
            .map(|r| error_term(spec, outputs[r][0], label(r)).pow(2))
            .sum()],
        Aggregate::Mae { .. } => vec![(0..n)
            .map(|r| error_term(spec, outputs[r][0], label(r)).abs())
            .sum()],
    })
}

/// The aggregate values as published: cells below the spec's suppression
/// threshold zeroed.
pub fn suppress(spec: &CircuitSpec, mut values: Vec<i128>) -> Vec<i128> {
    let k = spec.params.suppress_below;
    if k > 0 && spec.aggregate.has_cells() {
        values
            .iter_mut()
            .filter(|v| **v < i128::from(k))
            .for_each(|v| *v = 0);
    }
    values
}

/// The histogram cells an aggregate reveals about the rows, before
/// suppression: class counts, confusion cells, and for `count_at_least` the
/// rows on each side of the threshold (the complement follows from the
/// public row count). Empty for sums, means, errors and accuracy (a count
/// of the model's mistakes, not of rows sharing an attribute; the minimum
/// row count still applies to it).
pub fn cells(aggregate: &Aggregate, rows: u64, values: &[i128]) -> Vec<u64> {
    let count = |v: i128| u64::try_from(v).unwrap_or(0);
    match aggregate {
        Aggregate::ClassCounts | Aggregate::Confusion { .. } => {
            values.iter().map(|v| count(*v)).collect()
        }
        Aggregate::CountAtLeast { .. } => {
            let c = count(values[0]);
            vec![c, rows.saturating_sub(c)]
        }
        Aggregate::Sum
        | Aggregate::Mean
        | Aggregate::Accuracy { .. }
        | Aggregate::Mse { .. }
        | Aggregate::Mae { .. } => vec![],
    }
}

/// `y - label` at the common error scale.
pub fn error_term(spec: &CircuitSpec, y: i128, label: i128) -> i128 {
    (y << spec.params.output_shift) - (label << spec.params.label_shift)
}

/// Aggregate values read as numbers: what a receipt reports.
fn decode(
    spec_aggregate: &Aggregate,
    values: &[i128],
    rows: u64,
    output_scale: i32,
    error_scale: i32,
    classes: usize,
) -> serde_json::Value {
    let n = rows as f64;
    let out = |v: i128| v as f64 / 2f64.powi(output_scale);
    match spec_aggregate {
        Aggregate::Sum => {
            serde_json::json!({ "sum": values.iter().map(|v| out(*v)).collect::<Vec<_>>() })
        }
        Aggregate::Mean => {
            serde_json::json!({ "mean": values.iter().map(|v| out(*v) / n).collect::<Vec<_>>() })
        }
        Aggregate::CountAtLeast { threshold } => {
            serde_json::json!({ "count": values[0], "threshold": threshold, "share": values[0] as f64 / n })
        }
        Aggregate::ClassCounts => serde_json::json!({ "counts": values }),
        Aggregate::Accuracy { .. } => {
            serde_json::json!({ "correct": values[0], "accuracy": values[0] as f64 / n })
        }
        Aggregate::Confusion { .. } => {
            let m: Vec<Vec<i128>> = values.chunks(classes).map(<[i128]>::to_vec).collect();
            let correct: i128 = (0..classes).map(|i| m[i][i]).sum();
            serde_json::json!({ "matrix": m, "accuracy": correct as f64 / n })
        }
        Aggregate::Mse { .. } => {
            serde_json::json!({ "mse": values[0] as f64 / 4f64.powi(error_scale) / n })
        }
        Aggregate::Mae { .. } => {
            serde_json::json!({ "mae": values[0] as f64 / 2f64.powi(error_scale) / n })
        }
    }
}
