//! The settlement flow run on any chain: the embedded EVM and anvil run
//! exactly this.

#![allow(dead_code)]

use alloy_primitives::{B256, U256};
use rand::SeedableRng;
use std::path::Path;
use zkgate_chain::abi::Status;
use zkgate_chain::settlement::{self, Bundle, OpenJob};
use zkgate_chain::{Chain, Error, Settlement, Wallet};
use zkgate_statement::field::{fr_from_hex, fr_to_hex};
use zkgate_statement::groth16::VerifyingKey;
use zkgate_statement::{Aggregate, Receipt, Verdict};
use zkgate_zkml::dataset::{Dataset, Secret};
use zkgate_zkml::pipeline::{run, LocalJob, Outcome};
use zkgate_zkml::Fr;

pub struct Data {
    pub dataset: Dataset,
    pub secret: Secret,
    pub model: zkgate_zkml::import::Imported,
}

/// Twelve rows of the tabular fixture and the linear model over them.
pub fn data() -> Data {
    data_rows(12)
}

/// The first `rows` rows.
pub fn data_rows(rows: usize) -> Data {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let text = std::fs::read_to_string(fixtures.join("data/tabular.csv")).unwrap();
    let head: Vec<&str> = text.lines().take(rows + 1).collect();
    let dataset = Dataset::from_csv_reader(
        head.join("\n").as_bytes(),
        &zkgate_zkml::dataset::declared_schema(&fixtures.join("data/tabular.csv")).unwrap(),
    )
    .unwrap();
    let model = zkgate_zkml::import::load(fixtures.join("models/linreg.onnx")).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    Data {
        dataset,
        secret: Secret::random(&mut rng),
        model,
    }
}

/// The first `rows` rows of the breast-cancer fixture and its classifier.
pub fn breast_cancer(rows: usize) -> (Dataset, zkgate_zkml::import::Imported) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let csv = fixtures.join("data/breast_cancer.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let head: Vec<&str> = text.lines().take(rows + 1).collect();
    let dataset = Dataset::from_csv_reader(
        head.join("\n").as_bytes(),
        &zkgate_zkml::dataset::declared_schema(&csv).unwrap(),
    )
    .unwrap();
    let model = zkgate_zkml::import::load(fixtures.join("models/breast_cancer.onnx")).unwrap();
    (dataset, model)
}

/// A settlement contract on a fresh embedded chain under `dir`, with one
/// dataset registered (its commitment and rows) at one ether a job.
pub struct Market {
    pub s: Settlement,
    pub owner: Wallet,
    pub researcher: Wallet,
    pub chain_id: u64,
    pub dataset: u64,
    pub deadline: u64,
}

pub async fn market(dir: &Path, commitment: Fr, rows: u64) -> Market {
    let chain = Chain::embedded(&dir.join("chain/state.json")).unwrap();
    let owner = Wallet::dev(0).unwrap();
    let researcher = Wallet::dev(1).unwrap();
    let (s, _) = Settlement::deploy(chain, &owner).await.unwrap();
    let chain_id = s.chain().chain_id().await.unwrap();
    let (dataset, _) = s
        .register_dataset(&owner, commitment, rows, B256::repeat_byte(7), ether(1))
        .await
        .unwrap();
    let deadline = s.chain().now().await.unwrap() + 3600;
    Market {
        s,
        owner,
        researcher,
        chain_id,
        dataset,
        deadline,
    }
}

/// The mean of the model's output over the rows, bound to `nonce`, proved
/// in shards of 11 rows (12 rows: two shards, the last padded, one key).
pub fn prove(d: &Data, nonce: Fr) -> Outcome {
    prove_in(d, nonce, Some(11))
}

/// The same in shards of `shard_rows` (`None`: one proof).
pub fn prove_in(d: &Data, nonce: Fr, shard_rows: Option<u64>) -> Outcome {
    let request = zkgate_zkml::job::JobRequest {
        aggregate: Aggregate::Mean,
        input_columns: Some((0..13).map(|i| format!("f{i}")).collect()),
        quant: Default::default(),
        epsilon: None,
    };
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
    run(
        LocalJob {
            shard_rows,
            ..LocalJob::new(&d.model, &d.dataset, &d.secret, &request, nonce)
        },
        &mut rng,
        &mut |_| {},
    )
    .unwrap()
}

/// The circuit ids of a receipt's shards: what a job it settles pins.
pub fn circuits(r: &Receipt) -> Vec<Fr> {
    settlement::receipt_circuits(r)
}

/// A stand-in for a question's hash.
pub fn question(label: u8) -> B256 {
    B256::repeat_byte(label)
}

/// A job on `dataset` for question `question` pinning `circuits`.
pub fn open_job(
    dataset: u64,
    commitment: Fr,
    question: B256,
    circuits: &[Fr],
    verifier: B256,
    deadline: u64,
    value: U256,
) -> OpenJob {
    OpenJob {
        dataset,
        commitment,
        question,
        circuits: circuits.to_vec(),
        verifier,
        deadline,
        value,
    }
}

pub fn ether(x: u64) -> U256 {
    U256::from(x) * U256::from(10u64).pow(U256::from(18u64))
}

fn vks(o: &Outcome) -> Vec<VerifyingKey> {
    o.keys.iter().map(|(_, vk)| vk.clone()).collect()
}

/// `r` is a revert naming `error`.
pub fn assert_reverts<T: std::fmt::Debug>(r: Result<T, Error>, error: &str) {
    match r {
        Err(Error::Reverted(why)) => assert!(why.contains(error), "expected {error}, got {why}"),
        other => panic!("expected a revert with {error}, got {other:?}"),
    }
}

/// Gas of the calls the flow makes.
#[derive(Debug, Default)]
pub struct Gas {
    pub deploy: u64,
    pub register_dataset: u64,
    pub open_job: u64,
    pub settle_two_shards: u64,
    pub settle_one_shard: u64,
    pub settle_three_shards: u64,
}

/// The whole flow: deploy, register, open, settle with a two-shard
/// receipt, and every way a settlement must fail.
pub async fn flow(chain: Chain) -> Gas {
    let owner = Wallet::dev(0).unwrap();
    let researcher = Wallet::dev(1).unwrap();
    let stranger = Wallet::dev(2).unwrap();
    let d = data();
    let commitment = d.dataset.commitment(&d.secret);
    let rows = d.dataset.rows() as u64;
    let mut gas = Gas::default();

    let (s, r) = Settlement::deploy(chain, &owner).await.unwrap();
    gas.deploy = r.gas_used;
    let chain_id = s.chain().chain_id().await.unwrap();
    let price = ether(1);
    let (ds, r) = s
        .register_dataset(&owner, commitment, rows, B256::repeat_byte(7), price)
        .await
        .unwrap();
    gas.register_dataset = r.gas_used;
    let deadline = s.chain().now().await.unwrap() + 3600;

    // Only the owner may change a dataset; escrow below the price fails.
    assert_reverts(s.retire_dataset(&stranger, ds).await, "NotOwner");
    let any = [Fr::from(1u64)];
    let q0 = question(0x10);
    let open = |c: Fr, q: B256, ids: &[Fr], v: B256, value: U256| {
        open_job(ds, c, q, ids, v, deadline, value)
    };
    assert_reverts(
        s.open_job(
            &researcher,
            &open(commitment, q0, &any, B256::ZERO, price - U256::from(1)),
        )
        .await,
        "LowEscrow",
    );
    assert_reverts(
        s.open_job(
            &researcher,
            &open(commitment, q0, &any, B256::repeat_byte(1), price),
        )
        .await,
        "UnknownVerifier",
    );
    // A job pins a question and at least one circuit.
    assert_reverts(
        s.open_job(&researcher, &open(commitment, q0, &[], B256::ZERO, price))
            .await,
        "BadCircuits",
    );
    assert_reverts(
        s.open_job(
            &researcher,
            &open(commitment, B256::ZERO, &any, B256::ZERO, price),
        )
        .await,
        "BadCircuits",
    );

    // A job names the commitment it expects: another one is refused.
    assert_reverts(
        s.open_job(
            &researcher,
            &open(commitment + Fr::from(1u64), q0, &any, B256::ZERO, price),
        )
        .await,
        "CommitmentChanged",
    );

    // Job 1: the owner names the keys at settlement. The question fixes
    // the nonce before the job exists, so the proofs can be made first.
    let q1 = question(0x11);
    let nonce1 = settlement::job_nonce(chain_id, s.address(), researcher.address(), q1);
    let o1 = prove(&d, nonce1);
    let c1 = circuits(&o1.receipt);
    assert_eq!(c1.len(), 1, "one circuit for every shard");
    let (job1, r) = s
        .open_job(&researcher, &open(commitment, q1, &c1, B256::ZERO, price))
        .await
        .unwrap();
    gas.open_job = r.gas_used;
    assert_eq!(s.job_nonce(job1).await.unwrap(), nonce1, "nonce derivation");
    assert_eq!(s.job(job1).await.unwrap().question, q1);
    // A question is opened once by its researcher: its nonce is spent.
    assert_reverts(
        s.open_job(&researcher, &open(commitment, q1, &c1, B256::ZERO, price))
            .await,
        "QuestionUsed",
    );
    // Another address copying the hash opens a job of its own, with
    // another nonce, and blocks nobody.
    let (copied, _) = s
        .open_job(&stranger, &open(commitment, q1, &c1, B256::ZERO, price))
        .await
        .unwrap();
    let theirs = s.job_nonce(copied).await.unwrap();
    assert_ne!(theirs, nonce1);
    assert_eq!(
        theirs,
        settlement::job_nonce(chain_id, s.address(), stranger.address(), q1)
    );
    assert_eq!(o1.receipt.shards.len(), 2);
    let keys = vks(&o1);
    let bundle = Bundle::for_receipt(&o1.receipt, &keys).unwrap();
    assert_eq!(bundle.rows, vec![11]);
    let good = settlement::shards(&o1.receipt, &bundle).unwrap();
    let values1 = settlement::values(&o1.receipt).unwrap();

    // A bundle of two keys (the key again, under a smaller shard size)
    // registered as one key with more inputs gets another id (the shape
    // is part of it), so the real bundle is still free to register under
    // its own.
    let two =
        Bundle::for_circuits(&o1.receipt.circuit, vec![(11, &keys[0]), (1, &keys[0])]).unwrap();
    let squat = Bundle {
        keys: 1,
        inputs: ((two.bytes.len() - 576) / 64) as u32,
        rows: vec![11],
        ..two.clone()
    };
    let (squat_id, _) = s.register_verifier(&stranger, &squat).await.unwrap();
    assert_ne!(squat_id, two.id());
    assert!(s.has_verifier(squat_id).await.unwrap());
    assert!(!s.has_verifier(two.id()).await.unwrap());

    // A stranger may not name the keys for a job that left them open.
    s.register_verifier(&stranger, &bundle).await.unwrap();
    assert_reverts(
        s.settle_shards(
            &stranger,
            job1,
            bundle.id(),
            &c1,
            values1.clone(),
            good.clone(),
        )
        .await,
        "NotOwner",
    );

    // Tampered shards, each rejected on chain and by the Rust verifier.
    type Tamper = Box<dyn Fn(&mut Receipt)>;
    let tampers: Vec<(&str, Tamper, &str)> = vec![
        (
            "changed value",
            Box::new(|r: &mut Receipt| {
                let v: i128 = r.values[0].parse().unwrap();
                r.values[0] = (v + 1).to_string();
            }),
            "InvalidProof",
        ),
        (
            "changed link",
            Box::new(|r: &mut Receipt| {
                let l = fr_from_hex(&r.shards[0].link_out).unwrap() + Fr::from(1u64);
                r.shards[0].link_out = fr_to_hex(l);
                r.shards[1].link_in = r.shards[0].link_out.clone();
            }),
            "InvalidProof",
        ),
        (
            "proofs swapped",
            Box::new(|r: &mut Receipt| {
                let p = r.shards[0].proof.clone();
                r.shards[0].proof = r.shards[1].proof.clone();
                r.shards[1].proof = p;
            }),
            "InvalidProof",
        ),
        (
            "dropped shard",
            Box::new(|r: &mut Receipt| {
                r.shards.pop();
            }),
            "BadShard",
        ),
    ];
    for (what, tamper, error) in &tampers {
        let mut bad = o1.receipt.clone();
        tamper(&mut bad);
        let verdict = bad.verify(&zkgate_statement::groth16::keys_to_bytes(&keys));
        assert!(
            !matches!(verdict, Ok(Verdict::Valid)),
            "{what}: the Rust verifier accepted it"
        );
        let shards = match settlement::shards(&bad, &bundle) {
            Ok(s) => s,
            Err(e) => panic!("{what}: {e}"),
        };
        let values = settlement::values(&bad).unwrap();
        let r = s
            .settle_shards(&owner, job1, bundle.id(), &c1, values, shards)
            .await;
        assert!(
            matches!(&r, Err(Error::Reverted(why)) if why.contains(error)),
            "{what}: expected {error}, got {r:?}"
        );
    }
    // A tampered proof point: C moved by the generator.
    let mut bad = good.clone();
    bad[1].proof[7] += U256::from(1);
    assert_reverts(
        s.settle_shards(&owner, job1, bundle.id(), &c1, values1.clone(), bad)
            .await,
        "InvalidProof",
    );
    // Values of another length than the keys' circuit publishes.
    let mut more = values1.clone();
    more.push(U256::ZERO);
    assert_reverts(
        s.settle_shards(&owner, job1, bundle.id(), &c1, more, good.clone())
            .await,
        "BadShard",
    );

    // The valid receipt settles and pays the owner the escrow.
    let before = s.chain().balance(owner.address()).await.unwrap();
    let settled = s
        .settle(&owner, job1, &c1, &o1.receipt, &keys)
        .await
        .unwrap();
    gas.settle_two_shards = settled.gas_used;
    let after = s.chain().balance(owner.address()).await.unwrap();
    let fee = U256::from(settled.gas_used) * U256::from(settled.gas_price);
    assert_eq!(after, before + price - fee, "the owner is paid");
    let expect = settlement::values_as_words(&o1.receipt.aggregates().unwrap());
    assert_eq!(settled.values, expect, "the event carries the values");
    assert_eq!(s.result(job1).await.unwrap(), expect);
    let job = s.job(job1).await.unwrap();
    assert_eq!(job.status, Status::Settled);
    assert_eq!(job.verifier, bundle.id());
    let (event, log) = s.settled_event(job1).await.unwrap().expect("an event");
    assert_eq!(event.values, expect);
    assert_eq!(log.tx, settled.tx);

    // A job settles once.
    assert_reverts(
        s.settle(&owner, job1, &c1, &o1.receipt, &keys).await,
        "NotOpen",
    );

    // Job 2 names the keys; job 1's proofs do not carry its binding.
    let c2 = c1.clone();
    let (job2, _) = s
        .open_job(
            &researcher,
            &open(commitment, question(0x22), &c2, bundle.id(), price),
        )
        .await
        .unwrap();
    assert_reverts(
        s.settle_shards(
            &owner,
            job2,
            bundle.id(),
            &c2,
            values1.clone(),
            good.clone(),
        )
        .await,
        "InvalidProof",
    );

    // Job 3 opens on a dataset registered with another commitment for the
    // same rows: a receipt bound to job 3 over the real rows does not
    // settle it.
    let other = commitment + Fr::from(1u64);
    let (ds2, _) = s
        .register_dataset(&owner, other, rows, B256::ZERO, price)
        .await
        .unwrap();
    let q3 = question(0x33);
    let o3 = prove(
        &d,
        settlement::job_nonce(chain_id, s.address(), researcher.address(), q3),
    );
    let c3 = circuits(&o3.receipt);
    let (job3, _) = s
        .open_job(
            &researcher,
            &open_job(ds2, other, q3, &c3, B256::ZERO, deadline, price),
        )
        .await
        .unwrap();
    assert_eq!(
        o3.receipt.verify(&o3.vk_bytes()).unwrap(),
        Verdict::Valid,
        "valid for the real commitment"
    );
    assert_reverts(
        s.settle(&owner, job3, &c3, &o3.receipt, &vks(&o3)).await,
        "InvalidProof",
    );

    // A one-shard receipt goes through the single-proof path: a changed
    // value fails, the receipt settles.
    let q4 = question(0x44);
    let o4 = prove_in(
        &d,
        settlement::job_nonce(chain_id, s.address(), researcher.address(), q4),
        None,
    );
    let c4 = circuits(&o4.receipt);
    let (job4, _) = s
        .open_job(&researcher, &open(commitment, q4, &c4, B256::ZERO, price))
        .await
        .unwrap();
    assert_eq!(o4.receipt.shards.len(), 1);
    let mut bad = o4.receipt.clone();
    let v: i128 = bad.values[0].parse().unwrap();
    bad.values[0] = (v - 1).to_string();
    assert_reverts(
        s.settle(&owner, job4, &c4, &bad, &vks(&o4)).await,
        "InvalidProof",
    );
    let one = s
        .settle(&owner, job4, &c4, &o4.receipt, &vks(&o4))
        .await
        .unwrap();
    gas.settle_one_shard = one.gas_used;

    // Three shards (11, 11 and 1 real rows; one key) are checked in one
    // batched pairing: a changed value in the first shard (weight 1) or a
    // the last shard (random weight) publishes, or two proofs of the same
    // key swapped, fail; the receipt settles.
    let d23 = data_rows(23);
    let c23 = d23.dataset.commitment(&d23.secret);
    let (ds23, _) = s
        .register_dataset(&owner, c23, 23, B256::ZERO, price)
        .await
        .unwrap();
    let q5 = question(0x55);
    let o5 = prove_in(
        &d23,
        settlement::job_nonce(chain_id, s.address(), researcher.address(), q5),
        Some(11),
    );
    let c5 = circuits(&o5.receipt);
    let (job5, _) = s
        .open_job(
            &researcher,
            &open_job(ds23, c23, q5, &c5, B256::ZERO, deadline, price),
        )
        .await
        .unwrap();
    assert_eq!(o5.receipt.shards.len(), 3);
    let keys5 = vks(&o5);
    let bundle5 = Bundle::for_receipt(&o5.receipt, &keys5).unwrap();
    s.register_verifier(&owner, &bundle5).await.unwrap();
    let good5 = settlement::shards(&o5.receipt, &bundle5).unwrap();
    let values5 = settlement::values(&o5.receipt).unwrap();
    let mut bad = values5.clone();
    bad[0] += U256::from(1);
    assert_reverts(
        s.settle_shards(&owner, job5, bundle5.id(), &c5, bad, good5.clone())
            .await,
        "InvalidProof",
    );
    let mut bad = good5.clone();
    bad.swap(0, 1);
    (bad[0].offset, bad[1].offset) = (bad[1].offset, bad[0].offset);
    (bad[0].linkIn, bad[1].linkIn) = (bad[1].linkIn, bad[0].linkIn);
    (bad[0].linkOut, bad[1].linkOut) = (bad[1].linkOut, bad[0].linkOut);
    assert_reverts(
        s.settle_shards(&owner, job5, bundle5.id(), &c5, values5, bad)
            .await,
        "InvalidProof",
    );
    let three = s
        .settle(&owner, job5, &c5, &o5.receipt, &keys5)
        .await
        .unwrap();
    assert_eq!(
        three.values,
        settlement::values_as_words(&o5.receipt.aggregates().unwrap())
    );
    gas.settle_three_shards = three.gas_used;

    // Job 6 pins another circuit (of another shard size): the owner can
    // neither settle it with a bundle of the receipt's circuit nor claim
    // the job pinned another list.
    let q6 = question(0x66);
    let o6 = prove(
        &d,
        settlement::job_nonce(chain_id, s.address(), researcher.address(), q6),
    );
    let h6 = &o6.receipt.circuit;
    let c6 = vec![h6.with_shard_rows(h6.shard_rows * 2).id()];
    let (job6, _) = s
        .open_job(&researcher, &open(commitment, q6, &c6, B256::ZERO, price))
        .await
        .unwrap();
    assert_reverts(
        s.settle(&owner, job6, &c1, &o6.receipt, &vks(&o6)).await,
        "BadCircuits",
    );
    assert_reverts(
        s.settle(&owner, job6, &c6, &o6.receipt, &vks(&o6)).await,
        "CircuitNotPinned",
    );

    // Refunds: not before the deadline; after it, to the researcher, once;
    // and no settlement after a refund.
    assert_reverts(s.refund(&stranger, job2).await, "NotExpired");
    s.chain().advance_time(7200).await.unwrap();
    assert_reverts(
        s.settle_shards(
            &owner,
            job2,
            bundle.id(),
            &c2,
            values1.clone(),
            good.clone(),
        )
        .await,
        "Expired",
    );
    let before = s.chain().balance(researcher.address()).await.unwrap();
    s.refund(&stranger, job2).await.unwrap(); // anyone may trigger it
    let after = s.chain().balance(researcher.address()).await.unwrap();
    assert_eq!(after, before + price, "the researcher gets the escrow back");
    assert_eq!(s.job(job2).await.unwrap().status, Status::Refunded);
    assert_reverts(s.refund(&stranger, job2).await, "NotOpen");
    assert_reverts(
        s.settle_shards(&owner, job2, bundle.id(), &c2, values1, good)
            .await,
        "NotOpen",
    );
    gas
}
