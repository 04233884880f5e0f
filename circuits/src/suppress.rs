//! Small-cell suppression: a count is published as itself when it is at
//! least `k`, and as zero otherwise, so a verifier knows that every zero
//! stands for fewer than `k` rows and every other value is exact.
//!
//! The threshold is a variable (a public input of the job circuit), not a
//! constant: the owner's release policy chooses it after the circuit and
//! its keys exist, so a key made before the job serves every threshold.

use crate::compare::{assert_nonnegative, is_nonnegative};
use crate::{Cs, Num, Result};

/// Proves `0 <= k < 2^bits`, the range [`suppress_below`] needs of its
/// threshold. Costs `bits` constraints, once per threshold.
pub fn threshold(cs: &Cs, k: &Num, bits: usize) -> Result<()> {
    assert_nonnegative(cs, k, bits)
}

/// `count` if `count >= k`, else 0, for `0 <= count < 2^bits` and a
/// threshold `k` checked by [`threshold`] with the same `bits`. Costs
/// `bits + 2` constraints.
pub fn suppress_below(cs: &Cs, count: &Num, k: &Num, bits: usize) -> Result<Num> {
    let keep = is_nonnegative(cs, &count.sub(k), bits)?;
    Num::mul(cs, count, &keep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_sound, cs, satisfied};
    use crate::{field_to_i128, Fr};

    fn suppressed(count: u64, k: u64) -> (usize, i128) {
        // Witnesses 0 and 1 are the gadget's inputs.
        let (constraints, out) = assert_sound(2, |cs| {
            let c = Num::witness(cs, Some(Fr::from(count))).unwrap();
            let k = Num::witness(cs, Some(Fr::from(k))).unwrap();
            threshold(cs, &k, 8).unwrap();
            vec![suppress_below(cs, &c, &k, 8).unwrap()]
        });
        (constraints, field_to_i128(out[0]).unwrap())
    }

    #[test]
    fn counts_below_k_become_zero_and_others_stay() {
        for (count, want) in [(0u64, 0i128), (4, 0), (5, 5), (6, 6), (255, 255)] {
            let (constraints, out) = suppressed(count, 5);
            assert_eq!(constraints, 8 + 8 + 2);
            assert_eq!(out, want, "count {count}");
        }
    }

    #[test]
    fn a_threshold_of_zero_keeps_every_count_and_the_largest_keeps_only_the_largest() {
        for count in [0u64, 1, 200] {
            assert_eq!(suppressed(count, 0).1, i128::from(count));
        }
        assert_eq!(suppressed(254, 255).1, 0);
        assert_eq!(suppressed(255, 255).1, 255);
    }

    #[test]
    fn a_threshold_out_of_range_is_refused() {
        // `k = 2^8` would let `count - k` leave the comparison's range.
        let cs = cs();
        let k = Num::witness(&cs, Some(Fr::from(256u64))).unwrap();
        threshold(&cs, &k, 8).unwrap();
        assert!(!satisfied(&cs));
    }

    #[test]
    fn a_count_published_against_another_threshold_is_refused() {
        // The count 6 published as itself: under 5 it holds, under 7 (which
        // zeroes it) it does not.
        let publishes_six = |k: u64| {
            let cs = cs();
            let c = Num::witness(&cs, Some(Fr::from(6u64))).unwrap();
            let k = Num::witness(&cs, Some(Fr::from(k))).unwrap();
            threshold(&cs, &k, 8).unwrap();
            let out = suppress_below(&cs, &c, &k, 8).unwrap();
            crate::compare::assert_equal(&cs, &out, &Num::constant(Fr::from(6u64))).unwrap();
            satisfied(&cs)
        };
        assert!(publishes_six(5));
        assert!(!publishes_six(7));
    }
}
