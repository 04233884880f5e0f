//! End-to-end proofs and their tamper tests: every change to what a receipt
//! claims must make verification fail.

use crate::common;

use common::{fixture, head};
use rand::SeedableRng;
use zkgate_statement::field::fr_to_hex;
use zkgate_statement::{nonce_from, Aggregate};
use zkgate_statement::{Receipt, Verdict};
use zkgate_zkml::dataset::Secret;
use zkgate_zkml::import;
use zkgate_zkml::job::JobRequest;
use zkgate_zkml::pipeline::{run, Gate, GateFn, LocalJob, Outcome};
use zkgate_zkml::Fr;

fn prove(
    model: &str,
    data: &str,
    rows: usize,
    aggregate: Aggregate,
    columns: Option<Vec<String>>,
) -> Outcome {
    prove_with(model, data, rows, aggregate, columns, None, None).unwrap()
}

fn prove_gated(
    model: &str,
    data: &str,
    rows: usize,
    aggregate: Aggregate,
    columns: Option<Vec<String>>,
    gate: Option<&GateFn<'_>>,
) -> Outcome {
    prove_with(model, data, rows, aggregate, columns, None, gate).unwrap()
}

#[allow(clippy::too_many_arguments)]
fn prove_with(
    model: &str,
    data: &str,
    rows: usize,
    aggregate: Aggregate,
    columns: Option<Vec<String>>,
    shard_rows: Option<u64>,
    gate: Option<&GateFn<'_>>,
) -> zkgate_zkml::Result<Outcome> {
    let m = import::load(fixture(&format!("models/{model}.onnx"))).unwrap();
    let d = head(data, rows);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let secret = Secret::random(&mut rng);
    let request = JobRequest {
        aggregate,
        input_columns: columns,
        quant: Default::default(),
        epsilon: None,
    };
    let job = LocalJob {
        shard_rows,
        gate,
        ..LocalJob::new(&m, &d, &secret, &request, nonce_from(b"job-1"))
    };
    run(job, &mut rng, &mut |_| {})
}

/// Sets the job's values and the result they read as.
fn set_values(r: &mut Receipt, values: &[i128]) {
    r.values = values.iter().map(i128::to_string).collect();
    r.result = r.circuit.decode(r.rows, values);
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
    // Twelve rows' confusion matrix, released through `gate`.
    let confusion = |gate: Option<&GateFn<'_>>| {
        prove_gated(
            "breast_cancer",
            "data/breast_cancer.csv",
            12,
            Aggregate::Confusion {
                label: "label".into(),
            },
            None,
            gate,
        )
    };
    let out = confusion(Some(&gate));
    let r = &out.receipt;
    let vk = out.vk_bytes();
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
    let mut claimed = published.clone();
    claimed[small] = truth[small];
    set_values(&mut t, &claimed);
    t.result = r.result.clone();
    t.result["matrix"] = t.circuit.decode(t.rows, &claimed)["matrix"].clone();
    assert!(invalid(&t, &vk));
    set_values(&mut t, &claimed);
    assert!(invalid(&t, &vk));
    // So does claiming another threshold.
    let mut t = r.clone();
    t.circuit.params.suppress_below = 1;
    t.result = t.circuit.decode(t.rows, &published);
    assert!(invalid(&t, &vk));
    // The threshold is a public input: the same job released exact is the
    // same circuit, and its key (a seeded setup) verifies the suppressed
    // release.
    let exact = confusion(None);
    assert_eq!(exact.receipt.circuit.params.suppress_below, 0);
    assert_eq!(exact.receipt.circuit.id(), r.circuit.id());
    assert_eq!(exact.vk_bytes(), vk, "one key for every threshold");
    let exact_values: Vec<i128> = exact.receipt.aggregates().unwrap();
    assert_eq!(exact_values, truth);
    // A receipt claiming the exact cells under the threshold fails.
    let mut t = r.clone();
    set_values(&mut t, &truth);
    assert!(invalid(&t, &vk));
}

fn invalid(r: &Receipt, vk: &[u8]) -> bool {
    matches!(r.verify(vk).unwrap(), Verdict::Invalid(_))
}

/// Asserts that the receipt, changed by `change`, no longer verifies.
fn rejects(r: &Receipt, vk: &[u8], what: &str, change: impl FnOnce(&mut Receipt)) {
    let mut t = r.clone();
    change(&mut t);
    assert!(invalid(&t, vk), "{what}");
}

/// The tampers every receipt must refuse, sharded or not: another dataset
/// commitment, another job binding.
fn rejects_another_dataset_or_job(r: &Receipt, vk: &[u8]) {
    rejects(r, vk, "changed commitment", |t| {
        t.commitment = fr_to_hex(Fr::from(12345u64))
    });
    rejects(r, vk, "changed nonce", |t| {
        t.nonce = fr_to_hex(nonce_from(b"job-2"))
    });
}

#[test]
fn classifier_receipt_verifies_and_every_tamper_fails() {
    let out = prove(
        "breast_cancer",
        "data/breast_cancer.csv",
        12,
        Aggregate::Confusion {
            label: "label".into(),
        },
        None,
    );
    let r = &out.receipt;
    let vk = out.vk_bytes();
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
    let mut moved = r.aggregates().unwrap();
    moved[0] += 1;
    moved[1] -= 1;
    rejects(r, &vk, "changed aggregate", |t| set_values(t, &moved));
    // The job's value without the shard's.
    rejects(r, &vk, "changed total", |t| {
        t.values = moved.iter().map(i128::to_string).collect();
        t.result = t.circuit.decode(t.rows, &moved);
    });
    // The reported result alone.
    rejects(r, &vk, "changed result", |t| {
        t.result["accuracy"] = serde_json::json!(0.5)
    });
    rejects_another_dataset_or_job(r, &vk);
    rejects(r, &vk, "changed rows", |t| t.rows += 1);
    // The circuit description (e.g. the scale used to decode results).
    rejects(r, &vk, "changed header", |t| t.circuit.output_scale += 1);
    // One byte of the proof, wherever it is.
    for i in [0usize, 31, 64, 100, 127] {
        rejects(r, &vk, &format!("proof byte {i}"), |t| {
            let mut p = hex::decode(&t.shards[0].proof).unwrap();
            p[i] ^= 0x01;
            t.shards[0].proof = hex::encode(p);
        });
    }

    // Another circuit's key: the same model with another aggregate.
    let other = prove(
        "breast_cancer",
        "data/breast_cancer.csv",
        12,
        Aggregate::Accuracy {
            label: "label".into(),
        },
        None,
    );
    let other_vk = other.vk_bytes();
    assert!(invalid(r, &other_vk), "another circuit's key");
    rejects(
        r,
        &other_vk,
        "another circuit's key, receipt relabelled",
        |t| t.shards[0].vk_sha256 = other.receipt.shards[0].vk_sha256.clone(),
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
            aggregate.clone(),
            cols.clone(),
        );
        let r = &out.receipt;
        assert_eq!(
            r.verify(&out.vk_bytes()).unwrap(),
            Verdict::Valid,
            "{aggregate:?}"
        );
        let ag = r.agreement.as_ref().unwrap();
        assert!(ag.max_abs_error.unwrap() < 0.05, "{aggregate:?}: {ag:?}");
    }
}

#[test]
fn sharded_receipt_opens_the_same_commitment_and_every_tamper_fails() {
    // 31 columns of 16 bits pack into 3 elements a row, so the chain cuts
    // every 11 rows: shards of 11, 11 and 3 real rows (the last padded
    // with 8), one circuit and one key.
    let confusion = || Aggregate::Confusion {
        label: "label".into(),
    };
    let data = "data/breast_cancer.csv";
    let whole = prove("breast_cancer", data, 25, confusion(), None);
    let out = prove_with("breast_cancer", data, 25, confusion(), None, Some(15), None).unwrap();
    let r = &out.receipt;
    let vk = out.vk_bytes();
    assert_eq!(r.verify(&vk).unwrap(), Verdict::Valid);
    let sizes: Vec<(u64, u64)> = r.shards.iter().map(|s| (s.offset, s.rows)).collect();
    assert_eq!(sizes, [(0, 11), (11, 11), (22, 3)]);
    assert_eq!(out.keys.len(), 1);
    assert_eq!(r.circuit.shard_rows, 11);
    // Same salt, same rows: the shards open the commitment of the whole
    // dataset, and the totals are the unsharded job's.
    assert_eq!(r.commitment, whole.receipt.commitment);
    assert_eq!(r.values, whole.receipt.values);
    assert_eq!(r.result, whole.receipt.result);

    // Shards in another order, with their offsets relabelled.
    rejects(r, &vk, "reordered shards", |t| {
        t.shards.swap(0, 1);
        (t.shards[0].offset, t.shards[1].offset) = (0, 11);
    });
    // A shard dropped, or counted twice.
    rejects(r, &vk, "dropped shard", |t| {
        t.shards.remove(1);
    });
    rejects(r, &vk, "repeated shard", |t| {
        let again = t.shards[1].clone();
        t.shards.insert(1, again);
        t.shards[2].offset = 22;
        t.shards[3].offset = 33;
    });
    // Nothing per shard leaves: no shard carries values, and every shard
    // but the last is proved to publish zeros (the running totals travel
    // inside the blinded links).
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    for s in json["shards"].as_array().unwrap() {
        assert!(s.get("values").is_none(), "a shard publishes values: {s}");
    }
    for i in 0..2 {
        let st = r.statement(i).unwrap();
        assert!(st.aggregates.iter().all(|v| *v == 0), "shard {i}");
    }
    // A changed total, or a middle shard claiming a partial value.
    let shift = |v: &mut Vec<String>, k: usize, d: i128| {
        v[k] = (v[k].parse::<i128>().unwrap() + d).to_string();
    };
    rejects(r, &vk, "changed total", |t| {
        shift(&mut t.values, 0, 1);
        t.result = t.circuit.decode(t.rows, &t.aggregates().unwrap());
    });
    // The last shard's proof offered for the totals of the first two: a
    // receipt that keeps only the links of shards 0 and 1 cannot end there.
    rejects(r, &vk, "shards reordered with the last first", |t| {
        t.shards.swap(1, 2);
    });
    // The links: both sides of a cut changed together.
    rejects(r, &vk, "changed link", |t| {
        let other = fr_to_hex(Fr::from(99u64));
        t.shards[0].link_out = other.clone();
        t.shards[1].link_in = other;
    });
    rejects(r, &vk, "changed shard size", |t| t.circuit.shard_rows = 22);
    // The padding counted as rows, or real rows dropped: the last shard's
    // real rows and the dataset's row count changed together, or alone.
    rejects(r, &vk, "padding counted", |t| {
        t.rows += 1;
        t.shards[2].rows += 1;
    });
    rejects(r, &vk, "rows dropped", |t| {
        t.rows -= 1;
        t.shards[2].rows -= 1;
    });
    rejects(r, &vk, "active count changed", |t| t.shards[2].rows -= 1);
    rejects(r, &vk, "a middle shard padded", |t| t.shards[1].rows -= 1);
    rejects_another_dataset_or_job(r, &vk);
    // Under another circuit's key (the one-shard job's, of 28 rows).
    assert!(invalid(r, &whole.vk_bytes()), "another circuit's key");

    // Small cells are suppressed in the job's totals, in the last shard:
    // the same values as the whole-dataset proof.
    let gate = |_: &Gate<'_>| Ok(3);
    let whole = prove_with(
        "breast_cancer",
        data,
        25,
        confusion(),
        None,
        None,
        Some(&gate),
    )
    .unwrap();
    let sharded = prove_with(
        "breast_cancer",
        data,
        25,
        confusion(),
        None,
        Some(11),
        Some(&gate),
    )
    .unwrap();
    assert_eq!(sharded.receipt.shards.len(), 3);
    assert_eq!(sharded.receipt.values, whole.receipt.values);
    assert!(
        sharded.receipt.values.iter().any(|v| v == "0"),
        "a cell is suppressed"
    );
    assert_eq!(
        sharded.receipt.verify(&sharded.vk_bytes()).unwrap(),
        Verdict::Valid
    );
}

#[test]
fn a_one_row_shard_publishes_nothing_of_its_row() {
    // 23 rows in shards of 11: the last shard holds one row. Its proof
    // publishes the job's totals, never that row's share, and the totals
    // are the whole-dataset job's.
    let data = "data/breast_cancer.csv";
    let accuracy = || Aggregate::Accuracy {
        label: "label".into(),
    };
    let whole = prove("breast_cancer", data, 23, accuracy(), None);
    let out = prove_with("breast_cancer", data, 23, accuracy(), None, Some(11), None).unwrap();
    let r = &out.receipt;
    let sizes: Vec<u64> = r.shards.iter().map(|s| s.rows).collect();
    assert_eq!(sizes.last(), Some(&1), "{sizes:?}");
    assert_eq!(r.values, whole.receipt.values);
    assert_eq!(r.verify(&out.vk_bytes()).unwrap(), Verdict::Valid);
    for i in 0..r.shards.len() - 1 {
        assert!(r.statement(i).unwrap().aggregates.iter().all(|v| *v == 0));
    }
    // Any other values claimed as the job's, fail.
    rejects(r, &out.vk_bytes(), "other totals", |t| {
        let v: Vec<i128> = t.aggregates().unwrap().iter().map(|v| v / 23).collect();
        set_values(t, &v);
    });
}
