//! `mae`: mean absolute error of the single output against the label
//! (`bits + 1` constraints per row), proved as the sum at the common error
//! scale.

use super::{
    error_constants, error_operands, error_term, Aggregate, AggregateParams, Bounds, Outputs,
    RowVars, Rows, Rule,
};
use crate::error::Result;
use crate::header::SpecHeader;
use zkgate_circuits::{aggregate, Cs, Num};

/// Mean absolute error.
pub(super) struct Mae;

impl Rule for Mae {
    fn name(&self) -> &'static str {
        "mae"
    }
    fn outputs(&self) -> Outputs {
        Outputs::One
    }
    fn fix_constants(&self, _: &Aggregate, c: &Bounds<'_>, p: &mut AggregateParams) -> Result<()> {
        error_constants(c, p);
        Ok(())
    }
    fn row_cost(&self, _: usize, p: &AggregateParams) -> usize {
        p.bits + 1
    }
    fn sensitivity(&self, c: &Bounds<'_>, p: &AggregateParams) -> u128 {
        super::worst_error(c, p).unsigned_abs()
    }
    fn native(&self, rows: &Rows<'_>, p: &AggregateParams) -> Result<Vec<i128>> {
        Ok(vec![(0..rows.outputs.len())
            .map(|r| error_term(p, rows.outputs[r][0], rows.label(r)).abs())
            .sum()])
    }
    fn gadget(
        &self,
        cs: &Cs,
        row: &RowVars<'_>,
        p: &AggregateParams,
    ) -> zkgate_circuits::Result<Vec<Num>> {
        let (y, l) = error_operands(row, p);
        Ok(vec![aggregate::absolute_error(cs, &y, &l, p.bits)?])
    }
    fn decode(
        &self,
        _: &Aggregate,
        header: &SpecHeader,
        rows: u64,
        values: &[i128],
    ) -> serde_json::Value {
        let scale = 2f64.powi(header.params.error_scale);
        serde_json::json!({ "mae": values[0] as f64 / scale / rows as f64 })
    }
}
