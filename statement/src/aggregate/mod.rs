//! What a job computes over the model's per-row outputs: one module per
//! aggregate, each holding everything about it (its name, whether it reads
//! a label or predicted classes, how many values it publishes, the
//! histogram cells it reveals, its compile-time constants, its native
//! evaluation, its per-row gadget and its decoding), the way tract keeps one
//! file per op. [`Aggregate`] is the closed enum a job names; every method
//! dispatches once, in [`Aggregate::rule`].
//!
//! Every aggregate is a sum over rows of a per-row part, so a sharded job's
//! running totals are carried from shard to shard (hidden in the links)
//! and the last shard publishes them.

mod accuracy;
mod class_counts;
mod confusion;
mod count_at_least;
mod mae;
mod mean;
mod mse;
mod sum;

use crate::error::{Error, Result};
use crate::header::SpecHeader;
use crate::schema::{Column, Kind};
use serde::{Deserialize, Serialize};
use zkgate_circuits::{Cs, Fr, Num};

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
    /// release policy; a public input of the circuit, not part of its id
    /// (`SpecHeader::circuit`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppress_below: u64,
    /// Differential-privacy noise added in the circuit to every released
    /// value (none: the values are exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<Noise>,
}

/// The noise a release carries: discrete Laplace with parameter `p` on
/// every value, drawn in the circuit from `Poseidon(salt, nonce)` (see
/// `zkgate_circuits::noise`), so the release is `epsilon`-differentially
/// private towards any one row (up to `delta` below `2^-40` from the
/// sampler's truncations) given the values' `sensitivity`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    /// `discrete_laplace`.
    pub mechanism: String,
    /// The privacy loss of this release.
    pub epsilon: f64,
    /// The values' L1 sensitivity to one row replaced, in their units.
    pub sensitivity: u64,
    /// `p = exp(-epsilon / sensitivity)` as a 64-bit fraction (rounded
    /// towards more noise).
    pub p: u64,
}

/// The one mechanism the circuit draws.
pub const DISCRETE_LAPLACE: &str = "discrete_laplace";

impl Noise {
    /// Refuses an epsilon outside `0.001..=10`.
    pub fn check_epsilon(epsilon: f64) -> Result<()> {
        if epsilon.is_finite() && (0.001..=10.0).contains(&epsilon) {
            Ok(())
        } else {
            Err(Error::Job(format!(
                "epsilon must be between 0.001 and 10, not {epsilon}"
            )))
        }
    }

    /// The noise for `epsilon` over values of L1 `sensitivity`.
    pub fn new(epsilon: f64, sensitivity: u128) -> Result<Noise> {
        Noise::check_epsilon(epsilon)?;
        let sensitivity = u64::try_from(sensitivity)
            .ok()
            .filter(|s| *s < 1 << 60)
            .ok_or_else(|| {
                Error::Job(format!(
                    "the values' sensitivity ({sensitivity} units) is too large for noise: \
                     narrow the declared ranges or the model's outputs"
                ))
            })?;
        let p =
            zkgate_circuits::noise::parameter(epsilon, sensitivity.max(1)).ok_or_else(|| {
                Error::Job(format!(
                    "no noise parameter for epsilon {epsilon} at sensitivity {sensitivity}"
                ))
            })?;
        Ok(Noise {
            mechanism: DISCRETE_LAPLACE.into(),
            epsilon,
            sensitivity: sensitivity.max(1),
            p,
        })
    }

    /// Whether the stated epsilon is what `p` and the sensitivity give
    /// (never less private than stated).
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.mechanism != DISCRETE_LAPLACE {
            return Err(format!("unknown noise mechanism `{}`", self.mechanism));
        }
        if self.p == 0 || self.sensitivity == 0 {
            return Err("the noise parameters are empty".into());
        }
        let actual = zkgate_circuits::noise::epsilon_of(self.p, self.sensitivity);
        if actual > self.epsilon * (1.0 + 1e-9) {
            return Err(format!(
                "the noise gives epsilon {actual}, more than the stated {}",
                self.epsilon
            ));
        }
        Ok(())
    }

    /// The sampler the circuit draws with.
    pub fn sampler(&self) -> zkgate_circuits::noise::Sampler {
        zkgate_circuits::noise::Sampler::new(self.p)
    }

    /// Standard deviation of each value's noise, in the values' units.
    pub fn std_dev(&self) -> f64 {
        let p = self.p as f64 / 2f64.powi(64);
        (2.0 * p).sqrt() / (1.0 - p)
    }
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl AggregateParams {
    /// The constants before they are fixed from the bounds, for a model with `outputs` outputs
    /// at `output_scale`.
    pub fn new(outputs: usize, output_scale: i32) -> AggregateParams {
        AggregateParams {
            classes: outputs,
            threshold_q: 0,
            bits: 0,
            error_scale: output_scale,
            output_shift: 0,
            label_shift: 0,
            suppress_below: 0,
            noise: None,
        }
    }
}

/// What an aggregate needs of the model's outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outputs {
    /// Any number.
    Any,
    /// Exactly one.
    One,
    /// A classifier: at least two, the class being the argmax.
    Classes,
}

/// The rows an aggregate is evaluated over natively (a shard, or all).
pub struct Rows<'a> {
    /// Index of the first row in the dataset (for messages).
    pub first: usize,
    /// Each row's quantized outputs.
    pub outputs: &'a [Vec<i128>],
    /// Each row's predicted class, when the aggregate needs classes.
    pub classes: Option<&'a [usize]>,
    /// Each row's label, when the aggregate reads one.
    pub labels: Option<&'a [i64]>,
}

impl Rows<'_> {
    fn classes(&self) -> &[usize] {
        self.classes
            .expect("this aggregate is evaluated with classes")
    }

    fn label(&self, r: usize) -> i128 {
        i128::from(self.labels.expect("this aggregate reads a label")[r])
    }
}

/// One row in the circuit, as an aggregate's gadget reads it.
pub struct RowVars<'a> {
    /// The model's outputs.
    pub outputs: &'a [Num],
    /// The predicted class, one-hot, when the aggregate needs classes.
    pub class: Option<&'a [Num]>,
    /// The label, when the aggregate reads one.
    pub label: Option<&'a Num>,
}

impl RowVars<'_> {
    fn class(&self) -> &[Num] {
        self.class.expect("this aggregate is proved with classes")
    }

    fn label(&self) -> &Num {
        self.label.expect("this aggregate reads a label")
    }
}

/// What fixing an aggregate's constants sees: public bounds only (the
/// plan's proven output range and the label column's declared range), never
/// the rows.
pub struct Bounds<'a> {
    /// Scale of the model's outputs.
    pub output_scale: i32,
    /// Least and greatest value of the (single) output, for one-output
    /// aggregates.
    pub output_range: (i128, i128),
    /// The label column, when the aggregate reads one.
    pub label: Option<&'a Column>,
    /// Extra bits on every width.
    pub margin_bits: usize,
}

/// Everything one aggregate defines. Implemented once per module.
trait Rule: Sync {
    /// Short name.
    fn name(&self) -> &'static str;
    /// What it needs of the model's outputs.
    fn outputs(&self) -> Outputs;
    /// Whether it publishes one count per cell (suppressible one by one).
    fn has_cells(&self) -> bool {
        false
    }
    /// Values it publishes for a model with `outputs` outputs (one unless
    /// it says otherwise).
    fn values(&self, _outputs: usize, _params: &AggregateParams) -> usize {
        1
    }
    /// Fixes its compile-time constants.
    fn fix_constants(&self, _: &Aggregate, _: &Bounds<'_>, _: &mut AggregateParams) -> Result<()> {
        Ok(())
    }
    /// How much its values can change, summed over them, when one row is
    /// replaced by any other the declared schema allows (the L1
    /// sensitivity, in the values' units): a bound from the same public
    /// bounds the circuit proves every row's share within.
    fn sensitivity(&self, bounds: &Bounds<'_>, params: &AggregateParams) -> u128;
    /// Constraints its gadget adds per row (the argmax of class aggregates
    /// not included), for a model with `outputs` outputs.
    fn row_cost(&self, _outputs: usize, _params: &AggregateParams) -> usize {
        0
    }
    /// Its values over `rows`, before suppression.
    fn native(&self, rows: &Rows<'_>, params: &AggregateParams) -> Result<Vec<i128>>;
    /// One row's share of its values, in the circuit.
    fn gadget(
        &self,
        cs: &Cs,
        row: &RowVars<'_>,
        params: &AggregateParams,
    ) -> zkgate_circuits::Result<Vec<Num>>;
    /// The histogram cells the values reveal about the rows, before
    /// suppression (empty unless it counts rows sharing an attribute).
    fn cells(&self, _rows: u64, _values: &[i128]) -> Vec<u64> {
        vec![]
    }
    /// The values read as numbers.
    fn decode(
        &self,
        aggregate: &Aggregate,
        header: &SpecHeader,
        rows: u64,
        values: &[i128],
    ) -> serde_json::Value;
}

impl Aggregate {
    /// The one place an aggregate is dispatched to its module.
    fn rule(&self) -> &'static dyn Rule {
        match self {
            Aggregate::Sum => &sum::Sum,
            Aggregate::Mean => &mean::Mean,
            Aggregate::CountAtLeast { .. } => &count_at_least::CountAtLeast,
            Aggregate::ClassCounts => &class_counts::ClassCounts,
            Aggregate::Accuracy { .. } => &accuracy::Accuracy,
            Aggregate::Confusion { .. } => &confusion::Confusion,
            Aggregate::Mse { .. } => &mse::Mse,
            Aggregate::Mae { .. } => &mae::Mae,
        }
    }

    /// Parses an aggregate from its name and the flags it may need (the
    /// command line's form).
    pub fn parse(name: &str, label: Option<&str>, threshold: Option<f64>) -> Result<Aggregate> {
        let label = || {
            label
                .map(str::to_string)
                .ok_or_else(|| Error::Job(format!("`{name}` needs a label column")))
        };
        Ok(match name.replace('-', "_").as_str() {
            "sum" => Aggregate::Sum,
            "mean" => Aggregate::Mean,
            "count_at_least" => Aggregate::CountAtLeast {
                threshold: threshold
                    .ok_or_else(|| Error::Job("count_at_least needs a threshold".into()))?,
            },
            "class_counts" => Aggregate::ClassCounts,
            "accuracy" => Aggregate::Accuracy { label: label()? },
            "confusion" => Aggregate::Confusion { label: label()? },
            "mse" => Aggregate::Mse { label: label()? },
            "mae" => Aggregate::Mae { label: label()? },
            other => return Err(Error::Job(format!("unknown aggregate `{other}`"))),
        })
    }

    /// Every aggregate's name, in [`Aggregate::parse`]'s spelling.
    pub const NAMES: [&'static str; 8] = [
        "sum",
        "mean",
        "count_at_least",
        "class_counts",
        "accuracy",
        "confusion",
        "mse",
        "mae",
    ];

    /// Short name.
    pub fn name(&self) -> &'static str {
        self.rule().name()
    }

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
        self.rule().outputs() == Outputs::Classes
    }

    /// Whether the aggregate publishes one count per cell, so that small
    /// cells can be suppressed one by one.
    pub fn has_cells(&self) -> bool {
        self.rule().has_cells()
    }

    /// Refuses a model with `outputs` outputs, or a label column (by its
    /// declaration), that the aggregate cannot read.
    pub fn check(&self, outputs: usize, label: Option<&Column>) -> Result<()> {
        match self.rule().outputs() {
            Outputs::Classes if outputs < 2 => {
                return Err(Error::Job(format!(
                    "`{}` needs a classifier with at least 2 outputs; this model has {outputs}",
                    self.name()
                )))
            }
            Outputs::One if outputs != 1 => {
                return Err(Error::Job(format!(
                    "`{}` needs a model with one output; this one has {outputs}",
                    self.name()
                )))
            }
            _ => {}
        }
        if let (Outputs::Classes, Some(l)) = (self.rule().outputs(), label) {
            if l.kind != Kind::Integer {
                return Err(Error::Job(format!(
                    "the label column `{}` must be declared as integer class ids",
                    l.name
                )));
            }
            if l.min < 0.0 || l.max >= outputs as f64 {
                return Err(Error::Job(format!(
                    "the label column `{}` is declared [{}, {}], but the model's classes are 0..={}",
                    l.name,
                    l.min,
                    l.max,
                    outputs - 1
                )));
            }
        }
        Ok(())
    }

    /// Number of values published for a model with `outputs` outputs.
    pub fn values(&self, outputs: usize, params: &AggregateParams) -> usize {
        self.rule().values(outputs, params)
    }

    /// Fixes the compile-time constants in `params`.
    pub fn fix_constants(&self, c: &Bounds<'_>, params: &mut AggregateParams) -> Result<()> {
        self.rule().fix_constants(self, c, params)
    }

    /// The values' L1 sensitivity to one row replaced (see the noise of
    /// [`AggregateParams::noise`]).
    pub fn sensitivity(&self, bounds: &Bounds<'_>, params: &AggregateParams) -> u128 {
        self.rule().sensitivity(bounds, params)
    }

    /// Constraints the per-row gadget adds (the argmax of class aggregates
    /// not included): what the compiler's cost estimate adds per row.
    pub fn row_cost(&self, outputs: usize, params: &AggregateParams) -> usize {
        self.rule().row_cost(outputs, params)
    }

    /// The values over `rows`, before suppression: what a shard proves.
    pub fn native(&self, rows: &Rows<'_>, params: &AggregateParams) -> Result<Vec<i128>> {
        self.rule().native(rows, params)
    }

    /// One row's share of the values, in the circuit (summed over rows by
    /// the caller).
    pub fn gadget(
        &self,
        cs: &Cs,
        row: &RowVars<'_>,
        params: &AggregateParams,
    ) -> zkgate_circuits::Result<Vec<Num>> {
        self.rule().gadget(cs, row, params)
    }

    /// The histogram cells an aggregate reveals about the rows, before
    /// suppression: class counts, confusion cells, and for `count_at_least`
    /// the rows on each side of the threshold (the complement follows from
    /// the public row count). Empty for sums, means, errors and accuracy (a
    /// count of the model's mistakes, not of rows sharing an attribute; the
    /// minimum row count still applies to it).
    pub fn cells(&self, rows: u64, values: &[i128]) -> Vec<u64> {
        self.rule().cells(rows, values)
    }

    /// The values read as numbers, as a receipt reports them.
    pub(crate) fn decode(
        &self,
        header: &SpecHeader,
        rows: u64,
        values: &[i128],
    ) -> serde_json::Value {
        self.rule().decode(self, header, rows, values)
    }
}

/// A count as a cell (negative values cannot be counts: 0).
fn count(v: i128) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// `y - label` at the common error scale (`mse`, `mae`).
pub fn error_term(params: &AggregateParams, y: i128, label: i128) -> i128 {
    (y << params.output_shift) - (label << params.label_shift)
}

/// Sensitivity of a sum of every output: each output's share moves within
/// the proven output range.
fn range_sensitivity(c: &Bounds<'_>, p: &AggregateParams) -> u128 {
    let (lo, hi) = c.output_range;
    (hi - lo).unsigned_abs() * p.classes as u128
}

/// The widest error `y - label` at the error scale (`mse`, `mae`).
fn worst_error(c: &Bounds<'_>, p: &AggregateParams) -> i128 {
    let label = c.label.expect("error aggregates read a label");
    let (l_lo, l_hi) = label.range();
    let (y_lo, y_hi) = c.output_range;
    error_term(p, y_hi, i128::from(l_lo))
        .abs()
        .max(error_term(p, y_lo, i128::from(l_hi)).abs())
}

/// The common scale of output and label and the widest error (`mse`,
/// `mae`): the error's range-check width includes a sign bit.
fn error_constants(c: &Bounds<'_>, p: &mut AggregateParams) {
    let label = c.label.expect("error aggregates read a label");
    let common = c.output_scale.max(label.scale());
    p.error_scale = common;
    p.output_shift = (common - c.output_scale) as u32;
    p.label_shift = (common - label.scale()) as u32;
    let worst = worst_error(c, p);
    p.bits = crate::field::bitlen(worst) + 1 + c.margin_bits;
}

/// The output and label at the error scale, in the circuit.
fn error_operands(row: &RowVars<'_>, p: &AggregateParams) -> (Num, Num) {
    use ark_ff::Field;
    let y = row.outputs[0].scale(Fr::from(2u64).pow([u64::from(p.output_shift)]));
    let l = row
        .label()
        .scale(Fr::from(2u64).pow([u64::from(p.label_shift)]));
    (y, l)
}

#[cfg(test)]
mod tests;
