//! Poseidon in R1CS: the same permutation as [`super::hash`].
//!
//! Each S-box `x^5` costs 3 constraints; the MDS layer and round constants
//! are linear and free. A call with `k` inputs (width `t = k + 1`) costs
//! `3 * (8 t + partial_rounds)` constraints: 507 for 12 inputs.

use super::params;
use crate::{Cs, Num, Result};

fn sbox(cs: &Cs, x: &Num) -> Result<Num> {
    let x2 = Num::mul(cs, x, x)?;
    let x4 = Num::mul(cs, &x2, &x2)?;
    Num::mul(cs, &x4, x)
}

/// circomlib's `Poseidon(inputs.len())` in R1CS.
pub fn hash(cs: &Cs, inputs: &[Num]) -> Result<Num> {
    let p = params(inputs.len());
    let t = p.width;
    let mut state = Vec::with_capacity(t);
    state.push(Num::zero());
    state.extend(inputs.iter().cloned());
    let half = p.full_rounds / 2;
    for round in 0..p.full_rounds + p.partial_rounds {
        for (i, s) in state.iter_mut().enumerate() {
            *s = s.add_const(p.ark[round * t + i]);
        }
        let full = round < half || round >= half + p.partial_rounds;
        for s in state.iter_mut().take(if full { t } else { 1 }) {
            *s = sbox(cs, s)?;
        }
        state = (0..t)
            .map(|i| Num::linear_combination(state.iter().zip(&p.mds[i]).map(|(s, m)| (*m, s))))
            .collect();
    }
    Ok(state.swap_remove(0))
}

/// Constraints one call with `inputs` inputs costs.
pub fn cost(inputs: usize) -> usize {
    let p = params(inputs);
    3 * (p.full_rounds * p.width + p.partial_rounds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_sound;
    use crate::Fr;

    #[test]
    fn agrees_with_native_and_is_sound() {
        for k in [2usize, 12] {
            let xs: Vec<Fr> = (0..k as u64).map(|i| Fr::from(i + 1)).collect();
            let want = super::super::hash(&xs);
            let (count, out) = assert_sound(k, |cs| {
                let inputs: Vec<Num> = xs
                    .iter()
                    .map(|x| Num::witness(cs, Some(*x)).unwrap())
                    .collect();
                vec![hash(cs, &inputs).unwrap()]
            });
            assert_eq!(count, cost(k));
            assert_eq!(out[0], want);
        }
        assert_eq!(cost(12), 3 * (8 * 13 + 65));
    }
}
