//! Concurrent submissions cannot race past the admission checks: with a
//! limit of one active job, many submissions sent at once are answered
//! with exactly one job and 429 for the rest (without the admission lock,
//! 32 concurrent submissions were seen to get 3 jobs accepted).

use crate::common;

use common::{fixture, head};
use zkgate_client::Client;
use zkgate_gateway::config::{Config, Paths};
use zkgate_gateway::owner::setup;
use zkgate_gateway::store::{Manifest, Store};
use zkgate_gateway::vault::Vault;
use zkgate_gateway::Gateway;
use zkgate_statement::Aggregate;
use zkgate_zkml::dataset::declared_schema;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_submissions_respect_the_active_jobs_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("gw");
    let mut config = Config {
        plain_http: true,
        ..Config::default()
    };
    config.limits.max_active_jobs_per_researcher = 1;
    common::init_permissive(&root, &config);
    let paths = Paths::new(&root);
    let csv = tmp.path().join("bc.csv");
    // Enough rows that the one accepted job is still running while the
    // other submissions are answered.
    head("data/breast_cancer.csv", 120, &csv);
    let token = {
        let store = Store::open(&paths.db()).unwrap();
        let vault = Vault::open(&paths, None).unwrap();
        setup::import_dataset(
            &paths,
            &store,
            &vault,
            &csv,
            "bc",
            &declared_schema(&csv).unwrap(),
            0,
        )
        .unwrap();
        setup::add_researcher(&store, "alice", "", 0, None).unwrap()
    };
    let gw = common::Serving::start(Gateway::open(&root, None).unwrap());

    let model = std::fs::read(fixture("models/breast_cancer.onnx")).unwrap();
    let manifest = Manifest {
        dataset: "bc".into(),
        columns: None,
        aggregate: Aggregate::Accuracy {
            label: "label".into(),
        },
        idempotency_key: None,
        quant: Default::default(),
        chain_job: None,
        epsilon: None,
        nonce: None,
        question: None,
    };
    let sends = (0..32).map(|_| {
        let client = Client::new(&gw.base, &token, None).unwrap();
        let (m, model) = (manifest.clone(), model.clone());
        tokio::spawn(async move { client.submit(&m, model).await.unwrap() })
    });
    let mut accepted = 0;
    let mut limited = 0;
    for s in sends.collect::<Vec<_>>() {
        match s.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(e) if e.status == 429 => limited += 1,
            Err(e) => panic!("unexpected answer {e}"),
        }
    }
    assert_eq!((accepted, limited), (1, 31));
    gw.stop().await;
}
