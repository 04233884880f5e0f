//! One local job end to end: compile, count, evaluate, compare with float,
//! set up (or reuse keys), prove, self-verify, and write the receipt.

use crate::circuit::{self, Witness};
use crate::dataset::{Dataset, Secret};
use crate::error::{Error, Result};
use crate::import::Imported;
use crate::job::{compile, JobRequest};
use crate::prove::{self, ProvingKey, VerifyingKey};
use crate::receipt::{fr_to_hex, Receipt, SETUP_BY_GATEWAY};
use crate::reference;
use crate::statement::{evaluate, suppress, CircuitSpec, Evaluation, Statement, VERSION};
use rand::{CryptoRng, RngCore};
use std::collections::BTreeMap;
use std::time::Instant;
use zkgate_circuits::Fr;

/// The steps of a job, reported to a progress callback as they start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Quantizing the model and fixing the circuit.
    Compile,
    /// Running the quantized and float models over every row.
    Evaluate,
    /// Generating the Groth16 keys.
    Setup,
    /// Proving.
    Prove,
    /// Checking the proof.
    Verify,
}

impl Step {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Step::Compile => "compile",
            Step::Evaluate => "evaluate",
            Step::Setup => "setup",
            Step::Prove => "prove",
            Step::Verify => "verify",
        }
    }
}

/// The inputs of a local job.
pub struct LocalJob<'a> {
    /// The model.
    pub model: &'a Imported,
    /// The dataset.
    pub dataset: &'a Dataset,
    /// The dataset's secret salt.
    pub secret: &'a Secret,
    /// What to compute.
    pub request: &'a JobRequest,
    /// The job binding.
    pub nonce: Fr,
    /// Refuse circuits larger than this.
    pub max_constraints: Option<usize>,
    /// Called once the circuit is compiled and the outputs evaluated, before
    /// any key or proof is made: the data owner's admission and release
    /// checks. It returns the cell-suppression threshold (0 for none), or an
    /// error that ends the job.
    pub gate: Option<&'a GateFn<'a>>,
}

/// The gate's signature (see [`LocalJob::gate`]).
pub type GateFn<'a> = dyn Fn(&Gate<'_>) -> Result<u64> + 'a;

/// What the gate sees: the compiled circuit and the outputs it would
/// publish, before suppression.
pub struct Gate<'a> {
    /// The circuit spec.
    pub spec: &'a CircuitSpec,
    /// Its constraint count.
    pub constraints: usize,
    /// The evaluated outputs.
    pub evaluation: &'a Evaluation,
}

/// What a job produces.
pub struct Outcome {
    /// The receipt.
    pub receipt: Receipt,
    /// The circuit spec.
    pub spec: CircuitSpec,
    /// The proving key (reusable for jobs with the same spec).
    pub pk: ProvingKey,
    /// The verifying key.
    pub vk: VerifyingKey,
}

/// Runs a job. `keys` are reused when given (they must be for this spec).
pub fn run<R: RngCore + CryptoRng>(
    job: LocalJob<'_>,
    keys: Option<(ProvingKey, VerifyingKey)>,
    rng: &mut R,
    progress: &mut dyn FnMut(Step),
) -> Result<Outcome> {
    let mut timings = BTreeMap::new();
    let timed = |step: Step, progress: &mut dyn FnMut(Step)| {
        progress(step);
        (step, Instant::now())
    };
    let done = |(step, t): (Step, Instant), timings: &mut BTreeMap<String, f64>| {
        timings.insert(format!("{}_s", step.name()), t.elapsed().as_secs_f64());
    };

    let t = timed(Step::Compile, progress);
    let mut spec = compile(
        &job.model.model,
        &job.model.onnx_sha256,
        job.dataset,
        job.request,
    )?;
    let (mut total, mut counts) = circuit::count(&spec)?;
    if let Some(limit) = job.max_constraints {
        if total > limit {
            return Err(Error::Job(format!(
                "the circuit needs {total} constraints, over the limit of {limit}"
            )));
        }
    }
    done(t, &mut timings);

    let t = timed(Step::Evaluate, progress);
    let mut eval = evaluate(&spec, &job.dataset.values)?;
    if let Some(gate) = job.gate {
        let below = gate(&Gate {
            spec: &spec,
            constraints: total,
            evaluation: &eval,
        })?;
        if below > 0 && spec.aggregate.has_cells() {
            spec.params.suppress_below = below;
            eval.aggregates = suppress(&spec, eval.aggregates);
            (total, counts) = circuit::count(&spec)?;
        }
    }
    let agreement = reference::agreement(job.model, job.dataset, &spec, &eval)?;
    let statement = Statement {
        commitment: job.dataset.commitment(job.secret),
        rows: spec.rows,
        nonce: job.nonce,
        circuit_id: spec.id(),
        aggregates: eval.aggregates.clone(),
    };
    done(t, &mut timings);

    let (pk, vk) = match keys {
        Some(k) => k,
        None => {
            let t = timed(Step::Setup, progress);
            let k = prove::setup(&spec, rng)?;
            done(t, &mut timings);
            k
        }
    };

    let t = timed(Step::Prove, progress);
    let witness = Witness {
        columns: &job.dataset.values,
        secret: job.secret,
        statement: &statement,
    };
    let proof = prove::prove(&spec, &pk, witness, rng)?;
    done(t, &mut timings);

    let t = timed(Step::Verify, progress);
    if !prove::verify(&vk, &statement, &proof)? {
        // Name the broken constraint: this is a bug, never a user error.
        prove::check_satisfied(&spec, witness)?;
        return Err(Error::Proof(
            "the proof does not verify although the witness satisfies the circuit".into(),
        ));
    }
    done(t, &mut timings);

    let header = spec.header();
    let mut constraints: BTreeMap<String, usize> = counts
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    constraints.insert("total".into(), total);
    let receipt = Receipt {
        version: VERSION,
        result: header.decode(&statement.aggregates),
        circuit: header,
        commitment: fr_to_hex(statement.commitment),
        nonce: fr_to_hex(statement.nonce),
        values: statement.aggregates.iter().map(i128::to_string).collect(),
        proof: hex::encode(prove::to_bytes(&proof)),
        vk_sha256: prove::vk_sha256(&vk),
        setup: SETUP_BY_GATEWAY.into(),
        agreement: Some(agreement),
        quantization: quantization_report(&spec),
        constraints,
        timings,
    };
    Ok(Outcome {
        receipt,
        spec,
        pk,
        vk,
    })
}

/// The quantization settings and the bit widths the circuit proves.
fn quantization_report(spec: &CircuitSpec) -> serde_json::Value {
    use crate::quantize::Stage;
    let stages: Vec<serde_json::Value> = spec
        .plan
        .stages
        .iter()
        .map(|s| match s {
            Stage::Linear { inputs, rows, .. } => serde_json::json!({ "kind": "linear", "inputs": inputs, "outputs": rows.len() }),
            Stage::Rescale { bits, shift, relu } => serde_json::json!({ "kind": if *relu { "rescale_relu" } else { "rescale" }, "bits": bits, "shift": shift }),
            Stage::MaxPool { windows, bits } => serde_json::json!({ "kind": "maxpool", "outputs": windows.len(), "bits": bits }),
        })
        .collect();
    serde_json::json!({
        "config": spec.plan.config,
        "input_scales": spec.plan.input_scales,
        "output_scale": spec.plan.output_scale,
        "output_bits": spec.plan.output_bits,
        "stages": stages,
    })
}
