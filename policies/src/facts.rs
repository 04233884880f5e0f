//! The facts a decision is made on: who asks, on which dataset, with which
//! model, for what. The gateway fills them in; this crate never looks
//! further than these values.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A researcher, as the data owner registered them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Researcher {
    /// Name (the entity id).
    pub name: String,
    /// Organisation (also the researcher's parent entity); empty if none.
    pub organisation: String,
    /// Trust level set by the owner, 0 (unknown) to 3.
    pub trust: u8,
}

/// A dataset's public facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetFacts {
    /// Name (the entity id).
    pub name: String,
    /// Rows.
    pub rows: u64,
    /// Column names.
    pub columns: Vec<String>,
}

/// What the gateway knows about a model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelFacts {
    /// SHA-256 of the ONNX file, lower-case hex.
    pub sha256: String,
    /// ONNX op types in the graph.
    pub ops: BTreeSet<String>,
    /// Values in the ONNX initializers.
    pub parameters: u64,
    /// Values read per row.
    pub input_width: u64,
    /// Values output per row.
    pub output_width: u64,
    /// Some output is a single input passed through.
    pub echo: bool,
    /// Constraints of the compiled circuits over all shards, once known.
    pub constraints: Option<u64>,
    /// Estimated peak memory of proving (one shard at a time), MiB, once
    /// known.
    pub memory_mb: Option<u64>,
}

/// What a job asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobFacts {
    /// Aggregate kind (`sum`, `class_counts`...).
    pub aggregate: String,
    /// Rows covered.
    pub rows: u64,
    /// Columns read (model inputs and label).
    pub columns: Vec<String>,
    /// Jobs the researcher submitted today (UTC), this one excluded.
    pub jobs_today: u64,
    /// The privacy loss the release is asked with: differential-privacy
    /// noise on every value (0: exact values).
    pub epsilon: f64,
    /// The researcher's privacy budget on this dataset: spent before this
    /// job...
    pub epsilon_spent: f64,
    /// ...and left before this job.
    pub epsilon_left: f64,
    /// The proof system the question asks for (`groth16`, `ezkl`).
    #[serde(default = "groth16")]
    pub proof_system: String,
}

fn groth16() -> String {
    "groth16".into()
}

/// An admission request: may this job run?
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Admission {
    /// Who.
    pub researcher: Researcher,
    /// On what.
    pub dataset: DatasetFacts,
    /// With which model.
    pub model: ModelFacts,
    /// For what.
    pub job: JobFacts,
}

/// A release request: may these outputs leave?
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// The job's admission facts.
    pub admission: Admission,
    /// The histogram cells the outputs reveal (empty for sums, means and
    /// errors): class counts, confusion cells, rows at or above / below a
    /// threshold.
    pub cells: Vec<u64>,
    /// Rows whose share of the aggregate is not zero: the cohort a sum,
    /// mean, error or accuracy actually draws on (one for a model that
    /// selects one person).
    pub contributors: u64,
}
