//! Metered prices: a dataset priced per row proved; a job's charge is
//! fixed when it opens, paid exactly at settlement, and the rest of its
//! escrow refunded to the researcher.

use crate::common::{self, ether};
use alloy_primitives::{B256, U256};
use zkgate_chain::settlement::{receipt_circuits, OpenJob};
use zkgate_chain::{Chain, Error, Settlement, Wallet};

#[tokio::test(flavor = "current_thread")]
async fn a_job_pays_the_price_of_its_rows_and_gets_the_rest_back() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::embedded(&dir.path().join("chain/state.json")).unwrap();
    let (owner, researcher, stranger) = (
        Wallet::dev(0).unwrap(),
        Wallet::dev(1).unwrap(),
        Wallet::dev(2).unwrap(),
    );
    let d = common::data();
    let commitment = d.dataset.commitment(&d.secret);
    let rows = d.dataset.rows() as u64;
    let (s, _) = Settlement::deploy(chain, &owner).await.unwrap();
    let (ds, _) = s
        .register_dataset(&owner, commitment, rows, B256::ZERO, ether(1))
        .await
        .unwrap();
    let tenth = ether(1) / U256::from(10u64);
    match s.set_row_price(&stranger, ds, tenth).await {
        Err(Error::Reverted(why)) => assert!(why.contains("NotOwner"), "{why}"),
        other => panic!("only the owner prices a dataset: {other:?}"),
    }
    s.set_row_price(&owner, ds, tenth).await.unwrap();
    // 1 ether plus 0.1 per row, 12 rows.
    let price = ether(1) + tenth * U256::from(rows);
    assert_eq!(s.price_of(ds).await.unwrap(), price);

    // The job's circuits, from a proof bound to any nonce (the circuit
    // does not depend on it).
    let circuits = receipt_circuits(&common::prove(&d, 1u64.into()).receipt);
    let deadline = s.chain().now().await.unwrap() + 3600;
    let open = |q: u8, value: U256| OpenJob {
        dataset: ds,
        commitment,
        question: common::question(q),
        circuits: circuits.clone(),
        verifier: B256::ZERO,
        deadline,
        value,
    };
    match s
        .open_job(&researcher, &open(1, price - U256::from(1)))
        .await
    {
        Err(Error::Reverted(why)) => assert!(why.contains("LowEscrow"), "{why}"),
        other => panic!("an escrow below the rows' price must be refused: {other:?}"),
    }
    let (id, _) = s.open_job(&researcher, &open(2, ether(3))).await.unwrap();
    assert_eq!(s.job(id).await.unwrap().charge, price);
    // A later price change does not reach a job already open.
    s.set_row_price(&owner, ds, ether(1)).await.unwrap();
    assert_eq!(s.job(id).await.unwrap().charge, price);

    let out = common::prove(&d, s.job_nonce(id).await.unwrap());
    let vks: Vec<_> = out.keys.iter().map(|(_, vk)| vk.clone()).collect();
    let before = (
        s.chain().balance(owner.address()).await.unwrap(),
        s.chain().balance(researcher.address()).await.unwrap(),
    );
    let done = s
        .settle(&owner, id, &circuits, &out.receipt, &vks)
        .await
        .unwrap();
    assert_eq!(done.amount, price);
    // The embedded chain charges no gas price: balances move by exactly
    // the charge and the refund.
    assert_eq!(
        s.chain().balance(owner.address()).await.unwrap() - before.0,
        price
    );
    assert_eq!(
        s.chain().balance(researcher.address()).await.unwrap() - before.1,
        ether(3) - price
    );
}
