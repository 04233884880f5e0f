//! Compiling a job: model + dataset + request -> the circuit spec.

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::ir::Model;
use crate::quantize::{bitlen, Plan, QuantConfig};
use crate::statement::{error_term, Aggregate, AggregateParams, CircuitSpec, VERSION};
use serde::{Deserialize, Serialize};

/// What a researcher asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRequest {
    /// The aggregate to compute.
    pub aggregate: Aggregate,
    /// Columns feeding the model, in its input order; by default every
    /// column except the label, in file order.
    pub input_columns: Option<Vec<String>>,
    /// Quantization settings.
    #[serde(default)]
    pub quant: QuantConfig,
}

/// A list of names, cut after a few.
fn abbreviate<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    let n = names.len();
    let shown: Vec<&str> = names.take(6).collect();
    if n > shown.len() {
        format!("{}, ... {} more", shown.join(", "), n - shown.len())
    } else {
        shown.join(", ")
    }
}

/// Quantizes the model for this dataset and fixes the circuit.
pub fn compile(
    model: &Model,
    onnx_sha256: &str,
    dataset: &Dataset,
    request: &JobRequest,
) -> Result<CircuitSpec> {
    let label_column = request
        .aggregate
        .label()
        .map(|l| dataset.column(l))
        .transpose()?;
    let input_columns: Vec<usize> = match &request.input_columns {
        Some(names) => names
            .iter()
            .map(|c| dataset.column(c))
            .collect::<Result<_>>()?,
        None => (0..dataset.columns.len())
            .filter(|j| Some(*j) != label_column)
            .collect(),
    };
    if input_columns.len() != model.inputs {
        return Err(Error::Job(format!(
            "the model takes {} inputs but {} columns were selected ({})",
            model.inputs,
            input_columns.len(),
            abbreviate(input_columns.iter().map(|j| dataset.columns[*j].as_str()))
        )));
    }
    if let Some(l) = label_column {
        if input_columns.contains(&l) {
            return Err(Error::Job(format!(
                "the label column `{}` cannot also feed the model",
                dataset.columns[l]
            )));
        }
    }
    let n = dataset.rows();
    let rows: Vec<Vec<i64>> = (0..n)
        .map(|r| {
            input_columns
                .iter()
                .map(|j| dataset.values[*j][r])
                .collect()
        })
        .collect();
    let scales: Vec<i32> = input_columns.iter().map(|j| dataset.scales[*j]).collect();
    let plan = Plan::calibrate(model, &scales, &rows, request.quant)?;
    let outputs = plan.outputs();
    let margin = request.quant.margin_bits as usize;

    let mut params = AggregateParams {
        classes: outputs,
        threshold_q: 0,
        bits: 0,
        error_scale: plan.output_scale,
        output_shift: 0,
        label_shift: 0,
        suppress_below: 0,
    };
    let agg = &request.aggregate;
    if agg.needs_classes() && outputs < 2 {
        return Err(Error::Job(format!(
            "`{}` needs a classifier with at least 2 outputs; this model has {outputs}",
            agg.name()
        )));
    }
    if matches!(
        agg,
        Aggregate::CountAtLeast { .. } | Aggregate::Mse { .. } | Aggregate::Mae { .. }
    ) && outputs != 1
    {
        return Err(Error::Job(format!(
            "`{}` needs a model with one output; this one has {outputs}",
            agg.name()
        )));
    }
    if let (true, Some(l)) = (agg.needs_classes(), label_column) {
        if dataset.scales[l] != 0 {
            return Err(Error::Job(format!(
                "the label column `{}` must hold integer class ids",
                dataset.columns[l]
            )));
        }
    }
    let y: Vec<i128> = if outputs == 1 {
        rows.iter()
            .map(|r| plan.run(r).map(|o| o[0]))
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };
    match agg {
        Aggregate::CountAtLeast { threshold } => {
            let t = (threshold * 2f64.powi(plan.output_scale)).ceil();
            if !t.is_finite() || t.abs() > 2f64.powi(100) {
                return Err(Error::Overflow(format!(
                    "threshold {threshold} does not fit the output scale"
                )));
            }
            params.threshold_q = t as i128;
            let worst = y
                .iter()
                .map(|v| (v - params.threshold_q).abs())
                .max()
                .unwrap_or(0);
            params.bits = bitlen(worst) + margin;
        }
        Aggregate::Mse { .. } | Aggregate::Mae { .. } => {
            let l = label_column.expect("error aggregates read a label");
            let common = plan.output_scale.max(dataset.scales[l]);
            params.error_scale = common;
            params.output_shift = (common - plan.output_scale) as u32;
            params.label_shift = (common - dataset.scales[l]) as u32;
            let header_spec = CircuitSpec {
                version: VERSION,
                rows: n as u64,
                shard_rows: n as u64,
                columns: dataset.columns.clone(),
                column_scales: dataset.scales.clone(),
                value_bits: dataset.value_bits,
                input_columns: input_columns.clone(),
                label_column,
                aggregate: agg.clone(),
                params: params.clone(),
                plan: plan.clone(),
                onnx_sha256: onnx_sha256.to_string(),
            };
            let worst = (0..n)
                .map(|r| error_term(&header_spec, y[r], i128::from(dataset.values[l][r])).abs())
                .max()
                .unwrap_or(0);
            params.bits = bitlen(worst) + 1 + margin;
        }
        _ => {}
    }
    Ok(CircuitSpec {
        version: VERSION,
        rows: n as u64,
        shard_rows: n as u64,
        columns: dataset.columns.clone(),
        column_scales: dataset.scales.clone(),
        value_bits: dataset.value_bits,
        input_columns,
        label_column,
        aggregate: agg.clone(),
        params,
        plan,
        onnx_sha256: onnx_sha256.to_string(),
    })
}
