//! The dataset commitment: hiding and binding, column by column.
//!
//! A dataset is `rows x columns` signed integers of `value_bits` bits (the
//! quantized values). Each value is encoded as `v + 2^(value_bits-1)`,
//! range-checked to `value_bits` bits, and `floor(248 / value_bits)` encoded
//! values of one column are packed into one field element (row order, least
//! significant first). A column's digest chains circomlib Poseidon(12) calls:
//! `h_0 = salt_j`, `h_{i+1} = Poseidon(h_i, e_{11i} .. e_{11i+10})` (zero
//! padded). The dataset commitment chains the column digests the same way
//! from `Poseidon(TAG, rows, columns, value_bits)`.
//!
//! Why this shape: the range checks make packing injective (binding); the
//! per-column salts make every digest hiding; a circuit that reads only some
//! columns hashes only those and takes the other digests as private
//! witnesses; and a chain can be cut at any call boundary, so a dataset can
//! later be proven in shards without changing the commitment.

use crate::bits::decompose_signed;
use crate::num::pow2;
use crate::poseidon::{self, gadget};
use crate::{Cs, Fr, Num, Result};
use ark_ff::{AdditiveGroup, PrimeField};

/// Bits packed into one field element.
pub const PACK_BITS: usize = 248;
/// Elements absorbed per Poseidon call besides the chaining value.
pub const CHAIN_RATE: usize = poseidon::MAX_INPUTS - 1;
/// Widest supported value.
pub const MAX_VALUE_BITS: usize = 32;

/// Domain separator: the ASCII bytes of `zkgate.dataset.v1` as an integer.
pub fn tag() -> Fr {
    Fr::from_be_bytes_mod_order(b"zkgate.dataset.v1")
}

/// The public shape bound into the commitment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Number of rows.
    pub rows: u64,
    /// Number of columns.
    pub columns: u64,
    /// Bits per value.
    pub value_bits: usize,
}

/// Values packed per field element.
pub fn values_per_element(value_bits: usize) -> usize {
    PACK_BITS / value_bits
}

/// Whether `v` fits a signed `value_bits`-bit value.
pub fn fits(v: i64, value_bits: usize) -> bool {
    let half = 1i64 << (value_bits - 1);
    (-half..half).contains(&v)
}

/// Packs a column's values (each must fit `value_bits`).
pub fn pack(values: &[i64], value_bits: usize) -> Vec<Fr> {
    assert!((2..=MAX_VALUE_BITS).contains(&value_bits));
    let offset = 1i64 << (value_bits - 1);
    values
        .chunks(values_per_element(value_bits))
        .map(|chunk| {
            chunk.iter().enumerate().fold(Fr::ZERO, |acc, (i, v)| {
                assert!(fits(*v, value_bits), "value {v} does not fit {value_bits} bits");
                acc + Fr::from((v + offset) as u64) * pow2(i * value_bits)
            })
        })
        .collect()
}

fn chain(start: Fr, elements: &[Fr]) -> Fr {
    elements.chunks(CHAIN_RATE).fold(start, |h, chunk| {
        let mut input = Vec::with_capacity(poseidon::MAX_INPUTS);
        input.push(h);
        input.extend_from_slice(chunk);
        input.resize(poseidon::MAX_INPUTS, Fr::ZERO);
        poseidon::hash(&input)
    })
}

/// The salt of column `column`, derived from the dataset's secret salt.
pub fn column_salt(secret: Fr, column: usize) -> Fr {
    poseidon::hash(&[secret, Fr::from(column as u64)])
}

/// A column's digest.
pub fn column_digest(salt: Fr, values: &[i64], value_bits: usize) -> Fr {
    chain(salt, &pack(values, value_bits))
}

fn header(shape: Shape) -> Fr {
    poseidon::hash(&[tag(), Fr::from(shape.rows), Fr::from(shape.columns), Fr::from(shape.value_bits as u64)])
}

/// The dataset commitment from its column digests.
pub fn commit(shape: Shape, digests: &[Fr]) -> Fr {
    assert_eq!(digests.len() as u64, shape.columns);
    chain(header(shape), digests)
}

fn chain_gadget(cs: &Cs, start: Num, elements: &[Num]) -> Result<Num> {
    let mut h = start;
    for chunk in elements.chunks(CHAIN_RATE) {
        let mut input = Vec::with_capacity(poseidon::MAX_INPUTS);
        input.push(h);
        input.extend(chunk.iter().cloned());
        input.resize(poseidon::MAX_INPUTS, Num::zero());
        h = gadget::hash(cs, &input)?;
    }
    Ok(h)
}

/// A column's digest in R1CS. Range-checks every value to `value_bits` bits
/// (`value_bits` constraints each) and hashes the packed elements (507
/// constraints per 11 elements).
pub fn column_digest_gadget(cs: &Cs, salt: &Num, values: &[Num], value_bits: usize) -> Result<Num> {
    assert!((2..=MAX_VALUE_BITS).contains(&value_bits));
    let offset = pow2(value_bits - 1);
    let mut packed = Vec::new();
    for chunk in values.chunks(values_per_element(value_bits)) {
        for v in chunk {
            decompose_signed(cs, v, value_bits)?;
        }
        packed.push(Num::linear_combination(
            chunk.iter().enumerate().map(|(i, v)| (pow2(i * value_bits), v)),
        ).add_const(
            (0..chunk.len()).map(|i| offset * pow2(i * value_bits)).sum(),
        ));
    }
    chain_gadget(cs, salt.clone(), &packed)
}

/// The dataset commitment in R1CS (the header is a constant).
pub fn commit_gadget(cs: &Cs, shape: Shape, digests: &[Num]) -> Result<Num> {
    assert_eq!(digests.len() as u64, shape.columns);
    chain_gadget(cs, Num::constant(header(shape)), digests)
}

/// Constraints [`column_digest_gadget`] costs for `rows` values.
pub fn column_cost(rows: usize, value_bits: usize) -> usize {
    let elements = rows.div_ceil(values_per_element(value_bits));
    rows * value_bits + elements.div_ceil(CHAIN_RATE) * gadget::cost(poseidon::MAX_INPUTS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_sound, cs, satisfied};

    fn column(n: i64) -> Vec<i64> {
        (0..n).map(|i| (i * 37 % 200) - 100).collect()
    }

    #[test]
    fn gadget_matches_native_and_is_sound() {
        let values = column(40);
        let salt = Fr::from(987654321u64);
        let want = column_digest(salt, &values, 8);
        let (count, out) = assert_sound(1 + values.len(), |cs| {
            let s = Num::witness(cs, Some(salt)).unwrap();
            let vs: Vec<Num> = values.iter().map(|&v| Num::witness(cs, Some(crate::i128_to_field(v as i128))).unwrap()).collect();
            vec![column_digest_gadget(cs, &s, &vs, 8).unwrap()]
        });
        assert_eq!(out[0], want);
        assert_eq!(count, column_cost(40, 8));
        assert_eq!(count, 40 * 8 + 507);
    }

    #[test]
    fn commitment_gadget_matches_native() {
        let shape = Shape { rows: 3, columns: 13, value_bits: 8 };
        let digests: Vec<Fr> = (0..13u64).map(Fr::from).collect();
        let cs = cs();
        let ds: Vec<Num> = digests.iter().map(|d| Num::witness(&cs, Some(*d)).unwrap()).collect();
        assert_eq!(commit_gadget(&cs, shape, &ds).unwrap().value(), Some(commit(shape, &digests)));
        assert!(satisfied(&cs));
        assert_eq!(cs.num_constraints(), 2 * 507);
    }

    #[test]
    fn an_out_of_range_value_cannot_be_committed() {
        // 200 does not fit 8 signed bits; packing it would alias another column.
        let cs = cs();
        let s = Num::witness(&cs, Some(Fr::from(1u64))).unwrap();
        let v = Num::witness(&cs, Some(Fr::from(200u64))).unwrap();
        column_digest_gadget(&cs, &s, &[v], 8).unwrap();
        assert!(!satisfied(&cs));
    }

    #[test]
    fn the_commitment_depends_on_every_part() {
        let shape = Shape { rows: 40, columns: 2, value_bits: 8 };
        let a = column_digest(Fr::from(1u64), &column(40), 8);
        let b = column_digest(Fr::from(2u64), &column(40), 8);
        let base = commit(shape, &[a, b]);
        let mut changed = column(40);
        changed[39] += 1;
        assert_ne!(commit(shape, &[column_digest(Fr::from(1u64), &changed, 8), b]), base);
        assert_ne!(commit(shape, &[b, a]), base);
        assert_ne!(commit(Shape { rows: 39, ..shape }, &[a, b]), base);
        assert_ne!(column_digest(Fr::from(3u64), &column(40), 8), a, "the salt hides the column");
    }
}
