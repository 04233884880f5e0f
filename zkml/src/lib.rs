//! zkml: compile ONNX models to R1CS and prove aggregate inference over a
//! committed dataset with Groth16.
//!
//! The pipeline: [`import`] (tract, the only module that touches it) ->
//! [`ir`] -> [`quantize`] (integer plan bounded by the declared schema) -> [`job::compile`]
//! ([`spec::CircuitSpec`]: the public header of `zkgate-statement` plus the
//! plan) -> [`circuit`] (R1CS) -> [`prove`] (Groth16) -> a receipt.
//! [`pipeline`] strings them together. What is proved, and how a receipt is
//! verified, lives in `zkgate-statement`, which needs none of this.
#![forbid(unsafe_code)]

pub mod ceremony;
pub mod circuit;
pub mod compiled;
pub mod cost;
pub mod dataset;
pub mod distribute;
pub mod error;
pub mod import;
pub mod ir;
pub mod job;
pub mod keys;
pub mod pipeline;
pub mod prove;
pub mod quantize;
pub mod question;
pub mod reference;
pub mod setup;
pub mod spec;

pub use error::{Error, Result};
pub use zkgate_circuits::Fr;
