//! zkgate's benchmarks: the fixture models proved at several sizes, one
//! JSON object per case (constraints, setup / prove / verify seconds, peak
//! memory, proof bytes, the prover's stages against its MSM floor, policy
//! evaluation, settlement gas, a load run of many researchers against one
//! gateway). `zkgate bench` runs them; each case runs in
//! a child process of that binary so that its peak RSS is its own.
#![forbid(unsafe_code)]

mod cases;
mod ezkl;
mod gas;
pub mod load;

pub use cases::{run, BenchArgs};
