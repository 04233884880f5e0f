//! The settlement flow against a real node: anvil from npm
//! (`@foundry-rs/anvil-linux-amd64`, pinned in `contracts/package.json`;
//! `npm ci --prefix contracts` installs it), started on a free loopback
//! port and stopped when the test ends.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zkgate_chain::{Chain, Wallet};

struct Anvil {
    child: Child,
    url: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn anvil_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("ZKGATE_ANVIL") {
        return p.into();
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    assert!(
        p.exists(),
        "anvil is not installed: run `npm ci --prefix contracts` (or set ZKGATE_ANVIL)"
    );
    p
}

async fn start() -> Anvil {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(anvil_binary())
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--silent")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("anvil starts");
    let anvil = Anvil {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let chain = Chain::rpc(&anvil.url, None).unwrap();
    let t = Instant::now();
    while chain.chain_id().await.is_err() {
        assert!(t.elapsed() < Duration::from_secs(30), "anvil did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anvil
}

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
    let anvil = start().await;
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
