//! Model-family circuits: the weights are private inputs within declared
//! bounds, so a retrained model of the same architecture keeps the circuit
//! and its key, while the circuit id (the statement's) still names the
//! weights proved.

use crate::circuits::statement_for;
use crate::common::{fixture, head};
use rand::SeedableRng;
use std::cell::RefCell;
use std::collections::HashMap;
use zkgate_circuits::Fr;
use zkgate_statement::field::fr_to_hex;
use zkgate_statement::{nonce_from, Aggregate, Verdict};
use zkgate_zkml::circuit::Witness;
use zkgate_zkml::dataset::{Dataset, Secret};
use zkgate_zkml::import::{self, Imported};
use zkgate_zkml::ir::{Model, Op};
use zkgate_zkml::job::{compile, JobRequest};
use zkgate_zkml::pipeline::{run, KeyCache, LocalJob, Outcome};
use zkgate_zkml::prove::{check_satisfied, ProvingKey};
use zkgate_zkml::quantize::{fit_family, Family, InputRange, QuantConfig};
use zkgate_zkml::spec::CircuitSpec;

fn breast_cancer() -> Imported {
    import::load(fixture("models/breast_cancer.onnx")).unwrap()
}

/// The model "retrained": every weight and bias scaled by `factor` and
/// nudged by a small amount of its own, so no weight is the original's.
fn retrained(m: &Model, factor: f64) -> Model {
    let mut m = m.clone();
    for (k, op) in m.ops.iter_mut().enumerate() {
        if let Op::Affine(a) = op {
            for (j, row) in a.rows.iter_mut().enumerate() {
                for (c, w) in row.iter_mut() {
                    let nudge = 1.0 + 0.03 * (((k + j + *c as usize) % 7) as f64 - 3.0) / 3.0;
                    *w *= factor * nudge;
                }
            }
            a.bias.iter_mut().for_each(|b| *b *= factor);
        }
    }
    m
}

/// The model's inputs: every column but the label.
fn inputs(d: &Dataset) -> Vec<InputRange> {
    zkgate_zkml::job::input_ranges(
        &d.schema,
        &(0..d.schema.columns.len() - 1).collect::<Vec<_>>(),
    )
}

fn request(family: Option<Family>) -> JobRequest {
    JobRequest {
        aggregate: Aggregate::Accuracy {
            label: "label".into(),
        },
        input_columns: None,
        quant: QuantConfig {
            family,
            ..QuantConfig::default()
        },
        epsilon: None,
    }
}

/// The family the original model fits, with a bit of headroom.
fn family(m: &Model, d: &Dataset) -> Family {
    fit_family(m, &inputs(d), QuantConfig::default(), 1).unwrap()
}

/// Keys kept in memory, counting the jobs that found theirs.
#[derive(Default)]
struct Kept {
    keys: RefCell<HashMap<String, (ProvingKey, zkgate_statement::groth16::VerifyingKey)>>,
    hits: RefCell<usize>,
}

impl KeyCache for Kept {
    fn get(&self, id: &str) -> Option<(ProvingKey, zkgate_statement::groth16::VerifyingKey)> {
        let k = self.keys.borrow().get(id).cloned();
        *self.hits.borrow_mut() += usize::from(k.is_some());
        k
    }
    fn put(&self, id: &str, pk: &ProvingKey, vk: &zkgate_statement::groth16::VerifyingKey) {
        self.keys
            .borrow_mut()
            .insert(id.to_string(), (pk.clone(), vk.clone()));
    }
}

fn job(m: &Imported, d: &Dataset, req: &JobRequest, keys: &Kept, shard_rows: u64) -> Outcome {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
    let secret = Secret::random(&mut rng);
    let job = LocalJob {
        shard_rows: Some(shard_rows),
        keys: Some(keys),
        ..LocalJob::new(m, d, &secret, req, nonce_from(b"family"))
    };
    run(job, &mut rng, &mut |_| {}).unwrap()
}

#[test]
fn a_retrained_model_is_proved_with_the_same_key_over_shards() {
    let original = breast_cancer();
    let d = head("data/breast_cancer.csv", 24);
    let f = family(&original.model, &d);
    let req = request(Some(f));
    let mut revision = original.clone();
    revision.model = retrained(&original.model, 0.9);
    let kept = Kept::default();
    // 24 rows in shards of 11: three proofs, the last padded.
    let a = job(&original, &d, &req, &kept, 11);
    let b = job(&revision, &d, &req, &kept, 11);
    assert_eq!(a.receipt.shards.len(), 3);
    assert_eq!(*kept.hits.borrow(), 1, "the revision found the key");
    assert_eq!(a.keys[0].1, b.keys[0].1, "one verifying key");
    assert_eq!(a.spec.key_id(), b.spec.key_id());
    assert_eq!(a.spec.plan_sha256, b.spec.plan_sha256);
    assert!(a.spec.is_family() && b.spec.is_family());
    assert_ne!(a.spec.header().weights, b.spec.header().weights);
    assert_ne!(a.spec.id(), b.spec.id(), "the id names the weights");
    for o in [&a, &b] {
        assert_eq!(o.receipt.verify(&o.vk_bytes()).unwrap(), Verdict::Valid);
    }

    // Each receipt is bound to its weights: the revision's proofs read as
    // the original's (its circuit header, weights hash and all) fail, and
    // so does any other weights hash.
    let mut lie = b.receipt.clone();
    lie.circuit = a.receipt.circuit.clone();
    assert!(matches!(
        lie.verify(&b.vk_bytes()).unwrap(),
        Verdict::Invalid(_)
    ));
    let mut lie = b.receipt.clone();
    lie.circuit.weights = Some(fr_to_hex(Fr::from(7u64)));
    assert!(matches!(
        lie.verify(&b.vk_bytes()).unwrap(),
        Verdict::Invalid(_)
    ));
    // A receipt that drops the weights hash claims the key's circuit as a
    // circuit with constant weights: another id, refused.
    let mut lie = b.receipt.clone();
    lie.circuit.weights = None;
    assert!(matches!(
        lie.verify(&b.vk_bytes()).unwrap(),
        Verdict::Invalid(_)
    ));
    // A changed value still fails under the shared key.
    let mut lie = b.receipt.clone();
    lie.values[0] = (lie.values[0].parse::<i128>().unwrap() + 1).to_string();
    assert!(matches!(
        lie.verify(&b.vk_bytes()).unwrap(),
        Verdict::Invalid(_)
    ));

    // The same job with constant weights is another circuit and key.
    let constant = job(&original, &d, &request(None), &kept, 11);
    assert!(!constant.spec.is_family());
    assert_ne!(constant.spec.key_id(), a.spec.key_id());
    assert!(matches!(
        b.receipt.verify(&constant.vk_bytes()).unwrap(),
        Verdict::Invalid(_)
    ));
}

#[test]
fn the_circuit_refuses_weights_other_than_the_ids() {
    let original = breast_cancer();
    let d = head("data/breast_cancer.csv", 3);
    let req = request(Some(family(&original.model, &d)));
    let a = compile(&original.model, &original.onnx_sha256, &d, &req).unwrap();
    let b = compile(&retrained(&original.model, 0.8), "", &d, &req).unwrap();
    let secret = Secret::random(&mut rand::thread_rng());
    let witness = |st| Witness {
        row_base: 0,
        columns: &d.values,
        secret: &secret,
        statement: st,
        links: Default::default(),
    };
    let honest = statement_for(&b, &d, &secret);
    check_satisfied(&b, witness(&honest)).unwrap();
    // One constraint system for both (what a ceremony key is checked
    // against): a key contributed for one model proves the other.
    let r1cs = |s: &CircuitSpec| zkgate_zkml::ceremony::r1cs_of(s).unwrap().sha256();
    assert_eq!(r1cs(&a), r1cs(&b));
    // The revision's weights run under the original's id: unsatisfied.
    let mut lie = honest.clone();
    lie.circuit_id = a.id();
    assert!(check_satisfied(&b, witness(&lie)).is_err());
    // And the original's weights under the revision's id.
    let mut lie = statement_for(&a, &d, &secret);
    lie.circuit_id = b.id();
    assert!(check_satisfied(&a, witness(&lie)).is_err());
    // Checked against a model file, the revision's receipt is refused as
    // running other weights.
    let e = zkgate_zkml::job::rebuild(
        &retrained(&original.model, 0.8),
        &original.onnx_sha256,
        a.header(),
    )
    .unwrap_err();
    assert!(e.contains("other weights"), "{e}");
    // The key's id is no circuit id of the family.
    let mut lie = honest.clone();
    lie.circuit_id = b.key_id();
    assert!(check_satisfied(&b, witness(&lie)).is_err());
}

#[test]
fn weights_outside_the_declared_bounds_are_refused_and_fit_finds_the_least() {
    let m = breast_cancer().model;
    let d = head("data/breast_cancer.csv", 3);
    let tight = fit_family(&m, &inputs(&d), QuantConfig::default(), 0).unwrap();
    // The tight bounds hold the model, one bit less on the terms does not.
    let req = |f| request(Some(f));
    compile(&m, "", &d, &req(tight)).unwrap();
    // Two bits less on any bound leaves some weight or bias outside (one
    // may not: the widths round up).
    for less in [
        Family {
            term_log2: tight.term_log2 - 2,
            ..tight
        },
        Family {
            weight_log2: tight.weight_log2 - 2,
            ..tight
        },
        Family {
            bias_log2: tight.bias_log2 - 2,
            ..tight
        },
    ] {
        let e = compile(&m, "", &d, &req(less)).unwrap_err().to_string();
        assert!(e.contains("outside the family's bound"), "{less:?}: {e}");
    }
    // A retrained model with weights sixteen times larger: one bit of
    // headroom does not hold it (bounds round up, so `h` bits of headroom
    // hold a growth of 2^h at least and 2^(h + 2) at most), four do.
    let big = retrained(&m, 16.0);
    let one = fit_family(&m, &inputs(&d), QuantConfig::default(), 1).unwrap();
    let two = fit_family(&m, &inputs(&d), QuantConfig::default(), 4).unwrap();
    assert!(compile(&big, "", &d, &req(one)).is_err());
    let within = compile(&big, "", &d, &req(two)).unwrap();
    assert_eq!(
        within.key_id(),
        compile(&m, "", &d, &req(two)).unwrap().key_id()
    );
}

#[test]
fn a_family_circuit_takes_no_trees_and_its_estimate_is_its_count() {
    let d = head("data/breast_cancer.csv", 4);
    let m = breast_cancer().model;
    let spec = compile(&m, "", &d, &request(Some(family(&m, &d)))).unwrap();
    let (count, parts) = zkgate_zkml::circuit::count(&spec).unwrap();
    assert_eq!(zkgate_zkml::cost::constraints(&spec), count, "{parts:?}");
    assert!(parts["weights"] > 0);

    let trees = import::load(fixture("exports/sk_random_forest.onnx")).unwrap();
    let e = compile(&trees.model, "", &d, &request(Some(family(&m, &d))))
        .unwrap_err()
        .to_string();
    assert!(e.contains("linear layers only"), "{e}");
}

#[test]
fn the_noise_covers_every_model_the_bounds_admit() {
    // A regressor's mean, noised: its sensitivity follows the output
    // range, which a family takes from its bounds (any model within them),
    // not from one model's weights: never narrower than the model's own.
    let m = import::load(fixture("models/mlp.onnx")).unwrap().model;
    let d = head("data/tabular.csv", 4);
    let columns: Vec<String> = (0..13).map(|i| format!("f{i}")).collect();
    let req = |family| JobRequest {
        aggregate: Aggregate::Mean,
        input_columns: Some(columns.clone()),
        quant: QuantConfig {
            family,
            ..QuantConfig::default()
        },
        epsilon: Some(1.0),
    };
    let constant = compile(&m, "", &d, &req(None)).unwrap();
    let f = zkgate_zkml::job::fit_family(&m, &constant, 1).unwrap();
    let family = compile(&m, "", &d, &req(Some(f))).unwrap();
    let float = |s: &CircuitSpec, v: i128| v as f64 / 2f64.powi(s.output_scale);
    let sensitivity =
        |s: &CircuitSpec| float(s, i128::from(s.params.noise.as_ref().unwrap().sensitivity));
    assert!(sensitivity(&family) >= sensitivity(&constant));
    // A model with weights twice as large is of the family (one bit of
    // headroom), and its own output range lies within the family's.
    let doubled = retrained(&m, 2.0);
    assert_eq!(
        compile(&doubled, "", &d, &req(Some(f))).unwrap().key_id(),
        family.key_id()
    );
    let own = compile(&doubled, "", &d, &req(None)).unwrap();
    let (olo, ohi) = own.plan().output_range;
    let (flo, fhi) = family.plan().output_range;
    assert!(float(&family, flo) <= float(&own, olo));
    assert!(float(&family, fhi) >= float(&own, ohi));
    assert!(sensitivity(&family) >= sensitivity(&own));
}
