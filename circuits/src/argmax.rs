//! Argmax of a vector of logits, as a one-hot vector (ties go to the lowest
//! index).
//!
//! The prover supplies the one-hot `e`; with `m = sum_i e_i * z_i`, every
//! `m - z_i - [i < k]` (where `k` is the chosen index and
//! `[i < k] = sum_{j > i} e_j`) is range-checked to be non-negative: `m` is
//! at least every logit and strictly above those before `k`.

use crate::compare::assert_nonnegative;
use crate::num::{enforce_boolean, enforce_equal};
use crate::{Cs, Fr, Num, Result};
use ark_ff::Field;

/// Proves `e = onehot(argmax(logits))` for logits whose pairwise differences
/// are below `2^bits` in absolute value. Costs `C * (bits + 2) + 1`
/// constraints for `C` logits.
pub fn argmax(cs: &Cs, logits: &[Num], bits: usize) -> Result<Vec<Num>> {
    assert!(!logits.is_empty(), "argmax of nothing");
    let values: Option<Vec<i128>> = logits
        .iter()
        .map(|z| {
            z.value()
                .map(|v| crate::field_to_i128(v).unwrap_or(i128::MIN))
        })
        .collect();
    let k = values.map(|vs| argmax_native(&vs));
    let mut e = Vec::with_capacity(logits.len());
    for i in 0..logits.len() {
        let b = Num::witness(cs, k.map(|k| Fr::from(k == i)))?;
        enforce_boolean(cs, &b)?;
        e.push(b);
    }
    let sum = Num::linear_combination(e.iter().map(|b| (Fr::ONE, b)));
    enforce_equal(cs, &sum, &Num::constant(Fr::ONE))?;
    let mut m = Num::zero();
    for (b, z) in e.iter().zip(logits) {
        m = m.add(&Num::mul(cs, b, z)?);
    }
    for i in 0..logits.len() {
        let later = Num::linear_combination(e[i + 1..].iter().map(|b| (Fr::ONE, b)));
        assert_nonnegative(cs, &m.sub(&logits[i]).sub(&later), bits)?;
    }
    Ok(e)
}

/// Reference semantics: the first index of the maximum.
pub fn argmax_native(values: &[i128]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i128_to_field;
    use crate::num::enforce;
    use crate::testing::{assert_sound, cs, satisfied};

    #[test]
    fn picks_the_first_maximum_and_is_sound() {
        for logits in [
            vec![-5i128, 7, 3],
            vec![4, 4, -1],
            vec![0, 0, 0],
            vec![-9, -2, -3],
        ] {
            let (count, e) = assert_sound(logits.len(), |cs| {
                let zs: Vec<Num> = logits
                    .iter()
                    .map(|&x| Num::witness(cs, Some(i128_to_field(x))).unwrap())
                    .collect();
                argmax(cs, &zs, 8).unwrap()
            });
            assert_eq!(count, 3 * (8 + 2) + 1);
            let want = argmax_native(&logits);
            for (i, b) in e.iter().enumerate() {
                assert_eq!(*b, Fr::from(i == want));
            }
        }
    }

    #[test]
    fn a_later_tied_index_is_rejected() {
        // logits [4, 4]: claiming index 1 must fail (ties go to index 0).
        let cs = cs();
        let zs: Vec<Num> = [4i128, 4]
            .iter()
            .map(|&x| Num::witness(&cs, Some(i128_to_field(x))).unwrap())
            .collect();
        let e: Vec<Num> = [0u64, 1]
            .iter()
            .map(|&b| Num::witness(&cs, Some(Fr::from(b))))
            .collect::<Result<_>>()
            .unwrap();
        let p0 = Num::mul(&cs, &e[0], &zs[0]).unwrap();
        let p1 = Num::mul(&cs, &e[1], &zs[1]).unwrap();
        let m = p0.add(&p1);
        assert_nonnegative(&cs, &m.sub(&zs[0]).sub(&e[1]), 8).unwrap();
        assert_nonnegative(&cs, &m.sub(&zs[1]), 8).unwrap();
        enforce(&cs, &e[0], &e[0], &e[0]).unwrap();
        assert!(!satisfied(&cs));
    }
}
