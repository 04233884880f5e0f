//! `zkgate chain ...` as a process on a data dir's embedded chain: deploy,
//! register; `submit --chain-dataset` writes the question and opens its
//! job, the contract's refusals reaching the user as its error names with
//! exit code 2; `chain open-job --question` opens a question once; a
//! receipt whose job is not settled is invalid on chain (exit 1). Then
//! `zkgate serve` settles the job submitted with `--chain-job
//! --question`, `verify --chain-job` accepts its receipt (exit 0), with
//! the question too, and refuses another valid receipt of the same rows
//! or another question (exit 1).

use crate::common;

use common::{fixture, head, zkgate};

fn ok(args: &[&str]) -> serde_json::Value {
    let out = zkgate(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn fails(args: &[&str], code: i32, needle: &str) {
    let out = zkgate(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
    assert!(
        text.contains(needle),
        "{args:?}: expected `{needle}` in {text}"
    );
}

#[test]
fn chain_commands_on_the_embedded_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gw");
    let d = dir.to_str().unwrap();
    let csv = tmp.path().join("bc.csv");
    head("data/breast_cancer.csv", 12, &csv);
    let port = crate::common::free_port();
    let addr = format!("127.0.0.1:{port}");
    ok(&["init", "--data-dir", d, "--listen", &addr]);
    // Twelve rows: the shipped profiles would rightly refuse so few.
    std::fs::write(
        dir.join("policy.cedar"),
        "@id(\"everything\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
    ok(&[
        "dataset",
        "import",
        csv.to_str().unwrap(),
        "--name",
        "bc",
        "--data-dir",
        d,
    ]);
    let token = String::from_utf8(zkgate(&["researcher", "add", "alice", "--data-dir", d]).stdout)
        .unwrap()
        .trim()
        .to_string();

    fails(&["chain", "job", "1", "--data-dir", d], 2, "no contract");
    let deployed = ok(&["chain", "deploy", "--data-dir", d]);
    assert!(dir.join("chain.json").exists());
    assert!(dir.join("chain/state.json").exists());
    assert!(deployed["gas_used"].as_u64().unwrap() > 1_000_000);
    fails(
        &[
            "chain",
            "register-dataset",
            "--data-dir",
            d,
            "--dataset",
            "nope",
        ],
        2,
        "no dataset `nope`",
    );
    let reg = ok(&[
        "chain",
        "register-dataset",
        "--data-dir",
        d,
        "--dataset",
        "bc",
        "--price-wei",
        "100",
    ]);
    assert_eq!(reg["dataset_id"], 1);
    assert_eq!(reg["rows"], 12);

    let mut server = common::serve(d, &addr);
    let gateway = format!("https://{addr}");
    let ca = dir.join("tls/cert.pem");
    let model = fixture("models/breast_cancer.onnx");
    let submit = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "submit",
            "--gateway",
            &gateway,
            "--ca-cert",
            ca.to_str().unwrap(),
            "--token",
            &token,
            "--dataset",
            "bc",
            "--model",
            &model,
            "--aggregate",
            "accuracy",
            "--label",
            "label",
            "--data-dir",
            d,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    // `submit --chain-dataset` writes the question, then opens its job on
    // chain: the contract's refusals reach the user by name (exit 2), the
    // question already written.
    let question = tmp.path().join("q.json");
    let q = question.to_str().unwrap();
    fails(
        &strs(&submit(&[
            "--chain-dataset",
            "1",
            "--value-wei",
            "99",
            "--question-out",
            q,
        ])),
        2,
        "LowEscrow",
    );
    assert!(question.exists());
    let q7 = tmp.path().join("q7.json");
    fails(
        &strs(&submit(&[
            "--chain-dataset",
            "7",
            "--value-wei",
            "100",
            "--question-out",
            q7.to_str().unwrap(),
        ])),
        2,
        "UnknownDataset",
    );
    // The job opened for the question written above: its hash and the
    // circuits it allows are pinned on chain.
    let job = ok(&[
        "chain",
        "open-job",
        "--data-dir",
        d,
        "--question",
        q,
        "--value-wei",
        "100",
    ]);
    assert_eq!(job["job"], 1);
    fails(
        &[
            "chain",
            "open-job",
            "--data-dir",
            d,
            "--question",
            q,
            "--value-wei",
            "100",
        ],
        2,
        "QuestionUsed",
    );
    let shown = ok(&["chain", "job", "1", "--data-dir", d]);
    assert_eq!(shown["state"]["status"], "open");
    fails(&["chain", "refund", "1", "--data-dir", d], 2, "NotExpired");
    fails(
        &["chain", "job", "5", "--data-dir", d],
        2,
        "no on-chain job 5",
    );

    // A receipt proved locally verifies offline, but the on-chain job has
    // not settled with it.
    let receipt = tmp.path().join("r.json");
    let vk = tmp.path().join("vk.bin");
    ok(&[
        "prove",
        "--model",
        &model,
        "--data",
        csv.to_str().unwrap(),
        "--aggregate",
        "accuracy",
        "--label",
        "label",
        "--out",
        receipt.to_str().unwrap(),
        "--vk-out",
        vk.to_str().unwrap(),
        "--json",
    ]);
    let r = receipt.to_str().unwrap();
    let v = vk.to_str().unwrap();
    ok(&["verify", r, "--vk", v]);
    fails(
        &["verify", r, "--vk", v, "--chain-job", "1", "--data-dir", d],
        1,
        "not settled",
    );

    // The gateway proves and settles the job; the receipt verifies on
    // chain, the local one (same rows, another salt) does not.
    let settled = tmp.path().join("settled.json");
    let settled_vk = tmp.path().join("settled.vk");
    let gateway = format!("https://{addr}");
    let ca = dir.join("tls/cert.pem");
    // The researcher registers the address that opened job 1 (development
    // account 1) by signing the gateway's message with it.
    let out = zkgate(&[
        "register-address",
        "--gateway",
        &gateway,
        "--ca-cert",
        ca.to_str().unwrap(),
        "--token",
        &token,
        "--dev-account",
        "1",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("registered 0x70997970"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = zkgate(&strs(&submit(&[
        "--chain-job",
        "1",
        "--question",
        q,
        "--out",
        settled.to_str().unwrap(),
        "--vk-out",
        settled_vk.to_str().unwrap(),
    ])));
    let _ = server.kill();
    let _ = server.wait();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("settled on chain: job 1"), "{said}");
    let (sr, sv) = (settled.to_str().unwrap(), settled_vk.to_str().unwrap());
    let out = zkgate(&[
        "verify",
        sr,
        "--vk",
        sv,
        "--chain-job",
        "1",
        "--data-dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("settled on chain: job 1"));
    // The same with the question: the receipt answers it, nonce included.
    let out = zkgate(&[
        "verify",
        sr,
        "--vk",
        sv,
        "--chain-job",
        "1",
        "--data-dir",
        d,
        "--question",
        q,
        "--model",
        &model,
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Another question (here the one for dataset 7) is not the job's.
    fails(
        &["verify", sr, "--vk", sv, "--question", q7.to_str().unwrap()],
        1,
        "another question",
    );
    fails(
        &["verify", r, "--vk", v, "--chain-job", "1", "--data-dir", d],
        1,
        "another dataset",
    );
    let shown = ok(&["chain", "job", "1", "--data-dir", d]);
    assert_eq!(shown["state"]["status"], "settled");
}
