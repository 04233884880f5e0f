//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use zkgate_zkml::dataset::{declared_schema, Dataset};

/// A path under `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel)
}

/// The first `rows` rows of a fixture CSV, read against its declared
/// schema.
pub fn head(rel: &str, rows: usize) -> Dataset {
    let path = fixture(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text.lines().take(rows + 1).collect();
    let schema = declared_schema(&path).unwrap();
    Dataset::from_csv_reader(kept.join("\n").as_bytes(), &schema).unwrap()
}
