//! The public inputs of one shard proof.
//!
//! A job is proved in one or more shards of rows (one unless the dataset is
//! larger than the owner's shard size). Public inputs of a shard proof, in
//! order: the dataset commitment `C_D`, the dataset's row count `n`, the job
//! nonce, the circuit id (the hash of the [`crate::SpecHeader`]), the
//! shard's first row, its real rows (`active`: the circuit reads a fixed
//! number of rows and the last shard is padded), the links before and
//! after it (see `zkgate_circuits::shard`), then, for a circuit whose
//! cells may be suppressed ([`crate::SpecHeader::takes_threshold`]), the
//! release's suppression threshold, then the shard's aggregate values. The circuit constrains `C_D`, `n` and the links to the
//! commitment of the rows it reads, the id to its constant, and every
//! aggregate to the value it computes over its real rows; the nonce blinds
//! the links and is bound all the same in a one-shard job, because
//! Groth16's verifier folds every public input into the pairing check.

use crate::field::{hash_to_field, i128_to_field};
use sha2::{Digest, Sha256};
use zkgate_circuits::Fr;

/// A job nonce from any byte string (a job id).
pub fn nonce_from(job: &[u8]) -> Fr {
    let mut h = Sha256::new();
    h.update(b"zkgate.job.v1");
    h.update(job);
    hash_to_field(&h.finalize())
}

/// The public statement of one (shard) proof.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// The dataset commitment.
    pub commitment: Fr,
    /// Rows in the dataset.
    pub rows: u64,
    /// The job binding.
    pub nonce: Fr,
    /// The circuit id.
    pub circuit_id: Fr,
    /// The shard's first row.
    pub offset: u64,
    /// The shard's real rows: `min(shard size, rows - offset)`.
    pub active: u64,
    /// The link before the shard (0 for the first).
    pub link_in: Fr,
    /// The link after the shard (0 for the last).
    pub link_out: Fr,
    /// The suppression threshold the values were released under, for a
    /// circuit that takes one (`None` otherwise): published like a value,
    /// so 0 from every shard but the last.
    pub suppress_below: Option<u64>,
    /// The shard's aggregate values (integers at the plan's scales).
    pub aggregates: Vec<i128>,
}

impl Statement {
    /// Number of public inputs before the threshold and the aggregate
    /// values.
    pub const FIXED_INPUTS: usize = 8;

    /// The public inputs, in the circuit's order.
    pub fn public_inputs(&self) -> Vec<Fr> {
        let mut v = vec![
            self.commitment,
            Fr::from(self.rows),
            self.nonce,
            self.circuit_id,
            Fr::from(self.offset),
            Fr::from(self.active),
            self.link_in,
            self.link_out,
        ];
        v.extend(self.suppress_below.map(Fr::from));
        v.extend(self.aggregates.iter().map(|a| i128_to_field(*a)));
        v
    }
}
