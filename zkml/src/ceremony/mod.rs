//! Groth16 keys from a ceremony, so the data owner who proves cannot forge.
//!
//! Phase 1 is a public powers-of-tau file ([`ptau`], snarkjs's format). The
//! phase-2 key of a circuit ([`phase2::initial_key`]) follows from the
//! circuit and the file alone, with delta = 1. Each contributor multiplies
//! delta by a secret `x` (dividing the H and L queries by it) and publishes
//! a proof of knowledge of `x` in the style of Bowe-Gabizon-Miers 2017: a
//! random `[s]_1`, `[s x]_1` and `[r x]_2`, where `[r]_2` hashes the
//! transcript so far and `[s]_1, [s x]_1` to G2 (so `x` cannot be chosen as
//! a function of earlier contributions to cancel them). The key is sound if
//! any one contributor threw `x` away. [`check_key`] is what a prover runs
//! before proving (subversion zero-knowledge: a key that is not a phase-2
//! key of this circuit over the file could make proofs leak the witness)
//! and [`Transcript::verify`] what anyone runs to check who contributed.

mod binfile;
pub mod phase2;
pub mod ptau;
pub mod reduction;
pub mod snarkjs;

use crate::error::{Error, Result};
use ark_bn254::{Bn254, Fq2, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup, VariableBaseMSM};
use ark_ff::{Field, PrimeField, UniformRand, Zero};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand::{CryptoRng, RngCore};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use phase2::{initial_key, R1cs};
pub use ptau::Ptau;
pub use reduction::OddCosetReduction;

/// A phase-2 proving key.
pub type Key = ark_groth16::ProvingKey<Bn254>;

fn bad(m: impl std::fmt::Display) -> Error {
    Error::Proof(format!("ceremony: {m}"))
}

fn to_hex<T: CanonicalSerialize>(p: &T) -> String {
    let mut b = Vec::new();
    p.serialize_compressed(&mut b).expect("serializes");
    hex::encode(b)
}

fn from_hex<T: CanonicalDeserialize>(s: &str, what: &str) -> Result<T> {
    let b = hex::decode(s).map_err(|_| bad(format!("{what}: not hex")))?;
    T::deserialize_compressed(b.as_slice()).map_err(|e| bad(format!("{what}: {e}")))
}

/// One contribution's public record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// Who contributed (as they named themselves).
    pub name: String,
    /// `[delta]_1` after this contribution (compressed, hex).
    pub delta_g1: String,
    /// `[s]_1` (compressed, hex).
    pub g1_s: String,
    /// `[s x]_1`.
    pub g1_sx: String,
    /// `[r x]_2`, `[r]_2` hashing the transcript before this contribution
    /// and `[s]_1, [s x]_1` to G2.
    pub g2_rx: String,
}

/// What a key was made from and who changed it: anyone holding the circuit
/// and the powers-of-tau file checks a key against it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// SHA-256 of the circuit's matrices ([`R1cs::sha256`]), hex.
    pub r1cs_sha256: String,
    /// SHA-256 of the powers-of-tau file, hex.
    pub ptau_sha256: String,
    /// The contributions, in order.
    pub contributions: Vec<Contribution>,
}

impl Transcript {
    /// A transcript with no contributions yet.
    pub fn new(r1cs: &R1cs, ptau: &Ptau) -> Transcript {
        Transcript {
            r1cs_sha256: hex::encode(r1cs.sha256()),
            ptau_sha256: hex::encode(ptau.sha256),
            contributions: Vec::new(),
        }
    }

    /// SHA-256 of the transcript's JSON, hex (what receipts name).
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(
            serde_json::to_vec(self).expect("transcripts serialize"),
        ))
    }

    /// The names of the contributors.
    pub fn contributors(&self) -> Vec<String> {
        self.contributions.iter().map(|c| c.name.clone()).collect()
    }

    /// The challenge contribution `i` answers: the transcript before it.
    fn challenge(&self, i: usize) -> Vec<u8> {
        let before = Transcript {
            contributions: self.contributions[..i].to_vec(),
            ..self.clone()
        };
        serde_json::to_vec(&before).expect("transcripts serialize")
    }

    /// Checks the transcript and `key` against the circuit and the file:
    /// it names them, every contribution proves knowledge of its factor
    /// and the deltas chain, and the key is the phase-2 key of the circuit
    /// with the last delta ([`check_key`]).
    pub fn verify(&self, key: &Key, r1cs: &R1cs, ptau: &Ptau) -> Result<()> {
        let last = self.verify_chain(r1cs, ptau)?;
        if key.delta_g1 != last {
            return Err(bad("the key's delta is not the transcript's last"));
        }
        check_key(key, &initial_key(r1cs, ptau)?)
    }

    /// Checks that `vk` (a receipt's verifying key) is the verifying key of
    /// the key this transcript made: the circuit's over the file, with the
    /// transcript's last delta, after at least one contribution.
    pub fn verify_vk(
        &self,
        vk: &zkgate_statement::groth16::VerifyingKey,
        r1cs: &R1cs,
        ptau: &Ptau,
    ) -> Result<()> {
        if self.contributions.is_empty() {
            return Err(bad("the transcript has no contribution"));
        }
        let last = self.verify_chain(r1cs, ptau)?;
        let initial = initial_key(r1cs, ptau)?.vk;
        if vk.alpha_g1 != initial.alpha_g1
            || vk.beta_g2 != initial.beta_g2
            || vk.gamma_g2 != initial.gamma_g2
            || vk.gamma_abc_g1 != initial.gamma_abc_g1
        {
            return Err(bad(
                "the verifying key is not this circuit's over this powers-of-tau file",
            ));
        }
        if Bn254::pairing(last, G2Affine::generator())
            != Bn254::pairing(G1Affine::generator(), vk.delta_g2)
        {
            return Err(bad(
                "the verifying key's delta is not the transcript's last",
            ));
        }
        Ok(())
    }

    /// Checks that the transcript names the circuit and the file and that
    /// its contributions chain; returns the last `[delta]_1`.
    pub fn verify_chain(&self, r1cs: &R1cs, ptau: &Ptau) -> Result<G1Affine> {
        if self.r1cs_sha256 != hex::encode(r1cs.sha256()) {
            return Err(bad("the transcript is for another circuit"));
        }
        if self.ptau_sha256 != hex::encode(ptau.sha256) {
            return Err(bad("the transcript is for another powers-of-tau file"));
        }
        let mut prev = G1Affine::generator();
        for (i, c) in self.contributions.iter().enumerate() {
            let who = format!("contribution {} ({})", i + 1, c.name);
            let delta: G1Affine = from_hex(&c.delta_g1, &who)?;
            let s: G1Affine = from_hex(&c.g1_s, &who)?;
            let sx: G1Affine = from_hex(&c.g1_sx, &who)?;
            let rx: G2Affine = from_hex(&c.g2_rx, &who)?;
            if delta.is_zero() || s.is_zero() || sx.is_zero() || rx.is_zero() {
                return Err(bad(format!("{who}: a zero point")));
            }
            let r = hash_to_g2(&self.challenge(i), &c.name, &s, &sx);
            // Knows x: s x / s = r x / r ...
            if Bn254::pairing(s, rx) != Bn254::pairing(sx, r) {
                return Err(bad(format!("{who}: its proof of knowledge does not hold")));
            }
            // ... and multiplied delta by that x.
            if Bn254::pairing(prev, rx) != Bn254::pairing(delta, r) {
                return Err(bad(format!(
                    "{who}: delta did not change by the factor it proved"
                )));
            }
            prev = delta;
        }
        Ok(prev)
    }
}

/// Hashes the challenge, the contributor's name and `[s]_1, [s x]_1` to a
/// G2 point whose discrete
/// logarithm nobody knows (try-and-increment on the x-coordinate, then the
/// cofactor cleared).
fn hash_to_g2(challenge: &[u8], name: &str, s: &G1Affine, sx: &G1Affine) -> G2Affine {
    let mut seed = Sha256::new();
    seed.update(b"zkgate phase-2 contribution");
    seed.update(Sha256::digest(challenge));
    seed.update(Sha256::digest(name.as_bytes()));
    seed.update(to_hex(s).as_bytes());
    seed.update(to_hex(sx).as_bytes());
    let seed = seed.finalize();
    for counter in 0u64.. {
        let field = |tag: u8| {
            let mut wide = Vec::with_capacity(64);
            for half in 0u8..2 {
                let mut h = Sha256::new();
                h.update(seed);
                h.update(counter.to_le_bytes());
                h.update([tag, half]);
                wide.extend_from_slice(&h.finalize());
            }
            ark_bn254::Fq::from_le_bytes_mod_order(&wide)
        };
        let x = Fq2::new(field(0), field(1));
        if let Some(p) = G2Affine::get_point_from_x_unchecked(x, counter % 2 == 0) {
            let p = p.clear_cofactor();
            if !p.is_zero() {
                return p;
            }
        }
    }
    unreachable!("about half of all x-coordinates are on the curve")
}

/// Adds a contribution: multiplies delta by a fresh secret (dropped when
/// this returns), divides the H and L queries by it, and records the proof
/// of knowledge in the transcript.
pub fn contribute<R: RngCore + CryptoRng>(
    key: &mut Key,
    transcript: &mut Transcript,
    name: &str,
    rng: &mut R,
) -> Result<()> {
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(bad("a contributor's name is 1-128 printable characters"));
    }
    let mut x = Fr::rand(rng);
    while x.is_zero() {
        x = Fr::rand(rng);
    }
    let x_inv = x.inverse().expect("not zero");
    let s = (G1Projective::generator() * Fr::rand(rng)).into_affine();
    let sx = (s * x).into_affine();
    let r = hash_to_g2(
        &transcript.challenge(transcript.contributions.len()),
        name,
        &s,
        &sx,
    );
    let rx = (r * x).into_affine();
    key.delta_g1 = (key.delta_g1 * x).into_affine();
    key.vk.delta_g2 = (key.vk.delta_g2 * x).into_affine();
    let scale = |v: &mut Vec<G1Affine>| {
        let scaled: Vec<G1Projective> = v.par_iter().map(|p| *p * x_inv).collect();
        *v = G1Projective::normalize_batch(&scaled);
    };
    scale(&mut key.h_query);
    scale(&mut key.l_query);
    transcript.contributions.push(Contribution {
        name: name.to_string(),
        delta_g1: to_hex(&key.delta_g1),
        g1_s: to_hex(&s),
        g1_sx: to_hex(&sx),
        g2_rx: to_hex(&rx),
    });
    Ok(())
}

/// Checks that `key` is a phase-2 key of the circuit whose delta-1 key is
/// `initial`: every part but delta equal, delta the same in both groups and
/// not zero, and the H and L queries the initial ones divided by delta
/// (checked on a random linear combination). A key made any other way is
/// refused before it is used to prove.
pub fn check_key(key: &Key, initial: &Key) -> Result<()> {
    if !phase2::same_delta_free_parts(key, initial) {
        return Err(bad(
            "the key's queries are not this circuit's over this powers-of-tau file",
        ));
    }
    if key.delta_g1.is_zero() || key.vk.delta_g2.is_zero() {
        return Err(bad("delta is zero"));
    }
    let g1 = G1Affine::generator();
    let g2 = G2Affine::generator();
    if Bn254::pairing(key.delta_g1, g2) != Bn254::pairing(g1, key.vk.delta_g2) {
        return Err(bad("delta differs between G1 and G2"));
    }
    let mut rng = rand::rngs::OsRng;
    for (name, got, want) in [
        ("H", &key.h_query, &initial.h_query),
        ("L", &key.l_query, &initial.l_query),
    ] {
        if got.is_empty() {
            continue;
        }
        let r: Vec<Fr> = (0..got.len()).map(|_| Fr::rand(&mut rng)).collect();
        let a = G1Projective::msm_unchecked(got, &r).into_affine();
        let b = G1Projective::msm_unchecked(want, &r).into_affine();
        if Bn254::pairing(a, key.vk.delta_g2) != Bn254::pairing(b, g2) {
            return Err(bad(format!(
                "the {name} query is not the circuit's divided by delta"
            )));
        }
    }
    Ok(())
}

/// The constraint matrices of a job's circuit (no witness).
pub fn r1cs_of(spec: &crate::spec::CircuitSpec) -> Result<R1cs> {
    R1cs::of(crate::circuit::JobCircuit {
        spec,
        witness: None,
        counts: None,
    })
}

/// A ceremony's outcome, as a prover uses it: the file, the key and its
/// transcript.
pub struct Ceremony<'a> {
    /// The powers-of-tau file.
    pub ptau: &'a Ptau,
    /// The key after every contribution.
    pub key: &'a Key,
    /// Who contributed.
    pub transcript: &'a Transcript,
}

impl Ceremony<'_> {
    /// Checks the key and its transcript against the job's circuit before
    /// it proves anything (see [`Transcript::verify`]).
    /// Its errors are the job's ([`Error::Job`]): the key's sender sees
    /// why it was refused.
    pub fn check(&self, spec: &crate::spec::CircuitSpec) -> Result<()> {
        if self.transcript.contributions.is_empty() {
            return Err(Error::Job(
                "ceremony: the key has no contribution: its delta is 1, so anyone could forge with it"
                    .into(),
            ));
        }
        self.transcript
            .verify(self.key, &r1cs_of(spec)?, self.ptau)
            .map_err(|e| match e {
                Error::Proof(m) => Error::Job(m),
                other => other,
            })
    }
}

/// Writes a key (compressed points).
pub fn key_to_bytes(key: &Key) -> Vec<u8> {
    let mut out = Vec::new();
    key.serialize_compressed(&mut out).expect("serializes");
    out
}

/// Reads a key, checking every point is in its group.
pub fn key_from_bytes(bytes: &[u8]) -> Result<Key> {
    Key::deserialize_compressed(bytes).map_err(|e| bad(format!("key: {e}")))
}

/// Reads a key and its transcript (JSON), as a contributor hands them on.
pub fn read(key: &[u8], transcript: &[u8]) -> Result<(Key, Transcript)> {
    let t = serde_json::from_slice(transcript).map_err(|e| bad(format!("transcript: {e}")))?;
    Ok((key_from_bytes(key)?, t))
}

/// The receipt's `setup` line for a ceremony key.
pub fn setup_line(transcript: &Transcript) -> String {
    format!(
        "ceremony: phase 2 over powers of tau {} by {}; transcript {}",
        &transcript.ptau_sha256[..16],
        transcript.contributors().join(", "),
        transcript.sha256()
    )
}

#[cfg(test)]
mod tests;
