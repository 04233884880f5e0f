//! Evaluation bounties on the embedded chain, with real proofs: two models
//! ranked by their proven MSE on the tabular fixture's private labels.

use crate::common::{self, ether, Data};
use alloy_primitives::{B256, U256};
use rand::SeedableRng;
use std::path::Path;
use zkgate_chain::abi::Status;
use zkgate_chain::bounty::{score, Terms};
use zkgate_chain::client::TxRequest;
use zkgate_chain::settlement::{receipt_circuits, values};
use zkgate_chain::{Chain, Error, Settlement, Wallet};
use zkgate_statement::bounty::{Metric, Template};
use zkgate_statement::Aggregate;
use zkgate_zkml::import::Imported;
use zkgate_zkml::job::JobRequest;
use zkgate_zkml::pipeline::{run, LocalJob, Outcome};
use zkgate_zkml::Fr;

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn model(name: &str) -> Imported {
    zkgate_zkml::import::load(fixtures().join(format!("models/{name}.onnx"))).unwrap()
}

fn request(aggregate: Aggregate) -> JobRequest {
    JobRequest {
        aggregate,
        input_columns: Some((0..13).map(|i| format!("f{i}")).collect()),
        quant: Default::default(),
        epsilon: None,
    }
}

fn mse() -> Aggregate {
    Aggregate::Mse {
        label: "target".into(),
    }
}

fn template(d: &Data) -> Template {
    let schema =
        zkgate_zkml::dataset::declared_schema(&fixtures().join("data/tabular.csv")).unwrap();
    let r = request(mse());
    Template::new(
        &schema,
        r.quant,
        r.input_columns.as_deref(),
        r.aggregate.clone(),
    )
    .inspect(|t| assert_eq!(t.schema.columns.len(), d.dataset.columns().len()))
    .unwrap()
}

/// The circuit a job of `model` for `aggregate` over every row proves
/// (one shard), as an entrant computes it before entering.
fn circuit(d: &Data, m: &Imported, aggregate: Aggregate) -> Fr {
    let schema = template(d).schema;
    let spec = zkgate_zkml::job::compile_public(
        &m.model,
        &m.onnx_sha256,
        &schema,
        d.dataset.rows() as u64,
        &request(aggregate),
    )
    .unwrap();
    spec.header().id()
}

fn prove(d: &Data, m: &Imported, aggregate: Aggregate, nonce: Fr) -> Outcome {
    let request = request(aggregate);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
    run(
        LocalJob::new(m, &d.dataset, &d.secret, &request, nonce),
        &mut rng,
        &mut |_| {},
    )
    .unwrap()
}

fn assert_reverts<T: std::fmt::Debug>(r: Result<T, Error>, error: &str) {
    match r {
        Err(Error::Reverted(why)) => assert!(why.contains(error), "expected {error}, got {why}"),
        other => panic!("expected a revert with {error}, got {other:?}"),
    }
}

/// A funded account that is none of the development ones.
async fn funded(s: &Settlement) -> Wallet {
    let w = Wallet::random();
    let tx = TxRequest {
        to: Some(w.address()),
        data: Default::default(),
        value: ether(100),
        gas: None,
    };
    s.chain().send(&Wallet::dev(0).unwrap(), &tx).await.unwrap();
    w
}

struct Entry {
    job: u64,
    outcome: Outcome,
    circuits: Vec<Fr>,
}

/// Enters `bounty` from `who` with `m` computing `aggregate`, and proves
/// the entry (not yet settled).
#[allow(clippy::too_many_arguments)]
async fn enter(
    s: &Settlement,
    d: &Data,
    who: &Wallet,
    bounty: u64,
    m: &Imported,
    aggregate: Aggregate,
    label: u8,
    fee: U256,
) -> Entry {
    let circuits = vec![circuit(d, m, aggregate.clone())];
    let (job, r) = s
        .enter_bounty(who, bounty, common::question(label), &circuits, fee)
        .await
        .unwrap();
    eprintln!("enterBounty: {} gas", r.gas_used);
    let outcome = prove(d, m, aggregate, s.job_nonce(job).await.unwrap());
    assert_eq!(receipt_circuits(&outcome.receipt), circuits);
    Entry {
        job,
        outcome,
        circuits,
    }
}

async fn settle(s: &Settlement, owner: &Wallet, e: &Entry) -> Result<u64, Error> {
    let vks: Vec<_> = e.outcome.keys.iter().map(|(_, vk)| vk.clone()).collect();
    s.settle(owner, e.job, &e.circuits, &e.outcome.receipt, &vks)
        .await
        .map(|done| done.gas_used)
}

#[tokio::test(flavor = "current_thread")]
async fn a_bounty_ranks_entries_by_their_proven_scores() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::embedded(&dir.path().join("chain/state.json")).unwrap();
    let (owner, alice, bob) = (
        Wallet::dev(0).unwrap(),
        Wallet::dev(1).unwrap(),
        Wallet::dev(2).unwrap(),
    );
    let d = common::data();
    let commitment = d.dataset.commitment(&d.secret);
    let rows = d.dataset.rows() as u64;
    let (s, _) = Settlement::deploy(chain, &owner).await.unwrap();
    let sponsor = funded(&s).await;
    let price = ether(1);
    let (ds, _) = s
        .register_dataset(&owner, commitment, rows, B256::repeat_byte(7), price)
        .await
        .unwrap();
    let now = s.chain().now().await.unwrap();
    let terms = Terms {
        dataset: ds,
        commitment,
        metric: Metric::Mse,
        template: template(&d),
        closes: now + 600,
        deadline: now + 3600,
        entry_fee: price,
        void_if_withheld: false,
        prize: ether(10),
    };

    // A prize, a fee paying at least the dataset's price, and an order of
    // times are required.
    let (sr, sp) = (&s, &sponsor);
    let bad = |t: Terms| async move { sr.open_bounty(sp, &t).await };
    assert_reverts(
        bad(Terms {
            prize: U256::ZERO,
            ..terms.clone()
        })
        .await,
        "BadBounty",
    );
    assert_reverts(
        bad(Terms {
            entry_fee: price - U256::from(1),
            ..terms.clone()
        })
        .await,
        "LowEscrow",
    );
    assert_reverts(
        bad(Terms {
            deadline: now + 600,
            ..terms.clone()
        })
        .await,
        "BadBounty",
    );
    let (id, r) = s.open_bounty(&sponsor, &terms).await.unwrap();
    eprintln!("openBounty: {} gas", r.gas_used);
    assert_eq!(s.bounty_template(id).await.unwrap(), terms.template);

    // Entries: alice's linear model, bob's MLP, and one of alice's whose
    // circuit computes a mean instead of the bounty's MSE. A fee other
    // than the bounty's is refused.
    let (linreg, mlp) = (model("linreg"), model("mlp"));
    assert_reverts(
        s.enter_bounty(
            &alice,
            id,
            common::question(1),
            &[Fr::from(1u64)],
            price + U256::from(1),
        )
        .await,
        "WrongFee",
    );
    let a = enter(&s, &d, &alice, id, &linreg, mse(), 1, price).await;
    let b = enter(&s, &d, &bob, id, &mlp, mse(), 2, price).await;
    let wrong = enter(&s, &d, &alice, id, &linreg, Aggregate::Mean, 3, price).await;
    assert_eq!(
        s.bounty_entries(id).await.unwrap(),
        [a.job, b.job, wrong.job]
    );
    assert_eq!(s.bounty_of(a.job).await.unwrap(), id);

    // An entry settles only through the bounty, and only with a circuit
    // of the bounty's question.
    let vks: Vec<_> = a.outcome.keys.iter().map(|(_, vk)| vk.clone()).collect();
    let bundle = zkgate_chain::settlement::Bundle::for_receipt(&a.outcome.receipt, &vks).unwrap();
    s.register_verifier(&owner, &bundle).await.unwrap();
    assert_reverts(
        s.settle_shards(
            &owner,
            a.job,
            bundle.id(),
            &a.circuits,
            values(&a.outcome.receipt).unwrap(),
            zkgate_chain::settlement::shards(&a.outcome.receipt, &bundle).unwrap(),
        )
        .await,
        "InBounty",
    );
    assert_reverts(settle(&s, &owner, &wrong).await, "NotTheQuestion");
    // Another model's tail does not make alice's circuit the question.
    let tail_b = b.outcome.receipt.circuit.parts().tail;
    assert_reverts(
        s.settle_entry_shards(
            &owner,
            a.job,
            bundle.id(),
            &a.circuits,
            values(&a.outcome.receipt).unwrap(),
            zkgate_chain::settlement::shards(&a.outcome.receipt, &bundle).unwrap(),
            tail_b,
        )
        .await,
        "NotTheQuestion",
    );

    // Settled out of entry order; each score is the contract's reading of
    // the released values, the same as the client's.
    let gas_b = settle(&s, &owner, &b).await.unwrap();
    let gas_a = settle(&s, &owner, &a).await.unwrap();
    eprintln!("settleEntry: {gas_a} and {gas_b} gas (one shard each)");
    for e in [&a, &b] {
        let r = &e.outcome.receipt;
        let expected = score(
            Metric::Mse,
            rows,
            &values(r).unwrap(),
            &r.circuit.parts().tail,
        );
        assert_eq!(s.score_of(e.job).await.unwrap(), expected);
        let mse = r.circuit.decode(r.rows, &r.aggregates().unwrap())["mse"]
            .as_f64()
            .unwrap();
        let shown: f64 = zkgate_chain::bounty::score_text(expected).parse().unwrap();
        assert!(
            (shown - mse).abs() <= 1e-9 * mse.max(1.0),
            "{shown} vs {mse}"
        );
    }
    // The sponsor cannot take the prize back now; nobody enters after the
    // bounty closes, and nobody finalizes it before its deadline.
    assert_reverts(s.cancel_bounty(&sponsor, id).await, "EntriesSettled");
    assert_reverts(s.finalize_bounty(&bob, id).await, "BountyNotOver");
    // (The embedded chain's blocks are a second apart at least, so its
    // clock runs ahead of the wall's by a few seconds here.)
    s.chain().advance_time(900).await.unwrap();
    assert_reverts(
        s.enter_bounty(&bob, id, common::question(4), &b.circuits, price)
            .await,
        "BountyClosed",
    );
    // Entries are not refunded one by one: the bounty's end does it.
    s.chain().advance_time(3000).await.unwrap();
    assert_reverts(s.refund(&alice, wrong.job).await, "InBounty");

    let owed = |w: &Wallet| {
        let a = w.address();
        let s = &s;
        async move { s.owed(a).await.unwrap() }
    };
    let before = (owed(&owner).await, owed(&alice).await, owed(&bob).await);
    let f = s.finalize_bounty(&sponsor, id).await.unwrap();
    eprintln!("finalizeBounty: {} gas", f.gas_used);
    let (sa, sb) = (
        s.score_of(a.job).await.unwrap(),
        s.score_of(b.job).await.unwrap(),
    );
    let (best, worst) = if sa <= sb { (&a, &b) } else { (&b, &a) };
    assert_eq!(f.ranking, [best.job, worst.job]);
    assert_eq!(f.winner, best.job);
    assert_eq!(f.withheld, 1);
    let winner = if best.job == a.job { &alice } else { &bob };
    assert_eq!(f.paid_to, winner.address());
    // One entry was withheld: the owner forfeits every fee (refunded to
    // the entrants); the prize still goes to the best settled entry, as
    // these terms say.
    assert_eq!(owed(&owner).await, before.0);
    let (alice_gets, bob_gets) = (
        ether(2)
            + if winner.address() == alice.address() {
                ether(10)
            } else {
                U256::ZERO
            },
        ether(1)
            + if winner.address() == bob.address() {
                ether(10)
            } else {
                U256::ZERO
            },
    );
    assert_eq!(owed(&alice).await - before.1, alice_gets);
    assert_eq!(owed(&bob).await - before.2, bob_gets);
    assert_eq!(s.job(wrong.job).await.unwrap().status, Status::Refunded);
    assert_eq!(s.job(a.job).await.unwrap().status, Status::Settled);
    assert_reverts(s.finalize_bounty(&sponsor, id).await, "BountyEnded");
    // What is owed is withdrawn.
    let balance = s.chain().balance(bob.address()).await.unwrap();
    s.withdraw(&bob).await.unwrap();
    assert!(s.chain().balance(bob.address()).await.unwrap() > balance);
    assert_eq!(owed(&bob).await, U256::ZERO);

    // A second bounty: the same model entered twice scores the same, and
    // the earlier entry wins even when settled last. Nothing is withheld,
    // so the fees pay the owner.
    let now = s.chain().now().await.unwrap();
    let terms2 = Terms {
        closes: now + 600,
        deadline: now + 3600,
        void_if_withheld: true,
        ..terms.clone()
    };
    let (id2, _) = s.open_bounty(&sponsor, &terms2).await.unwrap();
    let first = enter(&s, &d, &bob, id2, &linreg, mse(), 5, price).await;
    let second = enter(&s, &d, &alice, id2, &linreg, mse(), 6, price).await;
    settle(&s, &owner, &second).await.unwrap();
    settle(&s, &owner, &first).await.unwrap();
    s.chain().advance_time(3700).await.unwrap();
    let owner_before = owed(&owner).await;
    let f = s.finalize_bounty(&alice, id2).await.unwrap();
    assert_eq!(f.ranking, [first.job, second.job]);
    assert_eq!(f.scores[0], f.scores[1]);
    assert_eq!(
        (f.winner, f.paid_to, f.withheld),
        (first.job, bob.address(), 0)
    );
    assert_eq!(owed(&owner).await - owner_before, ether(2));

    // A third: one entry left unsettled under terms that void the bounty
    // then; and a fourth, cancelled before any settlement.
    let now = s.chain().now().await.unwrap();
    let (id3, _) = s
        .open_bounty(
            &sponsor,
            &Terms {
                closes: now + 60,
                deadline: now + 120,
                ..terms2.clone()
            },
        )
        .await
        .unwrap();
    let (id4, _) = s
        .open_bounty(
            &sponsor,
            &Terms {
                closes: now + 60,
                deadline: now + 120,
                ..terms2.clone()
            },
        )
        .await
        .unwrap();
    let kept = enter(&s, &d, &alice, id3, &linreg, mse(), 7, price).await;
    let (_, _) = s
        .enter_bounty(&bob, id3, common::question(8), &kept.circuits, price)
        .await
        .unwrap();
    settle(&s, &owner, &kept).await.unwrap();
    let (cancelled, _) = s
        .enter_bounty(&bob, id4, common::question(9), &kept.circuits, price)
        .await
        .unwrap();
    assert_reverts(s.cancel_bounty(&bob, id4).await, "NotOwner");
    let sponsor_before = owed(&sponsor).await;
    s.cancel_bounty(&sponsor, id4).await.unwrap();
    assert_eq!(s.job(cancelled).await.unwrap().status, Status::Refunded);
    s.chain().advance_time(300).await.unwrap();
    let f = s.finalize_bounty(&bob, id3).await.unwrap();
    assert_eq!((f.winner, f.paid_to, f.withheld), (0, sponsor.address(), 1));
    assert_eq!(f.ranking, [kept.job]);
    assert_eq!(owed(&sponsor).await - sponsor_before, ether(20));
}
