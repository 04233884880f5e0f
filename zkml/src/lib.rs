//! zkml: compile ONNX models to R1CS and prove aggregate inference over a
//! committed dataset with Groth16.
//!
//! The pipeline: [`import`] (tract, the only module that touches it) ->
//! [`ir`] -> [`quantize`] (calibrated integer plan) -> [`job::compile`]
//! ([`statement::CircuitSpec`]) -> [`circuit`] (R1CS) -> [`prove`]
//! (Groth16) -> [`receipt`]. [`pipeline`] strings them together.
#![forbid(unsafe_code)]

pub mod circuit;
pub mod dataset;
pub mod error;
pub mod import;
pub mod ir;
pub mod job;
pub mod keys;
pub mod pipeline;
pub mod prove;
pub mod quantize;
pub mod receipt;
pub mod reference;
pub mod setup;
pub mod statement;

pub use error::{Error, Result};
pub use zkgate_circuits::Fr;
