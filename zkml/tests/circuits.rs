//! The job circuit on every fixture model: an honest witness satisfies it,
//! a false statement does not, and unsupported input fails clearly.

mod common;

use ark_ff::AdditiveGroup;
use common::{fixture, head};
use zkgate_circuits::Fr;
use zkgate_statement::{nonce_from, Aggregate, Statement};
use zkgate_zkml::circuit::Witness;
use zkgate_zkml::dataset::{Dataset, Secret};
use zkgate_zkml::import;
use zkgate_zkml::job::{compile, JobRequest};
use zkgate_zkml::prove::check_satisfied;
use zkgate_zkml::reference::agreement;
use zkgate_zkml::spec::evaluate;
use zkgate_zkml::Error;

fn statement_for(spec: &zkgate_zkml::spec::CircuitSpec, d: &Dataset, secret: &Secret) -> Statement {
    let eval = evaluate(spec, &d.values).unwrap();
    Statement {
        commitment: d.commitment(secret),
        rows: spec.rows,
        nonce: nonce_from(b"j"),
        circuit_id: spec.id(),
        offset: 0,
        link_in: Fr::ZERO,
        link_out: Fr::ZERO,
        aggregates: eval.aggregates,
    }
}

#[test]
fn every_fixture_model_compiles_to_a_satisfiable_circuit_and_rejects_a_false_claim() {
    let cases = [
        (
            "lenet_small",
            "data/digits28.csv",
            1usize,
            8usize,
            Aggregate::ClassCounts,
        ),
        (
            "mnist_mlp",
            "data/digits28.csv",
            2,
            8,
            Aggregate::Accuracy {
                label: "label".into(),
            },
        ),
        (
            "digits",
            "data/digits.csv",
            3,
            8,
            Aggregate::Confusion {
                label: "label".into(),
            },
        ),
        (
            "linreg",
            "data/tabular.csv",
            4,
            16,
            Aggregate::Mae {
                label: "target".into(),
            },
        ),
    ];
    let secret = Secret::random(&mut rand::thread_rng());
    for (model, data, rows, bits, aggregate) in cases {
        let m = import::load(fixture(&format!("models/{model}.onnx"))).unwrap();
        let d = head(data, rows, bits);
        let columns = match model {
            "linreg" => Some((0..13).map(|i| format!("f{i}")).collect()),
            "lenet_small" => Some((0..784).map(|i| format!("p{i}")).collect()),
            _ => None,
        };
        let spec = compile(
            &m.model,
            &m.onnx_sha256,
            &d,
            &JobRequest {
                aggregate,
                input_columns: columns,
                quant: Default::default(),
            },
        )
        .unwrap();
        let st = statement_for(&spec, &d, &secret);
        check_satisfied(
            &spec,
            Witness {
                columns: &d.values,
                secret: &secret,
                statement: &st,
                links: Default::default(),
            },
        )
        .unwrap();

        let mut lie = st.clone();
        lie.aggregates[0] += 1;
        assert!(
            check_satisfied(
                &spec,
                Witness {
                    columns: &d.values,
                    secret: &secret,
                    statement: &lie,
                    links: Default::default(),
                }
            )
            .is_err(),
            "{model}: false aggregate"
        );
        let mut other_data = d.clone();
        other_data.values[spec.input_columns[0]][0] ^= 1;
        assert!(
            check_satisfied(
                &spec,
                Witness {
                    columns: &other_data.values,
                    secret: &secret,
                    statement: &st,
                    links: Default::default(),
                }
            )
            .is_err(),
            "{model}: rows not committed"
        );
    }
}

#[test]
fn breast_cancer_quantized_predictions_agree_with_float_on_all_rows() {
    let m = import::load(fixture("models/breast_cancer.onnx")).unwrap();
    let d = Dataset::from_csv_path(fixture("data/breast_cancer.csv"), 16).unwrap();
    assert_eq!(d.rows(), 569);
    let spec = compile(
        &m.model,
        &m.onnx_sha256,
        &d,
        &JobRequest {
            aggregate: Aggregate::Confusion {
                label: "label".into(),
            },
            input_columns: None,
            quant: Default::default(),
        },
    )
    .unwrap();
    let eval = evaluate(&spec, &d.values).unwrap();
    let ag = agreement(&m, &d, &spec, &eval).unwrap();
    assert!(ag.class_agreement.unwrap() >= 0.995, "{ag:?}");
}

#[test]
fn job_errors_are_clear() {
    let m = import::load(fixture("models/mlp.onnx")).unwrap();
    let req = |cols: Option<Vec<String>>, aggregate| JobRequest {
        aggregate,
        input_columns: cols,
        quant: Default::default(),
    };
    // A CSV that lacks some of the model's columns.
    let d = Dataset::from_csv_path(fixture("bad/wrong_columns.csv"), 16).unwrap();
    let all: Vec<String> = (0..13).map(|i| format!("f{i}")).collect();
    let e = compile(
        &m.model,
        &m.onnx_sha256,
        &d,
        &req(Some(all), Aggregate::Mean),
    )
    .unwrap_err();
    assert!(e.to_string().contains("no column `f10`"), "{e}");
    // Non-numeric cells and overflowing values.
    let e = Dataset::from_csv_path(fixture("bad/bad_cells.csv"), 16).unwrap_err();
    assert!(e.to_string().contains("line 4, column `f5`"), "{e}");
    let e = Dataset::from_csv_path(fixture("bad/overflow.csv"), 16).unwrap_err();
    assert!(matches!(e, Error::Overflow(_)), "{e}");
    // Aggregates the model cannot provide.
    let d = head("data/tabular.csv", 4, 16);
    let cols: Vec<String> = (0..13).map(|i| format!("f{i}")).collect();
    let e = compile(
        &m.model,
        &m.onnx_sha256,
        &d,
        &req(Some(cols.clone()), Aggregate::ClassCounts),
    )
    .unwrap_err();
    assert!(e.to_string().contains("classifier"), "{e}");
    let e = compile(
        &m.model,
        &m.onnx_sha256,
        &d,
        &req(Some(cols[..5].to_vec()), Aggregate::Mean),
    )
    .unwrap_err();
    assert!(e.to_string().contains("takes 13 inputs"), "{e}");
    let e = compile(
        &m.model,
        &m.onnx_sha256,
        &d,
        &req(
            None,
            Aggregate::Mse {
                label: "nope".into(),
            },
        ),
    )
    .unwrap_err();
    assert!(e.to_string().contains("no column `nope`"), "{e}");
}
