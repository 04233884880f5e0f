//! The cost estimate, made from the spec alone, against the constraint
//! system built and counted, on every fixture model, for each kind of
//! aggregate and for whole, sharded and suppressed circuits.

use std::path::Path;
use zkgate_statement::Aggregate;
use zkgate_zkml::circuit::count;
use zkgate_zkml::cost::constraints;
use zkgate_zkml::dataset::Dataset;
use zkgate_zkml::job::{compile, JobRequest};

fn data(file: &str, rows: usize) -> Dataset {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/data")
        .join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    let head: Vec<&str> = text.lines().take(rows + 1).collect();
    let schema = zkgate_zkml::dataset::declared_schema(&p).unwrap();
    Dataset::from_csv_reader(head.join("\n").as_bytes(), &schema).unwrap()
}

fn check(model: &str, d: &Dataset, aggregate: Aggregate, columns: Option<Vec<String>>) {
    // `exports/NAME.onnx` for the real exports, else a hand-built model.
    let dir = if model.contains('/') { "" } else { "models" };
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(dir)
        .join(model);
    let m = zkgate_zkml::import::load(p).unwrap();
    let request = JobRequest {
        aggregate,
        input_columns: columns,
        quant: Default::default(),
        epsilon: None,
    };
    let spec = compile(&m.model, &m.onnx_sha256, d, &request).unwrap();
    let name = spec.aggregate.name();
    let mut specs = vec![spec.clone(), spec.with_shard_rows(11)];
    if spec.aggregate.has_cells() {
        specs.push(spec.with_suppression(3));
    }
    for s in specs {
        let counted = count(&s).unwrap().0;
        assert_eq!(
            constraints(&s),
            counted,
            "{model} {name}, {} of {} rows",
            s.shard_rows,
            d.rows()
        );
    }
}

fn features(n: usize) -> Option<Vec<String>> {
    Some((0..n).map(|i| format!("f{i}")).collect())
}

#[test]
fn the_estimate_is_the_count_on_every_fixture() {
    let tab = data("tabular.csv", 22);
    let label = || "target".to_string();
    check("linreg.onnx", &tab, Aggregate::Mean, features(13));
    check("mlp.onnx", &tab, Aggregate::Sum, features(13));
    check(
        "mlp.onnx",
        &tab,
        Aggregate::Mse { label: label() },
        features(13),
    );
    check(
        "mlp.onnx",
        &tab,
        Aggregate::Mae { label: label() },
        features(13),
    );
    check(
        "mlp.onnx",
        &tab,
        Aggregate::CountAtLeast { threshold: 2.0 },
        features(13),
    );
    let bc = data("breast_cancer.csv", 22);
    let label = || "label".to_string();
    let but_label = bc.columns().into_iter().filter(|c| *c != "label");
    check(
        "breast_cancer.onnx",
        &bc,
        Aggregate::ClassCounts,
        Some(but_label.collect()),
    );
    check(
        "breast_cancer.onnx",
        &bc,
        Aggregate::Accuracy { label: label() },
        None,
    );
    check(
        "breast_cancer.onnx",
        &bc,
        Aggregate::Confusion { label: label() },
        None,
    );
    let digits = data("digits.csv", 22);
    check(
        "digits.onnx",
        &digits,
        Aggregate::Confusion { label: label() },
        None,
    );
    let d28 = data("digits28.csv", 12);
    check(
        "mnist_mlp.onnx",
        &d28,
        Aggregate::Accuracy { label: label() },
        None,
    );
    check(
        "lenet_small.onnx",
        &d28,
        Aggregate::Accuracy { label: label() },
        None,
    );
    // Real exports: networks, linear models and tree ensembles.
    for m in [
        "exports/sk_logreg.onnx",
        "exports/sk_mlp_classifier.onnx",
        "exports/sk_random_forest.onnx",
        "exports/sk_gradient_boosting.onnx",
        "exports/xgboost.onnx",
        "exports/lightgbm.onnx",
        "exports/torch_mlp.onnx",
        "exports/torch_tanh_mlp.onnx",
    ] {
        check(m, &bc, Aggregate::Confusion { label: label() }, None);
    }
    for m in [
        "exports/sk_mlp_regressor.onnx",
        "exports/sk_random_forest_regressor.onnx",
        "exports/torch_sigmoid_regressor.onnx",
    ] {
        check(m, &tab, Aggregate::Mean, features(13));
    }
}
