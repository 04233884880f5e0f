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

/// The public files of the Perpetual Powers of Tau ceremony (54
/// contributions, then a beacon) that snarkjs distributes prepared for
/// phase 2, `powersOfTau28_hez_final_NN.ptau`, by power, with the BLAKE2b-512
/// of each file (`b2sum`) as snarkjs's README lists it.
pub const PUBLIC_FILES: [(u32, &str); 21] = [
    (8, "d6a8fb3a04feb600096c3b791f936a578c4e664d262e4aa24beed1b7a9a96aa5eb72864d628db247e9293384b74b36ffb52ca8d148d6e1b8b51e279fdf57b583"),
    (9, "94f108a80e81b5d932d8e8c9e8fd7f46cf32457e31462deeeef37af1b71c2c1b3c71fb0d9b59c654ec266b042735f50311f9fd1d4cadce47ab234ad163157cb5"),
    (10, "6cfeb8cda92453099d20120bdd0e8a5c4e7706c2da9a8f09ccc157ed2464d921fd0437fb70db42104769efd7d6f3c1f964bcf448c455eab6f6c7d863e88a5849"),
    (11, "47c282116b892e5ac92ca238578006e31a47e7c7e70f0baa8b687f0a5203e28ea07bbbec765a98dcd654bad618475d4661bfaec3bd9ad2ed12e7abc251d94d33"),
    (12, "ded2694169b7b08e898f736d5de95af87c3f1a64594013351b1a796dbee393bd825f88f9468c84505ddd11eb0b1465ac9b43b9064aa8ec97f2b73e04758b8a4a"),
    (13, "58efc8bf2834d04768a3d7ffcd8e1e23d461561729beaac4e3e7a47829a1c9066d5320241e124a1a8e8aa6c75be0ba66f65bc8239a0542ed38e11276f6fdb4d9"),
    (14, "eeefbcf7c3803b523c94112023c7ff89558f9b8e0cf5d6cdcba3ade60f168af4a181c9c21774b94fbae6c90411995f7d854d02ebd93fb66043dbb06f17a831c1"),
    (15, "982372c867d229c236091f767e703253249a9b432c1710b4f326306bfa2428a17b06240359606cfe4d580b10a5a1f63fbed499527069c18ae17060472969ae6e"),
    (16, "6a6277a2f74e1073601b4f9fed6e1e55226917efb0f0db8a07d98ab01df1ccf43eb0e8c3159432acd4960e2f29fe84a4198501fa54c8dad9e43297453efec125"),
    (17, "6247a3433948b35fbfae414fa5a9355bfb45f56efa7ab4929e669264a0258976741dfbe3288bfb49828e5df02c2e633df38d2245e30162ae7e3bcca5b8b49345"),
    (18, "7e6a9c2e5f05179ddfc923f38f917c9e6831d16922a902b0b4758b8e79c2ab8a81bb5f29952e16ee6c5067ed044d7857b5de120a90704c1d3b637fd94b95b13e"),
    (19, "bca9d8b04242f175189872c42ceaa21e2951e0f0f272a0cc54fc37193ff6648600eaf1c555c70cdedfaf9fb74927de7aa1d33dc1e2a7f1a50619484989da0887"),
    (20, "89a66eb5590a1c94e3f1ee0e72acf49b1669e050bb5f93c73b066b564dca4e0c7556a52b323178269d64af325d8fdddb33da3a27c34409b821de82aa2bf1a27b"),
    (21, "9aef0573cef4ded9c4a75f148709056bf989f80dad96876aadeb6f1c6d062391f07a394a9e756d16f7eb233198d5b69407cca44594c763ab4a5b67ae73254678"),
    (22, "0d64f63dba1a6f11139df765cb690da69d9b2f469a1ddd0de5e4aa628abb28f787f04c6a5fb84a235ec5ea7f41d0548746653ecab0559add658a83502d1cb21b"),
    (23, "3063a0bd81d68711197c8820a92466d51aeac93e915f5136d74f63c394ee6d88c5e8016231ea6580bec02e25d491f319d92e77f5c7f46a9caa8f3b53c0ea544f"),
    (24, "fa404d140d5819d39984833ca5ec3632cd4995f81e82db402371a4de7c2eae8687c62bc632a95b0c6aadba3fb02680a94e09174b7233ccd26d78baca2647c733"),
    (25, "0377d860cdb09a8a31ea1b0b8c04335614c8206357181573bf294c25d5ca7dff72387224fbd868897e6769f7805b3dab02854aec6d69d7492883b5e4e5f35eeb"),
    (26, "418dee4a74b9592198bd8fd02ad1aea76f9cf3085f206dfd7d594c9e264ae919611b1459a1cc920c2f143417744ba9edd7b8d51e44be9452344a225ff7eead19"),
    (27, "10ffd99837c512ef99752436a54b9810d1ac8878d368fb4b806267bdd664b4abf276c9cd3c4b9039a1fa4315a0c326c0e8e9e8fe0eb588ffd4f9021bf7eae1a1"),
    (28, "55c77ce8562366c91e7cda394cf7b7c15a06c12d8c905e8b36ba9cf5e13eb37d1a429c589e8eaba4c591bc4b88a0e2828745a53e170eac300236f5c1a326f41a"),
];

/// The public file's name for a BLAKE2b-512 (hex), if it is one of
/// [`PUBLIC_FILES`].
pub fn public_name(blake2b: &str) -> Option<String> {
    PUBLIC_FILES
        .iter()
        .find(|(_, h)| h.eq_ignore_ascii_case(blake2b))
        .map(|(p, _)| match p {
            28 => "powersOfTau28_hez_final".to_string(),
            p => format!("powersOfTau28_hez_final_{p:02}"),
        })
}

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
