//! The proved statement and its verification.
//!
//! Everything a verifier needs and nothing more: the aggregates (one module
//! each: name, label needs, value count, cells, native evaluation, gadget,
//! decoding), the circuit's public [`SpecHeader`] and its id, the public
//! inputs of a shard proof ([`Statement`]), the shard plan (one tiling rule,
//! one remainder rule), the Groth16 keys and proofs with their encodings and
//! the pairing check, and [`Receipt`]s with their verification. The compiler
//! (`zkgate-zkml`, which links tract and the prover) builds on this crate;
//! verifiers and the settlement client depend on it alone.
#![forbid(unsafe_code)]

pub mod aggregate;
pub mod bounty;
pub mod columns;
pub mod error;
pub mod ezkl;
pub mod federation;
pub mod field;
pub mod groth16;
pub mod header;
pub mod inputs;
pub mod ptau;
pub mod quant;
pub mod question;
pub mod receipt;
pub mod schema;
pub mod shards;
pub mod snarkjs;

pub use aggregate::{Aggregate, AggregateParams, Noise};
pub use error::{Error, Result};
pub use header::{SpecHeader, VERSION};
pub use inputs::{nonce_from, Statement};
pub use question::{Mismatch, Question};
pub use receipt::{Receipt, Verdict};
pub use schema::Schema;
pub use shards::ShardPlan;
pub use zkgate_circuits::Fr;
