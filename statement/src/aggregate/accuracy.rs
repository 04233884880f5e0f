//! `accuracy`: rows whose predicted class equals the label (2 constraints
//! per row).

use super::{Aggregate, AggregateParams, Bounds, Outputs, RowVars, Rows, Rule};
use crate::error::Result;
use crate::header::SpecHeader;
use zkgate_circuits::{aggregate, Cs, Num};

/// Correctly classified rows.
pub(super) struct Accuracy;

impl Rule for Accuracy {
    fn name(&self) -> &'static str {
        "accuracy"
    }
    fn outputs(&self) -> Outputs {
        Outputs::Classes
    }
    fn row_cost(&self, _: usize, _: &AggregateParams) -> usize {
        2
    }
    fn sensitivity(&self, _: &Bounds<'_>, _: &AggregateParams) -> u128 {
        1
    }
    fn native(&self, rows: &Rows<'_>, _: &AggregateParams) -> Result<Vec<i128>> {
        let cs = rows.classes();
        Ok(vec![(0..cs.len())
            .filter(|r| cs[*r] as i128 == rows.label(*r))
            .count() as i128])
    }
    fn gadget(
        &self,
        cs: &Cs,
        row: &RowVars<'_>,
        _: &AggregateParams,
    ) -> zkgate_circuits::Result<Vec<Num>> {
        Ok(vec![aggregate::correct(cs, row.class(), row.label())?])
    }
    fn decode(
        &self,
        _: &Aggregate,
        _: &SpecHeader,
        rows: u64,
        values: &[i128],
    ) -> serde_json::Value {
        serde_json::json!({
            "correct": values[0],
            "accuracy": values[0] as f64 / rows as f64,
        })
    }
}
