//! Quantization: from the float IR to an integer plan of circuit stages.
//!
//! Fixed point with power-of-two scales: a stored integer `q` at scale `s`
//! stands for `q / 2^s`. Each affine op becomes a [`Stage::Linear`] whose
//! integer weights `round(w * 2^(S - s_in))` put its accumulators at scale
//! `S`, chosen so the largest weight has `weight_bits` bits. An affine op
//! followed by a non-linearity gets a [`Stage::Rescale`] that floors the
//! accumulators back to `act_bits` bits of magnitude (rounding to nearest:
//! the bias carries the half step) and applies ReLU when one follows, using
//! the same bit decomposition. Every bit width is an interval bound
//! propagated from the dataset's declared column ranges (public), plus
//! `margin_bits`: no row inside the declared ranges can leave it, and a run
//! that did would be an [`Error::Overflow`], never a wrong proof.

use crate::error::{Error, Result};
use crate::ir::{Curve, Model, Op};
use serde::{Deserialize, Serialize};
use zkgate_statement::field::bitlen;

pub use zkgate_statement::quant::{Family, QuantConfig};

mod curves;
mod eval;
mod interval;
mod trees;

pub use curves::*;
pub(crate) use eval::*;
use interval::*;
pub use trees::*;

/// One stage of the integer plan; the circuit lowers each one directly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Stage {
    /// `z_j = sum_i w_ji x_i + b_j` (free in R1CS).
    Linear {
        /// Input length.
        inputs: usize,
        /// Sparse integer weights per output.
        rows: Vec<Vec<(u32, i64)>>,
        /// Integer biases (including the rounding half step of a following
        /// rescale).
        bias: Vec<i128>,
        /// In a model-family circuit: the weights and biases are private
        /// inputs of these declared widths (`rows` and `bias` still hold
        /// the model's, for the witness).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        private: Option<Private>,
    },
    /// `floor(z / 2^shift)` (then ReLU if `relu`), `z` proven to fit `bits`
    /// signed bits.
    Rescale {
        /// Signed width of the input.
        bits: usize,
        /// Bits dropped.
        shift: usize,
        /// Apply ReLU.
        relu: bool,
    },
    /// Windowed maximum, pairwise differences below `2^bits`.
    MaxPool {
        /// Input indices of each output's window.
        windows: Vec<Vec<u32>>,
        /// Width of the difference range checks.
        bits: usize,
    },
    /// A smooth activation, elementwise, as a piecewise-linear table
    /// (`zkgate_circuits::activation`).
    Activation {
        /// Which function it approximates.
        curve: Curve,
        /// The table.
        table: Table,
    },
    /// A decision-tree ensemble over the inputs: each compared input is
    /// bucketed once among its thresholds, each output sums the values of
    /// the leaves reached (`zkgate_circuits::trees`).
    Trees {
        /// The compared inputs and their buckets.
        buckets: Vec<Bucketed>,
        /// The trees, node 0 the root, children after their parent.
        trees: Vec<Vec<QNode>>,
        /// Output length (the sums, after the passed inputs).
        outputs: usize,
        /// Leading inputs passed through unchanged, before the sums.
        #[serde(default, skip_serializing_if = "is_zero")]
        pass: usize,
    },
}

/// The declared widths of a linear stage whose weights are private inputs
/// (a model-family circuit, [`QuantConfig::family`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Private {
    /// Signed width of every weight on each input.
    pub weight_bits: Vec<usize>,
    /// Signed width of each learned bias.
    pub bias_bits: usize,
    /// The public part of each bias: a following rescale's half step.
    pub half: i128,
}

/// The widths a family's bounds (`limits`: log2 of each input's largest
/// float weight) give a linear layer at scale `s_pre`, the model's quantized
/// weights and biases checked to fit them.
#[allow(clippy::too_many_arguments)]
fn family_widths(
    a: &crate::ir::Affine,
    wrows: &[Vec<(u32, i64)>],
    bias: &[i128],
    limits: &[f64],
    scales: &[i32],
    f: Family,
    s_pre: i32,
    op: usize,
) -> Result<Private> {
    // |w_c| <= 2^L_c makes |q_c| <= 2^(L_c + s_pre - s_c): below 2^k_c,
    // k_c = floor(L_c + s_pre - s_c) + 1 (the rounding's half step
    // included).
    let weight_bits: Vec<usize> = limits
        .iter()
        .zip(scales)
        .map(|(l, s)| {
            let k = (l + f64::from(s_pre - s)).floor() as i64 + 1;
            k.max(0) as usize + 1
        })
        .collect();
    let bias_bits = (i64::from(f.bias_log2) + i64::from(s_pre) + 1).max(0) as usize + 1;
    let widest = weight_bits
        .iter()
        .copied()
        .max()
        .unwrap_or(1)
        .max(bias_bits);
    if widest > zkgate_circuits::weights::MAX_BITS {
        return Err(Error::Overflow(format!(
            "op {op}: the family's bounds need {widest}-bit weights, more than {}",
            zkgate_circuits::weights::MAX_BITS
        )));
    }
    for (j, row) in wrows.iter().enumerate() {
        for (k, (c, q)) in row.iter().enumerate() {
            if !zkgate_circuits::weights::fits(i128::from(*q), weight_bits[*c as usize]) {
                return Err(Error::Job(format!(
                    "op {op}: the weight {} of output {j} on input {c} {OUTSIDE} (2^{:.2})",
                    a.rows[j][k].1, limits[*c as usize]
                )));
            }
        }
    }
    for (j, b) in bias.iter().enumerate() {
        if !zkgate_circuits::weights::fits(*b, bias_bits) {
            return Err(Error::Job(format!(
                "op {op}: the bias {} of output {j} {OUTSIDE} (2^{})",
                a.bias[j], f.bias_log2
            )));
        }
    }
    Ok(Private {
        weight_bits,
        bias_bits,
        half: 0,
    })
}

/// Activation bits a model-family circuit keeps over its settings'.
pub const FAMILY_ACT_BITS: u32 = 6;
/// Weight bits a model-family circuit takes over its settings'.
pub const FAMILY_WEIGHT_BITS: u32 = 2;

/// What a weight or bias outside a family's bounds is refused with.
const OUTSIDE: &str = "is outside the family's bound";

/// The tightest family bounds `model`'s weights fit (each exponent the
/// least that holds), then `headroom` more bits on each: what a researcher
/// declares for a model family, so that retrained weights up to `2^headroom`
/// times larger keep the circuit and its key.
pub fn fit_family(
    model: &Model,
    inputs: &[InputRange],
    config: QuantConfig,
    headroom: i32,
) -> Result<Family> {
    let log2 = |x: f64| {
        if x > 0.0 {
            (x.log2().ceil() as i32).clamp(*Family::LOG2.start(), *Family::LOG2.end())
        } else {
            *Family::LOG2.start()
        }
    };
    let (mut term, mut weight, mut bias) = (0f64, 0f64, 0f64);
    let mut first = true;
    for op in &model.ops {
        if let Op::Affine(a) = op {
            for row in &a.rows {
                for (c, w) in row {
                    if first {
                        // The column's largest float magnitude.
                        let r = inputs.get(*c as usize).map_or(1.0, |r| {
                            i128::from(r.lo).abs().max(i128::from(r.hi).abs()).max(1) as f64
                                * pow2(-r.scale)
                        });
                        term = term.max(w.abs() * r);
                    } else {
                        weight = weight.max(w.abs());
                    }
                }
            }
            bias = a.bias.iter().fold(bias, |m, b| m.max(b.abs()));
            first = false;
        }
    }
    let f = Family {
        term_log2: log2(term) + headroom,
        weight_log2: log2(weight) + headroom,
        bias_log2: log2(bias) + headroom,
    };
    f.check().map_err(|e| Error::Job(e.to_string()))?;
    // The bounds hold the model (the plan checks every weight).
    Plan::bound(
        model,
        inputs,
        QuantConfig {
            family: Some(f),
            ..config
        },
    )?;
    Ok(f)
}

/// Interval bounds of a family layer's outputs over any weights and biases
/// within its widths: `sum_c 2^(b_c - 1) M_c + 2^(b - 1)` either way, the
/// public half step added.
fn family_bounds(
    wrows: &[Vec<(u32, i64)>],
    p: &Private,
    mags: &[i128],
    half: i128,
) -> Vec<Interval> {
    wrows
        .iter()
        .map(|row| {
            let m: i128 = row
                .iter()
                .map(|(c, _)| (1i128 << (p.weight_bits[*c as usize] - 1)) * mags[*c as usize])
                .sum::<i128>()
                + (1i128 << (p.bias_bits - 1));
            Interval::new(half - m, half + m)
        })
        .collect()
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The integer plan of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Scale of each input element.
    pub input_scales: Vec<i32>,
    /// The stages, in order.
    pub stages: Vec<Stage>,
    /// Scale of the outputs.
    pub output_scale: i32,
    /// Outputs are proven to fit `output_bits` signed bits.
    pub output_bits: usize,
    /// Least and greatest value any output can take over the declared
    /// input ranges.
    pub output_range: (i128, i128),
    /// Whether the model is a classifier (its class is the argmax).
    pub classifier: bool,
    /// The settings used.
    pub config: QuantConfig,
}

pub(super) fn pow2(e: i32) -> f64 {
    2f64.powi(e)
}

pub(super) const MAX_ACC_BITS: usize = 120;

impl Plan {
    /// Quantizes `model` for inputs declared in `inputs` (each one's scale
    /// and least and greatest stored integer). Every width follows from
    /// those bounds and the weights by interval propagation, never from
    /// rows: the plan is a function of public facts, and no row inside the
    /// declared ranges can leave it.
    pub fn bound(model: &Model, inputs: &[InputRange], config: QuantConfig) -> Result<Plan> {
        config.check().map_err(|e| Error::Job(e.to_string()))?;
        // A family's widths are worst cases over every model its bounds
        // admit, looser than one model's: its rescales keep more bits and
        // its weights take more, so that a model keeps the precision it
        // has at the same settings with constant weights (measured:
        // `zkgate bench --family-cost`). Wider values cost a family little:
        // a product is one constraint whatever its width.
        let given = config;
        let config = match config.family {
            Some(_) => QuantConfig {
                act_bits: config.act_bits + FAMILY_ACT_BITS,
                weight_bits: config.weight_bits + FAMILY_WEIGHT_BITS,
                ..config
            },
            None => config,
        };
        if inputs.len() != model.inputs {
            return Err(Error::Job(format!(
                "the model takes {} inputs, {} columns were given",
                model.inputs,
                inputs.len()
            )));
        }
        if !matches!(model.ops.first(), Some(Op::Affine(_) | Op::Trees(_))) {
            return Err(Error::Structure(
                "the first op must be a linear layer or a tree ensemble".into(),
            ));
        }
        let margin = config.margin_bits as usize;
        let mut box_: Vec<Interval> = inputs
            .iter()
            .map(|r| Interval::new(i128::from(r.lo), i128::from(r.hi)))
            .collect();
        let mut scales: Vec<i32> = inputs.iter().map(|r| r.scale).collect();
        let mut stages = Vec::new();
        let mut classifier = false;
        let mut i = 0;
        while i < model.ops.len() {
            match &model.ops[i] {
                Op::Affine(a) => {
                    let fam = config.family;
                    // Each input's largest stored magnitude (at least 1).
                    let mags: Vec<i128> = box_.iter().map(|x| x.magnitude().max(1)).collect();
                    // A family's bound on each input's weights, log2 (float):
                    // the first layer's from its term bound and the column's
                    // range (|w| * M_c * 2^-s_c <= 2^T), a later layer's its
                    // weight bound.
                    let first = stages.is_empty();
                    let limits: Vec<f64> = match fam {
                        Some(f) if first => mags
                            .iter()
                            .zip(&scales)
                            .map(|(m, s)| {
                                f64::from(f.term_log2) + f64::from(*s) - (*m as f64).log2()
                            })
                            .collect(),
                        Some(f) => vec![f64::from(f.weight_log2); mags.len()],
                        None => Vec::new(),
                    };
                    let mut top = f64::NEG_INFINITY;
                    for row in &a.rows {
                        for (c, w) in row {
                            let c = *c as usize;
                            let log2 = if fam.is_some() {
                                limits[c]
                            } else {
                                w.abs().log2()
                            };
                            top = top.max(log2 - f64::from(scales[c]));
                        }
                    }
                    // Largest weight gets `weight_bits` bits...
                    let s_weights = if top.is_finite() {
                        (f64::from(config.weight_bits) - top).floor() as i32
                    } else {
                        config.act_bits as i32
                    };
                    // ...and the rounding error of each output's weights
                    // together stays below 2^-act_bits of the layer's largest
                    // possible output. Each weight's rounding error is
                    // uniform in half a step, so an output's error has
                    // standard deviation sqrt(sum_c max|q_c|^2 / 12) / 2^S;
                    // we budget three of them. (The agreement with float is
                    // measured and reported for every job.)
                    let q_max: Vec<f64> = box_.iter().map(|x| x.magnitude() as f64).collect();
                    let err = a
                        .rows
                        .iter()
                        .map(|row| {
                            3.0 * (row
                                .iter()
                                .map(|(c, _)| q_max[*c as usize].powi(2))
                                .sum::<f64>()
                                / 12.0)
                                .sqrt()
                        })
                        .fold(0f64, f64::max);
                    let z_max = a
                        .rows
                        .iter()
                        .zip(&a.bias)
                        .map(|(row, b)| match fam {
                            Some(f) => {
                                row.iter()
                                    .map(|(c, _)| {
                                        let c = *c as usize;
                                        2f64.powf(limits[c]) * mags[c] as f64 * pow2(-scales[c])
                                    })
                                    .sum::<f64>()
                                    + pow2(f.bias_log2)
                            }
                            None => {
                                let (lo, hi) = row.iter().fold((*b, *b), |(lo, hi), (c, w)| {
                                    let x = &box_[*c as usize];
                                    let s = pow2(-scales[*c as usize]);
                                    let (p, q) = (w * x.lo as f64 * s, w * x.hi as f64 * s);
                                    (lo + p.min(q), hi + p.max(q))
                                });
                                lo.abs().max(hi.abs())
                            }
                        })
                        .fold(0f64, f64::max);
                    let s_error = if err > 0.0 && z_max > 0.0 {
                        ((err / z_max).log2().ceil() as i32) + config.act_bits as i32
                    } else {
                        i32::MIN
                    };
                    let s_pre = s_weights.max(s_error);
                    // A family circuit keeps every term of the model's
                    // pattern, zero or not: its weights are variables.
                    let wrows: Vec<Vec<(u32, i64)>> = a
                        .rows
                        .iter()
                        .map(|row| {
                            row.iter()
                                .map(|(c, w)| {
                                    (*c, (w * pow2(s_pre - scales[*c as usize])).round() as i64)
                                })
                                .filter(|(_, w)| *w != 0 || fam.is_some())
                                .collect()
                        })
                        .collect();
                    let mut bias: Vec<i128> = Vec::with_capacity(a.bias.len());
                    for b in &a.bias {
                        let q = b * pow2(s_pre);
                        if !q.is_finite() || q.abs() > 2f64.powi(100) {
                            return Err(Error::Overflow(format!(
                                "op {i}: bias {b} does not fit the accumulator at scale 2^{s_pre}"
                            )));
                        }
                        bias.push(q.round() as i128);
                    }
                    let private = match fam {
                        Some(f) => Some(family_widths(
                            a, &wrows, &bias, &limits, &scales, f, s_pre, i,
                        )?),
                        None => None,
                    };
                    let bounds = |bias: &[i128], half: i128| match &private {
                        Some(p) => Ok(family_bounds(&wrows, p, &mags, half)),
                        None => linear_bounds(&wrows, bias, &box_, i),
                    };
                    let next = model.ops.get(i + 1);
                    let needs_rescale = matches!(
                        next,
                        Some(Op::Relu) | Some(Op::MaxPool(_)) | Some(Op::Activation(_))
                    );
                    let mut z = bounds(&bias, 0)?;
                    if needs_rescale {
                        let relu = matches!(next, Some(Op::Relu));
                        let mut bits = signed_bits(&z) + margin;
                        let shift = bits.saturating_sub(1 + config.act_bits as usize);
                        let mut private = private.clone();
                        if shift > 0 {
                            let half = 1i128 << (shift - 1);
                            bias.iter_mut().for_each(|b| *b += half);
                            if let Some(p) = &mut private {
                                p.half = half;
                            }
                            z = bounds(&bias, half)?;
                            bits = bits.max(signed_bits(&z) + margin);
                        }
                        check_width(bits, i)?;
                        box_ = z.iter().map(|x| x.rescale(shift, relu)).collect();
                        scales = vec![s_pre - shift as i32; a.outputs()];
                        stages.push(Stage::Linear {
                            inputs: a.inputs,
                            rows: wrows,
                            bias,
                            private,
                        });
                        stages.push(Stage::Rescale { bits, shift, relu });
                        i += if relu { 2 } else { 1 };
                    } else {
                        check_width(signed_bits(&z), i)?;
                        box_ = z;
                        scales = vec![s_pre; a.outputs()];
                        stages.push(Stage::Linear {
                            inputs: a.inputs,
                            rows: wrows,
                            bias,
                            private,
                        });
                        i += 1;
                    }
                }
                Op::Relu => {
                    return Err(Error::Structure(format!(
                        "op {i}: ReLU must directly follow a linear layer"
                    )))
                }
                Op::MaxPool(p) => {
                    // The window's maximum minus any member is at most the
                    // greatest upper bound minus that member's lower bound.
                    let mut diff = 0i128;
                    for w in &p.windows {
                        let top = w
                            .iter()
                            .map(|j| box_[*j as usize].hi)
                            .max()
                            .expect("non-empty");
                        for j in w {
                            diff = diff.max(top - box_[*j as usize].lo);
                        }
                    }
                    let bits = bitlen(diff).max(1) + margin;
                    box_ = p
                        .windows
                        .iter()
                        .map(|w| {
                            let lo = w
                                .iter()
                                .map(|j| box_[*j as usize].lo)
                                .max()
                                .expect("non-empty");
                            let hi = w
                                .iter()
                                .map(|j| box_[*j as usize].hi)
                                .max()
                                .expect("non-empty");
                            Interval::new(lo, hi)
                        })
                        .collect();
                    scales = p.windows.iter().map(|w| scales[w[0] as usize]).collect();
                    stages.push(Stage::MaxPool {
                        windows: p.windows.clone(),
                        bits,
                    });
                    i += 1;
                }
                Op::Activation(c) => {
                    if !matches!(stages.last(), Some(Stage::Rescale { .. })) {
                        return Err(Error::Structure(format!(
                            "op {i}: {} must directly follow a linear layer",
                            c.name()
                        )));
                    }
                    let lo = box_.iter().map(|x| x.lo).min().unwrap_or(0);
                    let hi = box_.iter().map(|x| x.hi).max().unwrap_or(0);
                    let (table, out, scale) =
                        curve_table(*c, Interval::new(lo, hi), scales[0], config.act_bits)?;
                    check_width(signed_bits(&[out]) + margin, i)?;
                    box_ = vec![out; box_.len()];
                    scales = vec![scale; box_.len()];
                    stages.push(Stage::Activation { curve: *c, table });
                    i += 1;
                }
                Op::Trees(e) => {
                    if config.family.is_some() {
                        return Err(Error::Structure(format!(
                            "op {i}: a model-family circuit takes linear layers only, not a tree ensemble (its thresholds would be private: see ARCHITECTURE.md)"
                        )));
                    }
                    if i != 0 {
                        return Err(Error::Structure(
                            "a tree ensemble must be the model's first op (its thresholds compare the dataset's values)".into(),
                        ));
                    }
                    let (stage, bounds, out_scales) = quantize_trees(e, &box_, &scales)?;
                    check_width(signed_bits(&bounds) + margin, i)?;
                    box_ = bounds;
                    scales = out_scales;
                    stages.push(stage);
                    i += 1;
                }
                Op::Softmax => {
                    classifier = true;
                    i += 1;
                }
            }
        }
        let output_scale = scales[0];
        if scales.iter().any(|s| *s != output_scale) {
            return Err(Error::Structure("outputs at mixed scales".into()));
        }
        let output_bits = signed_bits(&box_) + margin;
        let output_range = (
            box_.iter().map(|x| x.lo).min().unwrap_or(0),
            box_.iter().map(|x| x.hi).max().unwrap_or(0),
        );
        Ok(Plan {
            input_scales: scales_of(inputs),
            stages,
            output_scale,
            output_bits,
            output_range,
            classifier,
            config: given,
        })
    }

    /// Whether the weights are private inputs (a model-family circuit).
    pub fn is_family(&self) -> bool {
        self.stages.iter().any(|s| {
            matches!(
                s,
                Stage::Linear {
                    private: Some(_),
                    ..
                }
            )
        })
    }

    /// The plan with every private weight and learned bias zero: what a
    /// model-family circuit fixes (and its header hashes).
    pub fn architecture(&self) -> Plan {
        let mut p = self.clone();
        for s in &mut p.stages {
            if let Stage::Linear {
                rows,
                bias,
                private: Some(f),
                ..
            } = s
            {
                rows.iter_mut().flatten().for_each(|(_, w)| *w = 0);
                bias.iter_mut().for_each(|b| *b = f.half);
            }
        }
        p
    }

    /// The private weights and learned biases with their widths, in the
    /// order the circuit reads them: stage by stage, each row's terms,
    /// then the stage's biases. Empty unless a model-family circuit.
    pub fn private_weights(&self) -> (Vec<i128>, Vec<usize>) {
        let (mut values, mut bits) = (Vec::new(), Vec::new());
        for s in &self.stages {
            if let Stage::Linear {
                rows,
                bias,
                private: Some(f),
                ..
            } = s
            {
                for (c, w) in rows.iter().flatten() {
                    values.push(i128::from(*w));
                    bits.push(f.weight_bits[*c as usize]);
                }
                for b in bias {
                    values.push(b - f.half);
                    bits.push(f.bias_bits);
                }
            }
        }
        (values, bits)
    }

    /// A model-family circuit's weights hash (`zkgate_circuits::weights`).
    pub fn weights_hash(&self) -> Option<zkgate_circuits::Fr> {
        self.is_family().then(|| {
            let (values, bits) = self.private_weights();
            zkgate_circuits::weights::hash(&values, &bits)
        })
    }

    /// Output length.
    pub fn outputs(&self) -> usize {
        let mut n = self.input_scales.len();
        for s in &self.stages {
            match s {
                Stage::Linear { rows, .. } => n = rows.len(),
                Stage::MaxPool { windows, .. } => n = windows.len(),
                Stage::Trees { outputs, pass, .. } => n = pass + outputs,
                Stage::Rescale { .. } | Stage::Activation { .. } => {}
            }
        }
        n
    }

    /// Runs the plan on one row of quantized inputs, checking every range
    /// the circuit will prove.
    pub fn run(&self, x: &[i64]) -> Result<Vec<i128>> {
        let mut v: Vec<i128> = x.iter().map(|a| i128::from(*a)).collect();
        for (k, s) in self.stages.iter().enumerate() {
            v = match s {
                Stage::Linear { rows, bias, .. } => linear(rows, bias, &v),
                Stage::Rescale { bits, shift, relu } => {
                    if v.iter().any(|z| !fits(*z, *bits)) {
                        return Err(Error::Overflow(format!(
                            "stage {k}: an accumulator leaves its proven {bits}-bit range"
                        )));
                    }
                    v.iter().map(|z| rescale(*z, *shift, *relu)).collect()
                }
                Stage::MaxPool { windows, bits } => {
                    for w in windows {
                        let m = w.iter().map(|j| v[*j as usize]).max().expect("non-empty");
                        if w.iter().any(|j| bitlen(m - v[*j as usize]) > *bits) {
                            return Err(Error::Overflow(format!(
                                "stage {k}: max-pool difference exceeds {bits} bits"
                            )));
                        }
                    }
                    pool(windows, &v)
                }
                Stage::Activation { table, .. } => {
                    if v.iter().any(|x| *x < table.lo || *x > table.hi) {
                        return Err(Error::Overflow(format!(
                            "stage {k}: an activation's input leaves its proven range"
                        )));
                    }
                    v.iter().map(|x| table.at(*x)).collect()
                }
                Stage::Trees {
                    buckets,
                    trees,
                    outputs,
                    pass,
                } => {
                    let mut onehot_of = Vec::with_capacity(buckets.len());
                    for b in buckets {
                        let x = v[b.input as usize];
                        if x < b.lo || x > b.hi {
                            return Err(Error::Overflow(format!(
                                "stage {k}: an input leaves its declared range"
                            )));
                        }
                        onehot_of.push(b.thresholds.partition_point(|t| *t < x));
                    }
                    let mut out = v[..*pass].to_vec();
                    out.resize(pass + outputs, 0);
                    for tree in trees {
                        for (o, val) in tree_leaf(tree, &onehot_of) {
                            out[pass + *o as usize] += i128::from(*val);
                        }
                    }
                    out
                }
            };
        }
        if v.iter().any(|y| !fits(*y, self.output_bits)) {
            return Err(Error::Overflow(format!(
                "an output leaves its proven {}-bit range",
                self.output_bits
            )));
        }
        Ok(v)
    }
}

/// One input's declared bounds: its scale and least and greatest stored
/// integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputRange {
    /// Fixed-point scale.
    pub scale: i32,
    /// Least stored integer.
    pub lo: i64,
    /// Greatest stored integer.
    pub hi: i64,
}

pub(super) fn scales_of(inputs: &[InputRange]) -> Vec<i32> {
    inputs.iter().map(|r| r.scale).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn activation_tables_stay_within_the_stated_error() {
        let curves = [
            Curve::Sigmoid,
            Curve::Tanh,
            Curve::Elu { alpha: 1.0 },
            Curve::Elu { alpha: 0.3 },
            Curve::Selu {
                alpha: 1.673_263_2,
                gamma: 1.050_701,
            },
            Curve::Softplus,
            Curve::HardSwish,
        ];
        for c in curves {
            for (s, act_bits) in [(4, 10), (8, 10), (10, 12), (6, 8)] {
                let r = 12i128 << s;
                let (t, out, scale) = curve_table(c, Interval::new(-r, r), s, act_bits).unwrap();
                let bound = error_bound(c, act_bits);
                let mut worst = 0f64;
                for x in -r..=r {
                    let y = t.at(x);
                    assert!(out.lo <= y && y <= out.hi, "{c:?} {x}: {y} outside {out:?}");
                    let real = x as f64 / pow2(s);
                    let err = (y as f64 / pow2(scale) - c.at(real)).abs();
                    assert!(
                        err <= bound.at(real),
                        "{c:?} s={s} x={real}: {err} > {bound:?}"
                    );
                    worst = worst.max(err - bound.per_unit * real.abs());
                }
                assert!(worst <= bound.absolute, "{c:?} s={s}: {worst} > {bound:?}");
                assert_eq!(t.thresholds.len() + 1, t.slopes.len());
            }
            println!("{c:?}: within {:?} at act_bits 10", error_bound(c, 10));
        }
        // At the default settings the bound is about 1e-3 (sigmoid), 2e-3
        // (tanh, Elu, Softplus), 1.4e-3 (HardSwish).
        let at10 = |c| error_bound(c, 10).absolute;
        assert!(at10(Curve::Sigmoid) < 2e-3);
        assert!(at10(Curve::Tanh) < 3e-3);
        assert!(at10(Curve::Elu { alpha: 1.0 }) < 3e-3);
        assert!(at10(Curve::Softplus) < 3e-3);
        assert!(at10(Curve::HardSwish) < 2e-3);
        // Elu's, Softplus's and HardSwish's upper tail is x itself, exact;
        // Selu's slope gamma is rounded.
        assert_eq!(error_bound(Curve::HardSwish, 10).per_unit, 0.0);
        assert!(
            error_bound(
                Curve::Selu {
                    alpha: 1.67,
                    gamma: 1.05
                },
                10
            )
            .per_unit
                <= 2f64.powi(-19)
        );
        let negative = Curve::Elu { alpha: -1.0 };
        assert!(curve_table(negative, Interval::new(-4, 4), 4, 10).is_err());
    }

    #[test]
    fn the_supported_ops_table_states_the_bounds() {
        use crate::import::ops::SUPPORTED;
        let selu = Curve::Selu {
            alpha: 1.673_263_2,
            gamma: 1.050_701,
        };
        for c in [
            Curve::Sigmoid,
            Curve::Tanh,
            Curve::Elu { alpha: 1.0 },
            selu,
            Curve::Softplus,
            Curve::HardSwish,
        ] {
            let b = error_bound(c, QuantConfig::default().act_bits);
            let row = SUPPORTED.iter().find(|s| s.op == c.name()).unwrap();
            let stated = format!("within {:.1e}", b.absolute);
            assert!(
                row.becomes.contains(&stated),
                "{c:?}: {} vs {stated}",
                row.becomes
            );
            let sm = Smooth::of(c).unwrap();
            assert!(
                row.becomes.contains(&format!("[{}, {}]", sm.from, sm.to)),
                "{c:?}: {}",
                row.becomes
            );
            if b.per_unit > 0.0 {
                assert!(row.becomes.contains(&format!("{:.1e} abs(x)", b.per_unit)));
            }
        }
    }

    #[test]
    fn a_step_table_is_exact() {
        for threshold in [0.0f32, 0.3, -1.25, 5.0] {
            let c = Curve::Step { threshold };
            for s in [0, 4, 8] {
                let r = 12i128 << s;
                let (t, out, scale) = curve_table(c, Interval::new(-r, r), s, 10).unwrap();
                assert_eq!(scale, 0);
                assert!(out.lo >= 0 && out.hi <= 1);
                for x in -r..=r {
                    let real = x as f64 / pow2(s);
                    assert_eq!(t.at(x) as f64, c.at(real), "{threshold} s={s} x={real}");
                }
            }
        }
    }

    #[test]
    fn a_clamp_table_is_exact_up_to_its_bounds_rounding() {
        for (lo, hi) in [
            (Some(0.0f32), Some(6.0f32)),
            (Some(-1.0), Some(1.0)),
            (None, Some(0.75)),
            (Some(0.3), None),
        ] {
            let c = Curve::Clamp { lo, hi };
            for s in [4, 8] {
                let r = 12i128 << s;
                for (a, b) in [(-r, r), (-r, -1), (3, r)] {
                    let (t, out, scale) = curve_table(c, Interval::new(a, b), s, 10).unwrap();
                    assert_eq!(scale, s, "slopes 0 and 1 keep the scale");
                    assert_eq!(t.thresholds.len() + 1, t.slopes.len());
                    for x in a..=b {
                        let y = t.at(x);
                        assert!(out.lo <= y && y <= out.hi, "{x}: {y} outside {out:?}");
                        let err = (y as f64 / pow2(s) - c.at(x as f64 / pow2(s))).abs();
                        assert!(err <= pow2(-s) / 2.0 + 1e-12, "{c:?} {x}: {err}");
                    }
                }
            }
        }
        let empty = Curve::Clamp {
            lo: Some(2.0),
            hi: Some(1.0),
        };
        assert!(curve_table(empty, Interval::new(-4, 4), 4, 10).is_err());
    }

    #[test]
    fn a_leaky_relu_table_is_exact_up_to_its_slope() {
        for alpha in [0.01f32, 0.2, 0.0] {
            let c = Curve::LeakyRelu { alpha };
            for (s, act_bits) in [(4, 10), (8, 10), (6, 8)] {
                let r = 12i128 << s;
                for (lo, hi) in [(-r, r), (-r, -1), (0, r), (3, r)] {
                    let (t, out, scale) =
                        curve_table(c, Interval::new(lo, hi), s, act_bits).unwrap();
                    assert_eq!(t.thresholds.len() + 1, t.slopes.len());
                    let bound = error_bound(c, act_bits).per_unit;
                    for x in lo..=hi {
                        let y = t.at(x);
                        assert!(out.lo <= y && y <= out.hi, "{x}: {y} outside {out:?}");
                        let real = x as f64 / pow2(s);
                        let err = (y as f64 / pow2(scale) - c.at(real)).abs();
                        assert!(err <= bound * real.abs() + 1e-12, "{alpha} {x}: {err}");
                        // Non-negative inputs pass through exactly.
                        if x >= 0 {
                            assert_eq!(y, x << (scale - s));
                        }
                    }
                }
            }
        }
        // At the default settings the slope is within 2^-19 of alpha.
        assert!(error_bound(Curve::LeakyRelu { alpha: 0.01 }, 10).per_unit <= 2f64.powi(-19));
        assert!(curve_table(Curve::LeakyRelu { alpha: 1.5 }, Interval::new(-4, 4), 4, 10).is_err());
    }

    use super::*;
    use crate::ir::Affine;

    fn mlp() -> Model {
        let l1 = Affine {
            inputs: 2,
            rows: vec![vec![(0, 0.5), (1, -1.25)], vec![(0, 2.0)]],
            bias: vec![0.1, -0.3],
        };
        let l2 = Affine {
            inputs: 2,
            rows: vec![vec![(0, 1.5), (1, 0.75)]],
            bias: vec![0.2],
        };
        Model {
            input_shape: vec![1, 2],
            inputs: 2,
            ops: vec![Op::Affine(l1), Op::Relu, Op::Affine(l2)],
            source_ops: vec![],
        }
    }

    fn box8(lo: i64, hi: i64) -> Vec<InputRange> {
        vec![InputRange { scale: 8, lo, hi }; 2]
    }

    #[test]
    fn quantized_run_tracks_the_float_model() {
        let m = mlp();
        let rows: Vec<Vec<i64>> = (0..50)
            .map(|i| vec![(i * 13 % 512) - 256, (i * 29 % 512) - 256])
            .collect();
        let plan = Plan::bound(&m, &box8(-256, 255), QuantConfig::default()).unwrap();
        assert!(matches!(plan.stages[1], Stage::Rescale { relu: true, .. }));
        for r in &rows {
            let y = plan.run(r).unwrap()[0] as f64 / pow2(plan.output_scale);
            let xf: Vec<f64> = r.iter().map(|v| *v as f64 / 256.0).collect();
            let want = m.eval(&xf)[0];
            assert!((y - want).abs() < 0.02, "{y} vs {want}");
        }
    }

    #[test]
    fn every_input_in_the_box_stays_in_range_and_the_plan_ignores_rows() {
        // Exhaustive over a small box: interval bounds are sound, so no
        // declared input can overflow, and the corners reach the output
        // range's ends up to rounding.
        let m = mlp();
        let plan = Plan::bound(&m, &box8(-40, 40), QuantConfig::default()).unwrap();
        let (lo, hi) = plan.output_range;
        let mut seen = (i128::MAX, i128::MIN);
        for a in -40..=40 {
            for b in -40..=40 {
                let y = plan.run(&[a, b]).unwrap()[0];
                assert!((lo..=hi).contains(&y));
                seen = (seen.0.min(y), seen.1.max(y));
            }
        }
        assert!(seen.0 >= lo && seen.1 <= hi);
        // A wider declared range gives wider widths, nothing else does.
        let wide = Plan::bound(&m, &box8(-4000, 4000), QuantConfig::default()).unwrap();
        assert!(wide.output_bits > plan.output_bits);
        assert_eq!(
            Plan::bound(&m, &box8(-40, 40), QuantConfig::default()).unwrap(),
            plan
        );
    }

    #[test]
    fn leaving_the_declared_range_is_an_overflow_error_without_values() {
        let m = mlp();
        let plan = Plan::bound(&m, &box8(-20, 20), QuantConfig::default()).unwrap();
        let e = plan.run(&[30000, -30000]).unwrap_err();
        assert!(matches!(e, Error::Overflow(_)), "{e}");
        assert!(!e.to_string().contains("30000"), "{e}");
    }
}
