//! Groth16 over BN254, the verifier's side: keys and proofs with their
//! compressed encodings, and the pairing check. The types are laid out
//! field for field as ark-groth16's, so the bytes are the same; the prover
//! (in `zkgate-zkml`) converts its keys and proofs into these.

use crate::error::Error;
use crate::inputs::Statement;
use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::Zero;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use sha2::{Digest, Sha256};

/// A Groth16 verifying key.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct VerifyingKey {
    /// `alpha` in G1.
    pub alpha_g1: G1Affine,
    /// `beta` in G2.
    pub beta_g2: G2Affine,
    /// `gamma` in G2.
    pub gamma_g2: G2Affine,
    /// `delta` in G2.
    pub delta_g2: G2Affine,
    /// The public inputs' bases, `1` first.
    pub gamma_abc_g1: Vec<G1Affine>,
}

/// A Groth16 proof.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Proof {
    /// `A` in G1.
    pub a: G1Affine,
    /// `B` in G2.
    pub b: G2Affine,
    /// `C` in G1.
    pub c: G1Affine,
}

impl VerifyingKey {
    /// Number of public inputs the key checks.
    pub fn inputs(&self) -> usize {
        self.gamma_abc_g1.len().saturating_sub(1)
    }
}

/// Whether `proof` verifies for `inputs`: `e(A, B) = e(alpha, beta) *
/// e(sum x_i gamma_abc_i, gamma) * e(C, delta)`. Refuses (an error) a key
/// with another number of inputs.
pub fn verify_inputs(vk: &VerifyingKey, inputs: &[Fr], proof: &Proof) -> crate::Result<bool> {
    if inputs.len() != vk.inputs() {
        return Err(Error::Serialization(format!(
            "the verifying key takes {} public inputs, {} were given",
            vk.inputs(),
            inputs.len()
        )));
    }
    let acc = G1Projective::msm(&vk.gamma_abc_g1[1..], inputs)
        .map_err(|_| Error::Serialization("public inputs".into()))?
        + vk.gamma_abc_g1[0].into_group();
    let check = Bn254::multi_pairing(
        [proof.a, (-acc).into_affine(), -proof.c, -vk.alpha_g1],
        [proof.b, vk.gamma_g2, vk.delta_g2, vk.beta_g2],
    );
    Ok(check.is_zero())
}

/// Whether `proof` verifies for `statement`.
pub fn verify(vk: &VerifyingKey, statement: &Statement, proof: &Proof) -> crate::Result<bool> {
    verify_inputs(vk, &statement.public_inputs(), proof)
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
pub fn from_bytes<T: CanonicalDeserialize>(bytes: &[u8]) -> crate::Result<T> {
    T::deserialize_compressed(bytes).map_err(Error::from)
}

/// A job's verifying keys (one circuit proves every shard, so one key) as
/// one byte string: what `vk.bin` holds.
pub fn keys_to_bytes(vks: &[VerifyingKey]) -> Vec<u8> {
    to_bytes(&vks.to_vec())
}

/// Reads [`keys_to_bytes`]'s output.
pub fn keys_from_bytes(bytes: &[u8]) -> crate::Result<Vec<VerifyingKey>> {
    from_bytes(bytes)
}

/// SHA-256 of a verifying key's compressed bytes, hex.
pub fn vk_sha256(vk: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(to_bytes(vk)))
}
