//! One local job end to end: compile, count, evaluate, compare with float,
//! set up (or reuse kept keys), prove every shard, self-verify, and write the
//! receipt.
//!
//! Shards are proved one after the other: each proof already uses every
//! core (arkworks' parallel MSMs and FFTs), and one shard at a time bounds
//! memory by the shard size. Shard proofs are independent, so owners with
//! several machines could spread them.

use crate::circuit::{self, Links, Witness};
use crate::dataset::{Dataset, Secret};
use crate::distribute::{ShardProver, ShardTask};
use crate::error::{Error, Result};
use crate::import::Imported;
use crate::job::{compile, JobRequest};
use crate::prove::{self, ProvingKey};
use crate::reference;
use crate::spec::{aggregate_rows, evaluate, CircuitSpec, Evaluation};
use rand::{CryptoRng, RngCore};
use std::collections::BTreeMap;
use std::time::Instant;
use zkgate_circuits::{i128_to_field, shard, Fr};
use zkgate_statement::field::fr_to_hex;
use zkgate_statement::groth16::{self, Proof, VerifyingKey};
use zkgate_statement::receipt::{Receipt, ShardProof, SETUP_BY_GATEWAY};
use zkgate_statement::{ShardPlan, Statement, VERSION};

/// The steps of a job, reported to a progress callback as they start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Quantizing the model and fixing the circuit.
    Compile,
    /// Running the quantized and float models over every row.
    Evaluate,
    /// Generating the Groth16 keys.
    Setup,
    /// Proving shard `shard` (from 0) of `shards`.
    Prove {
        /// The shard, from 0.
        shard: usize,
        /// Shards in the job.
        shards: usize,
    },
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
            Step::Prove { .. } => "prove",
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
    /// Refuse circuits (one shard's) larger than this.
    pub max_constraints: Option<usize>,
    /// Refuse jobs whose estimated peak memory (`cost::memory_bytes`, one
    /// shard's) is larger than this many bytes.
    pub max_memory: Option<u64>,
    /// Rows per proof: a larger dataset is proved in shards of this many
    /// rows (rounded down to whole Poseidon calls of the commitment, see
    /// `zkgate_statement::ShardPlan`), the last taking the remainder. `None`: one proof.
    pub shard_rows: Option<u64>,
    /// Keys kept from earlier jobs, by circuit id.
    pub keys: Option<&'a dyn KeyCache>,
    /// Called once the circuit is compiled and the outputs evaluated, before
    /// any key or proof is made: the data owner's admission and release
    /// checks. It returns the cell-suppression threshold (0 for none), or an
    /// error that ends the job (`Error::Refused` carries the caller's own).
    pub gate: Option<&'a GateFn<'a>>,
    /// Prove with a ceremony key instead of making one: the key of the
    /// plan's circuit (one proves every shard), checked against it first.
    /// Empty: the gateway's own keys.
    pub ceremony: &'a [crate::ceremony::Ceremony<'a>],
    /// Prove the shards elsewhere (the owner's workers); every proof is
    /// still verified here before the receipt is written.
    pub remote: Option<&'a dyn ShardProver>,
}

impl<'a> LocalJob<'a> {
    /// A job with no limit, one proof, no kept keys and no gate; set the
    /// other fields as needed.
    pub fn new(
        model: &'a Imported,
        dataset: &'a Dataset,
        secret: &'a Secret,
        request: &'a JobRequest,
        nonce: Fr,
    ) -> LocalJob<'a> {
        LocalJob {
            model,
            dataset,
            secret,
            request,
            nonce,
            max_constraints: None,
            max_memory: None,
            shard_rows: None,
            keys: None,
            gate: None,
            ceremony: &[],
            remote: None,
        }
    }
}

/// Keys kept across jobs: a job whose circuit id was keyed before (same
/// model, plan, dataset shape, aggregate and shard size) skips setup's
/// work. Getting them is timed as the setup step.
pub trait KeyCache {
    /// The keys of the circuit with this id (hex), if kept. A cache may
    /// take its time (a gateway paces a key another party's job made, so
    /// that the step's length does not tell who asked before).
    fn get(&self, id: &str) -> Option<(ProvingKey, VerifyingKey)>;
    /// Keeps the keys just made for this circuit id.
    fn put(&self, id: &str, pk: &ProvingKey, vk: &VerifyingKey);
}

/// The gate's signature (see [`LocalJob::gate`]).
pub type GateFn<'a> = dyn Fn(&Gate<'_>) -> Result<u64> + 'a;

/// What the gate sees: the compiled circuit and the outputs it would
/// publish, before suppression.
pub struct Gate<'a> {
    /// The circuit spec.
    pub spec: &'a CircuitSpec,
    /// Constraints over all shards.
    pub constraints: usize,
    /// Estimated peak memory of proving, bytes (`cost::memory_bytes`).
    pub memory: u64,
    /// The evaluated outputs.
    pub evaluation: &'a Evaluation,
}

/// What a job produces.
pub struct Outcome {
    /// The receipt.
    pub receipt: Receipt,
    /// The circuit spec (of a full shard).
    pub spec: CircuitSpec,
    /// The key pair of the job's circuit (one proves every shard).
    pub keys: Vec<(ProvingKey, VerifyingKey)>,
}

impl Outcome {
    /// The verifying keys, as `groth16::keys_to_bytes` writes them.
    pub fn vk_bytes(&self) -> Vec<u8> {
        let vks: Vec<VerifyingKey> = self.keys.iter().map(|(_, vk)| vk.clone()).collect();
        groth16::keys_to_bytes(&vks)
    }
}

/// The circuit of a job: one for every shard (the last padded), with its
/// constraint counts.
struct Circuits {
    plan: ShardPlan,
    spec: CircuitSpec,
    counts: (usize, circuit::Counts),
}

impl Circuits {
    fn new(spec: &CircuitSpec, plan: ShardPlan) -> Result<Circuits> {
        let spec = spec.with_shard_rows(plan.size());
        let counts = circuit::count(&spec)?;
        Ok(Circuits { plan, spec, counts })
    }

    /// Constraints over all shards, total and by part.
    fn total(&self) -> (usize, BTreeMap<String, usize>) {
        let shards = self.plan.len();
        let (t, counts) = &self.counts;
        let parts = counts
            .iter()
            .map(|(k, v)| (k.to_string(), v * shards))
            .collect();
        (t * shards, parts)
    }
}

/// Runs a job.
pub fn run<R: RngCore + CryptoRng>(
    job: LocalJob<'_>,
    rng: &mut R,
    progress: &mut dyn FnMut(Step),
) -> Result<Outcome> {
    let mut timings = BTreeMap::new();
    let clock = |step: Step, progress: &mut dyn FnMut(Step)| {
        progress(step);
        (step, Instant::now())
    };
    let done = |(step, t): (Step, Instant), timings: &mut BTreeMap<String, f64>| {
        *timings.entry(format!("{}_s", step.name())).or_default() += t.elapsed().as_secs_f64();
    };

    let t = clock(Step::Compile, progress);
    let mut spec = compile(
        &job.model.model,
        &job.model.onnx_sha256,
        job.dataset,
        job.request,
    )?;
    let n = job.dataset.shape().rows;
    let plan = spec.shard_plan(n, job.shard_rows);
    let size = plan.size();
    // From the spec alone: building a circuit to count it is what a
    // hostile dense model would make too large.
    let estimate = crate::cost::Estimate::of(&spec, n, job.shard_rows);
    if let Some(over) = estimate
        .over(job.max_constraints, job.max_memory)
        .into_iter()
        .next()
    {
        return Err(Error::Job(over));
    }
    let mut circuits = Circuits::new(&spec, plan)?;
    done(t, &mut timings);

    let t = clock(Step::Evaluate, progress);
    let mut eval = evaluate(&spec, &job.dataset.values)?;
    let exact = eval.aggregates.clone();
    if let Some(noise) = &spec.params.noise {
        // The released values carry the noise the circuit draws; the
        // release policy judges them, never the exact ones.
        let seed = zkgate_circuits::noise::seed(job.secret.0, job.nonce);
        let draws = noise.sampler().sample(seed, exact.len());
        eval.aggregates = exact.iter().zip(&draws).map(|(a, d)| a + d).collect();
    }
    if let Some(gate) = job.gate {
        let below = gate(&Gate {
            spec: &spec,
            constraints: circuits.total().0,
            memory: estimate.memory,
            evaluation: &eval,
        })?;
        // Noised values are private already: no cell is suppressed. The
        // threshold is a public input: the circuit stays the same.
        if below > 0 && spec.takes_threshold() {
            spec = spec.with_suppression(below);
            circuits.spec = circuits.spec.with_suppression(below);
        }
    }
    // The job's totals before each cut (exact): what the links between
    // shards carry, hidden.
    let mut totals = vec![vec![0i128; exact.len()]];
    for range in plan.ranges() {
        let shard = if plan.len() == 1 {
            exact.clone()
        } else {
            aggregate_rows(
                &spec,
                &job.dataset.values,
                &eval,
                range.start as usize..range.end as usize,
            )?
        };
        let before = totals.last().expect("the start");
        totals.push(before.iter().zip(&shard).map(|(a, b)| a + b).collect());
    }
    debug_assert_eq!(totals.last(), Some(&exact));
    eval.aggregates = spec.suppress(eval.aggregates);
    let agreement = reference::agreement(job.model, job.dataset, &spec, &eval)?;
    let cuts = job.dataset.cuts(job.secret, size);
    let commitment = zkgate_circuits::commitment::finish(cuts.last().expect("the end cut").h, n);
    let acc: Vec<Vec<Fr>> = totals
        .iter()
        .map(|t| t.iter().map(|v| i128_to_field(*v)).collect())
        .collect();
    let links = shard::links(job.dataset.shape(), job.secret.0, job.nonce, &cuts, &acc);
    done(t, &mut timings);

    let mut keys = Vec::with_capacity(1);
    let mut transcripts = Vec::new();
    if !job.ceremony.is_empty() {
        let t = clock(Step::Setup, progress);
        for (c, _) in
            crate::ceremony::match_keys(job.ceremony, std::slice::from_ref(&circuits.spec))?
        {
            keys.push((c.key.clone(), prove::verifying_key(c.key)));
            transcripts.push(c);
        }
        done(t, &mut timings);
    }
    if keys.is_empty() {
        let s = &circuits.spec;
        // Kept by the key's id: a model-family circuit's key serves every
        // model of its architecture.
        let id = fr_to_hex(s.key_id());
        // Getting kept keys is the setup step too: a cache may pace it (see
        // `KeyCache::get`), and the step is seen either way.
        let t = clock(Step::Setup, progress);
        let k = match job.keys.and_then(|c| c.get(&id)) {
            Some(k) => k,
            None => {
                let k = prove::setup(s, rng)?;
                if let Some(c) = job.keys {
                    c.put(&id, &k.0, &k.1);
                }
                k
            }
        };
        done(t, &mut timings);
        keys.push(k);
    }
    let (spec_s, (pk, vk)) = (&circuits.spec, &keys[0]);

    // Every shard's statement: only the last publishes values (the job's
    // totals).
    let statements: Vec<Statement> = plan
        .ranges()
        .iter()
        .enumerate()
        .map(|(i, range)| Statement {
            commitment,
            rows: n,
            nonce: job.nonce,
            circuit_id: spec_s.id(),
            offset: range.start,
            active: range.end - range.start,
            link_in: links[i],
            link_out: links[i + 1],
            suppress_below: spec_s.threshold_input(i + 1 == plan.len()),
            aggregates: if i + 1 == plan.len() {
                eval.aggregates.clone()
            } else {
                vec![0; eval.aggregates.len()]
            },
        })
        .collect();
    let witness = |i: usize| Witness {
        row_base: 0,
        columns: &job.dataset.values,
        secret: job.secret,
        statement: &statements[i],
        links: Links {
            h_in: cuts[i].h,
            acc_in: &totals[i],
        },
    };
    // Proved elsewhere (ceremony keys stay here: they are the
    // researcher's, proved with their own reduction), or here one after
    // another.
    let proofs: Vec<Proof> = match job.remote.filter(|_| job.ceremony.is_empty()) {
        Some(remote) => {
            let tasks = (0..plan.len())
                .map(|i| {
                    ShardTask::new(
                        i,
                        plan.len(),
                        spec_s,
                        vk,
                        &statements[i],
                        &job.dataset.values,
                        job.secret,
                        witness(i).links,
                    )
                })
                .collect();
            let vks = (0..plan.len()).map(|_| vk.clone()).collect();
            let t = clock(
                Step::Prove {
                    shard: 0,
                    shards: plan.len(),
                },
                progress,
            );
            let shards = plan.len();
            let proofs = remote.prove_all(tasks, vks, &mut |k| {
                progress(Step::Prove {
                    shard: k.min(shards - 1),
                    shards,
                })
            })?;
            done(t, &mut timings);
            proofs
        }
        None => {
            let mut proofs = Vec::with_capacity(plan.len());
            for i in 0..plan.len() {
                let s = spec_s;
                let t = clock(
                    Step::Prove {
                        shard: i,
                        shards: plan.len(),
                    },
                    progress,
                );
                proofs.push(if !job.ceremony.is_empty() {
                    prove::prove_with::<crate::ceremony::OddCosetReduction, _>(
                        s,
                        pk,
                        witness(i),
                        rng,
                    )?
                } else {
                    prove::prove(s, pk, witness(i), rng)?
                });
                done(t, &mut timings);
            }
            proofs
        }
    };

    let t = clock(Step::Verify, progress);
    let mut shards = Vec::with_capacity(plan.len());
    for (i, range) in plan.ranges().iter().enumerate() {
        let s = spec_s;
        if !groth16::verify(vk, &statements[i], &proofs[i])? {
            if job.remote.is_some() {
                return Err(Error::Proof(format!(
                    "the proof of shard {i} from a remote prover does not verify"
                )));
            }
            // Name the broken constraint: this is a bug, never a user error.
            prove::check_satisfied(s, witness(i))?;
            return Err(Error::Proof(format!(
                "the proof of shard {i} does not verify although the witness satisfies the circuit"
            )));
        }
        shards.push(ShardProof::new(
            &statements[i],
            range.end - range.start,
            &proofs[i],
            vk,
        ));
    }
    done(t, &mut timings);

    let full = circuits.spec.clone();
    let header = full.header().clone();
    let (total, mut constraints) = circuits.total();
    constraints.insert("total".into(), total);
    if plan.len() > 1 {
        constraints.insert("per_shard".into(), circuits.counts.0);
    }
    if plan.padding() > 0 {
        constraints.insert("padding_rows".into(), plan.padding() as usize);
    }
    let receipt = Receipt {
        version: VERSION,
        result: header.decode(n, &eval.aggregates),
        circuit: header,
        commitment: fr_to_hex(commitment),
        rows: n,
        nonce: fr_to_hex(job.nonce),
        values: eval.aggregates.iter().map(i128::to_string).collect(),
        shards,
        setup: match transcripts.first() {
            None => SETUP_BY_GATEWAY.into(),
            Some(c) => crate::ceremony::setup_line(c.transcript, c.ptau),
        },
        agreement: Some(agreement),
        quantization: quantization_report(&spec),
        constraints,
        timings,
        proof_system: Default::default(),
        ezkl: None,
    };
    Ok(Outcome {
        receipt,
        spec: full,
        keys,
    })
}

/// The quantization settings and the bit widths the circuit proves.
fn quantization_report(spec: &CircuitSpec) -> serde_json::Value {
    use crate::quantize::Stage;
    let plan = spec.plan();
    let stages: Vec<serde_json::Value> = plan
        .stages
        .iter()
        .map(|s| match s {
            Stage::Linear { inputs, rows, .. } => serde_json::json!({ "kind": "linear", "inputs": inputs, "outputs": rows.len() }),
            Stage::Rescale { bits, shift, relu } => serde_json::json!({ "kind": if *relu { "rescale_relu" } else { "rescale" }, "bits": bits, "shift": shift }),
            Stage::MaxPool { windows, bits } => serde_json::json!({ "kind": "maxpool", "outputs": windows.len(), "bits": bits }),
            Stage::Activation { curve, table } => serde_json::json!({ "kind": curve.name().to_ascii_lowercase(), "segments": table.slopes.len() }),
            Stage::Trees { buckets, trees, outputs, pass } => serde_json::json!({ "kind": "trees", "trees": trees.len(), "nodes": trees.iter().map(Vec::len).sum::<usize>(), "inputs_compared": buckets.len(), "thresholds": buckets.iter().map(|b| b.thresholds.len()).sum::<usize>(), "outputs": outputs, "passed": pass }),
        })
        .collect();
    serde_json::json!({
        "config": plan.config,
        "input_scales": plan.input_scales,
        "output_scale": plan.output_scale,
        "output_bits": plan.output_bits,
        "stages": stages,
    })
}
