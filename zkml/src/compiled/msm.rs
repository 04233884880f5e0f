//! The proof from `h` and the assignment: ark-groth16's five MSMs (the
//! quotient's with [`super::bucket`], the assignment's with ark-ec's, which
//! already sorts scalars by size and sums the many bits without
//! multiplications) and its assembly of `A`, `B` and `C`.
//!
//! Tried and measured, not kept: the unit scalars' points summed pairwise
//! in affine coordinates (no faster than ark-ec's on an assignment's mix of
//! scalars), and the assignment's MSMs run alongside the quotient's FFTs or
//! alongside its MSM (within the noise on lenet_small:4 and mnist_mlp:16,
//! and a higher peak memory).

use ark_bn254::{Bn254, G1Projective, G2Projective};
use ark_ec::{CurveGroup, VariableBaseMSM};
use ark_ff::{BigInteger256, PrimeField};
use rayon::prelude::*;
use std::time::Instant;
use zkgate_circuits::Fr;

type ProvingKey = ark_groth16::ProvingKey<Bn254>;

/// The five MSMs of a proof, before the key's fixed terms are added.
struct Msms {
    h: G1Projective,
    l: G1Projective,
    a: G1Projective,
    b_g1: G1Projective,
    b_g2: G2Projective,
}

/// The five MSMs on the full assignment `z` (the constant one first) and
/// the quotient `h`, with the seconds each took (`h`, `l`, `a`, `b` in G1,
/// `b` in G2).
fn msms(pk: &ProvingKey, z: &[Fr], h: &[Fr]) -> (Msms, [f64; 5]) {
    let big = |v: &[Fr]| {
        v.par_iter()
            .map(|x| x.into_bigint())
            .collect::<Vec<BigInteger256>>()
    };
    let mut seconds = [0.0; 5];
    let mut timed = |i: usize, t: Instant| seconds[i] = t.elapsed().as_secs_f64();
    let t = Instant::now();
    // The quotient's scalars are full size: buckets in affine coordinates.
    let h = super::bucket::msm(&pk.h_query, &big(h));
    timed(0, t);
    let assignment = big(&z[1..]);
    // The public inputs (without the one) come first, then the witness.
    let inputs = pk.vk.gamma_abc_g1.len() - 1;
    let t = Instant::now();
    let l = G1Projective::msm_bigint(&pk.l_query, &assignment[inputs..]);
    timed(1, t);
    let t = Instant::now();
    let a = G1Projective::msm_bigint(&pk.a_query[1..], &assignment);
    timed(2, t);
    let t = Instant::now();
    let b_g1 = G1Projective::msm_bigint(&pk.b_g1_query[1..], &assignment);
    timed(3, t);
    let t = Instant::now();
    let b_g2 = G2Projective::msm_bigint(&pk.b_g2_query[1..], &assignment);
    timed(4, t);
    (
        Msms {
            h,
            l,
            a,
            b_g1,
            b_g2,
        },
        seconds,
    )
}

/// The proof, with ark-groth16's randomness `r`, `s`, for the full
/// assignment `z` (the constant one first) and the quotient `h`.
pub fn assemble(pk: &ProvingKey, z: &[Fr], h: &[Fr], r: Fr, s: Fr) -> ark_groth16::Proof<Bn254> {
    let (m, _) = msms(pk, z, h);
    let g_a = pk.delta_g1 * r + pk.a_query[0] + m.a + pk.vk.alpha_g1;
    // ark-groth16 leaves B in G1 out when r is zero; it is multiplied by r
    // below, so the proof is the same either way.
    let g1_b = pk.delta_g1 * s + pk.b_g1_query[0] + m.b_g1 + pk.beta_g1;
    let g2_b = pk.vk.delta_g2 * s + pk.b_g2_query[0] + m.b_g2 + pk.vk.beta_g2;
    let g_c = g_a * s + g1_b * r - pk.delta_g1 * (r * s) + m.l + m.h;
    ark_groth16::Proof {
        a: g_a.into_affine(),
        b: g2_b.into_affine(),
        c: g_c.into_affine(),
    }
}

/// Each of the five MSMs of [`assemble`] alone, timed (`h`, `l`, `a`, `b`
/// in G1, `b` in G2), seconds.
pub fn parts(pk: &ProvingKey, z: &[Fr], h: &[Fr]) -> [f64; 5] {
    let (m, seconds) = msms(pk, z, h);
    std::hint::black_box(m);
    seconds
}
