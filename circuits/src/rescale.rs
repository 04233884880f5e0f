//! Fixed-point rescale: floor division by `2^shift` with the remainder
//! range-checked.
//!
//! The input `z` is proven to lie in `[-2^(bits-1), 2^(bits-1))` by one
//! decomposition of `z + 2^(bits-1)`; the quotient is the linear combination
//! of the bits above `shift` and the remainder is the bits below, so the
//! floor is exact and costs no more than the range check (`bits`
//! constraints). The same decomposition gives the sign that ReLU needs.

use crate::bits::decompose_unsigned;
use crate::num::pow2;
use crate::{Cs, Num, Result};

/// The result of a rescale.
#[derive(Clone, Debug)]
pub struct Rescaled {
    /// `floor(z / 2^shift)`.
    pub value: Num,
    /// 1 when `z >= 0`, else 0 (a proven bit).
    pub sign: Num,
    /// `floor(z / 2^shift)` when `z >= 0`; the quotient plus
    /// `2^(bits-1-shift)` otherwise. Non-negative, fewer than
    /// `bits - 1 - shift` bits.
    pub magnitude: Num,
}

/// `floor(z / 2^shift)` for `z` in `[-2^(bits-1), 2^(bits-1))`. Costs
/// `bits` constraints.
pub fn rescale(cs: &Cs, z: &Num, bits: usize, shift: usize) -> Result<Rescaled> {
    assert!(shift < bits, "shift {shift} must be below the width {bits}");
    let half = pow2(bits - 1);
    let b = decompose_unsigned(cs, &z.add_const(half), bits)?;
    let sign = b[bits - 1].clone();
    let magnitude = Num::linear_combination((shift..bits - 1).map(|i| (pow2(i - shift), &b[i])));
    let top = pow2(bits - 1 - shift);
    let value = magnitude.add_scaled(&sign, top).add_const(-top);
    Ok(Rescaled {
        value,
        sign,
        magnitude,
    })
}

/// Reference semantics: `floor(z / 2^shift)` on integers.
pub fn rescale_native(z: i128, shift: usize) -> i128 {
    z >> shift
}

/// Whether `z` fits the signed range of `bits` bits.
pub fn fits(z: i128, bits: usize) -> bool {
    let half = 1i128 << (bits - 1);
    (-half..half).contains(&z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_sound, cs, satisfied};
    use crate::{field_to_i128, i128_to_field, Fr};

    #[test]
    fn floors_like_integer_division_and_is_sound() {
        for z in [-1000i128, -513, -512, -1, 0, 1, 511, 512, 1023] {
            let (count, out) = assert_sound(1, |cs| {
                let zn = Num::witness(cs, Some(i128_to_field(z))).unwrap();
                let r = rescale(cs, &zn, 12, 4).unwrap();
                vec![r.value, r.sign, r.magnitude]
            });
            assert_eq!(count, 12);
            assert_eq!(field_to_i128(out[0]), Some(rescale_native(z, 4)));
            assert_eq!(out[1], Fr::from(u64::from(z >= 0)));
        }
    }

    #[test]
    fn rejects_out_of_range_input() {
        let cs = cs();
        let z = Num::witness(&cs, Some(i128_to_field(2048))).unwrap();
        rescale(&cs, &z, 12, 4).unwrap();
        assert!(!satisfied(&cs));
    }

    #[test]
    fn a_forged_quotient_is_rejected() {
        // Claim floor(100 / 16) = 7 instead of 6: force it through an extra equality.
        let cs = cs();
        let z = Num::witness(&cs, Some(i128_to_field(100))).unwrap();
        let r = rescale(&cs, &z, 12, 4).unwrap();
        let claimed = Num::witness(&cs, Some(Fr::from(7u64))).unwrap();
        crate::num::enforce_equal(&cs, &r.value, &claimed).unwrap();
        assert!(!satisfied(&cs));
    }
}
