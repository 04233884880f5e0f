//! The job circuit: commitment opening, per-row model evaluation and the
//! aggregate, in one R1CS instance (see `zkgate_statement::inputs`).

use crate::dataset::Secret;
use crate::quantize::{QCond, QNode, Stage};
use crate::spec::CircuitSpec;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use zkgate_circuits::{
    activation, aggregate, argmax, compare, i128_to_field, maxpool, noise, poseidon, relu, rescale,
    shard, suppress, trees, weights, Fr, Num,
};
use zkgate_statement::aggregate::RowVars;
use zkgate_statement::Statement;

// Linear combinations longer than this are materialized into one variable
// before a rescale reads them (1 constraint instead of copying every term
// into three).
use crate::cost::MATERIALIZE_ABOVE;

/// The private side of a proof.
#[derive(Clone, Copy)]
pub struct Witness<'a> {
    /// Column-major quantized values: the whole dataset, or any range of
    /// rows holding the shard's (see `row_base`).
    pub columns: &'a [Vec<i64>],
    /// The dataset row `columns[j][0]` holds (0 for the whole dataset; a
    /// shard's offset when only its rows are given).
    pub row_base: usize,
    /// The dataset's secret salt.
    pub secret: &'a Secret,
    /// The public statement being proved.
    pub statement: &'a Statement,
    /// The chain value and the job's totals before the shard (see
    /// `zkgate_circuits::shard`).
    pub links: Links<'a>,
}

/// The private side of a shard's links (the chain's start and no totals,
/// the default, when one shard holds the whole dataset).
#[derive(Clone, Copy, Debug, Default)]
pub struct Links<'a> {
    /// The commitment chain's value before the shard.
    pub h_in: Fr,
    /// The job's totals over the rows before the shard, before
    /// suppression (one per aggregate value; empty for a whole-dataset
    /// shard).
    pub acc_in: &'a [i128],
}

/// Constraint counts by part of the circuit.
pub type Counts = BTreeMap<&'static str, usize>;

/// The job circuit. Without a witness it generates the constraint system
/// for key generation and counting.
pub struct JobCircuit<'a> {
    /// What the circuit fixes.
    pub spec: &'a CircuitSpec,
    /// The witness, when proving.
    pub witness: Option<Witness<'a>>,
    /// Filled with constraint counts per part, when set.
    pub counts: Option<Rc<RefCell<Counts>>>,
    /// The decisions made from the circuit's symbolic form, recorded or
    /// replayed (see [`Tape`]).
    pub tape: Tape<'a>,
}

/// The circuit's decisions that read its symbolic form rather than the
/// spec (whether a long linear combination is materialized before a
/// rescale: its length after like terms merge). A system that only assigns
/// values has no linear combinations to read, so a compiled circuit
/// records them ([`Tape::Record`]) and its proofs replay them
/// ([`Tape::Replay`]); without a tape they are read as they come.
#[derive(Clone, Debug, Default)]
pub enum Tape<'a> {
    /// Read from the linear combinations.
    #[default]
    Read,
    /// Read and recorded, in order.
    Record(Rc<RefCell<Vec<bool>>>),
    /// Replayed from a recording of the same circuit.
    Replay(&'a [bool]),
}

/// A tape being read or replayed through one synthesis.
struct Decisions<'a> {
    tape: Tape<'a>,
    at: usize,
}

impl Decisions<'_> {
    /// Whether `z` is long enough to materialize before a rescale.
    fn long(&mut self, z: &Num) -> Result<bool, SynthesisError> {
        let long = match &self.tape {
            Tape::Replay(d) => *d.get(self.at).ok_or(SynthesisError::MissingCS)?,
            // Values only and nothing to replay: the decision cannot be
            // made.
            _ if !z.is_symbolic() => return Err(SynthesisError::MissingCS),
            Tape::Record(r) => {
                let long = z.lc().len() > MATERIALIZE_ABOVE;
                r.borrow_mut().push(long);
                long
            }
            Tape::Read => z.lc().len() > MATERIALIZE_ABOVE,
        };
        self.at += 1;
        Ok(long)
    }
}

struct Counter {
    cs: ConstraintSystemRef<Fr>,
    last: usize,
    counts: Counts,
}

impl Counter {
    fn mark(&mut self, part: &'static str) {
        let now = self.cs.num_constraints();
        *self.counts.entry(part).or_default() += now - self.last;
        self.last = now;
    }
}

impl ConstraintSynthesizer<Fr> for JobCircuit<'_> {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let spec = self.spec;
        let w = self.witness;
        let st = w.map(|w| w.statement);
        let n = spec.shard_rows as usize;
        let mut decisions = Decisions {
            tape: self.tape,
            at: 0,
        };
        let mut counter = Counter {
            cs: cs.clone(),
            last: 0,
            counts: Counts::new(),
        };

        let commitment = Num::input(&cs, st.map(|s| s.commitment))?;
        let rows = Num::input(&cs, st.map(|s| Fr::from(s.rows)))?;
        let nonce = Num::input(&cs, st.map(|s| s.nonce))?;
        let id = Num::input(&cs, st.map(|s| s.circuit_id))?;
        let offset = Num::input(&cs, st.map(|s| Fr::from(s.offset)))?;
        let active = Num::input(&cs, st.map(|s| Fr::from(s.active)))?;
        let link_in = Num::input(&cs, st.map(|s| s.link_in))?;
        let link_out = Num::input(&cs, st.map(|s| s.link_out))?;
        // The release's suppression threshold, published like a value (0
        // from every shard but the last), for a circuit that releases
        // cells exact.
        let below = if spec.takes_threshold() {
            let k = Num::input(&cs, st.map(|s| Fr::from(s.suppress_below.unwrap_or(0))))?;
            suppress::threshold(&cs, &k, crate::cost::COUNT_BITS)?;
            Some(k)
        } else {
            None
        };
        let mut claimed = Vec::with_capacity(spec.aggregate_len());
        for k in 0..spec.aggregate_len() {
            claimed.push(Num::input(&cs, st.map(|s| i128_to_field(s.aggregates[k])))?);
        }
        // A model-family circuit reads its weights once per shard,
        // range-checked to their declared widths and hashed: its id is
        // `family_id(key_id, hash)`, so every shard of a job (the id is the
        // key's, the same public input in each) runs the same weights, the
        // ones the question names.
        let stage_weights = if spec.plan().is_family() {
            let (values, bits) = spec.plan().private_weights();
            let nums = values
                .iter()
                .map(|v| Num::witness(&cs, w.map(|_| i128_to_field(*v))))
                .collect::<Result<Vec<_>, _>>()?;
            let hash = weights::open(&cs, &nums, &bits)?;
            let want = poseidon::gadget::hash(
                &cs,
                &[
                    Num::constant(zkgate_statement::header::family_tag()),
                    Num::constant(spec.key_id()),
                    hash,
                ],
            )?;
            compare::assert_equal(&cs, &id, &want)?;
            counter.mark("weights");
            split_weights(&spec.plan().stages, nums)
        } else {
            compare::assert_equal(&cs, &id, &Num::constant(spec.id()))?;
            vec![None; spec.plan().stages.len()]
        };
        counter.mark("public");

        // The shard's rows, its real ones then padding (a value every row
        // may hold): opened against the commitment below, once their share
        // of the aggregate is known. The flags `[row < active]` mask the
        // padding out of both.
        let flags = shard::active_flags(&cs, &active, n)?;
        counter.mark("padding");
        let first_row = st.map_or(0, |s| s.offset as usize);
        let real_end = st.map_or(0, |s| (s.offset + s.active) as usize);
        let fillers: Vec<i64> = spec.schema.columns.iter().map(|c| c.filler()).collect();
        let mut table: Vec<Vec<Num>> = Vec::with_capacity(n);
        for r in first_row..first_row + n {
            let row = (0..spec.schema.columns.len())
                .map(|j| {
                    Num::witness(
                        &cs,
                        w.map(|w| {
                            let v = if r < real_end {
                                w.columns[j][r - w.row_base]
                            } else {
                                fillers[j]
                            };
                            i128_to_field(i128::from(v))
                        }),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            table.push(row);
        }
        let private = |f: fn(&Witness<'_>) -> Fr| Num::witness(&cs, w.as_ref().map(f));
        let salt = private(|w| w.secret.0)?;
        // A circuit that proves one-shard jobs only has no links to carry
        // a chain value or totals in.
        let linked = !shard::only_shard(spec.shape(spec.shard_rows), spec.shard_rows);
        let h_in = if linked {
            private(|w| w.links.h_in)?
        } else {
            Num::zero()
        };
        let acc_in = (0..spec.aggregate_len())
            .map(|k| {
                if linked {
                    Num::witness(
                        &cs,
                        w.map(|w| i128_to_field(w.links.acc_in.get(k).copied().unwrap_or(0))),
                    )
                } else {
                    Ok(Num::zero())
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        counter.mark("commitment");

        // Every row through the model, then its share of the aggregate.
        let p = &spec.params;
        let mut parts: Vec<Vec<Num>> = Vec::with_capacity(n);
        for row in &table {
            let x: Vec<Num> = spec.input_columns.iter().map(|j| row[*j].clone()).collect();
            let y = lower_row(
                &cs,
                &spec.plan().stages,
                &stage_weights,
                x,
                &mut counter,
                &mut decisions,
            )?;
            let label = spec.label_column.map(|l| row[l].clone());
            let class = if spec.aggregate.needs_classes() {
                let e = argmax::argmax(&cs, &y, spec.plan().output_bits)?;
                counter.mark("argmax");
                Some(e)
            } else {
                None
            };
            let part = spec.aggregate.gadget(
                &cs,
                &RowVars {
                    outputs: &y,
                    class: class.as_deref(),
                    label: label.as_ref(),
                },
                p,
            )?;
            counter.mark("aggregate");
            parts.push(part);
        }
        // A padding row's share is zero.
        for (part, flag) in parts.iter_mut().zip(&flags).skip(1) {
            for v in part.iter_mut() {
                *v = Num::mul(&cs, v, flag)?;
            }
        }
        counter.mark("padding");
        let sums: Vec<Num> = (0..claimed.len())
            .map(|k| aggregate::sum(&parts.iter().map(|p| p[k].clone()).collect::<Vec<_>>()))
            .collect();
        counter.mark("aggregate");

        // Open the commitment over the shard's rows, carrying the job's
        // running totals to the next shard hidden in the link: only the
        // last shard publishes values, the totals over every row.
        let end = shard::open(
            &cs,
            spec.shape(spec.shard_rows),
            &shard::Public {
                commitment: &commitment,
                rows: &rows,
                offset: &offset,
                active: &active,
                link_in: &link_in,
                link_out: &link_out,
                nonce: &nonce,
            },
            &shard::Private {
                salt: &salt,
                h_in: &h_in,
                acc_in: &acc_in,
            },
            &table,
            &flags,
            &sums,
        )?;
        counter.mark("commitment");
        // Suppression is of the job's totals (a shard other than the last
        // publishes zero, and a threshold of zero).
        // Differential-privacy noise, drawn from the dataset's salt and the
        // job's nonce, added to every released value.
        let noise = match &p.noise {
            Some(n) => {
                let seed = noise::seed_gadget(&cs, &salt, &nonce)?;
                let draws = n.sampler().gadget(&cs, &seed, claimed.len())?;
                counter.mark("noise");
                Some(draws)
            }
            None => None,
        };
        for (k, (total, claim)) in end.acc_out.iter().zip(&claimed).enumerate() {
            let mut value = match &below {
                Some(k) => suppress::suppress_below(&cs, total, k, crate::cost::COUNT_BITS)?,
                None => total.clone(),
            };
            if let Some(n) = &noise {
                value = value.add(&n[k]);
            }
            end.publish(&cs, &value, claim)?;
        }
        counter.mark("aggregate");
        if let Some(out) = self.counts {
            *out.borrow_mut() = counter.counts;
        }
        Ok(())
    }
}

/// A linear stage's private weights (each row's terms) and learned biases.
type StageWeights = (Vec<Vec<Num>>, Vec<Num>);

/// The private weights, read in [`crate::quantize::Plan::private_weights`]'s
/// order, split by stage (`None` for a stage with constant weights).
fn split_weights(stages: &[Stage], nums: Vec<Num>) -> Vec<Option<StageWeights>> {
    let mut it = nums.into_iter();
    stages
        .iter()
        .map(|s| match s {
            Stage::Linear {
                rows,
                private: Some(_),
                ..
            } => {
                let w = rows
                    .iter()
                    .map(|r| it.by_ref().take(r.len()).collect())
                    .collect();
                let b = it.by_ref().take(rows.len()).collect();
                Some((w, b))
            }
            _ => None,
        })
        .collect()
}

fn lower_row(
    cs: &ConstraintSystemRef<Fr>,
    stages: &[Stage],
    private: &[Option<StageWeights>],
    x: Vec<Num>,
    counter: &mut Counter,
    decisions: &mut Decisions<'_>,
) -> Result<Vec<Num>, SynthesisError> {
    let mut v = x;
    for (stage, weights) in stages.iter().zip(private) {
        match stage {
            Stage::Linear {
                rows,
                private: Some(p),
                ..
            } => {
                // Each term a product of two variables: the weight is no
                // constant here.
                let (w, b) = weights.as_ref().expect("a private stage's weights");
                let mut out = Vec::with_capacity(rows.len());
                for ((row, wr), bj) in rows.iter().zip(w).zip(b) {
                    let mut z = bj.add_const(i128_to_field(p.half));
                    for ((i, _), wk) in row.iter().zip(wr) {
                        z = z.add(&Num::mul(cs, wk, &v[*i as usize])?);
                    }
                    out.push(z);
                }
                v = out;
                counter.mark("weights");
            }
            Stage::Linear { rows, bias, .. } => {
                v = rows
                    .iter()
                    .zip(bias)
                    .map(|(row, b)| {
                        Num::linear_combination(
                            row.iter()
                                .map(|(i, w)| (i128_to_field(i128::from(*w)), &v[*i as usize])),
                        )
                        .add_const(i128_to_field(*b))
                    })
                    .collect();
            }
            Stage::Rescale {
                bits,
                shift,
                relu: apply_relu,
            } => {
                let mut out = Vec::with_capacity(v.len());
                for z in &v {
                    let z = if decisions.long(z)? {
                        z.materialize(cs)?
                    } else {
                        z.clone()
                    };
                    let r = rescale::rescale(cs, &z, *bits, *shift)?;
                    out.push(if *apply_relu {
                        relu::relu(cs, &r)?
                    } else {
                        r.value.materialize(cs)?
                    });
                }
                v = out;
                counter.mark(if *apply_relu {
                    "rescale_relu"
                } else {
                    "rescale"
                });
            }
            Stage::MaxPool { windows, bits } => {
                v = windows
                    .iter()
                    .map(|win| {
                        maxpool::max(
                            cs,
                            &win.iter()
                                .map(|i| v[*i as usize].clone())
                                .collect::<Vec<_>>(),
                            *bits,
                        )
                    })
                    .collect::<Result<_, _>>()?;
                counter.mark("maxpool");
            }
            Stage::Activation { table, .. } => {
                let segments = table.segments();
                v = v
                    .iter()
                    .map(|x| activation::apply(cs, x, &segments))
                    .collect::<Result<_, _>>()?;
                counter.mark("activation");
            }
            Stage::Trees {
                buckets,
                trees: forest,
                outputs,
                pass,
            } => {
                let mut onehots = Vec::with_capacity(buckets.len());
                for b in buckets {
                    onehots.push(trees::bucket(cs, &v[b.input as usize], &b.buckets())?);
                }
                let mut sums: Vec<Vec<(Fr, Num)>> = vec![Vec::new(); *outputs];
                for tree in forest {
                    let ind = trees::indicators(cs, &tree_nodes(tree, Some(&onehots)))?;
                    for (k, node) in tree.iter().enumerate() {
                        if let QNode::Leaf { values } = node {
                            for (o, val) in values {
                                sums[*o as usize]
                                    .push((i128_to_field(i128::from(*val)), ind[k].clone()));
                            }
                        }
                    }
                }
                // The passed inputs as they are; each sum once as a
                // variable: what follows reads it many times.
                let mut next = v[..*pass].to_vec();
                for terms in &sums {
                    next.push(
                        Num::linear_combination(terms.iter().map(|(c, n)| (*c, n)))
                            .materialize(cs)?,
                    );
                }
                v = next;
                counter.mark("trees");
            }
        }
    }
    Ok(v)
}

/// A quantized tree as the gadget takes it: each condition the sum of its
/// input's bucket bits (`onehots`), or a placeholder when only counting.
pub(crate) fn tree_nodes(tree: &[QNode], onehots: Option<&[Vec<Num>]>) -> Vec<trees::Node> {
    tree.iter()
        .map(|n| match n {
            QNode::Branch { cond, yes, no } => trees::Node::Branch {
                cond: match cond {
                    QCond::Always(b) => trees::Cond::Always(*b),
                    QCond::AtMost { slot, j } => trees::Cond::Is(match onehots {
                        Some(o) => trees::at_most(&o[*slot as usize], *j as usize),
                        None => Num::zero(),
                    }),
                },
                yes: *yes as usize,
                no: *no as usize,
            },
            QNode::Leaf { .. } => trees::Node::Leaf,
        })
        .collect()
}

/// Counts the circuit's constraints by part without any witness.
pub fn count(spec: &CircuitSpec) -> Result<(usize, Counts), SynthesisError> {
    let cs = ark_relations::gr1cs::ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(ark_relations::gr1cs::SynthesisMode::Setup);
    let counts = Rc::new(RefCell::new(Counts::new()));
    JobCircuit {
        spec,
        witness: None,
        counts: Some(counts.clone()),
        tape: Default::default(),
    }
    .generate_constraints(cs.clone())?;
    let total = cs.num_constraints();
    let c = counts.borrow().clone();
    Ok((total, c))
}
