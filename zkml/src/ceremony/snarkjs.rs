//! Interchange with snarkjs: a circuit's constraints as an iden3 `.r1cs`
//! file (what `snarkjs zkey new` and `snarkjs zkey verify` read), and
//! ceremony keys as snarkjs `.zkey` files, read and written. A key snarkjs
//! made or extended for the exported circuit is the same key this crate's
//! phase 2 computes (tested), so it passes [`super::check_key`] and proves
//! with [`super::OddCosetReduction`]; the `.zkey` this module writes for
//! the initial key is byte for byte the one `snarkjs zkey new` writes, and
//! its transcript (section 10) is snarkjs's, so `snarkjs zkey verify`
//! checks our contributions and we check snarkjs's.
//!
//! `.zkey`: sections 1 (protocol: 1, Groth16), 2 (field sizes and primes,
//! wires, public inputs, domain, then alpha, beta, gamma and delta), 4 (the
//! A and B coefficients, `matrix, constraint, wire: u32` and the value
//! times `R^2`, little-endian), 3 (the verifying key's input points), 9
//! (H), 8 (L), 5 (A), 6 (B in G1), 7 (B in G2) and 10 (the transcript, see
//! [`super::Transcript`]). Points as in `.ptau` files.
//!
//! `.r1cs`: `r1cs`, version 1, sections; the header (1) holds the field
//! size and prime, wires, outputs (0 here), public inputs, private inputs
//! (0: every other wire is internal), labels and constraints; section 2
//! holds each constraint's three linear combinations as `count: u32` then
//! `wire: u32, coefficient: 32 bytes little-endian`; section 3 maps wires
//! to labels. Wire i is the circuit's variable i (the constant, the public
//! inputs, then the witnesses), as arkworks numbers them.

use super::phase2::R1cs;
use super::ptau::{read_g1, read_g2, write_g1, write_g2, Ptau};
use super::{Key, Transcript};
use crate::error::{Error, Result};
use ark_bn254::{Fq, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInteger, PrimeField, Zero};
use blake2::{Blake2b512, Digest};
use std::collections::BTreeMap;

fn bad(m: impl std::fmt::Display) -> Error {
    Error::Proof(format!("zkey: {m}"))
}

/// Every constraint's A, B and C as `.r1cs` files hold them: one term per
/// wire, in wire order, no zero coefficients (a row may name a variable
/// twice).
fn merged(r1cs: &R1cs, row: usize) -> [Vec<(usize, Fr)>; 3] {
    std::array::from_fn(|k| {
        let mut terms: BTreeMap<usize, Fr> = BTreeMap::new();
        for (c, i) in &r1cs.matrices[k][row] {
            *terms.entry(*i).or_insert_with(Fr::zero) += c;
        }
        terms.retain(|_, c| !c.is_zero());
        terms.into_iter().collect()
    })
}

/// The circuit as an iden3 `.r1cs` file.
pub fn r1cs_bytes(r1cs: &R1cs) -> Vec<u8> {
    let modulus = Fr::MODULUS.to_bytes_le();
    let mut header = 32u32.to_le_bytes().to_vec();
    header.extend_from_slice(&modulus);
    header.extend((r1cs.variables() as u32).to_le_bytes());
    header.extend(0u32.to_le_bytes());
    header.extend(((r1cs.instance - 1) as u32).to_le_bytes());
    header.extend(0u32.to_le_bytes());
    header.extend((r1cs.variables() as u64).to_le_bytes());
    header.extend((r1cs.constraints() as u32).to_le_bytes());
    let mut constraints = Vec::new();
    for row in 0..r1cs.constraints() {
        for terms in merged(r1cs, row) {
            constraints.extend((terms.len() as u32).to_le_bytes());
            for (i, c) in terms {
                constraints.extend((i as u32).to_le_bytes());
                constraints.extend(c.into_bigint().to_bytes_le());
            }
        }
    }
    let mut labels = Vec::with_capacity(8 * r1cs.variables());
    for i in 0..r1cs.variables() as u64 {
        labels.extend(i.to_le_bytes());
    }
    super::binfile::write(b"r1cs", &[(1, &header), (2, &constraints), (3, &labels)])
}

/// A point as snarkjs hashes it: coordinates big-endian, not Montgomery,
/// G2's as `c1, c0`; the point at infinity all zeros.
fn g1_u(p: &G1Affine, out: &mut impl Digest) {
    match p.xy() {
        Some((x, y)) => {
            out.update(x.into_bigint().to_bytes_be());
            out.update(y.into_bigint().to_bytes_be());
        }
        None => out.update([0u8; 64]),
    }
}

fn g2_u(p: &G2Affine, out: &mut impl Digest) {
    match p.xy() {
        Some((x, y)) => {
            for c in [x.c1, x.c0, y.c1, y.c0] {
                out.update(c.into_bigint().to_bytes_be());
            }
        }
        None => out.update([0u8; 128]),
    }
}

/// snarkjs's circuit hash (`csHash`) of a delta-1 key over `ptau`: BLAKE2b
/// of alpha, beta, gamma and delta, then each point list (inputs, the H
/// points `[tau^(i+n) - tau^i]_1`, L, A, B1, B2) after its length as a
/// big-endian u32 — in the order and with the H count `snarkjs zkey new`
/// hashes (whole chunks of 2^14 points above that size).
pub fn cs_hash(initial: &Key, ptau: &Ptau) -> Result<[u8; 64]> {
    cs_hash_with(initial, &initial.l_query, ptau)
}

/// The same from a key of the circuit after contributions (its delta-free
/// parts are the delta-1 key's) and the delta-1 key's L query.
pub(crate) fn cs_hash_with(initial: &Key, l_query: &[G1Affine], ptau: &Ptau) -> Result<[u8; 64]> {
    let mut h = Blake2b512::new();
    g1_u(&initial.vk.alpha_g1, &mut h);
    g1_u(&initial.beta_g1, &mut h);
    g2_u(&initial.vk.beta_g2, &mut h);
    g2_u(&G2Affine::generator(), &mut h);
    g1_u(&G1Affine::generator(), &mut h);
    g2_u(&G2Affine::generator(), &mut h);
    let list = |h: &mut Blake2b512, points: &[G1Affine]| {
        h.update((points.len() as u32).to_be_bytes());
        points.iter().for_each(|p| g1_u(p, h));
    };
    list(&mut h, &initial.vk.gamma_abc_g1);
    let n = initial.h_query.len();
    const CHUNK: usize = 1 << 14;
    let per = (n - 1).min(CHUNK);
    let count = (n - 1).div_ceil(CHUNK) * per;
    let tau = ptau.tau_g1(count + n)?;
    h.update(((n - 1) as u32).to_be_bytes());
    let diffs: Vec<G1Projective> = (0..count).map(|i| tau[i + n] - tau[i]).collect();
    G1Projective::normalize_batch(&diffs)
        .iter()
        .for_each(|p| g1_u(p, &mut h));
    list(&mut h, l_query);
    list(&mut h, &initial.a_query);
    list(&mut h, &initial.b_g1_query);
    h.update((initial.b_g2_query.len() as u32).to_be_bytes());
    initial.b_g2_query.iter().for_each(|p| g2_u(p, &mut h));
    Ok(h.finalize().into())
}

/// Hashes a G2 point as snarkjs does (for the transcript).
pub(crate) fn hash_g2(p: &G2Affine, out: &mut impl Digest) {
    g2_u(p, out)
}

/// Hashes a G1 point as snarkjs does (for the transcript).
pub(crate) fn hash_g1(p: &G1Affine, out: &mut impl Digest) {
    g1_u(p, out)
}

/// A key and its transcript as a snarkjs `.zkey` file for `r1cs`.
pub fn write_zkey(key: &Key, transcript: &Transcript, r1cs: &R1cs) -> Result<Vec<u8>> {
    let g1s = |points: &[G1Affine]| {
        let mut out = Vec::with_capacity(64 * points.len());
        points.iter().for_each(|p| write_g1(p, &mut out));
        out
    };
    let mut header = 32u32.to_le_bytes().to_vec();
    header.extend_from_slice(&Fq::MODULUS.to_bytes_le());
    header.extend(32u32.to_le_bytes());
    header.extend_from_slice(&Fr::MODULUS.to_bytes_le());
    let public = r1cs.instance - 1;
    for n in [r1cs.variables(), public, r1cs.domain()] {
        header.extend((n as u32).to_le_bytes());
    }
    write_g1(&key.vk.alpha_g1, &mut header);
    write_g1(&key.beta_g1, &mut header);
    write_g2(&key.vk.beta_g2, &mut header);
    write_g2(&key.vk.gamma_g2, &mut header);
    write_g1(&key.delta_g1, &mut header);
    write_g2(&key.vk.delta_g2, &mut header);

    // Values times R^2: snarkjs's prover reads them as Montgomery forms.
    let r = Fr::from_bigint(Fr::R).expect("R < r");
    let mut coefficients = Vec::new();
    let mut count = 0u32;
    let mut coefficient = |matrix: u32, row: usize, wire: usize, value: Fr| {
        coefficients.extend(matrix.to_le_bytes());
        coefficients.extend((row as u32).to_le_bytes());
        coefficients.extend((wire as u32).to_le_bytes());
        coefficients.extend((value * r * r).into_bigint().to_bytes_le());
        count += 1;
    };
    for row in 0..r1cs.constraints() {
        let [a, b, _] = merged(r1cs, row);
        a.iter().for_each(|(w, v)| coefficient(0, row, *w, *v));
        b.iter().for_each(|(w, v)| coefficient(1, row, *w, *v));
    }
    for s in 0..=public {
        coefficient(0, r1cs.constraints() + s, s, Fr::from(1u64));
    }
    let mut coeffs = count.to_le_bytes().to_vec();
    coeffs.extend(coefficients);

    let mut b2 = Vec::with_capacity(128 * key.b_g2_query.len());
    key.b_g2_query.iter().for_each(|p| write_g2(p, &mut b2));
    Ok(super::binfile::write(
        b"zkey",
        &[
            (1, &1u32.to_le_bytes()),
            (2, &header),
            (4, &coeffs),
            (3, &g1s(&key.vk.gamma_abc_g1)),
            (9, &g1s(&key.h_query)),
            (8, &g1s(&key.l_query)),
            (5, &g1s(&key.a_query)),
            (6, &g1s(&key.b_g1_query)),
            (7, &b2),
            (10, &transcript.to_bytes()),
        ],
    ))
}

/// Reads a snarkjs Groth16 `.zkey`: the proving key (every point on its
/// curve, G2 points in their group) and its transcript. Whether it is a
/// well-formed key of a given circuit is [`super::check_key`]'s question,
/// whether its contributions hold [`Transcript::verify`]'s.
pub fn read_zkey(bytes: &[u8]) -> Result<(Key, Transcript)> {
    let key = read_key(bytes).map_err(|e| super::ptau::in_file(e, "zkey"))?;
    Ok((key, read_transcript(bytes)?))
}

/// Reads only a `.zkey`'s transcript (cheap: no key points are read).
pub fn read_transcript(bytes: &[u8]) -> Result<Transcript> {
    let s = super::binfile::sections(bytes, b"zkey", "zkey")?;
    let &(start, size) = s
        .get(&10)
        .ok_or_else(|| bad("section 10 (the transcript) is missing"))?;
    Transcript::from_bytes(&bytes[start..start + size])
}

fn read_key(bytes: &[u8]) -> Result<Key> {
    use rayon::prelude::*;
    let s = super::binfile::sections(bytes, b"zkey", "zkey")?;
    let get = |kind: u32| -> Result<&[u8]> {
        let &(start, size) = s
            .get(&kind)
            .ok_or_else(|| bad(format!("section {kind} is missing")))?;
        Ok(&bytes[start..start + size])
    };
    if get(1)?.get(..4) != Some(&1u32.to_le_bytes()[..]) {
        return Err(bad("not a Groth16 key"));
    }
    let h = get(2)?;
    let u32_at = |at: usize| -> Result<usize> {
        h.get(at..at + 4)
            .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")) as usize)
            .ok_or_else(|| bad("truncated header"))
    };
    if u32_at(0)? != 32
        || u32_at(36)? != 32
        || h.get(40..72) != Some(&Fr::MODULUS.to_bytes_le()[..])
    {
        return Err(bad("not a BN254 (bn128) key"));
    }
    let (vars, public, domain) = (u32_at(72)?, u32_at(76)?, u32_at(80)?);
    let points = h.get(84..).ok_or_else(|| bad("truncated header"))?;
    if points.len() < 64 * 3 + 128 * 3 {
        return Err(bad("truncated header"));
    }
    let alpha_g1 = read_g1(&points[0..64])?;
    let beta_g1 = read_g1(&points[64..128])?;
    let beta_g2 = read_g2(&points[128..256])?;
    let gamma_g2 = read_g2(&points[256..384])?;
    let delta_g1 = read_g1(&points[384..448])?;
    let delta_g2 = read_g2(&points[448..576])?;
    let g1s = |kind: u32, count: usize| -> Result<Vec<ark_bn254::G1Affine>> {
        let b = get(kind)?;
        if b.len() != 64 * count {
            return Err(bad(format!("section {kind} has the wrong size")));
        }
        b.par_chunks(64).map(read_g1).collect()
    };
    let b2 = get(7)?;
    if b2.len() != 128 * vars {
        return Err(bad("section 7 has the wrong size"));
    }
    // On the curve one by one; in G2 together (see `all_in_group`).
    let b_g2_query = b2
        .par_chunks(128)
        .map(super::ptau::read_g2_on_curve)
        .collect::<Result<Vec<_>>>()?;
    if !super::g2_group::all_in_group(&b_g2_query, &mut rand::rngs::OsRng) {
        return Err(bad("a G2 point of the B query is not in the group"));
    }
    Ok(Key {
        vk: ark_groth16::VerifyingKey {
            alpha_g1,
            beta_g2,
            gamma_g2,
            delta_g2,
            gamma_abc_g1: g1s(3, public + 1)?,
        },
        beta_g1,
        delta_g1,
        a_query: g1s(5, vars)?,
        b_g1_query: g1s(6, vars)?,
        b_g2_query,
        h_query: g1s(9, domain)?,
        l_query: g1s(8, vars - public - 1)?,
    })
}
