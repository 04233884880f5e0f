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
use ark_ff::Zero;
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

/// A non-negative integer coefficient as `sign * 2^shift * odd` with
/// `odd` below `2^64`, when it has that form.
fn split_integer(c: &Fr) -> Option<(bool, u32, u64)> {
    use ark_ff::{BigInteger, PrimeField};
    for (negative, v) in [(false, *c), (true, -*c)] {
        let mut b = v.into_bigint();
        let Some(limb) = b.as_ref().iter().position(|l| *l != 0) else {
            return Some((false, 0, 0));
        };
        let shift = 64 * limb as u32 + b.as_ref()[limb].trailing_zeros();
        b >>= shift;
        if b.num_bits() <= 64 {
            return Some((negative, shift, b.as_ref()[0]));
        }
    }
    None
}

/// Negative powers of two a coefficient is recognised with: down to
/// `2^-LOWEST` (a range check of `n` bits divides by `2^(n-1)`).
const LOWEST: u32 = 128;

/// A coefficient as `sign * 2^exponent * odd` with `odd` below `2^64` and
/// `exponent >= -LOWEST`, when it has that form: range checks and packings
/// weigh by powers of two, a range check's top bit by a negative one
/// (`bits::decompose_unsigned`), layers by small integers; `shifted` is
/// `2^LOWEST`.
fn split(c: &Fr, shifted: &Fr) -> Option<(bool, i32, u64)> {
    if let Some((negative, shift, odd)) = split_integer(c) {
        return Some((negative, shift as i32, odd));
    }
    let (negative, shift, odd) = split_integer(&(*c * shifted))?;
    Some((negative, shift as i32 - LOWEST as i32, odd))
}

/// Rows of a matrix summed into the variables in `vars`: for each
/// variable i, `sum_c m_ci bases[c]`, with `extra` more `(row, variable)`
/// terms of coefficient 1 (A's input rows). Walked by row, so that a row's
/// terms share its base: the base times the row's least power of two (one
/// scalar multiplication, when it is negative) is doubled up to its
/// greatest, each term adds its own (times a short odd factor), and only
/// coefficients of no such form (Poseidon's constants) take a scalar
/// multiplication of their own. Summing by variable instead pays a full
/// scalar multiplication for most terms, whose coefficients are powers of
/// two of either sign.
fn row_sums<P>(
    m: &Matrix<Fr>,
    extra: &[(usize, usize)],
    bases: &[ark_ec::short_weierstrass::Affine<P>],
    vars: std::ops::Range<usize>,
) -> Vec<ark_ec::short_weierstrass::Projective<P>>
where
    P: ark_ec::scalar_mul::glv::GLVConfig + ark_ec::CurveConfig<ScalarField = Fr>,
{
    type Point<P> = ark_ec::short_weierstrass::Projective<P>;
    use ark_ec::{AdditiveGroup, PrimeGroup};
    use ark_ff::Field;
    let two = Fr::from(2u64);
    let shifted = two.pow([u64::from(LOWEST)]);
    // 2^-k for k <= LOWEST.
    let half = two.inverse().expect("2 is invertible");
    let halves: Vec<Fr> = std::iter::successors(Some(Fr::from(1u64)), |h| Some(*h * half))
        .take(LOWEST as usize + 1)
        .collect();
    let row = |c: usize, terms: &[(Fr, usize)], out: &mut Vec<(usize, Point<P>)>| {
        let base = bases[c].into_group();
        let mut short: Vec<(i32, bool, u64, usize)> = Vec::with_capacity(terms.len());
        for (coeff, i) in terms.iter().filter(|(_, i)| vars.contains(i)) {
            match split(coeff, &shifted) {
                Some((_, _, 0)) => {}
                Some((negative, exponent, odd)) => short.push((exponent, negative, odd, *i)),
                None => out.push((*i, P::glv_mul_projective(base, *coeff))),
            }
        }
        let Some(least) = short.iter().map(|t| t.0).min() else {
            return;
        };
        short.sort_unstable_by_key(|t| t.0);
        let (mut power, mut at) = if least < 0 {
            (
                P::glv_mul_projective(base, halves[least.unsigned_abs() as usize]),
                least,
            )
        } else {
            (base, 0)
        };
        for (exponent, negative, odd, i) in short {
            while at < exponent {
                power.double_in_place();
                at += 1;
            }
            let p = if odd == 1 {
                power
            } else {
                power.mul_bigint([odd])
            };
            out.push((i, if negative { -p } else { p }));
        }
    };
    let parts: Vec<Vec<(usize, Point<P>)>> = m
        .par_iter()
        .enumerate()
        .chunks(512)
        .map(|rows| {
            let mut out = Vec::new();
            for (c, terms) in rows {
                row(c, terms, &mut out);
            }
            out
        })
        .collect();
    let mut sums = vec![Point::<P>::zero(); vars.len()];
    for (i, p) in parts.into_iter().flatten() {
        sums[i - vars.start] += p;
    }
    for (c, i) in extra.iter().filter(|(_, i)| vars.contains(i)) {
        sums[*i - vars.start] += bases[*c];
    }
    sums
}

/// A's input rows: the i-th public input's, after the constraints, with
/// coefficient 1.
fn input_rows(r1cs: &R1cs) -> Vec<(usize, usize)> {
    (0..r1cs.instance)
        .map(|i| (r1cs.constraints() + i, i))
        .collect()
}

/// The powers-of-tau file must hold the Lagrange basis of twice the
/// constraint domain (the H query's odd points): name the power needed.
fn check_power(r1cs: &R1cs, ptau: &Ptau) -> Result<()> {
    let need = (2 * r1cs.domain()).trailing_zeros();
    if ptau.power < need {
        return Err(Error::Proof(format!(
            "the circuit's {} constraints and {} inputs fill a domain of {} points, and its key needs the file's basis of {} points: a powers-of-tau file of power {need} or more; this one is {}",
            r1cs.constraints(),
            r1cs.instance,
            r1cs.domain(),
            2 * r1cs.domain(),
            ptau.power
        )));
    }
    Ok(())
}

/// The Lagrange bases a key is made of, read from the file once.
struct Bases {
    l1: Vec<G1Affine>,
    la: Vec<G1Affine>,
    lb: Vec<G1Affine>,
    /// The H query with delta = 1: the odd points of the basis of 2n.
    h: Vec<G1Affine>,
}

impl Bases {
    fn read(r1cs: &R1cs, ptau: &Ptau) -> Result<Bases> {
        check_power(r1cs, ptau)?;
        let n = r1cs.domain();
        Ok(Bases {
            l1: ptau.lagrange_g1(n)?,
            la: ptau.lagrange_alpha_g1(n)?,
            lb: ptau.lagrange_beta_g1(n)?,
            h: ptau
                .lagrange_g1(2 * n)?
                .into_iter()
                .skip(1)
                .step_by(2)
                .collect(),
        })
    }
}

/// `K_i = sum_c (a_ci beta + b_ci alpha + c_ci) L_c` for the variables in
/// `vars` (the inputs' are the verifying key's, the others' the L query
/// with delta = 1).
fn k_points(r1cs: &R1cs, bases: &Bases, vars: std::ops::Range<usize>) -> Vec<G1Affine> {
    let [a, b, c] = &r1cs.matrices[..] else {
        unreachable!("R1CS has three matrices")
    };
    let k: Vec<G1Projective> = row_sums(a, &input_rows(r1cs), &bases.lb, vars.clone())
        .into_iter()
        .zip(row_sums(b, &[], &bases.la, vars.clone()))
        .zip(row_sums(c, &[], &bases.l1, vars))
        .map(|((a, b), c)| a + b + c)
        .collect();
    G1Projective::normalize_batch(&k)
}

/// The verifying key's input points (`K_i` of the inputs) over the file.
pub(crate) fn input_points(r1cs: &R1cs, ptau: &Ptau) -> Result<Vec<G1Affine>> {
    check_power(r1cs, ptau)?;
    let n = r1cs.domain();
    let bases = Bases {
        l1: ptau.lagrange_g1(n)?,
        la: ptau.lagrange_alpha_g1(n)?,
        lb: ptau.lagrange_beta_g1(n)?,
        h: Vec::new(),
    };
    Ok(k_points(r1cs, &bases, 0..r1cs.instance))
}

/// The L query of the delta-1 key (what the circuit hash covers; a key
/// after contributions holds it divided by delta).
pub(crate) fn initial_l_query(r1cs: &R1cs, ptau: &Ptau) -> Result<Vec<G1Affine>> {
    let bases = Bases::read(r1cs, ptau)?;
    Ok(k_points(r1cs, &bases, r1cs.instance..r1cs.variables()))
}

/// The phase-2 key of `r1cs` over `ptau` with delta = 1 (what the
/// ceremony starts from, and what a key's delta-free parts must equal).
pub fn initial_key(r1cs: &R1cs, ptau: &Ptau) -> Result<ark_groth16::ProvingKey<Bn254>> {
    let vars = r1cs.variables();
    let (alpha_g1, beta_g1, beta_g2) = ptau.alpha_beta()?;
    let bases = Bases::read(r1cs, ptau)?;
    let l2 = ptau.lagrange_g2(r1cs.domain())?;
    let (a, b) = (&r1cs.matrices[0], &r1cs.matrices[1]);
    let a_query =
        G1Projective::normalize_batch(&row_sums(a, &input_rows(r1cs), &bases.l1, 0..vars));
    let b_g1_query = G1Projective::normalize_batch(&row_sums(b, &[], &bases.l1, 0..vars));
    let b_g2_query = G2Projective::normalize_batch(&row_sums(b, &[], &l2, 0..vars));
    let k = k_points(r1cs, &bases, 0..vars);
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
        h_query: bases.h,
        l_query: l_query.to_vec(),
    })
}

/// A random scalar of 128 bits (a linear combination's weight: a wrong
/// key passes a combined check with probability 2^-128).
fn weight<R: rand::RngCore>(rng: &mut R) -> Fr {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    Fr::from(u128::from_le_bytes(b))
}

/// Checks that `key` is the phase-2 key of `r1cs` over `ptau` with its own
/// delta, without computing the key: the inputs' points exactly, every
/// other family on random linear combinations drawn here, after the key
/// is read. With weights `r` on the variables, `sum_i r_i A_i` must equal
/// `sum_c (A^T r)_c L_c` — one sum over the key and one over the file's
/// basis instead of a sum per variable — and likewise B in G1 and G2, the
/// L query (`delta L_i = K_i`) and the H query (`delta H_k` the odd points
/// of the basis of 2n). The G1 families are folded into one pairing
/// equation `e(X, delta) = e(Y - t P, 1)` with a further random weight
/// `t`; B in G2 is then checked against B in G1 with the same weights,
/// `e(sum r_i B1_i, 1) = e(1, sum r_i B2_i)`. Every point must already be in its
/// group (the `.zkey` reader checks each G2 point's subgroup; G1's
/// cofactor is 1), since a random combination cannot be trusted to catch
/// a small-order component.
pub fn check_key<R: rand::RngCore>(
    key: &ark_groth16::ProvingKey<Bn254>,
    r1cs: &R1cs,
    ptau: &Ptau,
    rng: &mut R,
) -> Result<()> {
    use ark_ec::pairing::Pairing;
    use ark_ff::PrimeField;
    let bad = |m: &str| Err(Error::Proof(m.to_string()));
    check_power(r1cs, ptau)?;
    let (n, m, vars, inputs) = (
        r1cs.domain(),
        r1cs.constraints(),
        r1cs.variables(),
        r1cs.instance,
    );
    if key.a_query.len() != vars
        || key.b_g1_query.len() != vars
        || key.b_g2_query.len() != vars
        || key.vk.gamma_abc_g1.len() != inputs
        || key.l_query.len() != vars - inputs
        || key.h_query.len() != n
    {
        return bad("the key's sizes are not this circuit's");
    }
    let (alpha_g1, beta_g1, beta_g2) = ptau.alpha_beta()?;
    if key.vk.alpha_g1 != alpha_g1
        || key.beta_g1 != beta_g1
        || key.vk.beta_g2 != beta_g2
        || key.vk.gamma_g2 != G2Affine::generator()
    {
        return bad("the key's alpha, beta or gamma is not this powers-of-tau file's");
    }
    if key.delta_g1.is_zero() || key.vk.delta_g2.is_zero() {
        return bad("delta is zero");
    }
    let (g1, g2) = (G1Affine::generator(), G2Affine::generator());
    if !Bn254::multi_pairing([key.delta_g1, -g1], [g2, key.vk.delta_g2]).is_zero() {
        return bad("delta differs between G1 and G2");
    }
    let bases = Bases::read(r1cs, ptau)?;
    if key.vk.gamma_abc_g1 != k_points(r1cs, &bases, 0..inputs) {
        return bad(
            "the verifying key's input points are not this circuit's over this powers-of-tau file",
        );
    }

    // Weights, drawn only now that the key is fixed.
    let ra: Vec<Fr> = (0..vars).map(|_| weight(rng)).collect();
    let rb: Vec<Fr> = (0..vars).map(|_| weight(rng)).collect();
    let rl: Vec<Fr> = (0..vars - inputs).map(|_| weight(rng)).collect();
    let rh: Vec<Fr> = (0..n).map(|_| weight(rng)).collect();
    let t = weight(rng);

    // The transposed products over the rows (field arithmetic only): A's
    // and B's weights per row, and the L query's through A, B and C.
    let mut sa = vec![Fr::zero(); n];
    let mut sb = vec![Fr::zero(); n];
    let mut ka = vec![Fr::zero(); n];
    let mut kb = vec![Fr::zero(); n];
    let mut kc = vec![Fr::zero(); n];
    let witness = |i: usize| i.checked_sub(inputs).map(|w| rl[w]);
    for (row, terms) in r1cs.matrices[0].iter().enumerate() {
        for (c, i) in terms {
            sa[row] += ra[*i] * c;
            if let Some(w) = witness(*i) {
                ka[row] += w * c;
            }
        }
    }
    for (i, r) in ra.iter().enumerate().take(inputs) {
        sa[m + i] += r;
    }
    for (row, terms) in r1cs.matrices[1].iter().enumerate() {
        for (c, i) in terms {
            sb[row] += rb[*i] * c;
            if let Some(w) = witness(*i) {
                kb[row] += w * c;
            }
        }
    }
    for (row, terms) in r1cs.matrices[2].iter().enumerate() {
        for (c, i) in terms {
            if let Some(w) = witness(*i) {
                kc[row] += w * c;
            }
        }
    }
    // The file's side: Y = sum over l1 of t (A^T ra + B^T rb) + C^T rl,
    // over beta L of A^T rl, over alpha L of B^T rl, over the odd points
    // of rh.
    let l1_scalars: Vec<Fr> = sa
        .iter()
        .zip(&sb)
        .zip(&kc)
        .map(|((a, b), c)| t * (*a + b) + c)
        .collect();
    let big = |v: &[Fr]| v.iter().map(|x| x.into_bigint()).collect::<Vec<_>>();
    let msm = crate::compiled::bucket::msm::<ark_bn254::g1::Config>;
    let y = msm(&bases.l1, &big(&l1_scalars))
        + msm(&bases.lb, &big(&ka))
        + msm(&bases.la, &big(&kb))
        + msm(&bases.h, &big(&rh));
    // The key's side.
    let pb = msm(&key.b_g1_query, &big(&rb));
    let p = msm(&key.a_query, &big(&ra)) + pb;
    let x = msm(&key.l_query, &big(&rl)) + msm(&key.h_query, &big(&rh));
    // d X + t P - Y = 0, d the key's delta: d X = sum of the K and odd
    // points taken, t P = t (A^T ra + B^T rb) over l1.
    let lhs = [x.into_affine(), (p * t - y).into_affine()];
    if !Bn254::multi_pairing(lhs, [key.vk.delta_g2, g2]).is_zero() {
        return bad("the key's A, B, L or H query is not this circuit's over this powers-of-tau file with its delta");
    }
    // B in G2 against B in G1, now known to be right: the same weights
    // on both sides of one pairing (no sum over the file's G2 basis).
    let qb = crate::compiled::bucket::msm::<ark_bn254::g2::Config>(&key.b_g2_query, &big(&rb));
    if !Bn254::multi_pairing([pb.into_affine(), -g1], [g2, qb.into_affine()]).is_zero() {
        return bad("the key's B query in G2 is not this circuit's over this powers-of-tau file");
    }
    Ok(())
}
