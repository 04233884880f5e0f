//! Groth16 over BN254: key generation, proving, verification, and the
//! compressed encodings of keys and proofs.

use crate::circuit::{JobCircuit, Witness};
use crate::error::{Error, Result};
use crate::statement::{CircuitSpec, Statement};
use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_snark::SNARK;
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

/// A proving key.
pub type ProvingKey = ark_groth16::ProvingKey<Bn254>;
/// A verifying key.
pub type VerifyingKey = ark_groth16::VerifyingKey<Bn254>;
/// A proof.
pub type Proof = ark_groth16::Proof<Bn254>;

/// Generates the circuit's keys (ark-groth16's keys, computed faster: see
/// [`crate::setup`]). Whoever runs this knows the trapdoor: a receipt
/// records who did (see the trust model in ARCHITECTURE.md).
pub fn setup<R: RngCore + CryptoRng>(
    spec: &CircuitSpec,
    rng: &mut R,
) -> Result<(ProvingKey, VerifyingKey)> {
    let circuit = JobCircuit {
        spec,
        witness: None,
        counts: None,
    };
    let pk =
        crate::setup::generate(circuit, rng).map_err(|e| Error::Proof(format!("setup: {e}")))?;
    let vk = pk.vk.clone();
    Ok((pk, vk))
}

/// Proves the statement in `witness`.
pub fn prove<R: RngCore + CryptoRng>(
    spec: &CircuitSpec,
    pk: &ProvingKey,
    witness: Witness<'_>,
    rng: &mut R,
) -> Result<Proof> {
    let circuit = JobCircuit {
        spec,
        witness: Some(witness),
        counts: None,
    };
    Groth16::<Bn254>::prove(pk, circuit, rng).map_err(|e| Error::Proof(format!("prove: {e}")))
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
    }
    .generate_constraints(cs.clone())?;
    match cs.which_is_unsatisfied()? {
        None => Ok(()),
        Some(c) => Err(Error::Proof(format!(
            "witness does not satisfy constraint {c}"
        ))),
    }
}

/// Where a proof's time goes (see [`profile`]).
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct ProveProfile {
    /// Building the constraint system with its witness (and matrices).
    pub synthesis_s: f64,
    /// The quotient polynomial `h` (FFTs).
    pub qap_s: f64,
    /// The five multi-scalar multiplications, on the witness's own scalars:
    /// the floor no R1CS-level change to the prover can go below.
    pub msm_s: f64,
}

/// Runs the prover's stages one by one, as `Groth16::prove` does, timing
/// each (the proof itself is not assembled).
pub fn profile(spec: &CircuitSpec, pk: &ProvingKey, witness: Witness<'_>) -> Result<ProveProfile> {
    use ark_bn254::{G1Projective, G2Projective};
    use ark_ec::VariableBaseMSM;
    use ark_ff::PrimeField;
    use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP};
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
    Ok(ProveProfile {
        synthesis_s,
        qap_s,
        msm_s,
    })
}

/// Verifies a proof of `statement`.
pub fn verify(vk: &VerifyingKey, statement: &Statement, proof: &Proof) -> Result<bool> {
    Groth16::<Bn254>::verify(vk, &statement.public_inputs(), proof)
        .map_err(|e| Error::Proof(format!("verify: {e}")))
}

/// Compressed bytes of a key or proof.
pub fn to_bytes<T: CanonicalSerialize>(t: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(t.compressed_size());
    t.serialize_compressed(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

/// Reads compressed bytes, checking every point is on the curve and in the
/// right subgroup.
pub fn from_bytes<T: CanonicalDeserialize>(bytes: &[u8]) -> Result<T> {
    T::deserialize_compressed(bytes).map_err(Error::from)
}

/// A job's verifying keys (one per shard size: a sharded job whose last
/// shard is shorter has two) as one byte string: what `vk.bin` holds.
pub fn keys_to_bytes(vks: &[VerifyingKey]) -> Vec<u8> {
    to_bytes(&vks.to_vec())
}

/// Reads [`keys_to_bytes`]'s output.
pub fn keys_from_bytes(bytes: &[u8]) -> Result<Vec<VerifyingKey>> {
    from_bytes(bytes)
}

/// SHA-256 of a verifying key's compressed bytes, hex.
pub fn vk_sha256(vk: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(to_bytes(vk)))
}
