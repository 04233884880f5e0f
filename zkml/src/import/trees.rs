//! Tree ensembles (`ai.onnx.ml` `TreeEnsembleClassifier` and
//! `TreeEnsembleRegressor`, what scikit-learn's forests and gradient
//! boosting, XGBoost and LightGBM export to), read off the protobuf: tract
//! runs the classifier but not the regressor, and the attributes are the
//! specification's, so one reader serves both and the model's float
//! reference is the IR's own evaluation.
//!
//! Supported graphs: the input, optionally through `Identity` or a float
//! `Cast`, into one ensemble, whose scores reach the proved output through
//! `Identity` or a multiplication by a constant. Branches `BRANCH_LEQ`,
//! `BRANCH_LT`, `BRANCH_GTE` and `BRANCH_GT` (the last two as the first two
//! with their children swapped); a regressor's `SUM` or `AVERAGE` of the
//! trees plus `base_values`. A classifier's class is the argmax of its
//! scores, which its post-transform (`NONE`, `LOGISTIC`, `SOFTMAX`) never
//! changes, so the transform is not evaluated; binary classifiers that give
//! one score `s` for the second class (the layout every exporter uses) get
//! the scores `[1 - s, s]` (`NONE`) or the argmax-equal `[-s, s]`
//! (`LOGISTIC`: `[1 - sigmoid(s), sigmoid(s)] = [sigmoid(-s), sigmoid(s)]`),
//! as tract and onnxruntime order them.

use super::graph::Io;
use crate::error::{Error, Result};
use crate::ir::{Affine, Ensemble, Model, Op, TreeNode};
use std::collections::{BTreeMap, HashMap};
use tract_onnx::pb::{attribute_proto::AttributeType, GraphProto, NodeProto};

const ENSEMBLES: [&str; 2] = ["TreeEnsembleClassifier", "TreeEnsembleRegressor"];

fn unsupported(node: &NodeProto, detail: impl Into<String>) -> Error {
    Error::UnsupportedOp {
        node: node.name.clone(),
        op: node.op_type.clone(),
        detail: detail.into(),
    }
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a tract_onnx::pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn ints(node: &NodeProto, name: &str) -> Vec<i64> {
    attr(node, name).map(|a| a.ints.clone()).unwrap_or_default()
}

fn floats(node: &NodeProto, name: &str) -> Vec<f32> {
    attr(node, name)
        .map(|a| a.floats.clone())
        .unwrap_or_default()
}

fn strings(node: &NodeProto, name: &str) -> Vec<String> {
    attr(node, name)
        .map(|a| {
            a.strings
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn string(node: &NodeProto, name: &str, default: &str) -> String {
    match attr(node, name) {
        Some(a) if a.r#type == AttributeType::String as i32 || !a.s.is_empty() => {
            String::from_utf8_lossy(&a.s).into_owned()
        }
        _ => default.to_string(),
    }
}

/// The model, if the graph's proved output comes from a tree ensemble;
/// `None` when the graph has none.
pub fn translate(g: &GraphProto, io: &Io, limits: &super::ImportLimits) -> Result<Option<Model>> {
    let Some(ens) = g
        .node
        .iter()
        .find(|n| ENSEMBLES.contains(&n.op_type.as_str()))
    else {
        return Ok(None);
    };
    // A forest's parameters are attributes, not initializers: its nodes
    // and leaf weights count against the same limit.
    let stored = ens
        .attribute
        .iter()
        .map(|a| (a.ints.len() + a.floats.len() + a.strings.len()) as u64)
        .sum::<u64>();
    super::over("parameters", stored, limits.max_parameters)?;
    let classifier = ens.op_type == "TreeEnsembleClassifier";
    let producer = |name: &str| g.node.iter().find(|n| n.output.iter().any(|o| o == name));
    let constant = |name: &str| -> Option<f32> {
        let t = g.initializer.iter().find(|t| t.name == name)?;
        match (t.float_data.as_slice(), t.raw_data.len()) {
            ([v], _) => Some(*v),
            ([], 4) => Some(f32::from_le_bytes(t.raw_data[..4].try_into().ok()?)),
            _ => None,
        }
    };
    // From the output back to the ensemble: Identity, or Mul by a constant.
    let mut factor = 1f64;
    let mut at = io.output.clone();
    loop {
        let n =
            producer(&at).ok_or_else(|| unsupported(ens, "its scores do not reach the output"))?;
        if std::ptr::eq(n, ens) {
            let want = if classifier { 1 } else { 0 };
            if n.output.get(want) != Some(&at) {
                return Err(unsupported(
                    ens,
                    "the proved output must be the ensemble's scores",
                ));
            }
            break;
        }
        match n.op_type.as_str() {
            "Identity" => at = n.input[0].clone(),
            "Mul" if n.input.len() == 2 => {
                let (k, x) = match (constant(&n.input[0]), constant(&n.input[1])) {
                    (_, Some(k)) => (k, &n.input[0]),
                    (Some(k), _) => (k, &n.input[1]),
                    _ => {
                        return Err(unsupported(
                            n,
                            "only a multiplication by a constant may follow a tree ensemble",
                        ))
                    }
                };
                factor *= f64::from(k);
                at = x.clone();
            }
            _ => {
                return Err(unsupported(
                    n,
                    "only Identity or a multiplication by a constant may follow a tree ensemble",
                ))
            }
        }
    }
    // From the ensemble back to the input: Identity or a float Cast.
    let mut from = ens.input[0].clone();
    while from != io.input {
        let n =
            producer(&from).ok_or_else(|| unsupported(ens, "it must read the model's input"))?;
        match n.op_type.as_str() {
            "Identity" | "Cast" => from = n.input[0].clone(),
            _ => {
                return Err(unsupported(
                    n,
                    "a tree ensemble must read the model's input directly",
                ))
            }
        }
    }
    let inputs: usize = io.shape.iter().product();
    let parsed = parse(ens, classifier, inputs)?;
    let mut ops = vec![Op::Trees(parsed.ensemble)];
    let mut post = parsed.post;
    if factor != 1.0 {
        post.rows
            .iter_mut()
            .flatten()
            .for_each(|(_, w)| *w *= factor);
        post.bias.iter_mut().for_each(|b| *b *= factor);
    }
    let identity = post.inputs == post.outputs()
        && post.bias.iter().all(|b| *b == 0.0)
        && post
            .rows
            .iter()
            .enumerate()
            .all(|(i, r)| r.as_slice() == [(i as u32, 1.0)]);
    if !identity {
        ops.push(Op::Affine(post));
    }
    if classifier {
        ops.push(Op::Softmax);
    }
    Ok(Some(Model {
        input_shape: io.shape.clone(),
        inputs,
        ops,
        source_ops: g
            .node
            .iter()
            .map(|n| (n.name.clone(), n.op_type.clone()))
            .collect(),
    }))
}

struct Parsed {
    ensemble: Ensemble,
    /// Base values, averaging and the binary layout.
    post: Affine,
}

fn parse(node: &NodeProto, classifier: bool, inputs: usize) -> Result<Parsed> {
    let bad = |m: String| unsupported(node, m);
    let tree_ids = ints(node, "nodes_treeids");
    let node_ids = ints(node, "nodes_nodeids");
    let features = ints(node, "nodes_featureids");
    let values = floats(node, "nodes_values");
    let modes = strings(node, "nodes_modes");
    let yes_ids = ints(node, "nodes_truenodeids");
    let no_ids = ints(node, "nodes_falsenodeids");
    let n = tree_ids.len();
    if [&node_ids, &features, &yes_ids, &no_ids]
        .iter()
        .any(|v| v.len() != n)
        || values.len() != n
        || modes.len() != n
    {
        return Err(bad("its node attributes have different lengths".into()));
    }
    let (prefix, width) = if classifier {
        let labels = ints(node, "classlabels_int64s")
            .len()
            .max(strings(node, "classlabels_strings").len());
        ("class", labels)
    } else {
        let t = attr(node, "n_targets").map_or(1, |a| a.i).max(1) as usize;
        ("target", t)
    };
    let w_tree = ints(node, &format!("{prefix}_treeids"));
    let w_node = ints(node, &format!("{prefix}_nodeids"));
    let w_id = ints(node, &format!("{prefix}_ids"));
    let w_val = floats(node, &format!("{prefix}_weights"));
    if w_node.len() != w_tree.len() || w_id.len() != w_tree.len() || w_val.len() != w_tree.len() {
        return Err(bad(format!(
            "its {prefix} attributes have different lengths"
        )));
    }
    if width == 0 {
        return Err(bad("it names no class or target".into()));
    }
    // Binary classifiers that score only one class (tract's and
    // onnxruntime's rule): one score column.
    let binary = classifier && width < 3 && w_id.iter().all(|c| *c == 0);
    let outputs = if binary { 1 } else { width };
    if let Some(c) = w_id.iter().find(|c| **c < 0 || **c as usize >= outputs) {
        return Err(bad(format!("a leaf names {prefix} {c}, out of range")));
    }
    if let Some(v) = w_val.iter().chain(&values).find(|v| !v.is_finite()) {
        return Err(bad(format!("a threshold or leaf value is {v}")));
    }
    let mut leaf_values: HashMap<(i64, i64), Vec<(u32, f64)>> = HashMap::new();
    for i in 0..w_tree.len() {
        leaf_values
            .entry((w_tree[i], w_node[i]))
            .or_default()
            .push((w_id[i] as u32, f64::from(w_val[i])));
    }
    // Nodes per tree.
    let mut by_tree: BTreeMap<i64, HashMap<i64, usize>> = BTreeMap::new();
    for i in 0..n {
        if by_tree
            .entry(tree_ids[i])
            .or_default()
            .insert(node_ids[i], i)
            .is_some()
        {
            return Err(bad(format!(
                "tree {} has node {} twice",
                tree_ids[i], node_ids[i]
            )));
        }
    }
    let mut trees = Vec::with_capacity(by_tree.len());
    for (tree, index) in &by_tree {
        // The root is the node no branch names as a child.
        let mut children = std::collections::HashSet::new();
        for &i in index.values() {
            if modes[i] != "LEAF" {
                children.insert(yes_ids[i]);
                children.insert(no_ids[i]);
            }
        }
        let roots: Vec<i64> = index
            .keys()
            .filter(|k| !children.contains(k))
            .copied()
            .collect();
        let [root] = roots.as_slice() else {
            return Err(bad(format!("tree {tree} does not have one root")));
        };
        // Renumber breadth first so that children come after parents.
        let mut order = vec![*root];
        let mut place: HashMap<i64, u32> = HashMap::from([(*root, 0)]);
        let mut k = 0;
        while k < order.len() {
            let i = *index
                .get(&order[k])
                .ok_or_else(|| bad(format!("tree {tree} names a node it does not have")))?;
            if modes[i] != "LEAF" {
                for c in [yes_ids[i], no_ids[i]] {
                    if place.contains_key(&c) {
                        return Err(bad(format!("tree {tree} is not a tree")));
                    }
                    place.insert(c, order.len() as u32);
                    order.push(c);
                }
            }
            k += 1;
            if order.len() > index.len() {
                return Err(bad(format!("tree {tree} is not a tree")));
            }
        }
        let mut nodes = Vec::with_capacity(order.len());
        for id in &order {
            let i = index[id];
            let f = features[i];
            let (yes, no) = (place[&yes_ids[i]], place[&no_ids[i]]);
            let threshold = f64::from(values[i]);
            let branch = |strict: bool, swap: bool| -> Result<TreeNode> {
                if f < 0 || f as usize >= inputs {
                    return Err(bad(format!("a branch reads input {f}, out of range")));
                }
                let (yes, no) = if swap { (no, yes) } else { (yes, no) };
                Ok(TreeNode::Branch {
                    feature: f as u32,
                    threshold,
                    strict,
                    yes,
                    no,
                })
            };
            nodes.push(match modes[i].as_str() {
                "LEAF" => TreeNode::Leaf {
                    values: leaf_values.remove(&(*tree, *id)).unwrap_or_default(),
                },
                "BRANCH_LEQ" => branch(false, false)?,
                "BRANCH_LT" => branch(true, false)?,
                // x >= t is not x < t; x > t is not x <= t.
                "BRANCH_GTE" => branch(true, true)?,
                "BRANCH_GT" => branch(false, true)?,
                other => return Err(bad(format!("branch mode {other} is not supported"))),
            });
        }
        trees.push(nodes);
    }
    let tree_count = trees.len().max(1) as f64;
    let base: Vec<f64> = floats(node, "base_values")
        .into_iter()
        .map(f64::from)
        .collect();
    let transform = string(node, "post_transform", "NONE");
    let post = if classifier {
        if binary {
            if base.len() > 1 {
                return Err(bad("a binary classifier with two base values".into()));
            }
            let s0 = base.first().copied().unwrap_or(0.0);
            match transform.as_str() {
                // [1 - s, s]
                "NONE" => Affine {
                    inputs: 1,
                    rows: vec![vec![(0, -1.0)], vec![(0, 1.0)]],
                    bias: vec![1.0 - s0, s0],
                },
                // argmax-equal to [1 - sigmoid(s), sigmoid(s)]
                "LOGISTIC" => Affine {
                    inputs: 1,
                    rows: vec![vec![(0, -1.0)], vec![(0, 1.0)]],
                    bias: vec![-s0, s0],
                },
                other => {
                    return Err(bad(format!(
                        "post_transform {other} on a binary classifier is not supported"
                    )))
                }
            }
        } else {
            if !["NONE", "LOGISTIC", "SOFTMAX"].contains(&transform.as_str()) {
                return Err(bad(format!("post_transform {transform} is not supported")));
            }
            add_base(outputs, 1.0, &base, &bad)?
        }
    } else {
        if transform != "NONE" {
            return Err(bad(format!(
                "post_transform {transform} on a regressor is not supported"
            )));
        }
        let scale = match string(node, "aggregate_function", "SUM").as_str() {
            "SUM" => 1.0,
            "AVERAGE" => 1.0 / tree_count,
            other => return Err(bad(format!("aggregate_function {other} is not supported"))),
        };
        add_base(outputs, scale, &base, &bad)?
    };
    Ok(Parsed {
        ensemble: Ensemble {
            pass: 0,
            inputs,
            outputs,
            trees,
        },
        post,
    })
}

/// `scale * x + base`, per output.
fn add_base(
    outputs: usize,
    scale: f64,
    base: &[f64],
    bad: &dyn Fn(String) -> Error,
) -> Result<Affine> {
    if !base.is_empty() && base.len() != outputs {
        return Err(bad(format!(
            "{} base values for {outputs} outputs",
            base.len()
        )));
    }
    Ok(Affine {
        inputs: outputs,
        rows: (0..outputs).map(|o| vec![(o as u32, scale)]).collect(),
        bias: (0..outputs)
            .map(|o| base.get(o).copied().unwrap_or(0.0))
            .collect(),
    })
}
