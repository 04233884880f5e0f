//! Hostile bytes for every parser an upload or a download reaches: ONNX
//! models, CSV datasets, ceremony keys and transcripts, powers-of-tau
//! files, receipts and verifying keys. Each is fed seeded random mutations
//! of a valid input (bit flips, overwritten runs, truncations, repeated and
//! inserted slices, and length-like words set to huge values) and must
//! answer with a value or a clean error: no panic, and no allocation sized
//! by a hostile length (which would abort the process).

use crate::common;

use common::{fixture, head};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zkgate_statement::{nonce_from, Aggregate, Receipt};
use zkgate_zkml::dataset::{declared_schema, Dataset, Secret};
use zkgate_zkml::import;
use zkgate_zkml::job::JobRequest;
use zkgate_zkml::pipeline::{run, LocalJob};

/// One random mutation of `bytes`.
fn mutate(rng: &mut ChaCha20Rng, bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if b.is_empty() {
        return vec![rng.gen()];
    }
    let at = rng.gen_range(0..b.len());
    match rng.gen_range(0..7) {
        0 => {
            for _ in 0..rng.gen_range(1..8) {
                let i = rng.gen_range(0..b.len());
                b[i] ^= 1 << rng.gen_range(0..8);
            }
        }
        1 => {
            let end = (at + rng.gen_range(1..64)).min(b.len());
            rng.fill(&mut b[at..end]);
        }
        2 => b.truncate(at),
        3 => {
            let end = (at + rng.gen_range(1..256)).min(b.len());
            let piece = b[at..end].to_vec();
            let to = rng.gen_range(0..b.len());
            b.splice(to..to, piece);
        }
        4 => {
            let mut junk = vec![0u8; rng.gen_range(1..32)];
            rng.fill(&mut junk[..]);
            b.splice(at..at, junk);
        }
        5 => {
            // A length-like word made huge (little-endian, as the binary
            // containers and ark-serialize write lengths).
            let big: u64 =
                [u64::MAX, 1 << 40, 1 << 32, u32::MAX as u64, 1 << 20][rng.gen_range(0..5)];
            let end = (at + 8).min(b.len());
            b[at..end].copy_from_slice(&big.to_le_bytes()[..end - at]);
        }
        _ => {
            let end = (at + 4).min(b.len());
            let big = rng.gen::<u32>() | 0x8000_0000;
            b[at..end].copy_from_slice(&big.to_le_bytes()[..end - at]);
        }
    }
    b
}

/// Runs `parse` on `n` mutations of `valid` (and on `valid` itself), and
/// fails naming the input if any call panics.
fn survives(what: &str, valid: &[u8], n: usize, seed: u64, parse: impl Fn(&[u8])) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    parse(valid);
    for i in 0..n {
        let input = mutate(&mut rng, valid);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&input)));
        assert!(
            outcome.is_ok(),
            "{what}: mutation {i} panicked ({} bytes, starting {})",
            input.len(),
            hex::encode(&input[..input.len().min(32)])
        );
    }
}

#[test]
fn onnx_import_answers_every_mutated_model() {
    let limits = import::ImportLimits::default();
    // Hand-built models, and real exports: a forest read off the protobuf,
    // a scikit-learn network with Scaler, Sigmoid, Concat and a label.
    for (i, name) in [
        "models/linreg",
        "models/mlp",
        "models/breast_cancer",
        "models/lenet_small",
        "exports/xgboost",
        "exports/sk_random_forest_regressor",
        "exports/sk_mlp_classifier",
    ]
    .iter()
    .enumerate()
    {
        let bytes = std::fs::read(fixture(&format!("{name}.onnx"))).unwrap();
        survives(name, &bytes, 120, i as u64, |b| {
            let _ = import::load_bytes_within(b, &limits);
        });
    }
}

#[test]
fn csv_import_answers_every_mutated_file() {
    let path = fixture("data/tabular.csv");
    let schema = declared_schema(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let small: Vec<&str> = text.lines().take(30).collect();
    let valid = small.join("\n").into_bytes();
    survives("tabular.csv", &valid, 1000, 7, |b| {
        let _ = Dataset::from_csv_reader(b, &schema);
    });
}

#[test]
fn keys_transcripts_ptau_receipts_and_verifying_keys_answer_every_mutation() {
    // A real job: its receipt, verifying keys and proving key.
    let m = import::load(fixture("models/linreg.onnx")).unwrap();
    let d = head("data/tabular.csv", 8);
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let secret = Secret::random(&mut rng);
    let request = JobRequest {
        aggregate: Aggregate::Mean,
        input_columns: Some((0..13).map(|i| format!("f{i}")).collect()),
        quant: Default::default(),
        epsilon: Some(1.0),
    };
    let out = run(
        LocalJob::new(&m, &d, &secret, &request, nonce_from(b"fuzz")),
        &mut rng,
        &mut |_| {},
    )
    .unwrap();
    let vk = out.vk_bytes();

    let receipt = out.receipt.to_json().into_bytes();
    survives("receipt", &receipt, 400, 11, |b| {
        if let Ok(r) = Receipt::from_json(&String::from_utf8_lossy(b)) {
            let _ = r.verify(&vk);
        }
    });
    survives("verifying keys", &vk, 400, 12, |b| {
        let _ = zkgate_statement::groth16::keys_from_bytes(b);
        let _ = out.receipt.verify(b);
    });

    // A ceremony key of a one-constraint circuit (`1 * 1 = 1`), with a
    // contribution, as a .zkey; reading one checks every point (slow):
    // fewer mutations.
    use zkgate_zkml::ceremony::{self, Ptau, R1cs, Transcript};
    let one = vec![vec![(ark_bn254::Fr::from(1u64), 0usize)]];
    let r1cs = R1cs {
        instance: 1,
        witness: 0,
        matrices: vec![one.clone(), one.clone(), one],
    };
    let small = Ptau::from_bytes(ceremony::ptau::write_random(3, &mut rng)).unwrap();
    let mut key = ceremony::initial_key(&r1cs, &small).unwrap();
    let mut t = Transcript::new(&key, &small).unwrap();
    ceremony::contribute(&mut key, &mut t, "fuzz", &mut rng).unwrap();
    let zkey = ceremony::write(&key, &t, &r1cs).unwrap();
    survives("ceremony key", &zkey, 60, 13, |b| {
        if let Ok((k, t)) = ceremony::read(b) {
            let _ = t.verify(&k, &r1cs, &small);
        }
    });
    survives("transcript", &t.to_bytes(), 400, 14, |b| {
        let _ = Transcript::from_bytes(b);
    });

    let ptau = zkgate_zkml::ceremony::ptau::write_random(4, &mut rng);
    survives("ptau", &ptau, 400, 15, |b| {
        let _ = zkgate_zkml::ceremony::Ptau::from_bytes(b.to_vec());
    });
}
