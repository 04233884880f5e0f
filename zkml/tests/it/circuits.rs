//! The job circuit on every fixture model: an honest witness satisfies it,
//! a false statement does not, and unsupported input fails clearly.

use crate::common;

use ark_ff::AdditiveGroup;
use common::{fixture, head};
use zkgate_circuits::Fr;
use zkgate_statement::{nonce_from, Aggregate, Statement};
use zkgate_zkml::circuit::Witness;
use zkgate_zkml::dataset::{declared_schema, Dataset, Secret};
use zkgate_zkml::import;
use zkgate_zkml::job::{compile, JobRequest};
use zkgate_zkml::prove::check_satisfied;
use zkgate_zkml::reference::agreement;
use zkgate_zkml::spec::evaluate;

pub(crate) fn statement_for(
    spec: &zkgate_zkml::spec::CircuitSpec,
    d: &Dataset,
    secret: &Secret,
) -> Statement {
    let eval = evaluate(spec, &d.values).unwrap();
    Statement {
        commitment: d.commitment(secret),
        rows: d.rows() as u64,
        nonce: nonce_from(b"j"),
        circuit_id: spec.id(),
        offset: 0,
        active: d.rows() as u64,
        link_in: Fr::ZERO,
        link_out: Fr::ZERO,
        suppress_below: spec.threshold_input(true),
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
        // ReLU6 and HardSigmoid (clamps), as exported.
        (
            "exports/clip_hard_sigmoid_mlp",
            "data/breast_cancer.csv",
            2,
            8,
            Aggregate::Accuracy {
                label: "label".into(),
            },
        ),
        // Elu and Selu, Softplus and HardSwish (secant tables), a Binarizer
        // at the input (trees), as exported.
        (
            "exports/elu_selu_mlp",
            "data/breast_cancer.csv",
            2,
            8,
            Aggregate::Accuracy {
                label: "label".into(),
            },
        ),
        (
            "exports/softplus_hardswish_mlp",
            "data/breast_cancer.csv",
            2,
            8,
            Aggregate::Accuracy {
                label: "label".into(),
            },
        ),
        (
            "exports/sk_binarizer_logreg",
            "data/breast_cancer.csv",
            2,
            8,
            Aggregate::Accuracy {
                label: "label".into(),
            },
        ),
        // A OneHotEncoder of an integer column, the others passed through.
        (
            "exports/sk_onehot_ridge",
            "data/tabular.csv",
            3,
            8,
            Aggregate::Mae {
                label: "target".into(),
            },
        ),
        // BatchNormalization and LeakyRelu, as exported.
        (
            "exports/bn_leaky_mlp",
            "data/breast_cancer.csv",
            2,
            8,
            Aggregate::Accuracy {
                label: "label".into(),
            },
        ),
    ];
    let secret = Secret::random(&mut rand::thread_rng());
    for (model, data, rows, _bits, aggregate) in cases {
        let path = if model.contains('/') {
            format!("{model}.onnx")
        } else {
            format!("models/{model}.onnx")
        };
        let m = import::load(fixture(&path)).unwrap();
        let d = head(data, rows);
        let columns = match model {
            "linreg" | "exports/sk_onehot_ridge" => {
                Some((0..13).map(|i| format!("f{i}")).collect())
            }
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
                epsilon: None,
            },
        )
        .unwrap();
        let st = statement_for(&spec, &d, &secret);
        check_satisfied(
            &spec,
            Witness {
                row_base: 0,
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
                    row_base: 0,
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
                    row_base: 0,
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
    let d = head("data/breast_cancer.csv", 569);
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
            epsilon: None,
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
        epsilon: None,
    };
    // A CSV that lacks some of the model's columns.
    let d = Dataset::infer_from_csv(
        std::fs::read(fixture("bad/wrong_columns.csv"))
            .unwrap()
            .as_slice(),
        16,
    )
    .unwrap();
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
    let tabular = declared_schema(&fixture("data/tabular.csv")).unwrap();
    let e = Dataset::from_csv_path(fixture("bad/bad_cells.csv"), &tabular).unwrap_err();
    assert!(e.to_string().contains("line 4, column `f5`"), "{e}");
    // A value outside its column's declared range.
    let e = Dataset::from_csv_path(fixture("bad/overflow.csv"), &tabular).unwrap_err();
    assert!(e.to_string().contains("outside the declared"), "{e}");
    // Aggregates the model cannot provide.
    let d = head("data/tabular.csv", 4);
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

/// `rows` rows of a fixture CSV starting after `skip`, against its declared
/// schema.
fn rows_from(rel: &str, skip: usize, rows: usize) -> Dataset {
    let path = fixture(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let mut kept = vec![lines.next().unwrap()];
    kept.extend(lines.skip(skip).take(rows));
    let schema = declared_schema(&path).unwrap();
    Dataset::from_csv_reader(kept.join("\n").as_bytes(), &schema).unwrap()
}

#[test]
fn the_circuit_follows_from_public_facts_not_from_rows() {
    // Same model, schema, row count and request over two disjoint row sets
    // (and over rows scaled down to a tenth of their values): one circuit.
    let cases = [
        ("mlp", "data/tabular.csv", Aggregate::Mean, 13usize),
        (
            "breast_cancer",
            "data/breast_cancer.csv",
            Aggregate::Confusion {
                label: "label".into(),
            },
            0,
        ),
        (
            "linreg",
            "data/tabular.csv",
            Aggregate::CountAtLeast { threshold: 2.5 },
            13,
        ),
        (
            "linreg",
            "data/tabular.csv",
            Aggregate::Mse {
                label: "target".into(),
            },
            13,
        ),
    ];
    for (model, data, aggregate, features) in cases {
        let m = import::load(fixture(&format!("models/{model}.onnx"))).unwrap();
        let request = JobRequest {
            aggregate,
            input_columns: (features > 0).then(|| (0..features).map(|i| format!("f{i}")).collect()),
            quant: Default::default(),
            epsilon: None,
        };
        let a = rows_from(data, 0, 20);
        let b = rows_from(data, 20, 20);
        assert_ne!(a.values, b.values);
        let mut small = a.clone();
        for (col, decl) in small.values.iter_mut().zip(&a.schema.columns) {
            if decl.kind == zkgate_statement::schema::Kind::Real {
                col.iter_mut().for_each(|v| *v /= 10);
            }
        }
        let specs: Vec<_> = [&a, &b, &small]
            .into_iter()
            .map(|d| compile(&m.model, &m.onnx_sha256, d, &request).unwrap())
            .collect();
        assert_eq!(specs[0].id(), specs[1].id(), "{model}");
        assert_eq!(specs[0].id(), specs[2].id(), "{model}");
        assert_eq!(specs[0].header(), specs[1].header());
        // Every row set is proved by that one circuit.
        let secret = Secret::random(&mut rand::thread_rng());
        for d in [&a, &b] {
            let st = statement_for(&specs[0], d, &secret);
            check_satisfied(
                &specs[0],
                Witness {
                    row_base: 0,
                    columns: &d.values,
                    secret: &secret,
                    statement: &st,
                    links: Default::default(),
                },
            )
            .unwrap();
        }
        // A different declared range is a different circuit.
        let mut narrower = a.clone();
        narrower.schema.columns[features.saturating_sub(1)].max /= 2.0;
        let other = compile(&m.model, &m.onnx_sha256, &narrower, &request).unwrap();
        assert_ne!(
            other.id(),
            specs[0].id(),
            "{model}: the schema is in the id"
        );
    }
}

#[test]
fn a_header_that_is_not_the_models_quantization_is_named() {
    let model_mismatch =
        |m: &zkgate_zkml::ir::Model, sha: &str, h: &zkgate_statement::SpecHeader| {
            zkgate_zkml::job::rebuild(m, sha, h).err()
        };
    let m = import::load(fixture("models/mlp.onnx")).unwrap();
    let d = rows_from("data/tabular.csv", 0, 8);
    let request = JobRequest {
        aggregate: Aggregate::Mean,
        input_columns: Some((0..13).map(|i| format!("f{i}")).collect()),
        quant: Default::default(),
        epsilon: None,
    };
    let spec = compile(&m.model, &m.onnx_sha256, &d, &request).unwrap();
    let header = spec.header().with_shard_rows(4);
    assert_eq!(model_mismatch(&m.model, &m.onnx_sha256, &header), None);
    // The owner proved some other plan under this model's name.
    let mut forged = header.clone();
    forged.plan_sha256 = "00".repeat(32);
    let why = model_mismatch(&m.model, &m.onnx_sha256, &forged).unwrap();
    assert!(why.contains("plan is not this model's"), "{why}");
    // Another quantization, or other columns, or another model.
    let mut other = header.clone();
    other.quant.act_bits += 2;
    let why = model_mismatch(&m.model, &m.onnx_sha256, &other).unwrap();
    assert!(why.contains("plan"), "{why}");
    let mut other = header.clone();
    other.params.bits += 1;
    let why = model_mismatch(&m.model, &m.onnx_sha256, &other).unwrap();
    assert!(why.contains("`params`"), "{why}");
    let lin = import::load(fixture("models/linreg.onnx")).unwrap();
    let why = model_mismatch(&lin.model, &lin.onnx_sha256, &header).unwrap();
    assert!(why.contains("another model"), "{why}");
}
