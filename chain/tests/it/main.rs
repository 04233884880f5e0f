//! The integration tests of `chain`, one test program (each linked program
//! costs a link of every dependency).

mod common;
mod anvil;
mod artifact;
mod embedded;
mod precompiles;
mod refused_payment;
