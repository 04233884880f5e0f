//! The memory estimate a job is admitted on is an upper bound: on fixture
//! circuits of every op kind (linear, ReLU MLPs, a convolution with max
//! pooling), sharded and not, the peak RSS of the process that set up and
//! proved the job (each case runs in a child process of its own) stays
//! under `zkgate_zkml::cost::memory_bytes`.

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
