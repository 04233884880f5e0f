//! A payee that refuses ether cannot block a settlement: the escrow is kept
//! for it (`owed`, `PaymentOwed`), and `withdraw` fails without losing it.
//! The payee is a minimal forwarding contract that reverts on plain
//! transfers: it owns the dataset, so the settlement's payment goes to it.

use crate::common;

use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_sol_types::{SolCall, SolEvent};
use zkgate_chain::abi::Settlement as S;
use zkgate_chain::settlement::{self, Bundle};
use zkgate_chain::{Chain, Error, Settlement, TxRequest, Wallet};

/// Runtime: reverts when called without data; otherwise calls the address
/// in the first 20 bytes of calldata with the rest and the value, and
/// returns or reverts with what it got. Init code copies it out.
const FORWARDER: &str = "603580600b6000396000f3\
    36600857600080fd5b60143603806014600037600060008260003460003560601c5af1\
    3d600060003e6030573d6000fd5b3d6000f3";

async fn through(
    chain: &Chain,
    from: &Wallet,
    forwarder: Address,
    target: Address,
    call: Vec<u8>,
) -> Result<zkgate_chain::TxReceipt, Error> {
    let data = [target.as_slice(), &call].concat();
    chain
        .send(
            from,
            &TxRequest {
                to: Some(forwarder),
                data: Bytes::from(data),
                ..Default::default()
            },
        )
        .await
}

async fn owed(s: &Settlement, who: Address) -> U256 {
    let call = S::owedCall { who };
    let out = s
        .chain()
        .call(s.address(), call.abi_encode().into())
        .await
        .unwrap();
    S::owedCall::abi_decode_returns(&out).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_payee_refusing_ether_does_not_block_settlement() {
    let dir = tempfile::tempdir().unwrap();
    let deployer = Wallet::dev(0).unwrap();
    let researcher = Wallet::dev(1).unwrap();
    let settler = Wallet::dev(2).unwrap();
    let (s, _) = Settlement::deploy(
        Chain::embedded(&dir.path().join("state.json")).unwrap(),
        &deployer,
    )
    .await
    .unwrap();
    let r = s
        .chain()
        .send(
            &deployer,
            &TxRequest {
                data: Bytes::from(hex::decode(FORWARDER).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let forwarder = r.contract.unwrap();

    // The forwarder registers the dataset, so it is the payee.
    let d = common::data();
    let commitment = d.dataset.commitment(&d.secret);
    let price = U256::from(777u64);
    let register = S::registerDatasetCall {
        commitment: U256::from_be_bytes(zkgate_chain::evm::word(&commitment)),
        rows: 12,
        schemaHash: B256::ZERO,
        price,
    };
    through(
        s.chain(),
        &deployer,
        forwarder,
        s.address(),
        register.abi_encode(),
    )
    .await
    .unwrap();
    assert_eq!(s.dataset(1).await.unwrap().owner, forwarder);

    // Job 1 names its keys, so anyone may settle it.
    let chain_id = s.chain().chain_id().await.unwrap();
    let q = common::question(1);
    let o = common::prove(
        &d,
        settlement::job_nonce(chain_id, s.address(), researcher.address(), q),
    );
    let circuits = common::circuits(&o.receipt);
    let vks: Vec<_> = o.keys.iter().map(|(_, vk)| vk.clone()).collect();
    let bundle = Bundle::for_receipt(&o.receipt, &vks).unwrap();
    s.register_verifier(&settler, &bundle).await.unwrap();
    let deadline = s.chain().now().await.unwrap() + 3600;
    let (job, _) = s
        .open_job(
            &researcher,
            &common::open_job(1, commitment, q, &circuits, bundle.id(), deadline, price),
        )
        .await
        .unwrap();
    assert_eq!(job, 1);

    let settled = s
        .settle(&settler, job, &circuits, &o.receipt, &vks)
        .await
        .unwrap();
    assert_eq!(settled.payee, forwarder);
    assert_eq!(s.chain().balance(forwarder).await.unwrap(), U256::ZERO);
    assert_eq!(owed(&s, forwarder).await, price, "kept for the payee");
    let logs = s
        .chain()
        .logs(
            s.address(),
            S::PaymentOwed::SIGNATURE_HASH,
            Some(B256::left_padding_from(forwarder.as_slice())),
        )
        .await
        .unwrap();
    assert_eq!(logs.len(), 1);

    // Withdrawing to an account that still refuses fails and keeps it.
    let r = through(
        s.chain(),
        &deployer,
        forwarder,
        s.address(),
        S::withdrawCall {}.abi_encode(),
    )
    .await;
    assert!(
        matches!(&r, Err(Error::Reverted(why)) if why.contains("TransferFailed")),
        "{r:?}"
    );
    assert_eq!(owed(&s, forwarder).await, price);
}
