//! Receipts: what leaves the gateway, and their verification.
//!
//! A receipt carries the aggregate values, the public description of the
//! circuit ([`SpecHeader`]), the dataset commitment, the job nonce, the
//! Groth16 proof and the hash of the verifying key. Verification rebuilds
//! the public inputs from those fields (never from a stored copy), so
//! changing any of them breaks the pairing check; it needs only this module,
//! the statement and the verifying key, not the model or tract.

use crate::error::{Error, Result};
use crate::prove::{from_bytes, verify, vk_sha256, Proof, VerifyingKey};
use crate::reference::Agreement;
use crate::statement::{SpecHeader, Statement};
use ark_ff::{BigInteger, PrimeField};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zkgate_circuits::Fr;

/// Who generated the proving key (see the trust model).
pub const SETUP_BY_GATEWAY: &str = "gateway (the data owner could forge: keys made by the prover)";

/// A receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// Format version.
    pub version: u32,
    /// The circuit's public description; its hash is the circuit id.
    pub circuit: SpecHeader,
    /// The dataset commitment, hex.
    pub commitment: String,
    /// The job nonce, hex.
    pub nonce: String,
    /// The aggregate values, decimal integers at the circuit's scales.
    pub values: Vec<String>,
    /// The values read as numbers (recomputed and checked by `verify`).
    pub result: serde_json::Value,
    /// The Groth16 proof, compressed, hex.
    pub proof: String,
    /// SHA-256 of the verifying key's compressed bytes.
    pub vk_sha256: String,
    /// Who generated the keys.
    pub setup: String,
    /// Float vs quantized agreement on the job's rows.
    pub agreement: Option<Agreement>,
    /// The quantization: settings and each stage's proven bit widths.
    #[serde(default)]
    pub quantization: serde_json::Value,
    /// Constraints in the circuit, total and by part.
    pub constraints: BTreeMap<String, usize>,
    /// Seconds per step.
    pub timings: BTreeMap<String, f64>,
}

/// A field element as 0x-prefixed big-endian hex.
pub fn fr_to_hex(x: Fr) -> String {
    format!("0x{}", hex::encode(x.into_bigint().to_bytes_be()))
}

/// Parses [`fr_to_hex`]'s output, rejecting non-canonical values.
pub fn fr_from_hex(s: &str) -> Result<Fr> {
    let bytes = hex::decode(s.trim_start_matches("0x"))
        .map_err(|e| Error::Serialization(format!("`{s}`: {e}")))?;
    if bytes.len() != 32 {
        return Err(Error::Serialization(format!(
            "`{s}`: a field element is 32 bytes"
        )));
    }
    let x = Fr::from_be_bytes_mod_order(&bytes);
    if x.into_bigint().to_bytes_be() != bytes {
        return Err(Error::Serialization(format!(
            "`{s}` is not a canonical field element"
        )));
    }
    Ok(x)
}

/// The outcome of verifying a receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The proof verifies and every field is consistent.
    Valid,
    /// Why the receipt is not valid.
    Invalid(String),
}

impl Receipt {
    /// The statement this receipt claims.
    pub fn statement(&self) -> Result<Statement> {
        let aggregates = self
            .values
            .iter()
            .map(|v| {
                v.parse::<i128>()
                    .map_err(|e| Error::Serialization(format!("aggregate `{v}`: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Statement {
            commitment: fr_from_hex(&self.commitment)?,
            rows: self.circuit.rows,
            nonce: fr_from_hex(&self.nonce)?,
            circuit_id: self.circuit.id(),
            aggregates,
        })
    }

    /// Reads a receipt from JSON.
    pub fn from_json(s: &str) -> Result<Receipt> {
        serde_json::from_str(s).map_err(|e| Error::Serialization(format!("receipt: {e}")))
    }

    /// The receipt as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("receipts serialize")
    }

    /// Verifies the receipt against a verifying key (compressed bytes).
    /// `Err` means the inputs could not be read at all.
    pub fn verify(&self, vk_bytes: &[u8]) -> Result<Verdict> {
        let vk: VerifyingKey = from_bytes(vk_bytes)
            .map_err(|e| Error::Serialization(format!("verifying key: {e}")))?;
        if vk_sha256(&vk) != self.vk_sha256 {
            return Ok(Verdict::Invalid(
                "the verifying key is not the one this receipt names".into(),
            ));
        }
        let statement = match self.statement() {
            Ok(s) => s,
            Err(e) => return Ok(Verdict::Invalid(e.to_string())),
        };
        if statement.aggregates.len() != self.circuit.aggregate_len() {
            return Ok(Verdict::Invalid("wrong number of aggregate values".into()));
        }
        if vk.gamma_abc_g1.len() != statement.public_inputs().len() + 1 {
            return Ok(Verdict::Invalid(
                "the verifying key is for a circuit with another number of public inputs".into(),
            ));
        }
        if self.circuit.decode(&statement.aggregates) != self.result {
            return Ok(Verdict::Invalid(
                "the reported result does not match the proved values".into(),
            ));
        }
        let proof: Proof = match hex::decode(&self.proof)
            .map_err(|e| Error::Serialization(e.to_string()))
            .and_then(|b| from_bytes(&b))
        {
            Ok(p) => p,
            Err(e) => return Ok(Verdict::Invalid(format!("malformed proof: {e}"))),
        };
        if verify(&vk, &statement, &proof)? {
            Ok(Verdict::Valid)
        } else {
            Ok(Verdict::Invalid(
                "the proof does not verify for these public inputs".into(),
            ))
        }
    }
}
