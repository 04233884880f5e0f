//! Small-cell suppression: a count is published as itself when it is at
//! least `k`, and as zero otherwise, so a verifier knows that every zero
//! stands for fewer than `k` rows and every other value is exact.

use crate::compare::is_nonnegative;
use crate::{Cs, Fr, Num, Result};

/// `count` if `count >= k`, else 0, for `0 <= count < 2^bits` and
/// `k <= 2^bits`. Costs `bits + 2` constraints.
pub fn suppress_below(cs: &Cs, count: &Num, k: u64, bits: usize) -> Result<Num> {
    let keep = is_nonnegative(cs, &count.add_const(-Fr::from(k)), bits)?;
    Num::mul(cs, count, &keep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_to_i128;
    use crate::testing::assert_sound;

    #[test]
    fn counts_below_k_become_zero_and_others_stay() {
        for (count, want) in [(0i128, 0i128), (4, 0), (5, 5), (6, 6), (255, 255)] {
            let (constraints, out) = assert_sound(1, |cs| {
                let c = Num::witness(cs, Some(Fr::from(count as u64))).unwrap();
                vec![suppress_below(cs, &c, 5, 8).unwrap()]
            });
            assert_eq!(constraints, 8 + 2);
            assert_eq!(field_to_i128(out[0]), Some(want), "count {count}");
        }
    }
}
