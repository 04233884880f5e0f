//! Groth16 over BN254, the prover's side: key generation and proving with
//! ark-groth16. Verifying keys and proofs leave this module as
//! `zkgate_statement::groth16`'s types (the same bytes), which verify them.

use crate::circuit::{JobCircuit, Tape, Witness};
use crate::compiled::{self, Compiled};
use crate::error::{Error, Result};
use crate::spec::CircuitSpec;
use ark_bn254::Bn254;
use ark_ff::UniformRand;
use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP};
use ark_groth16::Groth16;
use ark_snark::SNARK;
use rand::{CryptoRng, RngCore};
use zkgate_circuits::Fr;
use zkgate_statement::groth16::{Proof, VerifyingKey};

/// A proving key.
pub type ProvingKey = ark_groth16::ProvingKey<Bn254>;

/// The verifying key inside a proving key.
pub fn verifying_key(pk: &ProvingKey) -> VerifyingKey {
    let vk = &pk.vk;
    VerifyingKey {
        alpha_g1: vk.alpha_g1,
        beta_g2: vk.beta_g2,
        gamma_g2: vk.gamma_g2,
        delta_g2: vk.delta_g2,
        gamma_abc_g1: vk.gamma_abc_g1.clone(),
    }
}

/// Generates the circuit's keys (ark-groth16's keys, computed faster: see
/// [`crate::setup`]). Whoever runs this knows the trapdoor: a receipt
/// records who did (see the trust model in ARCHITECTURE.md). The circuit's
/// compiled form, made on the way, is kept for its proofs.
pub fn setup<R: RngCore + CryptoRng>(
    spec: &CircuitSpec,
    rng: &mut R,
) -> Result<(ProvingKey, VerifyingKey)> {
    let tape = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let circuit = JobCircuit {
        spec,
        witness: None,
        counts: None,
        tape: Tape::Record(tape.clone()),
    };
    let (pk, cs) = crate::setup::generate_with_system(circuit, rng)
        .map_err(|e| Error::Proof(format!("setup: {e}")))?;
    let compiled = Compiled::from_system(&cs, tape.take())?;
    drop(cs);
    compiled::keep(spec.key_id(), std::sync::Arc::new(compiled));
    let vk = verifying_key(&pk);
    Ok((pk, vk))
}

/// Proves the statement in `witness` with a key from [`setup`].
pub fn prove<R: RngCore + CryptoRng>(
    spec: &CircuitSpec,
    pk: &ProvingKey,
    witness: Witness<'_>,
    rng: &mut R,
) -> Result<Proof> {
    prove_with::<LibsnarkReduction, R>(spec, pk, witness, rng)
}

/// Proves with a key made for the reduction `Q` (ceremony keys:
/// [`crate::ceremony::OddCosetReduction`]), from the circuit's compiled
/// form (see [`crate::compiled`]): the proof ark-groth16's
/// `Groth16::<Bn254, Q>::prove` makes with the same `rng`, bit for bit.
pub fn prove_with<Q: Quotient, R: RngCore + CryptoRng>(
    spec: &CircuitSpec,
    pk: &ProvingKey,
    witness: Witness<'_>,
    rng: &mut R,
) -> Result<Proof> {
    // ark-groth16 draws r, then s.
    let r = Fr::rand(rng);
    let s = Fr::rand(rng);
    let compiled = compiled::get(spec)?;
    let z = compiled::witness::assign(spec, &compiled, witness)?;
    let h = Q::quotient(&compiled, &z)?;
    Ok(from_ark(compiled::msm::assemble(pk, &z, &h, r, s)))
}

/// ark-groth16's own prover, `Groth16::<Bn254, Q>::prove`, on the same
/// circuit: what [`prove_with`] is checked and measured against.
pub fn ark_prove_with<Q: R1CSToQAP, R: RngCore + CryptoRng>(
    spec: &CircuitSpec,
    pk: &ProvingKey,
    witness: Witness<'_>,
    rng: &mut R,
) -> Result<Proof> {
    let circuit = JobCircuit {
        spec,
        witness: Some(witness),
        counts: None,
        tape: Default::default(),
    };
    let p = Groth16::<Bn254, Q>::prove(pk, circuit, rng)
        .map_err(|e| Error::Proof(format!("prove: {e}")))?;
    Ok(from_ark(p))
}

/// ark-groth16's proof as the statement crate's (the same points).
fn from_ark(p: ark_groth16::Proof<Bn254>) -> Proof {
    Proof {
        a: p.a,
        b: p.b,
        c: p.c,
    }
}

/// A reduction the compiled prover implements (see [`compiled::qap`]).
pub trait Quotient: R1CSToQAP {
    /// `h` as the reduction's `witness_map` gives it.
    fn quotient(c: &Compiled, z: &[Fr]) -> Result<Vec<Fr>>;
}

impl Quotient for LibsnarkReduction {
    fn quotient(c: &Compiled, z: &[Fr]) -> Result<Vec<Fr>> {
        compiled::qap::owner(c, z)
    }
}

impl Quotient for crate::ceremony::OddCosetReduction {
    fn quotient(c: &Compiled, z: &[Fr]) -> Result<Vec<Fr>> {
        compiled::qap::odd_coset(c, z)
    }
}

/// Checks that the witness satisfies the circuit, naming the first broken
/// constraint otherwise (debugging and tests; proving does not need it).
pub fn check_satisfied(spec: &CircuitSpec, witness: Witness<'_>) -> Result<()> {
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
    let cs = ConstraintSystem::new_ref();
    JobCircuit {
        spec,
        witness: Some(witness),
        counts: None,
        tape: Default::default(),
    }
    .generate_constraints(cs.clone())?;
    match cs.which_is_unsatisfied()? {
        None => Ok(()),
        Some(c) => Err(Error::Proof(format!(
            "witness does not satisfy constraint {c}"
        ))),
    }
}

/// Where ark-groth16's proof's time goes (see [`ark_profile`]).
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct ArkProfile {
    /// Building the constraint system with its witness (and matrices).
    pub synthesis_s: f64,
    /// The quotient polynomial `h` (FFTs).
    pub qap_s: f64,
    /// The five multi-scalar multiplications, on the witness's own scalars:
    /// the floor no R1CS-level change to the prover can go below.
    pub msm_s: f64,
}

/// Runs ark-groth16's prover's stages one by one, as `Groth16::prove`
/// does, timing each (the proof itself is not assembled).
pub fn ark_profile(
    spec: &CircuitSpec,
    pk: &ProvingKey,
    witness: Witness<'_>,
) -> Result<ArkProfile> {
    use ark_bn254::{G1Projective, G2Projective};
    use ark_ec::VariableBaseMSM;
    use ark_ff::PrimeField;
    use ark_groth16::r1cs_to_qap::R1CSToQAP;
    use ark_poly::GeneralEvaluationDomain;
    use ark_relations::gr1cs::{
        ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode,
    };
    use std::hint::black_box;
    use std::time::Instant;
    use zkgate_circuits::Fr;

    let t = Instant::now();
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: true,
        generate_lc_assignments: false,
    });
    JobCircuit {
        spec,
        witness: Some(witness),
        counts: None,
        tape: Default::default(),
    }
    .generate_constraints(cs.clone())?;
    cs.finalize();
    let synthesis_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let h = LibsnarkReduction::witness_map::<Fr, GeneralEvaluationDomain<Fr>>(cs.clone())?;
    let qap_s = t.elapsed().as_secs_f64();

    let prover = cs.borrow().expect("the constraint system is not shared");
    let big = |v: &[Fr]| v.iter().map(|x| x.into_bigint()).collect::<Vec<_>>();
    let t = Instant::now();
    let _ = black_box(G1Projective::msm_bigint(&pk.h_query, &big(&h)));
    let aux = big(prover.witness_assignment()?);
    let _ = black_box(G1Projective::msm_bigint(&pk.l_query, &aux));
    let mut assignment = big(&prover.instance_assignment()?[1..]);
    assignment.extend_from_slice(&aux);
    let _ = black_box(G1Projective::msm_bigint(&pk.a_query[1..], &assignment));
    let _ = black_box(G1Projective::msm_bigint(&pk.b_g1_query[1..], &assignment));
    let _ = black_box(G2Projective::msm_bigint(&pk.b_g2_query[1..], &assignment));
    let msm_s = t.elapsed().as_secs_f64();
    Ok(ArkProfile {
        synthesis_s,
        qap_s,
        msm_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
    use rand::SeedableRng;
    use zkgate_circuits::Fr;
    use zkgate_statement::groth16::{from_bytes, to_bytes, verify_inputs};

    /// `x * x = y` with `y` public.
    struct Square(u64);
    impl ConstraintSynthesizer<Fr> for Square {
        fn generate_constraints(
            self,
            cs: ConstraintSystemRef<Fr>,
        ) -> std::result::Result<(), SynthesisError> {
            let x = cs.new_witness_variable(|| Ok(Fr::from(self.0)))?;
            let y = cs.new_input_variable(|| Ok(Fr::from(self.0 * self.0)))?;
            cs.enforce_r1cs_constraint(|| x.into(), || x.into(), || y.into())
        }
    }

    #[test]
    fn the_statement_verifier_agrees_with_ark_groth16() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let (pk, ark_vk) = Groth16::<Bn254>::circuit_specific_setup(Square(3), &mut rng).unwrap();
        let ark_proof = Groth16::<Bn254>::prove(&pk, Square(3), &mut rng).unwrap();
        let vk = verifying_key(&pk);
        // The same bytes both ways.
        assert_eq!(to_bytes(&vk), to_bytes(&ark_vk));
        let proof: Proof = from_bytes(&to_bytes(&ark_proof)).unwrap();
        for (y, valid) in [(9u64, true), (10, false), (0, false)] {
            let ours = verify_inputs(&vk, &[Fr::from(y)], &proof).unwrap();
            let ark = Groth16::<Bn254>::verify(&ark_vk, &[Fr::from(y)], &ark_proof).unwrap();
            assert_eq!((ours, ark), (valid, valid), "y = {y}");
        }
        // Another proof's parts, and another key, fail.
        let other = Groth16::<Bn254>::prove(&pk, Square(4), &mut rng).unwrap();
        let mixed = Proof {
            a: proof.a,
            b: proof.b,
            c: other.c,
        };
        assert!(!verify_inputs(&vk, &[Fr::from(9u64)], &mixed).unwrap());
        let (pk2, _) = Groth16::<Bn254>::circuit_specific_setup(Square(3), &mut rng).unwrap();
        assert!(!verify_inputs(&verifying_key(&pk2), &[Fr::from(9u64)], &proof).unwrap());
        // A wrong number of inputs is an error, not a verdict.
        assert!(verify_inputs(&vk, &[], &proof).is_err());
    }
}
