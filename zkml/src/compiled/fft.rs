//! Radix-2 FFTs for the quotient, arranged for the prover's pipeline.
//!
//! ark-poly's FFTs take and give values in natural order, so each one ends
//! (or starts) with a bit-reversal permutation, a pass of random accesses
//! over the whole vector, and each of its `log N` butterfly layers is a
//! pass over the whole vector too. Here:
//!
//! - the forward transform from coefficients is decimation in time (input
//!   in bit-reversed order, output natural) and the inverse one is
//!   decimation in frequency (input natural, output bit-reversed), so an
//!   inverse transform followed by a forward one needs no permutation at
//!   all, and the quotient's whole pipeline needs one, at its end;
//! - the layers whose butterflies stay inside a block of [`BLOCK`] values
//!   (about 128 KiB, so a core's L2 cache holds it and its twiddles) are
//!   run block by block, all of them before the next block is read, so a
//!   transform of `2^k` values reads the vector from memory
//!   `k - log2(BLOCK) + 1` times instead of `k`;
//! - the twiddles of the inverse are read from the forward table
//!   (`w^-j = -w^(N/2 - j)`), and the `1/N` and the coset shift are applied
//!   together, in one pass over the bit-reversed coefficients.
//!
//! The transforms are the same linear maps as ark-poly's (tests compare
//! them on random vectors of every size up to `2^12` and a few larger),
//! so the quotient, and the proof, are the same.

use ark_ff::{FftField, Field, Zero};
use rayon::prelude::*;
use zkgate_circuits::Fr;

/// Values per cache block: the layers within it run block by block.
const BLOCK: usize = 1 << 12;

/// Butterflies per parallel task in a layer that spans blocks.
const TASK: usize = 1 << 11;

/// A radix-2 domain of size `n`: its generator's powers `w^j`, `j < n/2`.
pub struct Radix2 {
    n: usize,
    log_n: u32,
    twiddles: Vec<Fr>,
}

impl Radix2 {
    /// The domain of size `n` (a power of two up to the field's two-adicity),
    /// with the generator ark-poly's radix-2 domain uses.
    pub fn new(n: usize) -> Option<Radix2> {
        if !n.is_power_of_two() {
            return None;
        }
        let w = Fr::get_root_of_unity(n as u64)?;
        Some(Radix2 {
            n,
            log_n: n.trailing_zeros(),
            twiddles: powers(w, n / 2),
        })
    }

    /// `w^(j * stride)` for the forward transform, `w^-(j * stride)` for
    /// the inverse.
    #[inline(always)]
    fn twiddle(&self, k: usize, inverse: bool) -> Fr {
        if !inverse || k == 0 {
            self.twiddles[k]
        } else {
            -self.twiddles[self.n / 2 - k]
        }
    }

    /// The inverse transform without its `1/N`: values in natural order in,
    /// `N` times the coefficients out in bit-reversed order.
    pub fn inverse_to_reversed(&self, x: &mut [Fr]) {
        assert_eq!(x.len(), self.n);
        let mut len = self.n;
        while len > BLOCK {
            self.dif_layer(x, len, true);
            len /= 2;
        }
        let local = self.local_table(len, true);
        x.par_chunks_mut(len)
            .for_each(|chunk| dif_block(chunk, &local));
    }

    /// The forward transform: coefficients in bit-reversed order in, values
    /// in natural order out.
    pub fn forward_from_reversed(&self, x: &mut [Fr]) {
        assert_eq!(x.len(), self.n);
        let top = self.n.min(BLOCK);
        let local = self.local_table(top, false);
        x.par_chunks_mut(top)
            .for_each(|chunk| dit_block(chunk, &local));
        let mut len = top * 2;
        while len <= self.n {
            self.dit_layer(x, len);
            len *= 2;
        }
    }

    /// The twiddles of a block of `len` values: `w_len^j`, `j < len/2`.
    fn local_table(&self, len: usize, inverse: bool) -> Vec<Fr> {
        let stride = self.n / len;
        (0..len / 2)
            .map(|j| self.twiddle(j * stride, inverse))
            .collect()
    }

    /// One decimation-in-frequency layer of butterflies `len/2` apart.
    fn dif_layer(&self, x: &mut [Fr], len: usize, inverse: bool) {
        self.layer(x, len, |u, v, k| {
            let sum = *u + *v;
            *v = (*u - *v) * self.twiddle(k, inverse);
            *u = sum;
        });
    }

    /// One decimation-in-time layer of butterflies `len/2` apart.
    fn dit_layer(&self, x: &mut [Fr], len: usize) {
        self.layer(x, len, |u, v, k| {
            let wv = *v * self.twiddles[k];
            *v = *u - wv;
            *u += wv;
        });
    }

    /// Runs `butterfly(u, v, k)` on every pair `len/2` apart, `k` the
    /// pair's twiddle index in the domain's table, in parallel tasks.
    fn layer(&self, x: &mut [Fr], len: usize, butterfly: impl Fn(&mut Fr, &mut Fr, usize) + Sync) {
        let half = len / 2;
        let stride = self.n / len;
        x.par_chunks_mut(len).for_each(|chunk| {
            let (lo, hi) = chunk.split_at_mut(half);
            lo.par_chunks_mut(TASK)
                .zip(hi.par_chunks_mut(TASK))
                .enumerate()
                .for_each(|(t, (lo, hi))| {
                    for (j, (u, v)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
                        butterfly(u, v, (t * TASK + j) * stride);
                    }
                });
        });
    }

    /// Puts a vector in bit-reversed order into natural order (and back).
    pub fn permute(&self, x: &mut [Fr]) {
        assert_eq!(x.len(), self.n);
        if self.n < 2 {
            return;
        }
        let shift = usize::BITS - self.log_n;
        for i in 0..self.n {
            let j = i.reverse_bits() >> shift;
            if i < j {
                x.swap(i, j);
            }
        }
    }
}

/// All the decimation-in-frequency layers of one block (its size down to
/// 2), with the block's twiddles `w_len^j`.
fn dif_block(x: &mut [Fr], table: &[Fr]) {
    let n = x.len();
    let mut len = n;
    while len >= 2 {
        let half = len / 2;
        let stride = n / len;
        for chunk in x.chunks_exact_mut(len) {
            let (lo, hi) = chunk.split_at_mut(half);
            let sum = lo[0] + hi[0];
            hi[0] = lo[0] - hi[0];
            lo[0] = sum;
            for j in 1..half {
                let (u, v) = (lo[j], hi[j]);
                lo[j] = u + v;
                hi[j] = (u - v) * table[j * stride];
            }
        }
        len /= 2;
    }
}

/// All the decimation-in-time layers of one block (2 up to its size).
fn dit_block(x: &mut [Fr], table: &[Fr]) {
    let n = x.len();
    let mut len = 2;
    while len <= n {
        let half = len / 2;
        let stride = n / len;
        for chunk in x.chunks_exact_mut(len) {
            let (lo, hi) = chunk.split_at_mut(half);
            let (u, v) = (lo[0], hi[0]);
            lo[0] = u + v;
            hi[0] = u - v;
            for j in 1..half {
                let wv = hi[j] * table[j * stride];
                hi[j] = lo[j] - wv;
                lo[j] += wv;
            }
        }
        len *= 2;
    }
}

/// `g^i` for `i < n`, computed in parallel runs.
fn powers(g: Fr, n: usize) -> Vec<Fr> {
    let mut out = vec![Fr::zero(); n];
    out.par_chunks_mut(TASK).enumerate().for_each(|(t, chunk)| {
        let mut p = g.pow([(t * TASK) as u64]);
        for v in chunk {
            *v = p;
            p *= g;
        }
    });
    out
}

/// `first * g^bitrev(p)` at position `p < n` (a power of two): the
/// powers of `g` in bit-reversed order, built front to back (the second
/// half of the table for `g` is `g` times the first, and the first is the
/// table for `g^2` of half the size).
fn reversed_powers(g: Fr, first: Fr, n: usize) -> Vec<Fr> {
    let mut steps = Vec::new();
    let mut m = g;
    let mut len = 1;
    while len < n {
        steps.push(m);
        m.square_in_place();
        len *= 2;
    }
    let mut out = Vec::with_capacity(n);
    out.push(first);
    for m in steps.iter().rev() {
        let len = out.len();
        out.extend_from_within(..len);
        out[len..].par_iter_mut().for_each(|v| *v *= m);
    }
    out
}

/// Multiplies the bit-reversed vector `x` by `first * g^i` at natural
/// index `i` (a coset shift, with a constant such as `1/N` folded in).
///
/// Position `p = t * T + k` of a run of `T` holds natural index
/// `bitrev(k) * (N / T) + bitrev(t)`, so its factor is `g^bitrev(t)` times
/// entry `k` of one table of `T` powers of `g^(N/T)`: no table of `N`.
pub fn scale_reversed(x: &mut [Fr], g: Fr, first: Fr) {
    let n = x.len();
    let run = n.min(BLOCK);
    let runs = n / run;
    let table = reversed_powers(g.pow([runs as u64]), first, run);
    let shift = usize::BITS - runs.trailing_zeros();
    x.par_chunks_mut(run).enumerate().for_each(|(t, chunk)| {
        let high = if runs < 2 {
            0
        } else {
            t.reverse_bits() >> shift
        };
        let f = g.pow([high as u64]);
        for (v, p) in chunk.iter_mut().zip(&table) {
            *v *= *p * f;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{One, UniformRand};
    use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
    use rand::SeedableRng;

    fn random(n: usize, seed: u64) -> Vec<Fr> {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        (0..n).map(|_| Fr::rand(&mut rng)).collect()
    }

    #[test]
    fn transforms_equal_ark_polys_at_every_size() {
        let mut sizes: Vec<usize> = (0..=12).map(|k| 1 << k).collect();
        sizes.extend([BLOCK * 2, BLOCK * 8]);
        for n in sizes {
            let d = GeneralEvaluationDomain::<Fr>::new(n).unwrap();
            assert_eq!(d.size(), n);
            let ours = Radix2::new(n).unwrap();
            let values = random(n, n as u64);

            // Inverse: N times the coefficients, bit-reversed.
            let mut x = values.clone();
            ours.inverse_to_reversed(&mut x);
            ours.permute(&mut x);
            let n_inv = Fr::from(n as u64).inverse().unwrap();
            x.iter_mut().for_each(|v| *v *= n_inv);
            assert_eq!(x, d.ifft(&values), "inverse, n = {n}");

            // Forward from bit-reversed coefficients.
            let mut y = values.clone();
            ours.permute(&mut y);
            ours.forward_from_reversed(&mut y);
            assert_eq!(y, d.fft(&values), "forward, n = {n}");

            // A coset FFT from bit-reversed coefficients.
            let g = Fr::GENERATOR;
            let mut z = values.clone();
            ours.permute(&mut z);
            scale_reversed(&mut z, g, Fr::one());
            ours.forward_from_reversed(&mut z);
            let coset = d.get_coset(g).unwrap();
            assert_eq!(z, coset.fft(&values), "coset, n = {n}");
        }
    }

    #[test]
    fn a_changed_value_changes_the_transform() {
        let n = BLOCK * 2;
        let ours = Radix2::new(n).unwrap();
        let values = random(n, 3);
        let mut x = values.clone();
        ours.inverse_to_reversed(&mut x);
        let mut y = values;
        y[n - 1] += Fr::one();
        ours.inverse_to_reversed(&mut y);
        assert_ne!(x, y);
        assert!(Radix2::new(3).is_none());
    }
}
