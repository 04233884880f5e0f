//! `sum`: every output summed over the rows (free in the circuit).

use super::{Aggregate, AggregateParams, Bounds, Outputs, RowVars, Rows, Rule};
use crate::error::Result;
use crate::header::SpecHeader;
use zkgate_circuits::{Cs, Num};

/// Sum of every output.
pub(super) struct Sum;

/// The outputs in output units (shared with `mean`).
pub(super) fn in_units(header: &SpecHeader, values: &[i128]) -> Vec<f64> {
    let scale = 2f64.powi(header.output_scale);
    values.iter().map(|v| *v as f64 / scale).collect()
}

impl Rule for Sum {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn outputs(&self) -> Outputs {
        Outputs::Any
    }
    fn values(&self, outputs: usize, _: &AggregateParams) -> usize {
        outputs
    }
    fn sensitivity(&self, c: &Bounds<'_>, p: &AggregateParams) -> u128 {
        super::range_sensitivity(c, p)
    }
    fn native(&self, rows: &Rows<'_>, _: &AggregateParams) -> Result<Vec<i128>> {
        let outputs = rows.outputs.first().map_or(0, Vec::len);
        Ok((0..outputs)
            .map(|o| rows.outputs.iter().map(|y| y[o]).sum())
            .collect())
    }
    fn gadget(
        &self,
        _: &Cs,
        row: &RowVars<'_>,
        _: &AggregateParams,
    ) -> zkgate_circuits::Result<Vec<Num>> {
        Ok(row.outputs.to_vec())
    }
    fn decode(
        &self,
        _: &Aggregate,
        header: &SpecHeader,
        _: u64,
        values: &[i128],
    ) -> serde_json::Value {
        serde_json::json!({ "sum": in_units(header, values) })
    }
}
