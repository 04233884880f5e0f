//! The phase-2 key of a circuit over a powers-of-tau file: everything but
//! delta follows from the circuit and the file, so anyone can recompute it.
//!
//! With `L_j` the Lagrange basis of the constraint domain (n points) at tau
//! and `M_j` that of the domain of 2n points, variable i gets
//! `A_i = sum_c a_ci L_c` (plus `L_{m+i}` for the i-th public input, the
//! rows that bind the inputs, m constraints), `B_i` likewise in G1 and G2,
//! and `K_i = sum_c (a_ci beta L_c + b_ci alpha L_c + c_ci L_c)`; public
//! inputs' `K_i` are the verifying key's (gamma = 1), the others' divided by
//! delta are the L query, and the H query is `M_{2k+1} / delta`: the
//! quotient's numerator is evaluated on the odd points of the larger domain
//! (see [`super::reduction`]). Delta starts at 1; contributions change it.

use super::ptau::Ptau;
use crate::error::{Error, Result};
use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{One, Zero};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, Matrix, OptimizationGoal, SynthesisMode,
    R1CS_PREDICATE_LABEL,
};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// A circuit's constraint matrices, as the key is computed from them.
pub struct R1cs {
    /// Instance variables, the constant one included.
    pub instance: usize,
    /// Witness variables.
    pub witness: usize,
    /// A, B and C, one row per constraint.
    pub matrices: Vec<Matrix<Fr>>,
}

impl R1cs {
    /// Synthesizes `circuit` (no witness) and keeps its matrices.
    pub fn of<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<R1cs> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        circuit
            .generate_constraints(cs.clone())
            .map_err(|e| Error::Proof(format!("synthesis: {e}")))?;
        cs.finalize();
        let mut all = cs
            .to_matrices()
            .map_err(|e| Error::Proof(format!("matrices: {e}")))?;
        let matrices = all
            .remove(R1CS_PREDICATE_LABEL)
            .ok_or_else(|| Error::Proof("no R1CS constraints".into()))?;
        Ok(R1cs {
            instance: cs.num_instance_variables(),
            witness: cs.num_witness_variables(),
            matrices,
        })
    }

    /// Constraints.
    pub fn constraints(&self) -> usize {
        self.matrices[0].len()
    }

    /// Variables, the constant one included.
    pub fn variables(&self) -> usize {
        self.instance + self.witness
    }

    /// The domain's size: constraints plus input rows, rounded up to a
    /// power of two (as ark-groth16 and snarkjs size it).
    pub fn domain(&self) -> usize {
        (self.constraints() + self.instance).next_power_of_two()
    }

    /// SHA-256 of the matrices (sizes, then every row's terms as variable
    /// index and canonical coefficient bytes): the circuit a key is for.
    pub fn sha256(&self) -> [u8; 32] {
        use ark_serialize::CanonicalSerialize;
        let mut h = Sha256::new();
        for n in [self.instance, self.witness, self.constraints()] {
            h.update((n as u64).to_le_bytes());
        }
        let mut buf = Vec::with_capacity(32);
        for m in &self.matrices {
            for row in m {
                h.update((row.len() as u64).to_le_bytes());
                for (c, i) in row {
                    buf.clear();
                    c.serialize_uncompressed(&mut buf).expect("serializes");
                    h.update((*i as u64).to_le_bytes());
                    h.update(&buf);
                }
            }
        }
        h.finalize().into()
    }
}

/// Terms above which a variable's sum is one multi-scalar multiplication
/// (the constant's column, which carries the circuits' constants, is long;
/// every other is a few terms, summed serially inside the parallel loop).
const MSM_ABOVE: usize = 256;

/// `sum coeff * base` over a variable's terms (`(row, coeff)`).
fn combine<P>(
    terms: &[(usize, Fr)],
    bases: &[ark_ec::short_weierstrass::Affine<P>],
) -> ark_ec::short_weierstrass::Projective<P>
where
    P: ark_ec::scalar_mul::glv::GLVConfig + ark_ec::CurveConfig<ScalarField = Fr>,
{
    use ark_ec::VariableBaseMSM;
    use ark_ff::{BigInteger, PrimeField};
    if terms.len() > MSM_ABOVE {
        let (b, s): (Vec<_>, Vec<_>) = terms.iter().map(|(row, c)| (bases[*row], *c)).unzip();
        return ark_ec::short_weierstrass::Projective::<P>::msm_unchecked(&b, &s);
    }
    let mut acc = ark_ec::short_weierstrass::Projective::<P>::zero();
    for (row, c) in terms {
        let base = bases[*row];
        if c.is_one() {
            acc += base;
        } else if *c == -Fr::one() {
            acc -= base;
        } else {
            // Range checks and packings weigh by powers of two and other
            // small constants: double-and-add over their few bits; other
            // coefficients take the GLV multiplication (which BN254's G2
            // does not use by default).
            let (pos, neg) = (c.into_bigint(), (-*c).into_bigint());
            if pos.num_bits() <= 64 {
                acc += base.mul_bigint(&pos.as_ref()[..1]);
            } else if neg.num_bits() <= 64 {
                acc -= base.mul_bigint(&neg.as_ref()[..1]);
            } else {
                acc += P::glv_mul_projective(base.into_group(), *c);
            }
        }
    }
    acc
}

/// The matrix's terms per variable: `(row, coeff)` lists, the input rows
/// of A included when `inputs` is given.
fn by_variable(
    m: &Matrix<Fr>,
    variables: usize,
    input_rows: Option<(usize, usize)>,
) -> Vec<Vec<(usize, Fr)>> {
    let mut out = vec![Vec::new(); variables];
    for (row, terms) in m.iter().enumerate() {
        for (c, i) in terms {
            out[*i].push((row, *c));
        }
    }
    if let Some((first_row, inputs)) = input_rows {
        for (i, terms) in out.iter_mut().enumerate().take(inputs) {
            terms.push((first_row + i, Fr::one()));
        }
    }
    out
}

/// The phase-2 key of `r1cs` over `ptau` with delta = 1 (what the
/// ceremony starts from, and what a key's delta-free parts must equal).
pub fn initial_key(r1cs: &R1cs, ptau: &Ptau) -> Result<ark_groth16::ProvingKey<Bn254>> {
    let n = r1cs.domain();
    let m = r1cs.constraints();
    let vars = r1cs.variables();
    let (alpha_g1, beta_g1, beta_g2) = ptau.alpha_beta()?;
    let l1 = ptau.lagrange_g1(n)?;
    let l2 = ptau.lagrange_g2(n)?;
    let la = ptau.lagrange_alpha_g1(n)?;
    let lb = ptau.lagrange_beta_g1(n)?;
    let h: Vec<G1Affine> = ptau
        .lagrange_g1(2 * n)?
        .into_iter()
        .skip(1)
        .step_by(2)
        .collect();

    let a = by_variable(&r1cs.matrices[0], vars, Some((m, r1cs.instance)));
    let b = by_variable(&r1cs.matrices[1], vars, None);
    let c = by_variable(&r1cs.matrices[2], vars, None);

    let a_query =
        G1Projective::normalize_batch(&a.par_iter().map(|t| combine(t, &l1)).collect::<Vec<_>>());
    let b_g1_query =
        G1Projective::normalize_batch(&b.par_iter().map(|t| combine(t, &l1)).collect::<Vec<_>>());
    let b_g2_query =
        G2Projective::normalize_batch(&b.par_iter().map(|t| combine(t, &l2)).collect::<Vec<_>>());
    let k: Vec<G1Projective> = (0..vars)
        .into_par_iter()
        .map(|i| combine(&a[i], &lb) + combine(&b[i], &la) + combine(&c[i], &l1))
        .collect();
    let k = G1Projective::normalize_batch(&k);
    let (gamma_abc_g1, l_query) = k.split_at(r1cs.instance);

    let g1 = G1Affine::generator();
    let g2 = G2Affine::generator();
    Ok(ark_groth16::ProvingKey {
        vk: ark_groth16::VerifyingKey {
            alpha_g1,
            beta_g2,
            gamma_g2: g2,
            delta_g2: g2,
            gamma_abc_g1: gamma_abc_g1.to_vec(),
        },
        beta_g1,
        delta_g1: g1,
        a_query,
        b_g1_query,
        b_g2_query,
        h_query: h,
        l_query: l_query.to_vec(),
    })
}

/// Whether every generator-side part of the key is the phase-2 key of the
/// circuit over the file (all but delta and what delta divides).
pub(crate) fn same_delta_free_parts(
    key: &ark_groth16::ProvingKey<Bn254>,
    initial: &ark_groth16::ProvingKey<Bn254>,
) -> bool {
    key.vk.alpha_g1 == initial.vk.alpha_g1
        && key.vk.beta_g2 == initial.vk.beta_g2
        && key.vk.gamma_g2 == initial.vk.gamma_g2
        && key.vk.gamma_abc_g1 == initial.vk.gamma_abc_g1
        && key.beta_g1 == initial.beta_g1
        && key.a_query == initial.a_query
        && key.b_g1_query == initial.b_g1_query
        && key.b_g2_query == initial.b_g2_query
        && key.h_query.len() == initial.h_query.len()
        && key.l_query.len() == initial.l_query.len()
}
