//! The settlement flow against a real node: anvil from npm
//! (`@foundry-rs/anvil-linux-amd64`, pinned in `contracts/package.json`;
//! `npm ci --prefix contracts` installs it), started on a free loopback
//! port and stopped when the test ends.

use crate::common;

use zkgate_chain::{Chain, Wallet};
use zkgate_testkit::Anvil;

/// One JSON-RPC request over plain HTTP/1.1 (`Connection: close`).
fn post_json(url: &str, body: &serde_json::Value) -> serde_json::Value {
    use std::io::{Read, Write};
    let host = url.trim_start_matches("http://");
    let body = body.to_string();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let json = &out[out.find("\r\n\r\n").expect("a response") + 4..];
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[tokio::test(flavor = "current_thread")]
async fn settlement_flow_on_anvil() {
    let anvil = Anvil::start();
    let chain = Chain::rpc(&anvil.url, None).unwrap();
    assert_eq!(chain.chain_id().await.unwrap(), 31_337);
    for w in Wallet::dev_all() {
        // The development keys are anvil's funded accounts.
        assert_eq!(
            chain.balance(w.address()).await.unwrap(),
            common::ether(10_000)
        );
    }
    // Address registration signatures are anvil's own `personal_sign`.
    let w = Wallet::dev(1).unwrap();
    let message = zkgate_chain::identity::registration_message("gw", "alice", 1_700_000_000);
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "personal_sign",
        "params": [format!("0x{}", hex::encode(&message)), w.address().to_string()],
    });
    let theirs = post_json(&anvil.url, &body);
    assert_eq!(
        theirs["result"].as_str().unwrap(),
        w.sign_message(&message),
        "{theirs}"
    );
    let gas = common::flow(chain).await;
    eprintln!("anvil: {gas:?}");
}
