//! The EVM encodings checked against the EVM's own BN254 precompiles
//! (revm's implementation): the verification a contract runs on the
//! encoded receipt accepts exactly what the Rust verifier accepts, and costs
//! the gas the schedule says.

use ark_bn254::{Fq, G1Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{Field, PrimeField};
use rand::SeedableRng;
use revm::precompile::bn254::{run_add, run_mul, run_pair};
use std::path::Path;
use zkgate_chain::evm::{self, EvmKey, EvmProof};
use zkgate_statement::groth16::{self as prove, Proof, VerifyingKey};
use zkgate_statement::{nonce_from, Aggregate, Statement};
use zkgate_zkml::dataset::{Dataset, Secret};
use zkgate_zkml::pipeline::{run, LocalJob, Outcome};

fn job(aggregate: Aggregate) -> Outcome {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let text = std::fs::read_to_string(fixtures.join("data/tabular.csv")).unwrap();
    let head: Vec<&str> = text.lines().take(6).collect();
    let dataset = Dataset::from_csv_reader(
        head.join("\n").as_bytes(),
        &zkgate_zkml::dataset::declared_schema(&fixtures.join("data/tabular.csv")).unwrap(),
    )
    .unwrap();
    let model = zkgate_zkml::import::load(fixtures.join("models/linreg.onnx")).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
    let secret = Secret::random(&mut rng);
    let request = zkgate_zkml::job::JobRequest {
        aggregate,
        input_columns: Some((0..13).map(|i| format!("f{i}")).collect()),
        quant: Default::default(),
        epsilon: None,
    };
    run(
        LocalJob::new(&model, &dataset, &secret, &request, nonce_from(b"settle-1")),
        &mut rng,
        &mut |_| {},
    )
    .unwrap()
}

/// What a Solidity verifier does with the encodings, call for call:
/// `Some(gas)` when the pairing check passes, `None` when it fails or a
/// precompile rejects its input (the contract reverts).
fn evm_verify(key: &EvmKey, proof: &EvmProof, inputs: &[[u8; 32]]) -> Option<u64> {
    let mut gas = 0;
    let mut vk_x = key.ic[0].to_vec();
    assert_eq!(inputs.len(), key.inputs());
    for (x, ic) in inputs.iter().zip(&key.ic[1..]) {
        let m = run_mul(&[&ic[..], &x[..]].concat(), evm::EC_MUL_GAS, u64::MAX).ok()?;
        let s = run_add(
            &[&vk_x[..], &m.bytes[..]].concat(),
            evm::EC_ADD_GAS,
            u64::MAX,
        )
        .ok()?;
        gas += m.gas_used + s.gas_used;
        vk_x = s.bytes.to_vec();
    }
    // -A: the contract negates y modulo q.
    let y = Fq::from_be_bytes_mod_order(&proof.a[32..]);
    let mut neg_a = proof.a;
    neg_a[32..].copy_from_slice(&evm::word(&-y));
    let input = [
        &neg_a[..],
        &proof.b[..],
        &key.alpha[..],
        &key.beta[..],
        &vk_x[..],
        &key.gamma[..],
        &proof.c[..],
        &key.delta[..],
    ]
    .concat();
    let out = run_pair(
        &input,
        evm::PAIRING_PAIR_GAS,
        evm::PAIRING_BASE_GAS,
        u64::MAX,
    )
    .ok()?;
    gas += out.gas_used;
    (out.bytes[31] == 1).then_some(gas)
}

fn parts(out: &Outcome) -> (VerifyingKey, Proof, Statement) {
    let r = &out.receipt;
    let proof: Proof = prove::from_bytes(&hex::decode(&r.shards[0].proof).unwrap()).unwrap();
    (out.keys[0].1.clone(), proof, r.statement(0).unwrap())
}

#[test]
fn the_evm_accepts_exactly_what_the_rust_verifier_accepts() {
    let out = job(Aggregate::Mean);
    let (vk, proof, statement) = parts(&out);
    let key = EvmKey::new(&vk);
    let p = EvmProof::new(&proof);
    let both = |statement: &Statement, proof: &Proof, key: &EvmKey| {
        let rust = prove::verify(&vk, statement, proof).unwrap();
        let evm = evm_verify(key, &EvmProof::new(proof), &evm::inputs(statement));
        (rust, evm.is_some())
    };

    // Valid, at the gas the schedule says.
    assert!(prove::verify(&vk, &statement, &proof).unwrap());
    let gas = evm_verify(&key, &p, &evm::inputs(&statement)).expect("accepted on chain");
    assert_eq!(gas, evm::verification_gas(statement.public_inputs().len()));
    assert_eq!(p.to_bytes().len(), 256);
    assert_eq!(key.to_bytes().len(), 64 + 3 * 128 + 64 * (key.inputs() + 1));

    // Changed output, dataset commitment, job binding: both reject.
    let mut s = statement.clone();
    s.aggregates[0] += 1;
    assert_eq!(both(&s, &proof, &key), (false, false), "output");
    let mut s = statement.clone();
    s.commitment += ark_bn254::Fr::ONE;
    assert_eq!(both(&s, &proof, &key), (false, false), "commitment");
    let mut s = statement.clone();
    s.nonce = nonce_from(b"settle-2");
    assert_eq!(both(&s, &proof, &key), (false, false), "job binding");

    // A tampered proof that is still made of valid points.
    let mut bad = proof.clone();
    bad.c = (bad.c.into_group() + G1Affine::generator()).into_affine();
    assert_eq!(both(&statement, &bad, &key), (false, false), "proof");
    // A point off the curve: the precompile rejects it.
    let mut off = p.clone();
    off.c[63] ^= 1;
    assert!(evm_verify(&key, &off, &evm::inputs(&statement)).is_none());

    // Another circuit's key (same model, another aggregate).
    let other = job(Aggregate::Sum);
    let other_key = EvmKey::new(&other.keys[0].1);
    assert_eq!(other_key.inputs(), key.inputs());
    assert!(!prove::verify(&other.keys[0].1, &statement, &proof).unwrap());
    assert!(evm_verify(&other_key, &p, &evm::inputs(&statement)).is_none());
}

#[test]
fn a_key_registered_before_the_job_is_the_bundle_its_receipt_settles_under() {
    // A researcher registers a ceremony key's bundle from the circuit the
    // public facts give, before the job runs; the gateway later settles
    // the receipt under the bundle it derives from the receipt. Same bytes,
    // same id.
    use zkgate_chain::settlement::Bundle;
    let out = job(Aggregate::Mean);
    let (vk, _, _) = parts(&out);
    let before = Bundle::for_circuit(out.spec.header(), &vk).unwrap();
    let after = Bundle::for_receipt(&out.receipt, std::slice::from_ref(&vk)).unwrap();
    assert_eq!(before.bytes, after.bytes);
    assert_eq!(before.id(), after.id());
}
