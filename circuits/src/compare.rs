//! Comparisons: `a >= b`, sign tests and equality.

use crate::bits::{decompose_signed, decompose_unsigned};
use crate::num::{enforce, enforce_equal};
use crate::{Cs, Fr, Num, Result};
use ark_ff::{AdditiveGroup, Field, Zero};

/// Proves `0 <= x < 2^bits`. Costs `bits` constraints.
pub fn assert_nonnegative(cs: &Cs, x: &Num, bits: usize) -> Result<()> {
    decompose_unsigned(cs, x, bits).map(|_| ())
}

/// Proves `a >= b` given `|a - b| < 2^bits`. Costs `bits` constraints.
pub fn assert_ge(cs: &Cs, a: &Num, b: &Num, bits: usize) -> Result<()> {
    assert_nonnegative(cs, &a.sub(b), bits)
}

/// The bit `[x >= 0]` for `x` in `[-2^bits, 2^bits)`. Costs `bits + 1`
/// constraints.
pub fn is_nonnegative(cs: &Cs, x: &Num, bits: usize) -> Result<Num> {
    let b = decompose_signed(cs, x, bits + 1)?;
    Ok(b[bits].clone())
}

/// The bit `[a == b]`. Costs 2 constraints: with `d = a - b` and a witness
/// `inv`, `d * inv = 1 - eq` and `d * eq = 0`.
pub fn is_equal(cs: &Cs, a: &Num, b: &Num) -> Result<Num> {
    let d = a.sub(b);
    let inv = Num::witness(cs, d.value().map(|v| v.inverse().unwrap_or(Fr::ZERO)))?;
    let eq = Num::witness(cs, d.value().map(|v| Fr::from(v.is_zero())))?;
    enforce(cs, &d, &inv, &Num::constant(Fr::ONE).sub(&eq))?;
    enforce(cs, &d, &eq, &Num::zero())?;
    Ok(eq)
}

/// Enforces `a == b`: 1 constraint.
pub fn assert_equal(cs: &Cs, a: &Num, b: &Num) -> Result<()> {
    enforce_equal(cs, a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i128_to_field;
    use crate::testing::{assert_sound, cs, satisfied};

    fn w(cs: &Cs, x: i128) -> Num {
        Num::witness(cs, Some(i128_to_field(x))).unwrap()
    }

    #[test]
    fn ge_accepts_and_rejects() {
        for (a, b) in [(9, 3), (3, 3)] {
            let (count, _) = assert_sound(2, |cs| {
                assert_ge(cs, &w(cs, a), &w(cs, b), 8).unwrap();
                vec![]
            });
            assert_eq!(count, 8);
        }
        let cs = cs();
        assert_ge(&cs, &w(&cs, 3), &w(&cs, 9), 8).unwrap();
        assert!(!satisfied(&cs));
    }

    #[test]
    fn sign_bit_is_correct_and_sound() {
        for (x, want) in [(-7i128, 0u64), (-1, 0), (0, 1), (5, 1)] {
            let (count, out) =
                assert_sound(1, |cs| vec![is_nonnegative(cs, &w(cs, x), 8).unwrap()]);
            assert_eq!(count, 9);
            assert_eq!(out[0], Fr::from(want));
        }
    }

    #[test]
    fn equality_bit_is_correct_and_sound() {
        for (a, b, want) in [(4i128, 4i128, 1u64), (4, 5, 0), (-3, 3, 0)] {
            let (count, out) =
                assert_sound(2, |cs| vec![is_equal(cs, &w(cs, a), &w(cs, b)).unwrap()]);
            assert_eq!(count, 2);
            assert_eq!(out[0], Fr::from(want));
        }
    }

    #[test]
    fn a_wrong_equality_bit_is_rejected() {
        // d = 1 with eq = 1 cannot satisfy d * eq = 0.
        let cs = cs();
        let d = w(&cs, 1);
        let inv = w(&cs, 0);
        let eq = w(&cs, 1);
        crate::num::enforce(&cs, &d, &inv, &Num::constant(Fr::ONE).sub(&eq)).unwrap();
        crate::num::enforce(&cs, &d, &eq, &Num::zero()).unwrap();
        assert!(!satisfied(&cs));
    }
}
