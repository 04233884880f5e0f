//! What the workspace's test programs share, in one place: fixture paths,
//! a fixture's first rows with its declared schema next to them, waiting
//! for a gateway job to end, and the snarkjs the lockfile pins. A
//! dev-dependency only; nothing here is part of zkgate.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zkgate_client::api::Job;
use zkgate_client::Client;

/// The workspace's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the testkit sits in the workspace")
        .to_path_buf()
}

/// A path under `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// Writes the header and first `rows` rows of fixture CSV `rel` to `out`,
/// with the fixture's declared schema next to it (`NAME.schema.json`);
/// returns the first data row.
pub fn head(rel: &str, rows: usize, out: &Path) -> String {
    let text = std::fs::read_to_string(fixture(rel)).expect("the fixture reads");
    let kept: Vec<&str> = text.lines().take(rows + 1).collect();
    std::fs::write(out, kept.join("\n")).expect("the copy writes");
    let schema = |p: &Path| p.with_extension("schema.json");
    std::fs::copy(schema(&fixture(rel)), schema(out)).expect("the schema copies");
    kept.get(1).copied().unwrap_or_default().to_string()
}

/// Polls job `id` every 200 ms until it ends (done, failed, cancelled),
/// failing the test after `limit` or on any failed request.
pub async fn wait_end(c: &Client, id: &str, limit: Duration) -> Job {
    let t = Instant::now();
    loop {
        let j = c.job(id).await.expect("the gateway answers").expect("job");
        if j.state.is_terminal() {
            return j;
        }
        assert!(t.elapsed() < limit, "job {id} stuck in {:?}", j.state);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// [`wait_end`] across gateway restarts: a request that fails (the
/// gateway stopping or starting) is tried again until `limit`.
pub async fn wait_end_across_restarts(c: &Client, id: &str, limit: Duration) -> Job {
    let t = Instant::now();
    loop {
        if let Ok(Ok(j)) = c.job(id).await {
            if j.state.is_terminal() {
                return j;
            }
        }
        assert!(t.elapsed() < limit, "job {id} did not end in {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The snarkjs `npm ci --prefix contracts` installs (the version its
/// lockfile pins), or `$ZKGATE_SNARKJS`.
pub fn snarkjs() -> PathBuf {
    if let Some(p) = std::env::var_os("ZKGATE_SNARKJS") {
        return p.into();
    }
    let p = root().join("contracts/node_modules/.bin/snarkjs");
    assert!(
        p.exists(),
        "snarkjs is not installed: run `npm ci --prefix contracts` (or set ZKGATE_SNARKJS)"
    );
    p
}

/// anvil from npm (`@foundry-rs/anvil-linux-amd64`, pinned in
/// `contracts/package.json`; `npm ci --prefix contracts` installs it), or
/// `$ZKGATE_ANVIL`, on a free loopback port; killed when dropped.
pub struct Anvil {
    child: std::process::Child,
    /// Its JSON-RPC URL.
    pub url: String,
}

impl Anvil {
    /// Starts anvil and waits until it answers `eth_chainId`.
    pub fn start() -> Anvil {
        let binary = match std::env::var_os("ZKGATE_ANVIL") {
            Some(p) => PathBuf::from(p),
            None => root().join("contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"),
        };
        assert!(
            binary.exists(),
            "anvil is not installed: run `npm ci --prefix contracts` (or set ZKGATE_ANVIL)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(binary)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--silent",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("anvil starts");
        let anvil = Anvil {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let t = Instant::now();
        while !anvil.answers() {
            assert!(t.elapsed() < Duration::from_secs(30), "anvil did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        anvil
    }

    /// Whether it answers a JSON-RPC `eth_chainId`.
    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let host = self.url.trim_start_matches("http://");
        let Ok(mut s) = std::net::TcpStream::connect(host) else {
            return false;
        };
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
        let sent = write!(
            s,
            "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut out = String::new();
        sent.is_ok() && s.read_to_string(&mut out).is_ok() && out.contains("\"result\"")
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
