//! Powers-of-tau files in snarkjs's `.ptau` format, so the public Perpetual
//! Powers of Tau files (and any `snarkjs powersoftau ... prepare phase2`
//! output) work unchanged.
//!
//! The file is `ptau`, a version and a section count (little-endian u32),
//! then sections of `type: u32, size: u64, bytes`. Points are uncompressed,
//! each coordinate 32 bytes little-endian in Montgomery form (R = 2^256,
//! the form arkworks keeps internally), G2 coordinates as `c0, c1`; the
//! point at infinity is all zeros. A phase-2 key reads the header (1), the
//! first powers (2, 3), alpha and beta (4, 5, 6) and the Lagrange bases
//! (12-15: for every power `p` up to the file's, the `2^p` points of the
//! domain of that size, in order).

use crate::error::{Error, Result};
use ark_bn254::{Fq, Fq2, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, PrimeField};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const G1_BYTES: usize = 64;
const G2_BYTES: usize = 128;

/// Section types.
const HEADER: u32 = 1;
const TAU_G1: u32 = 2;
const TAU_G2: u32 = 3;
const ALPHA_TAU_G1: u32 = 4;
const BETA_TAU_G1: u32 = 5;
const BETA_G2: u32 = 6;
const LAGRANGE_G1: u32 = 12;
const LAGRANGE_G2: u32 = 13;
const LAGRANGE_ALPHA_G1: u32 = 14;
const LAGRANGE_BETA_G1: u32 = 15;

fn bad(m: impl std::fmt::Display) -> Error {
    Error::Proof(format!("powers of tau: {m}"))
}

pub use zkgate_statement::ptau::{public_name, PUBLIC_FILES};

/// A prepared powers-of-tau file, in memory.
pub struct Ptau {
    /// The file's power: its Lagrange bases go up to `2^power` points.
    pub power: u32,
    /// SHA-256 of the file's bytes.
    pub sha256: [u8; 32],
    /// BLAKE2b-512 of the file's bytes (what `b2sum` prints, and what the
    /// public files are published under).
    pub blake2b: [u8; 64],
    sections: BTreeMap<u32, (usize, usize)>,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Ptau {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Ptau(power {}, {})",
            self.power,
            hex::encode(self.sha256)
        )
    }
}

fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
        .ok_or_else(|| bad("truncated"))
}

/// A bad point, in whichever file it was read from (see [`in_file`]).
fn point(m: &str) -> Error {
    Error::Proof(m.to_string())
}

/// Names the file a point reader's error came from.
pub(crate) fn in_file(e: Error, what: &str) -> Error {
    match e {
        Error::Proof(m) => Error::Proof(format!("{what}: {m}")),
        other => other,
    }
}

fn fq(b: &[u8]) -> Result<Fq> {
    let mut limbs = [0u64; 4];
    for (i, l) in limbs.iter_mut().enumerate() {
        *l = u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().expect("8 bytes"));
    }
    let big = BigInt(limbs);
    if big >= Fq::MODULUS {
        return Err(point("a coordinate is not a field element"));
    }
    Ok(Fq::new_unchecked(big))
}

fn fq_bytes(x: &Fq, out: &mut Vec<u8>) {
    for l in x.0 .0 {
        out.extend_from_slice(&l.to_le_bytes());
    }
}

/// Reads a G1 point, checking it is on the curve.
pub(crate) fn read_g1(b: &[u8]) -> Result<G1Affine> {
    if b.iter().all(|x| *x == 0) {
        return Ok(G1Affine::zero());
    }
    let p = G1Affine::new_unchecked(fq(&b[..32])?, fq(&b[32..64])?);
    if !p.is_on_curve() {
        return Err(point("a G1 point is not on the curve"));
    }
    Ok(p)
}

/// Reads a G2 point, checking it is on the curve and in the subgroup.
pub(crate) fn read_g2(b: &[u8]) -> Result<G2Affine> {
    let p = read_g2_on_curve(b)?;
    if !super::g2_group::in_group(&p) {
        return Err(point("a G2 point is not in the group"));
    }
    Ok(p)
}

/// Reads a G2 point, checking it is on the curve only: the bulk of a
/// file's G2 points (the Lagrange basis) are vouched for by the file's own
/// verification (`snarkjs powersoftau verify`), which every party runs on a
/// public file once, and a subgroup check per point would cost a scalar
/// multiplication each time a key is made or checked.
pub(crate) fn read_g2_on_curve(b: &[u8]) -> Result<G2Affine> {
    if b.iter().all(|x| *x == 0) {
        return Ok(G2Affine::zero());
    }
    let x = Fq2::new(fq(&b[..32])?, fq(&b[32..64])?);
    let y = Fq2::new(fq(&b[64..96])?, fq(&b[96..128])?);
    let p = G2Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(point("a G2 point is not on the curve"));
    }
    Ok(p)
}

/// Writes a G1 point as the format stores it.
pub(crate) fn write_g1(p: &G1Affine, out: &mut Vec<u8>) {
    match p.xy() {
        Some((x, y)) => {
            fq_bytes(&x, out);
            fq_bytes(&y, out);
        }
        None => out.extend_from_slice(&[0; G1_BYTES]),
    }
}

/// Writes a G2 point as the format stores it.
pub(crate) fn write_g2(p: &G2Affine, out: &mut Vec<u8>) {
    match p.xy() {
        Some((x, y)) => {
            for c in [x.c0, x.c1, y.c0, y.c1] {
                fq_bytes(&c, out);
            }
        }
        None => out.extend_from_slice(&[0; G2_BYTES]),
    }
}

impl Ptau {
    /// Reads a `.ptau` file.
    pub fn read(path: &std::path::Path) -> Result<Ptau> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Ptau::from_bytes(bytes)
    }

    /// Parses a `.ptau` file's bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Ptau> {
        let sections = super::binfile::sections(&bytes, b"ptau", "powers of tau")?;
        let &(h, _) = sections.get(&HEADER).ok_or_else(|| bad("no header"))?;
        let n8 = u32_at(&bytes, h)? as usize;
        if n8 != 32 || bytes.get(h + 4..h + 36) != Some(&modulus_le()[..]) {
            return Err(bad("not a BN254 (bn128) file"));
        }
        let power = u32_at(&bytes, h + 36)?;
        if power > 28 {
            return Err(bad(format!("power {power} is over BN254's 2^28 domains")));
        }
        for s in [
            ALPHA_TAU_G1,
            BETA_TAU_G1,
            BETA_G2,
            LAGRANGE_G1,
            LAGRANGE_G2,
            LAGRANGE_ALPHA_G1,
            LAGRANGE_BETA_G1,
        ] {
            if !sections.contains_key(&s) {
                return Err(bad(format!(
                    "section {s} is missing (phase-2 keys need a file prepared with `snarkjs powersoftau prepare phase2`)"
                )));
            }
        }
        let sha256 = Sha256::digest(&bytes).into();
        let blake2b = blake2::Blake2b512::digest(&bytes).into();
        Ok(Ptau {
            power,
            sha256,
            blake2b,
            sections,
            bytes,
        })
    }

    fn slice(&self, section: u32, first: usize, count: usize, size: usize) -> Result<&[u8]> {
        let &(start, len) = self
            .sections
            .get(&section)
            .ok_or_else(|| bad("no section"))?;
        let (a, b) = (first * size, (first + count) * size);
        if b > len {
            return Err(bad(format!("section {section} is too short")));
        }
        Ok(&self.bytes[start + a..start + b])
    }

    fn g1s(&self, section: u32, first: usize, count: usize) -> Result<Vec<G1Affine>> {
        use rayon::prelude::*;
        self.slice(section, first, count, G1_BYTES)?
            .par_chunks(G1_BYTES)
            .map(read_g1)
            .collect::<Result<_>>()
            .map_err(|e| in_file(e, "powers of tau"))
    }

    fn g2s(&self, section: u32, first: usize, count: usize) -> Result<Vec<G2Affine>> {
        use rayon::prelude::*;
        let read = if count == 1 {
            read_g2
        } else {
            read_g2_on_curve
        };
        self.slice(section, first, count, G2_BYTES)?
            .par_chunks(G2_BYTES)
            .map(read)
            .collect::<Result<_>>()
            .map_err(|e| in_file(e, "powers of tau"))
    }

    fn domain(&self, n: usize) -> Result<usize> {
        if !n.is_power_of_two() || n.trailing_zeros() > self.power {
            return Err(bad(format!(
                "a domain of {n} points needs a file of power {} or more; this one is {}",
                n.next_power_of_two().trailing_zeros(),
                self.power
            )));
        }
        // The bases of domains 1, 2, 4, ... come one after another.
        Ok(n - 1)
    }

    /// The public file this is ([`PUBLIC_FILES`]), if it is one.
    pub fn public_name(&self) -> Option<String> {
        public_name(&hex::encode(self.blake2b))
    }

    /// What receipts and commands say of the file: the public file's name,
    /// or that it is not one (whoever made it may know tau, and so can
    /// forge with every key made over it), with its BLAKE2b.
    pub fn describe(&self) -> String {
        let b2 = hex::encode(self.blake2b);
        match self.public_name() {
            Some(name) => format!("{name} (public; b2sum {})", &b2[..16]),
            None => format!(
                "a local file of power {} that is NOT a public one (b2sum {}): whoever made it may know tau and forge",
                self.power,
                &b2[..16]
            ),
        }
    }

    /// `[alpha]_1`, `[beta]_1`, `[beta]_2`.
    pub fn alpha_beta(&self) -> Result<(G1Affine, G1Affine, G2Affine)> {
        Ok((
            self.g1s(ALPHA_TAU_G1, 0, 1)?[0],
            self.g1s(BETA_TAU_G1, 0, 1)?[0],
            self.g2s(BETA_G2, 0, 1)?[0],
        ))
    }

    /// `[tau^i]_1` for `i < count`.
    pub fn tau_g1(&self, count: usize) -> Result<Vec<G1Affine>> {
        self.g1s(TAU_G1, 0, count)
    }

    /// `[tau^i]_2` for `i < count`.
    pub fn tau_g2(&self, count: usize) -> Result<Vec<G2Affine>> {
        self.g2s(TAU_G2, 0, count)
    }

    /// The Lagrange basis of the domain of `n` points at tau, in G1.
    pub fn lagrange_g1(&self, n: usize) -> Result<Vec<G1Affine>> {
        self.g1s(LAGRANGE_G1, self.domain(n)?, n)
    }

    /// The same in G2.
    pub fn lagrange_g2(&self, n: usize) -> Result<Vec<G2Affine>> {
        self.g2s(LAGRANGE_G2, self.domain(n)?, n)
    }

    /// `alpha` times the Lagrange basis, in G1.
    pub fn lagrange_alpha_g1(&self, n: usize) -> Result<Vec<G1Affine>> {
        self.g1s(LAGRANGE_ALPHA_G1, self.domain(n)?, n)
    }

    /// `beta` times the Lagrange basis, in G1.
    pub fn lagrange_beta_g1(&self, n: usize) -> Result<Vec<G1Affine>> {
        self.g1s(LAGRANGE_BETA_G1, self.domain(n)?, n)
    }
}

/// BN254's base field modulus, 32 bytes little-endian.
fn modulus_le() -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, l) in Fq::MODULUS.0.iter().enumerate() {
        out[8 * i..8 * i + 8].copy_from_slice(&l.to_le_bytes());
    }
    out
}

/// Writes a prepared `.ptau` file whose secrets are drawn from `rng` and
/// dropped (a stand-in for a public file of the same power, for benchmarks
/// and tests).
pub fn write_random<R: rand::RngCore + rand::CryptoRng>(power: u32, rng: &mut R) -> Vec<u8> {
    use ark_ff::UniformRand;
    let fr = |rng: &mut R| ark_bn254::Fr::rand(rng);
    write_insecure(power, fr(rng), fr(rng), fr(rng))
}

/// Writes a prepared `.ptau` file for known secrets (tests and local
/// demonstrations only: whoever runs this knows tau, alpha and beta).
pub fn write_insecure(
    power: u32,
    tau: ark_bn254::Fr,
    alpha: ark_bn254::Fr,
    beta: ark_bn254::Fr,
) -> Vec<u8> {
    use ark_bn254::{Fr, G1Projective, G2Projective};
    use ark_ec::scalar_mul::ScalarMul;
    use ark_ec::PrimeGroup;
    use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
    // Fixed-base tables: one generator, many scalars.
    let g1s = |scalars: &[Fr]| -> Vec<u8> {
        let mut out = Vec::with_capacity(G1_BYTES * scalars.len());
        G1Projective::generator()
            .batch_mul(scalars)
            .iter()
            .for_each(|p| write_g1(p, &mut out));
        out
    };
    let g2s = |scalars: &[Fr]| -> Vec<u8> {
        let mut out = Vec::with_capacity(G2_BYTES * scalars.len());
        G2Projective::generator()
            .batch_mul(scalars)
            .iter()
            .for_each(|p| write_g2(p, &mut out));
        out
    };
    let n = 1usize << power;
    let powers: Vec<Fr> = std::iter::successors(Some(Fr::from(1u64)), |p| Some(*p * tau))
        .take(2 * n - 1)
        .collect();
    let mut lagrange: Vec<Fr> = Vec::new();
    for p in 0..=power {
        let d = Radix2EvaluationDomain::<Fr>::new(1 << p).expect("a radix-2 domain");
        lagrange.extend(d.evaluate_all_lagrange_coefficients(tau));
    }
    let scaled = |by: Fr, v: &[Fr]| v.iter().map(|x| by * x).collect::<Vec<_>>();
    let mut header = (32u32).to_le_bytes().to_vec();
    header.extend(modulus_le());
    header.extend(power.to_le_bytes());
    header.extend(power.to_le_bytes());
    let sections: Vec<(u32, Vec<u8>)> = vec![
        (HEADER, header),
        (TAU_G1, g1s(&powers)),
        (TAU_G2, g2s(&powers[..n])),
        (ALPHA_TAU_G1, g1s(&scaled(alpha, &powers[..n]))),
        (BETA_TAU_G1, g1s(&scaled(beta, &powers[..n]))),
        (BETA_G2, g2s(&[beta])),
        (LAGRANGE_G1, g1s(&lagrange)),
        (LAGRANGE_G2, g2s(&lagrange)),
        (LAGRANGE_ALPHA_G1, g1s(&scaled(alpha, &lagrange))),
        (LAGRANGE_BETA_G1, g1s(&scaled(beta, &lagrange))),
    ];
    let refs: Vec<(u32, &[u8])> = sections.iter().map(|(k, b)| (*k, b.as_slice())).collect();
    super::binfile::write(b"ptau", &refs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{Fr, G1Projective};
    use ark_ec::{CurveGroup, PrimeGroup};

    #[test]
    fn reads_what_it_writes_and_refuses_damage() {
        let (tau, alpha, beta) = (Fr::from(7u64), Fr::from(11u64), Fr::from(13u64));
        let bytes = write_insecure(3, tau, alpha, beta);
        let p = Ptau::from_bytes(bytes.clone()).unwrap();
        assert_eq!(p.power, 3);
        let g = G1Projective::generator();
        assert_eq!(p.tau_g1(3).unwrap()[2], (g * (tau * tau)).into_affine());
        assert_eq!(p.alpha_beta().unwrap().0, (g * alpha).into_affine());
        // The Lagrange basis of 4 points sums to [1]_1.
        let l: G1Projective = p
            .lagrange_g1(4)
            .unwrap()
            .iter()
            .map(|x| x.into_group())
            .sum();
        assert_eq!(l.into_affine(), g.into_affine());
        assert!(p.lagrange_g1(16).is_err(), "over the file's power");
        assert!(p.lagrange_g1(3).is_err(), "not a power of two");
        // A damaged point is refused, a truncated file too.
        let mut bad_bytes = bytes.clone();
        let (start, _) = p.sections[&LAGRANGE_G1];
        bad_bytes[start + 40] ^= 1;
        let damaged = Ptau::from_bytes(bad_bytes).unwrap();
        assert!(damaged.lagrange_g1(1).is_err() || damaged.lagrange_g1(2).is_err());
        assert!(Ptau::from_bytes(bytes[..bytes.len() - 10].to_vec()).is_err());
        // A file made here is not a public one, and says so; the public
        // files are known by their BLAKE2b.
        assert_eq!(p.public_name(), None);
        assert!(
            p.describe().contains("NOT a public one"),
            "{}",
            p.describe()
        );
        assert_eq!(
            public_name(PUBLIC_FILES[8].1).as_deref(),
            Some("powersOfTau28_hez_final_16")
        );
        assert_eq!(
            public_name(&PUBLIC_FILES[20].1.to_uppercase()).as_deref(),
            Some("powersOfTau28_hez_final")
        );
        assert!(PUBLIC_FILES
            .iter()
            .all(|(_, h)| h.len() == 128 && hex::decode(h).is_ok()));
        assert!(Ptau::from_bytes(b"zkey....".to_vec()).is_err());
    }
}
