//! Pooling parts' receipts: proved values added, over the pooled rows;
//! small cells a part suppressed bounded per value; the parts' noise
//! stated; parts at other scales refused by name.

use rand::SeedableRng;
use std::path::Path;
use zkgate_statement::federation::{pool, PartName};
use zkgate_statement::{nonce_from, Aggregate, Receipt};
use zkgate_zkml::dataset::{Dataset, Secret};
use zkgate_zkml::job::JobRequest;
use zkgate_zkml::pipeline::{run, LocalJob};

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Rows `from..to` of a fixture CSV against its declared schema.
fn rows(csv: &str, from: usize, to: usize) -> Dataset {
    let path = fixtures().join(csv);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut keep = vec![lines[0]];
    keep.extend(&lines[1 + from..1 + to]);
    let schema = zkgate_zkml::dataset::declared_schema(&path).unwrap();
    Dataset::from_csv_reader(keep.join("\n").as_bytes(), &schema).unwrap()
}

fn prove(model: &str, d: &Dataset, request: &JobRequest, suppress: u64, seed: u64) -> Receipt {
    let model = zkgate_zkml::import::load(fixtures().join(model)).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let secret = Secret::random(&mut rng);
    let gate = move |_: &zkgate_zkml::pipeline::Gate<'_>| Ok(suppress);
    let job = LocalJob {
        gate: Some(&gate),
        ..LocalJob::new(&model, d, &secret, request, nonce_from(&seed.to_le_bytes()))
    };
    run(job, &mut rng, &mut |_| {}).unwrap().receipt
}

fn part(name: &str) -> PartName {
    PartName {
        gateway: format!("https://{name}:8443"),
        dataset: "d".into(),
        chain_dataset: None,
    }
}

#[test]
fn class_counts_pool_exactly_and_suppressed_cells_are_bounded() {
    let request = JobRequest {
        aggregate: Aggregate::ClassCounts,
        input_columns: None,
        quant: Default::default(),
        epsilon: None,
    };
    let bc = |from, to| {
        let d = rows("data/breast_cancer.csv", from, to);
        let cols: Vec<String> = d
            .schema
            .names()
            .into_iter()
            .filter(|c| c != "label")
            .collect();
        (d, cols)
    };
    let (a, cols) = bc(0, 24);
    let (b, _) = bc(24, 60);
    let request = JobRequest {
        input_columns: Some(cols),
        ..request
    };
    // Part a's owner suppresses cells under 10 rows; part b's releases
    // exact cells.
    let ra = prove("models/breast_cancer.onnx", &a, &request, 10, 1);
    let rb = prove("models/breast_cancer.onnx", &b, &request, 0, 2);
    let (va, vb) = (ra.aggregates().unwrap(), rb.aggregates().unwrap());
    let (pa, pb) = (part("a"), part("b"));
    let p = pool(&[(&pa, &ra), (&pb, &rb)]).unwrap();
    assert_eq!((p.parts, p.rows), (2, 60));
    let want: Vec<String> = va
        .iter()
        .zip(&vb)
        .map(|(x, y)| (x + y).to_string())
        .collect();
    assert_eq!(p.values, want);
    assert_eq!(
        p.result["counts"][0],
        serde_json::json!((va[0] + vb[0]) as u64)
    );
    // Every part-a cell published as zero hides at most 9 rows.
    assert!(va.contains(&0), "part a suppresses a cell: {va:?}");
    let bound: Vec<String> = va
        .iter()
        .map(|x| if *x == 0 { "9" } else { "0" }.to_string())
        .collect();
    assert_eq!(p.suppressed_up_to, bound);
    assert!(p.noise.is_none());
    // Exact parts only: nothing to bound.
    let p = pool(&[(&pb, &rb)]).unwrap();
    assert!(p.suppressed_up_to.is_empty());
}

#[test]
fn noised_parts_state_the_pooled_noise_and_other_scales_are_refused() {
    let tab = |from, to| rows("data/tabular.csv", from, to);
    let request = JobRequest {
        aggregate: Aggregate::Sum,
        input_columns: Some((0..13).map(|i| format!("f{i}")).collect()),
        quant: Default::default(),
        epsilon: Some(1.0),
    };
    let ra = prove("models/linreg.onnx", &tab(0, 8), &request, 0, 3);
    let rb = prove("models/linreg.onnx", &tab(8, 20), &request, 0, 4);
    let (pa, pb) = (part("a"), part("b"));
    let p = pool(&[(&pa, &ra), (&pb, &rb)]).unwrap();
    assert_eq!(p.rows, 20);
    let total = ra.aggregates().unwrap()[0] + rb.aggregates().unwrap()[0];
    assert_eq!(p.values, vec![total.to_string()]);
    let n = p.noise.unwrap();
    assert_eq!(n.epsilons, vec![1.0, 1.0]);
    let each = ra.circuit.params.noise.as_ref().unwrap().std_dev();
    let other = rb.circuit.params.noise.as_ref().unwrap().std_dev();
    assert!((n.std_dev - (each * each + other * other).sqrt()).abs() < 1e-9);
    assert!(n.distribution.contains("2 independent discrete Laplace"));

    // A mean pools as a sum would not: another aggregate is another scale.
    let mean = JobRequest {
        aggregate: Aggregate::Mean,
        ..request
    };
    let rc = prove("models/linreg.onnx", &tab(0, 8), &mean, 0, 5);
    let pc = part("c");
    let e = pool(&[(&pa, &ra), (&pc, &rc)]).unwrap_err();
    assert!(e.starts_with("https://c:8443 (dataset `d`)"), "{e}");
    assert!(pool(&[]).is_err());
}
