//! Poseidon over BN254 with circomlib's parameters.
//!
//! `hash(&[x_1..x_k])` equals circomlib's `Poseidon(k)` template (state
//! `[0, x_1..x_k]`, x^5 S-box, 8 full rounds, circomlib's partial-round
//! counts, round constants and MDS matrices); the constants are taken from
//! `light-poseidon`, which ships circomlib's tables. [`gadget::hash`] is the
//! same function in R1CS.

pub mod gadget;

use crate::Fr;
use ark_ff::{AdditiveGroup, Field};
use light_poseidon::{parameters::bn254_x5::get_poseidon_parameters, PoseidonParameters};
use std::sync::OnceLock;

/// Most inputs one call takes (state width 13).
pub const MAX_INPUTS: usize = 12;

/// The parameters for `inputs` inputs (state width `inputs + 1`).
pub fn params(inputs: usize) -> &'static PoseidonParameters<Fr> {
    static ALL: OnceLock<Vec<PoseidonParameters<Fr>>> = OnceLock::new();
    assert!(
        (1..=MAX_INPUTS).contains(&inputs),
        "Poseidon takes 1..={MAX_INPUTS} inputs, got {inputs}"
    );
    let all = ALL.get_or_init(|| {
        (2..=MAX_INPUTS as u8 + 1)
            .map(|t| get_poseidon_parameters::<Fr>(t).expect("circomlib widths 2..=13"))
            .collect()
    });
    &all[inputs - 1]
}

/// circomlib's `Poseidon(inputs.len())` over BN254.
pub fn hash(inputs: &[Fr]) -> Fr {
    let p = params(inputs.len());
    let t = p.width;
    let mut state = Vec::with_capacity(t);
    state.push(Fr::ZERO);
    state.extend_from_slice(inputs);
    let half = p.full_rounds / 2;
    for round in 0..p.full_rounds + p.partial_rounds {
        for (i, s) in state.iter_mut().enumerate() {
            *s += p.ark[round * t + i];
        }
        let full = round < half || round >= half + p.partial_rounds;
        for s in state.iter_mut().take(if full { t } else { 1 }) {
            let x2 = s.square();
            *s *= x2.square();
        }
        state = (0..t)
            .map(|i| state.iter().zip(&p.mds[i]).map(|(s, m)| *s * m).sum())
            .collect();
    }
    state[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{BigInteger, PrimeField};
    use light_poseidon::{Poseidon, PoseidonHasher};

    fn hex(x: Fr) -> String {
        x.into_bigint()
            .to_bytes_be()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn matches_circomlib_test_vectors() {
        // circomlib's test/poseidon.js vectors.
        let f = |v: &[u64]| v.iter().map(|&x| Fr::from(x)).collect::<Vec<_>>();
        assert_eq!(
            hex(hash(&f(&[1, 2]))),
            "115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a"
        );
        assert_eq!(
            hex(hash(&f(&[1, 2, 3, 4]))),
            "299c867db6c1fdd79dcefa40e4510b9837e60ebb1ce0663dbaa525df65250465"
        );
    }

    #[test]
    fn matches_light_poseidon_at_every_width() {
        for k in 1..=MAX_INPUTS {
            let inputs: Vec<Fr> = (0..k as u64).map(|i| Fr::from(i * 7919 + 3)).collect();
            let mut reference = Poseidon::<Fr>::new_circom(k).unwrap();
            assert_eq!(
                hash(&inputs),
                reference.hash(&inputs).unwrap(),
                "width {}",
                k + 1
            );
        }
    }
}
