//! An ezkl job settled on chain from the command line: `submit
//! --proof-system ezkl --chain-dataset` derives the verifier contract from
//! the question, pins it and opens the job; the gateway proves, deploys
//! the verifier and settles; `verify --chain-job` checks the receipt
//! through ezkl's verifier and against the settled job.
//!
//! Needs a Python with ezkl (`ZKGATE_EZKL_PYTHON`; `scripts/test.sh` makes
//! one) and the pinned solc-js (`npm ci --prefix contracts`).

use crate::common::{self, head, zkgate};
use std::path::PathBuf;

fn python() -> Option<String> {
    match std::env::var("ZKGATE_EZKL_PYTHON") {
        Ok(p) => Some(p),
        Err(_) if std::env::var("ZKGATE_REQUIRE_EZKL").as_deref() == Ok("1") => {
            panic!("ZKGATE_REQUIRE_EZKL=1 but ZKGATE_EZKL_PYTHON names no Python with ezkl")
        }
        Err(_) => {
            eprintln!("skipped: set ZKGATE_EZKL_PYTHON to a Python with ezkl installed");
            None
        }
    }
}

fn run(args: &[&str]) -> String {
    let out = zkgate(args);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{args:?}: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    said
}

#[test]
fn an_ezkl_job_settles_on_chain_from_the_command_line() {
    let Some(python) = python() else {
        return;
    };
    let solc = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts/node_modules/solc");
    assert!(
        solc.join("package.json").exists(),
        "npm ci --prefix contracts"
    );
    let solc = solc.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gw");
    let d = dir.to_str().unwrap();
    let csv = tmp.path().join("tab.csv");
    head("data/tabular.csv", 4, &csv);
    let port = common::free_port();
    let addr = format!("127.0.0.1:{port}");
    run(&["init", "--data-dir", d, "--listen", &addr]);
    std::fs::write(
        dir.join("policy.cedar"),
        "@id(\"everything\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
    let mut config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    config.push_str(&format!(
        "\n[backends.ezkl]\npython = {python:?}\nsrs_dir = \"srs\"\nsolc_js = {solc:?}\n"
    ));
    std::fs::write(dir.join("config.toml"), config).unwrap();
    // One SRS file here for both sides (in practice each has its copy of a
    // public one).
    let srs = dir.join("srs");
    let srs = srs.to_str().unwrap();
    let ezkl = ["--ezkl-python", &python, "--ezkl-srs-dir", srs];
    let mut args = vec!["ezkl", "srs", "--logrows", "15"];
    args.extend(ezkl);
    assert!(run(&args).contains("INSECURE"));
    run(&[
        "dataset",
        "import",
        csv.to_str().unwrap(),
        "--name",
        "tab",
        "--data-dir",
        d,
    ]);
    let token = run(&["researcher", "add", "alice", "--data-dir", d])
        .trim()
        .to_string();
    run(&["chain", "deploy", "--data-dir", d]);
    run(&[
        "chain",
        "register-dataset",
        "--data-dir",
        d,
        "--dataset",
        "tab",
        "--price-wei",
        "100",
    ]);
    let mut server = common::serve(d, &addr);
    let gateway = format!("https://{addr}");
    let ca = dir.join("tls/cert.pem");
    let ca = ca.to_str().unwrap();
    run(&[
        "register-address",
        "--gateway",
        &gateway,
        "--ca-cert",
        ca,
        "--token",
        &token,
        "--dev-account",
        "1",
    ]);
    let model = common::fixture("models/linreg.onnx");
    let q = tmp.path().join("q.json");
    let r = tmp.path().join("r.json");
    let columns = (0..13)
        .map(|i| format!("f{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut args = vec![
        "submit",
        "--gateway",
        &gateway,
        "--ca-cert",
        ca,
        "--token",
        &token,
        "--dataset",
        "tab",
        "--model",
        &model,
        "--columns",
        &columns,
        "--aggregate",
        "sum",
        "--proof-system",
        "ezkl",
        "--chain-dataset",
        "1",
        "--value-wei",
        "100",
        "--data-dir",
        d,
        "--solc-js",
        solc,
        "--question-out",
        q.to_str().unwrap(),
        "--out",
        r.to_str().unwrap(),
    ];
    args.extend(ezkl);
    let said = run(&args);
    let _ = server.kill();
    let _ = server.wait();
    assert!(said.contains("settled on chain: job 1"), "{said}");
    let question: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&q).unwrap()).unwrap();
    assert_eq!(question["proof_system"], "ezkl");
    assert!(question["ezkl_verifier"]
        .as_str()
        .unwrap()
        .starts_with("0x"));
    let mut args = vec![
        "verify",
        r.to_str().unwrap(),
        "--question",
        q.to_str().unwrap(),
        "--model",
        &model,
        "--chain-job",
        "1",
        "--data-dir",
        d,
    ];
    args.extend(ezkl);
    let said = run(&args);
    assert!(said.contains("VALID (ezkl)"), "{said}");
    assert!(said.contains("settled on chain as job 1"), "{said}");
    // The code hash `zkgate ezkl verifier` derives is the one pinned.
    let mut args = vec![
        "ezkl",
        "verifier",
        "--question",
        q.to_str().unwrap(),
        "--model",
        &model,
        "--solc-js",
        solc,
    ];
    args.extend(ezkl);
    let derived: serde_json::Value = serde_json::from_str(run(&args).trim()).unwrap();
    assert_eq!(derived["code_hash"], question["ezkl_verifier"]);
    let shown: serde_json::Value =
        serde_json::from_str(&run(&["chain", "job", "1", "--data-dir", d])).unwrap();
    assert_eq!(shown["state"]["status"], "settled");
}
