//! The quotient `h` from the compiled matrices, for both reductions in use:
//! ark-groth16's (owner keys: `h`'s coefficients) and snarkjs's (ceremony
//! keys: the numerator's values on the odd coset of the doubled domain).
//!
//! With `a = A·z` and `b = B·z` on the domain `D` of size `N` (plus the
//! inputs' rows `a_{m+j} = z_j`), a satisfying witness has `C·z = a ∘ b`
//! row by row, so `C(X)` interpolates `a ∘ b` and is never computed from a
//! matrix. For the owner keys: write `A(X)·B(X) = H(X)·X^N + L(X)` with
//! `H`, `L` of degree below `N`. Then `C = AB mod (X^N - 1) = H + L`, and
//! `h = (AB - C) / (X^N - 1) = H`. Interpolating `AB`'s values on the coset
//! `gD` gives `AB mod (X^N - g^N) = g^N H + L`, so
//! `h = (coset_ifft(Â ∘ B̂) - ifft(a ∘ b)) / (g^N - 1)`: two inverse FFTs
//! and two coset FFTs for `Â`, `B̂`, one inverse FFT for `C` and one for the
//! product, six in all where ark-groth16 runs seven (it also takes `C`
//! to the coset and back). The result is the same polynomial, so the same
//! proof.

use crate::compiled::fft::{self, Radix2};
use crate::compiled::Compiled;
use crate::error::{Error, Result};
use ark_ff::{FftField, Field, Zero};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use rayon::prelude::*;
use zkgate_circuits::Fr;

type Domain = GeneralEvaluationDomain<Fr>;

fn too_large() -> Error {
    Error::Proof("the circuit is too large for the field's FFT domain".into())
}

/// `a = A·z` and `b = B·z` over the domain (the inputs' rows of `A` hold
/// the inputs, as in ark-groth16's QAP).
pub fn products(c: &Compiled, z: &[Fr]) -> Result<(Vec<Fr>, Vec<Fr>)> {
    let n = domain(c)?.size();
    let (am, bm) = c.matrices();
    let mut a = vec![Fr::zero(); n];
    let mut b = vec![Fr::zero(); n];
    am.product_into(z, &mut a[..c.constraints]);
    bm.product_into(z, &mut b[..c.constraints]);
    a[c.constraints..c.constraints + c.inputs].copy_from_slice(&z[..c.inputs]);
    Ok((a, b))
}

fn domain(c: &Compiled) -> Result<Domain> {
    Domain::new(c.constraints + c.inputs).ok_or_else(too_large)
}

/// Values on the domain to values on the coset `shift·D`: interpolated,
/// shifted (with the inverse transform's `1/N`), evaluated.
fn to_coset(d: &Radix2, v: &mut [Fr], shift: Fr, n_inv: Fr) {
    d.inverse_to_reversed(v);
    fft::scale_reversed(v, shift, n_inv);
    d.forward_from_reversed(v);
}

/// `h`'s coefficients, as `LibsnarkReduction::witness_map` computes them.
pub fn owner(c: &Compiled, z: &[Fr]) -> Result<Vec<Fr>> {
    let (a, b) = products(c, z)?;
    owner_from(c, a, b)
}

/// [`owner`] from the [`products`]: the six transforms of [`super::fft`],
/// `a`'s and `b`'s side by side, one permutation at the end.
pub fn owner_from(c: &Compiled, mut a: Vec<Fr>, mut b: Vec<Fr>) -> Result<Vec<Fr>> {
    let domain = domain(c)?;
    let d = Radix2::new(domain.size()).ok_or_else(too_large)?;
    let n_inv = domain.size_inv();
    let g = Fr::GENERATOR;
    let mut ab: Vec<Fr> = a.par_iter().zip(&b).map(|(x, y)| *x * y).collect();
    // `A` and `B` on the coset `gD`.
    rayon::join(
        || to_coset(&d, &mut a, g, n_inv),
        || to_coset(&d, &mut b, g, n_inv),
    );
    a.par_iter_mut().zip(&b).for_each(|(x, y)| *x *= y);
    drop(b);
    // Both interpolations, `N` times their coefficients, bit-reversed.
    rayon::join(
        || d.inverse_to_reversed(&mut a),
        || d.inverse_to_reversed(&mut ab),
    );
    let inv = domain
        .evaluate_vanishing_polynomial(g)
        .inverse()
        .ok_or_else(too_large)?;
    // `h_i = (g^-i a_i - ab_i) / (N (g^N - 1))`.
    let k = n_inv * inv;
    fft::scale_reversed(&mut a, g.inverse().ok_or_else(too_large)?, k);
    a.par_iter_mut().zip(&ab).for_each(|(x, y)| *x -= *y * k);
    d.permute(&mut a);
    Ok(a)
}

/// The numerator's values on the odd coset of the doubled domain, as
/// [`crate::ceremony::OddCosetReduction`] computes them.
pub fn odd_coset(c: &Compiled, z: &[Fr]) -> Result<Vec<Fr>> {
    let (a, b) = products(c, z)?;
    odd_coset_from(c, a, b)
}

/// [`odd_coset`] from the [`products`]: each of `a`, `b` and `a ∘ b`
/// interpolated and evaluated on the coset, with no permutation.
pub fn odd_coset_from(c: &Compiled, mut a: Vec<Fr>, mut b: Vec<Fr>) -> Result<Vec<Fr>> {
    let domain = domain(c)?;
    let d = Radix2::new(domain.size()).ok_or_else(too_large)?;
    let twice = Domain::new(2 * domain.size()).ok_or_else(too_large)?;
    let shift = twice.group_gen();
    let n_inv = domain.size_inv();
    let mut ab: Vec<Fr> = a.par_iter().zip(&b).map(|(x, y)| *x * y).collect();
    rayon::join(
        || to_coset(&d, &mut a, shift, n_inv),
        || to_coset(&d, &mut b, shift, n_inv),
    );
    to_coset(&d, &mut ab, shift, n_inv);
    a.par_iter_mut()
        .zip(&b)
        .zip(&ab)
        .for_each(|((x, y), w)| *x = *x * y - w);
    Ok(a)
}
