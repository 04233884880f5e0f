//! The researcher's question: the statement a receipt must answer, fixed by
//! the researcher before anything is proved.
//!
//! A receipt describes itself (its [`SpecHeader`], its `setup` line), but
//! that description is written by the prover. A [`Question`] is written by
//! the party the proof protects: the dataset as published (name,
//! commitment, row count, schema hash), the model file's hash, the columns
//! in order, the aggregate with its parameters, the quantization, epsilon,
//! the circuit the researcher's own compiler made of all that
//! (`expected_circuit`, whose ids are listed in `circuit_ids`), what the
//! owner may still choose and within which bounds ([`OwnerBounds`]), the
//! keys the researcher contributed to ([`CeremonyPin`]) and 32 random bytes
//! the researcher draws. Its SHA-256 over its canonical JSON
//! ([`Question::hash`]) becomes the job nonce ([`Question::job_nonce`]),
//! a public input of every shard proof and the seed of any noise, so the
//! circuit ids stay reusable across jobs while each proof answers exactly
//! one question.
//!
//! [`Question::check`] compares a receipt with the question field by field
//! and names the first that differs; it needs no compiler, so
//! `zkgate-verify`, the Python package and other languages run it too (the
//! format is documented in `docs/question.schema.json`).

use crate::aggregate::Aggregate;
use crate::ezkl::ProofSystem;
use crate::field::{fr_to_hex, same_field};
use crate::header::SpecHeader;
use crate::inputs::nonce_from;
use crate::quant::QuantConfig;
use crate::receipt::Receipt;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zkgate_circuits::Fr;

/// Format version of questions.
pub const QUESTION_VERSION: u32 = 1;

/// The dataset as the gateway published it (`GET /v1/datasets`) or the
/// chain's registry holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetPin {
    /// The dataset's name at the gateway (for display and routing).
    pub name: String,
    /// Its published commitment, hex.
    pub commitment: String,
    /// Its published row count.
    pub rows: u64,
    /// SHA-256 of its declared schema (`Schema::sha256`), hex.
    pub schema_sha256: String,
    /// Its published ezkl hash (ezkl's Poseidon over its stored integers
    /// and a salt: `crate::ezkl::dataset_values`), for ezkl questions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ezkl_hash: Option<String>,
}

/// What the data owner may still choose after the question is fixed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerBounds {
    /// The shard size the gateway published for the dataset; `None`: any
    /// size the shard rule allows (the answer does not depend on it).
    #[serde(default)]
    pub shard_rows: Option<u64>,
    /// The largest small-cell suppression threshold the owner's release
    /// policy may set (0: the cells are released exact or not at all).
    #[serde(default)]
    pub suppress_below_max: u64,
}

/// Keys the researcher took part in making: only they may prove the job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeremonyPin {
    /// The researcher's own contribution (`zkgate ceremony contribute`
    /// prints it; snarkjs prints the same hash).
    pub contribution_hash: String,
    /// SHA-256 of the verifying keys of the contributed keys (one per
    /// circuit of the shard plan).
    pub vk_sha256: Vec<String>,
    /// BLAKE2b-512 (hex) of the powers-of-tau file the keys were made
    /// over: a key is sound only if nobody knows that file's tau, so a
    /// verifier requiring a ceremony accepts a public file
    /// ([`crate::ptau::PUBLIC_FILES`]) or one it is told to trust, and
    /// refuses a pin that names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptau_blake2b: Option<String>,
}

impl CeremonyPin {
    /// The pinned file, in words, when it is public or one of `trusted`
    /// (BLAKE2b hex); otherwise why a ceremony over it shows nothing.
    pub fn ptau_trusted(&self, trusted: &[String]) -> std::result::Result<String, String> {
        let Some(b2) = &self.ptau_blake2b else {
            return Err("the question's ceremony pin names no powers-of-tau file: whoever made the file the keys were made over may know tau and forge".into());
        };
        if let Some(name) = crate::ptau::public_name(b2) {
            return Ok(format!("the public file {name}"));
        }
        if trusted.iter().any(|t| t.eq_ignore_ascii_case(b2)) {
            return Ok(format!("the file with b2sum {b2}, trusted as told"));
        }
        Err(format!(
            "the keys were made over a powers-of-tau file that is not a public one (b2sum {b2}): whoever made it may know tau and forge; trust it with --trust-ptau {b2}"
        ))
    }
}

/// The settlement contract a question is opened on, and by whom
/// (`openJob` takes the question's hash, so the job id cannot be part of
/// the question): the job nonce is then the contract's `questionNonce`
/// ([`chain_nonce`]), and the contract opens each researcher's question
/// once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainPin {
    /// The chain id.
    pub chain_id: u64,
    /// The settlement contract's address, `0x` and 40 hex digits.
    pub contract: String,
    /// The dataset's id in the contract's registry.
    pub dataset_id: u64,
    /// The address that opens the job, `0x` and 40 hex digits.
    pub researcher: String,
}

fn address_bytes(what: &str, a: &str) -> Result<[u8; 20]> {
    let h = a.strip_prefix("0x").unwrap_or(a);
    hex::decode(h)
        .ok()
        .and_then(|b| <[u8; 20]>::try_from(b).ok())
        .ok_or_else(|| {
            Error::Serialization(format!("question: the {what} `{a}` is not an address"))
        })
}

impl ChainPin {
    /// The contract's address as bytes.
    pub fn contract_bytes(&self) -> Result<[u8; 20]> {
        address_bytes("contract", &self.contract)
    }

    /// The researcher's address as bytes.
    pub fn researcher_bytes(&self) -> Result<[u8; 20]> {
        address_bytes("researcher", &self.researcher)
    }
}

/// The nonce the settlement contract at `contract` on chain `chain_id`
/// gives the proofs of the question hashing to `question` opened by
/// `researcher` (`questionNonce`): `keccak256("zkgate.chain.job.v2" ||
/// chain id as 32 bytes || contract || researcher || question) mod r`.
pub fn chain_nonce(
    chain_id: u64,
    contract: [u8; 20],
    researcher: [u8; 20],
    question: [u8; 32],
) -> Fr {
    use ark_ff::PrimeField;
    use sha3::Keccak256;
    let mut k = Keccak256::new();
    k.update(b"zkgate.chain.job.v2");
    let mut id = [0u8; 32];
    id[24..].copy_from_slice(&chain_id.to_be_bytes());
    k.update(id);
    k.update(contract);
    k.update(researcher);
    k.update(question);
    Fr::from_be_bytes_mod_order(&k.finalize())
}

/// The researcher's question. See the module documentation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Format version ([`QUESTION_VERSION`]).
    pub version: u32,
    /// The dataset as published.
    pub dataset: DatasetPin,
    /// SHA-256 of the ONNX file, hex.
    pub model_sha256: String,
    /// The model's input columns, in order.
    pub columns: Vec<String>,
    /// The aggregate and its parameters (its label column included).
    pub aggregate: Aggregate,
    /// The quantization settings.
    pub quant: QuantConfig,
    /// Differential-privacy epsilon of the release; `None`: exact values.
    #[serde(default)]
    pub epsilon: Option<f64>,
    /// What the owner may still choose.
    #[serde(default)]
    pub owner: OwnerBounds,
    /// The circuit the researcher's compiler built from the model and the
    /// published schema, with the owner's shard size and no suppression.
    pub expected_circuit: SpecHeader,
    /// The ids of its shard circuits (full shards, then a shorter last
    /// one), hex: what an on-chain bundle for the job must hold.
    pub circuit_ids: Vec<String>,
    /// 32 random bytes the researcher drew, hex.
    pub nonce: String,
    /// The keys the researcher contributed to, if the job must use them.
    #[serde(default)]
    pub ceremony: Option<CeremonyPin>,
    /// The on-chain job, if the question is settled on chain.
    #[serde(default)]
    pub chain: Option<ChainPin>,
    /// The proof system the job must be proved with (omitted: Groth16).
    #[serde(default, skip_serializing_if = "ProofSystem::is_default")]
    pub proof_system: ProofSystem,
    /// For an ezkl question settled on chain: the keccak-256 hash of the
    /// runtime code of the verifier contract ezkl renders for the
    /// question's graph over the researcher's SRS (`0x` and 64 hex
    /// digits), which the job pins (`crate::ezkl::chain_circuits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ezkl_verifier: Option<String>,
}

/// The first field in which a receipt answers another question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The field: `commitment`, `rows`, `schema`, `columns`, `aggregate`,
    /// `quantization`, `epsilon`, `model`, `shard size`, `suppression`,
    /// `circuit`, `nonce` or `keys`.
    pub field: &'static str,
    /// What differs.
    pub detail: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the receipt answers another question: {}: {}",
            self.field, self.detail
        )
    }
}

fn differ(field: &'static str, detail: impl Into<String>) -> Mismatch {
    Mismatch {
        field,
        detail: detail.into(),
    }
}

/// The names of `header`'s input columns, in order.
fn column_names(header: &SpecHeader) -> Vec<String> {
    let names = header.schema.names();
    header
        .input_columns
        .iter()
        .map(|i| names.get(*i).cloned().unwrap_or_else(|| format!("#{i}")))
        .collect()
}

impl Question {
    /// Builds the question for `expected` (the circuit the researcher's
    /// compiler made, at the owner's published shard size) over the
    /// dataset `name` published with `commitment`, with a fresh random
    /// nonce.
    pub fn new(
        name: &str,
        commitment: &str,
        rows: u64,
        expected: SpecHeader,
        owner: OwnerBounds,
        nonce: [u8; 32],
    ) -> Question {
        let mut expected = expected;
        expected.params.suppress_below = 0;
        if let Some(s) = owner.shard_rows {
            expected.shard_rows = s;
        }
        Question {
            version: QUESTION_VERSION,
            dataset: DatasetPin {
                name: name.to_string(),
                commitment: commitment.to_string(),
                rows,
                schema_sha256: hex::encode(expected.schema.sha256()),
                ezkl_hash: None,
            },
            model_sha256: expected.onnx_sha256.clone(),
            columns: column_names(&expected),
            aggregate: expected.aggregate.clone(),
            quant: expected.quant,
            epsilon: expected.params.noise.as_ref().map(|n| n.epsilon),
            owner,
            circuit_ids: Self::ids_of(&expected),
            expected_circuit: expected,
            nonce: hex::encode(nonce),
            ceremony: None,
            chain: None,
            proof_system: ProofSystem::Groth16,
            ezkl_verifier: None,
        }
    }

    /// The question asked of ezkl instead (`proof_system: ezkl`), over the
    /// dataset's published ezkl hash.
    pub fn with_ezkl(mut self, ezkl_hash: &str) -> Question {
        self.proof_system = ProofSystem::Ezkl;
        self.dataset.ezkl_hash = Some(ezkl_hash.to_string());
        self
    }

    fn ids_of(h: &SpecHeader) -> Vec<String> {
        vec![fr_to_hex(h.id())]
    }

    /// The canonical JSON the hash is taken over (field order as declared,
    /// no whitespace).
    pub fn canonical_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("questions serialize")
    }

    /// SHA-256 of the canonical JSON.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_json()).into()
    }

    /// The nonce every proof of this question is bound to (and its noise
    /// drawn from): off chain `nonce_from("question:" || hex(hash))`; on
    /// the chain it names, the contract's ([`chain_nonce`]).
    pub fn job_nonce(&self) -> Fr {
        match &self.chain {
            Some(c) => chain_nonce(
                c.chain_id,
                c.contract_bytes().unwrap_or_default(),
                c.researcher_bytes().unwrap_or_default(),
                self.hash(),
            ),
            None => nonce_from(format!("question:{}", hex::encode(self.hash())).as_bytes()),
        }
    }

    /// What an on-chain job for this question pins (`openJob`'s
    /// `circuitIds`), hex: its circuit's id, then, for a circuit that
    /// takes a suppression threshold, the largest the owner may set (the
    /// contract refuses a settlement published under a larger one). The
    /// threshold is a public input: one circuit, and one key, serve every
    /// threshold.
    pub fn chain_pins(&self) -> Vec<String> {
        let mut pins = self.circuit_ids.clone();
        if self.expected_circuit.takes_threshold() {
            pins.push(fr_to_hex(Fr::from(self.owner.suppress_below_max)));
        }
        pins
    }

    /// Reads a question, checking that its fields agree with its expected
    /// circuit.
    pub fn from_json(s: &[u8]) -> Result<Question> {
        let q: Question = serde_json::from_slice(s)
            .map_err(|e| Error::Serialization(format!("question: {e}")))?;
        q.check_self()?;
        Ok(q)
    }

    /// The question as pretty JSON (its hash is over
    /// [`Question::canonical_json`], not this text).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("questions serialize")
    }

    /// Refuses a question whose plain fields disagree with its expected
    /// circuit, or whose nonce is not 32 bytes.
    pub fn check_self(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Serialization(format!("question: {m}")));
        if self.version != QUESTION_VERSION {
            return bad(format!(
                "version {} (this build reads {QUESTION_VERSION})",
                self.version
            ));
        }
        match hex::decode(&self.nonce) {
            Ok(b) if b.len() == 32 => {}
            _ => return bad("the nonce must be 32 bytes, hex".into()),
        }
        if let Some(c) = &self.chain {
            c.contract_bytes()?;
            c.researcher_bytes()?;
        }
        if self.proof_system == ProofSystem::Ezkl {
            if self.dataset.ezkl_hash.is_none() {
                return bad("an ezkl question names the dataset's published ezkl hash".into());
            }
            if self.epsilon.is_some() {
                return bad("ezkl proves no differential-privacy noise: ask without epsilon, or with groth16".into());
            }
            if self.owner.suppress_below_max > 0 {
                return bad(
                    "ezkl proves no small-cell suppression: ask with a suppression bound of 0"
                        .into(),
                );
            }
            if self.ceremony.is_some() {
                return bad("an ezkl question has no ceremony keys".into());
            }
            match (&self.chain, &self.ezkl_verifier) {
                (Some(_), None) => {
                    return bad("an ezkl question settled on chain pins its verifier contract's code hash (`ezkl_verifier`: `zkgate ezkl verifier`)".into())
                }
                (None, Some(_)) => {
                    return bad("only an ezkl question settled on chain pins a verifier contract".into())
                }
                (Some(_), Some(v)) => {
                    let h = v.strip_prefix("0x").unwrap_or(v);
                    if h.len() != 64 || hex::decode(h).is_err() {
                        return bad("`ezkl_verifier` is a code hash: 0x and 64 hex digits".into());
                    }
                }
                (None, None) => {}
            }
        } else if self.dataset.ezkl_hash.is_some() || self.ezkl_verifier.is_some() {
            return bad("only an ezkl question names an ezkl hash or verifier".into());
        }
        let e = &self.expected_circuit;
        let pinned = Question::new(
            &self.dataset.name,
            &self.dataset.commitment,
            self.dataset.rows,
            e.clone(),
            self.owner.clone(),
            [0; 32],
        );
        if let Some(m) = pinned.compare_fields(self) {
            return bad(format!("its expected circuit disagrees on {}", m.field));
        }
        if pinned.expected_circuit != *e {
            return bad(
                "its expected circuit is not at the owner's shard size without suppression".into(),
            );
        }
        if self.circuit_ids != pinned.circuit_ids {
            return bad("its circuit ids are not its expected circuit's".into());
        }
        Ok(())
    }

    /// `self`'s plain fields against `other`'s.
    fn compare_fields(&self, other: &Question) -> Option<Mismatch> {
        let (a, b) = (&self.dataset, &other.dataset);
        if a.rows != b.rows {
            return Some(differ("rows", ""));
        }
        if a.schema_sha256 != b.schema_sha256 {
            return Some(differ("schema", ""));
        }
        if self.columns != other.columns {
            return Some(differ("columns", ""));
        }
        if self.aggregate != other.aggregate {
            return Some(differ("aggregate", ""));
        }
        if self.quant != other.quant {
            return Some(differ("quantization", ""));
        }
        if self.epsilon != other.epsilon {
            return Some(differ("epsilon", ""));
        }
        if self.model_sha256 != other.model_sha256 {
            return Some(differ("model", ""));
        }
        None
    }

    /// Whether `receipt` answers this question, `nonce` being the job
    /// nonce it must be bound to ([`Question::job_nonce`] off chain, the
    /// contract's for [`Question::chain`]). The receipt's proofs are
    /// checked by [`Receipt::verify`]; this compares what they prove with
    /// what was asked, field by field, and names the first that differs.
    pub fn check(&self, receipt: &Receipt, nonce: Fr) -> std::result::Result<(), Mismatch> {
        let h = &receipt.circuit;
        let d = &self.dataset;
        if receipt.proof_system != self.proof_system {
            return Err(differ(
                "proof system",
                format!(
                    "asked {}, proved with {}",
                    self.proof_system.name(),
                    receipt.proof_system.name()
                ),
            ));
        }
        match (&receipt.ezkl, &d.ezkl_hash) {
            (None, _) if self.proof_system == ProofSystem::Ezkl => {
                return Err(differ("proof system", "the receipt carries no ezkl proof"));
            }
            (Some(_), None) => {
                return Err(differ("proof system", "the receipt carries an ezkl proof"));
            }
            (Some(e), Some(want)) if !e.dataset_hash.eq_ignore_ascii_case(want) => {
                return Err(differ(
                    "commitment",
                    format!(
                        "the dataset's published ezkl hash is {want}, the receipt's {}",
                        e.dataset_hash
                    ),
                ));
            }
            _ => {}
        }
        if !same_field(&receipt.commitment, &d.commitment) {
            return Err(differ(
                "commitment",
                format!(
                    "the dataset's published commitment is {}, the receipt's {}",
                    d.commitment, receipt.commitment
                ),
            ));
        }
        if receipt.rows != d.rows {
            return Err(differ(
                "rows",
                format!(
                    "{} rows were published, the receipt covers {}",
                    d.rows, receipt.rows
                ),
            ));
        }
        self.check_header(h)?;
        if self.owner.shard_rows.is_some() {
            let id = fr_to_hex(h.id());
            if !self.circuit_ids.contains(&id) {
                return Err(differ(
                    "circuit",
                    format!("the shard circuit {id} is not among the question's"),
                ));
            }
        }
        if !same_field(&receipt.nonce, &fr_to_hex(nonce)) {
            return Err(differ(
                "nonce",
                "the proofs are bound to another job than the question's".to_string(),
            ));
        }
        if let Some(c) = &self.ceremony {
            if let Some(s) = receipt
                .shards
                .iter()
                .find(|s| !c.vk_sha256.contains(&s.vk_sha256))
            {
                return Err(differ(
                    "keys",
                    format!(
                        "shard at row {} was proved with key {}, not with a key the researcher contributed to",
                        s.offset, s.vk_sha256
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether the circuit `h` (a receipt's, or the one a gateway compiled
    /// for the job) is the question's, the owner's choices within their
    /// bounds; names the first field that differs.
    pub fn check_header(&self, h: &SpecHeader) -> std::result::Result<(), Mismatch> {
        let d = &self.dataset;
        let schema = hex::encode(h.schema.sha256());
        if schema != d.schema_sha256 {
            return Err(differ(
                "schema",
                format!(
                    "the published schema hashes to {}, the receipt's to {schema}",
                    d.schema_sha256
                ),
            ));
        }
        let columns = column_names(h);
        if columns != self.columns {
            return Err(differ(
                "columns",
                format!(
                    "asked [{}], proved [{}]",
                    self.columns.join(", "),
                    columns.join(", ")
                ),
            ));
        }
        if h.aggregate != self.aggregate {
            return Err(differ(
                "aggregate",
                format!("asked {:?}, proved {:?}", self.aggregate, h.aggregate),
            ));
        }
        if h.quant != self.quant {
            return Err(differ(
                "quantization",
                format!("asked {:?}, proved {:?}", self.quant, h.quant),
            ));
        }
        let epsilon = h.params.noise.as_ref().map(|n| n.epsilon);
        if epsilon != self.epsilon {
            return Err(differ(
                "epsilon",
                format!("asked {:?}, proved {:?}", self.epsilon, epsilon),
            ));
        }
        if h.onnx_sha256 != self.model_sha256 {
            return Err(differ(
                "model",
                format!(
                    "asked ONNX sha256 {}, proved {}",
                    self.model_sha256, h.onnx_sha256
                ),
            ));
        }
        if let Some(s) = self.owner.shard_rows {
            if h.shard_rows != s {
                return Err(differ(
                    "shard size",
                    format!(
                        "the gateway published shards of {s} rows, the receipt uses {}",
                        h.shard_rows
                    ),
                ));
            }
        }
        let k = h.params.suppress_below;
        if k > 0 && !h.takes_threshold() {
            return Err(differ(
                "suppression",
                format!("cells below {k} suppressed, but this circuit releases no exact cells"),
            ));
        }
        if k > self.owner.suppress_below_max {
            return Err(differ(
                "suppression",
                format!(
                    "cells below {k} suppressed, the question allows at most {}",
                    self.owner.suppress_below_max
                ),
            ));
        }
        let mut expected = self.expected_circuit.with_shard_rows(h.shard_rows);
        expected.params.suppress_below = k;
        if expected != *h {
            let what = if expected.plan_sha256 != h.plan_sha256 {
                "its quantized plan"
            } else if expected.params != h.params {
                "its aggregate's constants"
            } else if expected.output_scale != h.output_scale || expected.outputs != h.outputs {
                "its outputs"
            } else {
                "its header"
            };
            return Err(differ(
                "circuit",
                format!("{what} is not the one the question expects"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
