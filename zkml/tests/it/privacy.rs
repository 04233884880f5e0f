//! Differentially private releases: the noise is drawn in the circuit from
//! the dataset's salt and the job's nonce, verified with the receipt, and
//! large enough that the attacks a researcher can mount with a model (a
//! selector that passes one person's value to a sum, two jobs that differ
//! in one row) see noise, not the row.

use crate::common;

use common::{fixture, head};
use rand::SeedableRng;
use zkgate_circuits::noise;
use zkgate_statement::field::fr_to_hex;
use zkgate_statement::{nonce_from, Aggregate, Receipt, Verdict};
use zkgate_zkml::dataset::{declared_schema, Secret};
use zkgate_zkml::import;
use zkgate_zkml::job::{compile, JobRequest};
use zkgate_zkml::pipeline::{run, LocalJob, Outcome};
use zkgate_zkml::Fr;

/// The request over the breast cancer features (every column but the
/// label).
fn request(aggregate: Aggregate, epsilon: Option<f64>) -> JobRequest {
    let schema = declared_schema(&fixture("data/breast_cancer.csv")).unwrap();
    let features = schema
        .names()
        .into_iter()
        .filter(|n| n != "label")
        .collect();
    JobRequest {
        aggregate,
        input_columns: Some(features),
        quant: Default::default(),
        epsilon,
    }
}

fn accuracy() -> Aggregate {
    Aggregate::Accuracy {
        label: "label".into(),
    }
}

fn class_counts_run(epsilon: Option<f64>, shard_rows: Option<u64>) -> (Outcome, Secret, Fr) {
    let m = import::load(fixture("models/breast_cancer.onnx")).unwrap();
    let d = head("data/breast_cancer.csv", 25);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
    let secret = Secret::random(&mut rng);
    let nonce = nonce_from(b"dp-1");
    let req = request(Aggregate::ClassCounts, epsilon);
    let job = LocalJob {
        shard_rows,
        ..LocalJob::new(&m, &d, &secret, &req, nonce)
    };
    (run(job, &mut rng, &mut |_| {}).unwrap(), secret, nonce)
}

fn invalid(r: &Receipt, vk: &[u8]) -> bool {
    matches!(r.verify(vk).unwrap(), Verdict::Invalid(_))
}

#[test]
fn noised_release_is_proved_and_every_tamper_fails() {
    // Three shards (11, 11, 3 rows): the noise is added once, to the totals
    // the last shard publishes.
    let (out, secret, nonce) = class_counts_run(Some(1.0), Some(11));
    let (exact, _, _) = class_counts_run(None, None);
    let r = &out.receipt;
    let vk = out.vk_bytes();
    assert_eq!(r.shards.len(), 3);
    assert_eq!(r.verify(&vk).unwrap(), Verdict::Valid);
    let n = r.circuit.params.noise.clone().expect("noise in the header");
    assert_eq!(
        (n.mechanism.as_str(), n.epsilon, n.sensitivity),
        ("discrete_laplace", 1.0, 2)
    );
    // The released values are the exact ones plus the noise drawn from
    // Poseidon(salt, nonce): what the owner computes natively is what the
    // circuit proves.
    let want = n.sampler().sample(noise::seed(secret.0, nonce), 2);
    let got: Vec<i128> = r
        .aggregates()
        .unwrap()
        .iter()
        .zip(exact.receipt.aggregates().unwrap())
        .map(|(a, b)| a - b)
        .collect();
    assert_eq!(got, want);
    assert!(out.receipt.constraints["noise"] > 0);

    let rejects = |what: &str, change: &dyn Fn(&mut Receipt)| {
        let mut t = r.clone();
        change(&mut t);
        assert!(invalid(&t, &vk), "{what}");
    };
    // Other values: the noise cannot be chosen after the fact.
    rejects("changed value", &|t| {
        let mut v = t.aggregates().unwrap();
        v[0] += 1;
        t.values = v.iter().map(i128::to_string).collect();
        t.result = t.circuit.decode(t.rows, &v);
    });
    // Another stated epsilon, parameter or mechanism, or no noise at all.
    rejects("smaller stated epsilon", &|t| {
        t.circuit.params.noise.as_mut().unwrap().epsilon = 0.5
    });
    rejects("other parameter", &|t| {
        t.circuit.params.noise.as_mut().unwrap().p -= 1 << 40
    });
    rejects("other mechanism", &|t| {
        t.circuit.params.noise.as_mut().unwrap().mechanism = "gaussian".into()
    });
    rejects("no noise", &|t| t.circuit.params.noise = None);
    // Another job's nonce would draw other noise, and is another binding.
    rejects("changed nonce", &|t| {
        t.nonce = fr_to_hex(nonce_from(b"dp-2"))
    });
}

#[test]
fn noise_costs_what_the_estimate_says() {
    let m = import::load(fixture("models/breast_cancer.onnx")).unwrap();
    let d = head("data/breast_cancer.csv", 12);
    for (aggregate, epsilon) in [(Aggregate::ClassCounts, 1.0), (accuracy(), 0.1)] {
        let spec = compile(
            &m.model,
            &m.onnx_sha256,
            &d,
            &request(aggregate, Some(epsilon)),
        )
        .unwrap();
        let (built, parts) = zkgate_zkml::circuit::count(&spec).unwrap();
        assert_eq!(zkgate_zkml::cost::constraints(&spec), built);
        assert!(parts["noise"] > 0);
    }
}

/// The best a researcher can do to tell two datasets apart from one
/// release, over `n` seeds: the share of right guesses of the likelihood
/// test `released >= exact + shift / 2` between exact values `0` and
/// `shift` (one row's whole contribution).
fn attack_success(noise: &zkgate_statement::Noise, shift: i128, n: u64) -> f64 {
    let sampler = noise.sampler();
    let mut right = 0u64;
    for i in 0..n {
        let seed = noise::seed(Fr::from(i), Fr::from(7u64));
        let e = sampler.sample(seed, 2);
        // Dataset D (exact 0) with the first draw, D' (exact `shift`) with
        // the second: the test says D' when the release is past halfway.
        right += u64::from(2 * e[0] < shift);
        right += u64::from(2 * (shift + e[1]) >= shift);
    }
    right as f64 / (2 * n) as f64
}

/// A researcher's goal: whether one person is in the data, or their value,
/// from two jobs whose answers differ by that person alone (differencing,
/// or a selector model). Under noise, no test tells the neighbours apart
/// better than epsilon-DP allows (measured over many draws).
#[test]
fn red_team_differencing_and_selector_attacks_see_noise() {
    // epsilon-DP bounds any test's success at telling neighbours apart by
    // e^eps / (1 + e^eps): 0.731 at the shipped per-job epsilon of 1.
    let m = import::load(fixture("models/breast_cancer.onnx")).unwrap();
    let d = head("data/breast_cancer.csv", 12);
    let regressor = import::load(fixture("models/mlp.onnx")).unwrap();
    let tab = head("data/tabular.csv", 12);
    let n = 4000u64;
    for epsilon in [1.0f64, 0.5] {
        let bound = epsilon.exp() / (1.0 + epsilon.exp());
        let slack = 4.0 * (0.25 / (2 * n) as f64).sqrt();
        // Differencing: two accuracy jobs over datasets that differ in one
        // row's label move the count by one.
        let spec = compile(
            &m.model,
            &m.onnx_sha256,
            &d,
            &request(accuracy(), Some(epsilon)),
        )
        .unwrap();
        let noise = spec.params.noise.clone().unwrap();
        assert_eq!(noise.sensitivity, 1);
        let s = attack_success(&noise, 1, n);
        assert!(
            s <= bound + slack,
            "differencing at eps {epsilon}: {s} > {bound}"
        );
        assert!(s > 0.5, "the release still carries the count");
        // Selector: a model whose output is one person's value summed over
        // the dataset (a regression model: a classifier's outputs are
        // proved through their argmax only). Whatever the model, a row
        // moves the sum by at most the sensitivity, the proven width of the
        // output range, and the noise is scaled to it: the person's value,
        // even at its extremes, is no easier to tell than one count.
        let spec = compile(
            &regressor.model,
            &regressor.onnx_sha256,
            &tab,
            &JobRequest {
                input_columns: Some((0..13).map(|i| format!("f{i}")).collect()),
                ..request(Aggregate::Sum, Some(epsilon))
            },
        )
        .unwrap();
        let noise = spec.params.noise.clone().unwrap();
        let shift = noise.sensitivity as i128;
        assert!(shift > 1000, "a sum's sensitivity is the output range");
        let s = attack_success(&noise, shift, n);
        assert!(
            s <= bound + slack,
            "selector at eps {epsilon}: {s} > {bound}"
        );
        // And the noise is of the order of one row's whole range.
        let sd = noise.std_dev();
        assert!(
            sd > 1.3 * shift as f64 / epsilon,
            "sd {sd} for sensitivity {shift}"
        );
    }
}
