//! Differential-privacy noise drawn in the circuit: the discrete Laplace
//! distribution `P(k) ∝ p^|k|` as the difference of two geometric variables,
//! from a seed neither party chooses alone.
//!
//! A geometric variable `G` (`P(G = k) = (1 - p) p^k`) has independent
//! binary digits: bit `i` is 1 with probability
//! `q_i = p^(2^i) / (1 + p^(2^i))`. Each bit is drawn as `[u < T_i]` from a
//! 64-bit uniform `u` with `T_i = floor(q_i 2^64)`, and bits whose `T_i` is
//! 0 (probability below `2^-64`) are left out, so the draw costs one
//! comparison per bit and needs no logarithm. `p` is fixed by the caller as
//! a 64-bit fraction; `T_i` follow from it in exact integer arithmetic
//! (`p^(2^i)` by repeated squaring with 192 fractional bits), so every
//! machine builds the same circuit.
//!
//! Uniforms come from `x_j = Poseidon(seed, j)`: the low 192 bits of `x_j`
//! (three 64-bit uniforms, `2^-61` from uniform since `x_j` is uniform
//! below the modulus `r`). The gadget splits `x_j = lo + 2^192 hi` with
//! `hi < floor(r / 2^192)`, which makes the split unique (the prover cannot
//! pick `x_j + r`); the `2^-62` of seeds with `hi = floor(r / 2^192)` cannot
//! be proved. The seed is `Poseidon(TAG, salt, nonce)`: the dataset's salt
//! (committed with the dataset, unknown to researchers) and the job's
//! nonce.

use crate::bits::decompose_unsigned;
use crate::num::pow2;
use crate::poseidon::{self, gadget};
use crate::{Cs, Fr, Num, Result};
use ark_ff::PrimeField;
use num_bigint::BigUint;

/// Domain separator of [`seed`]: `zkgate.noise.v1` as an integer.
fn tag() -> Fr {
    Fr::from_be_bytes_mod_order(b"zkgate.noise.v1")
}

/// The noise seed of a job: `Poseidon(TAG, salt, nonce)`.
pub fn seed(salt: Fr, nonce: Fr) -> Fr {
    poseidon::hash(&[tag(), salt, nonce])
}

/// [`seed`] in R1CS.
pub fn seed_gadget(cs: &Cs, salt: &Num, nonce: &Num) -> Result<Num> {
    gadget::hash(cs, &[Num::constant(tag()), salt.clone(), nonce.clone()])
}

/// Constraints of [`seed_gadget`].
pub fn seed_cost() -> usize {
    gadget::cost(3)
}

/// Uniforms per Poseidon output.
const PER_BLOCK: usize = 3;

/// `floor(r / 2^192)`: the top limb of the modulus.
fn modulus_top() -> u64 {
    Fr::MODULUS.0[3]
}

/// The discrete Laplace sampler for one geometric parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sampler {
    /// `T_i`: bit `i` of a geometric draw is `[u < T_i]`.
    thresholds: Vec<u64>,
}

impl Sampler {
    /// The sampler for `p = p_64 / 2^64` (`0 < p < 1`).
    pub fn new(p_64: u64) -> Sampler {
        assert!(p_64 > 0, "p must be positive");
        const FRAC: u64 = 192;
        let one = BigUint::from(1u8) << FRAC;
        let mut a = BigUint::from(p_64) << (FRAC - 64);
        let mut thresholds = Vec::new();
        // At most 64 bits: a geometric draw stays below 2^64.
        while thresholds.len() < 64 {
            // q = a / (1 + a), as a 64-bit fraction, rounded down.
            let t = (&a << 64u32) / (&one + &a);
            let t = u64::try_from(t).expect("q < 1");
            if t == 0 {
                break;
            }
            thresholds.push(t);
            a = (&a * &a) >> FRAC;
        }
        Sampler { thresholds }
    }

    /// Bits of each geometric draw.
    pub fn bits(&self) -> usize {
        self.thresholds.len()
    }

    /// Poseidon blocks `values` draws need (two geometric draws each).
    fn blocks(&self, values: usize) -> usize {
        (values * 2 * self.bits()).div_ceil(PER_BLOCK)
    }

    /// The noise for `values` released values, natively.
    pub fn sample(&self, seed: Fr, values: usize) -> Vec<i128> {
        let mut uniforms = Vec::with_capacity(self.blocks(values) * PER_BLOCK);
        for j in 0..self.blocks(values) {
            let x = poseidon::hash(&[seed, Fr::from(j as u64)]).into_bigint().0;
            assert!(
                x[3] < modulus_top(),
                "a noise block at the top of the field (probability 2^-62)"
            );
            uniforms.extend_from_slice(&x[..PER_BLOCK]);
        }
        let mut u = uniforms.into_iter();
        (0..values)
            .map(|_| {
                let mut g = [0i128; 2];
                for draw in &mut g {
                    for (i, t) in self.thresholds.iter().enumerate() {
                        if u.next().expect("enough uniforms") < *t {
                            *draw += 1i128 << i;
                        }
                    }
                }
                g[0] - g[1]
            })
            .collect()
    }

    /// [`Sampler::sample`] in R1CS: the noise for `values` values from
    /// `seed`. Costs [`Sampler::cost`] constraints.
    pub fn gadget(&self, cs: &Cs, seed: &Num, values: usize) -> Result<Vec<Num>> {
        let mut uniforms = Vec::with_capacity(self.blocks(values) * PER_BLOCK);
        for j in 0..self.blocks(values) {
            let x = gadget::hash(cs, &[seed.clone(), Num::constant(Fr::from(j as u64))])?;
            let limbs = x.value().map(|v| v.into_bigint().0);
            uniforms.extend(split(cs, &x, limbs)?);
        }
        let mut u = uniforms.into_iter();
        let mut out = Vec::with_capacity(values);
        for _ in 0..values {
            let mut g = Vec::with_capacity(2);
            for _ in 0..2 {
                let mut terms = Vec::with_capacity(self.bits());
                for (i, t) in self.thresholds.iter().enumerate() {
                    // u + 2^64 - T is below 2^64 exactly when u < T.
                    let u = u.next().expect("enough uniforms");
                    let d = u.add_const(pow2(64) - Fr::from(*t));
                    let bits = decompose_unsigned(cs, &d, 65)?;
                    let below = Num::constant(Fr::from(1u64)).sub(&bits[64]);
                    terms.push((pow2(i), below));
                }
                g.push(Num::linear_combination(terms.iter().map(|(c, b)| (*c, b))));
            }
            out.push(g[0].sub(&g[1]));
        }
        Ok(out)
    }

    /// Constraints of [`Sampler::gadget`] for `values` values.
    pub fn cost(&self, values: usize) -> usize {
        let per_block = gadget::cost(2) + PER_BLOCK * 64 + 2 * 62 + 1;
        self.blocks(values) * per_block + values * 2 * self.bits() * 65
    }

    /// The variance of one noise value, `2p / (1 - p)^2`, as the sampler
    /// draws it (from its thresholds).
    pub fn variance(&self) -> f64 {
        // Each geometric draw is a sum of independent bits of weight 2^i.
        let one: f64 = self
            .thresholds
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let q = *t as f64 / 2f64.powi(64);
                4f64.powi(i as i32) * q * (1.0 - q)
            })
            .sum();
        2.0 * one
    }
}

/// Splits `x` into its three low 64-bit limbs (returned) and the rest,
/// `x = u0 + 2^64 u1 + 2^128 u2 + 2^192 hi`, each part range-checked and
/// `hi < floor(r / 2^192)`: the only split of `x` below `r`. `limbs` is the
/// prover's split.
fn split(cs: &Cs, x: &Num, limbs: Option<[u64; 4]>) -> Result<Vec<Num>> {
    let part = |k: usize| Num::witness(cs, limbs.map(|l| Fr::from(l[k])));
    let chunks = (0..PER_BLOCK).map(part).collect::<Result<Vec<_>>>()?;
    let hi = part(PER_BLOCK)?;
    for c in &chunks {
        decompose_unsigned(cs, c, 64)?;
    }
    decompose_unsigned(cs, &hi, 62)?;
    decompose_unsigned(cs, &Num::constant(Fr::from(modulus_top() - 1)).sub(&hi), 62)?;
    let sum = Num::linear_combination(
        chunks
            .iter()
            .chain([&hi])
            .enumerate()
            .map(|(k, c)| (pow2(64 * k), c)),
    );
    crate::compare::assert_equal(cs, &sum, x)?;
    Ok(chunks)
}

/// The parameter `p = exp(-epsilon / sensitivity)` as a 64-bit fraction,
/// rounded up (so the noise is never smaller than asked), or `None` when it
/// does not fit (`epsilon / sensitivity` below `2^-60` or above 40).
pub fn parameter(epsilon: f64, sensitivity: u64) -> Option<u64> {
    if sensitivity == 0 {
        return None;
    }
    // NaN and non-positive epsilons fall outside the range too.
    let x = epsilon / sensitivity as f64;
    if !(2f64.powi(-60)..=40.0).contains(&x) {
        return None;
    }
    // 2^64 p = 2^64 - 2^64 (1 - p), with 1 - p = -expm1(-x), which keeps
    // the precision of a small x; the subtraction is done in integers (in
    // floating point, 2^64 - d rounds to a multiple of 2^11 and could round
    // p down, towards less noise than asked).
    let drop = (-(-x).exp_m1() * 2f64.powi(64)).floor() as u128;
    Some(((1u128 << 64) - drop).min(u128::from(u64::MAX)) as u64)
}

/// The privacy loss `sensitivity * ln(1 / p)` of the parameter `p_64`,
/// computed from `1 - p` (exact in integers) so that a `p` close to 1, as
/// large sensitivities give, keeps its precision.
pub fn epsilon_of(p_64: u64, sensitivity: u64) -> f64 {
    let q = ((1u128 << 64) - u128::from(p_64)) as f64 / 2f64.powi(64);
    -(sensitivity as f64) * (-q).ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_sound_sampled;
    use crate::{field_to_i128, Num};
    use ark_ff::BigInteger;

    #[test]
    fn large_sensitivities_keep_their_epsilon() {
        // An error sum's sensitivity is its proven range: p is then within
        // 2^-40 of 1, and the stated epsilon must still be met, not
        // exceeded by rounding.
        for sensitivity in [1u64 << 20, 1 << 33, 1 << 40, (1 << 45) + 12_345] {
            for epsilon in [0.1, 1.0, 3.0] {
                let p = parameter(epsilon, sensitivity).unwrap();
                let e = epsilon_of(p, sensitivity);
                assert!(e <= epsilon, "{sensitivity} {epsilon}: {e}");
                assert!(e > epsilon * (1.0 - 1e-4), "{sensitivity} {epsilon}: {e}");
                // One step more noise is still within epsilon; one less is
                // over it (p is the least noise that keeps the promise).
                assert!(epsilon_of(p + 1, sensitivity) <= epsilon);
            }
        }
    }

    #[test]
    fn thresholds_follow_p() {
        // p = 1/2: q_0 = 1/3, q_1 = 1/5, q_2 = 1/17...
        let s = Sampler::new(1u64 << 63);
        let q: Vec<f64> = s
            .thresholds
            .iter()
            .map(|t| *t as f64 / 2f64.powi(64))
            .collect();
        assert!((q[0] - 1.0 / 3.0).abs() < 1e-15);
        assert!((q[1] - 1.0 / 5.0).abs() < 1e-15);
        assert!((q[2] - 1.0 / 17.0).abs() < 1e-15);
        // Bits stop where q_i < 2^-64: p^(2^i) < 2^-64 from i = 6 on.
        assert_eq!(s.bits(), 6);
        // Variance of the difference of two geometrics: 2p / (1 - p)^2 = 4.
        assert!((s.variance() - 4.0).abs() < 1e-9);
        // A smaller epsilon, more bits.
        let wide = Sampler::new(parameter(0.1, 2).unwrap());
        assert!(wide.bits() > s.bits());
        let p = parameter(0.1, 2).unwrap();
        assert!((epsilon_of(p, 2) - 0.1).abs() < 1e-9);
        assert!(
            epsilon_of(p, 2) <= 0.1 + 1e-15,
            "rounded towards more noise"
        );
        assert_eq!(parameter(0.0, 2), None);
        assert_eq!(parameter(1.0, 0), None);
    }

    #[test]
    fn gadget_draws_the_native_noise_and_is_sound() {
        let s = Sampler::new(parameter(1.0, 2).unwrap());
        for seed in [1u64, 2, 3] {
            let want = s.sample(Fr::from(seed), 2);
            // The seed is the gadget's input: every witness after it tampered.
            let (count, out) = assert_sound_sampled(1, 120, |cs| {
                let seed = Num::witness(cs, Some(Fr::from(seed))).unwrap();
                s.gadget(cs, &seed, 2).unwrap()
            });
            assert_eq!(count, s.cost(2));
            let got: Vec<i128> = out.iter().map(|v| field_to_i128(*v).unwrap()).collect();
            assert_eq!(got, want, "seed {seed}");
        }
    }

    #[test]
    fn a_second_split_of_the_block_is_refused() {
        // x = 5 is also x + r below 2^256: the split of x + r would give the
        // prover other uniforms, and the bound on hi refuses it.
        use crate::testing::{cs, satisfied};
        let build = |limbs: [u64; 4]| {
            let cs = cs();
            let x = Num::witness(&cs, Some(Fr::from(5u64))).unwrap();
            split(&cs, &x, Some(limbs)).unwrap();
            satisfied(&cs)
        };
        assert!(build([5, 0, 0, 0]));
        let wrapped = BigUint::from(5u8) + BigUint::from_bytes_le(&Fr::MODULUS.to_bytes_le());
        let mut limbs = [0u64; 4];
        for (k, d) in wrapped.to_u64_digits().iter().enumerate() {
            limbs[k] = *d;
        }
        assert!(limbs[3] < 1 << 62, "the wrapped split fits the widths");
        assert!(!build(limbs), "the second split is refused");
    }

    #[test]
    fn draws_follow_the_discrete_laplace_distribution() {
        // 20,000 seeds at p = exp(-1/2) (epsilon 1, sensitivity 2): the
        // frequency of every |k| <= 6 within 5 standard errors of
        // (1 - p) / (1 + p) p^|k|, and the variance within 5% of 2p/(1-p)^2.
        let p64 = parameter(1.0, 2).unwrap();
        let p = p64 as f64 / 2f64.powi(64);
        let s = Sampler::new(p64);
        let n = 20_000usize;
        let draws: Vec<i128> = (0..n as u64)
            .flat_map(|i| s.sample(poseidon::hash(&[Fr::from(i)]), 1))
            .collect();
        for k in -6i128..=6 {
            let want = (1.0 - p) / (1.0 + p) * p.powi(k.unsigned_abs() as i32);
            let got = draws.iter().filter(|d| **d == k).count() as f64 / n as f64;
            let se = (want * (1.0 - want) / n as f64).sqrt();
            assert!((got - want).abs() < 5.0 * se, "P({k}) = {got}, want {want}");
        }
        let var = draws.iter().map(|d| (*d * *d) as f64).sum::<f64>() / n as f64;
        let want = 2.0 * p / (1.0 - p).powi(2);
        assert!(
            (var / want - 1.0).abs() < 0.05,
            "variance {var}, want {want}"
        );
        assert!((s.variance() / want - 1.0).abs() < 1e-9);
    }
}
