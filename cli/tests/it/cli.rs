//! The `zkgate` binary: prove, verify (exit 0 valid / 1 invalid / 2 error)
//! and clear errors on bad input.

use crate::common;

use common::{fixture, head, zkgate};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zkgate-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn prove_then_verify_and_tampering_is_exit_1() {
    let d = tmp("prove");
    let data = d.join("bc.csv").display().to_string();
    head("data/breast_cancer.csv", 10, std::path::Path::new(&data));
    let receipt = d.join("receipt.json").display().to_string();
    let vk = d.join("vk.bin").display().to_string();
    let out = zkgate(&[
        "prove",
        "--model",
        &fixture("models/breast_cancer.onnx"),
        "--data",
        &data,
        "--aggregate",
        "confusion",
        "--label",
        "label",
        "--out",
        &receipt,
        "--vk-out",
        &vk,
        "--job",
        "job-42",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["result"]["accuracy"].as_f64().unwrap() > 0.8);

    let ok = zkgate(&["verify", &receipt, "--vk", &vk]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    // Tied to the model, the dataset's declared schema and the job: the
    // verifier rebuilds the plan from the ONNX file and the receipt's
    // schema, and says which one differs.
    let model = fixture("models/breast_cancer.onnx");
    let schema = fixture("data/breast_cancer.schema.json");
    let v = zkgate(&[
        "verify", &receipt, "--vk", &vk, "--model", &model, "--schema", &schema, "--job", "job-42",
    ]);
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
    let mut other_schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema).unwrap()).unwrap();
    other_schema["columns"][3]["max"] = serde_json::json!(2000.0);
    std::fs::write(d.join("other.schema.json"), other_schema.to_string()).unwrap();
    let other_schema = d.join("other.schema.json").display().to_string();
    for (flags, want) in [
        (
            vec!["--model", &fixture("models/mlp.onnx")],
            "another model",
        ),
        (vec!["--schema", &other_schema], "another dataset schema"),
        (vec!["--job", "job-43"], "another job"),
    ] {
        let mut args = vec!["verify", &receipt, "--vk", &vk];
        args.extend(flags);
        let out = zkgate(&args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{want}: {text}");
        assert!(text.contains(want), "{want}: {text}");
    }

    let mut r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&receipt).unwrap()).unwrap();
    r["values"][0] = serde_json::json!("0");
    let bad = d.join("bad.json");
    std::fs::write(&bad, r.to_string()).unwrap();
    let out = zkgate(&["verify", bad.to_str().unwrap(), "--vk", &vk, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);

    // Unreadable inputs are errors, not verdicts.
    std::fs::write(d.join("junk.bin"), b"not a key").unwrap();
    assert_eq!(
        zkgate(&[
            "verify",
            &receipt,
            "--vk",
            d.join("junk.bin").to_str().unwrap()
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        zkgate(&[
            "verify",
            d.join("missing.json").to_str().unwrap(),
            "--vk",
            &vk
        ])
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn bad_inputs_are_clear_errors() {
    let d = tmp("errors");
    let cases: [(&str, &str, &str); 3] = [
        (
            "bad/unsupported_op.onnx",
            "data/tabular.csv",
            "unsupported op `Sin` at node `weird_sin`",
        ),
        (
            "bad/truncated.onnx",
            "data/tabular.csv",
            "malformed ONNX model",
        ),
        (
            "models/mlp.onnx",
            "bad/bad_cells.csv",
            "line 4, column `f5`",
        ),
    ];
    for (model, data, want) in cases {
        let out = zkgate(&[
            "prove",
            "--model",
            &fixture(model),
            "--data",
            &fixture(data),
            "--schema",
            &fixture("data/tabular.schema.json"),
            "--aggregate",
            "mean",
            "--out",
            d.join("r.json").to_str().unwrap(),
            "--vk-out",
            d.join("vk").to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{model} {data}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{model} {data}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `zkgate dataset schema data.csv | head`: a reader that closes the pipe
/// early ends the command quietly (exit 0, nothing on stderr), not with a
/// panic.
#[test]
fn a_closed_pipe_ends_quietly() {
    let mut child = std::process::Command::new(common::bin())
        .args(["dataset", "schema", &fixture("data/breast_cancer.csv")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

#[test]
fn a_family_circuit_is_fitted_proved_and_checked_against_its_model() {
    let d = tmp("family");
    let data = d.join("bc.csv").display().to_string();
    head("data/breast_cancer.csv", 6, std::path::Path::new(&data));
    let model = fixture("models/breast_cancer.onnx");
    let schema = fixture("data/breast_cancer.schema.json");
    // `inspect` fits the bounds and says what they cost.
    let out = zkgate(&[
        "inspect",
        &model,
        "--schema",
        &schema,
        "--aggregate",
        "accuracy",
        "--label",
        "label",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bounds = v["family"]["bounds"].as_str().unwrap().to_string();
    assert!(
        v["family"]["ratio_to_constant_weights"].as_f64().unwrap() > 1.0,
        "{v}"
    );
    let receipt = d.join("receipt.json").display().to_string();
    let vk = d.join("vk.bin").display().to_string();
    let out = zkgate(&[
        "prove",
        "--model",
        &model,
        "--data",
        &data,
        "--aggregate",
        "accuracy",
        "--label",
        "label",
        "--family",
        &bounds,
        "--out",
        &receipt,
        "--vk-out",
        &vk,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&receipt).unwrap()).unwrap();
    assert!(r["circuit"]["weights"].is_string(), "{r}");
    let args = |receipt: &str| {
        zkgate(&[
            "verify", receipt, "--vk", &vk, "--model", &model, "--schema", &schema,
        ])
    };
    let ok = args(&receipt);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // A receipt naming other weights names another circuit id: its
    // proofs fail.
    let mut lie = r.clone();
    lie["circuit"]["weights"] = serde_json::json!(format!("0x{}", "0".repeat(63) + "7"));
    let bad = d.join("bad.json");
    std::fs::write(&bad, lie.to_string()).unwrap();
    let out = args(bad.to_str().unwrap());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("does not verify"), "{text}");
    // A malformed bound is a clear error.
    let out = zkgate(&[
        "prove",
        "--model",
        &model,
        "--data",
        &data,
        "--aggregate",
        "mean",
        "--family",
        "1:2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TERM_LOG2"));
}
