//! `mean`: every output's mean, proved as the sum (the verifier divides by
//! the public row count).

use super::sum::{in_units, sums};
use super::{Aggregate, AggregateParams, Outputs, RowVars, Rows, Rule};
use crate::error::Result;
use crate::header::SpecHeader;
use zkgate_circuits::{Cs, Num};

/// Mean of every output.
pub(super) struct Mean;

impl Rule for Mean {
    fn name(&self) -> &'static str {
        "mean"
    }
    fn outputs(&self) -> Outputs {
        Outputs::Any
    }
    fn values(&self, outputs: usize, _: &AggregateParams) -> usize {
        outputs
    }
    fn native(&self, rows: &Rows<'_>, _: &AggregateParams) -> Result<Vec<i128>> {
        Ok(sums(rows, rows.outputs.first().map_or(0, Vec::len)))
    }
    fn gadget(
        &self,
        _: &Cs,
        row: &RowVars<'_>,
        _: &AggregateParams,
    ) -> zkgate_circuits::Result<Vec<Num>> {
        Ok(row.outputs.to_vec())
    }
    fn decode(&self, _: &Aggregate, header: &SpecHeader, values: &[i128]) -> serde_json::Value {
        let n = header.rows as f64;
        let mean: Vec<f64> = in_units(header, values).iter().map(|v| v / n).collect();
        serde_json::json!({ "mean": mean })
    }
}
