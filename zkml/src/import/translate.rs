//! The typed graph walked in evaluation order into [`crate::ir`]: each
//! node's kind recognised by its tract type, affine runs composed into one
//! map of the latest non-linear op's output.

use super::*;

/// A value of the graph while it is walked: a constant, or an affine map
/// of the latest boundary (the input, or the output of the latest
/// non-linear op): affine ops compose into the map, so several values of
/// one boundary (a binary classifier's `[1 - p, p]`) can be combined by
/// linear ops with several inputs (`Concat`, `Add`, `Sub`).
pub(super) enum Val {
    Const(Arc<Tensor>),
    Wire {
        boundary: usize,
        map: Affine,
        shape: Vec<usize>,
    },
}

pub(super) fn unsupported(node: &TypedNode, detail: impl Into<String>) -> Error {
    Error::UnsupportedOp {
        node: node.name.clone(),
        op: node.op.name().to_string(),
        detail: detail.into(),
    }
}

pub(super) fn tract_err(node: &TypedNode, e: TractError) -> Error {
    unsupported(node, format!("evaluation failed: {e:#}"))
}

/// An op's non-linearity, if the importer knows it.
pub(super) enum Kind {
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

pub(super) fn kind(node: &TypedNode, consts: &[Option<Arc<Tensor>>], wires: usize) -> Result<Kind> {
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

pub(super) fn translate(m: &TypedModel) -> Result<Model> {
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
pub(super) fn binarizer_trees(node: &TypedNode, map: &Affine, threshold: f32) -> Result<Ensemble> {
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
pub(super) fn category_tree(feature: u32, cat: i64, o: u32) -> Vec<TreeNode> {
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
pub(super) fn commit(ops: &mut Vec<Op>, map: &Affine) {
    if !map.is_identity() {
        push(ops, Op::Affine(map.clone()));
    }
}

/// Appends an op, merging consecutive affine maps and moving a ReLU that
/// follows a max pool in front of it (they commute exactly).
pub(super) fn push(ops: &mut Vec<Op>, op: Op) {
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
pub(super) fn clamp_of(op: &Op) -> Option<(Option<f32>, Option<f32>)> {
    match op {
        Op::Relu => Some((Some(0.0), None)),
        Op::Activation(Curve::Clamp { lo, hi }) => Some((*lo, *hi)),
        _ => None,
    }
}
