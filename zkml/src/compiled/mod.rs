//! The prover's compiled form of a circuit: its constraint matrices, kept
//! by circuit id, so that a proof computes only the witness, the products
//! `A·z` and `B·z`, the quotient's FFTs and the MSMs.
//!
//! ark-groth16's prover rebuilds the whole constraint system for every
//! proof: symbolic linear combinations, their inlining and the matrices,
//! then evaluates them. None of that depends on the witness, so here it is
//! done once per circuit ([`Compiled::of`]) and each proof runs the circuit
//! in a mode that only assigns values ([`witness::assign`]). The proof is
//! the one ark-groth16 computes on the same randomness, byte for byte (the
//! tests compare them on every circuit kind), and verifies with its
//! verifier:
//!
//! - `C·z` is never computed: for a satisfying witness it equals
//!   `A·z ∘ B·z` row by row, so only `A` and `B` are kept;
//! - the quotient of the owner keys' reduction takes six FFTs, not seven
//!   ([`qap`]): `h` is the high half of `A(X)·B(X)`, read off the product's
//!   values on the domain and on one coset.
//!
//! A witness that does not satisfy the circuit gives a proof that does not
//! verify, as with ark-groth16; callers verify every proof before it leaves
//! and name the broken constraint with [`crate::prove::check_satisfied`].

pub mod bucket;
pub mod fft;
pub mod msm;
pub mod qap;
pub mod witness;

use crate::circuit::{JobCircuit, Tape};
use crate::error::{Error, Result};
use crate::spec::CircuitSpec;
use ark_ff::{Field, One, Zero};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, OptimizationGoal, SynthesisError,
    SynthesisMode, R1CS_PREDICATE_LABEL,
};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};
use zkgate_circuits::Fr;

/// A sparse matrix by rows: row `i` holds the terms
/// `starts[i]..starts[i + 1]` of `columns` and `coefficients`, each
/// coefficient an index into the matrix's distinct values (a model has few:
/// its weights, powers of two, small constants), so a term takes 8 bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sparse {
    starts: Vec<u32>,
    columns: Vec<u32>,
    coefficients: Vec<u32>,
    values: Vec<Fr>,
}

/// Where `1` and `-1` sit among a matrix's distinct values.
const ONE: u32 = 0;
const MINUS_ONE: u32 = 1;

impl Sparse {
    fn from_rows(rows: &[Vec<(Fr, usize)>]) -> std::result::Result<Sparse, SynthesisError> {
        let mut s = Sparse {
            starts: Vec::with_capacity(rows.len() + 1),
            values: vec![Fr::ONE, -Fr::ONE],
            ..Sparse::default()
        };
        let mut index: HashMap<Fr, u32> = HashMap::from([(Fr::ONE, ONE), (-Fr::ONE, MINUS_ONE)]);
        s.starts.push(0);
        for row in rows {
            for (c, j) in row {
                if c.is_zero() {
                    continue;
                }
                let next = u32::try_from(s.values.len()).map_err(|_| too_large())?;
                let k = *index.entry(*c).or_insert(next);
                if k == next {
                    s.values.push(*c);
                }
                s.columns.push(u32::try_from(*j).map_err(|_| too_large())?);
                s.coefficients.push(k);
            }
            s.starts
                .push(u32::try_from(s.columns.len()).map_err(|_| too_large())?);
        }
        Ok(s)
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.starts.len() - 1
    }

    /// `M·z` into `out[..rows]` (coefficients of one cost an addition).
    pub fn product_into(&self, z: &[Fr], out: &mut [Fr]) {
        use rayon::prelude::*;
        /// Rows per parallel task.
        const TASK: usize = 1 << 12;
        let rows = self.rows().min(out.len());
        out[..rows]
            .par_chunks_mut(TASK)
            .enumerate()
            .for_each(|(t, chunk)| {
                for (k, slot) in chunk.iter_mut().enumerate() {
                    *slot = self.row_product(t * TASK + k, z);
                }
            });
    }

    /// Row `i` of the product with `z`.
    fn row_product(&self, i: usize, z: &[Fr]) -> Fr {
        let (from, to) = (self.starts[i] as usize, self.starts[i + 1] as usize);
        let mut acc = Fr::zero();
        for (k, j) in self.coefficients[from..to]
            .iter()
            .zip(&self.columns[from..to])
        {
            let v = &z[*j as usize];
            match *k {
                ONE => acc += v,
                MINUS_ONE => acc -= v,
                k => acc += self.values[k as usize] * v,
            }
        }
        acc
    }

    fn bytes(&self) -> usize {
        (self.starts.len() + self.columns.len() + self.coefficients.len()) * 4
            + self.values.len() * 32
    }
}

fn too_large() -> SynthesisError {
    // Over 2^32 terms: far beyond any domain the field's FFTs allow.
    SynthesisError::PolynomialDegreeTooLarge
}

/// A circuit compiled for proving: the matrices `A` and `B` and the
/// counts a witness must have.
#[derive(Clone, Debug, PartialEq)]
pub struct Compiled {
    /// Instance variables, the constant one included.
    pub inputs: usize,
    /// Witness variables.
    pub witnesses: usize,
    /// Constraints.
    pub constraints: usize,
    a: Sparse,
    b: Sparse,
    /// The decisions synthesis made from the symbolic form, replayed when
    /// assigning a witness (see [`crate::circuit::Tape`]).
    decisions: Vec<bool>,
}

impl Compiled {
    /// Compiles the circuit of `spec` (a synthesis in setup mode: about
    /// what one of ark-groth16's proofs spends building its system).
    pub fn of(spec: &CircuitSpec) -> Result<Compiled> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        let tape = Rc::new(RefCell::new(Vec::new()));
        JobCircuit {
            spec,
            witness: None,
            counts: None,
            tape: Tape::Record(tape.clone()),
        }
        .generate_constraints(cs.clone())?;
        cs.finalize();
        Ok(Compiled::from_system(&cs, tape.take())?)
    }

    /// The compiled form of a finalized constraint system (key generation
    /// has one at hand) and the decisions its synthesis recorded.
    pub fn from_system(
        cs: &ConstraintSystemRef<Fr>,
        decisions: Vec<bool>,
    ) -> std::result::Result<Compiled, SynthesisError> {
        let matrices = cs.to_matrices()?;
        let r1cs = matrices
            .get(R1CS_PREDICATE_LABEL)
            .ok_or(SynthesisError::MissingCS)?;
        Ok(Compiled {
            inputs: cs.num_instance_variables(),
            witnesses: cs.num_witness_variables(),
            constraints: cs.num_constraints(),
            a: Sparse::from_rows(&r1cs[0])?,
            b: Sparse::from_rows(&r1cs[1])?,
            decisions,
        })
    }

    /// The matrices `A` and `B`.
    pub fn matrices(&self) -> (&Sparse, &Sparse) {
        (&self.a, &self.b)
    }

    /// Bytes held in memory.
    pub fn bytes(&self) -> usize {
        self.a.bytes() + self.b.bytes() + self.decisions.len()
    }

    /// The recorded decisions (see [`crate::circuit::Tape`]).
    pub fn decisions(&self) -> &[bool] {
        &self.decisions
    }

    /// Checks that an assignment has this circuit's shape.
    pub fn check(&self, z: &[Fr]) -> Result<()> {
        if z.len() != self.inputs + self.witnesses || z.first() != Some(&Fr::one()) {
            return Err(Error::Proof(format!(
                "the witness has {} variables where the compiled circuit has {} (the circuit and its compiled form disagree)",
                z.len(),
                self.inputs + self.witnesses
            )));
        }
        Ok(())
    }
}

/// Compiled circuits kept in this process, by circuit id, at most this
/// many bytes (a job's one or two shard circuits; the last one used is
/// kept whatever its size).
const CACHE_BYTES: usize = 256 << 20;

type Entry = (Fr, Arc<Compiled>);

fn cache() -> &'static Mutex<VecDeque<Entry>> {
    static CACHE: OnceLock<Mutex<VecDeque<Entry>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(VecDeque::new()))
}

/// The compiled form of `spec`'s circuit: kept from an earlier proof or
/// key generation in this process, or compiled now and kept.
pub fn get(spec: &CircuitSpec) -> Result<Arc<Compiled>> {
    // The constraints are the key's: a model-family circuit's are the same
    // whatever its weights (only the witness reads them).
    let id = spec.key_id();
    if let Some(c) = lookup(id) {
        return Ok(c);
    }
    let c = Arc::new(Compiled::of(spec)?);
    keep(id, c.clone());
    Ok(c)
}

fn lookup(id: Fr) -> Option<Arc<Compiled>> {
    let mut kept = cache().lock().unwrap_or_else(|e| e.into_inner());
    let at = kept.iter().position(|(k, _)| *k == id)?;
    let entry = kept.remove(at)?;
    let c = entry.1.clone();
    kept.push_front(entry);
    Some(c)
}

/// Keeps a compiled circuit (most recently used first), dropping the least
/// recently used ones over the limit.
pub fn keep(id: Fr, c: Arc<Compiled>) {
    let mut kept = cache().lock().unwrap_or_else(|e| e.into_inner());
    kept.retain(|(k, _)| *k != id);
    kept.push_front((id, c));
    let mut total = 0;
    let mut n = 0;
    for (_, c) in kept.iter() {
        total += c.bytes();
        if total > CACHE_BYTES && n > 0 {
            break;
        }
        n += 1;
    }
    kept.truncate(n);
}

/// Where a compiled proof's time goes (see [`profile`]).
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Stages {
    /// Compiling the circuit (once per circuit id, not per proof).
    pub compile_s: f64,
    /// The witness alone.
    pub witness_s: f64,
    /// `A·z` and `B·z`.
    pub products_s: f64,
    /// The quotient's FFTs.
    pub fft_s: f64,
    /// The MSMs and the proof's assembly.
    pub msm_s: f64,
    /// Of which each MSM alone: `h`, `l`, `a`, `b` in G1, `b` in G2.
    pub msm_parts_s: [f64; 5],
    /// The assignment's values by size: zero, one, other below 2^64,
    /// larger (negative small values, products, hashes).
    pub scalars: [usize; 4],
    /// The compiled form's size, bytes.
    pub compiled_bytes: usize,
}

/// Runs the compiled prover's stages one by one with the owner keys'
/// reduction, timing each (the circuit is compiled afresh first, and
/// timed); the proof is made and dropped.
pub fn profile(
    spec: &CircuitSpec,
    pk: &crate::prove::ProvingKey,
    witness: crate::circuit::Witness<'_>,
) -> Result<Stages> {
    use std::time::Instant;
    let t = Instant::now();
    let c = Compiled::of(spec)?;
    let compile_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let z = witness::assign(spec, &c, witness)?;
    let witness_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (a, b) = qap::products(&c, &z)?;
    let products_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let h = qap::owner_from(&c, a, b)?;
    let fft_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let proof = msm::assemble(pk, &z, &h, Fr::from(3u64), Fr::from(5u64));
    let msm_s = t.elapsed().as_secs_f64();
    std::hint::black_box(proof);
    let msm_parts_s = msm::parts(pk, &z, &h);
    let mut scalars = [0; 4];
    for x in &z[1..] {
        use ark_ff::PrimeField;
        let big = x.into_bigint();
        let limbs = big.as_ref();
        let at = if x.is_zero() {
            0
        } else if x.is_one() {
            1
        } else if limbs[1..].iter().all(|l| *l == 0) {
            2
        } else {
            3
        };
        scalars[at] += 1;
    }
    Ok(Stages {
        msm_parts_s,
        scalars,
        compile_s,
        witness_s,
        products_s,
        fft_s,
        msm_s,
        compiled_bytes: c.bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;
    use ark_relations::gr1cs::LinearCombination;
    use rand::SeedableRng;

    #[test]
    fn products_by_the_compiled_matrices_are_the_systems() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        let vars: Vec<_> = (0..6)
            .map(|i| {
                if i < 2 {
                    cs.new_input_variable(|| Ok(Fr::from(i as u64 + 2)))
                } else {
                    cs.new_witness_variable(|| Ok(Fr::from(i as u64 * 7)))
                }
                .unwrap()
            })
            .collect();
        let w = Fr::rand(&mut rng);
        for k in 0..5 {
            let a = LinearCombination(vec![
                (Fr::ONE, vars[k]),
                (-Fr::ONE, vars[k + 1]),
                (w, vars[0]),
            ]);
            let b = LinearCombination(vec![(w + Fr::from(k as u64), vars[5 - k])]);
            let c = LinearCombination(vec![(Fr::from(3u64), vars[2])]);
            cs.enforce_r1cs_constraint(|| a, || b, || c).unwrap();
        }
        cs.finalize();
        let compiled = Compiled::from_system(&cs, vec![]).unwrap();
        let matrices = &cs.to_matrices().unwrap()[R1CS_PREDICATE_LABEL];
        let z: Vec<Fr> = {
            let cs = cs.borrow().unwrap();
            [
                cs.instance_assignment().unwrap(),
                cs.witness_assignment().unwrap(),
            ]
            .concat()
        };
        compiled.check(&z).unwrap();
        assert!(compiled.check(&z[1..]).is_err());
        let (a, b) = compiled.matrices();
        for (m, sparse) in [(&matrices[0], a), (&matrices[1], b)] {
            let mut got = vec![Fr::zero(); sparse.rows()];
            sparse.product_into(&z, &mut got);
            let want: Vec<Fr> = m
                .iter()
                .map(|row| row.iter().map(|(c, j)| *c * z[*j]).sum())
                .collect();
            assert_eq!(got, want);
        }
        // Distinct coefficients are kept once: 1, -1, w, w + k, 3.
        assert_eq!(a.values.len(), 3);
        assert_eq!(b.values.len(), 2 + 5);
    }
}
