//! The memory estimate a job is admitted on is an upper bound: on fixture
//! circuits of every op kind (linear, ReLU MLPs, a convolution with max
//! pooling), sharded and not, the peak RSS of the process that set up and
//! proved the job (each case runs in a child process of its own) stays
//! under `zkgate_zkml::cost::memory_bytes`; a model-family circuit too,
//! and `--family-cost` prices, builds or refuses one.

use crate::common;

use common::{fixture, zkgate};

#[test]
fn measured_peak_memory_stays_under_the_estimate() {
    let cases = "linreg:64,mlp:64,breast_cancer:64,digits:32,lenet_small:1,breast_cancer:100@33";
    let out = zkgate(&[
        "bench",
        "--fixtures",
        &fixture(""),
        "--cases",
        cases,
        "--rounds",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut seen = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v.get("error").is_none(), "{v}");
        let (peak, estimate) = (
            v["peak_rss_mb"].as_f64().unwrap(),
            v["memory_estimate_mb"].as_f64().unwrap(),
        );
        assert!(v["valid"].as_bool().unwrap(), "{v}");
        assert!(
            peak <= estimate,
            "{}: peak {peak} MB over the estimate {estimate} MB",
            v["model"]
        );
        seen += 1;
    }
    assert_eq!(seen, 6, "{text}");
}

#[test]
fn family_circuits_are_priced_built_and_proved_within_the_memory_estimate() {
    // Proved with the fitted family circuit: valid, and its peak within
    // the estimate admission uses.
    let out = zkgate(&[
        "bench",
        "--fixtures",
        &fixture(""),
        "--cases",
        "breast_cancer:64",
        "--rounds",
        "1",
        "--family",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["valid"].as_bool().unwrap(), "{v}");
    assert!(
        v["peak_rss_mb"].as_f64().unwrap() <= v["memory_estimate_mb"].as_f64().unwrap(),
        "{v}"
    );
    // Priced: a linear model's family built and costlier than constant
    // weights, a forest's not built and said why.
    let out = zkgate(&[
        "bench",
        "--fixtures",
        &fixture(""),
        "--cases",
        "sk_logreg:64,sk_random_forest:64",
        "--family-cost",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    let (linear, forest) = (&lines[0]["family"], &lines[1]["family"]);
    assert_eq!(linear["built"], true, "{text}");
    assert!(linear["over_constants"].as_f64().unwrap() > 1.0, "{text}");
    assert_eq!(linear["agreement"]["class_agreement"], 1.0, "{text}");
    assert_eq!(forest["built"], false, "{text}");
    assert!(
        forest["why"]
            .as_str()
            .unwrap()
            .contains("linear layers only"),
        "{text}"
    );
}
