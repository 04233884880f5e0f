//! Interval bounds: every width in a plan is one, propagated from the
//! declared input ranges.

use super::*;

/// A closed integer interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Interval {
    pub(super) lo: i128,
    pub(super) hi: i128,
}

impl Interval {
    pub(super) fn new(lo: i128, hi: i128) -> Self {
        debug_assert!(lo <= hi);
        Interval { lo, hi }
    }

    pub(super) fn magnitude(&self) -> i128 {
        self.lo.abs().max(self.hi.abs())
    }

    /// The image under `floor(z / 2^shift)`, then ReLU if asked.
    pub(super) fn rescale(&self, shift: usize, relu: bool) -> Interval {
        Interval::new(rescale(self.lo, shift, relu), rescale(self.hi, shift, relu))
    }
}

/// Interval bounds of `sum_i w_ji x_i + b_j` over the box `x`.
pub(super) fn linear_bounds(
    rows: &[Vec<(u32, i64)>],
    bias: &[i128],
    x: &[Interval],
    op: usize,
) -> Result<Vec<Interval>> {
    let too_wide = || {
        Error::Overflow(format!(
            "op {op}: accumulators need more than {MAX_ACC_BITS} bits"
        ))
    };
    let limit = 1i128 << MAX_ACC_BITS;
    rows.iter()
        .zip(bias)
        .map(|(row, b)| {
            let (mut lo, mut hi) = (*b, *b);
            for (c, w) in row {
                let w = i128::from(*w);
                let x = x[*c as usize];
                let (p, q) = (
                    w.checked_mul(x.lo).ok_or_else(too_wide)?,
                    w.checked_mul(x.hi).ok_or_else(too_wide)?,
                );
                lo = lo.checked_add(p.min(q)).ok_or_else(too_wide)?;
                hi = hi.checked_add(p.max(q)).ok_or_else(too_wide)?;
                if lo.abs() > limit || hi.abs() > limit {
                    return Err(too_wide());
                }
            }
            Ok(Interval::new(lo, hi))
        })
        .collect()
}

/// Signed bits that hold every value of every interval.
pub(super) fn signed_bits(x: &[Interval]) -> usize {
    bitlen(x.iter().map(Interval::magnitude).max().unwrap_or(0)) + 1
}

pub(super) fn check_width(bits: usize, op: usize) -> Result<()> {
    if bits > MAX_ACC_BITS {
        return Err(Error::Overflow(format!(
            "op {op}: accumulators need {bits} bits, more than {MAX_ACC_BITS}"
        )));
    }
    Ok(())
}

pub(super) fn fits(z: i128, bits: usize) -> bool {
    bits < 127 && (-(1i128 << (bits - 1))..(1i128 << (bits - 1))).contains(&z)
}
