//! The R1CS-to-QAP reduction of phase-2 keys (snarkjs's): the quotient's
//! numerator `A(X) B(X) - C(X)` is evaluated on the odd points of the domain
//! twice the constraint domain's size, where the H query holds the Lagrange
//! basis `M_{2k+1}(tau) / delta` (see [`super::phase2`]). No division by the
//! vanishing polynomial is needed: the numerator vanishes on the even
//! points, so its value at tau is the sum over the odd ones.

use ark_ff::PrimeField;
use ark_groth16::r1cs_to_qap::{evaluate_constraint, LibsnarkReduction, R1CSToQAP};
use ark_poly::EvaluationDomain;
use ark_relations::gr1cs::{ConstraintSystemRef, Matrix, SynthesisError};

/// The reduction phase-2 keys are made for.
pub struct OddCosetReduction;

impl R1CSToQAP for OddCosetReduction {
    #[allow(clippy::type_complexity)]
    fn instance_map_with_evaluation<F: PrimeField, D: EvaluationDomain<F>>(
        cs: ConstraintSystemRef<F>,
        t: &F,
    ) -> Result<(Vec<F>, Vec<F>, Vec<F>, F, usize, usize), SynthesisError> {
        // The QAP's polynomials are the same; only the quotient's basis
        // differs.
        LibsnarkReduction::instance_map_with_evaluation::<F, D>(cs, t)
    }

    fn witness_map_from_matrices<F: PrimeField, D: EvaluationDomain<F>>(
        matrices: &[Matrix<F>],
        num_inputs: usize,
        num_constraints: usize,
        full_assignment: &[F],
    ) -> Result<Vec<F>, SynthesisError> {
        let domain =
            D::new(num_constraints + num_inputs).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let n = domain.size();
        let twice = D::new(2 * n).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let eval = |m: &Matrix<F>| -> Vec<F> {
            let mut v = vec![F::zero(); n];
            for (slot, row) in v.iter_mut().zip(m.iter()) {
                *slot = evaluate_constraint(row, full_assignment);
            }
            v
        };
        let mut a = eval(&matrices[0]);
        a[num_constraints..num_constraints + num_inputs]
            .copy_from_slice(&full_assignment[..num_inputs]);
        let mut b = eval(&matrices[1]);
        let mut c = eval(&matrices[2]);
        let coset = domain
            .get_coset(twice.group_gen())
            .ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        for v in [&mut a, &mut b, &mut c] {
            domain.ifft_in_place(v);
            coset.fft_in_place(v);
        }
        Ok(a.iter()
            .zip(&b)
            .zip(&c)
            .map(|((a, b), c)| *a * b - c)
            .collect())
    }

    fn h_query_scalars<F: PrimeField, D: EvaluationDomain<F>>(
        max_power: usize,
        t: F,
        _zt: F,
        delta_inverse: F,
    ) -> Result<Vec<F>, SynthesisError> {
        let n = max_power + 1;
        let twice = D::new(2 * n).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        Ok(twice
            .evaluate_all_lagrange_coefficients(t)
            .into_iter()
            .skip(1)
            .step_by(2)
            .map(|l| l * delta_inverse)
            .collect())
    }
}
