//! Groth16 keys from a ceremony, so the data owner who proves cannot forge.
//!
//! Phase 1 is a public powers-of-tau file ([`ptau`], snarkjs's format). The
//! phase-2 key of a circuit ([`phase2::initial_key`]) follows from the
//! circuit and the file alone, with delta = 1. Each contributor multiplies
//! delta by a secret `x` (dividing the H and L queries by it) and publishes
//! a proof of knowledge of `x` in the style of Bowe-Gabizon-Miers 2017, as
//! snarkjs does it, so either tool checks the other's contributions: a
//! random `[s]_1`, `[s x]_1`, and `[r x]_2` where `[r]_2` hashes (BLAKE2b,
//! then [`hash_to_g2()`]) the circuit hash, every earlier contribution and
//! `[s]_1, [s x]_1` to G2 (so `x` cannot be chosen as a function of
//! earlier contributions to cancel them). The key is sound if any one
//! contributor threw `x` away. Keys travel as snarkjs `.zkey` files
//! ([`snarkjs::write_zkey`]) with their transcript inside. [`check_key`] is
//! what a prover runs before proving (subversion zero-knowledge: a key that
//! is not a phase-2 key of this circuit over the file could make proofs
//! leak the witness) and [`Transcript::verify`] what anyone runs to check
//! who contributed.

mod binfile;
mod g2_group;
pub mod hash_to_g2;
pub mod phase2;
pub mod ptau;
pub mod reduction;
pub mod snarkjs;

use crate::error::{Error, Result};
use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::{Field, UniformRand, Zero};
use blake2::{Blake2b512, Digest};
use rand::{CryptoRng, RngCore};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use hash_to_g2::hash_to_g2;
pub use phase2::{check_key, initial_key, R1cs};
pub use ptau::Ptau;
pub use reduction::OddCosetReduction;

/// A phase-2 proving key.
pub type Key = ark_groth16::ProvingKey<Bn254>;

fn bad(m: impl std::fmt::Display) -> Error {
    Error::Proof(format!("ceremony: {m}"))
}

/// The longest name a contribution keeps (snarkjs keeps 64 characters).
pub const MAX_NAME: usize = 64;

/// One contribution's public record, as snarkjs keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// Who contributed (as they named themselves; not hashed: a label).
    pub name: String,
    /// `[delta]_1` after this contribution.
    #[serde(with = "hex_point")]
    pub delta_after: G1Affine,
    /// `[s]_1`.
    #[serde(with = "hex_point")]
    pub g1_s: G1Affine,
    /// `[s x]_1`.
    #[serde(with = "hex_point")]
    pub g1_sx: G1Affine,
    /// `[r x]_2`, `[r]_2` = [`hash_to_g2()`] of `transcript`.
    #[serde(with = "hex_point")]
    pub g2_spx: G2Affine,
    /// BLAKE2b of the circuit hash, the earlier contributions and
    /// `[s]_1, [s x]_1`, hex.
    #[serde(with = "hex_bytes")]
    pub transcript: [u8; 64],
}

/// What a key was made from and who changed it: anyone holding the circuit
/// and the powers-of-tau file checks a key against it. The same record as
/// a snarkjs `.zkey`'s section 10.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// snarkjs's circuit hash of the delta-1 key ([`snarkjs::cs_hash`]):
    /// names the circuit and the powers-of-tau file.
    #[serde(with = "hex_bytes")]
    pub cs_hash: [u8; 64],
    /// The contributions, in order.
    pub contributions: Vec<Contribution>,
}

mod hex_point {
    use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: CanonicalSerialize, S: Serializer>(p: &T, s: S) -> Result<S::Ok, S::Error> {
        let mut b = Vec::new();
        p.serialize_compressed(&mut b)
            .map_err(serde::ser::Error::custom)?;
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, T: CanonicalDeserialize, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        let b = hex::decode(text).map_err(serde::de::Error::custom)?;
        T::deserialize_compressed(b.as_slice()).map_err(serde::de::Error::custom)
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text)
            .map_err(serde::de::Error::custom)?
            .try_into()
            .map_err(|_| serde::de::Error::custom("expected 64 bytes"))
    }
}

/// Adds a contribution's public key to a transcript hash (snarkjs's
/// `hashPubKey`).
fn hash_contribution(c: &Contribution, h: &mut Blake2b512) {
    snarkjs::hash_g1(&c.delta_after, h);
    snarkjs::hash_g1(&c.g1_s, h);
    snarkjs::hash_g1(&c.g1_sx, h);
    snarkjs::hash_g2(&c.g2_spx, h);
    h.update(c.transcript);
}

impl Contribution {
    /// The contribution's hash, as `snarkjs zkey contribute` prints it:
    /// BLAKE2b-512 of its public record (which chains every earlier
    /// contribution through `transcript`). A verifier names the
    /// contribution it trusts by this hash, never by its name.
    pub fn hash(&self) -> [u8; 64] {
        let mut h = Blake2b512::new();
        hash_contribution(self, &mut h);
        h.finalize().into()
    }
}

/// Whether `e(a, b) = e(c, d)`, none of them zero (snarkjs's `sameRatio`).
fn same_ratio(a: G1Affine, b: G2Affine, c: G1Affine, d: G2Affine) -> bool {
    !(a.is_zero() || b.is_zero() || c.is_zero() || d.is_zero())
        && Bn254::multi_pairing([a, -c], [b, d]).is_zero()
}

impl Transcript {
    /// The transcript of the delta-1 key `initial` of a circuit over
    /// `ptau`: no contributions yet.
    pub fn new(initial: &Key, ptau: &Ptau) -> Result<Transcript> {
        Ok(Transcript {
            cs_hash: snarkjs::cs_hash(initial, ptau)?,
            contributions: Vec::new(),
        })
    }

    /// The transcript as a `.zkey`'s section 10: the circuit hash, a count,
    /// and per contribution delta, `[s]_1`, `[s x]_1`, `[r x]_2`, the
    /// transcript hash, a type (0) and the name as a parameter.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.cs_hash.to_vec();
        out.extend((self.contributions.len() as u32).to_le_bytes());
        for c in &self.contributions {
            ptau::write_g1(&c.delta_after, &mut out);
            ptau::write_g1(&c.g1_s, &mut out);
            ptau::write_g1(&c.g1_sx, &mut out);
            ptau::write_g2(&c.g2_spx, &mut out);
            out.extend(c.transcript);
            out.extend(0u32.to_le_bytes());
            let name = c.name.as_bytes();
            if name.is_empty() {
                out.extend(0u32.to_le_bytes());
            } else {
                out.extend((name.len() as u32 + 2).to_le_bytes());
                out.extend([1, name.len() as u8]);
                out.extend(name);
            }
        }
        out
    }

    /// Reads a `.zkey`'s section 10. Beacon contributions (type 1) are
    /// refused: nothing here recomputes a beacon.
    pub fn from_bytes(b: &[u8]) -> Result<Transcript> {
        let named = |e| ptau::in_file(e, "ceremony: the transcript");
        let g1 = |b: &[u8]| ptau::read_g1(b).map_err(named);
        let g2 = |b: &[u8]| ptau::read_g2(b).map_err(named);
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = b
                .get(at..at + n)
                .ok_or_else(|| bad("the transcript is truncated"))?;
            at += n;
            Ok(s)
        };
        let cs_hash: [u8; 64] = take(64)?.try_into().expect("64 bytes");
        let u32_of = |s: &[u8]| u32::from_le_bytes(s.try_into().expect("4 bytes"));
        let count = u32_of(take(4)?);
        let mut contributions = Vec::new();
        for i in 0..count {
            let delta_after = g1(take(64)?)?;
            let g1_s = g1(take(64)?)?;
            let g1_sx = g1(take(64)?)?;
            let g2_spx = g2(take(128)?)?;
            let transcript: [u8; 64] = take(64)?.try_into().expect("64 bytes");
            if u32_of(take(4)?) != 0 {
                return Err(bad(format!(
                    "contribution {}: a beacon or another kind of contribution, which is not checked here",
                    i + 1
                )));
            }
            let len = u32_of(take(4)?) as usize;
            let params = take(len)?;
            let name = match params {
                [] => String::new(),
                [1, n, rest @ ..] if rest.len() == *n as usize => String::from_utf8(rest.to_vec())
                    .map_err(|_| bad(format!("contribution {}: its name is not UTF-8", i + 1)))?,
                _ => {
                    return Err(bad(format!(
                        "contribution {}: parameters other than a name",
                        i + 1
                    )))
                }
            };
            contributions.push(Contribution {
                name,
                delta_after,
                g1_s,
                g1_sx,
                g2_spx,
                transcript,
            });
        }
        if at != b.len() {
            return Err(bad("bytes after the transcript's last contribution"));
        }
        Ok(Transcript {
            cs_hash,
            contributions,
        })
    }

    /// SHA-256 of [`Transcript::to_bytes`], hex (what receipts name).
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.to_bytes()))
    }

    /// Whether the contribution with this hash (hex, 128 characters,
    /// whitespace ignored as snarkjs prints it in lines) is in the
    /// transcript.
    pub fn contains(&self, hash: &str) -> bool {
        let want: String = hash
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        self.contributions
            .iter()
            .any(|c| hex::encode(c.hash()) == want)
    }

    /// The names of the contributors.
    pub fn contributors(&self) -> Vec<String> {
        self.contributions
            .iter()
            .map(|c| match c.name.as_str() {
                "" => "(unnamed)".to_string(),
                n => n.to_string(),
            })
            .collect()
    }

    /// The transcript hash the next contribution must answer: BLAKE2b of
    /// the circuit hash and every contribution so far.
    fn hasher(&self, upto: usize) -> Blake2b512 {
        let mut h = Blake2b512::new();
        h.update(self.cs_hash);
        self.contributions[..upto]
            .iter()
            .for_each(|c| hash_contribution(c, &mut h));
        h
    }

    /// Checks the transcript and `key` against the circuit and the file:
    /// the key is the phase-2 key of the circuit with the last delta
    /// ([`check_key`], on random linear combinations), the transcript
    /// names the circuit ([`circuit_hash`]), every contribution proves
    /// knowledge of its factor and the deltas chain.
    pub fn verify(&self, key: &Key, r1cs: &R1cs, ptau: &Ptau) -> Result<()> {
        check_key(key, r1cs, ptau, &mut rand::rngs::OsRng)?;
        let cs = if key.delta_g1 == G1Affine::generator() {
            // Checked with delta 1, the key is the delta-1 key.
            let cs = snarkjs::cs_hash(key, ptau)?;
            remember(r1cs, ptau, cs);
            cs
        } else {
            circuit_hash_with(r1cs, ptau, Some(key))?
        };
        let last = self.chain(cs)?;
        if key.delta_g1 != last {
            return Err(bad("the key's delta is not the transcript's last"));
        }
        Ok(())
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
        let last = self.chain(circuit_hash(r1cs, ptau)?)?;
        let (alpha_g1, _, beta_g2) = ptau.alpha_beta()?;
        if vk.alpha_g1 != alpha_g1
            || vk.beta_g2 != beta_g2
            || vk.gamma_g2 != G2Affine::generator()
            || vk.gamma_abc_g1 != phase2::input_points(r1cs, ptau)?
        {
            return Err(bad(
                "the verifying key is not this circuit's over this powers-of-tau file",
            ));
        }
        if !same_ratio(
            G1Affine::generator(),
            vk.delta_g2,
            last,
            G2Affine::generator(),
        ) {
            return Err(bad(
                "the verifying key's delta is not the transcript's last",
            ));
        }
        Ok(())
    }

    /// Checks that the transcript is of the circuit whose circuit hash is
    /// `cs` and that its contributions chain, as `snarkjs zkey verify`
    /// does; returns the last `[delta]_1`.
    fn chain(&self, cs: [u8; 64]) -> Result<G1Affine> {
        if self.cs_hash != cs {
            return Err(bad(
                "the transcript is for another circuit or another powers-of-tau file",
            ));
        }
        let mut prev = G1Affine::generator();
        let mut h = Blake2b512::new();
        h.update(self.cs_hash);
        for (i, c) in self.contributions.iter().enumerate() {
            let who = format!("contribution {} ({})", i + 1, self.contributors()[i]);
            let mut own = h.clone();
            snarkjs::hash_g1(&c.g1_s, &mut own);
            snarkjs::hash_g1(&c.g1_sx, &mut own);
            if own.finalize()[..] != c.transcript[..] {
                return Err(bad(format!("{who}: its transcript hash does not hold")));
            }
            let r = hash_to_g2(&c.transcript);
            // Knows x: s x / s = r x / r ...
            if !same_ratio(c.g1_s, c.g2_spx, c.g1_sx, r) {
                return Err(bad(format!("{who}: its proof of knowledge does not hold")));
            }
            // ... and multiplied delta by that x.
            if !same_ratio(prev, c.g2_spx, c.delta_after, r) {
                return Err(bad(format!(
                    "{who}: delta did not change by the factor it proved"
                )));
            }
            hash_contribution(c, &mut h);
            prev = c.delta_after;
        }
        Ok(prev)
    }
}

/// Adds a contribution: multiplies delta by a fresh secret (dropped when
/// this returns), divides the H and L queries by it, and records the proof
/// of knowledge in the transcript (as `snarkjs zkey contribute` does).
pub fn contribute<R: RngCore + CryptoRng>(
    key: &mut Key,
    transcript: &mut Transcript,
    name: &str,
    rng: &mut R,
) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(bad(format!(
            "a contributor's name is 1-{MAX_NAME} bytes of printable characters"
        )));
    }
    let mut x = Fr::rand(rng);
    while x.is_zero() {
        x = Fr::rand(rng);
    }
    let x_inv = x.inverse().expect("not zero");
    let g1_s = (G1Projective::generator() * Fr::rand(rng)).into_affine();
    let g1_sx = (g1_s * x).into_affine();
    let mut h = transcript.hasher(transcript.contributions.len());
    snarkjs::hash_g1(&g1_s, &mut h);
    snarkjs::hash_g1(&g1_sx, &mut h);
    let hash: [u8; 64] = h.finalize().into();
    let g2_spx = (hash_to_g2(&hash) * x).into_affine();
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
        delta_after: key.delta_g1,
        g1_s,
        g1_sx,
        g2_spx,
        transcript: hash,
    });
    Ok(())
}

/// Keys checked in this process ([`Ceremony`]'s digest), at most this
/// many remembered.
static CHECKED: std::sync::Mutex<std::collections::BTreeSet<[u8; 32]>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());
const MAX_CHECKED: usize = 256;

/// Circuit hashes computed in this process, by the circuit's and the
/// file's SHA-256: a gateway checks many keys of one circuit, and the hash
/// of a key after contributions needs the delta-1 key's L query.
static CIRCUIT_HASHES: std::sync::Mutex<std::collections::BTreeMap<CircuitAndFile, [u8; 64]>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// A circuit's SHA-256 and a powers-of-tau file's.
type CircuitAndFile = ([u8; 32], [u8; 32]);

fn remember(r1cs: &R1cs, ptau: &Ptau, cs: [u8; 64]) {
    CIRCUIT_HASHES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert((r1cs.sha256(), ptau.sha256), cs);
}

/// snarkjs's circuit hash of `r1cs` over `ptau` (what a transcript starts
/// from), computed once per process: from the delta-1 key.
pub fn circuit_hash(r1cs: &R1cs, ptau: &Ptau) -> Result<[u8; 64]> {
    circuit_hash_with(r1cs, ptau, None)
}

/// The same, from `checked` (a key of the circuit already checked with
/// [`check_key`]) when given: only the delta-1 key's L query is computed.
fn circuit_hash_with(r1cs: &R1cs, ptau: &Ptau, checked: Option<&Key>) -> Result<[u8; 64]> {
    let id = (r1cs.sha256(), ptau.sha256);
    if let Some(cs) = CIRCUIT_HASHES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&id)
    {
        return Ok(*cs);
    }
    let cs = match checked {
        Some(key) => snarkjs::cs_hash_with(key, &phase2::initial_l_query(r1cs, ptau)?, ptau)?,
        None => snarkjs::cs_hash(&initial_key(r1cs, ptau)?, ptau)?,
    };
    remember(r1cs, ptau, cs);
    Ok(cs)
}

/// Forgets which keys were checked so far (benchmarks time a check of a
/// key with it).
pub fn forget_checked_keys() {
    CHECKED.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// Forgets the circuit hashes computed so far (benchmarks time the first
/// check of a circuit with it).
pub fn forget_circuit_hashes() {
    CIRCUIT_HASHES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
}

/// The constraint matrices of a job's circuit (no witness).
pub fn r1cs_of(spec: &crate::spec::CircuitSpec) -> Result<R1cs> {
    R1cs::of(crate::circuit::JobCircuit {
        spec,
        witness: None,
        counts: None,
        tape: Default::default(),
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
        self.check_r1cs(&r1cs_of(spec)?)
    }

    fn check_r1cs(&self, r1cs: &R1cs) -> Result<()> {
        if self.transcript.contributions.is_empty() {
            return Err(Error::Job(
                "ceremony: the key has no contribution: its delta is 1, so anyone could forge with it"
                    .into(),
            ));
        }
        // A key and transcript checked for this circuit and file before, in
        // this process, hold still (a kept key, proving again).
        let id = self.digest(r1cs);
        let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
        if checked.contains(&id) {
            return Ok(());
        }
        drop(checked);
        self.transcript
            .verify(self.key, r1cs, self.ptau)
            .map_err(|e| match e {
                Error::Proof(m) => Error::Job(m),
                other => other,
            })?;
        checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
        if checked.len() >= MAX_CHECKED {
            checked.clear();
        }
        checked.insert(id);
        Ok(())
    }

    /// SHA-256 of the key, its transcript, the circuit and the file.
    fn digest(&self, r1cs: &R1cs) -> [u8; 32] {
        use ark_serialize::CanonicalSerialize;
        use sha2::Digest as _;
        struct Hashing(Sha256);
        impl std::io::Write for Hashing {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.update(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut h = Hashing(Sha256::new());
        h.0.update(self.ptau.sha256);
        h.0.update(r1cs.sha256());
        h.0.update(self.transcript.to_bytes());
        self.key
            .serialize_uncompressed(&mut h)
            .expect("hashing does not fail");
        h.0.finalize().into()
    }

    /// Whether the key has the sizes of `r1cs`'s keys (a cheap test before
    /// the check).
    fn fits(&self, r1cs: &R1cs) -> bool {
        self.key.a_query.len() == r1cs.variables()
            && self.key.h_query.len() == r1cs.domain()
            && self.key.vk.gamma_abc_g1.len() == r1cs.instance
    }
}

/// Pairs each circuit of a job's shard plan with its ceremony key, in the
/// circuits' order, each checked against its circuit: a circuit without a
/// key, or a key for no circuit of the plan, is the job's error, naming
/// the circuit (its id and shard rows) or the key's position.
pub fn match_keys<'c, 'a>(
    keys: &'c [Ceremony<'a>],
    specs: &[crate::spec::CircuitSpec],
) -> Result<Vec<(&'c Ceremony<'a>, crate::spec::CircuitSpec)>> {
    let mut left: Vec<(usize, &Ceremony)> = keys.iter().enumerate().collect();
    let mut out = Vec::with_capacity(specs.len());
    for s in specs {
        let r1cs = r1cs_of(s)?;
        let name = format!(
            "circuit {} (shards of {} rows)",
            zkgate_statement::field::fr_to_hex(s.id()),
            s.header().shard_rows
        );
        let mut why = None;
        let mut found = None;
        for (at, (_, c)) in left.iter().enumerate().filter(|(_, (_, c))| c.fits(&r1cs)) {
            match c.check_r1cs(&r1cs) {
                Ok(()) => {
                    found = Some(at);
                    break;
                }
                Err(e) => why = Some(e),
            }
        }
        match (found, why) {
            (Some(at), _) => out.push((left.remove(at).1, s.clone())),
            (None, Some(Error::Job(m))) => {
                return Err(Error::Job(format!("ceremony: the key for {name}: {m}")))
            }
            (None, Some(e)) => return Err(e),
            (None, None) => {
                return Err(Error::Job(format!(
                "ceremony: no key for {name} of this job's shard plan ({} circuits; {} keys sent)",
                specs.len(),
                keys.len()
            )))
            }
        }
    }
    if let Some((i, _)) = left.first() {
        return Err(Error::Job(format!(
            "ceremony: key {} of {} is for no circuit of this job's shard plan",
            i + 1,
            keys.len()
        )));
    }
    Ok(out)
}

/// A key and its transcript as a snarkjs `.zkey` file for `r1cs`: what
/// contributors hand on, and what `snarkjs zkey verify` and `snarkjs zkey
/// contribute` take.
pub fn write(key: &Key, transcript: &Transcript, r1cs: &R1cs) -> Result<Vec<u8>> {
    snarkjs::write_zkey(key, transcript, r1cs)
}

/// Reads a `.zkey` file: the key (points on their curves and in their
/// groups) and its transcript; neither is checked against a circuit yet.
pub fn read(zkey: &[u8]) -> Result<(Key, Transcript)> {
    snarkjs::read_zkey(zkey)
}

/// The receipt's `setup` line for a ceremony key over `ptau`.
pub fn setup_line(transcript: &Transcript, ptau: &Ptau) -> String {
    format!(
        "ceremony: phase 2 over powers of tau {} by {}; transcript {}",
        ptau.describe(),
        transcript.contributors().join(", "),
        transcript.sha256()
    )
}

#[cfg(test)]
mod tests;
