//! ONNX import: the only module that touches tract.
//!
//! The protobuf is read first (`graph`: the input with its batch axis
//! bound to one row, the one output to prove, the graph pruned to it); a
//! tree ensemble is translated from the protobuf (`trees`); anything else
//! is loaded with tract (with `ai.onnx.ml` `Scaler` registered, `scaler`),
//! typed and decluttered (concrete shapes), then walked in evaluation order
//! and translated into [`crate::ir`]. Ops are recognised by their tract
//! type, never by name strings of our own:
//! * affine ops with constant parameters (EinSum from Gemm / MatMul, Conv,
//!   SumPool from AveragePool, axis ops from Flatten / Reshape, Slice,
//!   Concat, binary Add / Sub / Mul / Div with a constant, which is also
//!   what BatchNormalization, Scaler and LinearClassifier declutter to, and
//!   Add / Sub of two values) compose into one sparse [`Affine`] map of the
//!   latest non-linear op's output, read off each op by evaluating it with
//!   tract on scaled basis vectors, so the IR agrees with tract's own
//!   semantics for every layout and attribute;
//! * `max(x, 0)` (tract's form of Relu) becomes [`Op::Relu`];
//! * MaxPool becomes explicit windows, found the same way;
//! * Sigmoid and Tanh become [`Op::Activation`]; a final one, or a final
//!   Softmax, becomes the argmax marker [`Op::Softmax`] (see `translate`).
//!
//! Anything else is an [`Error::UnsupportedOp`] naming the node and the op.

mod curves;
mod graph;
mod load;
mod onehot;
pub mod ops;
mod probe;
mod scaler;
mod translate;
mod trees;

pub use load::*;
use probe::*;
use translate::*;

use crate::error::{Error, Result};
use crate::ir::{Affine, Curve, Ensemble, MaxPool, Model, Op, TreeNode};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::EvalOp;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::cnn::{Conv, MaxPool as TractMaxPool, SumPool};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_core::ops::nn::Softmax;
use tract_onnx::tract_core::ops::source::TypedSource;

#[cfg(test)]
mod tests {
    #[test]
    fn a_category_tree_is_the_truncating_one_hot_bit() {
        let cats = onehot::Categories {
            cats: vec![-3, -1, 0, 1, 4],
        };
        for (j, cat) in cats.cats.iter().enumerate() {
            let tree = category_tree(0, *cat, 0);
            for tenth in -60i32..=60 {
                let x = tenth as f32 / 10.0;
                let bit = !Ensemble::leaf(&tree, &[f64::from(x)]).is_empty();
                assert_eq!(bit, cats.bit(x, j), "category {cat} at {x}");
            }
        }
    }

    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures")
            .join(name)
    }

    #[test]
    fn mlp_imports_as_affine_relu_affine() {
        let m = load(fixture("models/mlp.onnx")).unwrap();
        let kinds: Vec<_> = m.model.ops.iter().map(Op::kind).collect();
        assert_eq!(kinds, ["affine", "relu", "affine"]);
        assert_eq!(m.model.inputs, 13);
        assert_eq!(m.model.outputs(), 1);
    }

    #[test]
    fn ir_matches_tract_on_every_fixture() {
        for name in [
            "linreg",
            "mlp",
            "breast_cancer",
            "digits",
            "mnist_mlp",
            "lenet_small",
        ] {
            let m = load(fixture(&format!("models/{name}.onnx"))).unwrap();
            let x: Vec<f32> = (0..m.model.inputs)
                .map(|i| ((i * 7919) % 97) as f32 / 13.0)
                .collect();
            let want = m.run_float(&x).unwrap();
            let xf: Vec<f64> = x.iter().map(|v| f64::from(*v)).collect();
            let got = m.model.eval(&xf);
            let want: Vec<f64> = if m.model.is_classifier() {
                // compare logits through the class only
                let c = want
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .unwrap()
                    .0;
                let g = got
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .unwrap()
                    .0;
                assert_eq!(c, g, "{name}");
                continue;
            } else {
                want.into_iter().map(f64::from).collect()
            };
            for (a, b) in got.iter().zip(&want) {
                assert!(
                    (a - b).abs() <= 1e-3 * (1.0 + b.abs()),
                    "{name}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn bad_models_give_clear_errors() {
        for bad in ["bad/truncated.onnx", "bad/not_onnx.onnx"] {
            let e = load(fixture(bad)).unwrap_err();
            assert!(matches!(e, Error::MalformedModel(_)), "{bad}: {e}");
        }
        let e = load(fixture("bad/unsupported_op.onnx")).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::UnsupportedOp { .. }), "{msg}");
        assert!(msg.contains("weird_sin") && msg.contains("Sin"), "{msg}");
    }
}
