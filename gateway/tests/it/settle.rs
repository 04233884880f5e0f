//! Settlement from the gateway on its embedded chain: a job naming an
//! on-chain job is proved bound to it and settled once proved; a job for
//! another dataset's on-chain job is refused at submission; a settlement
//! interrupted after its transaction is recorded from the chain on restart,
//! never sent twice; a contract deployed again after a job was accepted
//! changes neither its proof nor where it settles; a chain that cannot be
//! reached leaves the job `proved` with the reason and holds up no other
//! job.

use crate::common;

use common::{fixture, head, wait_end};
use std::path::Path;
use std::time::{Duration, Instant};
use zkgate_chain::abi::{Settlement as S, Status};
use zkgate_chain::alloy_primitives::{B256, U256};
use zkgate_chain::alloy_sol_types::SolEvent;
use zkgate_chain::settlement::OpenJob;
use zkgate_chain::{Chain, Settlement, Wallet};
use zkgate_client::Client;
use zkgate_gateway::config::{Config, Paths};
use zkgate_gateway::settle::ChainConfig;
use zkgate_gateway::store::{DatasetMeta, JobState, Manifest, Store};
use zkgate_gateway::vault::Vault;
use zkgate_gateway::{owner::setup, Gateway};
use zkgate_statement::field::fr_from_hex;
use zkgate_statement::Aggregate;
use zkgate_statement::{Receipt, Verdict};
use zkgate_zkml::dataset::declared_schema;
use zkgate_zkml::Fr;

/// How long a job may take before the test fails.
const LIMIT: Duration = Duration::from_secs(300);

fn manifest(chain_job: u64) -> Manifest {
    Manifest {
        dataset: "bc".into(),
        columns: None,
        aggregate: Aggregate::Accuracy {
            label: "label".into(),
        },
        idempotency_key: None,
        quant: Default::default(),
        chain_job: Some(chain_job),
        epsilon: None,
        nonce: None,
        question: None,
    }
}

/// The researcher's question for `manifest(_)` on `meta` as the gateway
/// publishes it, on dataset `dataset_id` of `s`, with fresh randomness.
async fn ask(s: &Settlement, meta: &DatasetMeta, dataset_id: u64, model: &[u8]) -> Manifest {
    let pin = zkgate_statement::question::ChainPin {
        chain_id: s.chain().chain_id().await.unwrap(),
        contract: s.address().to_string(),
        dataset_id,
        researcher: Wallet::dev(1).unwrap().address().to_string(),
    };
    let mut published = meta.clone();
    published.shard_rows = Some(zkgate_gateway::question::shard_rows(
        meta,
        Config::default().limits.shard_rows,
    ));
    let mut m = manifest(0);
    let q =
        zkgate_gateway::question::ask(&published, &m, model, 0, Some(pin), rand::random()).unwrap();
    m.question = Some(q);
    m
}

/// Opens the on-chain job `m`'s question asks for, with `price` in escrow
/// for an hour; `m` then names it.
async fn open(s: &Settlement, who: &Wallet, m: &mut Manifest, price: U256) -> u64 {
    let q = m.question.as_ref().unwrap();
    let deadline = s.chain().now().await.unwrap() + 3600;
    let o =
        OpenJob::for_question(q, q.chain.as_ref().unwrap().dataset_id, deadline, price).unwrap();
    let (id, _) = s.open_job(who, &o).await.unwrap();
    m.chain_job = Some(id);
    id
}

struct Running {
    serving: common::Serving,
    client: Client,
    /// Another researcher's client, for the same gateway.
    other: Option<Client>,
}

async fn start(root: &Path, token: &str) -> Running {
    start_with(root, token, None).await
}

async fn start_with(root: &Path, token: &str, other: Option<&str>) -> Running {
    let serving = common::Serving::start(Gateway::open(root, None).unwrap());
    let ca = std::fs::read(Paths::new(root).tls_cert()).unwrap();
    Running {
        client: Client::new(&serving.base, token, Some(&ca)).unwrap(),
        other: other.map(|t| Client::new(&serving.base, t, Some(&ca)).unwrap()),
        serving,
    }
}

async fn stopped(r: Running) {
    r.serving.stop().await;
}

/// Puts a stopped gateway's job back in `state` with no settlement
/// recorded, as a crash at that point would leave it. The store opens once
/// the stopped server's last task has let go of the database.
fn rewind(paths: &Paths, id: &str, state: JobState) {
    let t = Instant::now();
    let store = loop {
        match Store::open(&paths.db()) {
            Ok(s) => break s,
            Err(e) => {
                assert!(t.elapsed() < Duration::from_secs(30), "{e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    store
        .update_job(id, |j| {
            j.state = state;
            j.settlement = None;
        })
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_settles_on_its_embedded_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("gw");
    common::init_permissive(&root, &Config::default());
    let paths = Paths::new(&root);
    let csv = tmp.path().join("bc.csv");
    head("data/breast_cancer.csv", 12, &csv);
    let (token, bob, meta) = {
        let store = Store::open(&paths.db()).unwrap();
        let vault = Vault::open(&paths, None).unwrap();
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

    // The owner deploys and registers; the researcher opens two jobs, one
    // on this dataset and one on another commitment.
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
    let commitment = fr_from_hex(&meta.commitment).unwrap();
    let price = U256::from(5_000u64);
    let (ours, _) = s
        .register_dataset(&owner, commitment, meta.rows, B256::ZERO, price)
        .await
        .unwrap();
    let (theirs, _) = s
        .register_dataset(
            &owner,
            commitment + Fr::from(1u64),
            meta.rows,
            B256::ZERO,
            price,
        )
        .await
        .unwrap();
    let model = std::fs::read(fixture("models/breast_cancer.onnx")).unwrap();
    // Each on-chain job is opened for the researcher's question: its hash
    // and the circuits it allows are pinned on chain.
    let mut m1 = ask(&s, &meta, ours, &model).await;
    let job1 = open(&s, &researcher, &mut m1, price).await;
    let mut m_other = ask(&s, &meta, theirs, &model).await;
    let deadline = s.chain().now().await.unwrap() + 3600;
    let o = OpenJob {
        commitment: commitment + Fr::from(1u64),
        ..OpenJob::for_question(m_other.question.as_ref().unwrap(), theirs, deadline, price)
            .unwrap()
    };
    let (other, _) = s.open_job(&researcher, &o).await.unwrap();
    m_other.chain_job = Some(other);
    let manifest = |id: u64| -> Manifest {
        match id {
            id if id == job1 => m1.clone(),
            id if id == other => m_other.clone(),
            id => Manifest {
                chain_job: Some(id),
                ..m1.clone()
            },
        }
    };
    let run = start_with(&root, &token, Some(&bob)).await;
    // On-chain jobs belong to the address that opened them: a researcher
    // with no registered address names none; bob, registered with his own
    // key, cannot take alice's job (her escrow would pay for his model and
    // he would read her result).
    let e = run
        .client
        .submit(&manifest(job1), model.clone())
        .await
        .unwrap()
        .expect_err("no address registered");
    assert_eq!((e.status, e.code.as_str()), (403, "forbidden"));
    assert!(e.message.contains("register"), "{}", e.message);
    let bob_client = run.other.as_ref().unwrap();
    let bob_wallet = Wallet::dev(2).unwrap();
    assert_eq!(
        bob_client
            .register_address(&bob_wallet)
            .await
            .unwrap()
            .unwrap(),
        bob_wallet.address()
    );
    let e = bob_client
        .submit(&manifest(job1), model.clone())
        .await
        .unwrap()
        .expect_err("another's job");
    assert_eq!((e.status, e.code.as_str()), (403, "forbidden"));
    assert!(e.message.contains("not opened by your"), "{}", e.message);
    // Two researchers never hold one address, even with its key.
    let e = run
        .client
        .register_address(&bob_wallet)
        .await
        .unwrap()
        .expect_err("taken");
    assert_eq!((e.status, e.code.as_str()), (409, "conflict"));
    assert_eq!(
        run.client
            .register_address(&researcher)
            .await
            .unwrap()
            .unwrap(),
        researcher.address()
    );
    // Refused at submission: another dataset's job, and no such job.
    for (id, why) in [(other, "another dataset"), (99, "not open")] {
        let e = run
            .client
            .submit(&manifest(id), model.clone())
            .await
            .unwrap()
            .expect_err("refused");
        assert_eq!((e.status, e.code.as_str()), (422, "unprocessable"));
        assert!(e.message.contains(why), "{}", e.message);
    }

    // A deadline too close for the job's estimated setup and proving:
    // refused before anything is proved (the escrow would come back and
    // the work be lost).
    let mut hurried = ask(&s, &meta, ours, &model).await;
    let soon = s.chain().now().await.unwrap() + 5;
    let o = OpenJob::for_question(hurried.question.as_ref().unwrap(), ours, soon, price).unwrap();
    let (hurried_id, _) = s.open_job(&researcher, &o).await.unwrap();
    hurried.chain_job = Some(hurried_id);
    let e = run
        .client
        .submit(&hurried, model.clone())
        .await
        .unwrap()
        .expect_err("too soon");
    assert_eq!((e.status, e.code.as_str()), (422, "unprocessable"));
    assert!(e.message.contains("later deadline"), "{}", e.message);

    // The question is the one the job was opened for, and an on-chain job
    // has one.
    let mut bare = manifest(job1);
    bare.question = None;
    let e = run
        .client
        .submit(&bare, model.clone())
        .await
        .unwrap()
        .expect_err("no question");
    assert_eq!(e.status, 400, "{e}");
    assert!(e.message.contains("question"), "{e}");
    let mut another = ask(&s, &meta, ours, &model).await;
    another.chain_job = Some(job1);
    let e = run
        .client
        .submit(&another, model.clone())
        .await
        .unwrap()
        .expect_err("another question");
    assert_eq!(e.status, 422, "{e}");
    assert!(e.message.contains("another question"), "{e}");

    let before = s.chain().balance(owner.address()).await.unwrap();
    let job = run
        .client
        .submit(&manifest(job1), model.clone())
        .await
        .unwrap()
        .unwrap();
    // Bound at acceptance to the on-chain job on this contract and chain.
    let binding = job.chain.clone().expect("bound");
    assert_eq!(
        (binding.job, binding.contract, binding.chain_id),
        (job1, s.address(), s.chain().chain_id().await.unwrap())
    );
    assert_eq!(
        fr_from_hex(&binding.nonce).unwrap(),
        s.job_nonce(job1).await.unwrap()
    );
    let e = run
        .client
        .submit(&manifest(job1), model.clone())
        .await
        .unwrap()
        .expect_err("taken");
    assert_eq!(
        (e.status, e.code.as_str()),
        (409, "conflict"),
        "{}",
        e.message
    );
    let done = wait_end(&run.client, &job.id, LIMIT).await;
    assert_eq!(done.state, JobState::Done, "{:?}", done.error);
    let settlement = done.settlement.clone().expect("settled");
    assert!(settlement.error().is_none(), "{settlement:?}");
    let tx = settlement.settled().unwrap().tx.to_string();

    // The receipt is bound to the on-chain job and verifies; the chain
    // holds its values and paid the owner.
    let receipt_text = run.client.receipt(&job.id).await.unwrap().unwrap();
    let receipt = Receipt::from_json(&receipt_text).unwrap();
    let vk = run.client.vk(&job.id).await.unwrap().unwrap();
    assert_eq!(receipt.verify(&vk).unwrap(), Verdict::Valid);
    assert_eq!(
        fr_from_hex(&receipt.nonce).unwrap(),
        s.job_nonce(job1).await.unwrap()
    );
    let onchain = s.job(job1).await.unwrap();
    assert_eq!(onchain.status, Status::Settled);
    assert_eq!(
        s.result(job1).await.unwrap(),
        zkgate_chain::settlement::values_as_words(&receipt.aggregates().unwrap())
    );
    assert_eq!(
        s.chain().balance(owner.address()).await.unwrap(),
        before + price
    );
    // The settlement anchored the audit log's head on chain: the entry it
    // names is in the log, unchanged.
    let anchors = s.audit_anchors(owner.address()).await.unwrap();
    let (entries, head) = *anchors.first().expect("an anchor");
    let log = std::fs::read_to_string(paths.audit()).unwrap();
    let line = log.lines().nth(entries as usize - 1).unwrap();
    use sha2::Digest;
    assert_eq!(
        head.as_slice(),
        sha2::Sha256::digest(line.as_bytes()).as_slice()
    );

    // A researcher's goal: the result for free. A job whose settlement
    // the chain refuses (here the on-chain job expired while it was
    // proved) fails, and its receipt and values are withheld: the
    // researcher may take the escrow back after the deadline, but not
    // with the result.
    let mut m_late = ask(&s, &meta, ours, &model).await;
    open(&s, &researcher, &mut m_late, price).await;
    let late_job = run
        .client
        .submit(&m_late, model.clone())
        .await
        .unwrap()
        .unwrap();
    s.chain().advance_time(7_200).await.unwrap();
    let ended = wait_end(&run.client, &late_job.id, LIMIT).await;
    assert_eq!(ended.state, JobState::Failed, "{:?}", ended.settlement);
    let error = ended.error.expect("why");
    assert_eq!(error.code, "settlement_refused", "{error:?}");
    let e = run
        .client
        .receipt(&late_job.id)
        .await
        .unwrap()
        .expect_err("withheld");
    assert_eq!(e.status, 409, "{e}");
    assert!(run.client.vk(&late_job.id).await.unwrap().is_err());
    // Its nonce is spent: the on-chain job takes no second gateway job.
    let e = run
        .client
        .submit(&m_late, model.clone())
        .await
        .unwrap()
        .expect_err("spent");
    assert_eq!(e.status, 409, "{e}");
    assert!(e.message.contains("nonce is spent"), "{e}");
    stopped(run).await;

    // A crash after the settling transaction, before its record: the job
    // is back in `settling` with nothing recorded. On restart the gateway
    // finds it settled on chain and records that transaction.
    rewind(&paths, &job.id, JobState::Settling);
    let run = start(&root, &token).await;
    let again = wait_end(&run.client, &job.id, LIMIT).await;
    assert_eq!(again.state, JobState::Done);
    let record = again.settlement.expect("recorded again");
    assert_eq!(
        record.settled().map(|s| s.tx.to_string()).as_deref(),
        Some(tx.as_str()),
        "{record:?}"
    );
    let events = s
        .chain()
        .logs(
            s.address(),
            S::JobSettled::SIGNATURE_HASH,
            Some(B256::from(U256::from(job1))),
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "settled once");
    stopped(run).await;

    // The owner deploys the contract again after the job was accepted
    // (here the job is proved again after it): the job keeps the contract
    // it was accepted for. Its proof carries that contract's nonce for the
    // job, and its settlement is the one on that contract.
    let (s2, _) = Settlement::deploy(Chain::embedded(&paths.chain_state()).unwrap(), &owner)
        .await
        .unwrap();
    assert_ne!(s2.address(), s.address());
    let mut conf = ChainConfig::load(&paths.root).unwrap().unwrap();
    conf.contract = s2.address();
    conf.save(&paths.root).unwrap();
    rewind(&paths, &job.id, JobState::Queued);
    let run = start(&root, &token).await;
    let again = wait_end(&run.client, &job.id, LIMIT).await;
    assert_eq!(again.state, JobState::Done, "{:?}", again.error);
    assert_eq!(again.chain, Some(binding.clone()));
    let receipt = Receipt::from_json(&run.client.receipt(&job.id).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        fr_from_hex(&receipt.nonce).unwrap(),
        s.job_nonce(job1).await.unwrap()
    );
    let record = again.settlement.expect("recorded");
    let settled = record.settled().unwrap_or_else(|| panic!("{record:?}"));
    assert_eq!(
        (settled.contract, settled.tx.to_string()),
        (s.address(), tx.clone())
    );
    stopped(run).await;

    // A chain that cannot be reached: the proved job waits in `proved`
    // with the reason, and jobs to prove are not held up behind it.
    let mut conf = ChainConfig::load(&paths.root).unwrap().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    conf.rpc = Some(format!("http://127.0.0.1:{port}"));
    conf.save(&paths.root).unwrap();
    rewind(&paths, &job.id, JobState::Proved);
    let run = start(&root, &token).await;
    let mut plain = manifest(job1);
    plain.chain_job = None;
    plain.question = None;
    let other = run.client.submit(&plain, model).await.unwrap().unwrap();
    assert_eq!(
        wait_end(&run.client, &other.id, LIMIT).await.state,
        JobState::Done
    );
    let waiting = run.client.job(&job.id).await.unwrap().unwrap();
    assert!(
        matches!(waiting.state, JobState::Proved | JobState::Settling),
        "{:?}",
        waiting.state
    );
    let t = Instant::now();
    loop {
        let j = run.client.job(&job.id).await.unwrap().unwrap();
        if let Some(r) = j.settlement.as_ref().and_then(|s| s.retrying()) {
            assert!(r.contains("127.0.0.1"), "{r}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "no retry recorded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stopped(run).await;
}
