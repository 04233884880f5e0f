//! ERC-7992 on anvil: a one-shard receipt's key registered as a model on
//! the `Inference` contract, then verified by a client that has no zkgate
//! code (`contracts/erc7992-check.js`, ethers from npm): its
//! `verifyInference` transaction emits `InferenceVerified`; a changed
//! output, input commitment or model is refused.

use crate::common;

use std::path::Path;
use std::process::Command;
use zkgate_chain::erc7992::{self, InferenceContract};
use zkgate_chain::{Chain, Error, Settlement, Wallet};
use zkgate_statement::field::fr_to_hex;
use zkgate_testkit::Anvil;
use zkgate_zkml::Fr;

#[tokio::test(flavor = "current_thread")]
async fn a_plain_erc_7992_client_verifies_a_receipt_on_anvil() {
    let anvil = Anvil::start();
    let chain = || Chain::rpc(&anvil.url, None).unwrap();
    let owner = Wallet::dev(0).unwrap();
    let (s, _) = Settlement::deploy(chain(), &owner).await.unwrap();
    let inference = InferenceContract::deploy(chain(), &owner, s.address())
        .await
        .unwrap();

    // One shard of twelve rows, bound to a nonce of the caller's choosing.
    let d = common::data();
    let nonce = Fr::from(0x7992u64);
    let out = common::prove_in(&d, nonce, None);
    let vk = &out.keys[0].1;
    let model = inference
        .register_model(&owner, &s, &out.receipt, vk, "ipfs://model-card")
        .await
        .unwrap();
    assert_eq!(model, 1);
    let call = erc7992::call(&out.receipt).unwrap();
    assert_eq!(
        fr_to_hex(nonce),
        out.receipt.nonce,
        "the receipt is bound to the nonce the input commitment names"
    );

    // From Rust first: a changed output is refused with the draft's error.
    let mut changed = call.clone();
    let mut bytes = changed.output.to_vec();
    *bytes.last_mut().unwrap() ^= 1;
    changed.output = bytes.into();
    match inference.verify_inference(&owner, model, &changed).await {
        Err(Error::Reverted(why)) => {
            assert!(why.contains("InvalidProof") || why.contains("0x"), "{why}")
        }
        other => panic!("a changed output must be refused: {other:?}"),
    }
    // A sharded receipt is not one inference.
    let sharded = common::prove(&d, nonce);
    assert!(erc7992::call(&sharded.receipt).is_err());

    // Then from a client with no zkgate code.
    let args = serde_json::json!({
        "rpc": anvil.url,
        "contract": inference.address().to_string(),
        "key": format!("0x{}", Wallet::dev(2).unwrap().to_hex()),
        "model_id": model,
        "input_commitment": call.input_commitment.to_string(),
        "output": format!("0x{}", hex::encode(&call.output)),
        "changed_output": format!("0x{}", hex::encode(&changed.output)),
        "proof": format!("0x{}", hex::encode(&call.proof)),
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("call.json");
    std::fs::write(&file, args.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/erc7992-check.js");
    assert!(
        script.with_file_name("node_modules/ethers").exists(),
        "ethers is not installed: run `npm ci --prefix contracts`"
    );
    let run = Command::new("node")
        .arg(&script)
        .arg(&file)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(
        run.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(said.trim()).unwrap();
    assert_eq!(seen["verified"], true, "{seen}");
    assert_eq!(
        seen["proof_system"],
        format!("0x{}", hex::encode(erc7992::proof_system_id()))
    );
    eprintln!("verifyInference from ethers: {} gas", seen["gas_used"]);
}
