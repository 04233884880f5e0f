//! Verifying keys, proofs and public inputs in snarkjs's JSON, so an
//! independent implementation (`snarkjs groth16 verify`) checks zkgate's
//! proofs: field elements as decimal strings, points in projective form
//! with z = 1, G2 coordinates as `[c0, c1]`.

use crate::groth16::{Proof, VerifyingKey};
use ark_bn254::{Fq2, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField};
use serde_json::{json, Value};
use zkgate_circuits::Fr;

fn dec<F: PrimeField>(x: F) -> String {
    let bytes = x.into_bigint().to_bytes_be();
    // Decimal from big-endian bytes, without a bignum dependency.
    let mut digits: Vec<u8> = vec![0];
    for byte in bytes {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            let v = u32::from(*d) * 256 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

fn g1(p: &G1Affine) -> Value {
    match p.xy() {
        Some((x, y)) => json!([dec(x), dec(y), "1"]),
        None => json!(["0", "1", "0"]),
    }
}

fn fq2(x: Fq2) -> Value {
    json!([dec(x.c0), dec(x.c1)])
}

fn g2(p: &G2Affine) -> Value {
    match p.xy() {
        Some((x, y)) => json!([fq2(x), fq2(y), ["1", "0"]]),
        None => json!([["0", "0"], ["1", "0"], ["0", "0"]]),
    }
}

/// `verification_key.json`.
pub fn verification_key(vk: &VerifyingKey) -> Value {
    json!({
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": vk.gamma_abc_g1.len() - 1,
        "vk_alpha_1": g1(&vk.alpha_g1),
        "vk_beta_2": g2(&vk.beta_g2),
        "vk_gamma_2": g2(&vk.gamma_g2),
        "vk_delta_2": g2(&vk.delta_g2),
        "IC": vk.gamma_abc_g1.iter().map(g1).collect::<Vec<_>>(),
    })
}

/// `proof.json`.
pub fn proof(p: &Proof) -> Value {
    json!({
        "protocol": "groth16",
        "curve": "bn128",
        "pi_a": g1(&p.a),
        "pi_b": g2(&p.b),
        "pi_c": g1(&p.c),
    })
}

/// `public.json`: the public inputs after the constant one.
pub fn public(inputs: &[Fr]) -> Value {
    json!(inputs.iter().map(|x| dec(*x)).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(dec(Fr::from(0u64)), "0");
        assert_eq!(dec(Fr::from(1234567890123u64)), "1234567890123");
        assert_eq!(
            dec(-Fr::from(1u64)),
            "21888242871839275222246405745257275088548364400416034343698204186575808495616"
        );
        let g = G1Affine::generator();
        assert_eq!(g1(&g), json!(["1", "2", "1"]));
    }
}
