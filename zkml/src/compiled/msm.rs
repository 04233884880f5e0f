//! The proof from `h` and the assignment: ark-groth16's five MSMs (the
//! quotient's with [`super::bucket`], the assignment's with ark-ec's, which
//! already sorts scalars by size and sums the many bits without
//! multiplications) and its assembly of `A`, `B` and `C`.

use ark_bn254::{Bn254, G1Projective, G2Projective};
use ark_ec::{CurveGroup, VariableBaseMSM};
use ark_ff::{BigInteger256, PrimeField, Zero};
use zkgate_circuits::Fr;

type ProvingKey = ark_groth16::ProvingKey<Bn254>;

/// The proof, with ark-groth16's randomness `r`, `s`, for the full
/// assignment `z` (the constant one first) and the quotient `h`.
pub fn assemble(
    pk: &ProvingKey,
    inputs: usize,
    z: &[Fr],
    h: &[Fr],
    r: Fr,
    s: Fr,
) -> ark_groth16::Proof<Bn254> {
    let big = |v: &[Fr]| {
        v.iter()
            .map(|x| x.into_bigint())
            .collect::<Vec<BigInteger256>>()
    };
    // The quotient's scalars are full size: buckets in affine coordinates.
    let h_acc = super::bucket::msm(&pk.h_query, &big(h));
    let assignment = big(&z[1..]);
    let aux = &assignment[inputs - 1..];
    let l_acc = G1Projective::msm_bigint(&pk.l_query, aux);

    let g_a = pk.delta_g1 * r
        + pk.a_query[0]
        + G1Projective::msm_bigint(&pk.a_query[1..], &assignment)
        + pk.vk.alpha_g1;
    let g1_b = if r.is_zero() {
        G1Projective::zero()
    } else {
        pk.delta_g1 * s
            + pk.b_g1_query[0]
            + G1Projective::msm_bigint(&pk.b_g1_query[1..], &assignment)
            + pk.beta_g1
    };
    let g2_b = pk.vk.delta_g2 * s
        + pk.b_g2_query[0]
        + G2Projective::msm_bigint(&pk.b_g2_query[1..], &assignment)
        + pk.vk.beta_g2;
    let g_c = g_a * s + g1_b * r - pk.delta_g1 * (r * s) + l_acc + h_acc;
    ark_groth16::Proof {
        a: g_a.into_affine(),
        b: g2_b.into_affine(),
        c: g_c.into_affine(),
    }
}

/// Each of the five MSMs of [`assemble`] alone, timed (`h`, `l`, `a`, `b`
/// in G1, `b` in G2), seconds.
pub fn parts(pk: &ProvingKey, z: &[Fr], h: &[Fr]) -> [f64; 5] {
    use std::hint::black_box;
    use std::time::Instant;
    let big = |v: &[Fr]| {
        v.iter()
            .map(|x| x.into_bigint())
            .collect::<Vec<BigInteger256>>()
    };
    let inputs = pk.vk.gamma_abc_g1.len();
    let assignment = big(&z[1..]);
    let mut out = [0.0; 5];
    let t = Instant::now();
    let _ = black_box(super::bucket::msm(&pk.h_query, &big(h)));
    out[0] = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = black_box(G1Projective::msm_bigint(
        &pk.l_query,
        &assignment[inputs - 1..],
    ));
    out[1] = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = black_box(G1Projective::msm_bigint(&pk.a_query[1..], &assignment));
    out[2] = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = black_box(G1Projective::msm_bigint(&pk.b_g1_query[1..], &assignment));
    out[3] = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = black_box(G2Projective::msm_bigint(&pk.b_g2_query[1..], &assignment));
    out[4] = t.elapsed().as_secs_f64();
    out
}
