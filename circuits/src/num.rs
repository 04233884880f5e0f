//! `Num`: a linear combination of variables with its (optional) witness value.

use crate::{Cs, Fr, Result};
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField, Zero};
use ark_relations::gr1cs::{LinearCombination, SynthesisError, Variable};

/// A signal in the circuit: a linear combination of variables and, when a
/// witness is being generated, its value. Additions and multiplications by
/// constants only touch the linear combination and cost no constraint.
///
/// In a system that keeps no constraints (a prover assigning the witness
/// alone, `construct_matrices: false`), variables carry no linear
/// combination and nothing derived from them builds one: only values are
/// computed. Constants keep theirs (one term).
#[derive(Clone, Debug)]
pub struct Num {
    lc: LinearCombination<Fr>,
    value: Option<Fr>,
    /// Whether `lc` is kept (false once a values-only variable is in it).
    symbolic: bool,
}

impl Num {
    /// The constant `c` (no variable).
    pub fn constant(c: Fr) -> Self {
        Self {
            lc: LinearCombination(vec![(c, Variable::One)]),
            value: Some(c),
            symbolic: true,
        }
    }

    /// The constant `0`.
    pub fn zero() -> Self {
        Self {
            lc: LinearCombination::zero(),
            value: Some(Fr::ZERO),
            symbolic: true,
        }
    }

    fn variable(cs: &Cs, var: Variable, value: Option<Fr>) -> Self {
        let symbolic = cs.should_construct_matrices();
        Self {
            lc: if symbolic {
                LinearCombination(vec![(Fr::ONE, var)])
            } else {
                LinearCombination(Vec::new())
            },
            value,
            symbolic,
        }
    }

    /// Allocates a private witness variable.
    pub fn witness(cs: &Cs, value: Option<Fr>) -> Result<Self> {
        #[cfg(test)]
        let value = crate::testing::tampered(cs.num_witness_variables(), value);
        let var = cs.new_witness_variable(|| value.ok_or(SynthesisError::AssignmentMissing))?;
        Ok(Self::variable(cs, var, value))
    }

    /// Allocates a public input variable.
    pub fn input(cs: &Cs, value: Option<Fr>) -> Result<Self> {
        let var = cs.new_input_variable(|| value.ok_or(SynthesisError::AssignmentMissing))?;
        Ok(Self::variable(cs, var, value))
    }

    /// The witness value, if known.
    pub fn value(&self) -> Option<Fr> {
        self.value
    }

    /// The linear combination (empty in a values-only system: see
    /// [`Num::is_symbolic`]).
    pub fn lc(&self) -> &LinearCombination<Fr> {
        &self.lc
    }

    /// Whether the linear combination is kept: false for a signal of a
    /// system that only assigns values.
    pub fn is_symbolic(&self) -> bool {
        self.symbolic
    }

    fn values_only(value: Option<Fr>) -> Num {
        Num {
            lc: LinearCombination(Vec::new()),
            value,
            symbolic: false,
        }
    }

    /// `self + other` (free).
    pub fn add(&self, other: &Num) -> Num {
        self.add_scaled(other, Fr::ONE)
    }

    /// `self - other` (free).
    pub fn sub(&self, other: &Num) -> Num {
        self.add_scaled(other, -Fr::ONE)
    }

    /// `self + c * other` (free).
    pub fn add_scaled(&self, other: &Num, c: Fr) -> Num {
        let value = self.value.zip(other.value).map(|(a, b)| a + c * b);
        if !(self.symbolic && other.symbolic) {
            return Num::values_only(value);
        }
        let mut terms = Vec::with_capacity(self.lc.0.len() + other.lc.0.len());
        terms.extend_from_slice(&self.lc.0);
        terms.extend(other.lc.0.iter().map(|(k, v)| (*k * c, *v)));
        let mut lc = LinearCombination(terms);
        lc.compactify();
        Num {
            lc,
            value,
            symbolic: true,
        }
    }

    /// `c * self` (free).
    pub fn scale(&self, c: Fr) -> Num {
        let value = self.value.map(|a| a * c);
        if !self.symbolic {
            return Num::values_only(value);
        }
        Num {
            lc: LinearCombination(self.lc.0.iter().map(|(k, v)| (*k * c, *v)).collect()),
            value,
            symbolic: true,
        }
    }

    /// `self + c` (free).
    pub fn add_const(&self, c: Fr) -> Num {
        self.add(&Num::constant(c))
    }

    /// `sum_i c_i * x_i` (free).
    pub fn linear_combination<'a>(terms: impl IntoIterator<Item = (Fr, &'a Num)>) -> Num {
        let mut acc: Vec<(Fr, Variable)> = Vec::new();
        let mut value = Some(Fr::ZERO);
        let mut symbolic = true;
        for (c, x) in terms {
            if c.is_zero() {
                continue;
            }
            value = value.zip(x.value).map(|(a, b)| a + c * b);
            symbolic &= x.symbolic;
            if symbolic {
                acc.extend(x.lc.0.iter().map(|(k, v)| (*k * c, *v)));
            }
        }
        if !symbolic {
            return Num::values_only(value);
        }
        let mut lc = LinearCombination(acc);
        lc.compactify();
        Num {
            lc,
            value,
            symbolic,
        }
    }

    /// `a * b` as a new witness variable: 1 constraint.
    pub fn mul(cs: &Cs, a: &Num, b: &Num) -> Result<Num> {
        let out = Num::witness(cs, a.value.zip(b.value).map(|(x, y)| x * y))?;
        enforce(cs, a, b, &out)?;
        Ok(out)
    }

    /// Materializes this linear combination as one variable: 1 constraint.
    /// Worth it when a long combination would otherwise be copied into many
    /// constraints.
    pub fn materialize(&self, cs: &Cs) -> Result<Num> {
        let out = Num::witness(cs, self.value)?;
        enforce_equal(cs, self, &out)?;
        Ok(out)
    }
}

/// Enforces `a * b = c`: 1 constraint.
pub(crate) fn enforce(cs: &Cs, a: &Num, b: &Num, c: &Num) -> Result<()> {
    // The closures run only when the system keeps its constraints (not
    // when a prover only assigns the witness).
    cs.enforce_r1cs_constraint(|| a.lc.clone(), || b.lc.clone(), || c.lc.clone())
}

/// Enforces `a = b`: 1 constraint.
pub(crate) fn enforce_equal(cs: &Cs, a: &Num, b: &Num) -> Result<()> {
    enforce(cs, a, &Num::constant(Fr::ONE), b)
}

/// Enforces `b * (1 - b) = 0`: 1 constraint.
pub(crate) fn enforce_boolean(cs: &Cs, b: &Num) -> Result<()> {
    let one_minus = Num::constant(Fr::ONE).sub(b);
    enforce(cs, b, &one_minus, &Num::zero())
}

/// Maps a signed integer into the field (negative values wrap to `p - |x|`).
pub fn i128_to_field(x: i128) -> Fr {
    if x >= 0 {
        Fr::from(x as u128)
    } else {
        -Fr::from(x.unsigned_abs())
    }
}

/// Reads a field element as a signed integer, if it lies in `(-2^127, 2^127)`
/// (the upper half of the field is read as negative).
pub fn field_to_i128(x: Fr) -> Option<i128> {
    let fits = |f: Fr| -> Option<u128> {
        let big = f.into_bigint();
        if big.num_bits() > 127 {
            return None;
        }
        let limbs = big.as_ref();
        Some(limbs[0] as u128 | ((limbs[1] as u128) << 64))
    };
    if let Some(v) = fits(x) {
        return Some(v as i128);
    }
    fits(-x).map(|v| -(v as i128))
}

/// The `bits` low bits of `x`'s canonical integer, least significant first.
pub(crate) fn low_bits(x: Fr, bits: usize) -> Vec<bool> {
    let big = x.into_bigint();
    (0..bits).map(|i| big.get_bit(i)).collect()
}

/// `2^k` in the field.
pub(crate) fn pow2(k: usize) -> Fr {
    Fr::from(2u64).pow([k as u64])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{cs, satisfied};

    #[test]
    fn signed_round_trip() {
        for x in [
            0i128,
            1,
            -1,
            1 << 100,
            -(1 << 100),
            i128::MAX,
            i128::MIN + 1,
        ] {
            assert_eq!(field_to_i128(i128_to_field(x)), Some(x));
        }
        assert_eq!(field_to_i128(pow2(200)), None);
    }

    #[test]
    fn mul_costs_one_constraint_and_rejects_a_wrong_product() {
        let cs = cs();
        let a = Num::witness(&cs, Some(Fr::from(6u64))).unwrap();
        let b = Num::witness(&cs, Some(Fr::from(7u64))).unwrap();
        let c = Num::mul(&cs, &a, &b).unwrap();
        assert_eq!(c.value(), Some(Fr::from(42u64)));
        assert_eq!(cs.num_constraints(), 1);
        assert!(satisfied(&cs));

        let cs = crate::testing::cs();
        let a = Num::witness(&cs, Some(Fr::from(6u64))).unwrap();
        let b = Num::witness(&cs, Some(Fr::from(7u64))).unwrap();
        let bad = Num::witness(&cs, Some(Fr::from(43u64))).unwrap();
        enforce(&cs, &a, &b, &bad).unwrap();
        assert!(!satisfied(&cs));
    }
}
