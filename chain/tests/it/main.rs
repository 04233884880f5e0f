//! The integration tests of `chain`, one test program (each linked program
//! costs a link of every dependency).

mod anvil;
mod artifact;
mod bounty;
mod common;
mod embedded;
mod erc7992;
mod family;
mod metering;
mod precompiles;
mod refused_payment;
mod suppression;
