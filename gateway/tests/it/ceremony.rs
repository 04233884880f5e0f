//! Ceremony keys through the gateway: the researcher builds the circuit
//! from the published facts (schema, row count) and their model, makes its
//! phase-2 key over the gateway's powers-of-tau file, contributes, and
//! submits the key with the job; the gateway checks it against the job's
//! circuit and proves with it, and the receipt's key is the researcher's. A
//! subverted or uncontributed key fails the job with the reason, before
//! any proof.

use crate::common;

use common::{fixture, head, wait_end};
use std::time::Duration;
use zkgate_client::Client;
use zkgate_gateway::config::{Config, Paths};
use zkgate_gateway::store::{JobState, Manifest, Store};
use zkgate_gateway::vault::Vault;
use zkgate_gateway::{owner::setup, Gateway};
use zkgate_statement::{Aggregate, Receipt, Verdict};
use zkgate_zkml::ceremony::{self, Ptau, Transcript};
use zkgate_zkml::dataset::declared_schema;
use zkgate_zkml::job::{compile_public, JobRequest};

/// How long a job may take before the test fails.
const LIMIT: Duration = Duration::from_secs(300);

fn columns() -> Vec<String> {
    (0..13).map(|i| format!("f{i}")).collect()
}

fn manifest() -> Manifest {
    Manifest {
        dataset: "tab".into(),
        columns: Some(columns()),
        aggregate: Aggregate::Mean,
        idempotency_key: None,
        quant: Default::default(),
        chain_job: None,
        epsilon: None,
        nonce: None,
        question: None,
    }
}

/// A gateway over `rows` rows of the tabular fixture, shards of
/// `shard_rows` (0: one proof), a local powers-of-tau file of `power`, and
/// the researcher's side: their client, the file, the model's bytes and
/// the job's circuit compiled from the published facts.
struct World {
    _tmp: tempfile::TempDir,
    gw: common::Serving,
    client: Client,
    /// Another researcher's client.
    bob: Client,
    ptau: Ptau,
    model_bytes: Vec<u8>,
    spec: zkgate_zkml::spec::CircuitSpec,
}

/// Submits the model with `keys` and waits for the job to fail with a
/// message that contains `why`.
async fn fails_naming(client: &Client, model: Vec<u8>, keys: Vec<Vec<u8>>, why: &str) {
    let job = client
        .submit_with_key(&manifest(), model, keys)
        .await
        .unwrap()
        .unwrap();
    let end = wait_end(client, &job.id, LIMIT).await;
    assert_eq!(end.state, JobState::Failed);
    let e = end.error.unwrap();
    assert!(e.message.contains(why), "{why}: {e:?}");
}

async fn world(rows: usize, shard_rows: u64, power: u32) -> World {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("gw");
    let mut config = Config {
        ptau: Some("pot.ptau".into()),
        ..Config::default()
    };
    if shard_rows > 0 {
        config.limits.shard_rows = shard_rows;
    }
    // Keys are larger than the rest of a submission: they have a limit of
    // their own.
    config.limits.max_upload_bytes = 128 << 10;
    config.limits.max_ceremony_key_bytes = 8 << 20;
    common::init_permissive(&root, &config);
    let paths = Paths::new(&root);
    std::fs::write(
        root.join("pot.ptau"),
        ceremony::ptau::write_random(power, &mut rand::rngs::OsRng),
    )
    .unwrap();
    let csv = tmp.path().join("tab.csv");
    head("data/tabular.csv", rows, &csv);
    let (token, meta) = {
        let store = Store::open(&paths.db()).unwrap();
        let vault = Vault::open(&paths, None).unwrap();
        let meta = setup::import_dataset(
            &paths,
            &store,
            &vault,
            &csv,
            "tab",
            &declared_schema(&csv).unwrap(),
            0,
        )
        .unwrap();
        (
            [
                setup::add_researcher(&store, "alice", "", 0, None).unwrap(),
                setup::add_researcher(&store, "bob", "", 0, None).unwrap(),
            ],
            meta,
        )
    };
    let gw = common::Serving::start(Gateway::open(&root, None).unwrap());
    let ca = std::fs::read(paths.tls_cert()).unwrap();
    let client = Client::new(&gw.base, &token[0], Some(&ca)).unwrap();
    let bob = Client::new(&gw.base, &token[1], Some(&ca)).unwrap();
    let ptau = Ptau::read(&root.join("pot.ptau")).unwrap();
    let published = client.datasets().await.unwrap().unwrap();
    assert_eq!(published[0].schema, meta.schema);
    let model_bytes = std::fs::read(fixture("models/linreg.onnx")).unwrap();
    let model = zkgate_zkml::import::load_bytes(&model_bytes).unwrap();
    let spec = compile_public(
        &model.model,
        &model.onnx_sha256,
        &published[0].schema,
        published[0].rows,
        &JobRequest {
            aggregate: Aggregate::Mean,
            input_columns: Some(columns()),
            quant: Default::default(),
            epsilon: None,
        },
    )
    .unwrap();
    World {
        _tmp: tmp,
        gw,
        client,
        bob,
        ptau,
        model_bytes,
        spec,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_researchers_ceremony_key_proves_their_job() {
    let World {
        _tmp,
        gw,
        client,
        bob,
        ptau,
        model_bytes,
        spec,
    } = world(4, 0, 12).await;
    // The researcher's side: the published facts, their model, the file.
    let said = client.ceremony_file().await.unwrap().unwrap();
    assert_eq!(said["ptau_sha256"], hex::encode(ptau.sha256));
    assert_eq!(said["ptau_blake2b"], hex::encode(ptau.blake2b));
    assert!(said["public"].is_null(), "a local file is not a public one");
    let r1cs = ceremony::r1cs_of(&spec).unwrap();
    let initial = ceremony::initial_key(&r1cs, &ptau).unwrap();
    let mut key = initial.clone();
    let empty = Transcript::new(&initial, &ptau).unwrap();
    let mut transcript = empty.clone();
    ceremony::contribute(&mut key, &mut transcript, "alice", &mut rand::rngs::OsRng).unwrap();
    let upload = |k: &ceremony::Key, t: &Transcript| vec![ceremony::write(k, t, &r1cs).unwrap()];

    let job = client
        .submit_with_key(&manifest(), model_bytes.clone(), upload(&key, &transcript))
        .await
        .unwrap()
        .unwrap();
    let done = wait_end(&client, &job.id, LIMIT).await;
    assert_eq!(done.state, JobState::Done, "{:?}", done.error);
    let receipt = Receipt::from_json(&client.receipt(&job.id).await.unwrap().unwrap()).unwrap();
    let vk = client.vk(&job.id).await.unwrap().unwrap();
    assert_eq!(receipt.verify(&vk).unwrap(), Verdict::Valid);
    assert!(receipt.setup.starts_with("ceremony:") && receipt.setup.contains("by alice"));
    // The proof is under the researcher's own key.
    let mine = zkgate_zkml::prove::verifying_key(&key);
    assert_eq!(vk, zkgate_statement::groth16::to_bytes(&vec![mine.clone()]));

    // The key is kept and listed by circuit, with its transcript; a later
    // job names it instead of sending it and proves under the same key.
    let mine_sha = zkgate_statement::groth16::vk_sha256(&mine);
    let kept = client.kept_ceremony_keys().await.unwrap().unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["vk_sha256"], mine_sha.as_str());
    assert_eq!(
        kept[0]["circuit_id"],
        zkgate_statement::field::fr_to_hex(spec.id()).as_str()
    );
    assert_eq!(kept[0]["transcript_sha256"], transcript.sha256().as_str());
    assert_eq!(kept[0]["contributors"], serde_json::json!(["alice"]));
    assert_eq!(kept[0]["first_job"], job.id.as_str());
    assert_eq!(
        client.kept_ceremony_key(&mine_sha).await.unwrap().unwrap(),
        upload(&key, &transcript)[0]
    );
    let again = client
        .submit_with_keys(
            &manifest(),
            model_bytes.clone(),
            Vec::new(),
            vec![mine_sha.clone()],
        )
        .await
        .unwrap()
        .unwrap();
    let done = wait_end(&client, &again.id, LIMIT).await;
    assert_eq!(done.state, JobState::Done, "{:?}", done.error);
    let receipt2 = Receipt::from_json(&client.receipt(&again.id).await.unwrap().unwrap()).unwrap();
    assert_eq!(client.vk(&again.id).await.unwrap().unwrap(), vk);
    assert_eq!(receipt2.setup, receipt.setup);
    assert_eq!(client.kept_ceremony_keys().await.unwrap().unwrap().len(), 1);
    // Kept for alice only: another researcher neither sees it nor proves
    // with it (a shared list would tell who ran which circuit).
    assert!(bob.kept_ceremony_keys().await.unwrap().unwrap().is_empty());
    assert_eq!(
        bob.kept_ceremony_key(&mine_sha)
            .await
            .unwrap()
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(kept[0]["researcher"], "alice");
    // Naming it as bob, naming no kept key, or not a hash: a bad request.
    for (who, name) in [
        (&bob, mine_sha.clone()),
        (&client, "ab".repeat(32)),
        (&client, "not-a-hash".to_string()),
    ] {
        let e = who
            .submit_with_keys(
                &manifest(),
                model_bytes.clone(),
                Vec::new(),
                vec![name.clone()],
            )
            .await
            .unwrap()
            .expect_err("no such kept key");
        assert_eq!(e.status, 400, "{name}");
        assert!(e.message.contains("kept_ceremony_key"), "{e:?}");
    }
    assert_eq!(
        client
            .kept_ceremony_key(&"ab".repeat(32))
            .await
            .unwrap()
            .unwrap_err()
            .status,
        404
    );

    // Refused before any proof: a subverted key, and one nobody contributed
    // to.
    let mut subverted = key.clone();
    subverted.a_query.swap(1, 2);
    let uncontributed = (initial, empty);
    for (k, t, why) in [
        (&subverted, &transcript, "not this circuit's"),
        (&uncontributed.0, &uncontributed.1, "no contribution"),
    ] {
        fails_naming(&client, model_bytes.clone(), upload(k, t), why).await;
    }
    // A file that is not a .zkey, or one whose transcript is cut, is a bad
    // request.
    let whole = upload(&key, &transcript).remove(0);
    for bad in [vec![1, 2, 3], whole[..whole.len() - 7].to_vec()] {
        let e = client
            .submit_with_key(&manifest(), model_bytes.clone(), vec![bad])
            .await
            .unwrap()
            .expect_err("not a key");
        assert_eq!(e.status, 400);
        assert!(e.message.contains("ceremony_key"), "{e:?}");
    }

    gw.stop().await;
}

/// A dataset over two shards: one circuit (the shard size, the last shard
/// padded) proves every shard, so the researcher contributes to one key
/// and every shard is proved with it; the receipt names its transcript.
/// The key of another shard size fails the job naming the circuit, and a
/// second key is a bad request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_job_proves_every_shard_with_its_one_ceremony_key() {
    let World {
        _tmp,
        gw,
        client,
        ptau,
        model_bytes,
        spec,
        ..
    } = world(16, 11, 14).await;
    let plan = spec.shard_plan(16, Some(11));
    assert!(plan.len() > 1 && plan.padding() > 0, "{plan:?}");
    let contributed = |rows: u64| {
        let r1cs = ceremony::r1cs_of(&spec.with_shard_rows(rows)).unwrap();
        let mut key = ceremony::initial_key(&r1cs, &ptau).unwrap();
        let mut t = Transcript::new(&key, &ptau).unwrap();
        ceremony::contribute(&mut key, &mut t, "alice", &mut rand::rngs::OsRng).unwrap();
        (ceremony::write(&key, &t, &r1cs).unwrap(), t.sha256())
    };
    let (zkey, transcript) = contributed(plan.size());
    assert!(
        zkey.len() > 128 << 10 && zkey.len() < 8 << 20,
        "a key over the upload limit, within the key limit: {} bytes",
        zkey.len()
    );
    // A key over its limit is refused, as is a model over the upload
    // limit, whatever the key limit.
    for (model, key) in [
        (model_bytes.clone(), vec![0u8; (8 << 20) + 1]),
        (vec![0u8; (128 << 10) + 1], zkey.clone()),
    ] {
        match client.submit_with_key(&manifest(), model, vec![key]).await {
            Ok(Err(e)) => assert_eq!((e.status, e.code.as_str()), (413, "too_large"), "{e:?}"),
            other => panic!("expected 413, got {other:?}"),
        }
    }
    let job = client
        .submit_with_key(&manifest(), model_bytes.clone(), vec![zkey.clone()])
        .await
        .unwrap()
        .unwrap();
    let done = wait_end(&client, &job.id, LIMIT).await;
    assert_eq!(done.state, JobState::Done, "{:?}", done.error);
    let receipt = Receipt::from_json(&client.receipt(&job.id).await.unwrap().unwrap()).unwrap();
    let vk = client.vk(&job.id).await.unwrap().unwrap();
    assert_eq!(receipt.verify(&vk).unwrap(), Verdict::Valid);
    assert_eq!(receipt.shards.len(), plan.len());
    assert!(
        receipt.setup.contains(transcript.as_str()),
        "{}",
        receipt.setup
    );
    assert!(
        receipt.setup.contains("NOT a public one"),
        "{}",
        receipt.setup
    );
    // Every shard's key is the researcher's one.
    let mine = zkgate_statement::groth16::vk_sha256(&zkgate_zkml::prove::verifying_key(
        &ceremony::read(&zkey).unwrap().0,
    ));
    assert!(receipt.shards.iter().all(|s| s.vk_sha256 == mine));

    // The key of another shard size: the job fails naming the circuit.
    let (other, _) = contributed(plan.size() + 11);
    fails_naming(
        &client,
        model_bytes.clone(),
        vec![other],
        "no key for circuit",
    )
    .await;
    // Two keys are a bad request (two keys of this size would pass the
    // body's limit first: the connection would be cut).
    let e = client
        .submit_with_key(
            &manifest(),
            model_bytes.clone(),
            vec![vec![1u8; 64], vec![1u8; 64]],
        )
        .await
        .unwrap()
        .expect_err("two keys");
    assert_eq!(e.status, 400);
    gw.stop().await;
}
