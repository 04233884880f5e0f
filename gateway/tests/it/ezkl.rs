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

/// A gateway data dir with an ezkl backend (`solc_js` for jobs on chain),
/// a local SRS (insecure) of the size the 4-row linreg graph needs, the
/// first four rows of the tabular fixture imported as `tab` and a
/// researcher: the temporary dir, the data dir, the backend (the
/// researcher's own ezkl, over the same SRS file), the dataset as
/// published and the researcher's token.
fn ezkl_gateway(
    python: PathBuf,
    solc_js: Option<PathBuf>,
) -> (
    tempfile::TempDir,
    PathBuf,
    zkgate_ezkl::Backend,
    zkgate_gateway::store::DatasetMeta,
    String,
) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("gw");
    let mut config = Config::default();
    config.backends.ezkl = Some(EzklConfig {
        python: python.clone(),
        srs_dir: "srs".into(),
        timeout_s: 900,
        memory_mb: 0,
        max_constraints: 400_000,
        max_logrows: 18,
        solc_js,
    });
    common::init_permissive(&root, &config);
    let paths = Paths::new(&root);
    let backend = zkgate_ezkl::Backend {
        python,
        srs_dir: root.join("srs"),
        timeout: Duration::from_secs(900),
        memory_mb: 0,
        max_logrows: None,
        make_srs: false,
    };
    backend.make_srs(15).unwrap();
    let csv = tmp.path().join("tab.csv");
    head("data/tabular.csv", 4, &csv);
    let store = Store::open(&paths.db()).unwrap();
    let vault = Vault::open(&paths, None).unwrap();
    let schema = zkgate_zkml::dataset::declared_schema(&csv).unwrap();
    let meta = setup::import_dataset(&paths, &store, &vault, &csv, "tab", &schema, 0).unwrap();
    let token = setup::add_researcher(&store, "alice", "", 0, None).unwrap();
    (tmp, root, backend, meta, token)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ezkl_job_is_proved_checked_against_its_question_and_tamper_evident() {
    let Some(python) = python() else {
        return;
    };
    let (tmp, root, backend, _, token) = ezkl_gateway(python, None);
    let paths = Paths::new(&root);
    let csv = tmp.path().join("tab.csv");
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
    // The test's SRS was made locally: the receipt says so.
    assert!(r.setup.contains("INSECURE"), "{}", r.setup);
    // The Groth16 verifier refuses it and says where it is checked.
    match r.verify(&[]) {
        Ok(zkgate_statement::Verdict::Invalid(why)) => assert!(why.contains("ezkl"), "{why}"),
        other => panic!("{other:?}"),
    }

    // A gateway that proves ezkl circuits of up to 2^14 rows refuses this
    // 2^15 one after calibration, naming the size it needs.
    let small = zkgate_ezkl::Backend {
        max_logrows: Some(14),
        ..backend.clone()
    };
    let graph = zkgate_statement::ezkl::GraphSpec::new(&q.expected_circuit, 4).unwrap();
    let e = small.size(&graph, &model_path).unwrap_err().to_string();
    assert!(
        e.contains("needs 2^15 rows") && e.contains("up to 2^14"),
        "{e}"
    );
    assert_eq!(backend.size(&graph, &model_path).unwrap().0, 15);

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

    // Another dataset hash (in the question and the receipt alike): its
    // lowest bit flipped (ezkl writes field elements little-endian).
    let low = u8::from_str_radix(&hash[..2], 16).unwrap() ^ 1;
    let other = format!("{low:02x}{}", &hash[2..]);
    assert_ne!(other, hash);
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

/// The pinned solc-js (`npm ci --prefix contracts`).
fn solc_js() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts/node_modules/solc");
    assert!(
        p.join("package.json").exists(),
        "run `npm ci --prefix contracts` first: {} is missing",
        p.display()
    );
    p
}

/// An ezkl job settled on the gateway's embedded chain: the researcher
/// derives the verifier contract from the question and pins its code hash
/// with the dataset's ezkl hash and the job's binding; the gateway proves,
/// deploys that verifier, publishes the dataset's ezkl hash and settles;
/// the contract pays the owner and keeps the values. Then the verifier
/// contract refuses a changed value, dataset hash and binding, and the
/// settlement contract refuses the proof replayed for another job and a
/// Groth16 settlement of an ezkl job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ezkl_job_settles_on_chain_through_the_verifier_its_question_pins() {
    use zkgate_chain::abi::{Halo2Verifier, Status};
    use zkgate_chain::alloy_primitives::{Address, Bytes, B256, U256};
    use zkgate_chain::alloy_sol_types::SolCall;
    use zkgate_chain::settlement::{ezkl_calldata, ezkl_circuits_of, OpenJob};
    use zkgate_chain::{Chain, Settlement, Wallet};
    use zkgate_gateway::settle::ChainConfig;
    use zkgate_statement::ezkl::{felt_to_fr, GraphSpec};

    let Some(python) = python() else {
        return;
    };
    let (_tmp, root, backend, meta, token) = ezkl_gateway(python, Some(solc_js()));
    let paths = Paths::new(&root);
    let owner = Wallet::dev(0).unwrap();
    let researcher = Wallet::dev(1).unwrap();
    let chain = Chain::embedded(&paths.chain_state()).unwrap();
    let (s, _) = Settlement::deploy(chain, &owner).await.unwrap();
    ChainConfig {
        contract: s.address(),
        chain_id: s.chain().chain_id().await.unwrap(),
        rpc: None,
        key_file: None,
        ca_file: None,
        dev_account: Some(0),
    }
    .save(&paths.root)
    .unwrap();
    let price = U256::from(7_000u64);
    let commitment = zkgate_statement::field::fr_from_hex(&meta.commitment).unwrap();
    let (dataset_id, _) = s
        .register_dataset(&owner, commitment, meta.rows, B256::ZERO, price)
        .await
        .unwrap();

    let gw = common::Serving::start(Gateway::open(&root, None).unwrap());
    let ca = std::fs::read(paths.tls_cert()).unwrap();
    let client = Client::new(&gw.base, &token, Some(&ca)).unwrap();
    client.register_address(&researcher).await.unwrap().unwrap();
    let published = client.datasets().await.unwrap().unwrap();
    let hash = published[0].ezkl_hash.clone().expect("an ezkl hash");

    // The researcher's question, its verifier derived from it.
    let model_path = fixture("models/linreg.onnx");
    let model = std::fs::read(&model_path).unwrap();
    let pin = |nonce_seed: u8| {
        let chain_pin = zkgate_statement::question::ChainPin {
            chain_id: 31337,
            contract: s.address().to_string(),
            dataset_id,
            researcher: researcher.address().to_string(),
        };
        let m = common::tabular("tab", Aggregate::Sum);
        zkgate_gateway::question::ask(
            &published[0],
            &m,
            &model,
            0,
            Some(chain_pin),
            [nonce_seed; 32],
        )
        .unwrap()
        .with_ezkl(&hash)
    };
    let mut q = pin(5);
    q.chain.as_mut().unwrap().chain_id = s.chain().chain_id().await.unwrap();
    // Without the verifier's code hash, an on-chain ezkl question is refused.
    assert!(q
        .check_self()
        .unwrap_err()
        .to_string()
        .contains("ezkl_verifier"));
    let graph = GraphSpec::new(&q.expected_circuit, q.dataset.rows).unwrap();
    let (source, logrows) = backend.verifier_source(&graph, &model_path).unwrap();
    assert_eq!(logrows, 15);
    let verifier = zkgate_ezkl::compile_verifier(&solc_js(), &source).unwrap();
    assert!(
        verifier.runtime.len() < 24_576,
        "{} bytes",
        verifier.runtime.len()
    );
    q.ezkl_verifier = Some(verifier.code_hash_hex());
    q.check_self().unwrap();
    let open = |q: &zkgate_statement::Question, binding| {
        let circuits = ezkl_circuits_of(q, binding).unwrap();
        let (s, researcher) = (&s, &researcher);
        let question = B256::from(q.hash());
        async move {
            let deadline = s.chain().now().await.unwrap() + 3600;
            let o = OpenJob {
                dataset: dataset_id,
                commitment,
                question,
                circuits,
                verifier: B256::ZERO,
                deadline,
                value: U256::from(10_000u64),
            };
            s.open_job(researcher, &o).await.unwrap().0
        }
    };
    let binding = backend.binding_hash(q.job_nonce()).unwrap();
    let job_id = open(&q, binding).await;

    let mut m = common::tabular("tab", Aggregate::Sum);
    m.question = Some(q.clone());
    m.columns = Some(q.columns.clone());
    m.chain_job = Some(job_id);
    let researcher_before = s.chain().balance(researcher.address()).await.unwrap();
    let job = client.submit(&m, model.clone()).await.unwrap().unwrap();
    let end = wait_end(&client, &job.id, Duration::from_secs(900)).await;
    assert_eq!(
        end.state,
        JobState::Done,
        "{:?} {:?}",
        end.error,
        end.settlement
    );
    let settled = match end.settlement.clone() {
        Some(zkgate_client::api::SettlementRecord::Settled(t)) => t,
        other => panic!("{other:?}"),
    };
    eprintln!("ezkl settlement: gas {:?}", settled.gas_used);
    let view = s.job(job_id).await.unwrap();
    assert_eq!(view.status, Status::Settled);
    let text = client.receipt(&job.id).await.unwrap().unwrap();
    let r = Receipt::from_json(&text).unwrap();
    let on_chain = s.result(job_id).await.unwrap();
    let want: Vec<U256> = zkgate_chain::settlement::values_as_words(
        &r.values
            .iter()
            .map(|v| v.parse().unwrap())
            .collect::<Vec<i128>>(),
    );
    assert_eq!(on_chain, want);
    // The owner was paid the price, the rest went back.
    assert_eq!(
        s.chain().balance(researcher.address()).await.unwrap(),
        researcher_before + U256::from(10_000u64 - 7_000)
    );
    // The receipt checks offline too.
    assert!(matches!(
        zkgate_ezkl::verify_receipt(&backend, &q, &r, &model_path).unwrap(),
        Ok(zkgate_ezkl::Checked::Valid { .. })
    ));

    // The verifier contract itself: the proof's instances pass, a changed
    // value, dataset hash or binding does not.
    let proof = &r.ezkl.as_ref().unwrap().proof;
    let code = zkgate_chain::settlement::ezkl_code_id(B256::from(verifier.code_hash()));
    let deployed: Address = s.ezkl_verifier_of(code).await.unwrap().unwrap();
    let call_with = |k: usize, delta: u64| {
        let mut c =
            Halo2Verifier::verifyProofCall::abi_decode(&ezkl_calldata(proof).unwrap()).unwrap();
        if delta > 0 {
            c.instances[k] += U256::from(delta);
        }
        Bytes::from(c.abi_encode())
    };
    let accepts = |data: Bytes| {
        let chain = s.chain();
        async move {
            match chain.call(deployed, data).await {
                Ok(out) => out.len() == 32 && out[31] == 1,
                Err(_) => false,
            }
        }
    };
    assert!(accepts(call_with(0, 0)).await, "the proof as made");
    assert!(!accepts(call_with(2, 1)).await, "a changed value");
    assert!(!accepts(call_with(0, 1)).await, "another dataset hash");
    assert!(!accepts(call_with(1, 1)).await, "another binding");

    // Another job on the same verifier and dataset (another question,
    // another nonce): the first job's proof cannot settle it, as it is or
    // rebound to the new binding.
    let q2 = {
        let mut q2 = pin(6);
        q2.chain.as_mut().unwrap().chain_id = s.chain().chain_id().await.unwrap();
        q2.ezkl_verifier = q.ezkl_verifier.clone();
        q2
    };
    let binding2 = backend.binding_hash(q2.job_nonce()).unwrap();
    assert_ne!(binding2, binding);
    let job2 = open(&q2, binding2).await;
    let circuits2 = ezkl_circuits_of(&q2, binding2).unwrap();
    let circuits1 = ezkl_circuits_of(&q, binding).unwrap();
    let e = s
        .settle_ezkl(&owner, job2, &circuits1, ezkl_calldata(proof).unwrap())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("BadCircuits"), "{e}");
    let e = s
        .settle_ezkl(&owner, job2, &circuits2, ezkl_calldata(proof).unwrap())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("BadCircuits"), "{e}");
    let mut rebound =
        Halo2Verifier::verifyProofCall::abi_decode(&ezkl_calldata(proof).unwrap()).unwrap();
    rebound.instances[1] = zkgate_chain::evm::fr_to_u256(&binding2);
    let e = s
        .settle_ezkl(&owner, job2, &circuits2, rebound.abi_encode())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("InvalidProof"), "{e}");
    // A Groth16 settlement of the ezkl job, under a bundle whose circuit id
    // is the ezkl tag, is refused before any key is read.
    let e = s
        .settle_shards(&owner, job2, B256::ZERO, &circuits2, Vec::new(), Vec::new())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("BadCircuits"), "{e}");
    // The dataset's ezkl hash is the owner's to publish.
    let other = felt_to_fr(&hash).unwrap() + zkgate_statement::Fr::from(1u64);
    assert!(s
        .publish_ezkl_hash(&researcher, dataset_id, other)
        .await
        .unwrap_err()
        .to_string()
        .contains("NotOwner"));
    // The owner republishing another hash stops the open job settling.
    s.publish_ezkl_hash(&owner, dataset_id, other)
        .await
        .unwrap();
    let mut ok2 = rebound.clone();
    ok2.instances[0] = zkgate_chain::evm::fr_to_u256(&other);
    let e = s
        .settle_ezkl(&owner, job2, &circuits2, ok2.abi_encode())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("BadCircuits"), "{e}");
    assert_eq!(s.job(job2).await.unwrap().status, Status::Open);
    gw.stop().await;
}

fn hex_of(b: [u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
