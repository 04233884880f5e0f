//! The integration tests of `zkml`, one test program (each linked program
//! costs a link of every dependency).

mod circuits;
mod common;
mod cost;
mod exports;
mod family;
mod fuzz;
mod import_limits;
mod layering;
mod privacy;
mod prover;
mod receipts;
mod snarkjs;
mod supported_ops;
