//! Maximum of a window (max pooling).
//!
//! The prover supplies `m`; every `m - v_i` is range-checked to
//! `[0, 2^bits)` (so `m` is an upper bound) and the product of all
//! `m - v_i` is constrained to zero (so `m` is one of the values).

use crate::compare::assert_ge;
use crate::num::enforce;
use crate::{Cs, Fr, Num, Result};

/// `max(values)` for values whose pairwise differences are below `2^bits`.
/// Costs `w * bits + w - 1` constraints for a window of `w` values.
pub fn max(cs: &Cs, values: &[Num], bits: usize) -> Result<Num> {
    assert!(!values.is_empty(), "max of an empty window");
    if values.len() == 1 {
        return Ok(values[0].clone());
    }
    let m_value = values
        .iter()
        .map(Num::value)
        .collect::<Option<Vec<Fr>>>()
        .map(|vs| {
            vs.into_iter()
                .max_by_key(|v| crate::field_to_i128(*v).unwrap_or(i128::MIN))
                .expect("non-empty")
        });
    let m = Num::witness(cs, m_value)?;
    let diffs: Vec<Num> = values.iter().map(|v| m.sub(v)).collect();
    for v in values {
        assert_ge(cs, &m, v, bits)?;
    }
    let mut prod = diffs[0].clone();
    for (i, d) in diffs.iter().enumerate().skip(1) {
        if i + 1 == diffs.len() {
            enforce(cs, &prod, d, &Num::zero())?;
        } else {
            prod = Num::mul(cs, &prod, d)?;
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_sound, cs, satisfied};
    use crate::{field_to_i128, i128_to_field};

    #[test]
    fn finds_the_max_and_is_sound() {
        for window in [vec![3i128, 9, 2, 9], vec![0, 0, 0, 0], vec![7, 1, 5, 6]] {
            let (count, out) = assert_sound(window.len(), |cs| {
                let vs: Vec<Num> = window
                    .iter()
                    .map(|&x| Num::witness(cs, Some(i128_to_field(x))).unwrap())
                    .collect();
                vec![max(cs, &vs, 8).unwrap()]
            });
            assert_eq!(count, 4 * 8 + 3);
            assert_eq!(field_to_i128(out[0]), window.iter().copied().max());
        }
    }

    #[test]
    fn a_bound_that_is_not_a_member_is_rejected() {
        // 10 bounds every value but is none of them: the product check fails.
        let cs = cs();
        let vs: Vec<Num> = [3i128, 9, 2]
            .iter()
            .map(|&x| Num::witness(&cs, Some(i128_to_field(x))).unwrap())
            .collect();
        let m = Num::witness(&cs, Some(i128_to_field(10))).unwrap();
        for v in &vs {
            assert_ge(&cs, &m, v, 8).unwrap();
        }
        let p = Num::mul(&cs, &m.sub(&vs[0]), &m.sub(&vs[1])).unwrap();
        enforce(&cs, &p, &m.sub(&vs[2]), &Num::zero()).unwrap();
        assert!(!satisfied(&cs));
    }
}
