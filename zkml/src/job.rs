//! Compiling a job: model + dataset + request -> the circuit spec.

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::ir::Model;
use crate::quantize::{Plan, QuantConfig};
use crate::spec::CircuitSpec;
use serde::{Deserialize, Serialize};
use zkgate_statement::aggregate::{Aggregate, AggregateParams, Calibration};
use zkgate_statement::columns::Columns;
use zkgate_statement::{SpecHeader, VERSION};

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

/// Quantizes the model for this dataset and fixes the circuit (one full
/// shard of every row; see [`CircuitSpec::with_shard_rows`]).
pub fn compile(
    model: &Model,
    onnx_sha256: &str,
    dataset: &Dataset,
    request: &JobRequest,
) -> Result<CircuitSpec> {
    let agg = &request.aggregate;
    let Columns {
        inputs: input_columns,
        label: label_column,
    } = Columns::resolve(
        &dataset.columns,
        request.input_columns.as_deref(),
        agg.label(),
    )?;
    if input_columns.len() != model.inputs {
        return Err(Error::Job(format!(
            "the model takes {} inputs but {} columns were selected ({})",
            model.inputs,
            input_columns.len(),
            abbreviate(input_columns.iter().map(|j| dataset.columns[*j].as_str()))
        )));
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
    agg.check(
        outputs,
        label_column.map(|l| (dataset.columns[l].as_str(), dataset.scales[l])),
    )?;

    let y: Vec<i128> = if outputs == 1 {
        rows.iter()
            .map(|r| plan.run(r).map(|o| o[0]))
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };
    let mut params = AggregateParams::new(outputs, plan.output_scale);
    agg.calibrate(
        &Calibration {
            output_scale: plan.output_scale,
            label_scale: label_column.map(|l| dataset.scales[l]),
            outputs: &y,
            labels: label_column.map(|l| dataset.values[l].as_slice()),
            margin_bits: request.quant.margin_bits as usize,
        },
        &mut params,
    )?;
    let header = SpecHeader {
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
        // Set from the plan by `CircuitSpec::new`.
        output_scale: 0,
        outputs: 0,
        onnx_sha256: onnx_sha256.to_string(),
        plan_sha256: String::new(),
    };
    Ok(CircuitSpec::new(header, plan))
}
