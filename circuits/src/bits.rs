//! Range checks by bit decomposition.
//!
//! `decompose_unsigned(x, n)` proves `0 <= x < 2^n` with exactly `n`
//! constraints: the `n - 1` low bits are witnesses with a booleanity
//! constraint each, and the top bit is not a variable at all but the linear
//! combination `(x - sum_{i<n-1} b_i 2^i) / 2^(n-1)`, whose booleanity
//! constraint also enforces that the bits recompose to `x`.

use crate::num::{enforce_boolean, low_bits, pow2};
use crate::{Cs, Fr, Num, Result};
use ark_ff::Field;

/// Largest supported width: `2^n` must stay far below the field modulus so
/// that a decomposition cannot wrap around.
pub const MAX_BITS: usize = 250;

/// Proves `0 <= x < 2^n` and returns the `n` bits of `x`, least significant
/// first. Costs `n` constraints.
pub fn decompose_unsigned(cs: &Cs, x: &Num, n: usize) -> Result<Vec<Num>> {
    assert!((1..=MAX_BITS).contains(&n), "bit width {n} out of range");
    let values = x.value().map(|v| low_bits(v, n));
    let mut bits = Vec::with_capacity(n);
    for i in 0..n - 1 {
        let b = Num::witness(cs, values.as_ref().map(|v| Fr::from(v[i])))?;
        enforce_boolean(cs, &b)?;
        bits.push(b);
    }
    let low = Num::linear_combination(bits.iter().enumerate().map(|(i, b)| (pow2(i), b)));
    let inv_top = pow2(n - 1).inverse().expect("2^k is invertible");
    let top = x.sub(&low).scale(inv_top);
    enforce_boolean(cs, &top)?;
    bits.push(top);
    Ok(bits)
}

/// Proves `-2^(n-1) <= x < 2^(n-1)` and returns the `n` bits of
/// `x + 2^(n-1)`; the top bit is 1 exactly when `x >= 0`. Costs `n`
/// constraints.
pub fn decompose_signed(cs: &Cs, x: &Num, n: usize) -> Result<Vec<Num>> {
    decompose_unsigned(cs, &x.add_const(pow2(n - 1)), n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i128_to_field;
    use crate::testing::{assert_sound, cs, satisfied};

    fn build(cs: &Cs, x: i128, n: usize, signed: bool) -> Vec<Num> {
        let x = Num::witness(cs, Some(i128_to_field(x))).unwrap();
        if signed {
            decompose_signed(cs, &x, n).unwrap()
        } else {
            decompose_unsigned(cs, &x, n).unwrap()
        }
    }

    #[test]
    fn accepts_the_range_and_pins_the_count() {
        for x in [0, 1, 200, 255] {
            assert_eq!(assert_sound(1, |cs| build(cs, x, 8, false)).0, 8);
        }
        for x in [-128, -1, 0, 127] {
            assert_eq!(assert_sound(1, |cs| build(cs, x, 8, true)).0, 8);
        }
    }

    #[test]
    fn rejects_values_outside_the_range() {
        for (x, signed) in [(256, false), (-1, false), (128, true), (-129, true)] {
            let cs = cs();
            build(&cs, x, 8, signed);
            assert!(
                !satisfied(&cs),
                "{x} must not fit in 8 bits (signed: {signed})"
            );
        }
    }

    #[test]
    fn bits_recompose_and_sign_is_the_top_bit() {
        // -5 + 128 = 123 = 0b0111_1011
        let (_, bits) = assert_sound(1, |cs| build(cs, -5, 8, true));
        let got: Vec<u8> = bits
            .iter()
            .map(|b| u8::from(*b == Fr::from(1u64)))
            .collect();
        assert_eq!(got, vec![1, 1, 0, 1, 1, 1, 1, 0]);
    }
}
