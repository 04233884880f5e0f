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

/// Generates the circuit's keys. Whoever runs this knows the trapdoor: a
/// receipt records who did (see the trust model in ARCHITECTURE.md).
pub fn setup<R: RngCore + CryptoRng>(
    spec: &CircuitSpec,
    rng: &mut R,
) -> Result<(ProvingKey, VerifyingKey)> {
    let circuit = JobCircuit {
        spec,
        witness: None,
        counts: None,
    };
    Groth16::<Bn254>::circuit_specific_setup(circuit, rng)
        .map_err(|e| Error::Proof(format!("setup: {e}")))
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

/// SHA-256 of a verifying key's compressed bytes, hex.
pub fn vk_sha256(vk: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(to_bytes(vk)))
}
