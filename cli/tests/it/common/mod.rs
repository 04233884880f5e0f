//! What the binary's tests share: the binary, the fixtures, a dataset's
//! first rows.

#![allow(dead_code)]

use std::process::{Command, Output};

/// The `zkgate` binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_zkgate")
}

/// Runs the binary.
pub fn zkgate(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("runs")
}

pub use zkgate_testkit::{head, wait_end_across_restarts};

/// A fixture's path, as the binary's arguments take it.
pub fn fixture(rel: &str) -> String {
    zkgate_testkit::fixture(rel).display().to_string()
}

/// The breast-cancer classifier's accuracy on dataset `bc`.
pub fn accuracy_on_bc(idempotency_key: Option<&str>) -> zkgate_gateway::store::Manifest {
    zkgate_gateway::store::Manifest {
        dataset: "bc".into(),
        columns: None,
        aggregate: zkgate_statement::Aggregate::Accuracy {
            label: "label".into(),
        },
        idempotency_key: idempotency_key.map(str::to_string),
        quant: Default::default(),
        chain_job: None,
        epsilon: None,
        nonce: None,
        question: None,
    }
}
