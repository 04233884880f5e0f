//! Groth16 key generation with batched affine additions.
//!
//! The keys are exactly those of ark-groth16's generator (same random draws
//! in the same order, same QAP evaluation, same window tables; a test
//! compares the bytes), but the fixed-base scalar multiplications that fill
//! the A, B, H and L queries are evaluated differently. ark-groth16 adds one
//! table entry per window to a projective accumulator per scalar (a mixed
//! addition, about 11 field multiplications) and converts every result to
//! affine at the end. Here a chunk of scalars is advanced one window at a
//! time, all in affine: the chunk's slope denominators are inverted together
//! (Montgomery's trick, 3 multiplications each plus one inversion per
//! chunk), so an addition costs about 6 multiplications and no final
//! conversion is needed. Keys of our circuits are dominated by these
//! multiplications, so setup time drops by about that ratio.

use ark_ec::scalar_mul::BatchMulPreprocessing;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{serial_batch_inversion_and_mul, AdditiveGroup, Field, PrimeField, UniformRand, Zero};
use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, OptimizationGoal, SynthesisError,
    SynthesisMode,
};
use rand::Rng;
use rayon::prelude::*;
use zkgate_circuits::Fr;

use crate::prove::ProvingKey;

type VerifyingKey = ark_groth16::VerifyingKey<ark_bn254::Bn254>;

/// Scalars advanced together: enough to amortize the inversion, few enough
/// to stay in cache and to split across cores.
const CHUNK: usize = 1024;

/// Generates a proving key for `circuit`, drawing the toxic waste from `rng`
/// as `Groth16::generate_random_parameters_with_reduction` does.
pub fn generate<C: ConstraintSynthesizer<Fr>, R: Rng>(
    circuit: C,
    rng: &mut R,
) -> Result<ProvingKey, SynthesisError> {
    generate_with_system(circuit, rng).map(|(pk, _)| pk)
}

/// [`generate`], also giving the finalized constraint system it built (a
/// prover compiles its circuit from it: [`crate::compiled::Compiled`]).
pub fn generate_with_system<C: ConstraintSynthesizer<Fr>, R: Rng>(
    circuit: C,
    rng: &mut R,
) -> Result<(ProvingKey, ConstraintSystemRef<Fr>), SynthesisError> {
    type G1 = ark_bn254::G1Projective;
    type G2 = ark_bn254::G2Projective;
    let alpha = Fr::rand(rng);
    let beta = Fr::rand(rng);
    let gamma = Fr::rand(rng);
    let delta = Fr::rand(rng);
    let g1 = G1::rand(rng);
    let g2 = G2::rand(rng);

    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();

    let domain_size = cs.num_constraints() + cs.num_instance_variables();
    let domain = GeneralEvaluationDomain::<Fr>::new(domain_size)
        .ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
    let t = domain.sample_element_outside_domain(rng);
    let inputs = cs.num_instance_variables();
    let (a, b, c, zt, variables, m_raw) = LibsnarkReduction::instance_map_with_evaluation::<
        Fr,
        GeneralEvaluationDomain<Fr>,
    >(cs.clone(), &t)?;
    let non_zero = |v: &[Fr]| v.iter().filter(|x| !x.is_zero()).count();
    let (non_zero_a, non_zero_b) = (non_zero(&a), non_zero(&b));

    let gamma_inverse = gamma.inverse().expect("gamma is not zero");
    let delta_inverse = delta.inverse().expect("delta is not zero");
    let combine = |range: std::ops::Range<usize>, by: Fr| -> Vec<Fr> {
        range
            .into_par_iter()
            .map(|i| (beta * a[i] + alpha * b[i] + c[i]) * by)
            .collect()
    };
    let gamma_abc = combine(0..inputs, gamma_inverse);
    let l = combine(inputs..a.len(), delta_inverse);
    drop(c);

    let g2_table = BatchMulPreprocessing::new(g2, non_zero_b);
    let b_g2_query = batch_mul(&g2_table, &b);
    drop(g2_table);

    let g1_table = BatchMulPreprocessing::new(g1, non_zero_a + non_zero_b + variables + m_raw + 1);
    let a_query = batch_mul(&g1_table, &a);
    drop(a);
    let b_g1_query = batch_mul(&g1_table, &b);
    drop(b);
    let h_scalars = LibsnarkReduction::h_query_scalars::<Fr, GeneralEvaluationDomain<Fr>>(
        m_raw - 1,
        t,
        zt,
        delta_inverse,
    )?;
    let h_query = batch_mul(&g1_table, &h_scalars);
    drop(h_scalars);
    let l_query = batch_mul(&g1_table, &l);
    drop(l);
    let gamma_abc_g1 = batch_mul(&g1_table, &gamma_abc);

    let vk = VerifyingKey {
        alpha_g1: (g1 * alpha).into_affine(),
        beta_g2: (g2 * beta).into_affine(),
        gamma_g2: (g2 * gamma).into_affine(),
        delta_g2: (g2 * delta).into_affine(),
        gamma_abc_g1,
    };
    let pk = ProvingKey {
        vk,
        beta_g1: (g1 * beta).into_affine(),
        delta_g1: (g1 * delta).into_affine(),
        a_query,
        b_g1_query,
        b_g2_query,
        h_query,
        l_query,
    };
    Ok((pk, cs))
}

/// `scalars[i] * G` for every scalar, with `table` the window table of `G`:
/// the same sums of table entries as `BatchMulPreprocessing::batch_mul`,
/// evaluated chunk by chunk with batched affine additions.
pub fn batch_mul<P: SWCurveConfig>(
    table: &BatchMulPreprocessing<Projective<P>>,
    scalars: &[P::ScalarField],
) -> Vec<Affine<P>> {
    scalars
        .par_chunks(CHUNK)
        .flat_map_iter(|chunk| chunk_mul(table, chunk))
        .collect()
}

/// What one lane does in one round.
#[derive(Clone, Copy)]
enum Step {
    /// The table entry is the identity: nothing.
    Keep,
    /// The accumulator is the identity: take the entry.
    Take,
    /// `P + (-P)`: the identity.
    Cancel,
    /// Distinct x: the chord.
    Add,
    /// Equal points: the tangent.
    Double,
}

fn chunk_mul<P: SWCurveConfig>(
    table: &BatchMulPreprocessing<Projective<P>>,
    scalars: &[P::ScalarField],
) -> Vec<Affine<P>> {
    let w = table.window;
    let windows = table.max_scalar_size.div_ceil(w);
    let n = scalars.len();
    // Every scalar's window digits, read straight off its limbs.
    let mut digits = vec![0u32; n * windows];
    for (s, out) in scalars.iter().zip(digits.chunks_mut(windows)) {
        let big = s.into_bigint();
        let limbs = big.as_ref();
        for (outer, d) in out.iter_mut().enumerate() {
            let from = outer * w;
            let (limb, shift) = (from / 64, from % 64);
            let mut v = limbs[limb] >> shift;
            if shift + w > 64 && limb + 1 < limbs.len() {
                v |= limbs[limb + 1] << (64 - shift);
            }
            *d = (v & ((1u64 << w) - 1)) as u32;
        }
    }
    let digit = |i: usize, outer: usize| digits[i * windows + outer] as usize;
    let mut acc: Vec<Affine<P>> = (0..n).map(|i| table.table[0][digit(i, 0)]).collect();
    let mut steps = vec![Step::Keep; n];
    let mut denominators = vec![P::BaseField::zero(); n];
    for outer in 1..windows {
        let row = &table.table[outer];
        for i in 0..n {
            let (a, p) = (&acc[i], &row[digit(i, outer)]);
            let (step, d) = if p.is_zero() {
                (Step::Keep, P::BaseField::zero())
            } else if a.is_zero() {
                (Step::Take, P::BaseField::zero())
            } else if a.x != p.x {
                (Step::Add, p.x - a.x)
            } else if a.y == p.y {
                (Step::Double, a.y.double())
            } else {
                (Step::Cancel, P::BaseField::zero())
            };
            steps[i] = step;
            denominators[i] = d;
        }
        // Zeros are skipped by the inversion and never read.
        serial_batch_inversion_and_mul(&mut denominators, &P::BaseField::ONE);
        for i in 0..n {
            let p = &row[digit(i, outer)];
            let a = &mut acc[i];
            match steps[i] {
                Step::Keep => {}
                Step::Take => *a = *p,
                Step::Cancel => *a = Affine::identity(),
                Step::Add => {
                    let lambda = (p.y - a.y) * denominators[i];
                    let x = lambda.square() - a.x - p.x;
                    *a = Affine::new_unchecked(x, lambda * (a.x - x) - a.y);
                }
                Step::Double => {
                    let xx = a.x.square();
                    let lambda = (xx.double() + xx + P::COEFF_A) * denominators[i];
                    let x = lambda.square() - a.x.double();
                    *a = Affine::new_unchecked(x, lambda * (a.x - x) - a.y);
                }
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::Bn254;
    use ark_ec::scalar_mul::ScalarMul;
    use ark_groth16::Groth16;
    use rand::SeedableRng;
    use zkgate_statement::groth16::to_bytes;

    #[test]
    fn batched_affine_multiples_equal_the_projective_ones() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let g = ark_bn254::G1Projective::rand(&mut rng);
        // Random scalars, the edge values, and repeats (equal points meet
        // in the same lane: doubling and cancelling).
        let mut scalars: Vec<Fr> = (0..3000).map(|_| Fr::rand(&mut rng)).collect();
        scalars.extend([
            Fr::zero(),
            Fr::ONE,
            -Fr::ONE,
            Fr::from(2u64),
            Fr::from(u64::MAX),
        ]);
        let table = BatchMulPreprocessing::new(g, scalars.len());
        let ours = batch_mul(&table, &scalars);
        assert_eq!(ours, g.batch_mul(&scalars));
        // A window's entry equal to the running sum (doubling) or to its
        // negation (cancelling): 2^w - 1 + 1 and -(2^w) patterns.
        let w = table.window as u64;
        let tricky = [
            Fr::from((1u64 << w) + 1),
            Fr::from(1u64 << w) * Fr::from((1u64 << w) + 1),
            -Fr::from(1u64 << w),
            Fr::from((1u64 << (2 * w)) + (1u64 << w)),
        ];
        assert_eq!(batch_mul(&table, &tricky), g.batch_mul(&tricky));
        let g2 = ark_bn254::G2Projective::rand(&mut rng);
        let table2 = BatchMulPreprocessing::new(g2, 200);
        assert_eq!(
            batch_mul(&table2, &scalars[..200]),
            g2.batch_mul(&scalars[..200])
        );
    }

    #[test]
    fn keys_are_ark_groth16s_byte_for_byte() {
        // A real job circuit: the fixture regression over 3 rows, with
        // commitment, rescales and the mean.
        use crate::circuit::JobCircuit;
        use crate::job::{compile, JobRequest};
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let text = std::fs::read_to_string(fixtures.join("data/tabular.csv")).unwrap();
        let head: Vec<&str> = text.lines().take(4).collect();
        let schema = crate::dataset::declared_schema(&fixtures.join("data/tabular.csv")).unwrap();
        let d =
            crate::dataset::Dataset::from_csv_reader(head.join("\n").as_bytes(), &schema).unwrap();
        let m = crate::import::load(fixtures.join("models/mlp.onnx")).unwrap();
        let request = JobRequest {
            aggregate: zkgate_statement::Aggregate::Mean,
            input_columns: Some((0..13).map(|i| format!("f{i}")).collect()),
            quant: Default::default(),
            epsilon: None,
        };
        let spec = compile(&m.model, &m.onnx_sha256, &d, &request).unwrap();
        let circuit = || JobCircuit {
            spec: &spec,
            witness: None,
            counts: None,
            tape: Default::default(),
        };
        let ark = Groth16::<Bn254>::generate_random_parameters_with_reduction(
            circuit(),
            &mut rand_chacha::ChaCha20Rng::seed_from_u64(9),
        )
        .unwrap();
        let ours = generate(circuit(), &mut rand_chacha::ChaCha20Rng::seed_from_u64(9)).unwrap();
        let same = |name: &str, a: Vec<u8>, b: Vec<u8>| assert!(a == b, "{name} differs");
        same("vk", to_bytes(&ours.vk), to_bytes(&ark.vk));
        same("beta_g1", to_bytes(&ours.beta_g1), to_bytes(&ark.beta_g1));
        same(
            "delta_g1",
            to_bytes(&ours.delta_g1),
            to_bytes(&ark.delta_g1),
        );
        same("a", to_bytes(&ours.a_query), to_bytes(&ark.a_query));
        same(
            "b_g1",
            to_bytes(&ours.b_g1_query),
            to_bytes(&ark.b_g1_query),
        );
        same(
            "b_g2",
            to_bytes(&ours.b_g2_query),
            to_bytes(&ark.b_g2_query),
        );
        same("h", to_bytes(&ours.h_query), to_bytes(&ark.h_query));
        same("l", to_bytes(&ours.l_query), to_bytes(&ark.l_query));
    }
}
