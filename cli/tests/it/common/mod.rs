//! What the binary's tests share: the binary, the fixtures, a dataset's
//! first rows.

#![allow(dead_code)]

use std::process::{Command, Output};

/// The `zkgate` binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_zkgate")
}

/// Runs the binary.
pub fn zkgate(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("runs")
}

pub use zkgate_testkit::{head, wait_end_across_restarts};

/// Runs the binary; its stdout (the test fails with its stderr).
pub fn run(args: &[&str]) -> String {
    let out = zkgate(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `zkgate serve --data-dir dir`, waited for until `addr` accepts
/// connections (the test fails after 30 s); its output is discarded.
pub fn serve(dir: &str, addr: &str) -> std::process::Child {
    let server = Command::new(bin())
        .args(["serve", "--data-dir", dir])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(t0.elapsed().as_secs() < 30, "gateway did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    server
}

/// A fixture's path, as the binary's arguments take it.
pub fn fixture(rel: &str) -> String {
    zkgate_testkit::fixture(rel).display().to_string()
}

/// The breast-cancer classifier's accuracy on dataset `bc`.
pub fn accuracy_on_bc(idempotency_key: Option<&str>) -> zkgate_gateway::store::Manifest {
    zkgate_gateway::store::Manifest {
        dataset: "bc".into(),
        columns: None,
        aggregate: zkgate_statement::Aggregate::Accuracy {
            label: "label".into(),
        },
        idempotency_key: idempotency_key.map(str::to_string),
        quant: Default::default(),
        chain_job: None,
        epsilon: None,
        nonce: None,
        question: None,
    }
}
