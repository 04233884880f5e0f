//! zkgate's own model IR: a closed set of ops over flat `f64` vectors.
//!
//! The importer lowers every ONNX op with constant parameters that is affine
//! in its one data input (Gemm, MatMul, EinSum, Conv, Add/Sub/Mul/Div by a
//! constant, BatchNormalization, AveragePool, Flatten, Reshape...) into one
//! sparse [`Affine`] op, and merges consecutive affine ops, so the
//! non-linear ops are the only boundaries: [`Op::Relu`], [`Op::MaxPool`]
//! and a final [`Op::Softmax`].

use serde::{Deserialize, Serialize};

/// A sparse affine map `y = W x + b`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Affine {
    /// Input length.
    pub inputs: usize,
    /// One row per output: `(input index, weight)`, non-zero weights only.
    pub rows: Vec<Vec<(u32, f64)>>,
    /// One bias per output.
    pub bias: Vec<f64>,
}

impl Affine {
    /// Output length.
    pub fn outputs(&self) -> usize {
        self.rows.len()
    }

    /// Applies the map.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        self.rows
            .iter()
            .zip(&self.bias)
            .map(|(row, b)| row.iter().map(|(i, w)| w * x[*i as usize]).sum::<f64>() + b)
            .collect()
    }

    /// `other ∘ self`: first `self`, then `other`.
    pub fn then(&self, other: &Affine) -> Affine {
        assert_eq!(other.inputs, self.outputs());
        let mut rows = Vec::with_capacity(other.outputs());
        let mut bias = Vec::with_capacity(other.outputs());
        let mut dense = vec![0.0f64; self.inputs];
        for (orow, ob) in other.rows.iter().zip(&other.bias) {
            dense.iter_mut().for_each(|v| *v = 0.0);
            let mut b = *ob;
            for (k, w) in orow {
                let k = *k as usize;
                for (i, v) in &self.rows[k] {
                    dense[*i as usize] += w * v;
                }
                b += w * self.bias[k];
            }
            rows.push(
                dense
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v != 0.0)
                    .map(|(i, v)| (i as u32, *v))
                    .collect(),
            );
            bias.push(b);
        }
        Affine {
            inputs: self.inputs,
            rows,
            bias,
        }
    }

    /// The identity map on `n` values.
    pub fn identity(n: usize) -> Affine {
        Affine {
            inputs: n,
            rows: (0..n as u32).map(|i| vec![(i, 1.0)]).collect(),
            bias: vec![0.0; n],
        }
    }

    /// Whether this is the identity map.
    pub fn is_identity(&self) -> bool {
        self.inputs == self.outputs()
            && self.bias.iter().all(|b| *b == 0.0)
            && self
                .rows
                .iter()
                .enumerate()
                .all(|(i, r)| r.as_slice() == [(i as u32, 1.0)])
    }

    /// `self + other - shared`: the sum of two maps of the same input
    /// that both carry the bias `shared` once too many.
    pub fn plus(&self, other: &Affine, shared: &[f64]) -> Affine {
        assert_eq!(self.inputs, other.inputs);
        assert_eq!(self.outputs(), other.outputs());
        let rows = self
            .rows
            .iter()
            .zip(&other.rows)
            .map(|(a, b)| {
                let mut sum: std::collections::BTreeMap<u32, f64> = a.iter().copied().collect();
                for (i, w) in b {
                    *sum.entry(*i).or_insert(0.0) += w;
                }
                sum.into_iter().filter(|(_, w)| *w != 0.0).collect()
            })
            .collect();
        let bias = self
            .bias
            .iter()
            .zip(&other.bias)
            .zip(shared)
            .map(|((a, b), s)| a + b - s)
            .collect();
        Affine {
            inputs: self.inputs,
            rows,
            bias,
        }
    }

    /// Number of non-zero weights.
    pub fn nonzeros(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }
}

/// Max pooling as explicit windows over the flat input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaxPool {
    /// Input length.
    pub inputs: usize,
    /// For each output, the input indices it takes the maximum of.
    pub windows: Vec<Vec<u32>>,
}

/// A decision-tree ensemble (random forests, gradient-boosted trees): each
/// output is the sum over the trees of the value of the leaf the input
/// reaches (base scores, averaging and the classifiers' binary layouts are
/// an [`Affine`] after it). The first `pass` inputs come first in the
/// output, unchanged: how an encoding of some columns (a one-hot of a
/// categorical column) leaves the others to the layers after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    /// Input length.
    pub inputs: usize,
    /// Output length (the trees' sums, after the `pass` inputs).
    pub outputs: usize,
    /// Leading inputs passed through, before the trees' outputs.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pass: usize,
    /// The trees: node 0 is the root, children come after their parent.
    pub trees: Vec<Vec<TreeNode>>,
}

/// A node of a tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TreeNode {
    /// Goes to `yes` when `x[feature] <= threshold` (`<` when `strict`),
    /// else to `no`.
    Branch {
        /// The input compared.
        feature: u32,
        /// The threshold.
        threshold: f64,
        /// `<` instead of `<=`.
        strict: bool,
        /// The child taken when the comparison holds.
        yes: u32,
        /// The child taken otherwise.
        no: u32,
    },
    /// A leaf: `(output, value)` pairs (outputs not named get 0).
    Leaf {
        /// The leaf's values.
        values: Vec<(u32, f64)>,
    },
}

impl Ensemble {
    /// The leaf `x` reaches in `tree`.
    pub fn leaf<'a>(tree: &'a [TreeNode], x: &[f64]) -> &'a [(u32, f64)] {
        let mut n = 0usize;
        loop {
            match &tree[n] {
                TreeNode::Branch {
                    feature,
                    threshold,
                    strict,
                    yes,
                    no,
                } => {
                    let v = x[*feature as usize];
                    let holds = if *strict {
                        v < *threshold
                    } else {
                        v <= *threshold
                    };
                    n = if holds { *yes } else { *no } as usize;
                }
                TreeNode::Leaf { values } => return values,
            }
        }
    }

    /// Evaluates the ensemble.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.outputs];
        for tree in &self.trees {
            for (o, v) in Self::leaf(tree, x) {
                out[*o as usize] += v;
            }
        }
        [&x[..self.pass], &out[..]].concat()
    }

    /// Its whole output's length: the passed inputs and the sums.
    pub fn width(&self) -> usize {
        self.pass + self.outputs
    }

    /// For each output, the inputs the trees that write it compare.
    pub fn reads(&self) -> Vec<std::collections::BTreeSet<u32>> {
        let mut reads = vec![std::collections::BTreeSet::new(); self.outputs];
        for tree in &self.trees {
            let compared: Vec<u32> = tree
                .iter()
                .filter_map(|n| match n {
                    TreeNode::Branch { feature, .. } => Some(*feature),
                    TreeNode::Leaf { .. } => None,
                })
                .collect();
            for n in tree {
                if let TreeNode::Leaf { values } = n {
                    for (o, _) in values {
                        reads[*o as usize].extend(compared.iter().copied());
                    }
                }
            }
        }
        reads
    }

    /// The inputs some branch compares.
    pub fn features(&self) -> std::collections::BTreeSet<u32> {
        self.trees
            .iter()
            .flatten()
            .filter_map(|n| match n {
                TreeNode::Branch { feature, .. } => Some(*feature),
                TreeNode::Leaf { .. } => None,
            })
            .collect()
    }

    /// Branches and leaves.
    pub fn nodes(&self) -> usize {
        self.trees.iter().map(Vec::len).sum()
    }
}

/// An activation inside a network, proved as a piecewise-linear table
/// (see `quantize`): an approximation of a smooth curve, or exact for a
/// piecewise-linear one (up to its slope's fixed point).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Curve {
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh x`.
    Tanh,
    /// `x` for `x >= 0`, `alpha x` below (`0 < alpha < 1`).
    LeakyRelu {
        /// The slope below zero.
        alpha: f32,
    },
    /// `x` clamped to `[lo, hi]` (either side open when `None`): ONNX
    /// `Clip` (ReLU6, Hardtanh) and the saturation of `HardSigmoid`, which
    /// tract writes as `max` and `min` with constants.
    Clamp {
        /// The least output.
        lo: Option<f32>,
        /// The greatest output.
        hi: Option<f32>,
    },
    /// `x` for `x >= 0`, `alpha (e^x - 1)` below (ONNX `Elu`).
    Elu {
        /// The negative saturation's magnitude.
        alpha: f32,
    },
    /// `gamma x` for `x > 0`, `gamma alpha (e^x - 1)` below (ONNX `Selu`).
    Selu {
        /// The negative saturation's magnitude, before `gamma`.
        alpha: f32,
        /// The scale.
        gamma: f32,
    },
    /// `ln(1 + e^x)` (ONNX `Softplus`).
    Softplus,
    /// `x min(max(x / 6 + 1/2, 0), 1)` (ONNX `HardSwish`, MobileNet's).
    HardSwish,
    /// `1` where `x > threshold`, else `0` (`ai.onnx.ml` `Binarizer` inside
    /// a network; at the model's input it is a forest of one-branch trees).
    Step {
        /// The threshold.
        threshold: f32,
    },
}

impl Curve {
    /// The function.
    pub fn at(self, x: f64) -> f64 {
        match self {
            Curve::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Curve::Tanh => x.tanh(),
            Curve::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    f64::from(alpha) * x
                }
            }
            Curve::Clamp { lo, hi } => {
                let x = lo.map_or(x, |l| x.max(f64::from(l)));
                hi.map_or(x, |h| x.min(f64::from(h)))
            }
            Curve::Elu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    f64::from(alpha) * x.exp_m1()
                }
            }
            Curve::Selu { alpha, gamma } => {
                let g = f64::from(gamma);
                if x > 0.0 {
                    g * x
                } else {
                    g * f64::from(alpha) * x.exp_m1()
                }
            }
            // Stable on both sides: max(x, 0) + ln(1 + e^-|x|).
            Curve::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
            Curve::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Curve::Step { threshold } => {
                if x > f64::from(threshold) {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }

    /// Its name, as ONNX spells it.
    pub fn name(self) -> &'static str {
        match self {
            Curve::Sigmoid => "Sigmoid",
            Curve::Tanh => "Tanh",
            Curve::LeakyRelu { .. } => "LeakyRelu",
            Curve::Clamp { .. } => "Clip",
            Curve::Elu { .. } => "Elu",
            Curve::Selu { .. } => "Selu",
            Curve::Softplus => "Softplus",
            Curve::HardSwish => "HardSwish",
            Curve::Step { .. } => "Binarizer",
        }
    }

    /// Whether it is smooth (proved as an approximation by secants) rather
    /// than piecewise linear (exact, an op like ReLU).
    pub fn is_smooth(self) -> bool {
        matches!(
            self,
            Curve::Sigmoid
                | Curve::Tanh
                | Curve::Elu { .. }
                | Curve::Selu { .. }
                | Curve::Softplus
                | Curve::HardSwish
        )
    }

    /// Whether it squashes scores into probabilities (sigmoid, tanh): a
    /// classifier's final one is read like a softmax, the argmax marker.
    pub fn is_squashing(self) -> bool {
        matches!(self, Curve::Sigmoid | Curve::Tanh)
    }
}

/// One op of the IR.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// `W x + b`.
    Affine(Affine),
    /// `max(0, x)` elementwise.
    Relu,
    /// Windowed maximum.
    MaxPool(MaxPool),
    /// A decision-tree ensemble (the first op only: its thresholds compare
    /// the dataset's values).
    Trees(Ensemble),
    /// Sigmoid or tanh elementwise, inside the network (a final one is a
    /// classifier's and becomes [`Op::Softmax`]).
    Activation(Curve),
    /// Softmax over the output; allowed only as the last op (classifiers),
    /// where it does not change the predicted class. A final sigmoid or
    /// tanh, which do not change it either, is imported as this op.
    Softmax,
}

impl Op {
    /// The op's kind, for reports and policies.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Affine(_) => "affine",
            Op::Relu => "relu",
            Op::MaxPool(_) => "maxpool",
            Op::Trees(_) => "trees",
            Op::Activation(Curve::Sigmoid) => "sigmoid",
            Op::Activation(Curve::Tanh) => "tanh",
            Op::Activation(Curve::LeakyRelu { .. }) => "leaky_relu",
            Op::Activation(Curve::Clamp { .. }) => "clip",
            Op::Activation(Curve::Elu { .. }) => "elu",
            Op::Activation(Curve::Selu { .. }) => "selu",
            Op::Activation(Curve::Softplus) => "softplus",
            Op::Activation(Curve::HardSwish) => "hard_swish",
            Op::Activation(Curve::Step { .. }) => "binarizer",
            Op::Softmax => "softmax",
        }
    }
}

/// A model in the IR.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The ONNX input's shape.
    pub input_shape: Vec<usize>,
    /// Flat input length.
    pub inputs: usize,
    /// The ops, in order.
    pub ops: Vec<Op>,
    /// The ONNX ops the model was built from (node name, op name).
    pub source_ops: Vec<(String, String)>,
}

impl Model {
    /// Flat output length.
    pub fn outputs(&self) -> usize {
        let mut n = self.inputs;
        for op in &self.ops {
            match op {
                Op::Affine(a) => n = a.outputs(),
                Op::MaxPool(p) => n = p.windows.len(),
                Op::Trees(e) => n = e.width(),
                Op::Relu | Op::Softmax | Op::Activation(_) => {}
            }
        }
        n
    }

    /// Whether the model ends in a softmax (a classifier).
    pub fn is_classifier(&self) -> bool {
        matches!(self.ops.last(), Some(Op::Softmax))
    }

    /// Evaluates the IR in `f64` (the softmax is skipped: it does not change
    /// the class, and the aggregates of a classifier only use the class).
    pub fn eval(&self, x: &[f64]) -> Vec<f64> {
        let mut v = x.to_vec();
        for op in &self.ops {
            v = match op {
                Op::Affine(a) => a.apply(&v),
                Op::Relu => v.iter().map(|x| x.max(0.0)).collect(),
                Op::MaxPool(p) => p
                    .windows
                    .iter()
                    .map(|w| {
                        w.iter()
                            .map(|i| v[*i as usize])
                            .fold(f64::NEG_INFINITY, f64::max)
                    })
                    .collect(),
                Op::Trees(e) => e.apply(&v),
                Op::Activation(c) => v.iter().map(|x| c.at(*x)).collect(),
                Op::Softmax => v,
            };
        }
        v
    }

    /// Whether some output passes a single input through: it depends on
    /// exactly one input value, through affine maps with one weight per
    /// output and element-wise ops only (an identity / echo model, up to
    /// scale and offset). ReLU counts as a pass-through, since on
    /// non-negative data it is one; a softmax mixes every output. A weight
    /// that every allowed quantization rounds to zero (below `2^-24` of its
    /// row's largest) does not count: a second input with such a weight
    /// still leaves an echo.
    pub fn echoes_input(&self) -> bool {
        // For each value: the input it is a pass-through of, if any.
        let mut source: Vec<Option<u32>> = (0..self.inputs as u32).map(Some).collect();
        for op in &self.ops {
            source = match op {
                Op::Affine(a) => a
                    .rows
                    .iter()
                    .map(|row| {
                        let largest = row.iter().map(|(_, w)| w.abs()).fold(0.0, f64::max);
                        let mut kept = row.iter().filter(|(_, w)| w.abs() >= largest * NEGLIGIBLE);
                        match (kept.next(), kept.next()) {
                            (Some((i, _)), None) => source[*i as usize],
                            _ => None,
                        }
                    })
                    .collect(),
                // Elementwise and invertible: still a copy.
                Op::Relu | Op::Activation(_) => source,
                Op::MaxPool(p) => p
                    .windows
                    .iter()
                    .map(|w| {
                        let first = source[w[0] as usize];
                        w.iter()
                            .all(|i| source[*i as usize] == first)
                            .then_some(first)
                            .flatten()
                    })
                    .collect(),
                // Passed inputs stay copies; an output whose trees read one
                // input only is a function of it: a bucketed copy, up to
                // the leaves' values (a Binarizer's, a one-hot bit's).
                Op::Trees(e) => {
                    let mut next = source[..e.pass].to_vec();
                    next.extend(
                        e.reads()
                            .iter()
                            .map(|read| match (read.len(), read.first()) {
                                (1, Some(f)) => source[*f as usize],
                                _ => None,
                            }),
                    );
                    next
                }
                Op::Softmax if source.len() > 1 => vec![None; source.len()],
                Op::Softmax => source,
            };
        }
        source.iter().any(Option::is_some)
    }

    /// Number of parameters (non-zero weights and biases).
    pub fn parameters(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match op {
                Op::Affine(a) => a.nonzeros() + a.bias.len(),
                Op::Trees(e) => e.nodes(),
                _ => 0,
            })
            .sum()
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A weight below this fraction of its row's largest is zero under every
/// allowed quantization (`weight_bits` is at most 24).
const NEGLIGIBLE: f64 = 1.0 / (1u64 << 24) as f64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composition_matches_sequential_application() {
        let a = Affine {
            inputs: 2,
            rows: vec![vec![(0, 1.0), (1, 2.0)], vec![(1, -1.0)]],
            bias: vec![0.5, 1.0],
        };
        let b = Affine {
            inputs: 2,
            rows: vec![vec![(0, 3.0), (1, 1.0)]],
            bias: vec![-2.0],
        };
        let x = [0.25, -4.0];
        assert_eq!(a.then(&b).apply(&x), b.apply(&a.apply(&x)));
    }

    fn model(ops: Vec<Op>) -> Model {
        Model {
            input_shape: vec![1, 2],
            inputs: 2,
            ops,
            source_ops: vec![],
        }
    }

    #[test]
    fn echo_is_a_single_input_passed_through() {
        let scale = Affine {
            inputs: 2,
            rows: vec![vec![(1, 3.0)]],
            bias: vec![1.0],
        };
        let mix = Affine {
            inputs: 2,
            rows: vec![vec![(0, 1.0), (1, 1.0)]],
            bias: vec![0.0],
        };
        assert!(model(vec![Op::Affine(scale.clone())]).echoes_input());
        assert!(model(vec![Op::Affine(scale.clone()), Op::Relu]).echoes_input());
        assert!(model(vec![Op::Relu]).echoes_input());
        assert!(!model(vec![Op::Affine(mix.clone())]).echoes_input());
        assert!(!model(vec![Op::Affine(mix), Op::Relu]).echoes_input());
        let two = Affine {
            inputs: 2,
            rows: vec![vec![(0, 1.0)], vec![(1, -1.0)]],
            bias: vec![0.0, 0.0],
        };
        assert!(!model(vec![Op::Affine(two), Op::Softmax]).echoes_input());
        // A second input with a weight that quantizes to zero is still an
        // echo; one with a weight that survives quantization is not.
        let hidden = |w: f64| Affine {
            inputs: 2,
            rows: vec![vec![(0, 1.0), (1, w)]],
            bias: vec![0.0],
        };
        assert!(model(vec![Op::Affine(hidden(1e-9))]).echoes_input());
        assert!(model(vec![Op::Affine(hidden(-1e-12)), Op::Relu]).echoes_input());
        assert!(!model(vec![Op::Affine(hidden(1e-3))]).echoes_input());
        // A forest passing its inputs through passes them on; one bit of
        // input 1 alone (a Binarizer's, a one-hot's) is a copy of it, a
        // sum of trees reading both inputs is not.
        let tree = |feature: u32, o: u32| {
            vec![
                TreeNode::Branch {
                    feature,
                    threshold: 0.5,
                    strict: false,
                    yes: 1,
                    no: 2,
                },
                TreeNode::Leaf { values: vec![] },
                TreeNode::Leaf {
                    values: vec![(o, 1.0)],
                },
            ]
        };
        let forest = |pass: usize, trees: Vec<Vec<TreeNode>>| {
            Op::Trees(Ensemble {
                inputs: 2,
                outputs: 1,
                pass,
                trees,
            })
        };
        let mixed = Affine {
            inputs: 3,
            rows: vec![vec![(0, 1.0), (1, 1.0), (2, 1.0)]],
            bias: vec![0.0],
        };
        let sum = |f: Op| model(vec![f, Op::Affine(mixed.clone())]);
        assert!(model(vec![forest(0, vec![tree(1, 0)])]).echoes_input());
        assert!(!model(vec![forest(0, vec![tree(0, 0), tree(1, 0)])]).echoes_input());
        assert!(model(vec![forest(2, vec![tree(0, 0), tree(1, 0)])]).echoes_input());
        assert!(!sum(forest(2, vec![tree(1, 0)])).echoes_input());
    }
}
