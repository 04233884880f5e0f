//! `count_at_least`: rows whose single output is at least a threshold
//! (`bits + 1` constraints per row: one signed decomposition of the
//! difference).

use super::{count, Aggregate, AggregateParams, Bounds, Outputs, RowVars, Rows, Rule};
use crate::error::{Error, Result};
use crate::field::{bitlen, i128_to_field};
use crate::header::SpecHeader;
use zkgate_circuits::{aggregate, Cs, Num};

/// Rows over a threshold.
pub(super) struct CountAtLeast;

impl Rule for CountAtLeast {
    fn name(&self) -> &'static str {
        "count_at_least"
    }
    fn outputs(&self) -> Outputs {
        Outputs::One
    }
    fn fix_constants(&self, a: &Aggregate, c: &Bounds<'_>, p: &mut AggregateParams) -> Result<()> {
        let Aggregate::CountAtLeast { threshold } = a else {
            unreachable!("dispatched by kind")
        };
        let t = (threshold * 2f64.powi(c.output_scale)).ceil();
        if !t.is_finite() || t.abs() > 2f64.powi(100) {
            return Err(Error::Overflow(format!(
                "threshold {threshold} does not fit the output scale"
            )));
        }
        p.threshold_q = t as i128;
        let (lo, hi) = c.output_range;
        let worst = (hi - p.threshold_q).abs().max((lo - p.threshold_q).abs());
        p.bits = bitlen(worst) + c.margin_bits;
        Ok(())
    }
    fn row_cost(&self, _: usize, p: &AggregateParams) -> usize {
        p.bits + 1
    }
    fn sensitivity(&self, _: &Bounds<'_>, _: &AggregateParams) -> u128 {
        // One row moves the count by at most one.
        1
    }
    fn native(&self, rows: &Rows<'_>, p: &AggregateParams) -> Result<Vec<i128>> {
        Ok(vec![rows
            .outputs
            .iter()
            .filter(|y| y[0] >= p.threshold_q)
            .count() as i128])
    }
    fn gadget(
        &self,
        cs: &Cs,
        row: &RowVars<'_>,
        p: &AggregateParams,
    ) -> zkgate_circuits::Result<Vec<Num>> {
        Ok(vec![aggregate::at_least(
            cs,
            &row.outputs[0],
            i128_to_field(p.threshold_q),
            p.bits,
        )?])
    }
    fn cells(&self, rows: u64, values: &[i128]) -> Vec<u64> {
        let c = count(values[0]);
        vec![c, rows.saturating_sub(c)]
    }
    fn decode(
        &self,
        a: &Aggregate,
        _: &SpecHeader,
        rows: u64,
        values: &[i128],
    ) -> serde_json::Value {
        let Aggregate::CountAtLeast { threshold } = a else {
            unreachable!("dispatched by kind")
        };
        serde_json::json!({
            "count": values[0],
            "threshold": threshold,
            "share": values[0] as f64 / rows as f64,
        })
    }
}
