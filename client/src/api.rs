//! The gateway's API types, as both sides exchange them: datasets' public
//! metadata, manifests, jobs and their states, settlement records, error
//! details.

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zkgate_statement::field::fr_from_hex;
use zkgate_statement::quant::QuantConfig;
use zkgate_statement::{Aggregate, Fr, Question, Schema};

/// Public metadata of a dataset (what researchers see).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetMeta {
    /// Name.
    pub name: String,
    /// The declared schema: every column's name, kind, range and scale,
    /// and the stored bits (what circuits are built from).
    #[schema(value_type = Object)]
    pub schema: Schema,
    /// Rows.
    pub rows: u64,
    /// The commitment, hex.
    pub commitment: String,
    /// Price per job (wei; 0 = free).
    pub price: u64,
    /// Unix seconds.
    pub created: u64,
    /// Rows per shard proof the gateway uses for this dataset now (as
    /// served by `GET /v1/datasets`; a question pins it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_rows: Option<u64>,
    /// The dataset's ezkl hash (ezkl's Poseidon over its stored integers
    /// and a salt), published when the gateway has an ezkl backend: what
    /// an ezkl question pins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ezkl_hash: Option<String>,
}

impl DatasetMeta {
    /// Column names, in order.
    pub fn columns(&self) -> Vec<String> {
        self.schema.names()
    }
}

/// The account every on-chain release of a dataset spends its epsilon
/// from (not a valid researcher name, so it is nobody's own).
pub const ON_CHAIN_BUDGET: &str = "(on chain)";

/// What a researcher submits with the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Manifest {
    /// Dataset name.
    pub dataset: String,
    /// Columns feeding the model (default: all but the label).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// The aggregate: `{"kind": ...}` with its parameters (`docs/question.schema.json`).
    #[schema(value_type = Object)]
    pub aggregate: Aggregate,
    /// Resubmitting with the same key returns the same job.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Quantization settings (any subset; the rest take their defaults).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub quant: QuantConfig,
    /// The on-chain job this one settles: the proof is bound to it and
    /// submitted to the settlement contract once proved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_job: Option<u64>,
    /// Release the values with differential-privacy noise at this epsilon
    /// (spent from the researcher's budget on the dataset); none: exact
    /// values, where the owner's policy allows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// 32 random bytes (hex) the researcher picks: the job's proofs are
    /// bound to `nonce_from(nonce)` and its noise is drawn from it, so the
    /// gateway cannot pick a job id whose noise suits it. A nonce is used
    /// once per dataset. None: the gateway binds the proofs to the job id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The researcher's question (`zkgate_statement::Question`): the job
    /// must answer exactly it, and its proofs are bound to its hash (which
    /// also seeds any noise) instead of `nonce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub question: Option<Question>,
}

impl Manifest {
    /// The nonce a job with this manifest and `id` is proved with, off
    /// chain: the question's, the researcher's, or one from the job id.
    pub fn proof_nonce(&self, id: &str) -> zkgate_statement::Fr {
        match (&self.question, &self.nonce) {
            (Some(q), _) => q.job_nonce(),
            (None, Some(n)) => zkgate_statement::nonce_from(format!("researcher:{n}").as_bytes()),
            (None, None) => zkgate_statement::nonce_from(id.as_bytes()),
        }
    }

    /// Whose privacy budget on the dataset a job with this manifest spends:
    /// the researcher's own, or for an on-chain job the dataset's public
    /// account ([`ON_CHAIN_BUDGET`]): on-chain values are public
    /// (`JobSettled`, `result()`), so every reader composes every on-chain
    /// release of the dataset, whoever paid for it.
    pub fn budget_holder<'a>(&self, researcher: &'a str) -> &'a str {
        if self.chain_job.is_some() {
            ON_CHAIN_BUDGET
        } else {
            researcher
        }
    }

    /// The researcher's random bytes, which no two jobs on a dataset may
    /// share (one nonce, one noise draw).
    pub fn researcher_nonce(&self) -> Option<&str> {
        match &self.question {
            Some(q) => Some(&q.nonce),
            None => self.nonce.as_deref(),
        }
    }
}

/// A job's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted, waiting for a prover.
    Queued,
    /// Waiting for the data owner's approval (an `@on_deny("hold")` policy
    /// rule held it; see `hold`): approved, it is queued; denied, it fails.
    Held,
    /// Quantizing and compiling the circuit.
    Compiling,
    /// Generating keys.
    Setup,
    /// Proving.
    Proving,
    /// Proved; waiting to be settled on chain.
    Proved,
    /// Submitting the proof to the settlement contract.
    Settling,
    /// Receipt ready (and settled, for an on-chain job: see `settlement`).
    Done,
    /// Failed; see `error`.
    Failed,
    /// Cancelled by the researcher.
    Cancelled,
}

impl JobState {
    /// Whether the job will not change any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }

    /// All states, for metrics.
    pub const ALL: [JobState; 10] = [
        JobState::Queued,
        JobState::Held,
        JobState::Compiling,
        JobState::Setup,
        JobState::Proving,
        JobState::Proved,
        JobState::Settling,
        JobState::Done,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Held => "held",
            JobState::Compiling => "compiling",
            JobState::Setup => "setup",
            JobState::Proving => "proving",
            JobState::Proved => "proved",
            JobState::Settling => "settling",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// A job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Job {
    /// Id.
    pub id: String,
    /// Owner.
    pub researcher: String,
    /// The manifest.
    pub manifest: Manifest,
    /// SHA-256 of the ONNX model.
    pub model_sha256: String,
    /// State.
    pub state: JobState,
    /// Why it failed: `{code, message}` (and `rules` for a policy denial).
    pub error: Option<ErrorDetail>,
    /// Times a prover started it (restarts included).
    pub attempts: u32,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds.
    pub updated: u64,
    /// Seconds per step, when done.
    #[schema(value_type = Option<BTreeMap<String, f64>>)]
    pub timings: Option<Timings>,
    /// The on-chain settlement: transaction, block, gas and values, or why
    /// the chain refused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<SettlementRecord>,
    /// Why the job waits for the data owner (state `held`), or waited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
    /// The data owner's decision on a held job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// Where a running job is: its stage, the shard being proved, elapsed
    /// and estimated seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// For a job naming an on-chain job: the contract, chain and nonce it
    /// was accepted for, which its proofs and settlement use whatever
    /// `chain.json` names later. Absent in records from before it was kept
    /// (see [`crate::chain::job_binding`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainBinding>,
}

/// What submitting a job would do, found without storing or running
/// anything (`POST /v1/jobs/dry-run`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DryRun {
    /// The owner's policy at submission: `allow`, `hold` (the job would
    /// wait for the owner's approval) or `deny`.
    pub decision: String,
    /// The rules that decided.
    pub rules: Vec<String>,
    /// Why, as the researcher would be told.
    pub message: String,
    /// The policy again once compiled (with the circuit's size and
    /// memory), as the gateway asks it before proving.
    pub compiled_decision: String,
    /// The rules of that decision.
    pub compiled_rules: Vec<String>,
    /// Constraints over every shard.
    pub constraints: u64,
    /// Shards the job is proved in.
    pub shards: u64,
    /// The circuit id of the (first) shard's circuit, hex.
    pub circuit_id: String,
    /// Estimated seconds of setup and proving on the gateway (from the
    /// constraints; a cached key saves the setup half).
    pub estimated_s: f64,
    /// Estimated peak memory of proving one shard, MiB.
    pub memory_mb: u64,
    /// What the release policy needs that a dry run cannot know: it judges
    /// the outputs, computed from the rows.
    pub note: String,
}

/// Why a job waits for the data owner: the policy rules that hold it and
/// their reasons, as a denial would name them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hold {
    /// The rules.
    pub rules: Vec<String>,
    /// The explanation the researcher sees.
    pub message: String,
    /// Unix seconds when it was held.
    pub since: u64,
}

/// The data owner's decision on a held job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Review {
    /// `approved` or `denied`.
    pub decision: String,
    /// The owner's note (shown to the researcher).
    #[serde(default)]
    pub note: String,
    /// Unix seconds.
    pub at: u64,
}

impl Review {
    /// Whether the owner approved the job.
    pub fn approved(&self) -> bool {
        self.decision == "approved"
    }
}

/// Where a running job is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    /// The pipeline's step: `compile`, `evaluate`, `setup`, `prove`,
    /// `verify`.
    pub stage: String,
    /// Shards proved or being proved (1-based while proving; 0 before).
    pub shard: u64,
    /// Shards in the job.
    pub shards: u64,
    /// Unix seconds when this run started.
    pub started: u64,
    /// Seconds since it started (as of the answer).
    pub elapsed_s: f64,
    /// Estimated seconds the whole run takes: from the circuit's size
    /// before the first shard is proved, from the measured shards after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_s: Option<f64>,
}

/// The on-chain job a gateway job settles, fixed when it is accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainBinding {
    /// The on-chain job.
    pub job: u64,
    /// The settlement contract (checksummed in JSON).
    #[serde(with = "checksummed")]
    #[schema(value_type = String)]
    pub contract: Address,
    /// The chain.
    pub chain_id: u64,
    /// The job nonce the proofs carry (the contract's derivation from the
    /// chain, the contract and the job), hex.
    pub nonce: String,
}

impl ChainBinding {
    /// The nonce as a field element.
    pub fn nonce(&self) -> zkgate_statement::Result<Fr> {
        fr_from_hex(&self.nonce)
    }

    /// Whether `other` names the same on-chain job.
    pub fn same_job(&self, other: &ChainBinding) -> bool {
        (self.job, self.contract, self.chain_id) == (other.job, other.contract, other.chain_id)
    }
}

/// Seconds per step of a job (`compile_s`, `setup_s`, `prove_s`, ...), as
/// its receipt has them.
pub type Timings = BTreeMap<String, f64>;

/// What came of an on-chain job's settlement. In JSON: the settlement's
/// fields, `{"error": why}` or `{"retrying": why}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SettlementRecord {
    /// Settled (by this gateway now or before).
    Settled(SettledTx),
    /// The chain refused it for good (expired, refunded, invalid), or it
    /// could not be attempted.
    Refused {
        /// Why.
        error: String,
    },
    /// The chain could not be reached: the job waits in `proved` and is
    /// tried again.
    Retrying {
        /// Why the last attempt failed.
        retrying: String,
    },
}

impl SettlementRecord {
    /// The settlement, when settled.
    pub fn settled(&self) -> Option<&SettledTx> {
        match self {
            SettlementRecord::Settled(s) => Some(s),
            _ => None,
        }
    }

    /// Why the chain refused it, when it did.
    pub fn error(&self) -> Option<&str> {
        match self {
            SettlementRecord::Refused { error } => Some(error),
            _ => None,
        }
    }

    /// Why the last attempt could not reach the chain, when it could not.
    pub fn retrying(&self) -> Option<&str> {
        match self {
            SettlementRecord::Retrying { retrying } => Some(retrying),
            _ => None,
        }
    }
}

/// A settlement on chain, as recorded with its job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SettledTx {
    /// The chain.
    pub chain_id: u64,
    /// The settlement contract (checksummed in JSON).
    #[serde(with = "checksummed")]
    #[schema(value_type = String)]
    pub contract: Address,
    /// The on-chain job.
    pub job: u64,
    /// The settling transaction.
    #[schema(value_type = String)]
    pub tx: B256,
    /// Its block.
    pub block: u64,
    /// The gas it used; `None` when recorded from the chain's event after
    /// a restart.
    pub gas_used: Option<u64>,
    /// The values the chain holds for the job, as decimal words.
    pub values: Vec<String>,
}

/// An address as its EIP-55 checksummed string.
mod checksummed {
    use alloy_primitives::Address;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(a)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An error as clients see it: `{code, message}`, and for a policy denial
/// the rules that denied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// The stable code.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// The policy rules that denied it (`policy_denied` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<String>>,
}
