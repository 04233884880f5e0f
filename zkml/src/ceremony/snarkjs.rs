//! Interchange with snarkjs: a circuit's constraints as an iden3 `.r1cs`
//! file (what `snarkjs zkey new` and `snarkjs zkey verify` read), and
//! snarkjs `.zkey` files read into a proving key. A key snarkjs made or
//! extended for the exported circuit is the same key this module's phase 2
//! computes (tested), so it passes [`super::check_key`] and proves with
//! [`super::OddCosetReduction`].
//!
//! `.r1cs`: `r1cs`, version 1, sections; the header (1) holds the field
//! size and prime, wires, outputs (0 here), public inputs, private inputs
//! (0: every other wire is internal), labels and constraints; section 2
//! holds each constraint's three linear combinations as `count: u32` then
//! `wire: u32, coefficient: 32 bytes little-endian`; section 3 maps wires
//! to labels. Wire i is the circuit's variable i (the constant, the public
//! inputs, then the witnesses), as arkworks numbers them.

use super::phase2::R1cs;
use super::ptau::{read_g1, read_g2};
use super::Key;
use crate::error::{Error, Result};
use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField, Zero};
use std::collections::BTreeMap;

fn bad(m: impl std::fmt::Display) -> Error {
    Error::Proof(format!("zkey: {m}"))
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
        for m in &r1cs.matrices {
            // One term per wire (a row may name a variable twice).
            let mut terms: BTreeMap<usize, Fr> = BTreeMap::new();
            for (c, i) in &m[row] {
                *terms.entry(*i).or_insert_with(Fr::zero) += c;
            }
            terms.retain(|_, c| !c.is_zero());
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

/// Reads a snarkjs Groth16 `.zkey` into a proving key, checking every point
/// is on its curve (and G2 points in their group). Whether it is a
/// well-formed key of a given circuit is [`super::check_key`]'s question.
pub fn read_zkey(bytes: &[u8]) -> Result<Key> {
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
    let b_g2_query = b2
        .par_chunks(128)
        .map(read_g2)
        .collect::<Result<Vec<_>>>()?;
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
