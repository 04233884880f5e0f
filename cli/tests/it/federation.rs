//! One question over three gateways on loopback (three data dirs, three
//! policies' decisions): two answer, one refuses (too few rows for its
//! owner's `min-rows` rule); the federated receipt pools the two exactly
//! and verifies, and every way of passing off another one fails with the
//! part named.

use crate::common::{bin, fixture, run};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A data dir holding rows `from..to` of the breast-cancer data as `bc`
/// under the default profile, listening on a free loopback port;
/// (url, data dir, token).
fn data_dir(tmp: &Path, name: &str, from: usize, to: usize) -> (String, String, String) {
    let dir = tmp.join(name);
    let dir_s = dir.to_str().unwrap().to_string();
    let port = crate::common::free_port();
    let addr = format!("127.0.0.1:{port}");
    run(&["init", "--data-dir", &dir_s, "--listen", &addr]);
    let text = std::fs::read_to_string(fixture("data/breast_cancer.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let csv = tmp.join(format!("{name}.csv"));
    let mut rows = vec![lines[0]];
    rows.extend(&lines[1 + from..1 + to]);
    std::fs::write(&csv, rows.join("\n") + "\n").unwrap();
    run(&[
        "dataset",
        "import",
        csv.to_str().unwrap(),
        "--schema",
        &fixture("data/breast_cancer.schema.json"),
        "--name",
        "bc",
        "--data-dir",
        &dir_s,
    ]);
    let token = run(&["researcher", "add", "alice", "--data-dir", &dir_s])
        .trim()
        .to_string();
    (format!("https://{addr}"), dir_s, token)
}

/// `zkgate serve` on a data dir, waited for.
fn serve(url: &str, dir: &str, token: &str) -> Child {
    let server = Command::new(bin())
        .args(["serve", "--data-dir", dir])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_started(url, &format!("{dir}/tls/cert.pem"), token);
    server
}

/// `zkgate submit --federation FED` of the breast-cancer classifier's
/// accuracy; the federated receipt at `out`.
fn submit(fed: &Path, out: &Path) -> Output {
    Command::new(bin())
        .args([
            "submit",
            "--federation",
            fed.to_str().unwrap(),
            "--model",
            &fixture("models/breast_cancer.onnx"),
            "--aggregate",
            "accuracy",
            "--label",
            "label",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap()
}

/// Waits until the gateway at `url` answers `token`'s requests.
fn wait_started(url: &str, ca: &str, token: &str) {
    let ca = std::fs::read(ca).unwrap();
    let client = zkgate_client::Client::new(url, token, Some(&ca)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t0 = Instant::now();
    while rt
        .block_on(client.datasets())
        .map(|a| a.is_err())
        .unwrap_or(true)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{url} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn verify(receipt: &Path, fed: &Path) -> Output {
    Command::new(bin())
        .args([
            "verify",
            "--federated",
            receipt.to_str().unwrap(),
            "--federation",
            fed.to_str().unwrap(),
            "--model",
            &fixture("models/breast_cancer.onnx"),
        ])
        .output()
        .unwrap()
}

fn invalid(receipt: &Path, fed: &Path, v: &Value, says: &str) {
    let tampered = receipt.with_extension("tampered.json");
    std::fs::write(&tampered, v.to_string()).unwrap();
    let out = verify(&tampered, fed);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{says}: {stdout}");
    assert!(stdout.contains(says), "wanted `{says}`: {stdout}");
}

#[test]
fn three_gateways_one_refusing_pool_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let mut servers = Vec::new();
    let mut parts = Vec::new();
    for (name, from, to) in [("a", 0, 60), ("b", 60, 140), ("c", 140, 150)] {
        let (url, dir, token) = data_dir(tmp.path(), name, from, to);
        servers.push(serve(&url, &dir, &token));
        parts.push(serde_json::json!({
            "gateway": url, "dataset": "bc",
            "ca_cert": format!("{dir}/tls/cert.pem"), "token": token,
        }));
    }
    let fed = tmp.path().join("fed.json");
    std::fs::write(&fed, serde_json::json!({ "parts": parts }).to_string()).unwrap();
    let out_path = tmp.path().join("federated.json");
    let out = submit(&fed, &out_path);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The parts' times and the pooling's (`--nocapture` shows them).
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let c_url = parts[2]["gateway"].as_str().unwrap();
    assert!(
        stdout.contains(&format!(
            "part {c_url} (dataset `bc`): refused (policy_denied)"
        )),
        "{stdout}"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    // Pooled exactly from the two answers: correct rows added, over 140.
    let correct = |i: usize| {
        v["parts"][i]["outcome"]["answered"]["receipt"]["result"]["correct"]
            .as_i64()
            .unwrap()
    };
    let pooled = &v["pooled"];
    assert_eq!(pooled["rows"], 140);
    assert_eq!(pooled["parts"], 2);
    assert_eq!(
        pooled["result"]["correct"].as_i64().unwrap(),
        correct(0) + correct(1)
    );
    let acc = pooled["result"]["accuracy"].as_f64().unwrap();
    assert!((acc - (correct(0) + correct(1)) as f64 / 140.0).abs() < 1e-12);
    assert!(v["parts"][2]["outcome"]["refused"]["message"]
        .as_str()
        .unwrap()
        .contains("min-rows"));

    let t = Instant::now();
    let ok = verify(&out_path, &fed);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    println!(
        "verify --federated --model: {:.2} s",
        t.elapsed().as_secs_f64()
    );

    // A part missing, repeated, from another question or dataset, a
    // changed pooled value, another federation: each fails, naming the
    // part where there is one.
    let a_url = parts[0]["gateway"].as_str().unwrap().to_string();
    let b_url = parts[1]["gateway"].as_str().unwrap().to_string();
    let mut t = v.clone();
    t["parts"].as_array_mut().unwrap().remove(2);
    invalid(
        &out_path,
        &fed,
        &t,
        &format!("part {c_url} (dataset `bc`) is missing"),
    );
    let mut t = v.clone();
    let first = t["parts"][0].clone();
    t["parts"].as_array_mut().unwrap().push(first);
    invalid(
        &out_path,
        &fed,
        &t,
        &format!("part {a_url} (dataset `bc`) is repeated"),
    );
    let mut t = v.clone();
    t["parts"][1]["outcome"]["answered"]["receipt"] =
        v["parts"][0]["outcome"]["answered"]["receipt"].clone();
    t["parts"][1]["outcome"]["answered"]["vk"] = v["parts"][0]["outcome"]["answered"]["vk"].clone();
    invalid(
        &out_path,
        &fed,
        &t,
        &format!("part {b_url} (dataset `bc`): the receipt answers another question"),
    );
    let mut t = v.clone();
    t["parts"][1]["outcome"]["answered"] = v["parts"][0]["outcome"]["answered"].clone();
    invalid(
        &out_path,
        &fed,
        &t,
        &format!("part {b_url} (dataset `bc`): its dataset commitment is another part's"),
    );
    let mut t = v.clone();
    t["parts"][1]["outcome"]["answered"]["question"]["aggregate"] =
        serde_json::json!({"kind": "class_counts"});
    invalid(&out_path, &fed, &t, &format!("part {b_url} (dataset `bc`)"));
    let mut t = v.clone();
    t["pooled"]["values"][0] = serde_json::json!((correct(0) + correct(1) + 1).to_string());
    invalid(
        &out_path,
        &fed,
        &t,
        "the pooled answer is not the parts' proved values pooled",
    );
    let mut t = v.clone();
    t["parts"][2]["gateway"] = serde_json::json!("https://127.0.0.1:1");
    invalid(
        &out_path,
        &fed,
        &t,
        "part https://127.0.0.1:1 (dataset `bc`) is not in the federation",
    );
    // All or nothing: the same receipt is for another federation, and
    // asked so, the refusal leaves no pooled answer (exit 1).
    let all = tmp.path().join("all.json");
    std::fs::write(
        &all,
        serde_json::json!({ "parts": parts, "all_or_nothing": true }).to_string(),
    )
    .unwrap();
    let out = verify(&out_path, &all);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("another federation"));
    let all_out = tmp.path().join("all-federated.json");
    let out = submit(&all, &all_out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&all_out).unwrap()).unwrap();
    assert!(v["pooled"].is_null());
    assert!(verify(&all_out, &all).status.success());
    for mut s in servers {
        let _ = s.kill();
        let _ = s.wait();
    }
}

/// Two owners settle their parts on one chain (anvil): one contract, each
/// owner's dataset registered by its owner, one on-chain job per part
/// opened by the researcher with its escrow, each gateway settling its
/// own; the federated receipt verifies offline and against the chain, and
/// a part claiming another part's on-chain job fails there.
#[test]
fn owners_settle_their_parts_on_one_chain() {
    let anvil = zkgate_testkit::Anvil::start();
    let tmp = tempfile::tempdir().unwrap();
    let (url_a, dir_a, token_a) = data_dir(tmp.path(), "a", 0, 40);
    let (url_b, dir_b, token_b) = data_dir(tmp.path(), "b", 40, 100);
    let deployed: Value = serde_json::from_str(&run(&[
        "chain",
        "deploy",
        "--data-dir",
        &dir_a,
        "--chain-rpc",
        &anvil.url,
        "--dev-account",
        "0",
    ]))
    .unwrap();
    let contract = deployed["contract"].as_str().unwrap().to_string();
    // Owner b settles on the same contract with its own key.
    run(&[
        "chain",
        "use",
        "--data-dir",
        &dir_b,
        "--chain-rpc",
        &anvil.url,
        "--contract",
        &contract,
        "--dev-account",
        "2",
    ]);
    let mut ids = Vec::new();
    for (dir, owner) in [(&dir_a, "0"), (&dir_b, "2")] {
        let r: Value = serde_json::from_str(&run(&[
            "chain",
            "register-dataset",
            "--data-dir",
            dir,
            "--dataset",
            "bc",
            "--price-wei",
            "1000",
            "--dev-account",
            owner,
        ]))
        .unwrap();
        ids.push(r["dataset_id"].as_u64().unwrap());
    }
    let servers = [
        serve(&url_a, &dir_a, &token_a),
        serve(&url_b, &dir_b, &token_b),
    ];
    let fed = tmp.path().join("fed.json");
    let part = |url: &str, dir: &str, token: &str, id: u64| {
        serde_json::json!({
            "gateway": url, "dataset": "bc", "ca_cert": format!("{dir}/tls/cert.pem"),
            "token": token, "chain_dataset": id,
        })
    };
    std::fs::write(
        &fed,
        serde_json::json!({
            "parts": [part(&url_a, &dir_a, &token_a, ids[0]), part(&url_b, &dir_b, &token_b, ids[1])],
            "chain": {"rpc": anvil.url, "contract": contract, "dev_account": 1, "value_wei": 1000},
        })
        .to_string(),
    )
    .unwrap();
    let out_path = tmp.path().join("federated.json");
    let out = submit(&fed, &out_path);
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("on-chain job 1 opened"), "{said}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    let job = |i: usize| {
        v["parts"][i]["outcome"]["answered"]["chain_job"]
            .as_u64()
            .unwrap()
    };
    assert_eq!((job(0), job(1)), (1, 2));
    assert_eq!(v["pooled"]["rows"], 100);

    let verify_on_chain = |receipt: &Path| {
        Command::new(bin())
            .args([
                "verify",
                "--federated",
                receipt.to_str().unwrap(),
                "--federation",
                fed.to_str().unwrap(),
                "--chain-rpc",
                &anvil.url,
                "--contract",
                &contract,
            ])
            .output()
            .unwrap()
    };
    let ok = verify_on_chain(&out_path);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // Part b names part a's on-chain job: offline it still verifies (the
    // job id is not in any proof), on chain it does not.
    let mut t = v.clone();
    t["parts"][1]["outcome"]["answered"]["chain_job"] = serde_json::json!(1);
    let tampered = tmp.path().join("tampered.json");
    std::fs::write(&tampered, t.to_string()).unwrap();
    let out = verify_on_chain(&tampered);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("part {url_b} (dataset `bc`)")),
        "{stdout}"
    );
    for mut s in servers {
        let _ = s.kill();
        let _ = s.wait();
    }
}
