//! End-to-end proofs and their tamper tests: every change to what a receipt
//! claims must make verification fail.

mod common;

use common::{fixture, head};
use rand::SeedableRng;
use zkgate_zkml::dataset::Secret;
use zkgate_zkml::import;
use zkgate_zkml::job::JobRequest;
use zkgate_zkml::pipeline::{run, Gate, GateFn, LocalJob, Outcome};
use zkgate_zkml::prove::to_bytes;
use zkgate_zkml::receipt::{fr_to_hex, Receipt, Verdict};
use zkgate_zkml::statement::{nonce_from, Aggregate};
use zkgate_zkml::Fr;

fn prove(
    model: &str,
    data: &str,
    rows: usize,
    bits: usize,
    aggregate: Aggregate,
    columns: Option<Vec<String>>,
) -> Outcome {
    prove_gated(model, data, rows, bits, aggregate, columns, None)
}

fn prove_gated(
    model: &str,
    data: &str,
    rows: usize,
    bits: usize,
    aggregate: Aggregate,
    columns: Option<Vec<String>>,
    gate: Option<&GateFn<'_>>,
) -> Outcome {
    let m = import::load(fixture(&format!("models/{model}.onnx"))).unwrap();
    let d = head(data, rows, bits);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let secret = Secret::random(&mut rng);
    let request = JobRequest {
        aggregate,
        input_columns: columns,
        quant: Default::default(),
    };
    let job = LocalJob {
        model: &m,
        dataset: &d,
        secret: &secret,
        request: &request,
        nonce: nonce_from(b"job-1"),
        max_constraints: None,
        gate,
    };
    run(job, None, &mut rng, &mut |_| {}).unwrap()
}

#[test]
fn suppressed_cells_are_proved_zero() {
    let seen = std::cell::RefCell::new(Vec::new());
    // Suppress below one more than the smallest non-zero cell, so at least
    // one real cell is hidden.
    let gate = |g: &Gate<'_>| {
        let cells = g.evaluation.aggregates.clone();
        let k = cells.iter().filter(|&&c| c > 0).min().unwrap() + 1;
        *seen.borrow_mut() = cells;
        Ok(k as u64)
    };
    let out = prove_gated(
        "breast_cancer",
        "data/breast_cancer.csv",
        12,
        16,
        Aggregate::Confusion {
            label: "label".into(),
        },
        None,
        Some(&gate),
    );
    let r = &out.receipt;
    let vk = to_bytes(&out.vk);
    assert_eq!(r.verify(&vk).unwrap(), Verdict::Valid);
    let truth = seen.borrow().clone();
    let published: Vec<i128> = r.values.iter().map(|v| v.parse().unwrap()).collect();
    let k = r.circuit.params.suppress_below;
    assert!(k > 1);
    let want: Vec<i128> = truth
        .iter()
        .map(|&c| if c < i128::from(k) { 0 } else { c })
        .collect();
    assert_eq!(published, want);
    assert_eq!(r.result["suppressed_below"], k);
    // Publishing a hidden cell's true count fails.
    let small = truth
        .iter()
        .position(|&c| c > 0 && c < i128::from(k))
        .unwrap();
    let mut t = r.clone();
    t.values[small] = truth[small].to_string();
    assert!(invalid(&t, &vk));
    // So does claiming another threshold.
    let mut t = r.clone();
    t.circuit.params.suppress_below = 1;
    t.result = t.circuit.decode(&published);
    assert!(invalid(&t, &vk));
}

fn invalid(r: &Receipt, vk: &[u8]) -> bool {
    matches!(r.verify(vk).unwrap(), Verdict::Invalid(_))
}

#[test]
fn classifier_receipt_verifies_and_every_tamper_fails() {
    let out = prove(
        "breast_cancer",
        "data/breast_cancer.csv",
        12,
        16,
        Aggregate::Confusion {
            label: "label".into(),
        },
        None,
    );
    let r = &out.receipt;
    let vk = to_bytes(&out.vk);
    assert_eq!(r.verify(&vk).unwrap(), Verdict::Valid);
    // The matrix counts the 12 rows and agrees with the float model.
    let total: i128 = r.values.iter().map(|v| v.parse::<i128>().unwrap()).sum();
    assert_eq!(total, 12);
    assert_eq!(r.agreement.as_ref().unwrap().class_agreement, Some(1.0));
    // And it survives a JSON round trip.
    assert_eq!(
        Receipt::from_json(&r.to_json())
            .unwrap()
            .verify(&vk)
            .unwrap(),
        Verdict::Valid
    );

    // An aggregate value (moving one row between cells keeps the total).
    let mut t = r.clone();
    t.values[0] = (t.values[0].parse::<i128>().unwrap() + 1).to_string();
    t.values[1] = (t.values[1].parse::<i128>().unwrap() - 1).to_string();
    t.result = t.circuit.decode(
        &t.values
            .iter()
            .map(|v| v.parse().unwrap())
            .collect::<Vec<_>>(),
    );
    assert!(invalid(&t, &vk), "changed aggregate");
    // The reported result alone.
    let mut t = r.clone();
    t.result["accuracy"] = serde_json::json!(0.5);
    assert!(invalid(&t, &vk), "changed result");
    // The dataset commitment.
    let mut t = r.clone();
    t.commitment = fr_to_hex(Fr::from(12345u64));
    assert!(invalid(&t, &vk), "changed commitment");
    // The job binding.
    let mut t = r.clone();
    t.nonce = fr_to_hex(nonce_from(b"job-2"));
    assert!(invalid(&t, &vk), "changed nonce");
    // The row count.
    let mut t = r.clone();
    t.circuit.rows += 1;
    assert!(invalid(&t, &vk), "changed rows");
    // The circuit description (e.g. the scale used to decode results).
    let mut t = r.clone();
    t.circuit.output_scale += 1;
    assert!(invalid(&t, &vk), "changed header");
    // One byte of the proof, wherever it is.
    for i in [0usize, 31, 64, 100, 127] {
        let mut t = r.clone();
        let mut p = hex::decode(&t.proof).unwrap();
        p[i] ^= 0x01;
        t.proof = hex::encode(p);
        assert!(invalid(&t, &vk), "proof byte {i}");
    }

    // Another circuit's key: the same model with another aggregate.
    let other = prove(
        "breast_cancer",
        "data/breast_cancer.csv",
        12,
        16,
        Aggregate::Accuracy {
            label: "label".into(),
        },
        None,
    );
    let other_vk = to_bytes(&other.vk);
    assert!(invalid(r, &other_vk), "another circuit's key");
    let mut t = r.clone();
    t.vk_sha256 = other.receipt.vk_sha256.clone();
    assert!(
        invalid(&t, &other_vk),
        "another circuit's key, receipt relabelled"
    );
    // And the accuracy receipt agrees with the confusion matrix's diagonal.
    let m = &r.result["matrix"];
    let diag = m[0][0].as_i64().unwrap() + m[1][1].as_i64().unwrap();
    assert_eq!(other.receipt.values, vec![diag.to_string()]);
}

#[test]
fn regression_receipts_verify() {
    let cols = Some((0..13).map(|i| format!("f{i}")).collect::<Vec<_>>());
    for aggregate in [
        Aggregate::Mean,
        Aggregate::Mse {
            label: "target".into(),
        },
        Aggregate::CountAtLeast { threshold: 0.0 },
    ] {
        let out = prove(
            "mlp",
            "data/tabular.csv",
            8,
            16,
            aggregate.clone(),
            cols.clone(),
        );
        let r = &out.receipt;
        assert_eq!(
            r.verify(&to_bytes(&out.vk)).unwrap(),
            Verdict::Valid,
            "{aggregate:?}"
        );
        let ag = r.agreement.as_ref().unwrap();
        assert!(ag.max_abs_error.unwrap() < 0.05, "{aggregate:?}: {ag:?}");
    }
}
