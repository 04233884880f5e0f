//! The ceremony on a small circuit over a local powers-of-tau file: keys
//! from the file prove and verify, contributions chain, and every kind of
//! tampering with the key or the transcript is refused.

use super::*;
use ark_groth16::Groth16;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable,
};
use ark_snark::SNARK;
use rand::SeedableRng;

/// Knows `x` with `x^3 + x + 5 = y`, `y` public, and a few more constraints
/// so the domain has several points.
#[derive(Clone)]
struct Cubic {
    x: Option<Fr>,
    y: Fr,
    rounds: usize,
}

impl ConstraintSynthesizer<Fr> for Cubic {
    fn generate_constraints(
        self,
        cs: ConstraintSystemRef<Fr>,
    ) -> std::result::Result<(), SynthesisError> {
        let lc = |v: Variable| LinearCombination::from(v);
        let y = cs.new_input_variable(|| Ok(self.y))?;
        let x_val = self.x;
        let x = cs.new_witness_variable(|| x_val.ok_or(SynthesisError::AssignmentMissing))?;
        let sq = x_val.map(|x| x * x);
        let x2 = cs.new_witness_variable(|| sq.ok_or(SynthesisError::AssignmentMissing))?;
        cs.enforce_r1cs_constraint(|| lc(x), || lc(x), || lc(x2))?;
        // x2 * x = y - x - 5
        cs.enforce_r1cs_constraint(
            || lc(x2),
            || lc(x),
            || lc(y) - lc(x) - (Fr::from(5u64), Variable::One),
        )?;
        let mut acc = (x, x_val);
        for _ in 0..self.rounds {
            let next = acc.1.zip(x_val).map(|(a, b)| a * b);
            let v = cs.new_witness_variable(|| next.ok_or(SynthesisError::AssignmentMissing))?;
            cs.enforce_r1cs_constraint(|| lc(acc.0), || lc(x), || lc(v))?;
            acc = (v, next);
        }
        Ok(())
    }
}

fn cubic(x: u64) -> Cubic {
    let x = Fr::from(x);
    Cubic {
        x: Some(x),
        y: x * x * x + x + Fr::from(5u64),
        rounds: 20,
    }
}

fn blank(rounds: usize) -> Cubic {
    Cubic {
        x: None,
        y: Fr::from(0u64),
        rounds,
    }
}

fn setup() -> (Ptau, R1cs, Key) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let bytes = ptau::write_insecure(
        7,
        Fr::rand(&mut rng),
        Fr::rand(&mut rng),
        Fr::rand(&mut rng),
    );
    let ptau = Ptau::from_bytes(bytes).unwrap();
    let r1cs = R1cs::of(blank(20)).unwrap();
    let key = initial_key(&r1cs, &ptau).unwrap();
    (ptau, r1cs, key)
}

fn proves(key: &Key, x: u64) -> bool {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(x);
    let c = cubic(x);
    let y = c.y;
    let proof = Groth16::<Bn254, OddCosetReduction>::prove(key, c, &mut rng).unwrap();
    let pvk = ark_groth16::prepare_verifying_key(&key.vk);
    let ok =
        Groth16::<Bn254, OddCosetReduction>::verify_with_processed_vk(&pvk, &[y], &proof).unwrap();
    let wrong = Groth16::<Bn254, OddCosetReduction>::verify_with_processed_vk(
        &pvk,
        &[y + Fr::from(1u64)],
        &proof,
    )
    .unwrap();
    ok && !wrong
}

#[test]
fn the_reduction_proves_with_a_freshly_generated_key() {
    // The reduction on its own, with ark-groth16's generator.
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
    let (pk, _) =
        Groth16::<Bn254, OddCosetReduction>::circuit_specific_setup(blank(20), &mut rng).unwrap();
    assert!(proves(&pk, 3));
}

#[test]
fn keys_from_the_file_prove_and_contributions_chain() {
    let (ptau, r1cs, key) = setup();
    assert!(r1cs.constraints() > 16, "several domain points");
    // The delta-1 key is a key (an insecure one).
    assert!(proves(&key, 4));
    let mut t = Transcript::new(&key, &ptau).unwrap();
    t.verify(&key, &r1cs, &ptau).unwrap();
    let mut k = key.clone();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
    contribute(&mut k, &mut t, "researcher", &mut rng).unwrap();
    contribute(&mut k, &mut t, "auditor", &mut rng).unwrap();
    assert_ne!(k.delta_g1, key.delta_g1);
    assert!(proves(&k, 5));
    t.verify(&k, &r1cs, &ptau).unwrap();
    assert_eq!(t.contributors(), ["researcher", "auditor"]);
    assert!(setup_line(&t, &ptau).contains("by researcher, auditor"));
    // The .zkey round-trips with its group checks; the transcript's JSON
    // too.
    let zkey = write(&k, &t, &r1cs).unwrap();
    assert_eq!(read(&zkey).unwrap(), (k.clone(), t.clone()));
    assert!(read(&zkey[..zkey.len() - 10]).is_err());
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(serde_json::from_str::<Transcript>(&json).unwrap(), t);
}

#[test]
fn tampered_transcripts_and_keys_are_refused() {
    let (ptau, r1cs, key) = setup();
    let mut t = Transcript::new(&key, &ptau).unwrap();
    let mut k = key.clone();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
    contribute(&mut k, &mut t, "researcher", &mut rng).unwrap();
    let refused = |k: &Key, t: &Transcript, want: &str| {
        let e = t.verify(k, &r1cs, &ptau).unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
    };
    // A name is a label (as in snarkjs): renamed, the contribution still
    // holds, but the transcript receipts name is another.
    let mut renamed = t.clone();
    renamed.contributions[0].name = "mallory".into();
    renamed.verify(&k, &r1cs, &ptau).unwrap();
    assert_ne!(renamed.sha256(), t.sha256());
    // A transcript hash that is not the hash of what came before.
    let mut rehashed = t.clone();
    rehashed.contributions[0].transcript[0] ^= 1;
    refused(&k, &rehashed, "transcript hash");
    let mut moved = t.clone();
    moved.contributions[0].g1_sx =
        (moved.contributions[0].g1_sx + G1Affine::generator()).into_affine();
    refused(&k, &moved, "transcript hash");
    // A contribution dropped: the key's delta is not the transcript's.
    let mut dropped = t.clone();
    dropped.contributions.clear();
    refused(&k, &dropped, "last");
    // A proof of knowledge for another factor than the one applied.
    let mut other = t.clone();
    let mut k2 = key.clone();
    let mut t2 = Transcript::new(&key, &ptau).unwrap();
    contribute(&mut k2, &mut t2, "researcher", &mut rng).unwrap();
    other.contributions[0].g2_spx = t2.contributions[0].g2_spx;
    refused(&k, &other, "proof of knowledge");
    // A delta that is not the factor proved.
    let mut shifted = t.clone();
    shifted.contributions[0].delta_after = k2.delta_g1;
    refused(&k, &shifted, "delta did not change");
    // Another circuit, another file.
    let mut elsewhere = t.clone();
    elsewhere.cs_hash[0] ^= 1;
    refused(&k, &elsewhere, "another circuit or another powers-of-tau");
    let refused_t = |k: &Key, t: &Transcript| {
        let e = t.verify(k, &r1cs, &ptau).unwrap_err().to_string();
        assert!(
            e.contains("another circuit or another powers-of-tau"),
            "{e}"
        );
    };
    let mut rng2 = rand_chacha::ChaCha20Rng::seed_from_u64(9);
    let other_file = Ptau::from_bytes(ptau::write_random(7, &mut rng2)).unwrap();
    // (the key is checked first: its alpha and beta are another file's)
    let e = t.verify(&k, &r1cs, &other_file).unwrap_err().to_string();
    assert!(e.contains("not this powers-of-tau file's"), "{e}");

    // Keys: the prover's well-formedness check refuses each of these,
    // whatever family is changed, and names the family.
    let check = |k: &Key| check_key(k, &r1cs, &ptau, &mut rand::rngs::OsRng);
    check(&k).unwrap();
    let g1 = G1Affine::generator();
    let g2 = G2Affine::generator();
    let refused = |k: &Key, want: &str| {
        let e = check(k).unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
    };
    let mut subverted = k.clone();
    subverted.a_query[2] = (subverted.a_query[2] + g1).into_affine();
    refused(&subverted, "A, B, L or H query");
    let mut subverted = k.clone();
    subverted.b_g1_query[3] = (subverted.b_g1_query[3] + g1).into_affine();
    refused(&subverted, "A, B, L or H query");
    let mut subverted = k.clone();
    subverted.b_g2_query[3] = (subverted.b_g2_query[3] + g2).into_affine();
    refused(&subverted, "B query in G2");
    let mut subverted = k.clone();
    subverted.l_query[1] = (subverted.l_query[1] + g1).into_affine();
    refused(&subverted, "A, B, L or H query");
    let mut subverted = k.clone();
    let last = subverted.h_query.len() - 1;
    subverted.h_query[last] = (subverted.h_query[last] + g1).into_affine();
    refused(&subverted, "A, B, L or H query");
    // Two errors that cancel in a plain sum do not cancel in a weighted
    // one.
    let mut subverted = k.clone();
    subverted.l_query[1] = (subverted.l_query[1] + g1).into_affine();
    subverted.l_query[2] = (subverted.l_query[2] - g1).into_affine();
    refused(&subverted, "A, B, L or H query");
    // A and B swapped for one variable.
    let mut subverted = k.clone();
    let i = (0..subverted.a_query.len())
        .find(|i| subverted.a_query[*i] != subverted.b_g1_query[*i])
        .unwrap();
    std::mem::swap(&mut subverted.a_query[i], &mut subverted.b_g1_query[i]);
    refused(&subverted, "A, B, L or H query");
    let mut subverted = k.clone();
    subverted.delta_g1 = (subverted.delta_g1 + g1).into_affine();
    refused(&subverted, "delta differs");
    // delta changed in both groups, the queries not divided by it.
    let mut subverted = k.clone();
    subverted.delta_g1 = (subverted.delta_g1 * Fr::from(2u64)).into_affine();
    subverted.vk.delta_g2 = (subverted.vk.delta_g2 * Fr::from(2u64)).into_affine();
    refused(&subverted, "A, B, L or H query");
    let mut subverted = k.clone();
    subverted.vk.gamma_abc_g1[0] = (subverted.vk.gamma_abc_g1[0] + g1).into_affine();
    refused(&subverted, "input points");
    let mut subverted = k.clone();
    subverted.vk.alpha_g1 = (subverted.vk.alpha_g1 + g1).into_affine();
    refused(&subverted, "alpha, beta or gamma");
    let mut subverted = k.clone();
    subverted.l_query.pop();
    refused(&subverted, "sizes");
    let mut zero = k.clone();
    zero.delta_g1 = G1Affine::zero();
    zero.vk.delta_g2 = G2Affine::zero();
    zero.h_query.iter_mut().for_each(|p| *p = G1Affine::zero());
    zero.l_query.iter_mut().for_each(|p| *p = G1Affine::zero());
    refused(&zero, "delta is zero");
    // The batched check and the exact one agree on the delta-1 key.
    let initial = initial_key(&r1cs, &ptau).unwrap();
    check(&initial).unwrap();
    // A key for another circuit.
    let other = R1cs::of(blank(25)).unwrap();
    assert_ne!(other.sha256(), r1cs.sha256());
    assert!(check_key(&k, &other, &ptau, &mut rand::rngs::OsRng).is_err());
    assert!(t.verify(&k, &other, &ptau).is_err());
    // The transcript of a key after contributions names the circuit whose
    // hash is computed afresh (not only from the cache).
    forget_circuit_hashes();
    t.verify(&k, &r1cs, &ptau).unwrap();
    forget_circuit_hashes();
    refused_t(&k, &elsewhere);
    // Contributors name themselves.
    assert!(contribute(&mut k.clone(), &mut t.clone(), "", &mut rng).is_err());
}

/// A point of BN254's G2 curve outside the group of order r (the curve's
/// cofactor has small factors).
fn off_the_group() -> G2Affine {
    use ark_ec::short_weierstrass::SWCurveConfig;
    use ark_ff::Field;
    (1u64..)
        .find_map(|i| {
            let x = ark_bn254::Fq2::from(i);
            let y = (x * x * x + ark_bn254::g2::Config::COEFF_B).sqrt()?;
            let p = G2Affine::new_unchecked(x, y);
            (p.is_on_curve() && !p.is_in_correct_subgroup_assuming_on_curve()).then_some(p)
        })
        .unwrap()
}

#[test]
fn g2_points_outside_the_group_are_refused_when_a_key_is_read() {
    // A random linear combination could let a small-order component
    // through, so every G2 point of a key is checked on its own when the
    // `.zkey` is read.
    let (ptau, r1cs, key) = setup();
    let t = Transcript::new(&key, &ptau).unwrap();
    let bad = off_the_group();
    let mut b2 = key.clone();
    b2.b_g2_query[1] = bad;
    let mut delta = key.clone();
    delta.vk.delta_g2 = bad;
    // The same point plus a point of the group: still outside it.
    let mut mixed = key.clone();
    mixed.b_g2_query[2] = (mixed.b_g2_query[2] + bad).into_affine();
    for (name, k) in [("B2", b2), ("delta", delta), ("B2 + small order", mixed)] {
        let e = read(&write(&k, &t, &r1cs).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not in the group"), "{name}: {e}");
    }
    read(&write(&key, &t, &r1cs).unwrap()).unwrap();
}

#[test]
fn a_file_too_small_names_the_power_the_key_needs() {
    let (ptau, r1cs, _) = setup();
    let bigger = R1cs::of(blank(200)).unwrap();
    let need = (2 * bigger.domain()).trailing_zeros();
    assert!(need > ptau.power);
    let e = initial_key(&bigger, &ptau).unwrap_err().to_string();
    assert!(
        e.contains(&format!("power {need} or more; this one is 7")),
        "{e}"
    );
    let _ = r1cs;
}
