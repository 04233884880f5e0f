//! A circuit's size from its spec alone, without building the constraint
//! system: what the owner's limits are checked against before compiling a
//! circuit (building one to count it allocates every linear combination,
//! which a hostile dense model makes huge). Each term is a gadget's
//! documented cost; the tests check the estimate against
//! [`crate::circuit::count`] on every fixture model.

use crate::quantize::Stage;
use crate::spec::CircuitSpec;

/// Linear combinations longer than this are materialized (1 constraint)
/// before a rescale reads them; see `circuit`.
pub(crate) const MATERIALIZE_ABOVE: usize = 32;

/// Walks one row's stages, tracking how many terms each value's linear
/// combination has (inputs: one witness each); `f` sees each stage with the
/// terms of its inputs and of its outputs.
fn walk(spec: &CircuitSpec, mut f: impl FnMut(&Stage, &[usize], &[usize])) {
    let plan = spec.plan();
    let mut terms: Vec<usize> = vec![1; plan.input_scales.len()];
    for stage in &plan.stages {
        let next: Vec<usize> = match stage {
            // Each term a product (a fresh variable), the learned bias a
            // variable, the public half step a constant.
            Stage::Linear {
                rows,
                private: Some(p),
                ..
            } => rows
                .iter()
                .map(|row| row.len() + 1 + usize::from(p.half != 0))
                .collect(),
            Stage::Linear { rows, bias, .. } => rows
                .iter()
                .zip(bias)
                .map(|(row, b)| {
                    row.iter()
                        .filter(|(_, w)| *w != 0)
                        .map(|(i, _)| terms[*i as usize])
                        .sum::<usize>()
                        + usize::from(*b != 0)
                })
                .collect(),
            // A rescale's outputs are fresh variables.
            Stage::Rescale { .. } => vec![1; terms.len()],
            Stage::MaxPool { windows, .. } => windows
                .iter()
                .map(|w| match w.as_slice() {
                    [only] => terms[*only as usize],
                    _ => 1,
                })
                .collect(),
            // A forest's outputs are materialized, an activation's are
            // fresh variables.
            Stage::Trees { outputs, pass, .. } => {
                let mut t = terms[..*pass].to_vec();
                t.extend(std::iter::repeat_n(1, *outputs));
                t
            }
            Stage::Activation { .. } => vec![1; terms.len()],
        };
        f(stage, &terms, &next);
        terms = next;
    }
}

/// Seconds per constraint for a Groth16 proof on 2 vCPUs, from `zkgate
/// bench` on the fixtures (mnist_mlp:16, 146,525 constraints in about 3 s;
/// lenet_small:4 and breast_cancer:569 alike within a factor of 1.5): what
/// estimates of proving time (`zkgate inspect`, dry runs, a job's progress
/// before its first shard is measured) are made from.
pub const SECONDS_PER_CONSTRAINT: f64 = 2.0e-5;

/// Estimated seconds of Groth16 setup and proving for `constraints` (setup
/// costs about what proving does): what a dry run and a job's progress
/// quote before anything is measured.
pub fn setup_and_prove_seconds(constraints: usize) -> f64 {
    2.0 * constraints as f64 * SECONDS_PER_CONSTRAINT
}

/// Terms of every linear combination one row's linear layers make (what
/// synthesis holds in memory for a dense layer: one term per non-zero
/// weight and bias, each over the terms of its input).
pub fn terms_per_row(spec: &CircuitSpec) -> usize {
    let mut total = 0usize;
    walk(spec, |stage, _, after| {
        if let Stage::Linear { .. } = stage {
            total = total.saturating_add(after.iter().sum());
        }
    });
    total
}

/// Constraints of one row through the model and its share of the
/// aggregate.
pub fn per_row(spec: &CircuitSpec) -> usize {
    let plan = spec.plan();
    let mut cost = 0usize;
    walk(spec, |stage, before, _| match stage {
        // A private weight times a variable is a constraint.
        Stage::Linear {
            rows,
            private: Some(_),
            ..
        } => cost += rows.iter().map(Vec::len).sum::<usize>(),
        Stage::Linear { .. } => {}
        Stage::Rescale { bits, .. } => {
            // Rescale (`bits`), then ReLU or materializing (1), after
            // materializing a long input (1).
            cost += before
                .iter()
                .map(|t| usize::from(*t > MATERIALIZE_ABOVE) + bits + 1)
                .sum::<usize>();
        }
        Stage::MaxPool { windows, bits } => {
            cost += windows
                .iter()
                .map(|w| match w.len() {
                    0 | 1 => 0,
                    n => n * bits + n - 1,
                })
                .sum::<usize>();
        }
        Stage::Activation { table, .. } => {
            cost += before.len() * table.segments().cost();
        }
        Stage::Trees {
            buckets,
            trees,
            outputs,
            ..
        } => {
            // Buckets (k + 1 + 2w each), the branches that carry a path,
            // and each output materialized.
            cost += buckets.iter().map(|b| b.buckets().cost()).sum::<usize>()
                + trees
                    .iter()
                    .map(|t| zkgate_circuits::trees::cost(&crate::circuit::tree_nodes(t, None)))
                    .sum::<usize>()
                + outputs;
        }
    });
    let outputs = plan.outputs();
    if spec.aggregate.needs_classes() {
        // argmax: C * (bits + 2) + 1.
        cost += outputs * (plan.output_bits + 2) + 1;
    }
    cost + spec.aggregate.row_cost(outputs, &spec.params)
}

/// Bits of a count over a dataset (row counts are below `2^32`): the width
/// of the suppression threshold's comparison, whatever the dataset's size.
pub const COUNT_BITS: usize = 32;

/// Constraints of the circuit for one shard of `spec.shard_rows` rows:
/// the public checks, the padding flags and the commitment's opening,
/// every row with its share masked by its flag, and the claimed values
/// (with their suppression or noise).
pub fn constraints(spec: &CircuitSpec) -> usize {
    let rows = spec.shard_rows as usize;
    let values = spec.aggregate_len();
    // A circuit releasing exact cells checks its threshold's range once
    // and compares every cell with it.
    let (threshold, suppress) = if spec.takes_threshold() {
        (COUNT_BITS, COUNT_BITS + 2)
    } else {
        (0, 0)
    };
    1 + threshold
        + weights_cost(spec)
        + zkgate_circuits::shard::cost(spec.shape(spec.shard_rows), spec.shard_rows, values)
        + rows.saturating_mul(per_row(spec))
        + rows.saturating_sub(1).saturating_mul(values)
        + values * (1 + suppress)
        + spec.params.noise.as_ref().map_or(0, |n| {
            zkgate_circuits::noise::seed_cost() + n.sampler().cost(values)
        })
}

/// What a model-family circuit reads once per shard: its weights, range
/// checked and hashed, and its id from the hash (0 for a circuit with
/// constant weights).
pub fn weights_cost(spec: &CircuitSpec) -> usize {
    if !spec.plan().is_family() {
        return 0;
    }
    let (_, bits) = spec.plan().private_weights();
    zkgate_circuits::weights::cost(&bits) + zkgate_circuits::poseidon::gadget::cost(3)
}

/// Memory a process needs before any circuit: the binary, the runtime, the
/// model and the dataset of a fixture-sized job.
pub const BASE_MEMORY: u64 = 48 << 20;

/// Memory a term of a linear combination takes while the circuit is
/// built and kept (a field element and a variable index, held about twice:
/// in the value and in the constraint that materializes it).
pub const MEMORY_PER_TERM: u64 = 96;

/// Memory proving takes per constraint of the shard's circuit, at most:
/// the proving key (for each variable three G1 and one G2 point, for each
/// of the doubled domain's points one G1: about 500 bytes), the constraint
/// matrices kept for setup and the witness map (one entry per term of
/// every linear combination), the QAP evaluations and FFT buffers (a few
/// field elements per domain point), and the allocator's slack. Measured
/// peaks on the fixtures stay under it (`zkgate bench` reports both;
/// `cli/tests/bench.rs` checks it).
pub const MEMORY_PER_CONSTRAINT: u64 = 3 << 10;

/// Peak memory, bytes, of setting up and proving one shard of `spec`
/// (shards are proved one after another, so this is the job's peak): an
/// upper bound from the constraint count and the linear layers' terms,
/// known before any constraint system is built (a dense layer's wide
/// linear combinations cost memory without costing constraints).
pub fn memory_bytes(spec: &CircuitSpec) -> u64 {
    let terms = spec.shard_rows.saturating_mul(terms_per_row(spec) as u64);
    BASE_MEMORY
        + (constraints(spec) as u64).saturating_mul(MEMORY_PER_CONSTRAINT)
        + terms.saturating_mul(MEMORY_PER_TERM)
}

/// What proving a job takes, from its public circuit alone (the schema,
/// the row count and the model; no row read): the one estimate admission,
/// dry runs, the pipeline's limits, a job's progress and `zkgate inspect`
/// quote.
#[derive(Clone, Debug)]
pub struct Estimate {
    /// The circuit of each shard size, largest first (one when the
    /// dataset is one shard).
    pub circuits: Vec<CircuitSpec>,
    /// Constraints of each of `circuits`.
    pub per_circuit: Vec<usize>,
    /// Shards.
    pub shards: usize,
    /// Constraints of every shard together.
    pub constraints: usize,
    /// Peak memory of proving the largest shard, bytes (shards are proved
    /// one after another).
    pub memory: u64,
    /// Seconds of setup and proving over every shard.
    pub seconds: f64,
}

impl Estimate {
    /// The estimate of `spec` over a dataset of `rows` rows proved in
    /// shards of at most `shard_rows` rows (None or 0: one proof); one
    /// circuit, of the plan's shard size, proves every shard.
    pub fn of(spec: &CircuitSpec, rows: u64, shard_rows: Option<u64>) -> Estimate {
        let plan = spec.shard_plan(rows, shard_rows.filter(|r| *r > 0));
        let circuit = spec.with_shard_rows(plan.size());
        let per_shard = constraints(&circuit);
        let total = per_shard.saturating_mul(plan.len());
        Estimate {
            memory: memory_bytes(&circuit),
            shards: plan.len(),
            constraints: total,
            seconds: setup_and_prove_seconds(total),
            circuits: vec![circuit],
            per_circuit: vec![per_shard],
        }
    }

    /// Seconds of proving alone over every shard (a key kept from an
    /// earlier job saves the setup).
    pub fn prove_seconds(&self) -> f64 {
        self.constraints as f64 * SECONDS_PER_CONSTRAINT
    }

    /// Constraints of the largest shard's circuit.
    pub fn largest(&self) -> usize {
        self.per_circuit.iter().copied().max().unwrap_or(0)
    }

    /// Each limit the job goes over, in words (empty: within them):
    /// `max_constraints` per shard's circuit, `max_memory` bytes.
    pub fn over(&self, max_constraints: Option<usize>, max_memory: Option<u64>) -> Vec<String> {
        let mut over = Vec::new();
        let biggest = self.largest();
        if let Some(limit) = max_constraints.filter(|l| biggest > *l) {
            over.push(format!(
                "the circuit needs {biggest} constraints, over the limit of {limit}"
            ));
        }
        if let Some(limit) = max_memory.filter(|l| self.memory > *l) {
            over.push(format!(
                "proving needs about {} MiB, over the limit of {} MiB",
                self.memory >> 20,
                limit >> 20
            ));
        }
        over
    }
}

/// What one row would cost in a model-family circuit, where the weights
/// are private inputs committed by a hash the question pins (so one key
/// serves every weight file of an architecture), against this circuit
/// with the weights as constants. An estimate from the plan: what `zkgate
/// bench --family-cost` reports for tree ensembles, which have no family
/// circuit (a linear model's is built, `QuantConfig::family`, and
/// counted by [`constraints`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FamilyCost {
    /// Constraints of one row today ([`per_row`]).
    pub per_row: usize,
    /// Products a row's linear layers would add: a constant weight times
    /// a variable is free in R1CS, a private weight times one is a
    /// constraint. A lower bound: the plan keeps only non-zero quantized
    /// weights, and a family circuit must multiply its zeros too.
    pub weight_products: usize,
    /// What a row's trees would cost with private thresholds and leaf
    /// values, in place of their bucketing: a comparison per branch (the
    /// input's width and a sign) and a product per leaf value.
    pub tree_checks: usize,
    /// Their bucketing and paths today.
    pub tree_now: usize,
    /// What each shard would add once: the weights opened against the
    /// pinned hash, each range-checked to the declared width (the
    /// commitment gadget over the weights as a one-column table), at most:
    /// a convolution's weights are shared between its terms, and are
    /// counted once per term here.
    pub per_shard: usize,
}

impl FamilyCost {
    /// Constraints of one row in the family circuit.
    pub fn family_per_row(&self) -> usize {
        self.per_row + self.weight_products + self.tree_checks - self.tree_now
    }
}

/// [`FamilyCost`] of `spec`'s model.
pub fn family(spec: &CircuitSpec) -> FamilyCost {
    let (mut weight_products, mut tree_checks, mut tree_now) = (0usize, 0usize, 0usize);
    walk(spec, |stage, _, _| match stage {
        Stage::Linear { rows, .. } => {
            weight_products += rows
                .iter()
                .map(|r| r.iter().filter(|(_, w)| *w != 0).count())
                .sum::<usize>();
        }
        Stage::Trees { buckets, trees, .. } => {
            // A branch the declared ranges decide stays free only while
            // its threshold is public: a private one is compared too.
            let width = |slot: Option<u32>| {
                slot.and_then(|s| buckets.get(s as usize))
                    .map_or(COUNT_BITS, |b| bits_of(b.hi - b.lo))
            };
            for t in trees {
                for node in t {
                    tree_checks += match node {
                        crate::quantize::QNode::Branch { cond, .. } => match cond {
                            crate::quantize::QCond::AtMost { slot, .. } => width(Some(*slot)) + 2,
                            crate::quantize::QCond::Always(_) => width(None) + 2,
                        },
                        crate::quantize::QNode::Leaf { values } => values.len(),
                    };
                }
            }
            tree_now += buckets.iter().map(|b| b.buckets().cost()).sum::<usize>()
                + trees
                    .iter()
                    .map(|t| zkgate_circuits::trees::cost(&crate::circuit::tree_nodes(t, None)))
                    .sum::<usize>();
        }
        _ => {}
    });
    let weights = zkgate_circuits::commitment::Shape {
        rows: weight_products as u64,
        columns: 1,
        value_bits: spec.plan().config.weight_bits as usize + 1,
    };
    FamilyCost {
        per_row: per_row(spec),
        weight_products,
        tree_checks,
        tree_now,
        per_shard: if weight_products > 0 {
            weights.cost()
        } else {
            0
        },
    }
}

/// Bits of a non-negative width.
fn bits_of(x: i128) -> usize {
    (128 - x.max(1).leading_zeros()) as usize
}
