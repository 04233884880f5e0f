//! Compiling a job: model + dataset + request -> the circuit spec.

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::ir::Model;
use crate::quantize::{Family, InputRange, Plan, QuantConfig};
use crate::spec::CircuitSpec;
use serde::{Deserialize, Serialize};
use zkgate_statement::aggregate::{Aggregate, AggregateParams, Bounds, Noise};
use zkgate_statement::columns::Columns;
use zkgate_statement::schema::Schema;
use zkgate_statement::{ShardPlan, SpecHeader, VERSION};

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
    /// The privacy loss to release the values with: discrete Laplace
    /// noise added in the circuit (none: exact values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
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

/// Quantizes the model for this dataset's declared schema and fixes the
/// circuit (one full shard of every row; see
/// [`CircuitSpec::with_shard_rows`]). The rows are not read: see
/// [`compile_public`].
pub fn compile(
    model: &Model,
    onnx_sha256: &str,
    dataset: &Dataset,
    request: &JobRequest,
) -> Result<CircuitSpec> {
    compile_public(
        model,
        onnx_sha256,
        &dataset.schema,
        dataset.rows() as u64,
        request,
    )
}

/// The declared bounds of the columns `input_columns` of `schema`, in that
/// order: what the quantizer takes every width from.
pub fn input_ranges(schema: &Schema, input_columns: &[usize]) -> Vec<InputRange> {
    input_columns
        .iter()
        .map(|j| {
            let c = &schema.columns[*j];
            let (lo, hi) = c.range();
            InputRange {
                scale: c.scale(),
                lo,
                hi,
            }
        })
        .collect()
}

/// The model-family bounds `model` fits over `spec`'s declared inputs
/// (its circuit with constant weights), with `headroom` bits more on each
/// (see `quantize::fit_family`; `zkgate inspect` suggests 1).
pub fn fit_family(model: &Model, spec: &CircuitSpec, headroom: i32) -> Result<Family> {
    crate::quantize::fit_family(
        model,
        &input_ranges(&spec.schema, &spec.input_columns),
        spec.plan().config,
        headroom,
    )
}

/// The model-family circuit of a job over `rows` rows whose circuit with
/// constant weights is `constant`: the bounds `model` fits with
/// `headroom` bits ([`fit_family`]), and the circuit compiled with them.
pub fn family_circuit(
    model: &Model,
    onnx_sha256: &str,
    constant: &CircuitSpec,
    request: &JobRequest,
    rows: u64,
    headroom: i32,
) -> Result<(Family, CircuitSpec)> {
    let f = fit_family(model, constant, headroom)?;
    let request = JobRequest {
        quant: QuantConfig {
            family: Some(f),
            ..request.quant
        },
        ..request.clone()
    };
    let spec = compile_public(model, onnx_sha256, &constant.schema, rows, &request)?;
    Ok((f, spec))
}

/// The circuit of a job from public facts alone: the model, the dataset's
/// declared schema and its row count (one shard holding every row, at the
/// shard ladder's size; see `ShardPlan`). The
/// gateway, the researcher and any verifier holding the same facts build the
/// same spec, whatever the rows hold.
pub fn compile_public(
    model: &Model,
    onnx_sha256: &str,
    schema: &Schema,
    rows: u64,
    request: &JobRequest,
) -> Result<CircuitSpec> {
    let agg = &request.aggregate;
    let names = schema.names();
    let Columns {
        inputs: input_columns,
        label: label_column,
    } = Columns::resolve(&names, request.input_columns.as_deref(), agg.label())?;
    if input_columns.len() != model.inputs {
        return Err(Error::Job(format!(
            "the model takes {} inputs but {} columns were selected ({})",
            model.inputs,
            input_columns.len(),
            abbreviate(input_columns.iter().map(|j| names[*j].as_str()))
        )));
    }
    let inputs = input_ranges(schema, &input_columns);
    let plan = Plan::bound(model, &inputs, request.quant)?;
    let outputs = plan.outputs();
    let label = label_column.map(|l| &schema.columns[l]);
    // A final softmax, sigmoid or tanh is proved only through the argmax it
    // cannot change: the values it would output are never computed.
    if plan.classifier && !agg.needs_classes() {
        return Err(Error::Job(format!(
            "`{}` reads the model's output values, but this model ends in a softmax, sigmoid or tanh, which is proved through its argmax only: use class-counts, accuracy or confusion",
            agg.name()
        )));
    }
    agg.check(outputs, label)?;
    let mut params = AggregateParams::new(outputs, plan.output_scale);
    let bounds = Bounds {
        output_scale: plan.output_scale,
        output_range: plan.output_range,
        label,
        margin_bits: request.quant.margin_bits as usize,
    };
    agg.fix_constants(&bounds, &mut params)?;
    if let Some(epsilon) = request.epsilon {
        params.noise = Some(Noise::new(epsilon, agg.sensitivity(&bounds, &params))?);
    }
    let shard_rows = ShardPlan::new(zkgate_statement::header::shape_of(schema, rows), None).size();
    let header = SpecHeader {
        version: VERSION,
        shard_rows,
        schema: schema.clone(),
        quant: request.quant,
        input_columns,
        label_column,
        aggregate: agg.clone(),
        params,
        // Set from the plan by `CircuitSpec::new`.
        output_scale: 0,
        outputs: 0,
        onnx_sha256: onnx_sha256.to_string(),
        plan_sha256: String::new(),
        weights: None,
    };
    Ok(CircuitSpec::new(header, plan))
}

/// The circuit `header` describes, rebuilt from the model and the header's
/// own declared schema, rows and request: the plan is rebuilt from the
/// ONNX file and the public schema and compared by hash, then every other
/// field; the owner's shard size and suppression threshold are taken as
/// the header states them. `Err` says why `header` is not this model's
/// circuit.
pub fn rebuild(
    model: &Model,
    onnx_sha256: &str,
    header: &SpecHeader,
) -> std::result::Result<CircuitSpec, String> {
    if header.onnx_sha256 != onnx_sha256 {
        return Err(format!(
            "the receipt is for another model: its circuit names ONNX sha256 {}, this model's is {onnx_sha256}",
            header.onnx_sha256
        ));
    }
    let names = header.schema.names();
    let request = JobRequest {
        aggregate: header.aggregate.clone(),
        input_columns: Some(
            header
                .input_columns
                .iter()
                .filter_map(|i| names.get(*i).cloned())
                .collect(),
        ),
        quant: header.quant,
        epsilon: header.params.noise.as_ref().map(|n| n.epsilon),
    };
    let spec = match compile_public(
        model,
        onnx_sha256,
        &header.schema,
        header.shard_rows,
        &request,
    ) {
        Ok(s) => s,
        Err(e) => {
            return Err(format!(
                "this model does not compile over the receipt's schema and request: {e}"
            ))
        }
    };
    let spec = spec
        .with_shard_rows(header.shard_rows)
        .with_suppression(header.params.suppress_below);
    let rebuilt = spec.header().clone();
    if rebuilt.plan_sha256 != header.plan_sha256 {
        return Err(
            "the receipt's quantized plan is not this model's over the receipt's schema".into(),
        );
    }
    if rebuilt.weights != header.weights {
        return Err(format!(
            "the receipt's model-family circuit ran other weights than this model's (weights hash {}, this model's {})",
            header.weights.as_deref().unwrap_or("none"),
            rebuilt.weights.as_deref().unwrap_or("none")
        ));
    }
    if &rebuilt != header {
        let (a, b) = (
            serde_json::to_value(&rebuilt).expect("headers serialize"),
            serde_json::to_value(header).expect("headers serialize"),
        );
        let field = a
            .as_object()
            .zip(b.as_object())
            .and_then(|(a, b)| {
                a.iter()
                    .find(|(k, v)| b.get(*k) != Some(v))
                    .map(|(k, _)| k.clone())
            })
            .unwrap_or_default();
        return Err(format!(
            "the receipt's circuit differs from this model's in `{field}`"
        ));
    }
    Ok(spec)
}
