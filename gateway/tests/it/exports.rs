//! Models as researchers export them, through the real gateway under the
//! shipped `default` profile: a gradient-boosted forest (onnxmltools) and
//! a scikit-learn network with its Scaler and label output are admitted,
//! proved, and their receipts verify with the accuracy the float models
//! have on the same rows (within the one row a threshold sits on).

use crate::common;

use common::{fixture, head, manifest, wait_end};
use std::time::Duration;
use zkgate_client::Client;
use zkgate_gateway::config::{Config, Paths};
use zkgate_gateway::owner::setup;
use zkgate_gateway::store::{JobState, Store};
use zkgate_gateway::vault::Vault;
use zkgate_gateway::Gateway;
use zkgate_statement::{Aggregate, Receipt, Verdict};

/// The float model's accuracy on the first `rows` rows, from the
/// predictions committed next to the export.
fn float_accuracy(name: &str, rows: usize) -> f64 {
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(&format!("exports/{name}.json"))).unwrap(),
    )
    .unwrap();
    let csv = std::fs::read_to_string(fixture("data/breast_cancer.csv")).unwrap();
    let labels: Vec<f64> = csv
        .lines()
        .skip(1)
        .take(rows)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    let right = meta["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&labels)
        .filter(|(p, l)| p.as_f64() == Some(**l))
        .count();
    right as f64 / rows as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_forests_and_networks_run_under_the_default_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("gw");
    setup::init(&root, &Config::default(), None, "default").unwrap();
    let paths = Paths::new(&root);
    let rows = 60;
    let token = {
        let store = Store::open(&paths.db()).unwrap();
        let vault = Vault::open(&paths, None).unwrap();
        let csv = tmp.path().join("bc.csv");
        head("data/breast_cancer.csv", rows, &csv);
        common::import(&paths, &store, &vault, &csv, "breast_cancer");
        setup::add_researcher(&store, "alice", "oncology", 2, None).unwrap()
    };
    let gw = Gateway::open(&root, None).unwrap();
    let serving = common::Serving::start(gw.clone());
    let ca = std::fs::read(paths.tls_cert()).unwrap();
    let alice = Client::new(&serving.base, &token, Some(&ca)).unwrap();
    let accuracy = Aggregate::Accuracy {
        label: "label".into(),
    };
    for name in ["xgboost", "sk_mlp_classifier"] {
        let model = std::fs::read(fixture(&format!("exports/{name}.onnx"))).unwrap();
        let job = alice
            .submit(&manifest("breast_cancer", accuracy.clone()), model)
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let done = wait_end(&alice, &job.id, Duration::from_secs(600)).await;
        assert_eq!(done.state, JobState::Done, "{name}: {:?}", done.error);
        let r = Receipt::from_json(&alice.receipt(&job.id).await.unwrap().unwrap()).unwrap();
        let vk = alice.vk(&job.id).await.unwrap().unwrap();
        assert_eq!(r.verify(&vk).unwrap(), Verdict::Valid, "{name}");
        // At most one row apart: one breast-cancer value sits on an
        // XGBoost threshold, and the dataset's declared fixed point moves it
        // across: onnxruntime fed the quantized values flips the same row
        // (row 38), so the proof agrees with the exported model on the data
        // the gateway holds.
        let got = r.result["accuracy"].as_f64().unwrap();
        let want = float_accuracy(name, rows);
        assert!(
            (got - want).abs() * rows as f64 <= 1.0 + 1e-9,
            "{name}: {got} vs {want}"
        );
    }
    serving.stop().await;
}
