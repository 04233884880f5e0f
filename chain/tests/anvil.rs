//! The settlement flow against a real node: anvil from npm
//! (`@foundry-rs/anvil-linux-amd64`, pinned in `contracts/package.json`;
//! `npm ci --prefix contracts` installs it), started on a free loopback
//! port and stopped when the test ends.

mod common;

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
    let gas = common::flow(chain).await;
    eprintln!("anvil: {gas:?}");
}
