//! Shared helpers for the integration tests.
#![allow(dead_code)]

use zkgate_zkml::dataset::{declared_schema, Dataset};

pub use zkgate_testkit::fixture;

/// The first `rows` rows of a fixture CSV, read against its declared
/// schema.
pub fn head(rel: &str, rows: usize) -> Dataset {
    let path = fixture(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text.lines().take(rows + 1).collect();
    let schema = declared_schema(&path).unwrap();
    Dataset::from_csv_reader(kept.join("\n").as_bytes(), &schema).unwrap()
}
