//! What the importer proves of an ONNX graph, read off the protobuf before
//! tract sees it: the input with a symbolic batch axis bound to one row,
//! and the one output to prove, chosen among an exporter's several.
//!
//! Exporters name the batch axis symbolically (`None` in skl2onnx and
//! onnxmltools, `dynamic_axes` in `torch.onnx.export`): axis 0 is bound to
//! 1, a symbolic axis anywhere else is an error naming it. Classifiers
//! export a label next to the scores or probabilities: the output proved is
//! the one float tensor output (a `ZipMap`'s dictionaries are replaced by
//! the tensor it reads), preferring one named like probabilities or scores
//! when there are several; the label, which is their argmax, is what the
//! classification aggregates compute in the circuit anyway. Nodes that do
//! not lead to the chosen output are dropped before tract types the graph.

use crate::error::{Error, Result};
use std::collections::BTreeSet;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::pb::type_proto::Value as Type;
use tract_onnx::pb::{GraphProto, ValueInfoProto};

/// ONNX's element type of float32 tensors.
const FLOAT: i32 = 1;

/// ONNX's element type of int64 tensors.
const INT64: i64 = 7;

/// The input and output the importer proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Io {
    /// The input's name.
    pub input: String,
    /// Its shape, the batch axis bound to 1.
    pub shape: Vec<usize>,
    /// The output proved.
    pub output: String,
}

fn structure(m: String) -> Error {
    Error::Structure(m)
}

/// Chooses the input and output (see the module's documentation).
pub fn choose(g: &GraphProto) -> Result<Io> {
    let stored: BTreeSet<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&ValueInfoProto> = g
        .input
        .iter()
        .filter(|i| !stored.contains(i.name.as_str()))
        .collect();
    let [input] = inputs.as_slice() else {
        return Err(structure(format!(
            "models must have one input, this one has {}",
            inputs.len()
        )));
    };
    let tensor = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(Type::TensorType(t)) => t,
        _ => {
            return Err(structure(format!(
                "the input `{}` is not a tensor",
                input.name
            )))
        }
    };
    if tensor.elem_type != FLOAT {
        return Err(structure(format!(
            "the input `{}` must be float32 (ONNX element type 1), not type {}",
            input.name, tensor.elem_type
        )));
    }
    let dims = tensor
        .shape
        .as_ref()
        .map(|s| s.dim.clone())
        .unwrap_or_default();
    let mut shape = Vec::with_capacity(dims.len());
    for (axis, d) in dims.iter().enumerate() {
        match (&d.value, axis) {
            (Some(Dim::DimValue(v)), _) if *v > 0 => shape.push(*v as usize),
            (_, 0) => shape.push(1),
            (Some(Dim::DimParam(p)), _) => {
                return Err(structure(format!(
                    "the input `{}` has the symbolic dimension `{p}` at axis {axis}: only the batch axis (0) may be symbolic",
                    input.name
                )))
            }
            _ => {
                return Err(structure(format!(
                    "the input `{}` has an unknown dimension at axis {axis}: only the batch axis (0) may be unknown",
                    input.name
                )))
            }
        }
    }
    if shape.is_empty() {
        return Err(structure(format!(
            "the input `{}` has no declared shape",
            input.name
        )));
    }

    // Float tensor outputs, a ZipMap's replaced by the tensor it reads.
    let producer = |name: &str| g.node.iter().find(|n| n.output.iter().any(|o| o == name));
    let mut candidates: Vec<String> = Vec::new();
    for o in &g.output {
        match o.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(Type::TensorType(t)) if t.elem_type == FLOAT => candidates.push(o.name.clone()),
            Some(Type::TensorType(_)) => {}
            _ => {
                if let Some(z) = producer(&o.name).filter(|n| n.op_type == "ZipMap") {
                    candidates.extend(z.input.first().cloned());
                }
            }
        }
    }
    let output = match candidates.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(structure(
                "the model has no float32 tensor output to prove (only labels or maps)".into(),
            ))
        }
        several => {
            let named: Vec<&String> = several
                .iter()
                .filter(|n| {
                    let n = n.to_ascii_lowercase();
                    n.contains("prob") || n.contains("score")
                })
                .collect();
            match named.as_slice() {
                [one] => (*one).clone(),
                _ => {
                    return Err(structure(format!(
                        "the model has several float outputs ({}); models must have one output to prove",
                        several.join(", ")
                    )))
                }
            }
        }
    };
    Ok(Io {
        input: input.name.clone(),
        shape,
        output,
    })
}

/// Keeps only the nodes `output` depends on, and `output` as the graph's
/// only output.
pub fn prune(g: &mut GraphProto, output: &str) {
    let mut needed: BTreeSet<String> = BTreeSet::from([output.to_string()]);
    let mut keep = vec![false; g.node.len()];
    for (i, n) in g.node.iter().enumerate().rev() {
        if n.output.iter().any(|o| needed.contains(o)) {
            keep[i] = true;
            needed.extend(n.input.iter().filter(|s| !s.is_empty()).cloned());
        }
    }
    let mut k = keep.iter();
    g.node.retain(|_| *k.next().expect("one flag per node"));
    let declared = g.output.iter().find(|o| o.name == output).cloned();
    g.output = vec![declared.unwrap_or_else(|| ValueInfoProto {
        name: output.to_string(),
        ..Default::default()
    })];
}

/// The float values of an initializer (`float_data` or little-endian
/// `raw_data`); none for another type.
fn floats(t: &tract_onnx::pb::TensorProto) -> Option<Vec<f32>> {
    if t.data_type != tract_onnx::pb::tensor_proto::DataType::Float as i32 {
        return None;
    }
    if !t.float_data.is_empty() {
        return Some(t.float_data.clone());
    }
    (t.raw_data.len().is_multiple_of(4) && !t.raw_data.is_empty()).then(|| {
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    })
}

/// The unsupported-op error for node `n`.
fn refused(n: &tract_onnx::pb::NodeProto, detail: impl Into<String>) -> Error {
    Error::UnsupportedOp {
        node: n.name.clone(),
        op: n.op_type.clone(),
        detail: detail.into(),
    }
}

fn attribute<'a>(
    n: &'a tract_onnx::pb::NodeProto,
    name: &str,
) -> Option<&'a tract_onnx::pb::AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

/// Post-transforms of a classifier's scores that leave them non-negative
/// and keep their order.
const PROBABILITIES: [&[u8]; 3] = [b"SOFTMAX", b"LOGISTIC", b"SOFTMAX_ZERO"];

/// Rewrites what a model as exported ends or starts with, where the
/// rewrite cannot change what is proved on the gateway's data, and names
/// what cannot be rewritten:
/// * an `ai.onnx.ml` `Imputer` replacing NaN (scikit-learn's
///   `SimpleImputer()` default) is the identity on data without missing
///   values, which the dataset's import guarantees (it refuses non-finite
///   values): it becomes `Identity`. An imputer for another value (a
///   sentinel such as 0) is a select the circuit does not compute: refused;
/// * a final `Normalizer` (L1 or L2) of a classifier's probabilities
///   divides them by one positive number, so the argmax, all that a
///   classifier's aggregates read, is unchanged: the proved output becomes
///   its input. Anywhere else it divides by a value of the data: refused;
/// * a `PRelu` with one slope (PyTorch's `nn.PReLU()` default, a
///   one-element initializer, or one value repeated) is `LeakyRelu` with
///   that slope. A slope per channel is refused;
/// * an `ai.onnx.ml` `SVMRegressor` or two-class `SVMClassifier` with a
///   linear kernel is a linear model, `s = w . x + rho` with `w` the sum of
///   the support vectors weighted by their coefficients: it becomes the
///   `LinearRegressor` or `LinearClassifier` computing it (see `svm`);
/// * a `Cast` to int64 feeding a `OneHotEncoder` (skl2onnx's categorical
///   columns) is read through: the encoder truncates as the cast does;
/// * skl2onnx's binary decision function (`LinearSVC`: a classifier's
///   scores `[-s, s]` and an `ArrayFeatureExtractor` keeping `s`) is proved
///   as the scores, whose argmax is the label.
pub fn rewrite(g: &mut GraphProto, io: &mut Io) -> Result<()> {
    for n in g.node.iter_mut() {
        if n.op_type == "SVMClassifier" || n.op_type == "SVMRegressor" {
            svm(n)?;
        }
    }
    for at in 0..g.node.len() {
        if g.node[at].op_type != "PRelu" {
            continue;
        }
        let slope = g.node[at].input.get(1).cloned().unwrap_or_default();
        let values = g
            .initializer
            .iter()
            .find(|t| t.name == slope)
            .and_then(floats);
        let n = &mut g.node[at];
        let alpha = match values.as_deref() {
            Some([first, rest @ ..]) if rest.iter().all(|v| v == first) => *first,
            Some(_) => return Err(refused(
                n,
                "a slope per channel is not supported (one slope is: PyTorch's nn.PReLU() default)",
            )),
            None => {
                return Err(refused(
                    n,
                    format!("its slope `{slope}` is not a float initializer"),
                ))
            }
        };
        n.op_type = "LeakyRelu".into();
        n.input.truncate(1);
        n.attribute = vec![tract_onnx::pb::AttributeProto {
            name: "alpha".into(),
            r#type: tract_onnx::pb::attribute_proto::AttributeType::Float as i32,
            f: alpha,
            ..Default::default()
        }];
    }
    for n in g.node.iter_mut().filter(|n| n.op_type == "Imputer") {
        let replaced = attribute(n, "replaced_value_float").map_or(0.0, |a| a.f);
        if attribute(n, "replaced_value_int64").is_some() || !replaced.is_nan() {
            return Err(refused(
                n,
                format!(
                    "it replaces the value {replaced}, a select (the imputed value where x equals {replaced}, x elsewhere) that is not supported; impute missing values before importing the data, or export an imputer for NaN (SimpleImputer's default), which is the identity on a dataset, since datasets hold no missing values"
                ),
            ));
        }
        n.op_type = "Identity".into();
        n.domain = String::new();
        n.attribute.clear();
        n.input.truncate(1);
    }
    let producer = |g: &GraphProto, name: &str| {
        g.node
            .iter()
            .position(|n| n.output.iter().any(|o| o == name))
    };
    // skl2onnx casts the columns it one-hot encodes to int64: the encoder
    // here reads the floats and truncates as that cast does (`onehot`).
    let mut recast = false;
    for at in 0..g.node.len() {
        if g.node[at].op_type != "OneHotEncoder" {
            continue;
        }
        let Some(p) = g.node[at].input.first().and_then(|i| producer(g, i)) else {
            continue;
        };
        let cast = &g.node[p];
        if cast.op_type == "Cast" && attribute(cast, "to").is_some_and(|a| a.i == INT64) {
            let from = cast.input.first().cloned().unwrap_or_default();
            g.node[at].input[0] = from;
            recast = true;
        }
    }
    if recast {
        prune(g, &io.output);
    }
    if let Some(at) = producer(g, &io.output) {
        let n = &g.node[at];
        if n.op_type == "Normalizer" {
            let norm = attribute(n, "norm")
                .map(|a| a.s.clone())
                .unwrap_or_default();
            let Some(input) = n.input.first().cloned() else {
                return Err(refused(n, "it has no input"));
            };
            // What it normalizes, through any casts.
            let mut from = producer(g, &input);
            while let Some(p) = from.filter(|p| g.node[*p].op_type == "Cast") {
                from = g.node[p].input.first().and_then(|i| producer(g, i));
            }
            let probabilities = from.is_some_and(|p| {
                let m = &g.node[p];
                matches!(m.op_type.as_str(), "Softmax" | "Sigmoid")
                    || (matches!(m.op_type.as_str(), "LinearClassifier" | "SVMClassifier")
                        && attribute(m, "post_transform")
                            .is_some_and(|a| PROBABILITIES.contains(&a.s.as_slice())))
            });
            if !(probabilities && (norm == b"L1" || norm == b"L2")) {
                return Err(refused(
                    n,
                    "a Normalizer is supported only as a classifier's last op, L1 or L2 over its probabilities (it does not change the predicted class); elsewhere it divides by a value of the data",
                ));
            }
            io.output = input;
            prune(g, &io.output);
        }
    }
    if let Some(at) = producer(g, &io.output) {
        let n = &g.node[at];
        let scores = n.input.first().and_then(|i| producer(g, i)).filter(|p| {
            let m = &g.node[*p];
            m.op_type == "LinearClassifier" && m.output.get(1) == n.input.first()
        });
        if n.op_type == "ArrayFeatureExtractor" && scores.is_some() {
            io.output = n.input[0].clone();
            prune(g, &io.output);
        }
    }
    if let Some(n) = g.node.iter().find(|n| n.op_type == "Normalizer") {
        return Err(refused(
            n,
            "a Normalizer is supported only as a classifier's last op (it divides by a value of the data)",
        ));
    }
    Ok(())
}

/// A linear-kernel `SVMRegressor` or two-class `SVMClassifier` rewritten
/// in place into the linear model it computes: `s = w . x + rho`, `w =
/// sum_j coefficients[j] support_vectors[j]` (in `f64`, stored as `f32`).
/// onnxruntime's two-class classifier predicts its first class where `s >
/// 0` (its scores are `[-s, s]`): the `LinearClassifier` scores `[s, -s]`,
/// whose argmax is that label. Other kernels, several classes, Platt
/// probabilities and post-transforms are refused by node and op.
fn svm(n: &mut tract_onnx::pb::NodeProto) -> Result<()> {
    use tract_onnx::pb::attribute_proto::AttributeType;
    use tract_onnx::pb::AttributeProto;
    let floats = |n: &tract_onnx::pb::NodeProto, name: &str| {
        attribute(n, name)
            .map(|a| a.floats.clone())
            .unwrap_or_default()
    };
    let kernel = attribute(n, "kernel_type")
        .map(|a| a.s.clone())
        .unwrap_or_default();
    if kernel != b"LINEAR" {
        return Err(refused(
            n,
            format!(
                "only a linear kernel is supported, not {} (a kernel of the data is not a linear map; train a LinearSVC or an SVC(kernel='linear'))",
                String::from_utf8_lossy(&kernel)
            ),
        ));
    }
    let post = attribute(n, "post_transform")
        .map(|a| a.s.clone())
        .unwrap_or_default();
    if !(post.is_empty() || post == b"NONE") || !floats(n, "prob_a").is_empty() {
        return Err(refused(
            n,
            "only raw decision values are supported (export without probability=True and without a post-transform)",
        ));
    }
    let coefficients = floats(n, "coefficients");
    let vectors = floats(n, "support_vectors");
    let rho = floats(n, "rho");
    let regressor = n.op_type == "SVMRegressor";
    let classes = if regressor {
        1
    } else {
        attribute(n, "classlabels_ints")
            .map(|a| a.ints.len())
            .or_else(|| attribute(n, "classlabels_strings").map(|a| a.strings.len()))
            .unwrap_or(0)
    };
    let supports = coefficients.len();
    if !regressor && classes != 2 {
        return Err(refused(
            n,
            format!("only two classes are supported, not {classes} (one-against-one votes are not a linear map; a LinearSVC is, and exports as a LinearClassifier)"),
        ));
    }
    if supports == 0 || vectors.len() % supports != 0 || rho.len() != 1 {
        return Err(refused(
            n,
            format!(
                "{} coefficients, {} support-vector values and {} rho do not make one linear model",
                supports,
                vectors.len(),
                rho.len()
            ),
        ));
    }
    let features = vectors.len() / supports;
    let mut w = vec![0f64; features];
    for (c, v) in coefficients.iter().zip(vectors.chunks_exact(features)) {
        for (wi, vi) in w.iter_mut().zip(v) {
            *wi += f64::from(*c) * f64::from(*vi);
        }
    }
    let w: Vec<f32> = w.into_iter().map(|v| v as f32).collect();
    let floats_attr = |name: &str, floats: Vec<f32>| AttributeProto {
        name: name.into(),
        r#type: AttributeType::Floats as i32,
        floats,
        ..Default::default()
    };
    let keep: Vec<AttributeProto> = n
        .attribute
        .iter()
        .filter(|a| a.name.starts_with("classlabels_"))
        .cloned()
        .collect();
    let negated: Vec<f32> = w.iter().map(|v| -v).collect();
    n.attribute = keep;
    if regressor {
        n.op_type = "LinearRegressor".into();
        n.attribute.push(floats_attr("coefficients", w));
        n.attribute.push(floats_attr("intercepts", rho));
    } else {
        n.op_type = "LinearClassifier".into();
        n.attribute
            .push(floats_attr("coefficients", [w, negated].concat()));
        n.attribute
            .push(floats_attr("intercepts", vec![rho[0], -rho[0]]));
    }
    Ok(())
}

/// Export options that avoid an op the importer does not translate.
const HINTS: [(&str, &str); 2] = [
    ("ZipMap", "convert with options={'zipmap': False}"),
    (
        "LabelEncoder",
        "encode the column's categories as integers in the data instead",
    ),
];

/// Refuses, naming the node and the op, any op the ONNX importer has no
/// translation for (tract's own message names neither).
pub fn known(g: &GraphProto, ops: &tract_onnx::model::OnnxOpRegister) -> Result<()> {
    for (i, n) in g.node.iter().enumerate() {
        if !ops.0.contains_key(&n.op_type) {
            let hint = HINTS
                .iter()
                .find(|(op, _)| *op == n.op_type)
                .map(|(_, h)| format!("; {h}"))
                .unwrap_or_default();
            let mut n = n.clone();
            if n.name.is_empty() {
                n.name = format!("#{i}");
            }
            return Err(refused(
                &n,
                format!("the ONNX importer has no translation for this op{hint}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::pb::tensor_shape_proto::Dimension;
    use tract_onnx::pb::type_proto::Tensor as TensorType;
    use tract_onnx::pb::{NodeProto, TensorShapeProto, TypeProto};

    fn value(name: &str, elem_type: i32, dims: Vec<Option<Dim>>) -> ValueInfoProto {
        ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                value: Some(Type::TensorType(TensorType {
                    elem_type,
                    shape: Some(TensorShapeProto {
                        dim: dims
                            .into_iter()
                            .map(|value| Dimension {
                                value,
                                ..Default::default()
                            })
                            .collect(),
                    }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn graph(input: Vec<Option<Dim>>, outputs: Vec<ValueInfoProto>) -> GraphProto {
        GraphProto {
            input: vec![value("X", FLOAT, input)],
            output: outputs,
            node: vec![NodeProto {
                op_type: "Identity".into(),
                input: vec!["X".into()],
                output: vec!["probabilities".into()],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_symbolic_batch_axis_is_one_row_and_other_symbolic_axes_are_named() {
        let probs = || value("probabilities", FLOAT, vec![]);
        let label = || value("label", 7, vec![]);
        for batch in [
            None,
            Some(Dim::DimParam("N".into())),
            Some(Dim::DimValue(0)),
        ] {
            let g = graph(vec![batch, Some(Dim::DimValue(30))], vec![label(), probs()]);
            let io = choose(&g).unwrap();
            assert_eq!(io.shape, [1, 30]);
            assert_eq!(io.output, "probabilities");
        }
        let g = graph(
            vec![None, Some(Dim::DimParam("features".into()))],
            vec![probs()],
        );
        let e = choose(&g).unwrap_err().to_string();
        assert!(e.contains("`features` at axis 1"), "{e}");
    }

    #[test]
    fn the_float_output_is_chosen_and_ambiguity_is_an_error() {
        let x = || vec![None, Some(Dim::DimValue(4))];
        // Two float outputs: the one named like probabilities wins.
        let g = graph(
            x(),
            vec![
                value("logits", FLOAT, vec![]),
                value("probabilities", FLOAT, vec![]),
            ],
        );
        assert_eq!(choose(&g).unwrap().output, "probabilities");
        let g = graph(
            x(),
            vec![value("a", FLOAT, vec![]), value("b", FLOAT, vec![])],
        );
        let e = choose(&g).unwrap_err().to_string();
        assert!(e.contains("several float outputs (a, b)"), "{e}");
        let g = graph(x(), vec![value("label", 7, vec![])]);
        assert!(choose(&g).unwrap_err().to_string().contains("no float32"));
        // A ZipMap's dictionaries: the tensor it reads is proved.
        let mut g = graph(
            x(),
            vec![ValueInfoProto {
                name: "output_probability".into(),
                ..Default::default()
            }],
        );
        g.node.push(NodeProto {
            op_type: "ZipMap".into(),
            input: vec!["probabilities".into()],
            output: vec!["output_probability".into()],
            ..Default::default()
        });
        assert_eq!(choose(&g).unwrap().output, "probabilities");
        prune(&mut g, "probabilities");
        assert_eq!(g.node.len(), 1, "the ZipMap is dropped");
        assert_eq!(g.output[0].name, "probabilities");
    }
}
