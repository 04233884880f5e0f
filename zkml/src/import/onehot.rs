//! `ai.onnx.ml` `OneHotEncoder` over integer categories (`cats_int64s`),
//! which tract does not know: registered with tract's ONNX parser as one op
//! of its own, so the importer recognises it by type and proves each bit
//! with one-branch-pair trees at the model's input (`translate`). skl2onnx
//! feeds it `Cast(to=INT64)` of the selected float columns; the rewrite on
//! the protobuf (`graph::rewrite`) reads the float column itself, and this
//! op truncates toward zero as that cast does, so the two agree on every
//! value. A value in no category gives a row of zeros (`zeros = 1`,
//! scikit-learn's `handle_unknown='ignore'`); the dataset's schema can
//! declare a column's codes so that the import refuses any other value.

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// Adds `OneHotEncoder` to tract's ONNX op register.
pub fn register(reg: &mut OnnxOpRegister) {
    reg.insert("OneHotEncoder", one_hot_encoder);
}

fn one_hot_encoder(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let cats: Vec<i64> = node.get_attr_opt_vec("cats_int64s")?.unwrap_or_default();
    if cats.is_empty() {
        bail!(
            "OneHotEncoder `{}`: only integer categories (cats_int64s) are supported; encode string categories as integer codes in the data",
            node.name
        );
    }
    Ok((expand(Encoder(Categories { cats })), vec![]))
}

/// The typed op: a float tensor `[.., C]` to `[.., C, k]`, bit `j` of
/// value `x` set when `trunc(x) == cats[j]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Categories {
    /// The categories, in output order.
    pub cats: Vec<i64>,
}

impl Categories {
    /// The bits of one value.
    pub fn bit(&self, x: f32, j: usize) -> bool {
        x.is_finite() && x.trunc() as f64 == self.cats[j] as f64
    }
}

impl Op for Categories {
    fn name(&self) -> StaticName {
        "OneHotEncoder".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Categories {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = inputs[0].cast_to::<f32>()?;
        let view = x.to_plain_array_view::<f32>()?;
        let k = self.cats.len();
        let mut shape: Vec<usize> = view.shape().to_vec();
        shape.push(k);
        let mut out = Vec::with_capacity(view.len() * k);
        for v in view.iter() {
            out.extend((0..k).map(|j| if self.bit(*v, j) { 1f32 } else { 0.0 }));
        }
        Ok(tvec!(Tensor::from_shape(&shape, &out)?.into_tvalue()))
    }
}

impl TypedOp for Categories {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.to_tvec();
        shape.push(self.cats.len().to_dim());
        Ok(tvec!(f32::fact(shape)))
    }

    as_op!();
}

/// The parser's form: wires [`Categories`].
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Encoder(Categories);

impl Expansion for Encoder {
    fn name(&self) -> StaticName {
        "OneHotEncoder".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&outputs[0].rank, inputs[0].rank.bex() + 1)?;
        let k = self.0.cats.len();
        s.given(&inputs[0].shape, move |s, shape| {
            let mut shape = shape.to_vec();
            shape.push(k.to_dim());
            s.equals(&outputs[0].shape, ShapeFactoid::from(shape))
        })
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.0.clone(), inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_like_a_cast_and_leaves_unknown_values_at_zero() {
        let op = Categories {
            cats: vec![-1, 0, 2],
        };
        let x = tensor2(&[[2.7f32, -0.5], [-1.2, 5.0]]);
        let out = op
            .eval_out_of_plan(tvec!(x.into_tvalue()))
            .unwrap()
            .unwrap();
        let v: Vec<f32> = out[0]
            .to_plain_array_view::<f32>()
            .unwrap()
            .iter()
            .copied()
            .collect();
        assert_eq!(out[0].shape(), &[2, 2, 3]);
        assert_eq!(
            v,
            vec![0., 0., 1., 0., 1., 0., 1., 0., 0., 0., 0., 0.],
            "2.7 -> 2, -0.5 -> 0, -1.2 -> -1, 5 -> none"
        );
    }
}
