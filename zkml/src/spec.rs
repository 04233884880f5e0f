//! The compiler's circuit spec: the public header plus the quantized plan,
//! and the native evaluation of a job (the witness's view).
//!
//! What the circuit proves is defined in `zkgate-statement`; a
//! [`CircuitSpec`] only adds the plan, whose hash, scale and output count it
//! writes into the header itself, so the circuit id covers every field by
//! construction.

use crate::error::Result;
use crate::quantize::Plan;
use sha2::{Digest, Sha256};
use zkgate_statement::aggregate::Rows;
use zkgate_statement::{ShardPlan, SpecHeader};

/// Everything the circuit (and so the verifying key) fixes: the public
/// header and the plan it names by hash.
#[derive(Clone, Debug, PartialEq)]
pub struct CircuitSpec {
    header: SpecHeader,
    plan: Plan,
}

impl CircuitSpec {
    /// The spec of `plan` under `header`, whose plan fields (`output_scale`,
    /// `outputs`, `plan_sha256`) are set from the plan here, whatever they
    /// held.
    /// A model-family plan's header hashes its architecture and names its
    /// weights by their hash (`SpecHeader::weights`).
    pub fn new(mut header: SpecHeader, plan: Plan) -> CircuitSpec {
        let json = serde_json::to_vec(&plan.architecture()).expect("plans serialize");
        header.output_scale = plan.output_scale;
        header.outputs = plan.outputs();
        header.plan_sha256 = hex::encode(Sha256::digest(json));
        header.weights = plan.weights_hash().map(zkgate_statement::field::fr_to_hex);
        CircuitSpec { header, plan }
    }

    /// The public header (what a receipt carries).
    pub fn header(&self) -> &SpecHeader {
        &self.header
    }

    /// The quantized model.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The same circuit over shards of `rows` rows.
    pub fn with_shard_rows(&self, rows: u64) -> CircuitSpec {
        CircuitSpec {
            header: self.header.with_shard_rows(rows),
            plan: self.plan.clone(),
        }
    }

    /// The same circuit publishing cells below `k` rows as zero.
    pub fn with_suppression(&self, k: u64) -> CircuitSpec {
        let mut spec = self.clone();
        spec.header.params.suppress_below = k;
        spec
    }

    /// The shard plan of a dataset of `rows` rows for at most `wanted`
    /// rows per proof.
    pub fn shard_plan(&self, rows: u64, wanted: Option<u64>) -> ShardPlan {
        ShardPlan::new(self.header.shape(rows), wanted)
    }
}

impl std::ops::Deref for CircuitSpec {
    type Target = SpecHeader;

    /// A spec reads as its header.
    fn deref(&self) -> &SpecHeader {
        &self.header
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
    /// Rows whose share of the aggregate is not zero: the cohort the
    /// values draw on (a policy fact; one for a model that selects a row).
    pub contributors: u64,
}

/// Index of the first maximum.
pub fn argmax(v: &[i128]) -> usize {
    zkgate_circuits::argmax::argmax_native(v)
}

/// Evaluates the spec natively on column-major quantized data: every row's
/// outputs, and the aggregate over all rows as published.
pub fn evaluate(spec: &CircuitSpec, columns: &[Vec<i64>]) -> Result<Evaluation> {
    let n = columns.first().map_or(0, Vec::len);
    let mut outputs = Vec::with_capacity(n);
    #[allow(clippy::needless_range_loop)] // rows index every column
    for r in 0..n {
        let x: Vec<i64> = spec.input_columns.iter().map(|j| columns[*j][r]).collect();
        // Which row overflowed is itself a fact about the rows: the
        // message names the stage only.
        outputs.push(spec.plan.run(&x)?);
    }
    let classes: Option<Vec<usize>> = spec
        .aggregate
        .needs_classes()
        .then(|| outputs.iter().map(|o| argmax(o)).collect());
    let mut eval = Evaluation {
        outputs,
        classes,
        aggregates: vec![],
        contributors: 0,
    };
    for r in 0..n {
        let share = aggregate_rows(spec, columns, &eval, r..r + 1)?;
        eval.contributors += u64::from(share.iter().any(|v| *v != 0));
    }
    eval.aggregates = spec.suppress(aggregate_rows(spec, columns, &eval, 0..n)?);
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
    let rows = Rows {
        first: range.start,
        outputs: &eval.outputs[range.clone()],
        classes: eval.classes.as_ref().map(|c| &c[range.clone()]),
        labels: spec.label_column.map(|l| &columns[l][range.clone()]),
    };
    Ok(spec.aggregate.native(&rows, &spec.params)?)
}
