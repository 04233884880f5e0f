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
mod onehot;
pub mod ops;
mod scaler;
mod trees;

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

/// Largest ONNX file accepted (bytes).
pub const MAX_MODEL_BYTES: usize = 64 << 20;

/// Probe magnitude: large, a power of two so `S * w` is exact.
const PROBE: f32 = 65536.0;

/// An imported model: its IR, its hash, and tract's runnable float model
/// (the reference every quantized run is compared against).
pub struct Imported {
    /// The IR.
    pub model: Model,
    /// SHA-256 of the ONNX bytes, hex.
    pub onnx_sha256: String,
    /// The ONNX op types of the graph's nodes.
    pub onnx_ops: BTreeSet<String>,
    /// The ONNX op types of the nodes the proved output depends on (the
    /// graph pruned to it, before any rewrite): what the circuit proves.
    pub proved_ops: BTreeSet<String>,
    /// Values in the graph's initializers (weights, biases, constants).
    pub onnx_parameters: u64,
    /// The output proved (of the graph's outputs, see the module `graph`).
    pub output: String,
    /// tract's runnable model; `None` for tree ensembles, whose float
    /// reference is the IR's own evaluation.
    runnable: Option<Arc<TypedRunnableModel>>,
}

impl std::fmt::Debug for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imported")
            .field("onnx_sha256", &self.onnx_sha256)
            .finish_non_exhaustive()
    }
}

/// Loads an ONNX file.
pub fn load(path: impl AsRef<std::path::Path>) -> Result<Imported> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    load_bytes(&bytes)
}

/// What a model may ask of the importer, checked on the file and on the
/// typed graph before anything is evaluated: a hostile model is refused
/// before it can allocate or spin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ImportLimits {
    /// Elements of the model's input.
    pub max_input_width: u64,
    /// Weights and other stored parameters.
    pub max_parameters: u64,
    /// Nodes in the graph.
    pub max_ops: u64,
    /// Elements of any tensor the graph computes.
    pub max_tensor_elements: u64,
    /// Elements of any op's widest input (stored weights included) times
    /// its outputs: a bound on the work of reading a linear op's weights
    /// off the float model.
    pub max_op_work: u64,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits {
            max_input_width: 1 << 16,
            max_parameters: 1 << 24,
            max_ops: 1 << 12,
            max_tensor_elements: 1 << 20,
            max_op_work: 1 << 28,
        }
    }
}

fn over(what: &str, value: u64, limit: u64) -> Result<()> {
    if value > limit {
        return Err(Error::OverLimit {
            what: what.to_string(),
            value,
            limit,
        });
    }
    Ok(())
}

/// The file's declared input width (symbolic and unknown dimensions count
/// as one), its node count and its stored parameters, read off the
/// protobuf without building anything.
fn check_proto(proto: &tract_onnx::pb::ModelProto, limits: &ImportLimits) -> Result<()> {
    use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
    use tract_onnx::pb::type_proto::Value as Type;
    let Some(g) = &proto.graph else {
        return Ok(());
    };
    over("ops", g.node.len() as u64, limits.max_ops)?;
    let parameters = g
        .initializer
        .iter()
        .map(|t| {
            t.dims
                .iter()
                .fold(1u64, |a, d| a.saturating_mul((*d).max(0) as u64))
        })
        .fold(0u64, u64::saturating_add);
    over("parameters", parameters, limits.max_parameters)?;
    let stored: BTreeSet<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    for input in g.input.iter().filter(|i| !stored.contains(i.name.as_str())) {
        let dims = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(Type::TensorType(t)) => t.shape.as_ref().map(|s| s.dim.clone()),
            _ => None,
        };
        let width = dims
            .unwrap_or_default()
            .iter()
            .map(|d| match d.value {
                Some(Dim::DimValue(v)) => v.max(1) as u64,
                _ => 1,
            })
            .fold(1u64, u64::saturating_mul);
        over("input width", width, limits.max_input_width)?;
    }
    // Every graph output must be some value of the graph (the importer
    // indexes by these names).
    let known: BTreeSet<&str> = g
        .node
        .iter()
        .flat_map(|n| n.output.iter().map(String::as_str))
        .chain(g.input.iter().map(|i| i.name.as_str()))
        .chain(stored.iter().copied())
        .collect();
    if let Some(o) = g.output.iter().find(|o| !known.contains(o.name.as_str())) {
        return Err(Error::MalformedModel(format!(
            "the graph output `{}` is not produced by any node, input or initializer",
            o.name
        )));
    }
    Ok(())
}

/// Every tensor the typed graph computes, and every linear op's probing
/// work, within the limits (shapes known at this point; nothing has run).
fn check_typed(model: &TypedModel, limits: &ImportLimits) -> Result<()> {
    for node in model.nodes() {
        let mut widest_in = 0u64;
        for i in &node.inputs {
            let fact = model
                .outlet_fact(*i)
                .map_err(|e| Error::MalformedModel(format!("{e:#}")))?;
            if let Some(shape) = fact.shape.as_concrete() {
                widest_in = widest_in.max(shape.iter().map(|d| *d as u64).product());
            }
        }
        for out in &node.outputs {
            if let Some(shape) = out.fact.shape.as_concrete() {
                let n = shape.iter().fold(1u64, |a, d| a.saturating_mul(*d as u64));
                over("tensor elements", n, limits.max_tensor_elements)?;
                over("op work", widest_in.saturating_mul(n), limits.max_op_work)?;
            }
        }
    }
    Ok(())
}

/// Loads an ONNX model from memory within the default [`ImportLimits`].
pub fn load_bytes(bytes: &[u8]) -> Result<Imported> {
    load_bytes_within(bytes, &ImportLimits::default())
}

/// Loads an ONNX model from memory, refusing one over `limits` before
/// anything of it is evaluated.
pub fn load_bytes_within(bytes: &[u8], limits: &ImportLimits) -> Result<Imported> {
    if bytes.len() > MAX_MODEL_BYTES {
        return Err(Error::MalformedModel(format!(
            "{} bytes is over the {MAX_MODEL_BYTES}-byte model limit",
            bytes.len()
        )));
    }
    // The importer is a large third-party parser: a file that makes it
    // panic is a malformed model, never a crash of the caller.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load_checked(bytes, limits)))
        .unwrap_or_else(|p| {
            Err(Error::MalformedModel(format!(
                "the ONNX importer stopped on an inconsistent file: {}",
                crate::error::panic_message(&*p)
            )))
        })
}

/// tract's ONNX parser with the importer's own ops registered.
fn parser() -> tract_onnx::model::Onnx {
    let mut onnx = tract_onnx::onnx();
    scaler::register(&mut onnx.op_register);
    curves::register(&mut onnx.op_register);
    onehot::register(&mut onnx.op_register);
    onnx
}

/// Ops translated or bypassed on the protobuf before tract sees the graph
/// (`graph::rewrite`, `graph::choose`, `trees`).
const BEFORE_TRACT: [&str; 7] = [
    "Imputer",
    "Normalizer",
    "SVMClassifier",
    "SVMRegressor",
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "ZipMap",
];

/// Whether the importer has a translation for the ONNX op `op`: on the
/// protobuf, or in tract's parser (the importer may still refuse it where
/// it is not affine or not at its supported place; see
/// [`ops::SUPPORTED`]).
pub fn registered(op: &str) -> bool {
    BEFORE_TRACT.contains(&op) || parser().op_register.0.contains_key(op)
}

fn load_checked(bytes: &[u8], limits: &ImportLimits) -> Result<Imported> {
    let onnx_sha256 = hex::encode(Sha256::digest(bytes));
    let onnx = parser();
    let mut proto = onnx
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| Error::MalformedModel(format!("{e:#}")))?;
    check_proto(&proto, limits)?;
    let (onnx_ops, onnx_parameters) = match &proto.graph {
        Some(g) => (
            g.node.iter().map(|n| n.op_type.clone()).collect(),
            g.initializer
                .iter()
                .map(|t| t.dims.iter().map(|d| (*d).max(0) as u64).product::<u64>())
                .sum(),
        ),
        None => (BTreeSet::new(), 0),
    };
    let g = proto
        .graph
        .as_mut()
        .ok_or_else(|| Error::MalformedModel("the file has no graph".into()))?;
    let mut io = graph::choose(g)?;
    graph::prune(g, &io.output);
    let proved_ops: BTreeSet<String> = g.node.iter().map(|n| n.op_type.clone()).collect();
    graph::rewrite(g, &mut io)?;
    if let Some(model) = trees::translate(g, &io, limits)? {
        return Ok(Imported {
            model,
            onnx_sha256,
            onnx_ops,
            proved_ops,
            onnx_parameters,
            output: io.output,
            runnable: None,
        });
    }
    graph::known(g, &onnx.op_register)?;
    let mut inference = onnx
        .model_for_proto_model(&proto)
        .map_err(|e| Error::MalformedModel(format!("{e:#}")))?;
    inference
        .set_input_fact(0, f32::fact(&io.shape).into())
        .map_err(|e| Error::MalformedModel(format!("{e:#}")))?;
    let typed = inference.into_typed().map_err(|e| typing_error(&e))?;
    check_typed(&typed, limits)?;
    let typed = typed
        .into_decluttered()
        .map_err(|e| Error::MalformedModel(format!("{e:#}")))?;
    let model = translate(&typed)?;
    let runnable = typed
        .clone()
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(|e| Error::MalformedModel(format!("{e:#}")))?;
    Ok(Imported {
        model,
        onnx_sha256,
        onnx_ops,
        proved_ops,
        onnx_parameters,
        output: io.output,
        runnable: Some(runnable),
    })
}

/// tract reports ops it does not know while typing the model (those it
/// has a name for but no typed form): name the node and the op from its
/// message (`Translating node #N "NAME" Unimplemented(OP)`), and keep the
/// message as the detail.
fn typing_error(e: &TractError) -> Error {
    let msg = format!("{e:#}");
    if !(msg.contains("Unimplemented") || msg.contains("unimplemented")) {
        return Error::MalformedModel(msg);
    }
    let between = |after: &str, until: char| {
        msg.find(after).and_then(|i| {
            let rest = &msg[i + after.len()..];
            rest.find(until).map(|j| rest[..j].to_string())
        })
    };
    let node = between("Translating node #", ' ')
        .and_then(|_| {
            let i = msg.find("Translating node #")?;
            let rest = &msg[i..];
            let open = rest.find('"')?;
            let close = rest[open + 1..].find('"')?;
            Some(rest[open + 1..open + 1 + close].to_string())
        })
        .unwrap_or_else(|| "(unnamed)".into());
    let op = between("Unimplemented(", ')').unwrap_or_else(|| "(unknown)".into());
    Error::UnsupportedOp {
        node,
        op,
        detail: "the ONNX importer has no typed form for this op".into(),
    }
}

impl Imported {
    /// Runs the float model on one flat input row: tract's, or for tree
    /// ensembles the IR's evaluation (exact comparisons with the file's
    /// float32 thresholds, sums in f64).
    pub fn run_float(&self, x: &[f32]) -> Result<Vec<f32>> {
        let Some(runnable) = &self.runnable else {
            let xs: Vec<f64> = x.iter().map(|v| f64::from(*v)).collect();
            return Ok(self.model.eval(&xs).into_iter().map(|v| v as f32).collect());
        };
        let t = Tensor::from_shape(&self.model.input_shape, x)
            .map_err(|e| Error::Proof(format!("{e:#}")))?;
        let out = runnable
            .run(tvec!(t.into()))
            .map_err(|e| Error::Proof(format!("tract run: {e:#}")))?;
        let view = out[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| Error::Proof(format!("{e:#}")))?;
        Ok(view.iter().copied().collect())
    }
}

/// A value of the graph while it is walked: a constant, or an affine map
/// of the latest boundary (the input, or the output of the latest
/// non-linear op): affine ops compose into the map, so several values of
/// one boundary (a binary classifier's `[1 - p, p]`) can be combined by
/// linear ops with several inputs (`Concat`, `Add`, `Sub`).
enum Val {
    Const(Arc<Tensor>),
    Wire {
        boundary: usize,
        map: Affine,
        shape: Vec<usize>,
    },
}

fn unsupported(node: &TypedNode, detail: impl Into<String>) -> Error {
    Error::UnsupportedOp {
        node: node.name.clone(),
        op: node.op.name().to_string(),
        detail: detail.into(),
    }
}

fn tract_err(node: &TypedNode, e: TractError) -> Error {
    unsupported(node, format!("evaluation failed: {e:#}"))
}

/// An op's non-linearity, if the importer knows it.
enum Kind {
    /// Affine in its data inputs.
    Linear,
    Relu,
    MaxPool,
    /// Softmax: monotone, so a final one leaves the class (the argmax)
    /// unchanged; anywhere else it is not supported.
    Monotone,
    /// Sigmoid or tanh: a final one is read like a softmax; inside the
    /// network it is proved as a piecewise-linear approximation.
    Curve(crate::ir::Curve),
}

fn kind(node: &TypedNode, consts: &[Option<Arc<Tensor>>], wires: usize) -> Result<Kind> {
    use tract_onnx::tract_core::ops::array::{Slice, TypedConcat};
    use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
    if let Some(bin) = node.op_as::<TypedBinOp>() {
        let name = bin.0.name();
        let constant = consts.iter().flatten().next();
        return match (name, wires, constant) {
            ("Max", 1, Some(k)) if is_zero(k) => Ok(Kind::Relu),
            // Clip and HardSigmoid's saturation, as tract writes them.
            ("Max" | "Min", 1, Some(k)) if scalar(k).is_some() => {
                let v = scalar(k);
                Ok(Kind::Curve(if name == "Max" {
                    crate::ir::Curve::Clamp { lo: v, hi: None }
                } else {
                    crate::ir::Curve::Clamp { lo: None, hi: v }
                }))
            }
            ("Add" | "Sub", 2, _) | ("Add" | "Sub" | "Mul", 1, Some(_)) => Ok(Kind::Linear),
            ("Div", 1, Some(_)) if consts[0].is_none() => Ok(Kind::Linear),
            _ => Err(unsupported(
                node,
                "only Add and Sub, Mul and Div by a constant, and max or min with a constant are supported",
            )),
        };
    }
    if wires > 1 && !node.op_is::<TypedConcat>() {
        return Err(unsupported(
            node,
            "only Concat, Add and Sub may combine several data inputs",
        ));
    }
    // Gather with constant indices (ArrayFeatureExtractor, embedding
    // lookups of a constant) only routes values; a sum over axes (what
    // GlobalAveragePool and ReduceSum become) is linear.
    if node.op_is::<tract_onnx::tract_core::ops::array::Gather>() {
        return if consts.get(1).is_some_and(Option::is_some) && consts[0].is_none() {
            Ok(Kind::Linear)
        } else {
            Err(unsupported(
                node,
                "Gather is supported with constant indices only (data-dependent indexing is not)",
            ))
        };
    }
    if let Some(r) = node.op_as::<tract_onnx::tract_core::ops::nn::Reduce>() {
        use tract_onnx::tract_core::ops::nn::Reducer;
        return if r.reducer == Reducer::Sum {
            Ok(Kind::Linear)
        } else {
            Err(unsupported(
                node,
                format!("only sums over axes are supported, not {:?}", r.reducer),
            ))
        };
    }
    if node.op_is::<EinSum>()
        || node.op_is::<Conv>()
        || node.op_is::<SumPool>()
        || node.op_is::<AxisOp>()
        || node.op_is::<TypedConcat>()
        || node.op_is::<Slice>()
    {
        return Ok(Kind::Linear);
    }
    if node.op_is::<TractMaxPool>() {
        return Ok(Kind::MaxPool);
    }
    if node.op_is::<Softmax>() {
        return Ok(Kind::Monotone);
    }
    if let Some(e) = node.op_as::<ElementWiseOp>() {
        match e.0.name().as_ref() {
            "Sigmoid" => return Ok(Kind::Curve(crate::ir::Curve::Sigmoid)),
            "Tanh" => return Ok(Kind::Curve(crate::ir::Curve::Tanh)),
            "HardSwish" => return Ok(Kind::Curve(crate::ir::Curve::HardSwish)),
            "LeakyRelu" => {
                use tract_onnx::tract_core::ops::nn::LeakyRelu;
                if let Some(l) = e.0.downcast_ref::<LeakyRelu>() {
                    return Ok(Kind::Curve(crate::ir::Curve::LeakyRelu { alpha: l.alpha }));
                }
            }
            _ => {}
        }
        if let Some(c) = e.0.downcast_ref::<curves::CurveOp>() {
            return Ok(Kind::Curve(c.0));
        }
    }
    Err(unsupported(node, ""))
}

fn translate(m: &TypedModel) -> Result<Model> {
    let inputs = m
        .input_outlets()
        .map_err(|e| Error::MalformedModel(e.to_string()))?;
    let outputs = m
        .output_outlets()
        .map_err(|e| Error::MalformedModel(e.to_string()))?;
    if inputs.len() != 1 || outputs.len() != 1 {
        return Err(Error::Structure(format!(
            "models must have one input and one output, this one has {} and {}",
            inputs.len(),
            outputs.len()
        )));
    }
    let mut vals: HashMap<OutletId, Val> = HashMap::new();
    let mut ops: Vec<Op> = Vec::new();
    let mut source_ops = Vec::new();
    let mut input_shape = Vec::new();
    // Boundaries so far, and the width of the latest.
    let mut boundary = 0usize;
    let mut width = 0usize;
    // The latest non-linear op if it is a softmax, sigmoid or tanh (a
    // classifier's final op, if nothing non-linear follows): where it is in
    // `ops` and its node.
    let mut monotone: Option<(usize, String, String)> = None;

    for id in m
        .eval_order()
        .map_err(|e| Error::MalformedModel(e.to_string()))?
    {
        let node = m.node(id);
        let out = OutletId::new(id, 0);
        if node.op_is::<TypedSource>() {
            let fact = &node.outputs[0].fact;
            if fact.datum_type != f32::datum_type() {
                return Err(Error::Structure(format!(
                    "the input must be float32, not {:?}",
                    fact.datum_type
                )));
            }
            input_shape = fact
                .shape
                .as_concrete()
                .ok_or_else(|| {
                    Error::Structure("the input shape must be concrete (fixed batch of 1)".into())
                })?
                .to_vec();
            width = input_shape.iter().product();
            vals.insert(
                out,
                Val::Wire {
                    boundary,
                    map: Affine::identity(width),
                    shape: input_shape.clone(),
                },
            );
            continue;
        }
        if let Some(k) = node.outputs[0].fact.konst.clone() {
            vals.insert(out, Val::Const(k));
            continue;
        }
        if let Some(c) = node.op_as::<Const>() {
            let k = c
                .eval_out_of_plan(tvec!())
                .ok()
                .flatten()
                .map(|mut v| v.remove(0));
            if let Some(k) = k {
                vals.insert(out, Val::Const(k.into_arc_tensor()));
                continue;
            }
        }
        if node.outputs.len() != 1 {
            return Err(unsupported(
                node,
                "ops with several outputs are not supported",
            ));
        }
        source_ops.push((node.name.clone(), node.op.name().to_string()));
        let wires: Vec<usize> = node
            .inputs
            .iter()
            .enumerate()
            .filter(|(_, o)| matches!(vals.get(o), Some(Val::Wire { .. })))
            .map(|(i, _)| i)
            .collect();
        if wires.is_empty() {
            return Err(unsupported(node, "an op on constants only"));
        }
        for w in &wires {
            if let Some(Val::Wire { boundary: b, .. }) = vals.get(&node.inputs[*w]) {
                if *b != boundary {
                    return Err(Error::Structure(format!(
                        "node `{}` branches off the main chain (skip connections are not supported)",
                        node.name
                    )));
                }
            }
        }
        let out_shape = node.outputs[0]
            .fact
            .shape
            .as_concrete()
            .ok_or_else(|| unsupported(node, "symbolic output shape"))?
            .to_vec();
        let consts: Vec<Option<Arc<Tensor>>> = node
            .inputs
            .iter()
            .map(|o| match vals.get(o) {
                Some(Val::Const(k)) => Some(k.clone()),
                _ => None,
            })
            .collect();
        let shapes: Vec<Vec<usize>> = node
            .inputs
            .iter()
            .map(|o| match vals.get(o) {
                Some(Val::Wire { shape, .. }) => shape.clone(),
                _ => Vec::new(),
            })
            .collect();
        let maps: Vec<(usize, Affine)> = wires
            .iter()
            .map(|w| match vals.get(&node.inputs[*w]) {
                Some(Val::Wire { map, .. }) => (*w, map.clone()),
                _ => unreachable!("a wire"),
            })
            .collect();
        if let Some(cats) = node.op_as::<onehot::Categories>() {
            let (_, map) = &maps[0];
            let layer = match ops.as_slice() {
                [] => true,
                [Op::Trees(e)] => e.pass > 0,
                _ => false,
            };
            if !layer {
                return Err(unsupported(
                    node,
                    "a OneHotEncoder must read the model's input columns (before any layer)",
                ));
            }
            if ops.is_empty() {
                // The input layer becomes a forest passing every column
                // through; the one-hot bits follow them.
                ops.push(Op::Trees(Ensemble {
                    inputs: width,
                    outputs: 0,
                    pass: width,
                    trees: Vec::new(),
                }));
                boundary += 1;
                for v in vals.values_mut() {
                    if let Val::Wire { boundary: b, .. } = v {
                        *b = boundary;
                    }
                }
            }
            let Some(Op::Trees(e)) = ops.first_mut() else {
                unreachable!("the input forest")
            };
            let first = e.outputs;
            for (c, row) in map.rows.iter().enumerate() {
                let feature = match (row.as_slice(), map.bias[c]) {
                    ([(i, w)], b) if *w == 1.0 && b == 0.0 && (*i as usize) < e.pass => *i,
                    _ => {
                        return Err(unsupported(
                            node,
                            "a OneHotEncoder must read input columns as they are (selected, not scaled or mixed)",
                        ))
                    }
                };
                for (j, cat) in cats.cats.iter().enumerate() {
                    let o = (first + c * cats.cats.len() + j) as u32;
                    e.trees.push(category_tree(feature, *cat, o));
                }
            }
            e.outputs += map.outputs() * cats.cats.len();
            let (pass, added) = (e.pass, e.outputs - first);
            width = e.width();
            for v in vals.values_mut() {
                if let Val::Wire { map, .. } = v {
                    map.inputs = width;
                }
            }
            vals.insert(
                out,
                Val::Wire {
                    boundary,
                    map: Affine {
                        inputs: width,
                        rows: (0..added)
                            .map(|t| vec![((pass + first + t) as u32, 1.0)])
                            .collect(),
                        bias: vec![0.0; added],
                    },
                    shape: out_shape,
                },
            );
            continue;
        }
        let kind = kind(node, &consts, wires.len())?;
        let value = match kind {
            Kind::Linear => {
                // out = f(0) + sum_k W_k (map_k x): each W_k read off the
                // op with the other data inputs at zero.
                let mut total: Option<Affine> = None;
                for (w, map) in &maps {
                    let op = probe_affine(node, &consts, &shapes, *w, &out_shape)?;
                    let part = map.then(&op);
                    total = Some(match total {
                        None => part,
                        Some(t) => t.plus(&part, &op.bias),
                    });
                }
                Val::Wire {
                    boundary,
                    map: total.expect("one data input at least"),
                    shape: out_shape,
                }
            }
            Kind::Relu | Kind::MaxPool | Kind::Monotone | Kind::Curve(_) => {
                match monotone.take() {
                    Some((_, name, op)) if op == "Softmax" => {
                        return Err(unsupported(
                            node,
                            format!("`{name}` (softmax) is supported only as a classifier's last non-linear op"),
                        ))
                    }
                    // A sigmoid or tanh followed by more: inside the network.
                    _ => {}
                }
                let (w, map) = &maps[0];
                if let (Kind::Curve(Curve::Step { threshold }), true) = (&kind, ops.is_empty()) {
                    // A Binarizer of the input: one-branch trees, exact.
                    ops.push(Op::Trees(binarizer_trees(node, map, *threshold)?));
                    boundary += 1;
                    width = map.outputs();
                    vals.insert(
                        out,
                        Val::Wire {
                            boundary,
                            map: Affine::identity(width),
                            shape: out_shape,
                        },
                    );
                    continue;
                }
                commit(&mut ops, map);
                let op = match kind {
                    Kind::Relu => Op::Relu,
                    Kind::Curve(c) => {
                        // A sigmoid or tanh may be a classifier's last op;
                        // every other curve is computed like a ReLU.
                        if c.is_squashing() {
                            monotone = Some((ops.len(), node.name.clone(), c.name().to_string()));
                        }
                        Op::Activation(c)
                    }
                    Kind::MaxPool => {
                        let in_shape = &shapes[*w];
                        Op::MaxPool(probe_windows(node, &consts, *w, in_shape)?)
                    }
                    _ => {
                        if let Some(sm) = node.op_as::<Softmax>() {
                            let last = out_shape.len() - 1;
                            let others: usize = out_shape[..last].iter().product();
                            if sm.axes.as_slice() != [last] || others != 1 {
                                return Err(unsupported(
                                    node,
                                    "softmax must run over the last axis of a single row",
                                ));
                            }
                        }
                        monotone = Some((ops.len(), node.name.clone(), node.op.name().to_string()));
                        Op::Softmax
                    }
                };
                push(&mut ops, op);
                boundary += 1;
                width = out_shape.iter().product();
                Val::Wire {
                    boundary,
                    map: Affine::identity(width),
                    shape: out_shape,
                }
            }
        };
        vals.insert(out, value);
    }
    match vals.get(&outputs[0]) {
        Some(Val::Wire {
            boundary: b, map, ..
        }) if *b == boundary => {
            let tail = map.clone();
            match &monotone {
                None => commit(&mut ops, &tail),
                // A final monotone op: the class is the argmax of what it
                // reads. One output `s` is the binary classifier `s > 0`
                // (sigmoid(s) > 1/2, tanh(s) > 0): the scores `[-s, s]`.
                // After it only the layout `[1 - p, p]` is allowed, whose
                // argmax is `[-s, s]`'s for `p = sigmoid(s)`.
                Some((at, name, op)) => {
                    let layout = |bias: [f64; 2]| Affine {
                        inputs: 1,
                        rows: vec![vec![(0, -1.0)], vec![(0, 1.0)]],
                        bias: bias.to_vec(),
                    };
                    let single = width == 1 && op != "Softmax";
                    let binary = single
                        && (tail.is_identity() || (op == "Sigmoid" && tail == layout([1.0, 0.0])));
                    if binary {
                        ops.truncate(*at);
                        push(&mut ops, Op::Affine(layout([0.0, 0.0])));
                        ops.push(Op::Softmax);
                    } else if tail.is_identity() && width > 1 {
                        // The argmax of the scores it reads.
                        ops[*at] = Op::Softmax;
                    } else if op != "Softmax" {
                        // A sigmoid or tanh inside a regression model.
                        commit(&mut ops, &tail);
                    } else {
                        return Err(Error::UnsupportedOp {
                            node: name.clone(),
                            op: op.clone(),
                            detail: "a softmax is supported as a classifier's last op over its scores; here something else follows it".into(),
                        });
                    }
                }
            }
        }
        _ => {
            return Err(Error::Structure(
                "the output is not the end of the op chain".into(),
            ))
        }
    }
    let inputs_len = input_shape.iter().product();
    Ok(Model {
        input_shape,
        inputs: inputs_len,
        ops,
        source_ops,
    })
}

/// A Binarizer (`y > threshold`) of `map`'s outputs, each of which reads
/// one input `x_i` (`y = a x_i + b`, `a != 0`) or none: one tree per
/// output, whose branch compares `x_i` itself with `(threshold - b) / a`
/// (`x_i > t` for `a > 0`, `x_i < t` for `a < 0`), the leaf 1 or nothing.
fn binarizer_trees(node: &TypedNode, map: &Affine, threshold: f32) -> Result<Ensemble> {
    let t = f64::from(threshold);
    let mut trees = Vec::with_capacity(map.outputs());
    for (o, (row, b)) in map.rows.iter().zip(&map.bias).enumerate() {
        let one = TreeNode::Leaf {
            values: vec![(o as u32, 1.0)],
        };
        let none = TreeNode::Leaf { values: vec![] };
        trees.push(match row.as_slice() {
            [] => vec![if *b > t { one } else { none }],
            [(i, a)] => {
                let at = (t - b) / a;
                let (strict, yes, no) = if *a > 0.0 { (false, none, one) } else { (true, one, none) };
                vec![
                    TreeNode::Branch {
                        feature: *i,
                        threshold: at,
                        strict,
                        yes: 1,
                        no: 2,
                    },
                    yes,
                    no,
                ]
            }
            _ => {
                return Err(unsupported(
                    node,
                    "a Binarizer at the model's input must read each input alone (a column, scaled or shifted); mixed inputs are not supported",
                ))
            }
        });
    }
    Ok(Ensemble {
        inputs: map.inputs,
        outputs: map.outputs(),
        pass: 0,
        trees,
    })
}

/// The tree of one one-hot bit: output `o` is 1 where `trunc(x) == cat`
/// for `x` input `feature` (`cat <= x < cat + 1` for a positive category,
/// `cat - 1 < x <= cat` for a negative one, `-1 < x < 1` for 0).
fn category_tree(feature: u32, cat: i64, o: u32) -> Vec<TreeNode> {
    let c = cat as f64;
    // "Below the category" and "within its upper bound", as comparisons.
    let ((below, below_strict), (upper, upper_strict)) = match cat {
        0 => ((-1.0, false), (1.0, true)),
        _ if cat > 0 => ((c, true), (c + 1.0, true)),
        _ => ((c - 1.0, false), (c, false)),
    };
    let none = || TreeNode::Leaf { values: vec![] };
    vec![
        TreeNode::Branch {
            feature,
            threshold: below,
            strict: below_strict,
            yes: 1,
            no: 2,
        },
        none(),
        TreeNode::Branch {
            feature,
            threshold: upper,
            strict: upper_strict,
            yes: 3,
            no: 4,
        },
        TreeNode::Leaf {
            values: vec![(o, 1.0)],
        },
        none(),
    ]
}

/// Appends a pending affine map to the ops, unless it is the identity.
fn commit(ops: &mut Vec<Op>, map: &Affine) {
    if !map.is_identity() {
        push(ops, Op::Affine(map.clone()));
    }
}

/// Appends an op, merging consecutive affine maps and moving a ReLU that
/// follows a max pool in front of it (they commute exactly).
fn push(ops: &mut Vec<Op>, op: Op) {
    // Consecutive clamps (a ReLU is `max(x, 0)`) are one clamp.
    let both = (ops.last().and_then(clamp_of), clamp_of(&op));
    if let ((Some(p), Some(n)), false) = (
        both,
        matches!(op, Op::Relu) && ops.last() == Some(&Op::Relu),
    ) {
        let lo = match (p.0, n.0) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let hi = match (p.1, n.1) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        *ops.last_mut().expect("non-empty") = Op::Activation(Curve::Clamp { lo, hi });
        return;
    }
    match (ops.last(), &op) {
        (Some(Op::Affine(prev)), Op::Affine(next)) => {
            let merged = prev.then(next);
            *ops.last_mut().expect("non-empty") = Op::Affine(merged);
        }
        (Some(Op::MaxPool(_)), Op::Relu) => {
            let pool = ops.pop().expect("non-empty");
            push(ops, Op::Relu);
            ops.push(pool);
        }
        (Some(Op::Relu), Op::Relu) => {}
        _ => ops.push(op),
    }
}

/// The bounds of a clamp, a ReLU being one.
fn clamp_of(op: &Op) -> Option<(Option<f32>, Option<f32>)> {
    match op {
        Op::Relu => Some((Some(0.0), None)),
        Op::Activation(Curve::Clamp { lo, hi }) => Some((*lo, *hi)),
        _ => None,
    }
}

/// The one value of a constant every element of which is equal.
fn scalar(t: &Tensor) -> Option<f32> {
    let v = t.to_plain_array_view::<f32>().ok()?;
    let first = *v.iter().next()?;
    (first.is_finite() && v.iter().all(|x| *x == first)).then_some(first)
}

fn is_zero(t: &Tensor) -> bool {
    t.to_plain_array_view::<f32>()
        .map(|v| v.iter().all(|x| *x == 0.0))
        .unwrap_or(false)
}

/// Evaluates `node` with `x` as its data input `wire`, its constants, and
/// zeros of `shapes[i]` as any other data input `i`.
fn eval_with(
    node: &TypedNode,
    consts: &[Option<Arc<Tensor>>],
    shapes: &[Vec<usize>],
    wire: usize,
    x: Tensor,
) -> Result<Vec<f32>> {
    let mut x = Some(x);
    let mut inputs: TVec<TValue> = TVec::new();
    for (i, c) in consts.iter().enumerate() {
        inputs.push(if i == wire {
            x.take().expect("one wire").into()
        } else {
            match c {
                Some(c) => TValue::from_const(c.clone()),
                None => basis(&shapes[i], None, 0.0, 0.0)?.into(),
            }
        });
    }
    let out = node
        .op
        .eval_out_of_plan(inputs)
        .map_err(|e| tract_err(node, e))?
        .ok_or_else(|| unsupported(node, "op cannot be evaluated on its own"))?;
    let view = out[0]
        .to_plain_array_view::<f32>()
        .map_err(|e| tract_err(node, e))?;
    Ok(view.iter().copied().collect())
}

fn basis(shape: &[usize], i: Option<usize>, fill: f32, at: f32) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let mut data = vec![fill; n];
    if let Some(i) = i {
        data[i] = at;
    }
    Tensor::from_shape(shape, &data).map_err(|e| Error::Structure(format!("{e:#}")))
}

/// Reads an affine op off tract: `b = f(0)`, column `i` of `W` is
/// `(f(S e_i) - b) / S`. Exact zeros stay exact, so sparsity (convolutions)
/// is preserved.
fn probe_affine(
    node: &TypedNode,
    consts: &[Option<Arc<Tensor>>],
    shapes: &[Vec<usize>],
    wire: usize,
    out_shape: &[usize],
) -> Result<Affine> {
    let in_shape = &shapes[wire];
    let n_in: usize = in_shape.iter().product();
    let n_out: usize = out_shape.iter().product();
    let bias: Vec<f32> = eval_with(node, consts, shapes, wire, basis(in_shape, None, 0.0, 0.0)?)?;
    if bias.len() != n_out {
        return Err(unsupported(
            node,
            "output size differs from its declared shape",
        ));
    }
    let mut rows: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n_out];
    for i in 0..n_in {
        let y = eval_with(
            node,
            consts,
            shapes,
            wire,
            basis(in_shape, Some(i), 0.0, PROBE)?,
        )?;
        for (j, (yj, bj)) in y.iter().zip(&bias).enumerate() {
            if yj != bj {
                rows[j].push((
                    i as u32,
                    (f64::from(*yj) - f64::from(*bj)) / f64::from(PROBE),
                ));
            }
        }
    }
    let bias: Vec<f64> = bias.into_iter().map(f64::from).collect();
    if bias
        .iter()
        .chain(rows.iter().flatten().map(|(_, w)| w))
        .any(|v| !v.is_finite())
    {
        return Err(unsupported(node, "non-finite weights"));
    }
    Ok(Affine {
        inputs: n_in,
        rows,
        bias,
    })
}

/// Finds each max-pool output's window by lighting one input at a time.
fn probe_windows(
    node: &TypedNode,
    consts: &[Option<Arc<Tensor>>],
    wire: usize,
    in_shape: &[usize],
) -> Result<MaxPool> {
    let n_in: usize = in_shape.iter().product();
    let base = eval_with(node, consts, &[], wire, basis(in_shape, None, -1.0, -1.0)?)?;
    let mut windows: Vec<Vec<u32>> = vec![Vec::new(); base.len()];
    for i in 0..n_in {
        let y = eval_with(
            node,
            consts,
            &[],
            wire,
            basis(in_shape, Some(i), -1.0, 1.0)?,
        )?;
        for (j, v) in y.iter().enumerate() {
            if *v == 1.0 {
                windows[j].push(i as u32);
            }
        }
    }
    if windows.iter().any(Vec::is_empty) {
        return Err(unsupported(node, "a pooling window covers only padding"));
    }
    Ok(MaxPool {
        inputs: n_in,
        windows,
    })
}

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
