//! `confusion`: the confusion matrix, row = label, column = prediction
//! (`C` constraints for the label's one-hot vector and `C * C` for the
//! cells, per row).

use super::{count, Aggregate, AggregateParams, Bounds, Outputs, RowVars, Rows, Rule};
use crate::error::{Error, Result};
use crate::header::SpecHeader;
use zkgate_circuits::{aggregate, onehot, Cs, Num};

/// The confusion matrix.
pub(super) struct Confusion;

impl Rule for Confusion {
    fn name(&self) -> &'static str {
        "confusion"
    }
    fn outputs(&self) -> Outputs {
        Outputs::Classes
    }
    fn has_cells(&self) -> bool {
        true
    }
    fn values(&self, _: usize, p: &AggregateParams) -> usize {
        p.classes * p.classes
    }
    fn row_cost(&self, _: usize, p: &AggregateParams) -> usize {
        (p.classes + 2) + p.classes * p.classes
    }
    fn sensitivity(&self, _: &Bounds<'_>, _: &AggregateParams) -> u128 {
        // One row replaced leaves one cell and joins another.
        2
    }
    fn native(&self, rows: &Rows<'_>, p: &AggregateParams) -> Result<Vec<i128>> {
        let k = p.classes;
        let mut m = vec![0i128; k * k];
        for (r, c) in rows.classes().iter().enumerate() {
            let l = rows.label(r);
            if !(0..k as i128).contains(&l) {
                // The declared label range was checked against the classes
                // and import refuses rows outside it: this is an internal
                // error, and its message carries no row's value.
                return Err(Error::Job(format!(
                    "a label is not one of the model's {k} classes"
                )));
            }
            m[l as usize * k + c] += 1;
        }
        Ok(m)
    }
    fn gadget(
        &self,
        cs: &Cs,
        row: &RowVars<'_>,
        p: &AggregateParams,
    ) -> zkgate_circuits::Result<Vec<Num>> {
        let l = onehot::one_hot(cs, row.label(), p.classes)?;
        aggregate::confusion_cells(cs, &l, row.class())
    }
    fn cells(&self, _: u64, values: &[i128]) -> Vec<u64> {
        values.iter().map(|v| count(*v)).collect()
    }
    fn decode(
        &self,
        _: &Aggregate,
        header: &SpecHeader,
        rows: u64,
        values: &[i128],
    ) -> serde_json::Value {
        let k = header.params.classes;
        let m: Vec<Vec<i128>> = values.chunks(k).map(<[i128]>::to_vec).collect();
        let correct: i128 = (0..k).map(|i| m[i][i]).sum();
        serde_json::json!({ "matrix": m, "accuracy": correct as f64 / rows as f64 })
    }
}
