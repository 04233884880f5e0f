//! Phase-2 keys against snarkjs (pinned in `contracts/package.json`;
//! `npm ci --prefix contracts` installs it): the circuit exported as
//! `.r1cs`, snarkjs's own `zkey new` over the same powers-of-tau file
//! writes byte for byte the `.zkey` this crate writes, `snarkjs zkey
//! verify` accepts our contributions and refuses tampered ones, a key
//! snarkjs extends after ours passes our transcript check and
//! well-formedness check and proves.

use crate::common;

use ark_ec::{AffineRepr, CurveGroup};
use ark_groth16::Groth16;
use ark_snark::SNARK;
use common::{fixture, head};
use std::path::Path;
use std::process::Command;
use zkgate_statement::{nonce_from, Aggregate, Statement};
use zkgate_testkit::snarkjs;
use zkgate_zkml::ceremony::{self, OddCosetReduction, Ptau};
use zkgate_zkml::circuit::{JobCircuit, Links, Witness};
use zkgate_zkml::dataset::Secret;
use zkgate_zkml::job::{compile, JobRequest};
use zkgate_zkml::spec::evaluate;

fn snark_status(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(snarkjs())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn snark(dir: &Path, args: &[&str]) -> String {
    let (ok, text) = snark_status(dir, args);
    assert!(ok, "snarkjs {args:?}: {text}");
    text
}

/// Whether `snarkjs zkey verify` accepts the key in `file`.
fn snarkjs_accepts(dir: &Path, file: &str) -> bool {
    let (ok, text) = snark_status(dir, &["zkey", "verify", "c.r1cs", "final.ptau", file]);
    ok && text.contains("ZKey Ok!")
}

/// A prepared file snarkjs wrote (power 12: one contribution, then
/// `prepare phase2`; fixtures/ceremony/make.sh) reads as the powers it
/// holds: its powers of tau agree (a pairing), and each prepared Lagrange
/// basis sums to the generator (the basis polynomials sum to 1).
#[test]
fn a_snarkjs_prepared_file_reads_as_its_powers() {
    use ark_ec::pairing::Pairing;
    let theirs = Ptau::read(&fixture("ceremony/snarkjs12.ptau")).unwrap();
    let (t1, t2) = (theirs.tau_g1(2).unwrap(), theirs.tau_g2(2).unwrap());
    assert_eq!(
        ark_bn254::Bn254::pairing(t1[1], t2[0]),
        ark_bn254::Bn254::pairing(t1[0], t2[1])
    );
    for n in [1usize << 4, 1 << 11, 1 << 12] {
        let sum: ark_bn254::G1Projective = theirs
            .lagrange_g1(n)
            .unwrap()
            .iter()
            .map(|p| p.into_group())
            .sum();
        assert_eq!(sum.into_affine(), ark_bn254::G1Affine::generator(), "{n}");
    }
    assert!(theirs.lagrange_g1(1 << 13).is_err(), "past its power");
}

#[test]
fn snarkjs_makes_the_same_key_and_its_contributions_prove() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // A prepared file of power 12 made by snarkjs (one contribution, then
    // `prepare phase2`: fixtures/ceremony/make.sh).
    std::fs::copy(fixture("ceremony/snarkjs12.ptau"), d.join("final.ptau")).unwrap();
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

    // snarkjs's key from our .r1cs is ours, byte for byte (circuit hash
    // and all).
    snark(d, &["zkey", "new", "c.r1cs", "final.ptau", "z0.zkey"]);
    let theirs = std::fs::read(d.join("z0.zkey")).unwrap();
    let ours = ceremony::initial_key(&r1cs, &ptau).unwrap();
    let empty = ceremony::Transcript::new(&ours, &ptau).unwrap();
    let ours_bytes = ceremony::write(&ours, &empty, &r1cs).unwrap();
    assert!(
        ours_bytes == theirs,
        "our initial .zkey differs from snarkjs's"
    );
    assert_eq!(
        ceremony::read(&theirs).unwrap(),
        (ours.clone(), empty.clone())
    );

    // Our contribution: snarkjs checks it from our .r1cs.
    let (mut k1, mut t1) = (ours.clone(), empty.clone());
    ceremony::contribute(&mut k1, &mut t1, "researcher", &mut rand::thread_rng()).unwrap();
    std::fs::write(d.join("z1.zkey"), ceremony::write(&k1, &t1, &r1cs).unwrap()).unwrap();
    assert!(snarkjs_accepts(d, "z1.zkey"));
    // ... and refuses it tampered: a proof of knowledge of another factor,
    // a transcript hash changed, a delta not the proved factor's.
    let mut other = (ours.clone(), empty.clone());
    ceremony::contribute(&mut other.0, &mut other.1, "x", &mut rand::thread_rng()).unwrap();
    // and (the batched checks) an L or an H point moved, a circuit hash
    // changed.
    let mut tampered = Vec::new();
    for (name, tamper) in [
        ("pok", 0usize),
        ("hash", 1),
        ("delta", 2),
        ("l", 3),
        ("h", 4),
        ("cs", 5),
    ] {
        let mut t = t1.clone();
        let mut k = k1.clone();
        let g1 = ark_bn254::G1Affine::generator();
        match tamper {
            0 => t.contributions[0].g2_spx = other.1.contributions[0].g2_spx,
            1 => t.contributions[0].transcript[5] ^= 1,
            3 => k.l_query[0] = (k.l_query[0] + g1).into_affine(),
            4 => k.h_query[1] = (k.h_query[1] + g1).into_affine(),
            5 => t.cs_hash[0] ^= 1,
            _ => {
                t.contributions[0].delta_after = other.0.delta_g1;
                k.delta_g1 = other.0.delta_g1;
                k.vk.delta_g2 = other.0.vk.delta_g2;
            }
        }
        let file = format!("bad-{name}.zkey");
        std::fs::write(d.join(&file), ceremony::write(&k, &t, &r1cs).unwrap()).unwrap();
        assert!(t.verify(&k, &r1cs, &ptau).is_err(), "we accepted {name}");
        tampered.push((name, file));
    }
    // snarkjs checks them side by side (a node process each).
    std::thread::scope(|s| {
        let checks: Vec<_> = tampered
            .iter()
            .map(|(name, file)| (name, s.spawn(|| snarkjs_accepts(d, file))))
            .collect();
        for (name, check) in checks {
            assert!(!check.join().unwrap(), "snarkjs accepted {name}");
        }
    });

    // A contribution made by snarkjs after ours: we check the chain and
    // the key, and it proves.
    snark(
        d,
        &[
            "zkey",
            "contribute",
            "z1.zkey",
            "z2.zkey",
            "--name=auditor",
            "-e=more entropy",
        ],
    );
    assert!(snarkjs_accepts(d, "z2.zkey"));
    let (key, transcript) = ceremony::read(&std::fs::read(d.join("z2.zkey")).unwrap()).unwrap();
    transcript.verify(&key, &r1cs, &ptau).unwrap();
    assert_eq!(transcript.contributors(), ["researcher", "auditor"]);
    assert_eq!(transcript.contributions[0], t1.contributions[0]);
    assert_ne!(key.delta_g1, k1.delta_g1);
    ceremony::check_key(&key, &r1cs, &ptau, &mut rand::thread_rng()).unwrap();
    let secret = Secret::random(&mut rand::thread_rng());
    let eval = evaluate(&spec, &data.values).unwrap();
    let cuts = data.cuts(&secret, spec.shard_rows);
    let statement = Statement {
        commitment: zkgate_circuits::commitment::finish(cuts.last().unwrap().h, data.rows() as u64),
        rows: data.rows() as u64,
        nonce: nonce_from(b"snarkjs"),
        circuit_id: spec.id(),
        offset: 0,
        active: data.rows() as u64,
        link_in: Default::default(),
        link_out: Default::default(),
        suppress_below: spec.threshold_input(true),
        aggregates: eval.aggregates.clone(),
    };
    let witness = Witness {
        row_base: 0,
        columns: &data.values,
        secret: &secret,
        statement: &statement,
        links: Links::default(),
    };
    let circuit = JobCircuit {
        spec: &spec,
        witness: Some(witness),
        counts: None,
        tape: Default::default(),
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
