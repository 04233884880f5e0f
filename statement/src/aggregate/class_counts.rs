//! `class_counts`: rows per predicted class (free over the argmax's one-hot
//! vector).

use super::{count, Aggregate, AggregateParams, Bounds, Outputs, RowVars, Rows, Rule};
use crate::error::Result;
use crate::header::SpecHeader;
use zkgate_circuits::{Cs, Num};

/// Rows per predicted class.
pub(super) struct ClassCounts;

impl Rule for ClassCounts {
    fn name(&self) -> &'static str {
        "class_counts"
    }
    fn outputs(&self) -> Outputs {
        Outputs::Classes
    }
    fn has_cells(&self) -> bool {
        true
    }
    fn values(&self, _: usize, p: &AggregateParams) -> usize {
        p.classes
    }
    fn sensitivity(&self, _: &Bounds<'_>, _: &AggregateParams) -> u128 {
        // One row replaced leaves one class and joins another.
        2
    }
    fn native(&self, rows: &Rows<'_>, p: &AggregateParams) -> Result<Vec<i128>> {
        let mut h = vec![0i128; p.classes];
        rows.classes().iter().for_each(|c| h[*c] += 1);
        Ok(h)
    }
    fn gadget(
        &self,
        _: &Cs,
        row: &RowVars<'_>,
        _: &AggregateParams,
    ) -> zkgate_circuits::Result<Vec<Num>> {
        Ok(row.class().to_vec())
    }
    fn cells(&self, _: u64, values: &[i128]) -> Vec<u64> {
        values.iter().map(|v| count(*v)).collect()
    }
    fn decode(&self, _: &Aggregate, _: &SpecHeader, _: u64, values: &[i128]) -> serde_json::Value {
        serde_json::json!({ "counts": values })
    }
}
