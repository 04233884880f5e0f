//! Reading an op's linear map and windows by evaluating it with tract
//! on scaled basis vectors, so the IR agrees with tract's own semantics
//! for every layout and attribute.

use super::*;

/// The one value of a constant every element of which is equal.
pub(super) fn scalar(t: &Tensor) -> Option<f32> {
    let v = t.to_plain_array_view::<f32>().ok()?;
    let first = *v.iter().next()?;
    (first.is_finite() && v.iter().all(|x| *x == first)).then_some(first)
}

pub(super) fn is_zero(t: &Tensor) -> bool {
    t.to_plain_array_view::<f32>()
        .map(|v| v.iter().all(|x| *x == 0.0))
        .unwrap_or(false)
}

/// Evaluates `node` with `x` as its data input `wire`, its constants, and
/// zeros of `shapes[i]` as any other data input `i`.
pub(super) fn eval_with(
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

pub(super) fn basis(shape: &[usize], i: Option<usize>, fill: f32, at: f32) -> Result<Tensor> {
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
pub(super) fn probe_affine(
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
pub(super) fn probe_windows(
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
