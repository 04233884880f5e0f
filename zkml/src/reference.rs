//! The float reference: tract's run of the original model, compared with
//! the quantized results that are proved.

use crate::dataset::Dataset;
use crate::error::Result;
use crate::import::Imported;
use crate::spec::{argmax, CircuitSpec, Evaluation};
pub use zkgate_statement::receipt::Agreement;

/// Runs tract on every row (dequantized stored values, the data the
/// gateway holds) and compares with the quantized evaluation.
pub fn agreement(
    imported: &Imported,
    dataset: &Dataset,
    spec: &CircuitSpec,
    eval: &Evaluation,
) -> Result<Agreement> {
    let n = dataset.rows();
    let scale = 2f64.powi(spec.plan().output_scale);
    let mut same = 0usize;
    let (mut max_err, mut sum_err) = (0f64, 0f64);
    for r in 0..n {
        let x: Vec<f32> = spec
            .input_columns
            .iter()
            .map(|j| dataset.dequantize(*j, r) as f32)
            .collect();
        let f = imported.run_float(&x)?;
        let q = &eval.outputs[r];
        if spec.plan().classifier || spec.aggregate.needs_classes() {
            let fc = f
                .iter()
                .enumerate()
                .fold(0, |best, (i, v)| if *v > f[best] { i } else { best });
            if fc == argmax(q) {
                same += 1;
            }
        } else {
            for (fv, qv) in f.iter().zip(q) {
                let e = (f64::from(*fv) - *qv as f64 / scale).abs();
                max_err = max_err.max(e);
                sum_err += e;
            }
        }
    }
    let classes = spec.plan().classifier || spec.aggregate.needs_classes();
    Ok(Agreement {
        rows: n,
        same_class: classes.then_some(same),
        class_agreement: classes.then(|| same as f64 / n as f64),
        max_abs_error: (!classes).then_some(max_err),
        mean_abs_error: (!classes).then(|| sum_err / (n * spec.plan().outputs()) as f64),
    })
}
