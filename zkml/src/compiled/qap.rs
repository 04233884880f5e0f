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

use crate::compiled::Compiled;
use crate::error::{Error, Result};
use ark_ff::{FftField, Field, Zero};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
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

/// `h`'s coefficients, as `LibsnarkReduction::witness_map` computes them.
pub fn owner(c: &Compiled, z: &[Fr]) -> Result<Vec<Fr>> {
    let (a, b) = products(c, z)?;
    owner_from(c, a, b)
}

/// [`owner`] from the [`products`].
pub fn owner_from(c: &Compiled, mut a: Vec<Fr>, mut b: Vec<Fr>) -> Result<Vec<Fr>> {
    let domain = domain(c)?;
    let mut ab: Vec<Fr> = a.iter().zip(&b).map(|(x, y)| *x * y).collect();
    domain.ifft_in_place(&mut a);
    domain.ifft_in_place(&mut b);
    let coset = domain.get_coset(Fr::GENERATOR).ok_or_else(too_large)?;
    coset.fft_in_place(&mut a);
    coset.fft_in_place(&mut b);
    for (x, y) in a.iter_mut().zip(&b) {
        *x *= y;
    }
    drop(b);
    coset.ifft_in_place(&mut a);
    domain.ifft_in_place(&mut ab);
    let inv = domain
        .evaluate_vanishing_polynomial(Fr::GENERATOR)
        .inverse()
        .ok_or_else(too_large)?;
    for (x, y) in a.iter_mut().zip(&ab) {
        *x = (*x - y) * inv;
    }
    Ok(a)
}

/// The numerator's values on the odd coset of the doubled domain, as
/// [`crate::ceremony::OddCosetReduction`] computes them.
pub fn odd_coset(c: &Compiled, z: &[Fr]) -> Result<Vec<Fr>> {
    let (a, b) = products(c, z)?;
    odd_coset_from(c, a, b)
}

/// [`odd_coset`] from the [`products`].
pub fn odd_coset_from(c: &Compiled, mut a: Vec<Fr>, mut b: Vec<Fr>) -> Result<Vec<Fr>> {
    let domain = domain(c)?;
    let twice = Domain::new(2 * domain.size()).ok_or_else(too_large)?;
    let coset = domain.get_coset(twice.group_gen()).ok_or_else(too_large)?;
    let mut ab: Vec<Fr> = a.iter().zip(&b).map(|(x, y)| *x * y).collect();
    for v in [&mut a, &mut b, &mut ab] {
        domain.ifft_in_place(v);
        coset.fft_in_place(v);
    }
    for ((x, y), w) in a.iter_mut().zip(&b).zip(&ab) {
        *x = *x * y - w;
    }
    Ok(a)
}
