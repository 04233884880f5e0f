//! `mean`: every output's mean, proved as the sum (the verifier divides by
//! the public row count).

use super::sum::{in_units, Sum};
use super::{Aggregate, AggregateParams, Bounds, Outputs, RowVars, Rows, Rule};
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
    /// Proved as the sum.
    fn sensitivity(&self, c: &Bounds<'_>, p: &AggregateParams) -> u128 {
        super::range_sensitivity(c, p)
    }
    fn native(&self, rows: &Rows<'_>, p: &AggregateParams) -> Result<Vec<i128>> {
        Sum.native(rows, p)
    }
    fn gadget(
        &self,
        cs: &Cs,
        row: &RowVars<'_>,
        p: &AggregateParams,
    ) -> zkgate_circuits::Result<Vec<Num>> {
        Sum.gadget(cs, row, p)
    }
    fn decode(
        &self,
        _: &Aggregate,
        header: &SpecHeader,
        rows: u64,
        values: &[i128],
    ) -> serde_json::Value {
        let n = rows as f64;
        let mean: Vec<f64> = in_units(header, values).iter().map(|v| v / n).collect();
        serde_json::json!({ "mean": mean })
    }
}
