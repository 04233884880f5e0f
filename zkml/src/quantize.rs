//! Quantization: from the float IR to an integer plan of circuit stages.
//!
//! Fixed point with power-of-two scales: a stored integer `q` at scale `s`
//! stands for `q / 2^s`. Each affine op becomes a [`Stage::Linear`] whose
//! integer weights `round(w * 2^(S - s_in))` put its accumulators at scale
//! `S`, chosen so the largest weight has `weight_bits` bits. An affine op
//! followed by a non-linearity gets a [`Stage::Rescale`] that floors the
//! accumulators back to `act_bits` bits of magnitude (rounding to nearest:
//! the bias carries the half step) and applies ReLU when one follows, using
//! the same bit decomposition. Bit widths are calibrated on the rows the job
//! runs on, plus `margin_bits`; a run that leaves them is an
//! [`Error::Overflow`], never a wrong proof.

use crate::error::{Error, Result};
use crate::ir::{Model, Op};
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
    /// Quantizes `model` for inputs at `input_scales`, calibrating every range
    /// on `rows` (quantized inputs).
    pub fn calibrate(
        model: &Model,
        input_scales: &[i32],
        rows: &[Vec<i64>],
        config: QuantConfig,
    ) -> Result<Plan> {
        if input_scales.len() != model.inputs {
            return Err(Error::Job(format!(
                "the model takes {} inputs, {} columns were given",
                model.inputs,
                input_scales.len()
            )));
        }
        if !matches!(model.ops.first(), Some(Op::Affine(_))) {
            return Err(Error::Structure(
                "the first op must be a linear layer".into(),
            ));
        }
        let margin = config.margin_bits as usize;
        let mut acts: Vec<Vec<i128>> = rows
            .iter()
            .map(|r| r.iter().map(|v| i128::from(*v)).collect())
            .collect();
        let mut scales: Vec<i32> = input_scales.to_vec();
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
                    // output. Each weight's rounding error is uniform in
                    // half a step, so an output's error has standard
                    // deviation sqrt(sum_c max|q_c|^2 / 12) / 2^S; we budget
                    // three of them. (The agreement with float is measured
                    // and reported for every job.)
                    let q_max: Vec<f64> = (0..a.inputs)
                        .map(|c| acts.iter().map(|x| x[c].unsigned_abs()).max().unwrap_or(0) as f64)
                        .collect();
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
                    let z_max = acts
                        .iter()
                        .map(|x| {
                            let xf: Vec<f64> = x
                                .iter()
                                .zip(&scales)
                                .map(|(q, s)| *q as f64 / pow2(*s))
                                .collect();
                            a.apply(&xf).into_iter().fold(0f64, |m, v| m.max(v.abs()))
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
                    let apply = |bias: &[i128], acts: &[Vec<i128>]| -> Vec<Vec<i128>> {
                        acts.iter().map(|x| linear(&wrows, bias, x)).collect()
                    };
                    let next = model.ops.get(i + 1);
                    let needs_rescale = matches!(next, Some(Op::Relu) | Some(Op::MaxPool(_)));
                    let mut z = apply(&bias, &acts);
                    if needs_rescale {
                        let relu = matches!(next, Some(Op::Relu));
                        let mut bits = bitlen(max_abs(&z)) + 1 + margin;
                        let shift = bits.saturating_sub(1 + config.act_bits as usize);
                        if shift > 0 {
                            bias.iter_mut().for_each(|b| *b += 1i128 << (shift - 1));
                            z = apply(&bias, &acts);
                            bits = bits.max(bitlen(max_abs(&z)) + 1 + margin);
                        }
                        check_width(bits, i)?;
                        acts = z
                            .iter()
                            .map(|r| r.iter().map(|v| rescale(*v, shift, relu)).collect())
                            .collect();
                        scales = vec![s_pre - shift as i32; a.outputs()];
                        stages.push(Stage::Linear {
                            inputs: a.inputs,
                            rows: wrows,
                            bias,
                        });
                        stages.push(Stage::Rescale { bits, shift, relu });
                        i += if relu { 2 } else { 1 };
                    } else {
                        check_width(bitlen(max_abs(&z)) + 1, i)?;
                        acts = z;
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
                    let mut diff = 0i128;
                    for x in &acts {
                        for w in &p.windows {
                            let m = w
                                .iter()
                                .map(|j| x[*j as usize])
                                .max()
                                .expect("non-empty window");
                            diff =
                                diff.max(w.iter().map(|j| m - x[*j as usize]).max().unwrap_or(0));
                        }
                    }
                    let bits = bitlen(diff).max(1) + margin;
                    acts = acts.iter().map(|x| pool(&p.windows, x)).collect();
                    scales = p.windows.iter().map(|w| scales[w[0] as usize]).collect();
                    stages.push(Stage::MaxPool {
                        windows: p.windows.clone(),
                        bits,
                    });
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
        let output_bits = bitlen(max_abs(&acts)) + 1 + margin;
        Ok(Plan {
            input_scales: input_scales.to_vec(),
            stages,
            output_scale,
            output_bits,
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
                Stage::Rescale { .. } => {}
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
                    if let Some(z) = v.iter().find(|z| !fits(**z, *bits)) {
                        return Err(Error::Overflow(format!("stage {k}: accumulator {z} does not fit its calibrated {bits}-bit range")));
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
            };
        }
        if let Some(y) = v.iter().find(|y| !fits(**y, self.output_bits)) {
            return Err(Error::Overflow(format!(
                "output {y} does not fit its calibrated {}-bit range",
                self.output_bits
            )));
        }
        Ok(v)
    }
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

fn max_abs(rows: &[Vec<i128>]) -> i128 {
    rows.iter().flatten().map(|v| v.abs()).max().unwrap_or(0)
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

fn pool(windows: &[Vec<u32>], x: &[i128]) -> Vec<i128> {
    windows
        .iter()
        .map(|w| w.iter().map(|j| x[*j as usize]).max().expect("non-empty"))
        .collect()
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn quantized_run_tracks_the_float_model() {
        let m = mlp();
        let scales = [8, 8];
        let rows: Vec<Vec<i64>> = (0..50)
            .map(|i| vec![(i * 13 % 512) - 256, (i * 29 % 512) - 256])
            .collect();
        let plan = Plan::calibrate(&m, &scales, &rows, QuantConfig::default()).unwrap();
        assert!(matches!(plan.stages[1], Stage::Rescale { relu: true, .. }));
        for r in &rows {
            let y = plan.run(r).unwrap()[0] as f64 / pow2(plan.output_scale);
            let xf: Vec<f64> = r.iter().map(|v| *v as f64 / 256.0).collect();
            let want = m.eval(&xf)[0];
            assert!((y - want).abs() < 0.02, "{y} vs {want}");
        }
    }

    #[test]
    fn leaving_the_calibrated_range_is_an_overflow_error() {
        let m = mlp();
        let rows = vec![vec![10i64, -10], vec![-20, 5]];
        let plan = Plan::calibrate(&m, &[8, 8], &rows, QuantConfig::default()).unwrap();
        let e = plan.run(&[30000, -30000]).unwrap_err();
        assert!(matches!(e, Error::Overflow(_)), "{e}");
    }
}
