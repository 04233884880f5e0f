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

pub use zkgate_statement::quant::QuantConfig;

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

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A piecewise-linear activation's integer table: on bucket `j` of the
/// thresholds, `slopes[j] * x + intercepts[j]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Least input.
    pub lo: i128,
    /// Greatest input.
    pub hi: i128,
    /// `x <= T` bucket bounds, `lo <= T < hi`, ascending.
    pub thresholds: Vec<i128>,
    /// One slope per bucket.
    pub slopes: Vec<i128>,
    /// One intercept per bucket.
    pub intercepts: Vec<i128>,
}

impl Table {
    /// The table as the gadget takes it.
    pub fn segments(&self) -> zkgate_circuits::activation::Segments {
        zkgate_circuits::activation::Segments {
            buckets: zkgate_circuits::trees::Buckets {
                lo: self.lo,
                hi: self.hi,
                thresholds: self.thresholds.clone(),
            },
            slopes: self.slopes.clone(),
            intercepts: self.intercepts.clone(),
        }
    }

    /// The function at `x`.
    pub fn at(&self, x: i128) -> i128 {
        let j = self.thresholds.partition_point(|t| *t < x);
        self.slopes[j] * x + self.intercepts[j]
    }
}

/// Segments of a smooth activation's approximation over its range.
pub const SEGMENTS: usize = 64;

/// A smooth curve's approximation: the secants of [`SEGMENTS`] equal
/// segments of `[from, to]`, and beyond them the lines its tails approach
/// (`(slope, intercept)`: a limit, or `x` itself for Softplus, Elu and
/// HardSwish above).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Smooth {
    /// Where the secants start.
    pub from: f64,
    /// Where they end.
    pub to: f64,
    /// The line below `from`.
    pub below: (f64, f64),
    /// The line above `to`.
    pub above: (f64, f64),
    /// `max |f''|` on `[from, to]`: the secants' error is at most
    /// `h^2 / 8` times it, `h` a segment's width.
    pub curvature: f64,
}

impl Smooth {
    /// The approximation of `c`, if it is smooth.
    pub fn of(c: Curve) -> Option<Smooth> {
        let s = |from, to, below, above, curvature| {
            Some(Smooth {
                from,
                to,
                below,
                above,
                curvature,
            })
        };
        match c {
            Curve::Sigmoid => s(-8.0, 8.0, (0.0, 0.0), (0.0, 1.0), 0.0962),
            Curve::Tanh => s(-4.0, 4.0, (0.0, -1.0), (0.0, 1.0), 0.770),
            // alpha e^x on (-inf, 0]: the curvature is largest at 0.
            Curve::Elu { alpha } => {
                let a = f64::from(alpha);
                s(-8.0, 0.0, (0.0, -a), (1.0, 0.0), a.abs())
            }
            Curve::Selu { alpha, gamma } => {
                let (a, g) = (f64::from(alpha), f64::from(gamma));
                s(-8.0, 0.0, (0.0, -g * a), (g, 0.0), (g * a).abs())
            }
            // f'' = sigmoid(x) (1 - sigmoid(x)) <= 1/4.
            Curve::Softplus => s(-8.0, 8.0, (0.0, 0.0), (1.0, 0.0), 0.25),
            // x (x + 3) / 6 on [-3, 3]: f'' = 1/3; exact lines outside.
            Curve::HardSwish => s(-3.0, 3.0, (0.0, 0.0), (1.0, 0.0), 1.0 / 3.0),
            Curve::LeakyRelu { .. } | Curve::Clamp { .. } | Curve::Step { .. } => None,
        }
    }

    /// How far the tails' lines are from the curve: the gap at `from` and
    /// at `to` (every supported curve approaches its lines monotonically
    /// beyond them, so the gap there is the largest).
    fn tail_gap(&self, c: Curve) -> f64 {
        let below = (c.at(self.from) - (self.below.0 * self.from + self.below.1)).abs();
        let above = (c.at(self.to) - (self.above.0 * self.to + self.above.1)).abs();
        below.max(above)
    }
}

/// A table's error against its curve: `|table(x) - f(x)| <= absolute +
/// per_unit |x|` (outputs and inputs in real units).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorBound {
    /// The error independent of `x`.
    pub absolute: f64,
    /// The error per unit of `|x|`: a slope's rounding, for slopes that
    /// are not exact in fixed point (a LeakyRelu's `alpha`, a Selu's
    /// `gamma` above zero).
    pub per_unit: f64,
}

impl ErrorBound {
    /// The bound at `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.absolute + self.per_unit * x.abs()
    }
}

/// The approximation's error bound, in output units. A smooth curve's is
/// the secant's error on a segment of width `h`, at most `h^2 / 8 *
/// max|f''|`, or the tails' gap to their lines, whichever is larger, plus
/// the fixed-point rounding below `2^-act_bits` (tested over a dense
/// grid), plus a tail slope's rounding per unit of `|x|` where it is not 0
/// or 1. A piecewise-linear curve has no secant or tail error: its only
/// error is its slope's rounding, at most `|x| 2^-(act_bits + SLOPE_BITS
/// + 1)`.
pub fn error_bound(c: Curve, act_bits: u32) -> ErrorBound {
    let slope_rounding = 2f64.powi(-(act_bits as i32 + SLOPE_BITS + 1));
    let exact = |m: f64| m == 0.0 || m == 1.0;
    match Smooth::of(c) {
        Some(sm) => {
            let h = (sm.to - sm.from) / SEGMENTS as f64;
            let secant = h * h / 8.0 * sm.curvature;
            ErrorBound {
                absolute: secant.max(sm.tail_gap(c)) + 2f64.powi(-(act_bits as i32)),
                per_unit: if exact(sm.below.0) && exact(sm.above.0) {
                    0.0
                } else {
                    slope_rounding
                },
            }
        }
        None => ErrorBound {
            absolute: 0.0,
            // Slopes 0 and 1 are exact (a clamp's and a step's bounds are
            // rounded to the input's fixed point, see `piecewise_table`).
            per_unit: if matches!(c, Curve::LeakyRelu { .. }) {
                slope_rounding
            } else {
                0.0
            },
        },
    }
}

/// Extra bits of the slopes over `act_bits`: a slope's rounding moves the
/// output by at most `|x| 2^-(act_bits + SLOPE_BITS + 1)`.
const SLOPE_BITS: i32 = 8;

/// The exact integer table of a piecewise-linear curve for inputs in
/// `[lo, hi]` at scale `s`. A LeakyRelu's lines are `alpha x` below zero
/// and `x` above, the slopes at `act_bits + SLOPE_BITS` fractional bits and
/// the output at scale `s + act_bits + SLOPE_BITS`; a clamp's are its
/// bounds (rounded to the input's fixed point) and `x` between them, at
/// scale `s`. Returns the table, the outputs' bounds and their scale.
fn piecewise_table(c: Curve, x: Interval, s: i32, act_bits: u32) -> Result<(Table, Interval, i32)> {
    // Each line with the greatest input it applies to, ascending.
    let (lines, scale): (Vec<(i128, i128, i128)>, i32) = match c {
        Curve::LeakyRelu { alpha } => {
            if !(0.0..1.0).contains(&alpha) {
                return Err(Error::Structure(format!(
                    "LeakyRelu with alpha {alpha}: only 0 <= alpha < 1 is supported"
                )));
            }
            let t = act_bits as i32 + SLOPE_BITS;
            let below = (f64::from(alpha) * pow2(t)).round() as i128;
            (vec![(-1, below, 0), (i128::MAX, 1i128 << t, 0)], s + t)
        }
        Curve::Clamp { lo, hi } => {
            let at = |v: f32| {
                let q = f64::from(v) * pow2(s);
                if q.is_finite() && q.abs() < 2f64.powi(100) {
                    Ok(q.round() as i128)
                } else {
                    Err(Error::Overflow(format!("a Clip bound {v} at scale 2^{s}")))
                }
            };
            let (l, h) = (lo.map(at).transpose()?, hi.map(at).transpose()?);
            if let (Some(l), Some(h)) = (l, h) {
                if l > h {
                    return Err(Error::Structure(format!(
                        "a Clip to [{lo:?}, {hi:?}] is empty"
                    )));
                }
            }
            let mut lines = Vec::new();
            if let Some(l) = l {
                lines.push((l - 1, 0, l));
            }
            match h {
                Some(h) => {
                    lines.push((h, 1, 0));
                    lines.push((i128::MAX, 0, h));
                }
                None => lines.push((i128::MAX, 1, 0)),
            }
            (lines, s)
        }
        // x > T exactly when the stored integer exceeds floor(T 2^s); the
        // output, 0 or 1, is an integer (scale 0).
        Curve::Step { threshold } => {
            let q = f64::from(threshold) * pow2(s);
            if !(q.is_finite() && q.abs() < 2f64.powi(100)) {
                return Err(Error::Overflow(format!(
                    "a Binarizer threshold {threshold} at scale 2^{s}"
                )));
            }
            let t = q.floor() as i128;
            (vec![(t, 0, 0), (i128::MAX, 0, 1)], 0)
        }
        _ => {
            return Err(Error::Structure(format!(
                "{} is not piecewise linear",
                c.name()
            )))
        }
    };
    table_of(&lines, x, scale)
}

/// The integer table of `c` for inputs in `[lo, hi]` at scale `s`: for a
/// smooth curve the secants of `SEGMENTS` equal segments of its range and
/// its tails' lines beyond, output at scale `s + act_bits + SLOPE_BITS`;
/// for a piecewise-linear one its exact lines (`piecewise_table`).
/// Returns the table, the outputs' bounds and their scale.
fn curve_table(c: Curve, x: Interval, s: i32, act_bits: u32) -> Result<(Table, Interval, i32)> {
    let Some(sm) = Smooth::of(c) else {
        return piecewise_table(c, x, s, act_bits);
    };
    if let Curve::Elu { alpha } | Curve::Selu { alpha, .. } = c {
        let gamma = match c {
            Curve::Selu { gamma, .. } => gamma,
            _ => 1.0,
        };
        if !(alpha.is_finite() && gamma.is_finite() && alpha >= 0.0 && gamma > 0.0) {
            return Err(Error::Structure(format!(
                "{} with alpha {alpha} and gamma {gamma}: only alpha >= 0 and gamma > 0 are supported",
                c.name()
            )));
        }
    }
    let h = (sm.to - sm.from) / SEGMENTS as f64;
    let t = act_bits as i32 + SLOPE_BITS;
    let out_scale = s + t;
    // Breakpoints b_0..b_K and each bucket's line (x as a real number).
    let breaks: Vec<f64> = (0..=SEGMENTS).map(|i| sm.from + i as f64 * h).collect();
    let mut lines: Vec<(f64, f64)> = vec![sm.below];
    for w in breaks.windows(2) {
        let m = (c.at(w[1]) - c.at(w[0])) / (w[1] - w[0]);
        lines.push((m, c.at(w[0]) - m * w[0]));
    }
    lines.push(sm.above);
    let integer_breaks: Vec<i128> = breaks
        .iter()
        .map(|b| (b * pow2(s)).floor() as i128)
        .collect();
    // Each bucket's line, in integers, with the greatest input it covers.
    let integer_lines: Vec<(i128, i128, i128)> = lines
        .iter()
        .enumerate()
        .map(|(j, line)| {
            (
                integer_breaks.get(j).copied().unwrap_or(i128::MAX),
                (line.0 * pow2(t)).round() as i128,
                (line.1 * pow2(out_scale)).round() as i128,
            )
        })
        .collect();
    table_of(&integer_lines, x, out_scale)
}

/// The table of the integer `lines` (each with the greatest input it
/// covers, ascending) over `[x.lo, x.hi]`: thresholds strictly inside,
/// each bucket the line it lies on. Returns the table, the outputs' bounds
/// and `scale`.
fn table_of(
    lines: &[(i128, i128, i128)],
    x: Interval,
    scale: i32,
) -> Result<(Table, Interval, i32)> {
    let mut thresholds = Vec::new();
    let mut slopes = Vec::new();
    let mut intercepts = Vec::new();
    let mut bounds: Option<Interval> = None;
    let mut from = x.lo;
    for &(upper, m, b) in lines {
        let up = upper.min(x.hi);
        if up < from {
            continue;
        }
        if !slopes.is_empty() {
            thresholds.push(from - 1);
        }
        slopes.push(m);
        intercepts.push(b);
        let (a, z) = (m * from + b, m * up + b);
        let seg = Interval::new(a.min(z), a.max(z));
        bounds = Some(match bounds {
            None => seg,
            Some(u) => Interval::new(u.lo.min(seg.lo), u.hi.max(seg.hi)),
        });
        from = up.saturating_add(1);
        if up >= x.hi {
            break;
        }
    }
    let bounds = bounds.ok_or_else(|| Error::Structure("an empty activation range".into()))?;
    Ok((
        Table {
            lo: x.lo,
            hi: x.hi,
            thresholds,
            slopes,
            intercepts,
        },
        bounds,
        scale,
    ))
}

/// An input a forest compares, with its declared integer bounds and the
/// distinct integer thresholds strictly inside them, ascending.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bucketed {
    /// The input.
    pub input: u32,
    /// Least stored integer.
    pub lo: i128,
    /// Greatest stored integer.
    pub hi: i128,
    /// `x <= T` thresholds, `lo <= T < hi`.
    pub thresholds: Vec<i128>,
}

impl Bucketed {
    /// The input's buckets as the gadget takes them.
    pub fn buckets(&self) -> zkgate_circuits::trees::Buckets {
        zkgate_circuits::trees::Buckets {
            lo: self.lo,
            hi: self.hi,
            thresholds: self.thresholds.clone(),
        }
    }
}

/// A quantized tree node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum QNode {
    /// Goes to `yes` when `cond` holds, else to `no`.
    Branch {
        /// The condition.
        cond: QCond,
        /// The child taken when it holds.
        yes: u32,
        /// The child taken otherwise.
        no: u32,
    },
    /// A leaf's integer values `(output, value)`.
    Leaf {
        /// The values.
        values: Vec<(u32, i64)>,
    },
}

/// A quantized branch condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QCond {
    /// Decided by the declared ranges.
    Always(bool),
    /// `x <= T_j` for the `j`-th threshold (from 1) of bucketed input
    /// `slot`.
    AtMost {
        /// Index into the stage's buckets.
        slot: u32,
        /// Thresholds counted from 1.
        j: u32,
    },
}

/// Bits kept of the largest leaf value: leaves weight the path indicators
/// linearly, so their precision costs no constraint.
const LEAF_BITS: i32 = 24;

/// Quantizes a forest over inputs in `box_` at `scales`: integer
/// thresholds at each input's scale (`x <= t` is `X <= floor(t 2^s)`,
/// `x < t` is `X <= ceil(t 2^s) - 1`, exactly, for `X = x 2^s`), decided
/// branches resolved, leaf values at one scale. Returns the stage, the
/// outputs' bounds and their scale.
fn quantize_trees(
    e: &crate::ir::Ensemble,
    box_: &[Interval],
    scales: &[i32],
) -> Result<(Stage, Vec<Interval>, Vec<i32>)> {
    use crate::ir::TreeNode;
    use std::collections::{BTreeMap, BTreeSet};
    let integer = |feature: u32, t: f64, strict: bool| -> Result<i128> {
        let x = t * pow2(scales[feature as usize]);
        if !x.is_finite() || x.abs() > 2f64.powi(100) {
            return Err(Error::Structure(format!(
                "a tree threshold ({t}) is outside any input's range"
            )));
        }
        Ok(if strict {
            x.ceil() as i128 - 1
        } else {
            x.floor() as i128
        })
    };
    // Every input's thresholds strictly inside its declared range.
    let mut found: BTreeMap<u32, BTreeSet<i128>> = BTreeMap::new();
    for node in e.trees.iter().flatten() {
        if let TreeNode::Branch {
            feature,
            threshold,
            strict,
            ..
        } = node
        {
            let t = integer(*feature, *threshold, *strict)?;
            let r = box_[*feature as usize];
            if r.lo <= t && t < r.hi {
                found.entry(*feature).or_default().insert(t);
            }
        }
    }
    let buckets: Vec<Bucketed> = found
        .into_iter()
        .map(|(input, ts)| Bucketed {
            input,
            lo: box_[input as usize].lo,
            hi: box_[input as usize].hi,
            thresholds: ts.into_iter().collect(),
        })
        .collect();
    let slot: BTreeMap<u32, usize> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| (b.input, i))
        .collect();
    let largest = e
        .trees
        .iter()
        .flatten()
        .filter_map(|n| match n {
            TreeNode::Leaf { values } => {
                Some(values.iter().map(|(_, v)| v.abs()).fold(0.0, f64::max))
            }
            TreeNode::Branch { .. } => None,
        })
        .fold(0f64, f64::max);
    if !largest.is_finite() {
        return Err(Error::Structure(
            "a tree leaf is not a finite number".into(),
        ));
    }
    let scale = if largest > 0.0 {
        LEAF_BITS - largest.log2().ceil() as i32
    } else {
        0
    };
    let mut lo = vec![0i128; e.outputs];
    let mut hi = vec![0i128; e.outputs];
    let mut trees = Vec::with_capacity(e.trees.len());
    for tree in &e.trees {
        let mut least = vec![i128::MAX; e.outputs];
        let mut most = vec![i128::MIN; e.outputs];
        let mut nodes = Vec::with_capacity(tree.len());
        for node in tree {
            nodes.push(match node {
                TreeNode::Branch {
                    feature,
                    threshold,
                    strict,
                    yes,
                    no,
                } => {
                    let t = integer(*feature, *threshold, *strict)?;
                    let r = box_[*feature as usize];
                    let cond = if t < r.lo {
                        QCond::Always(false)
                    } else if t >= r.hi {
                        QCond::Always(true)
                    } else {
                        let s = slot[feature];
                        let j = buckets[s].thresholds.partition_point(|x| *x <= t);
                        QCond::AtMost {
                            slot: s as u32,
                            j: j as u32,
                        }
                    };
                    QNode::Branch {
                        cond,
                        yes: *yes,
                        no: *no,
                    }
                }
                TreeNode::Leaf { values } => {
                    let mut q = vec![0i128; e.outputs];
                    let mut out = Vec::with_capacity(values.len());
                    for (o, v) in values {
                        let x = (v * pow2(scale)).round() as i64;
                        q[*o as usize] += i128::from(x);
                        if x != 0 {
                            out.push((*o, x));
                        }
                    }
                    for o in 0..e.outputs {
                        least[o] = least[o].min(q[o]);
                        most[o] = most[o].max(q[o]);
                    }
                    QNode::Leaf { values: out }
                }
            });
        }
        // A leaf without an output gives it 0, counted above.
        for o in 0..e.outputs {
            lo[o] += least[o];
            hi[o] += most[o];
        }
        trees.push(nodes);
    }
    // The passed inputs first, at their own bounds and scales.
    let bounds = box_[..e.pass]
        .iter()
        .copied()
        .chain(lo.into_iter().zip(hi).map(|(l, h)| Interval::new(l, h)))
        .collect();
    let out_scales = scales[..e.pass]
        .iter()
        .copied()
        .chain(std::iter::repeat_n(scale, e.outputs))
        .collect();
    Ok((
        Stage::Trees {
            buckets,
            trees,
            outputs: e.outputs,
            pass: e.pass,
        },
        bounds,
        out_scales,
    ))
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

fn pow2(e: i32) -> f64 {
    2f64.powi(e)
}

const MAX_ACC_BITS: usize = 120;

impl Plan {
    /// Quantizes `model` for inputs declared in `inputs` (each one's scale
    /// and least and greatest stored integer). Every width follows from
    /// those bounds and the weights by interval propagation, never from
    /// rows: the plan is a function of public facts, and no row inside the
    /// declared ranges can leave it.
    pub fn bound(model: &Model, inputs: &[InputRange], config: QuantConfig) -> Result<Plan> {
        config.check().map_err(|e| Error::Job(e.to_string()))?;
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
                    let mut top = f64::NEG_INFINITY;
                    for row in &a.rows {
                        for (c, w) in row {
                            top = top.max(w.abs().log2() - f64::from(scales[*c as usize]));
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
                        .map(|(row, b)| {
                            let (lo, hi) = row.iter().fold((*b, *b), |(lo, hi), (c, w)| {
                                let x = &box_[*c as usize];
                                let s = pow2(-scales[*c as usize]);
                                let (p, q) = (w * x.lo as f64 * s, w * x.hi as f64 * s);
                                (lo + p.min(q), hi + p.max(q))
                            });
                            lo.abs().max(hi.abs())
                        })
                        .fold(0f64, f64::max);
                    let s_error = if err > 0.0 && z_max > 0.0 {
                        ((err / z_max).log2().ceil() as i32) + config.act_bits as i32
                    } else {
                        i32::MIN
                    };
                    let s_pre = s_weights.max(s_error);
                    let wrows: Vec<Vec<(u32, i64)>> = a
                        .rows
                        .iter()
                        .map(|row| {
                            row.iter()
                                .map(|(c, w)| {
                                    (*c, (w * pow2(s_pre - scales[*c as usize])).round() as i64)
                                })
                                .filter(|(_, w)| *w != 0)
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
                    let next = model.ops.get(i + 1);
                    let needs_rescale = matches!(
                        next,
                        Some(Op::Relu) | Some(Op::MaxPool(_)) | Some(Op::Activation(_))
                    );
                    let mut z = linear_bounds(&wrows, &bias, &box_, i)?;
                    if needs_rescale {
                        let relu = matches!(next, Some(Op::Relu));
                        let mut bits = signed_bits(&z) + margin;
                        let shift = bits.saturating_sub(1 + config.act_bits as usize);
                        if shift > 0 {
                            bias.iter_mut().for_each(|b| *b += 1i128 << (shift - 1));
                            z = linear_bounds(&wrows, &bias, &box_, i)?;
                            bits = bits.max(signed_bits(&z) + margin);
                        }
                        check_width(bits, i)?;
                        box_ = z.iter().map(|x| x.rescale(shift, relu)).collect();
                        scales = vec![s_pre - shift as i32; a.outputs()];
                        stages.push(Stage::Linear {
                            inputs: a.inputs,
                            rows: wrows,
                            bias,
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
            config,
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

fn scales_of(inputs: &[InputRange]) -> Vec<i32> {
    inputs.iter().map(|r| r.scale).collect()
}

/// A closed integer interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Interval {
    lo: i128,
    hi: i128,
}

impl Interval {
    fn new(lo: i128, hi: i128) -> Self {
        debug_assert!(lo <= hi);
        Interval { lo, hi }
    }

    fn magnitude(&self) -> i128 {
        self.lo.abs().max(self.hi.abs())
    }

    /// The image under `floor(z / 2^shift)`, then ReLU if asked.
    fn rescale(&self, shift: usize, relu: bool) -> Interval {
        Interval::new(rescale(self.lo, shift, relu), rescale(self.hi, shift, relu))
    }
}

/// Interval bounds of `sum_i w_ji x_i + b_j` over the box `x`.
fn linear_bounds(
    rows: &[Vec<(u32, i64)>],
    bias: &[i128],
    x: &[Interval],
    op: usize,
) -> Result<Vec<Interval>> {
    let too_wide = || {
        Error::Overflow(format!(
            "op {op}: accumulators need more than {MAX_ACC_BITS} bits"
        ))
    };
    let limit = 1i128 << MAX_ACC_BITS;
    rows.iter()
        .zip(bias)
        .map(|(row, b)| {
            let (mut lo, mut hi) = (*b, *b);
            for (c, w) in row {
                let w = i128::from(*w);
                let x = x[*c as usize];
                let (p, q) = (
                    w.checked_mul(x.lo).ok_or_else(too_wide)?,
                    w.checked_mul(x.hi).ok_or_else(too_wide)?,
                );
                lo = lo.checked_add(p.min(q)).ok_or_else(too_wide)?;
                hi = hi.checked_add(p.max(q)).ok_or_else(too_wide)?;
                if lo.abs() > limit || hi.abs() > limit {
                    return Err(too_wide());
                }
            }
            Ok(Interval::new(lo, hi))
        })
        .collect()
}

/// Signed bits that hold every value of every interval.
fn signed_bits(x: &[Interval]) -> usize {
    bitlen(x.iter().map(Interval::magnitude).max().unwrap_or(0)) + 1
}

fn check_width(bits: usize, op: usize) -> Result<()> {
    if bits > MAX_ACC_BITS {
        return Err(Error::Overflow(format!(
            "op {op}: accumulators need {bits} bits, more than {MAX_ACC_BITS}"
        )));
    }
    Ok(())
}

fn fits(z: i128, bits: usize) -> bool {
    bits < 127 && (-(1i128 << (bits - 1))..(1i128 << (bits - 1))).contains(&z)
}

/// `sum_i w_ji x_i + b_j`.
pub(crate) fn linear(rows: &[Vec<(u32, i64)>], bias: &[i128], x: &[i128]) -> Vec<i128> {
    rows.iter()
        .zip(bias)
        .map(|(row, b)| {
            row.iter()
                .map(|(i, w)| i128::from(*w) * x[*i as usize])
                .sum::<i128>()
                + b
        })
        .collect()
}

/// `floor(z / 2^shift)`, then ReLU if asked.
pub(crate) fn rescale(z: i128, shift: usize, relu: bool) -> i128 {
    let y = z >> shift;
    if relu {
        y.max(0)
    } else {
        y
    }
}

/// The leaf a quantized tree reaches, given each bucketed input's bucket.
pub(crate) fn tree_leaf<'a>(tree: &'a [QNode], bucket: &[usize]) -> &'a [(u32, i64)] {
    let mut n = 0usize;
    loop {
        match &tree[n] {
            QNode::Branch { cond, yes, no } => {
                let holds = match cond {
                    QCond::Always(b) => *b,
                    // x <= T_j exactly when its bucket is below j.
                    QCond::AtMost { slot, j } => bucket[*slot as usize] < *j as usize,
                };
                n = if holds { *yes } else { *no } as usize;
            }
            QNode::Leaf { values } => return values,
        }
    }
}

fn pool(windows: &[Vec<u32>], x: &[i128]) -> Vec<i128> {
    windows
        .iter()
        .map(|w| w.iter().map(|j| x[*j as usize]).max().expect("non-empty"))
        .collect()
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
