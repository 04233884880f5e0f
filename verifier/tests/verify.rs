//! `zkgate-verify` as a process: a valid receipt (exit 0), a tampered one
//! (exit 1), unreadable keys (exit 2).

use rand::SeedableRng;
use std::path::Path;
use std::process::Command;
use zkgate_statement::{nonce_from, Aggregate};
use zkgate_zkml::dataset::{Dataset, Secret};
use zkgate_zkml::job::JobRequest;
use zkgate_zkml::pipeline::{run, LocalJob};

fn verify(receipt: &Path, vk: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zkgate-verify"))
        .arg(receipt)
        .arg("--vk")
        .arg(vk)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap(), text)
}

#[test]
fn valid_tampered_and_unreadable() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let text = std::fs::read_to_string(fixtures.join("data/tabular.csv")).unwrap();
    let head: Vec<&str> = text.lines().take(9).collect();
    let dataset = Dataset::from_csv_reader(
        head.join("\n").as_bytes(),
        &zkgate_zkml::dataset::declared_schema(&fixtures.join("data/tabular.csv")).unwrap(),
    )
    .unwrap();
    let model = zkgate_zkml::import::load(fixtures.join("models/linreg.onnx")).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let secret = Secret::random(&mut rng);
    let request = JobRequest {
        aggregate: Aggregate::Mean,
        input_columns: Some((0..13).map(|i| format!("f{i}")).collect()),
        quant: Default::default(),
        epsilon: None,
    };
    let job = LocalJob::new(&model, &dataset, &secret, &request, nonce_from(b"job"));
    let out = run(job, &mut rng, &mut |_| {}).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (r, v) = (dir.path().join("receipt.json"), dir.path().join("vk.bin"));
    std::fs::write(&r, out.receipt.to_json()).unwrap();
    std::fs::write(&v, out.vk_bytes()).unwrap();
    let (code, said) = verify(&r, &v);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("valid:"), "{said}");
    assert!(said.contains("exact values"), "{said}");

    let mut bad = out.receipt.clone();
    bad.nonce = zkgate_statement::field::fr_to_hex(nonce_from(b"another job"));
    std::fs::write(&r, bad.to_json()).unwrap();
    let (code, said) = verify(&r, &v);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("INVALID"), "{said}");

    std::fs::write(&v, b"not keys").unwrap();
    let (code, said) = verify(&r, &v);
    assert_eq!(code, 2, "{said}");
}
