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

/// A hostile data owner's receipts against the researcher's question:
/// every proof below verifies on its own keys, but each answers something
/// other than what was asked, and `zkgate-verify --question` names the
/// first field that differs (exit 1). `--require-ceremony` with nothing
/// that shows where the keys come from is an error (exit 2), whatever the
/// receipt's `setup` line says.
#[test]
fn receipts_for_another_question_are_refused_by_field() {
    use zkgate_statement::field::fr_to_hex;
    use zkgate_statement::question::{CeremonyPin, OwnerBounds};
    use zkgate_statement::Question;

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let csv = fixtures.join("data/tabular.csv");
    let schema = zkgate_zkml::dataset::declared_schema(&csv).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows = |n: usize| {
        let head: Vec<&str> = text.lines().take(n + 1).collect();
        Dataset::from_csv_reader(head.join("\n").as_bytes(), &schema).unwrap()
    };
    let dataset = rows(8);
    let model = zkgate_zkml::import::load(fixtures.join("models/linreg.onnx")).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
    let secret = Secret::random(&mut rng);
    let columns: Vec<String> = (0..13).map(|i| format!("f{i}")).collect();
    let asked = JobRequest {
        aggregate: Aggregate::Mean,
        input_columns: Some(columns.clone()),
        quant: Default::default(),
        epsilon: None,
    };
    // The researcher's question, from the model and the published facts.
    let header =
        zkgate_zkml::job::compile_public(&model.model, &model.onnx_sha256, &schema, 8, &asked)
            .unwrap()
            .header()
            .clone();
    let commitment = fr_to_hex(dataset.commitment(&secret));
    let q = Question::new(
        "tabular",
        &commitment,
        8,
        header,
        OwnerBounds::default(),
        [9; 32],
    );
    let dir = tempfile::tempdir().unwrap();
    let qf = dir.path().join("question.json");
    std::fs::write(&qf, q.to_json()).unwrap();

    let check = |d: &Dataset, s: &Secret, request: &JobRequest, nonce, extra: &[&str]| {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let out = run(
            LocalJob::new(&model, d, s, request, nonce),
            &mut rng,
            &mut |_| {},
        )
        .unwrap();
        let (r, v) = (dir.path().join("r.json"), dir.path().join("vk.bin"));
        std::fs::write(&r, out.receipt.to_json()).unwrap();
        std::fs::write(&v, out.vk_bytes()).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_zkgate-verify"))
            .arg(&r)
            .arg("--vk")
            .arg(&v)
            .arg("--question")
            .arg(&qf)
            .args(extra)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap(), text)
    };
    let nonce = q.job_nonce();

    let (code, said) = check(&dataset, &secret, &asked, nonce, &[]);
    assert_eq!(code, 0, "{said}");
    assert!(!said.contains("no question"), "{said}");

    let mut swapped = asked.clone();
    swapped.input_columns.as_mut().unwrap().swap(1, 2);
    let (code, said) = check(&dataset, &secret, &swapped, nonce, &[]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("columns: asked [f0, f1, f2"), "{said}");

    let other_salt = Secret::random(&mut rng);
    let (code, said) = check(&dataset, &other_salt, &asked, nonce, &[]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("another question: commitment"), "{said}");

    let (code, said) = check(&rows(7), &secret, &asked, nonce, &[]);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("another question: commitment") || said.contains("rows"),
        "{said}"
    );

    let mut coarse = asked.clone();
    coarse.quant.act_bits = 8;
    let (code, said) = check(&dataset, &secret, &coarse, nonce, &[]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("another question: quantization"), "{said}");

    let mut noised = asked.clone();
    noised.epsilon = Some(1.0);
    let (code, said) = check(&dataset, &secret, &noised, nonce, &[]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("another question: epsilon"), "{said}");

    // Bound to the gateway's job id, not to the question.
    let (code, said) = check(&dataset, &secret, &asked, nonce_from(b"job_1"), &[]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("another question: nonce"), "{said}");

    // No pin of the keys: --require-ceremony cannot pass.
    let (code, said) = check(&dataset, &secret, &asked, nonce, &["--require-ceremony"]);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("--require-ceremony needs"), "{said}");

    // The question pins the key the researcher contributed to; the owner
    // proves with keys of its own (a `.zkey` substituted).
    let mut pinned = q.clone();
    pinned.ceremony = Some(CeremonyPin {
        contribution_hash: "ab".repeat(64),
        vk_sha256: vec!["cd".repeat(32)],
        ptau_blake2b: None,
    });
    std::fs::write(&qf, pinned.to_json()).unwrap();
    let (code, said) = check(
        &dataset,
        &secret,
        &asked,
        pinned.job_nonce(),
        &["--require-ceremony"],
    );
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("another question: keys"), "{said}");

    // A sharded receipt of owner-made keys whose `setup` line is edited
    // to claim a ceremony: the line is display only, so
    // `--require-ceremony` without a pin is still an error.
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
    let twelve = rows(12);
    let mut out = run(
        LocalJob {
            shard_rows: Some(11),
            ..LocalJob::new(&model, &twelve, &secret, &asked, nonce)
        },
        &mut rng,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(out.receipt.shards.len(), 2);
    out.receipt.setup = "ceremony: pot.ptau (power 12), 1 contribution by alice".into();
    let (r, v) = (
        dir.path().join("sharded.json"),
        dir.path().join("sharded.vk"),
    );
    std::fs::write(&r, out.receipt.to_json()).unwrap();
    std::fs::write(&v, out.vk_bytes()).unwrap();
    let (code, said) = verify(&r, &v);
    assert_eq!(code, 0, "the proofs themselves are valid: {said}");
    let out = Command::new(env!("CARGO_BIN_EXE_zkgate-verify"))
        .arg(&r)
        .arg("--vk")
        .arg(&v)
        .arg("--require-ceremony")
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("--require-ceremony needs"), "{said}");
}
