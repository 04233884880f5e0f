//! The settlement flow on the embedded EVM, and its state across reopening.

use crate::common;

use zkgate_chain::{Chain, Wallet};

#[tokio::test(flavor = "current_thread")]
async fn settlement_flow_on_the_embedded_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain/state.json");
    let gas = common::flow(Chain::embedded(&path).unwrap()).await;
    eprintln!("{gas:?}");
    // The state outlives the process's handle: reopened, the contract and
    // its settled job are there.
    let chain = Chain::embedded(&path).unwrap();
    let owner = Wallet::dev(0).unwrap();
    assert!(chain.balance(owner.address()).await.unwrap() > common::ether(10_000));
}
