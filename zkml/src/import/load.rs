//! Loading a model within the owner's limits: the protobuf's sizes
//! checked before tract reads it, the typed model's after, the ops tract
//! has no translation for named before it runs, and [`Imported`].

use super::*;

/// Largest ONNX file accepted (bytes).
pub const MAX_MODEL_BYTES: usize = 64 << 20;

/// Probe magnitude: large, a power of two so `S * w` is exact.
pub(super) const PROBE: f32 = 65536.0;

/// An imported model: its IR, its hash, and tract's runnable float model
/// (the reference every quantized run is compared against).
#[derive(Clone)]
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

pub(super) fn over(what: &str, value: u64, limit: u64) -> Result<()> {
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
pub(super) fn check_proto(proto: &tract_onnx::pb::ModelProto, limits: &ImportLimits) -> Result<()> {
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
pub(super) fn check_typed(model: &TypedModel, limits: &ImportLimits) -> Result<()> {
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
pub(super) fn parser() -> tract_onnx::model::Onnx {
    let mut onnx = tract_onnx::onnx();
    scaler::register(&mut onnx.op_register);
    curves::register(&mut onnx.op_register);
    onehot::register(&mut onnx.op_register);
    onnx
}

/// Ops translated or bypassed on the protobuf before tract sees the graph
/// (`graph::rewrite`, `graph::choose`, `trees`).
pub(super) const BEFORE_TRACT: [&str; 7] = [
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

pub(super) fn load_checked(bytes: &[u8], limits: &ImportLimits) -> Result<Imported> {
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
    let output = io.output.clone();
    let imported = |model, runnable| Imported {
        model,
        onnx_sha256,
        onnx_ops,
        proved_ops,
        onnx_parameters,
        output,
        runnable,
    };
    if let Some(model) = trees::translate(g, &io, limits)? {
        return Ok(imported(model, None));
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
    Ok(imported(model, Some(runnable)))
}

/// tract reports ops it does not know while typing the model (those it
/// has a name for but no typed form): name the node and the op from its
/// message (`Translating node #N "NAME" Unimplemented(OP)`), and keep the
/// message as the detail.
pub(super) fn typing_error(e: &TractError) -> Error {
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
