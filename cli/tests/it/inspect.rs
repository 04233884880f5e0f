//! `zkgate inspect`: a real export compiles and is measured against a
//! schema, with its ops mapped; an unsupported op is named with its node
//! and a hint, and the exit code says which.

use crate::common;

use common::{fixture, zkgate};

fn json(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = zkgate(args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

#[test]
fn inspect_maps_ops_measures_and_names_what_it_refuses() {
    let model = fixture("exports/xgboost.onnx");
    let schema = fixture("data/breast_cancer.schema.json");
    let (code, v) = json(&[
        "inspect", &model, "--schema", &schema, "--rows", "569", "--json",
    ]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["compiles"], true);
    assert_eq!(v["output"], "probabilities");
    assert_eq!(v["ops"][0]["op"], "trees");
    assert_eq!(v["ops"][0]["trees"], 10);
    let c = &v["circuit"];
    assert!(c["constraints_per_row"].as_f64().unwrap() > 100.0, "{v}");
    assert!(c["estimated_prove_s"].as_f64().unwrap() > 0.0);
    // Trees have no model-family circuit, and say why.
    let why = v["family"]["none"].as_str().unwrap();
    assert!(why.contains("linear layers only"), "{why}");

    let (code, v) = json(&["inspect", &fixture("bad/unsupported_op.onnx"), "--json"]);
    assert_eq!(code, Some(1));
    assert_eq!(v["compiles"], false);
    let e = v["error"].as_str().unwrap();
    assert!(e.contains("`Sin`") && e.contains("`weird_sin`"), "{e}");
    assert!(v["hint"].as_str().unwrap().contains("supported:"));
}
