//! The compiled prover (`zkgate_zkml::compiled`) against ark-groth16's on
//! the same circuits: the same witness as the constraint system it
//! replaces, and the same proof bytes on the same randomness, for every
//! fixture model and real export and both reductions (owner keys and the
//! ceremony keys' odd coset).

use crate::common::{fixture, head};
use ark_ff::AdditiveGroup;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, SynthesisMode};
use rand::SeedableRng;
use zkgate_circuits::Fr;
use zkgate_statement::groth16::{to_bytes, Proof};
use zkgate_statement::{nonce_from, Aggregate, Statement};
use zkgate_zkml::ceremony::OddCosetReduction;
use zkgate_zkml::circuit::{JobCircuit, Witness};
use zkgate_zkml::compiled::{witness::assign, Compiled};
use zkgate_zkml::dataset::{Dataset, Secret};
use zkgate_zkml::import;
use zkgate_zkml::job::{compile, JobRequest};
use zkgate_zkml::prove::{self, ProvingKey};
use zkgate_zkml::spec::{evaluate, CircuitSpec};

type Rng = rand_chacha::ChaCha20Rng;

struct Case {
    name: String,
    spec: CircuitSpec,
    data: Dataset,
    statement: Statement,
}

fn case(name: &str, model: &str, data: &str, request: JobRequest, secret: &Secret) -> Option<Case> {
    let m = import::load(fixture(model)).ok()?;
    let d = head(data, 2);
    let spec = compile(&m.model, &m.onnx_sha256, &d, &request).ok()?;
    let mut aggregates = evaluate(&spec, &d.values).unwrap().aggregates;
    let nonce = nonce_from(name.as_bytes());
    if let Some(noise) = &spec.params.noise {
        // The circuit releases the values with the noise it draws.
        let seed = zkgate_circuits::noise::seed(secret.0, nonce);
        let draws = noise.sampler().sample(seed, aggregates.len());
        aggregates.iter_mut().zip(&draws).for_each(|(a, d)| *a += d);
    }
    let statement = Statement {
        commitment: d.commitment(secret),
        rows: d.rows() as u64,
        nonce,
        circuit_id: spec.id(),
        offset: 0,
        active: d.rows() as u64,
        link_in: Fr::ZERO,
        link_out: Fr::ZERO,
        suppress_below: spec.threshold_input(true),
        aggregates,
    };
    Some(Case {
        name: name.into(),
        spec,
        data: d,
        statement,
    })
}

impl Case {
    fn witness<'a>(&'a self, secret: &'a Secret) -> Witness<'a> {
        Witness {
            row_base: 0,
            columns: &self.data.values,
            secret,
            statement: &self.statement,
            links: Default::default(),
        }
    }
}

/// The fixture models and every export that compiles (the few refused on
/// purpose are named).
fn cases(secret: &Secret) -> Vec<Case> {
    let label = |l: &str| Aggregate::Accuracy { label: l.into() };
    let request = |aggregate, columns: Option<Vec<String>>, epsilon| JobRequest {
        aggregate,
        input_columns: columns,
        quant: Default::default(),
        epsilon,
    };
    let f = |n: usize, p: &str| Some((0..n).map(|i| format!("{p}{i}")).collect());
    let mut out = vec![
        case(
            "mnist_mlp",
            "models/mnist_mlp.onnx",
            "data/digits28.csv",
            request(label("label"), None, None),
            secret,
        ),
        case(
            "lenet_small",
            "models/lenet_small.onnx",
            "data/digits28.csv",
            request(Aggregate::ClassCounts, f(784, "p"), None),
            secret,
        ),
        case(
            "digits",
            "models/digits.onnx",
            "data/digits.csv",
            request(
                Aggregate::Confusion {
                    label: "label".into(),
                },
                None,
                None,
            ),
            secret,
        ),
        case(
            "linreg",
            "models/linreg.onnx",
            "data/tabular.csv",
            request(
                Aggregate::Mae {
                    label: "target".into(),
                },
                f(13, "f"),
                None,
            ),
            secret,
        ),
        case(
            "breast_cancer noised",
            "models/breast_cancer.onnx",
            "data/breast_cancer.csv",
            request(label("label"), None, Some(1.0)),
            secret,
        ),
    ];
    let mut names: Vec<String> = std::fs::read_dir(fixture("exports"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".onnx").map(str::to_string)
        })
        .collect();
    names.sort();
    let refused = ["prelu_channels_mlp", "sk_imputer_zero"];
    let mut wrong = vec![];
    for name in &names {
        #[derive(serde::Deserialize)]
        struct Meta {
            dataset: String,
            columns: Vec<String>,
            classifier: bool,
        }
        let text = std::fs::read_to_string(fixture(&format!("exports/{name}.json"))).unwrap();
        let meta: Meta = serde_json::from_str(&text).unwrap();
        let aggregate = if meta.classifier {
            Aggregate::ClassCounts
        } else {
            Aggregate::Mean
        };
        let c = case(
            name,
            &format!("exports/{name}.onnx"),
            &format!("data/{}.csv", meta.dataset),
            request(aggregate, Some(meta.columns), None),
            secret,
        );
        if c.is_none() != refused.contains(&name.as_str()) {
            wrong.push(name.clone());
        }
        out.push(c);
    }
    assert!(
        wrong.is_empty(),
        "compiled or refused unexpectedly: {wrong:?}"
    );
    let out: Vec<Case> = out.into_iter().flatten().collect();
    assert!(
        out.len() >= 5 + names.len() - refused.len(),
        "{}",
        out.len()
    );
    out
}

/// The assignment ark-groth16's prover builds (its constraint system with
/// matrices), as one vector.
fn ark_assignment(spec: &CircuitSpec, w: Witness<'_>) -> Vec<Fr> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: true,
        generate_lc_assignments: false,
    });
    JobCircuit {
        spec,
        witness: Some(w),
        counts: None,
        tape: Default::default(),
    }
    .generate_constraints(cs.clone())
    .unwrap();
    cs.finalize();
    let cs = cs.into_inner().unwrap();
    let mut z = cs.instance_assignment().unwrap().to_vec();
    z.extend_from_slice(cs.witness_assignment().unwrap());
    z
}

fn bytes(p: &Proof) -> Vec<u8> {
    to_bytes(p)
}

#[test]
fn the_compiled_prover_gives_ark_groth16s_proof_byte_for_byte_for_both_reductions() {
    let secret = Secret::random(&mut Rng::seed_from_u64(1));
    let cases = cases(&secret);
    for (k, c) in cases.iter().enumerate() {
        let w = c.witness(&secret);
        // The witness alone equals the system's assignment, and has the
        // compiled circuit's shape.
        let compiled = Compiled::of(&c.spec).unwrap();
        let z = assign(&c.spec, &compiled, w).unwrap();
        assert_eq!(z, ark_assignment(&c.spec, w), "{}", c.name);

        let (pk, vk) = prove::setup(&c.spec, &mut Rng::seed_from_u64(k as u64)).unwrap();
        let ours = prove::prove(&c.spec, &pk, w, &mut Rng::seed_from_u64(99)).unwrap();
        let ark = prove::ark_prove_with::<ark_groth16::r1cs_to_qap::LibsnarkReduction, _>(
            &c.spec,
            &pk,
            w,
            &mut Rng::seed_from_u64(99),
        )
        .unwrap();
        assert_eq!(bytes(&ours), bytes(&ark), "{}", c.name);
        assert!(zkgate_statement::groth16::verify(&vk, &c.statement, &ours).unwrap());
        if ["digits", "sk_random_forest", "torch_cnn"].contains(&c.name.as_str()) {
            odd_coset_agrees(c, &secret);
        }
    }
}

/// The ceremony keys' reduction on one circuit: the same proof as
/// ark-groth16's, and a false claim's proof does not verify.
fn odd_coset_agrees(c: &Case, secret: &Secret) {
    use ark_groth16::Groth16;
    use ark_snark::SNARK;
    let w = c.witness(secret);
    let circuit = JobCircuit {
        spec: &c.spec,
        witness: None,
        counts: None,
        tape: Default::default(),
    };
    // A key for snarkjs's reduction (what a ceremony ends with).
    let (pk, _): (ProvingKey, _) =
        Groth16::<ark_bn254::Bn254, OddCosetReduction>::circuit_specific_setup(
            circuit,
            &mut Rng::seed_from_u64(5),
        )
        .unwrap();
    let vk = prove::verifying_key(&pk);
    let ours =
        prove::prove_with::<OddCosetReduction, _>(&c.spec, &pk, w, &mut Rng::seed_from_u64(7))
            .unwrap();
    let ark =
        prove::ark_prove_with::<OddCosetReduction, _>(&c.spec, &pk, w, &mut Rng::seed_from_u64(7))
            .unwrap();
    assert_eq!(bytes(&ours), bytes(&ark), "{}", c.name);
    assert!(zkgate_statement::groth16::verify(&vk, &c.statement, &ours).unwrap());

    let mut lie = c.statement.clone();
    lie.aggregates[0] += 1;
    let w = Witness {
        statement: &lie,
        ..w
    };
    let p = prove::prove_with::<OddCosetReduction, _>(&c.spec, &pk, w, &mut Rng::seed_from_u64(7))
        .unwrap();
    assert!(!zkgate_statement::groth16::verify(&vk, &lie, &p).unwrap());
    assert!(!zkgate_statement::groth16::verify(&vk, &c.statement, &p).unwrap());
}

#[test]
fn a_witness_alone_replays_the_compiled_circuits_decisions_and_refuses_to_guess() {
    use zkgate_zkml::circuit::Tape;
    let secret = Secret::random(&mut Rng::seed_from_u64(3));
    let request = JobRequest {
        aggregate: Aggregate::Accuracy {
            label: "label".into(),
        },
        input_columns: None,
        quant: Default::default(),
        epsilon: None,
    };
    let c = case(
        "mnist_mlp",
        "models/mnist_mlp.onnx",
        "data/digits28.csv",
        request,
        &secret,
    )
    .unwrap();
    let compiled = Compiled::of(&c.spec).unwrap();
    // Its first layer sums 784 inputs: materialized before the rescale.
    assert!(compiled.decisions().iter().any(|d| *d));
    let values_only = |tape: Tape<'_>| {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_mode(SynthesisMode::Prove {
            construct_matrices: false,
            generate_lc_assignments: false,
        });
        JobCircuit {
            spec: &c.spec,
            witness: Some(c.witness(&secret)),
            counts: None,
            tape,
        }
        .generate_constraints(cs.clone())
        .map(|()| {
            let cs = cs.into_inner().unwrap();
            [
                cs.instance_assignment().unwrap(),
                cs.witness_assignment().unwrap(),
            ]
            .concat()
        })
    };
    // Nothing to replay: an error, never a guess.
    assert!(values_only(Tape::Read).is_err());
    // The recorded decisions give the system's assignment; one flipped
    // gives another shape, which the compiled circuit refuses.
    let z = values_only(Tape::Replay(compiled.decisions())).unwrap();
    assert_eq!(z, ark_assignment(&c.spec, c.witness(&secret)));
    let mut flipped = compiled.decisions().to_vec();
    flipped[0] = !flipped[0];
    let other = values_only(Tape::Replay(&flipped)).unwrap();
    assert!(compiled.check(&other).is_err());
}
