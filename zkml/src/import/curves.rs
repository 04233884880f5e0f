//! Element-wise curves that tract expands into several nodes (`Elu` and
//! `Selu` into exp, compare and select; `Softplus` into exp and ln) or
//! does not know (`ai.onnx.ml` `Binarizer`), registered with tract's ONNX
//! parser as one element-wise op carrying its [`Curve`], so the importer
//! recognises it by type. Its float evaluation is [`Curve::at`], the ONNX
//! definition, in `f64` rounded to `f32`; the circuit proves the curve's
//! table (`quantize`). `ArrayFeatureExtractor` with constant indices (how
//! skl2onnx selects columns) is registered as a `Gather` on the last axis,
//! which the importer reads as a linear map.

use crate::ir::Curve;
use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::element_wise::{ElementWiseMiniOp, ElementWiseOp};
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::element_wise::ElementWiseIntoHir;

/// Adds the curves and `ArrayFeatureExtractor` to tract's ONNX op register.
pub fn register(reg: &mut OnnxOpRegister) {
    reg.insert("Elu", |_, node| {
        let alpha = attr(node, "alpha", 1.0)?;
        wrap(Curve::Elu { alpha })
    });
    reg.insert("Selu", |_, node| {
        // The ONNX defaults, to float32 precision.
        let alpha = attr(node, "alpha", 1.673_263_2)?;
        let gamma = attr(node, "gamma", 1.050_701)?;
        wrap(Curve::Selu { alpha, gamma })
    });
    reg.insert("Softplus", |_, _| wrap(Curve::Softplus));
    reg.insert("Binarizer", |_, node| {
        let threshold = attr(node, "threshold", 0.0)?;
        wrap(Curve::Step { threshold })
    });
    reg.insert("ArrayFeatureExtractor", array_feature_extractor);
}

fn attr(node: &NodeProto, name: &str, default: f32) -> TractResult<f32> {
    let v = node.get_attr_opt::<f32>(name)?.unwrap_or(default);
    if !v.is_finite() {
        bail!("{} `{}`: attribute {name} is {v}", node.op_type, node.name);
    }
    Ok(v)
}

fn wrap(curve: Curve) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((
        ElementWiseOp(Box::new(CurveOp(curve)), None).into_hir(),
        vec![],
    ))
}

/// `Gather` on the last axis: the indices are the node's second input.
fn array_feature_extractor(
    _ctx: &ParsingContext,
    _node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((
        expand(tract_onnx::tract_hir::ops::array::Gather::new(-1)),
        vec![],
    ))
}

/// One curve, element-wise, over float32.
#[derive(Debug, Clone)]
pub struct CurveOp(pub Curve);

// Attributes are checked finite when parsed, so equality is total.
impl PartialEq for CurveOp {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for CurveOp {}

impl ElementWiseMiniOp for CurveOp {
    fn name(&self) -> String {
        self.0.name().to_string()
    }

    fn eval_in_place(&self, t: &mut Tensor, _out_dt: Option<DatumType>) -> TractResult<()> {
        let c = self.0;
        t.to_plain_array_view_mut::<f32>()?
            .iter_mut()
            .for_each(|x| *x = c.at(f64::from(*x)) as f32);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_the_onnx_definitions() {
        let run = |c: Curve, xs: &[f32]| {
            let mut t = tensor1(xs);
            CurveOp(c).eval_in_place(&mut t, None).unwrap();
            t.to_plain_array_view::<f32>()
                .unwrap()
                .iter()
                .copied()
                .collect::<Vec<f32>>()
        };
        let xs = [-2.0f32, -0.5, 0.0, 0.5, 3.0];
        let elu = run(Curve::Elu { alpha: 1.0 }, &xs);
        assert!((elu[0] - ((-2f32).exp() - 1.0)).abs() < 1e-6);
        assert_eq!(&elu[2..], &[0.0, 0.5, 3.0]);
        let softplus = run(Curve::Softplus, &xs);
        for (x, y) in xs.iter().zip(softplus) {
            assert!((y - (1.0 + x.exp()).ln()).abs() < 1e-6, "{x}");
        }
        let swish = run(Curve::HardSwish, &[-4.0, -3.0, 0.0, 1.5, 3.0, 5.0]);
        assert_eq!(swish, vec![0.0, 0.0, 0.0, 1.5 * 0.75, 3.0, 5.0]);
        let step = run(Curve::Step { threshold: 0.5 }, &xs);
        assert_eq!(step, vec![0.0, 0.0, 0.0, 0.0, 1.0]);
        assert!(CurveOp(Curve::Softplus) != CurveOp(Curve::HardSwish));
    }
}
