//! A job proved with ezkl (`proof_system: ezkl`) through the gateway, then
//! checked as a researcher checks it, and tampered with.
//!
//! Needs a Python with ezkl installed, named by `ZKGATE_EZKL_PYTHON`
//! (`.ci/run` makes one from `bench/peers/requirements.txt`). Without it
//! the test says so and passes, unless `ZKGATE_REQUIRE_EZKL=1` (as in CI),
//! where a missing ezkl fails it.

use crate::common;

use common::{fixture, head, wait_end};
use std::path::PathBuf;
use std::time::Duration;
use zkgate_client::Client;
use zkgate_gateway::config::{Config, EzklConfig, Paths};
use zkgate_gateway::store::{JobState, Store};
use zkgate_gateway::vault::Vault;
use zkgate_gateway::{owner::setup, Gateway};
use zkgate_statement::ezkl::ProofSystem;
use zkgate_statement::field::fr_to_hex;
use zkgate_statement::{Aggregate, Receipt};

fn python() -> Option<PathBuf> {
    match std::env::var_os("ZKGATE_EZKL_PYTHON") {
        Some(p) => Some(p.into()),
        None if std::env::var("ZKGATE_REQUIRE_EZKL").as_deref() == Ok("1") => {
            panic!("ZKGATE_REQUIRE_EZKL=1 but ZKGATE_EZKL_PYTHON names no Python with ezkl")
        }
        None => {
            eprintln!("skipped: set ZKGATE_EZKL_PYTHON to a Python with ezkl installed");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ezkl_job_is_proved_checked_against_its_question_and_tamper_evident() {
    let Some(python) = python() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("gw");
    let ezkl = EzklConfig {
        python: python.clone(),
        srs_dir: "srs".into(),
        timeout_s: 900,
        memory_mb: 0,
        max_constraints: 400_000,
    };
    let mut config = Config::default();
    config.backends.ezkl = Some(ezkl);
    common::init_permissive(&root, &config);
    let paths = Paths::new(&root);
    let backend = zkgate_ezkl::Backend {
        python,
        srs_dir: root.join("srs"),
        timeout: Duration::from_secs(900),
        memory_mb: 0,
    };
    // A local SRS (insecure) of the size the 4-row linreg graph needs.
    backend.make_srs(15).unwrap();
    let csv = tmp.path().join("tab.csv");
    head("data/tabular.csv", 4, &csv);
    let token = {
        let store = Store::open(&paths.db()).unwrap();
        let vault = Vault::open(&paths, None).unwrap();
        common::import(&paths, &store, &vault, &csv, "tab");
        setup::add_researcher(&store, "alice", "", 0, None).unwrap()
    };
    let gw = common::Serving::start(Gateway::open(&root, None).unwrap());
    let ca = std::fs::read(paths.tls_cert()).unwrap();
    let client = Client::new(&gw.base, &token, Some(&ca)).unwrap();
    // The gateway publishes the dataset's ezkl hash when it starts.
    let published = client.datasets().await.unwrap().unwrap();
    let hash = published[0].ezkl_hash.clone().expect("an ezkl hash");

    let model_path = fixture("models/linreg.onnx");
    let model = std::fs::read(&model_path).unwrap();
    let mut m = common::tabular("tab", Aggregate::Sum);
    let q = zkgate_gateway::question::ask(&published[0], &m, &model, 0, None, [3; 32])
        .unwrap()
        .with_ezkl(&hash);
    q.check_self().unwrap();
    m.question = Some(q.clone());
    m.columns = Some(q.columns.clone());
    let job = client.submit(&m, model.clone()).await.unwrap().unwrap();
    let end = wait_end(&client, &job.id, Duration::from_secs(900)).await;
    assert_eq!(end.state, JobState::Done, "{:?}", end.error);
    let text = client.receipt(&job.id).await.unwrap().unwrap();
    let r = Receipt::from_json(&text).unwrap();
    assert_eq!(r.proof_system, ProofSystem::Ezkl);
    assert!(r.shards.is_empty());
    assert!(r.setup.starts_with("ezkl: halo2 with KZG"), "{}", r.setup);
    // The Groth16 verifier refuses it and says where it is checked.
    match r.verify(&[]) {
        Ok(zkgate_statement::Verdict::Invalid(why)) => assert!(why.contains("ezkl"), "{why}"),
        other => panic!("{other:?}"),
    }

    // The researcher's check: valid, and the sum is the float model's
    // within ezkl's quantization.
    let ok = zkgate_ezkl::verify_receipt(&backend, &q, &r, &model_path).unwrap();
    assert!(
        matches!(ok, Ok(zkgate_ezkl::Checked::Valid { .. })),
        "{ok:?}"
    );
    let sum = r.result["sum"][0].as_f64().unwrap();
    let rows = zkgate_zkml::dataset::Dataset::from_csv_path(
        &csv,
        &zkgate_zkml::dataset::declared_schema(&csv).unwrap(),
    )
    .unwrap();
    let imported = zkgate_zkml::import::load_bytes(&model).unwrap();
    let want: f64 = (0..4)
        .map(|i| {
            let x: Vec<f32> = (0..13).map(|c| rows.dequantize(c, i) as f32).collect();
            f64::from(imported.run_float(&x).unwrap()[0])
        })
        .sum();
    // ezkl reads inputs at scale 2^-10 and weights at 2^-10: within 5%.
    assert!(
        (sum - want).abs() < 0.05 * want.abs(),
        "ezkl {sum}, float {want}"
    );

    // A changed value.
    let mut bad = r.clone();
    bad.values[0] = (bad.values[0].parse::<i128>().unwrap() + 1).to_string();
    bad.result = zkgate_statement::ezkl::decode(
        &bad.circuit,
        bad.rows,
        &[bad.values[0].parse().unwrap()],
        bad.ezkl.as_ref().unwrap().output_scale,
    );
    let why = zkgate_ezkl::verify_receipt(&backend, &q, &bad, &model_path)
        .unwrap()
        .unwrap_err();
    assert!(why.contains("another value 0"), "{why}");

    // The proof replayed for another question (another nonce): the
    // receipt rebound to it fails at the binding instance.
    let mut q2 = q.clone();
    q2.nonce = hex_of([4; 32]);
    let mut replay = r.clone();
    replay.nonce = fr_to_hex(q2.job_nonce());
    let why = zkgate_ezkl::verify_receipt(&backend, &q2, &replay, &model_path)
        .unwrap()
        .unwrap_err();
    assert!(why.contains("another job"), "{why}");

    // Another dataset hash (in the question and the receipt alike).
    let other = format!("{}00", &hash[..hash.len() - 2]);
    let mut q3 = q.clone();
    q3.dataset.ezkl_hash = Some(other.clone());
    let mut r3 = r.clone();
    r3.ezkl.as_mut().unwrap().dataset_hash = other;
    r3.nonce = fr_to_hex(q3.job_nonce());
    let why = zkgate_ezkl::verify_receipt(&backend, &q3, &r3, &model_path)
        .unwrap()
        .unwrap_err();
    assert!(why.contains("another dataset"), "{why}");

    // Another model's circuit: the question's model file is required.
    let why = zkgate_ezkl::verify_receipt(&backend, &q, &r, &fixture("models/mlp.onnx"))
        .unwrap()
        .unwrap_err();
    assert!(why.contains("not the question's model"), "{why}");

    // The receipt's settings at another scale are refused before ezkl
    // compiles anything.
    let mut scaled = r.clone();
    scaled.ezkl.as_mut().unwrap().settings["run_args"]["input_scale"] = 3.into();
    let why = zkgate_ezkl::verify_receipt(&backend, &q, &scaled, &model_path)
        .unwrap()
        .unwrap_err();
    assert!(why.contains("scales"), "{why}");

    // The values read at another scale (the prover's settings and the
    // receipt's scale changed together, the result recomputed): the scale
    // is the question's graph's, not the receipt's.
    let mut rescaled = r.clone();
    let e = rescaled.ezkl.as_mut().unwrap();
    e.output_scale -= 3;
    e.settings["model_output_scales"][0] = e.output_scale.into();
    rescaled.result = zkgate_statement::ezkl::decode(
        &rescaled.circuit,
        rescaled.rows,
        &[rescaled.values[0].parse().unwrap()],
        rescaled.ezkl.as_ref().unwrap().output_scale,
    );
    let why = zkgate_ezkl::verify_receipt(&backend, &q, &rescaled, &model_path)
        .unwrap()
        .unwrap_err();
    assert!(why.contains("model_output_scales"), "{why}");
    gw.stop().await;
}

fn hex_of(b: [u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
