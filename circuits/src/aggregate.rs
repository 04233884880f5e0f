//! Aggregates over per-row results: sums, class histograms, accuracy,
//! confusion matrices, squared and absolute errors, counts over a threshold.
//!
//! Sums of already-proven values are linear and free; the per-row gadgets
//! below document their own cost.

use crate::bits::decompose_signed;
use crate::compare::{is_equal, is_nonnegative};
use crate::{Cs, Fr, Num, Result};
use ark_ff::Field;

/// `sum_i x_i` (free).
pub fn sum(values: &[Num]) -> Num {
    Num::linear_combination(values.iter().map(|x| (Fr::ONE, x)))
}

/// Per-class counts from one-hot rows (free).
pub fn histogram(rows: &[Vec<Num>], classes: usize) -> Vec<Num> {
    (0..classes)
        .map(|c| Num::linear_combination(rows.iter().map(|r| (Fr::ONE, &r[c]))))
        .collect()
}

/// The bit `[predicted class == label]` from a one-hot prediction and an
/// integer label. Costs 2 constraints.
pub fn correct(cs: &Cs, prediction: &[Num], label: &Num) -> Result<Num> {
    let index = Num::linear_combination(
        prediction
            .iter()
            .enumerate()
            .map(|(i, b)| (Fr::from(i as u64), b)),
    );
    is_equal(cs, &index, label)
}

/// The row's contribution to a confusion matrix (row = label, column =
/// prediction), flattened row-major: `label_onehot[t] * prediction[p]`.
/// Costs `C * C` constraints.
pub fn confusion_cells(cs: &Cs, label_onehot: &[Num], prediction: &[Num]) -> Result<Vec<Num>> {
    let mut cells = Vec::with_capacity(label_onehot.len() * prediction.len());
    for t in label_onehot {
        for p in prediction {
            cells.push(Num::mul(cs, t, p)?);
        }
    }
    Ok(cells)
}

/// `(y - label)^2`: 1 constraint.
pub fn squared_error(cs: &Cs, y: &Num, label: &Num) -> Result<Num> {
    let d = y.sub(label);
    Num::mul(cs, &d, &d)
}

/// `|y - label|` for `|y - label| < 2^(bits-1)`: `bits + 1` constraints.
pub fn absolute_error(cs: &Cs, y: &Num, label: &Num, bits: usize) -> Result<Num> {
    let d = y.sub(label);
    let b = decompose_signed(cs, &d, bits)?;
    // sign = 1 when d >= 0; |d| = (2 sign - 1) d.
    let factor = b[bits - 1].scale(Fr::from(2u64)).add_const(-Fr::ONE);
    Num::mul(cs, &factor, &d)
}

/// The bit `[y >= threshold]` for `|y - threshold| < 2^bits`: `bits + 1`
/// constraints.
pub fn at_least(cs: &Cs, y: &Num, threshold: Fr, bits: usize) -> Result<Num> {
    is_nonnegative(cs, &y.add_const(-threshold), bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onehot::one_hot;
    use crate::testing::assert_sound;
    use crate::{field_to_i128, i128_to_field};

    fn w(cs: &Cs, x: i128) -> Num {
        Num::witness(cs, Some(i128_to_field(x))).unwrap()
    }

    #[test]
    fn correct_bit_is_sound() {
        for (pred, label, want) in [(1usize, 1i128, 1u64), (0, 1, 0), (2, 0, 0)] {
            let (count, out) = assert_sound(4, |cs| {
                let e: Vec<Num> = (0..3).map(|i| w(cs, i128::from(i == pred))).collect();
                let l = w(cs, label);
                vec![correct(cs, &e, &l).unwrap()]
            });
            assert_eq!(count, 2);
            assert_eq!(out[0], Fr::from(want));
        }
    }

    #[test]
    fn confusion_cells_are_sound() {
        let (count, cells) = assert_sound(3, |cs| {
            let l = w(cs, 1);
            let e = [w(cs, 0), w(cs, 1)];
            let oh = one_hot(cs, &l, 2).unwrap();
            confusion_cells(cs, &oh, &e[..]).unwrap()
        });
        assert_eq!(count, 4 + 4);
        let got: Vec<_> = cells.iter().map(|c| field_to_i128(*c).unwrap()).collect();
        assert_eq!(got, vec![0, 0, 0, 1]);
    }

    #[test]
    fn errors_are_sound() {
        for (y, l) in [(10i128, 3i128), (3, 10), (-4, -4)] {
            let (count, out) = assert_sound(2, |cs| {
                let (yn, ln) = (w(cs, y), w(cs, l));
                vec![
                    squared_error(cs, &yn, &ln).unwrap(),
                    absolute_error(cs, &yn, &ln, 8).unwrap(),
                ]
            });
            assert_eq!(count, 1 + 9);
            assert_eq!(field_to_i128(out[0]), Some((y - l) * (y - l)));
            assert_eq!(field_to_i128(out[1]), Some((y - l).abs()));
        }
    }

    #[test]
    fn threshold_count_is_sound() {
        for (y, want) in [(5i128, 1u64), (4, 1), (3, 0), (-20, 0)] {
            let (count, out) = assert_sound(1, |cs| {
                vec![at_least(cs, &w(cs, y), Fr::from(4u64), 8).unwrap()]
            });
            assert_eq!(count, 9);
            assert_eq!(out[0], Fr::from(want));
        }
    }

    #[test]
    fn sums_and_histograms_are_linear() {
        let cs = crate::testing::cs();
        let rows = vec![
            vec![w(&cs, 1), w(&cs, 0)],
            vec![w(&cs, 1), w(&cs, 0)],
            vec![w(&cs, 0), w(&cs, 1)],
        ];
        let h = histogram(&rows, 2);
        assert_eq!(h[0].value(), Some(Fr::from(2u64)));
        assert_eq!(h[1].value(), Some(Fr::from(1u64)));
        assert_eq!(
            sum(&[w(&cs, 4), w(&cs, -6)]).value(),
            Some(i128_to_field(-2))
        );
        assert_eq!(cs.num_constraints(), 0);
    }
}
