//! Receipts: what leaves the gateway, and their verification.
//!
//! A receipt carries the aggregate values, the public description of the
//! circuit ([`SpecHeader`]), the dataset commitment, the job nonce, and one
//! Groth16 proof per shard of rows with the shard's place and links (a job
//! fits one shard unless its dataset is larger than the owner's shard
//! size). No shard publishes a partial value: the links carry the running
//! totals hidden, every shard but the last publishes zeros and the last the
//! job's values. Verification rebuilds every shard's public inputs from
//! those fields (never from a stored copy) and checks that the shards are
//! the header's shard plan and that their links join, so changing any field
//! breaks a check or a pairing; it needs only this crate and the verifying
//! keys, not the model, tract or a prover.

use crate::error::{Error, Result};
use crate::ezkl::{EzklProof, ProofSystem};
use crate::field::{fr_from_hex, fr_to_hex};
use crate::groth16::{from_bytes, keys_from_bytes, verify, vk_sha256, Proof, VerifyingKey};
use crate::header::SpecHeader;
use crate::inputs::Statement;
use crate::shards::ShardPlan;
use ark_ff::AdditiveGroup;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zkgate_circuits::Fr;

/// Who generated the proving key (see the trust model).
pub const SETUP_BY_GATEWAY: &str = "gateway (the data owner could forge: keys made by the prover)";

/// How closely the quantized model follows the float model on the job's
/// rows (computed by the compiler, carried as information: not proved).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Rows compared.
    pub rows: usize,
    /// For classifiers: rows whose float and quantized classes agree.
    pub same_class: Option<usize>,
    /// For classifiers: `same_class / rows`.
    pub class_agreement: Option<f64>,
    /// Largest absolute difference between float and quantized outputs
    /// (output units; regression models).
    pub max_abs_error: Option<f64>,
    /// Mean absolute difference (regression models).
    pub mean_abs_error: Option<f64>,
}

/// A receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// Format version.
    pub version: u32,
    /// The circuit's public description; its hash is the circuit id.
    pub circuit: SpecHeader,
    /// The dataset commitment, hex.
    pub commitment: String,
    /// Rows in the dataset (a public input of every shard: the circuit
    /// does not depend on it).
    pub rows: u64,
    /// The job nonce, hex.
    pub nonce: String,
    /// The aggregate values over all rows, decimal integers at the
    /// circuit's scales.
    pub values: Vec<String>,
    /// The values read as numbers (recomputed and checked by `verify`).
    pub result: serde_json::Value,
    /// One proof per shard of rows, in row order.
    pub shards: Vec<ShardProof>,
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
    /// The proof system (omitted: Groth16, whose proofs are `shards`).
    #[serde(default, skip_serializing_if = "ProofSystem::is_default")]
    pub proof_system: ProofSystem,
    /// An ezkl receipt's proof (`shards` is then empty); verified by
    /// ezkl's verifier (`zkgate verify`), not by [`Receipt::verify`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ezkl: Option<EzklProof>,
}

/// The proof of one shard of rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardProof {
    /// The shard's first row.
    pub offset: u64,
    /// The shard's real rows (its circuit reads `shard_rows`, the rest
    /// padding).
    pub rows: u64,
    /// The link before the shard, hex (0 for the first).
    pub link_in: String,
    /// The link after the shard, hex (0 for the last).
    pub link_out: String,
    /// The Groth16 proof, compressed, hex.
    pub proof: String,
    /// SHA-256 of the verifying key's compressed bytes.
    pub vk_sha256: String,
}

impl ShardProof {
    /// The shard's proof of `statement` with key `vk`.
    pub fn new(statement: &Statement, rows: u64, proof: &Proof, vk: &VerifyingKey) -> ShardProof {
        ShardProof {
            offset: statement.offset,
            rows,
            link_in: fr_to_hex(statement.link_in),
            link_out: fr_to_hex(statement.link_out),
            proof: hex::encode(crate::groth16::to_bytes(proof)),
            vk_sha256: vk_sha256(vk),
        }
    }

    /// The Groth16 proof.
    pub fn proof(&self) -> Result<Proof> {
        let bytes = hex::decode(&self.proof).map_err(|e| Error::Serialization(e.to_string()))?;
        from_bytes(&bytes)
    }
}

/// The outcome of verifying a receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The proof verifies and every field is consistent.
    Valid,
    /// Why the receipt is not valid.
    Invalid(String),
}

fn parse_values(values: &[String]) -> Result<Vec<i128>> {
    values
        .iter()
        .map(|v| {
            v.parse::<i128>()
                .map_err(|e| Error::Serialization(format!("aggregate `{v}`: {e}")))
        })
        .collect()
}

impl Receipt {
    /// The statement shard `i` of this receipt claims: the job's values
    /// from the last shard, zeros from every other.
    pub fn statement(&self, i: usize) -> Result<Statement> {
        let shard = self
            .shards
            .get(i)
            .ok_or_else(|| Error::Serialization(format!("no shard {i}")))?;
        Ok(Statement {
            commitment: fr_from_hex(&self.commitment)?,
            rows: self.rows,
            nonce: fr_from_hex(&self.nonce)?,
            circuit_id: self.circuit.id(),
            offset: shard.offset,
            active: shard.rows,
            link_in: fr_from_hex(&shard.link_in)?,
            link_out: fr_from_hex(&shard.link_out)?,
            suppress_below: self.circuit.threshold_input(i + 1 == self.shards.len()),
            aggregates: if i + 1 == self.shards.len() {
                self.aggregates()?
            } else {
                vec![0; self.circuit.aggregate_len()]
            },
        })
    }

    /// The job's aggregate values.
    pub fn aggregates(&self) -> Result<Vec<i128>> {
        parse_values(&self.values)
    }

    /// The shard plan the header fixes.
    pub fn plan(&self) -> ShardPlan {
        ShardPlan::of(self.rows, self.circuit.shard_rows)
    }

    /// Reads a receipt from JSON.
    pub fn from_json(s: &str) -> Result<Receipt> {
        serde_json::from_str(s).map_err(|e| Error::Serialization(format!("receipt: {e}")))
    }

    /// The receipt as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("receipts serialize")
    }

    /// Verifies the receipt against the job's verifying keys (the bytes of
    /// [`crate::groth16::keys_to_bytes`]). `Err` means the keys could not
    /// be read at all.
    pub fn verify(&self, keys: &[u8]) -> Result<Verdict> {
        if self.ezkl.is_some() || self.proof_system != ProofSystem::Groth16 {
            return Ok(Verdict::Invalid(
                "an ezkl receipt: it is checked by ezkl's verifier (`zkgate verify --question --model --ezkl-python ...`)".into(),
            ));
        }
        let vks: Vec<VerifyingKey> = keys_from_bytes(keys)
            .map_err(|e| Error::Serialization(format!("verifying keys: {e}")))?;
        let vks: BTreeMap<String, VerifyingKey> =
            vks.into_iter().map(|vk| (vk_sha256(&vk), vk)).collect();
        match self.check(&vks) {
            Ok(()) => Ok(Verdict::Valid),
            Err(Invalid(why)) => Ok(Verdict::Invalid(why)),
        }
    }

    fn check(&self, vks: &BTreeMap<String, VerifyingKey>) -> std::result::Result<(), Invalid> {
        let header = &self.circuit;
        let len = header.aggregate_len();
        let total = self.aggregates().map_err(Invalid::from)?;
        if total.len() != len {
            return Err(Invalid::new("wrong number of aggregate values"));
        }
        if header.decode(self.rows, &total) != self.result {
            return Err(Invalid::new(
                "the reported result does not match the proved values",
            ));
        }
        if self.shards.is_empty() {
            return Err(Invalid::new("the receipt has no proof"));
        }
        if let Some(noise) = &header.params.noise {
            noise.check().map_err(Invalid)?;
        }
        if header.params.suppress_below > 0 && !header.takes_threshold() {
            return Err(Invalid::new(
                "the header suppresses cells, and its circuit releases no exact cells",
            ));
        }
        // The shards are the header's plan, in order.
        let places: Vec<(u64, u64)> = self.shards.iter().map(|s| (s.offset, s.rows)).collect();
        self.plan().check(&places).map_err(Invalid)?;
        let mut link = Fr::ZERO;
        for (i, shard) in self.shards.iter().enumerate() {
            let statement = self.statement(i).map_err(Invalid::from)?;
            if statement.link_in != link {
                return Err(Invalid::new(format!(
                    "shard {i} does not start where the shard before it ends"
                )));
            }
            link = statement.link_out;
            let vk = vks.get(&shard.vk_sha256).ok_or_else(|| {
                Invalid::new(format!(
                    "shard {i} names a verifying key that was not given"
                ))
            })?;
            if vk.inputs() != statement.public_inputs().len() {
                return Err(Invalid::new(
                    "the verifying key is for a circuit with another number of public inputs",
                ));
            }
            let proof = shard
                .proof()
                .map_err(|e| Invalid::new(format!("shard {i}: malformed proof: {e}")))?;
            if !verify(vk, &statement, &proof).map_err(Invalid::from)? {
                return Err(Invalid::new(format!(
                    "shard {i}: the proof does not verify for these public inputs"
                )));
            }
        }
        if link != Fr::ZERO {
            return Err(Invalid::new("the shards do not cover the dataset"));
        }
        Ok(())
    }
}

/// Why a receipt is invalid.
struct Invalid(String);

impl Invalid {
    fn new(why: impl Into<String>) -> Invalid {
        Invalid(why.into())
    }
}

impl From<Error> for Invalid {
    fn from(e: Error) -> Invalid {
        Invalid(e.to_string())
    }
}
