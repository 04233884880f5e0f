//! Phase-2 keys against snarkjs (pinned in `contracts/package.json`;
//! `npm ci --prefix contracts` installs it): the circuit exported as
//! `.r1cs`, snarkjs's own `zkey new` over the same powers-of-tau file gives
//! exactly the key this crate computes, a key snarkjs extends with a
//! contribution passes our well-formedness check and proves, and snarkjs
//! verifies its chain from our `.r1cs`.

mod common;

use ark_groth16::Groth16;
use ark_snark::SNARK;
use common::{fixture, head};
use std::path::{Path, PathBuf};
use std::process::Command;
use zkgate_statement::{nonce_from, Aggregate, Statement};
use zkgate_zkml::ceremony::{self, OddCosetReduction, Ptau};
use zkgate_zkml::circuit::{JobCircuit, Links, Witness};
use zkgate_zkml::dataset::Secret;
use zkgate_zkml::job::{compile, JobRequest};
use zkgate_zkml::spec::evaluate;

fn snarkjs() -> PathBuf {
    if let Some(p) = std::env::var_os("ZKGATE_SNARKJS") {
        return p.into();
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/node_modules/.bin/snarkjs");
    assert!(
        p.exists(),
        "snarkjs is not installed: run `npm ci --prefix contracts` (or set ZKGATE_SNARKJS)"
    );
    p
}

fn snark(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(snarkjs())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "snarkjs {args:?}: {text}");
    text
}

#[test]
fn snarkjs_makes_the_same_key_and_its_contributions_prove() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    snark(d, &["powersoftau", "new", "bn128", "12", "p0.ptau"]);
    snark(
        d,
        &[
            "powersoftau",
            "contribute",
            "p0.ptau",
            "p1.ptau",
            "--name=one",
            "-e=zkgate entropy",
        ],
    );
    snark(
        d,
        &["powersoftau", "prepare", "phase2", "p1.ptau", "final.ptau"],
    );
    let ptau = Ptau::read(&d.join("final.ptau")).unwrap();

    let m = zkgate_zkml::import::load(fixture("models/linreg.onnx")).unwrap();
    let data = head("data/tabular.csv", 1);
    let request = JobRequest {
        aggregate: Aggregate::Mean,
        input_columns: Some((0..13).map(|i| format!("f{i}")).collect()),
        quant: Default::default(),
        epsilon: None,
    };
    let spec = compile(&m.model, &m.onnx_sha256, &data, &request).unwrap();
    let r1cs = ceremony::r1cs_of(&spec).unwrap();
    std::fs::write(d.join("c.r1cs"), ceremony::snarkjs::r1cs_bytes(&r1cs)).unwrap();
    let info = snark(d, &["r1cs", "info", "c.r1cs"]);
    assert!(
        info.contains(&format!("# of Constraints: {}", r1cs.constraints())),
        "{info}"
    );

    // snarkjs's key from our .r1cs is ours, point for point.
    snark(d, &["zkey", "new", "c.r1cs", "final.ptau", "z0.zkey"]);
    let theirs = ceremony::snarkjs::read_zkey(&std::fs::read(d.join("z0.zkey")).unwrap()).unwrap();
    let ours = ceremony::initial_key(&r1cs, &ptau).unwrap();
    assert_eq!(theirs.vk, ours.vk);
    assert_eq!(theirs.a_query, ours.a_query);
    assert_eq!(theirs.b_g1_query, ours.b_g1_query);
    assert_eq!(theirs.b_g2_query, ours.b_g2_query);
    assert_eq!(theirs.h_query, ours.h_query);
    assert_eq!(theirs.l_query, ours.l_query);

    // A contribution made by snarkjs: snarkjs checks the chain from our
    // .r1cs, we check the key is well formed, and it proves.
    snark(
        d,
        &[
            "zkey",
            "contribute",
            "z0.zkey",
            "z1.zkey",
            "--name=researcher",
            "-e=more entropy",
        ],
    );
    let verified = snark(d, &["zkey", "verify", "c.r1cs", "final.ptau", "z1.zkey"]);
    assert!(verified.contains("ZKey Ok!"), "{verified}");
    let key = ceremony::snarkjs::read_zkey(&std::fs::read(d.join("z1.zkey")).unwrap()).unwrap();
    assert_ne!(key.delta_g1, ours.delta_g1);
    ceremony::check_key(&key, &ours).unwrap();
    let secret = Secret::random(&mut rand::thread_rng());
    let eval = evaluate(&spec, &data.values).unwrap();
    let cuts = data.cuts(&secret, spec.shard_rows);
    let statement = Statement {
        commitment: cuts.last().unwrap().h,
        rows: spec.rows,
        nonce: nonce_from(b"snarkjs"),
        circuit_id: spec.id(),
        offset: 0,
        link_in: Default::default(),
        link_out: Default::default(),
        aggregates: eval.aggregates.clone(),
    };
    let witness = Witness {
        columns: &data.values,
        secret: &secret,
        statement: &statement,
        links: Links::default(),
    };
    let circuit = JobCircuit {
        spec: &spec,
        witness: Some(witness),
        counts: None,
    };
    let proof = Groth16::<ark_bn254::Bn254, OddCosetReduction>::prove(
        &key,
        circuit,
        &mut rand::thread_rng(),
    )
    .unwrap();
    let pvk = ark_groth16::prepare_verifying_key(&key.vk);
    let inputs = statement.public_inputs();
    assert!(
        Groth16::<ark_bn254::Bn254, OddCosetReduction>::verify_with_processed_vk(
            &pvk, &inputs, &proof
        )
        .unwrap()
    );
}
