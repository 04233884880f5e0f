//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use zkgate_zkml::dataset::Dataset;

/// A path under `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel)
}

/// The first `rows` rows of a fixture CSV.
pub fn head(rel: &str, rows: usize, value_bits: usize) -> Dataset {
    let text = std::fs::read_to_string(fixture(rel)).unwrap();
    let kept: Vec<&str> = text.lines().take(rows + 1).collect();
    Dataset::from_csv_reader(kept.join("\n").as_bytes(), value_bits).unwrap()
}
