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
    let mut rng2 = rand_chacha::ChaCha20Rng::seed_from_u64(9);
    let other_file = Ptau::from_bytes(ptau::write_random(7, &mut rng2)).unwrap();
    let e = t.verify(&k, &r1cs, &other_file).unwrap_err().to_string();
    assert!(
        e.contains("another circuit or another powers-of-tau"),
        "{e}"
    );

    // Keys: the prover's well-formedness check refuses each of these.
    let initial = initial_key(&r1cs, &ptau).unwrap();
    check_key(&k, &initial).unwrap();
    let g1 = G1Affine::generator();
    let mut subverted = k.clone();
    subverted.a_query[2] = (subverted.a_query[2] + g1).into_affine();
    assert!(check_key(&subverted, &initial).is_err(), "A query");
    let mut subverted = k.clone();
    subverted.l_query[1] = (subverted.l_query[1] + g1).into_affine();
    assert!(check_key(&subverted, &initial).is_err(), "L query");
    let mut subverted = k.clone();
    subverted.h_query[0] = (subverted.h_query[0] + g1).into_affine();
    assert!(check_key(&subverted, &initial).is_err(), "H query");
    let mut subverted = k.clone();
    subverted.delta_g1 = (subverted.delta_g1 + g1).into_affine();
    assert!(check_key(&subverted, &initial).is_err(), "delta in G1 only");
    let mut subverted = k.clone();
    subverted.vk.gamma_abc_g1[0] = (subverted.vk.gamma_abc_g1[0] + g1).into_affine();
    assert!(check_key(&subverted, &initial).is_err(), "IC");
    let mut zero = k.clone();
    zero.delta_g1 = G1Affine::zero();
    zero.vk.delta_g2 = G2Affine::zero();
    zero.h_query.iter_mut().for_each(|p| *p = G1Affine::zero());
    zero.l_query.iter_mut().for_each(|p| *p = G1Affine::zero());
    assert!(check_key(&zero, &initial).is_err(), "delta zero");
    // A key for another circuit.
    let other = R1cs::of(blank(25)).unwrap();
    assert_ne!(other.sha256(), r1cs.sha256());
    assert!(check_key(&k, &initial_key(&other, &ptau).unwrap()).is_err());
    assert!(t.verify(&k, &other, &ptau).is_err());
    // Contributors name themselves.
    assert!(contribute(&mut k.clone(), &mut t.clone(), "", &mut rng).is_err());
}
