//! The second proof system: ezkl (halo2 with KZG over a universal SRS), for
//! questions that name it (`proof_system: ezkl`).
//!
//! Everything here is data and rules, no I/O: which job graph a question
//! stands for ([`GraphSpec`], built from the question's circuit header, so
//! prover and verifier derive the same one), the dataset tensor the graph
//! hashes (the stored integers row by row, then a salt: [`dataset_values`],
//! [`salt_limbs`]), the job binding ([`binding_limbs`]), the receipt's
//! ezkl part ([`EzklProof`]) and how its values read ([`decode`]). Running
//! ezkl is the `zkgate-ezkl` crate's.
//!
//! What ezkl proves differs from the Groth16 circuit in three ways, all
//! checked where the job is accepted: no noise (a question with an epsilon
//! is refused), no small-cell suppression (a release policy that would
//! suppress is refused), and its own quantization (the values are ezkl's,
//! at the output scale its compiler fixes, not the header's).

use crate::aggregate::Aggregate;
use crate::error::{Error, Result};
use crate::header::SpecHeader;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zkgate_circuits::Fr;

/// The proof system a question asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProofSystem {
    /// zkgate's own circuits, Groth16 over BN254 (the default).
    #[default]
    Groth16,
    /// ezkl: halo2 with KZG over a universal SRS (no ceremony; small jobs).
    Ezkl,
}

impl ProofSystem {
    /// Whether this is the default (omitted from questions and receipts,
    /// so their hashes do not change for Groth16).
    pub fn is_default(&self) -> bool {
        *self == ProofSystem::Groth16
    }

    /// The name questions and policies use.
    pub fn name(self) -> &'static str {
        match self {
            ProofSystem::Groth16 => "groth16",
            ProofSystem::Ezkl => "ezkl",
        }
    }
}

/// Salt elements appended to the dataset tensor (ezkl range-checks its
/// inputs, so the salt is spread over small elements).
pub const SALT_LIMBS: usize = 8;
/// Bits of each salt element: 8 x 24 = 192 bits of salt.
pub const SALT_LIMB_BITS: u32 = 24;
/// Elements of the binding tensor: the job nonce in 16-bit limbs.
pub const BINDING_LIMBS: usize = 16;
/// Highest input scale of an ezkl job graph: a column declared at a finer
/// scale is read at this one (ezkl's lookups grow with the scale).
pub const MAX_INPUT_SCALE: i32 = 10;

/// The dataset's ezkl salt, derived from its secret salt (so nothing more
/// is stored): SHA-256 of a tag and the salt, cut into [`SALT_LIMBS`]
/// elements of [`SALT_LIMB_BITS`] bits.
pub fn salt_limbs(salt: Fr) -> Vec<i64> {
    use ark_ff::{BigInteger, PrimeField};
    let mut h = Sha256::new();
    h.update(b"zkgate.ezkl.salt.v1");
    h.update(salt.into_bigint().to_bytes_be());
    let d = h.finalize();
    d.chunks(3)
        .take(SALT_LIMBS)
        .map(|c| i64::from(c[0]) << 16 | i64::from(c[1]) << 8 | i64::from(c[2]))
        .collect()
}

/// The job nonce in [`BINDING_LIMBS`] limbs of 16 bits, least significant
/// first: the graph's second input, whose hash is a public instance.
pub fn binding_limbs(nonce: Fr) -> Vec<i64> {
    use ark_ff::{BigInteger, PrimeField};
    let le = nonce.into_bigint().to_bytes_le();
    le.chunks(2)
        .take(BINDING_LIMBS)
        .map(|c| i64::from(c[0]) | i64::from(*c.get(1).unwrap_or(&0)) << 8)
        .collect()
}

/// The tensor an ezkl dataset hash covers: every stored integer, row by
/// row, every column (`columns` is column-major, as datasets are held),
/// then the salt's limbs.
pub fn dataset_values(columns: &[Vec<i64>], salt: Fr) -> Vec<i64> {
    let rows = columns.first().map_or(0, Vec::len);
    let mut v: Vec<i64> = (0..rows)
        .flat_map(|r| columns.iter().map(move |c| c[r]))
        .collect();
    v.extend(salt_limbs(salt));
    v
}

/// The job graph's description, which the driver turns into ONNX the same
/// way for prover and verifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphSpec {
    /// Rows of the dataset (all are proved: an ezkl job is one proof).
    pub rows: u64,
    /// Columns of the dataset.
    pub columns: usize,
    /// Dataset columns the graph reads: the model's inputs, then the label.
    pub used: Vec<usize>,
    /// Per used column, `2^(input_scale - scale)`.
    pub multipliers: Vec<f64>,
    /// Positions in `used` of the model's inputs, in order.
    pub features: Vec<usize>,
    /// Position in `used` of the label.
    pub label: Option<usize>,
    /// The aggregate.
    pub aggregate: Aggregate,
    /// The model's outputs (classes for class aggregates).
    pub outputs: usize,
    /// Values the graph outputs.
    pub values: usize,
    /// ezkl's input scale.
    pub input_scale: i32,
    /// ezkl's parameter scale.
    pub param_scale: i32,
    /// Salt elements after the rows.
    pub salt_len: usize,
    /// Elements of the binding input.
    pub binding_len: usize,
    /// Per dataset column, the least stored integer (calibration).
    pub bounds_lo: Vec<i64>,
    /// Per dataset column, the greatest stored integer (calibration).
    pub bounds_hi: Vec<i64>,
}

impl GraphSpec {
    /// The graph of the job `header` describes over `rows` rows.
    pub fn new(header: &SpecHeader, rows: u64) -> Result<GraphSpec> {
        if header.params.noise.is_some() {
            return Err(Error::Serialization(
                "ezkl proves no differential-privacy noise: ask without epsilon, or with groth16"
                    .into(),
            ));
        }
        if header.params.suppress_below > 0 {
            return Err(Error::Serialization(
                "ezkl proves no small-cell suppression".into(),
            ));
        }
        let schema = &header.schema;
        let mut used = header.input_columns.clone();
        let label = header.label_column.map(|l| {
            used.push(l);
            used.len() - 1
        });
        let scales: Vec<i32> = used.iter().map(|u| schema.columns[*u].scale()).collect();
        let finest = scales.iter().copied().max().unwrap_or(0);
        let input_scale = finest.clamp(0, MAX_INPUT_SCALE);
        let param_scale = input_scale.max(finest - input_scale);
        let classes = header.params.classes;
        let (bounds_lo, bounds_hi) = schema.columns.iter().map(|c| c.range()).unzip();
        Ok(GraphSpec {
            rows,
            columns: schema.columns.len(),
            multipliers: scales.iter().map(|s| 2f64.powi(input_scale - s)).collect(),
            features: (0..header.input_columns.len()).collect(),
            label,
            used,
            aggregate: header.aggregate.clone(),
            outputs: if header.aggregate.needs_classes() {
                classes
            } else {
                header.outputs
            },
            values: header.aggregate_len(),
            input_scale,
            param_scale,
            salt_len: SALT_LIMBS,
            binding_len: BINDING_LIMBS,
            bounds_lo,
            bounds_hi,
        })
    }
}

/// An ezkl field element as ezkl writes it (32 bytes little-endian, hex)
/// read as a field element; a value not below the modulus is refused.
pub fn felt_to_fr(s: &str) -> Result<Fr> {
    use ark_ff::{BigInteger, PrimeField};
    let bad = || Error::Serialization(format!("`{s}` is not an ezkl field element"));
    let mut b = hex::decode(s.trim_start_matches("0x")).map_err(|_| bad())?;
    if b.len() != 32 {
        return Err(bad());
    }
    b.reverse();
    let x = Fr::from_be_bytes_mod_order(&b);
    if x.into_bigint().to_bytes_be() != b {
        return Err(bad());
    }
    Ok(x)
}

/// A field element as ezkl writes it (the inverse of [`felt_to_fr`]).
pub fn fr_to_felt(x: Fr) -> String {
    use ark_ff::{BigInteger, PrimeField};
    hex::encode(x.into_bigint().to_bytes_le())
}

/// The ezkl part of a receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EzklProof {
    /// ezkl's proof file (its JSON, with the public instances).
    pub proof: serde_json::Value,
    /// ezkl's settings the circuit was compiled with (the verifier checks
    /// the pinned run arguments and compiles the question's graph with
    /// them).
    pub settings: serde_json::Value,
    /// The circuit's rows, `2^logrows`: the SRS file the verifier needs.
    pub logrows: u32,
    /// SHA-256 of the SRS file proved over (for the record: the verifier
    /// verifies with its own file).
    pub srs_sha256: String,
    /// The dataset's published ezkl hash (the first public instance).
    pub dataset_hash: String,
    /// The scale of the values (ezkl's output scale).
    pub output_scale: i32,
}

/// The values of an ezkl receipt read as numbers, in the same shape as a
/// Groth16 receipt's `result` for the aggregate: counts as they are,
/// sums and errors divided by `2^scale` (and by the rows for means).
pub fn decode(header: &SpecHeader, rows: u64, values: &[i128], scale: i32) -> serde_json::Value {
    let unit = |v: i128| v as f64 / 2f64.powi(scale);
    let n = rows as f64;
    match &header.aggregate {
        Aggregate::Sum => {
            serde_json::json!({ "sum": values.iter().map(|v| unit(*v)).collect::<Vec<_>>() })
        }
        Aggregate::Mean => {
            serde_json::json!({ "mean": values.iter().map(|v| unit(*v) / n).collect::<Vec<_>>() })
        }
        Aggregate::Mse { .. } => serde_json::json!({ "mse": unit(values[0]) / n }),
        Aggregate::Mae { .. } => serde_json::json!({ "mae": unit(values[0]) / n }),
        _ => header.decode(rows, values),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::PrimeField;

    #[test]
    fn binding_limbs_hold_the_nonce() {
        let nonce = Fr::from(0x1234_5678_9abc_u64);
        let limbs = binding_limbs(nonce);
        assert_eq!(limbs.len(), BINDING_LIMBS);
        assert_eq!(&limbs[..3], &[0x9abc, 0x5678, 0x1234]);
        let back = limbs.iter().rev().fold(Fr::from(0u8), |a, l| {
            a * Fr::from(1u64 << 16) + Fr::from(*l as u64)
        });
        assert_eq!(back, nonce);
        let big = Fr::from_be_bytes_mod_order(&[0xab; 32]);
        let back = binding_limbs(big).iter().rev().fold(Fr::from(0u8), |a, l| {
            a * Fr::from(1u64 << 16) + Fr::from(*l as u64)
        });
        assert_eq!(back, big);
        assert_ne!(binding_limbs(nonce + Fr::from(1u8)), limbs);
    }

    #[test]
    fn felts_read_little_endian_and_refuse_non_elements() {
        let x = Fr::from(0x603cu64);
        assert_eq!(fr_to_felt(x), format!("3c60{}", "0".repeat(60)));
        assert_eq!(felt_to_fr(&fr_to_felt(x)).unwrap(), x);
        let big = Fr::from_be_bytes_mod_order(&[0xab; 32]);
        assert_eq!(felt_to_fr(&fr_to_felt(big)).unwrap(), big);
        // The modulus itself, and malformed strings.
        assert!(felt_to_fr(&"ff".repeat(32)).is_err());
        assert!(felt_to_fr("3c60").is_err());
        assert!(felt_to_fr(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn salt_limbs_are_small_and_follow_the_salt() {
        let a = salt_limbs(Fr::from(7u8));
        assert_eq!(a.len(), SALT_LIMBS);
        assert!(a.iter().all(|l| (0..1 << SALT_LIMB_BITS).contains(l)));
        assert_ne!(a, salt_limbs(Fr::from(8u8)));
        // Two columns of two rows, read row by row.
        let columns = vec![vec![1, -2], vec![3, 4]];
        assert_eq!(dataset_values(&columns, Fr::from(7u8))[..4], [1, 3, -2, 4]);
    }
}
