//! The gateway over real HTTPS on loopback: init, import, researchers,
//! submit, poll, receipt, verify; and every bad request answered with a
//! clear JSON error while the server keeps serving.

use crate::common;

use common::{fixture, head};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zkgate_client::{ApiError, Client};
use zkgate_gateway::config::{Config, Paths};
use zkgate_gateway::owner::setup;
use zkgate_gateway::store::{JobState, Manifest, Store};
use zkgate_gateway::vault::Vault;
use zkgate_gateway::Gateway;
use zkgate_statement::Aggregate;
use zkgate_statement::{Receipt, Verdict};
use zkgate_zkml::dataset::declared_schema;

fn api_err<T: std::fmt::Debug>(a: zkgate_client::Answer<T>) -> ApiError {
    a.expect("transport works").expect_err("an API error")
}

fn manifest(aggregate: Aggregate, key: Option<&str>) -> Manifest {
    Manifest {
        dataset: "bc".into(),
        columns: None,
        aggregate,
        idempotency_key: key.map(str::to_string),
        quant: Default::default(),
        chain_job: None,
        epsilon: None,
        nonce: None,
        question: None,
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_over_https() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("gw");
    let mut config = Config::default();
    config.limits.max_upload_bytes = 64 * 1024;
    // The metrics need the owner's token (its SHA-256 in config.toml).
    config.metrics_token_sha256 = Some(zkgate_gateway::owner::setup::token_hash("owner-metrics"));
    // 12 rows in shards of 11: two shard proofs (the last padded), one key.
    config.limits.shard_rows = 11;
    // This test is about the gateway's mechanics on 12 rows; the shipped
    // profiles (tested in tests/policy.rs) would rightly refuse so few.
    common::init_permissive(&root, &config);
    assert!(
        setup::init(&root, &config, None, "open").is_err(),
        "init refuses an existing data dir"
    );
    let paths = Paths::new(&root);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for secret in [paths.identity(), paths.tls_key()] {
            assert_eq!(
                std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
                0o600,
                "{}",
                secret.display()
            );
        }
    }

    let csv = tmp.path().join("bc.csv");
    let first_row = head("data/breast_cancer.csv", 12, &csv);
    let (alice_token, bob_token, meta) = {
        let store = Store::open(&paths.db()).unwrap();
        let vault = Vault::open(&paths, None).unwrap();
        assert_eq!(format!("{vault:?}"), "Vault(<redacted>)");
        // A bad CSV is refused and leaves nothing behind.
        let e = setup::import_dataset(
            &paths,
            &store,
            &vault,
            &fixture("bad/bad_cells.csv"),
            "bad",
            &declared_schema(&fixture("data/tabular.csv")).unwrap(),
            0,
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 4, column `f5`"), "{e}");
        assert!(store.dataset("bad").unwrap().is_none());
        assert!(!paths.datasets().join("bad.age").exists());
        let meta = setup::import_dataset(
            &paths,
            &store,
            &vault,
            &csv,
            "bc",
            &declared_schema(&csv).unwrap(),
            0,
        )
        .unwrap();
        (
            setup::add_researcher(&store, "alice", "", 0, None).unwrap(),
            setup::add_researcher(&store, "bob", "", 0, None).unwrap(),
            meta,
        )
    };

    let serving = common::Serving::start(Gateway::open(&root, None).unwrap());
    let base = serving.base.clone();
    let ca = std::fs::read(paths.tls_cert()).unwrap();
    let alice = Client::new(&base, &alice_token, Some(&ca)).unwrap();
    let bob = Client::new(&base, &bob_token, Some(&ca)).unwrap();

    // Served with the shard size the gateway proves the dataset in (what
    // a question pins).
    let listed = alice.datasets().await.unwrap().unwrap();
    let shard_rows = zkgate_gateway::question::shard_rows(&meta, 11);
    assert_eq!(
        listed,
        vec![zkgate_gateway::store::DatasetMeta {
            shard_rows: Some(shard_rows),
            ezkl_hash: None,
            ..meta.clone()
        }]
    );

    let model = std::fs::read(fixture("models/breast_cancer.onnx")).unwrap();
    let t0 = Instant::now();
    let job = alice
        .submit(
            &manifest(
                Aggregate::Confusion {
                    label: "label".into(),
                },
                Some("k1"),
            ),
            model.clone(),
        )
        .await
        .unwrap()
        .unwrap();
    let again = alice
        .submit(
            &manifest(
                Aggregate::Confusion {
                    label: "label".into(),
                },
                Some("k1"),
            ),
            model.clone(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, job.id, "same idempotency key, same job");

    // Bad requests, each with its stable code; the server keeps serving.
    let nobody = Client::new(&base, "zkg_wrong", Some(&ca)).unwrap();
    let e = api_err(nobody.job(&job.id).await);
    assert_eq!((e.status, e.code.as_str()), (401, "unauthorized"));
    let e = api_err(bob.job(&job.id).await);
    assert_eq!(
        (e.status, e.code.as_str()),
        (404, "not_found"),
        "another researcher's job"
    );
    let e = api_err(
        bob.submit(
            &manifest(Aggregate::ClassCounts, None),
            std::fs::read(fixture("bad/truncated.onnx")).unwrap(),
        )
        .await,
    );
    assert_eq!((e.status, e.code.as_str()), (400, "malformed_model"));
    let e = api_err(
        bob.submit(
            &manifest(Aggregate::ClassCounts, None),
            std::fs::read(fixture("bad/unsupported_op.onnx")).unwrap(),
        )
        .await,
    );
    assert_eq!((e.status, e.code.as_str()), (422, "unsupported_op"));
    assert!(
        e.message.contains("weird_sin") && e.message.contains("Sin"),
        "{}",
        e.message
    );
    let e = api_err(
        bob.submit(
            &manifest(Aggregate::ClassCounts, None),
            vec![0u8; 100 * 1024],
        )
        .await,
    );
    assert_eq!((e.status, e.code.as_str()), (413, "too_large"));
    let mut m = manifest(
        Aggregate::Confusion {
            label: "label".into(),
        },
        None,
    );
    m.columns = Some(vec!["no_such_column".into()]);
    let e = api_err(bob.submit(&m, model.clone()).await);
    assert_eq!((e.status, e.code.as_str()), (422, "unprocessable"));
    assert!(e.message.contains("no_such_column"), "{}", e.message);
    let e = api_err(
        bob.submit(
            &manifest(
                Aggregate::Accuracy {
                    label: "nope".into(),
                },
                None,
            ),
            model.clone(),
        )
        .await,
    );
    assert_eq!(e.status, 422);
    // The label cannot also feed the model: refused at submission, by the
    // rule compilation uses.
    let mut m = manifest(
        Aggregate::Accuracy {
            label: "label".into(),
        },
        None,
    );
    m.columns = Some(vec!["label".into()]);
    let e = api_err(bob.submit(&m, model.clone()).await);
    assert_eq!((e.status, e.code.as_str()), (422, "unprocessable"));
    assert!(e.message.contains("cannot also feed"), "{}", e.message);
    let mut m = manifest(Aggregate::ClassCounts, None);
    m.dataset = "missing".into();
    assert_eq!(api_err(bob.submit(&m, model.clone()).await).status, 404);
    assert_eq!(api_err(alice.receipt("job_nope").await).status, 404);

    // Wait for the job.
    let done = loop {
        let j = alice.job(&job.id).await.unwrap().unwrap();
        if j.state.is_terminal() {
            break j;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "job did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done.state, JobState::Done, "{:?}", done.error);
    let receipt = Receipt::from_json(&alice.receipt(&job.id).await.unwrap().unwrap()).unwrap();
    let vk = alice.vk(&job.id).await.unwrap().unwrap();
    assert_eq!(receipt.verify(&vk).unwrap(), Verdict::Valid);
    assert_eq!(
        receipt.commitment, meta.commitment,
        "proved against the published commitment"
    );
    assert_eq!(receipt.rows, 12);
    let shards: Vec<u64> = receipt.shards.iter().map(|s| s.rows).collect();
    assert_eq!(shards, [11, 1]);
    assert!(receipt.timings.contains_key("setup_s"));
    eprintln!(
        "submit to verified receipt: {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(
        api_err(alice.cancel(&job.id).await).status,
        409,
        "a finished job cannot be cancelled"
    );
    assert_eq!(alice.jobs().await.unwrap().unwrap().len(), 1);
    assert!(bob.jobs().await.unwrap().unwrap().is_empty());

    // Health, metrics, OpenAPI over the same TLS connection setup.
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(zkgate_chain::rpc::tls_with_ca(&ca).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    for token in [None, Some("wrong")] {
        let mut req = http.get(format!("{base}/metrics"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        assert_eq!(req.send().await.unwrap().status().as_u16(), 401);
    }
    let metrics = http
        .get(format!("{base}/metrics"))
        .bearer_auth("owner-metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("zkgate_jobs{state=\"done\"} 1"),
        "{metrics}"
    );
    let spec: serde_json::Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/v1/jobs"]["post"].is_object());

    // The same circuit again (another job, another nonce): the keys kept
    // from the first job are used, and the receipt verifies with them.
    let job2 = alice
        .submit(
            &manifest(
                Aggregate::Confusion {
                    label: "label".into(),
                },
                Some("k2"),
            ),
            model.clone(),
        )
        .await
        .unwrap()
        .unwrap();
    let done2 = loop {
        let j = alice.job(&job2.id).await.unwrap().unwrap();
        if j.state.is_terminal() {
            break j;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done2.state, JobState::Done, "{:?}", done2.error);
    let receipt2 = Receipt::from_json(&alice.receipt(&job2.id).await.unwrap().unwrap()).unwrap();
    // The setup step is seen either way (the key was kept: no new file).
    assert!(
        receipt2.timings.contains_key("setup_s"),
        "{:?}",
        receipt2.timings
    );
    assert_ne!(receipt2.nonce, receipt.nonce);
    assert_eq!(receipt2.verify(&vk).unwrap(), Verdict::Valid);
    assert_eq!(
        files_under(&paths.proving_keys()).len(),
        1,
        "one key proves every shard"
    );

    serving.stop().await;

    // Nothing in the data dir holds the rows in plaintext.
    let needle = first_row.split(',').take(3).collect::<Vec<_>>().join(",");
    for f in files_under(&root) {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&needle),
            "{} holds a plaintext row",
            f.display()
        );
        assert!(
            !text.contains("\"values\":[["),
            "{} holds quantized values in plaintext",
            f.display()
        );
    }
}
