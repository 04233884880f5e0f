//! Groth16 keys, proofs and public inputs encoded for the EVM.
//!
//! Words are 32-byte big-endian integers. A G1 point is `x || y` (64 bytes),
//! the identity being `(0, 0)`. A G2 point is `x.c1 || x.c0 || y.c1 || y.c0`
//! (128 bytes): EIP-197 writes an `Fq2` element `a + b*i` as `b` then `a`,
//! the imaginary part first, which is the opposite of arkworks' `(c0, c1)`.
//! Scalars (public inputs) are field elements below the BN254 group order.
//!
//! The verifier a contract runs with these encodings, the same equation as
//! ark-groth16's: `vk_x = IC_0 + sum_i x_i * IC_(i+1)` (one ecMul and one
//! ecAdd per public input), then one pairing check of four pairs,
//! `e(-A, B) * e(alpha, beta) * e(vk_x, gamma) * e(C, delta) == 1`.

use alloy_primitives::U256;
use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField};
use zkgate_statement::groth16::{Proof, VerifyingKey};
use zkgate_statement::Statement;

/// Bytes of a G1 point.
pub const G1_LEN: usize = 64;
/// Bytes of a G2 point.
pub const G2_LEN: usize = 128;

/// Gas of one ecAdd (EIP-1108).
pub const EC_ADD_GAS: u64 = 150;
/// Gas of one ecMul (EIP-1108).
pub const EC_MUL_GAS: u64 = 6_000;
/// Gas of a pairing check: base (EIP-1108).
pub const PAIRING_BASE_GAS: u64 = 45_000;
/// Gas of a pairing check: per pair (EIP-1108).
pub const PAIRING_PAIR_GAS: u64 = 34_000;

/// A 32-byte big-endian word of a prime field element.
pub fn word<F: PrimeField>(x: &F) -> [u8; 32] {
    let bytes = x.into_bigint().to_bytes_be();
    let mut out = [0u8; 32];
    out[32 - bytes.len()..].copy_from_slice(&bytes);
    out
}

/// A field element as the EVM's word.
pub fn fr_to_u256(x: &Fr) -> U256 {
    U256::from_be_bytes(word(x))
}

/// A word as a field element, refusing words at or above the scalar
/// field's modulus (the contract refuses them too).
pub fn u256_to_fr(x: U256) -> Option<Fr> {
    let bytes = x.to_be_bytes::<32>();
    let f = Fr::from_be_bytes_mod_order(&bytes);
    (word(&f) == bytes).then_some(f)
}

/// `a || b`.
fn concat<const N: usize, const M: usize>(a: [u8; N], b: [u8; N]) -> [u8; M] {
    let mut out = [0u8; M];
    out[..N].copy_from_slice(&a);
    out[N..].copy_from_slice(&b);
    out
}

fn fq2(x: &Fq2) -> [u8; 64] {
    concat(word::<Fq>(&x.c1), word::<Fq>(&x.c0))
}

/// A G1 point.
pub fn g1(p: &G1Affine) -> [u8; G1_LEN] {
    p.xy()
        .map_or([0; G1_LEN], |(x, y)| concat(word(&x), word(&y)))
}

/// A G2 point.
pub fn g2(p: &G2Affine) -> [u8; G2_LEN] {
    p.xy()
        .map_or([0; G2_LEN], |(x, y)| concat(fq2(&x), fq2(&y)))
}

/// A proof as a contract takes it: `A || B || C`, 256 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvmProof {
    /// `A` (G1).
    pub a: [u8; G1_LEN],
    /// `B` (G2).
    pub b: [u8; G2_LEN],
    /// `C` (G1).
    pub c: [u8; G1_LEN],
}

impl EvmProof {
    /// Encodes an ark-groth16 proof.
    pub fn new(p: &Proof) -> EvmProof {
        EvmProof {
            a: g1(&p.a),
            b: g2(&p.b),
            c: g1(&p.c),
        }
    }

    /// The 256 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        [&self.a[..], &self.b[..], &self.c[..]].concat()
    }
}

/// A verifying key as a contract stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvmKey {
    /// `alpha` (G1).
    pub alpha: [u8; G1_LEN],
    /// `beta` (G2).
    pub beta: [u8; G2_LEN],
    /// `gamma` (G2).
    pub gamma: [u8; G2_LEN],
    /// `delta` (G2).
    pub delta: [u8; G2_LEN],
    /// `IC_0 .. IC_l` (G1), one more than there are public inputs.
    pub ic: Vec<[u8; G1_LEN]>,
}

impl EvmKey {
    /// Encodes an ark-groth16 verifying key.
    pub fn new(vk: &VerifyingKey) -> EvmKey {
        EvmKey {
            alpha: g1(&vk.alpha_g1),
            beta: g2(&vk.beta_g2),
            gamma: g2(&vk.gamma_g2),
            delta: g2(&vk.delta_g2),
            ic: vk.gamma_abc_g1.iter().map(g1).collect(),
        }
    }

    /// Public inputs the key takes.
    pub fn inputs(&self) -> usize {
        self.ic.len() - 1
    }

    /// `alpha || beta || gamma || delta || IC_0 .. IC_l`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = [
            &self.alpha[..],
            &self.beta[..],
            &self.gamma[..],
            &self.delta[..],
        ]
        .concat();
        for p in &self.ic {
            out.extend_from_slice(p);
        }
        out
    }
}

/// A statement's public inputs, one word each, in the circuit's order.
pub fn inputs(statement: &Statement) -> Vec<[u8; 32]> {
    statement.public_inputs().iter().map(word::<Fr>).collect()
}

/// Gas the precompile calls of one verification cost with `inputs` public
/// inputs: the floor any Solidity Groth16 verifier pays (the contract's own
/// opcodes, calldata and storage come on top).
pub fn verification_gas(inputs: usize) -> u64 {
    inputs as u64 * (EC_MUL_GAS + EC_ADD_GAS) + PAIRING_BASE_GAS + 4 * PAIRING_PAIR_GAS
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::CurveGroup;
    use ark_ff::Field;

    #[test]
    fn points_are_big_endian_with_the_imaginary_part_first() {
        let g = G1Affine::generator();
        let e = g1(&g);
        assert_eq!(e[31], 1, "x = 1");
        assert_eq!(e[63], 2, "y = 2");
        assert!(e[..31].iter().chain(&e[32..63]).all(|b| *b == 0));
        assert_eq!(g1(&G1Affine::identity()), [0u8; 64]);
        // The G2 generator's x.c1 word starts 0x198e9393 (EIP-197's
        // published generator), x.c0 starts 0x1800deef.
        let h = g2(&G2Affine::generator());
        assert_eq!(hex::encode(&h[..4]), "198e9393");
        assert_eq!(hex::encode(&h[32..36]), "1800deef");
        let neg = (-G1Affine::generator().into_group()).into_affine();
        assert_eq!(word(&neg.y), word(&(-Fq::ONE - Fq::ONE)));
    }

    #[test]
    fn gas_floor_follows_eip_1108() {
        // 181,000 for the pairing, 6,150 per input.
        assert_eq!(verification_gas(0), 181_000);
        assert_eq!(verification_gas(8), 181_000 + 8 * 6_150);
    }
}
