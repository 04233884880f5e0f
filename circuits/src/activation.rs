//! Smooth activations (sigmoid, tanh) inside a network, as piecewise-linear
//! functions of a fixed-point input: the input is placed in its segment with
//! the bucket gadget ([`crate::trees::bucket`]: a one-hot over the segments
//! and two range checks), the segment's slope and intercept are then linear
//! in the one-hot bits, and the output `slope * x + intercept` costs one
//! multiplication. The segments (and so the approximation error) are the
//! caller's; this gadget proves the piecewise-linear function exactly.

use crate::num::enforce;
use crate::trees::{bucket, Buckets};
use crate::{field_to_i128, i128_to_field, Cs, Num, Result};

/// A piecewise-linear function over integer inputs: on bucket `j` of
/// `buckets`, `slope[j] * x + intercept[j]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segments {
    /// The segments' bounds (one more bucket than thresholds).
    pub buckets: Buckets,
    /// One slope per bucket.
    pub slopes: Vec<i128>,
    /// One intercept per bucket.
    pub intercepts: Vec<i128>,
}

impl Segments {
    /// Constraints of [`apply`].
    pub fn cost(&self) -> usize {
        self.buckets.cost() + 1
    }

    /// The function at `x` (native).
    pub fn at(&self, x: i128) -> i128 {
        let j = self.buckets.of(x);
        self.slopes[j] * x + self.intercepts[j]
    }
}

/// `f(x)` for the piecewise-linear `f` of `s`, proving `lo <= x <= hi`.
/// Costs [`Segments::cost`] constraints.
pub fn apply(cs: &Cs, x: &Num, s: &Segments) -> Result<Num> {
    assert_eq!(s.slopes.len(), s.buckets.thresholds.len() + 1);
    assert_eq!(s.intercepts.len(), s.slopes.len());
    let onehot = bucket(cs, x, &s.buckets)?;
    let slope = Num::linear_combination(
        onehot
            .iter()
            .zip(&s.slopes)
            .map(|(o, m)| (i128_to_field(*m), o)),
    );
    let intercept = Num::linear_combination(
        onehot
            .iter()
            .zip(&s.intercepts)
            .map(|(o, c)| (i128_to_field(*c), o)),
    );
    // y - intercept = x * slope, y one fresh variable.
    let y = Num::witness(
        cs,
        x.value()
            .and_then(field_to_i128)
            .map(|v| i128_to_field(s.at(v))),
    )?;
    enforce(cs, x, &slope, &y.sub(&intercept))?;
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_sound;

    #[test]
    fn applies_each_segment_and_is_sound() {
        // |x| clipped to [-4, 4] on [-10, 10]: slopes -1 / 1 inside, 0 out.
        let s = Segments {
            buckets: Buckets {
                lo: -10,
                hi: 10,
                thresholds: vec![-5, 0, 4],
            },
            slopes: vec![0, -1, 1, 0],
            intercepts: vec![5, 0, 0, 4],
        };
        for x in -10i128..=10 {
            let (count, out) = assert_sound(1, |cs| {
                let v = Num::witness(cs, Some(i128_to_field(x))).unwrap();
                vec![apply(cs, &v, &s).unwrap()]
            });
            assert_eq!(count, s.cost());
            assert_eq!(field_to_i128(out[0]), Some(s.at(x)), "{x}");
            assert_eq!(s.at(x), x.abs().min(if x < 0 { 5 } else { 4 }), "{x}");
        }
    }
}
