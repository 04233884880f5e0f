//! `ai.onnx.ml` `Scaler` (`(x - offset) * scale` per feature, what
//! scikit-learn's `StandardScaler` exports to), which tract does not know:
//! registered with tract's ONNX parser as an expansion into a subtraction
//! and a multiplication by constants, which the importer then reads as one
//! affine map like any other.

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::logic::wire_with_rank_broadcast;

/// Adds `Scaler` to tract's ONNX op register.
pub fn register(reg: &mut OnnxOpRegister) {
    reg.insert("Scaler", scaler);
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Scaler {
    offset: Arc<Tensor>,
    scale: Arc<Tensor>,
}

fn scaler(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let offset: Vec<f32> = node.get_attr_opt_vec("offset")?.unwrap_or_default();
    let scale: Vec<f32> = node.get_attr_opt_vec("scale")?.unwrap_or_default();
    let n = offset.len().max(scale.len()).max(1);
    let fill = |v: Vec<f32>, d: f32| -> TractResult<Arc<Tensor>> {
        let v = match v.len() {
            0 => vec![d; n],
            1 => vec![v[0]; n],
            k if k == n => v,
            k => bail!("Scaler: {k} values where {n} were expected"),
        };
        Ok(tensor1(&v).into_shape(&[1, n])?.into_arc_tensor())
    };
    Ok((
        expand(Scaler {
            offset: fill(offset, 0.0)?,
            scale: fill(scale, 1.0)?,
        }),
        vec![],
    ))
}

impl Expansion for Scaler {
    fn name(&self) -> StaticName {
        "Scaler".into()
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
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let mut x = inputs[0];
        if model.outlet_fact(x)?.datum_type != f32::datum_type() {
            x = model.wire_node(
                format!("{prefix}.to_f32"),
                tract_onnx::tract_core::ops::cast::cast(f32::datum_type()),
                &[x],
            )?[0];
        }
        let offset = model.add_const(format!("{prefix}.offset"), self.offset.clone())?;
        let scale = model.add_const(format!("{prefix}.scale"), self.scale.clone())?;
        let centred = wire_with_rank_broadcast(
            format!("{prefix}.sub"),
            model,
            tract_onnx::tract_core::ops::math::sub(),
            &[x, offset],
        )?[0];
        wire_with_rank_broadcast(
            format!("{prefix}.mul"),
            model,
            tract_onnx::tract_core::ops::math::mul(),
            &[centred, scale],
        )
    }
}
