//! One-hot encoding of a small integer (a class label).

use crate::num::{enforce_boolean, enforce_equal};
use crate::{Cs, Fr, Num, Result};
use ark_ff::Field;

/// The one-hot vector of `x`, proven to be in `[0, classes)`. Costs
/// `classes + 2` constraints.
pub fn one_hot(cs: &Cs, x: &Num, classes: usize) -> Result<Vec<Num>> {
    let k = x.value().map(|v| crate::field_to_i128(v).unwrap_or(-1));
    let mut e = Vec::with_capacity(classes);
    for i in 0..classes {
        let b = Num::witness(cs, k.map(|k| Fr::from(k == i as i128)))?;
        enforce_boolean(cs, &b)?;
        e.push(b);
    }
    let sum = Num::linear_combination(e.iter().map(|b| (Fr::ONE, b)));
    enforce_equal(cs, &sum, &Num::constant(Fr::ONE))?;
    let index = Num::linear_combination(e.iter().enumerate().map(|(i, b)| (Fr::from(i as u64), b)));
    enforce_equal(cs, &index, x)?;
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_sound, cs, satisfied};

    #[test]
    fn encodes_and_is_sound() {
        for k in 0..3u64 {
            let (count, e) = assert_sound(1, |cs| {
                let x = Num::witness(cs, Some(Fr::from(k))).unwrap();
                one_hot(cs, &x, 3).unwrap()
            });
            assert_eq!(count, 5);
            for (i, b) in e.iter().enumerate() {
                assert_eq!(*b, Fr::from(i as u64 == k));
            }
        }
    }

    #[test]
    fn rejects_an_out_of_range_value() {
        let cs = cs();
        let x = Num::witness(&cs, Some(Fr::from(3u64))).unwrap();
        one_hot(&cs, &x, 3).unwrap();
        assert!(!satisfied(&cs));
    }
}
