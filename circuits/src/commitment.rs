//! The dataset commitment: hiding and binding, row by row.
//!
//! A dataset is `rows x columns` signed integers of `value_bits` bits (the
//! quantized values). Each value is encoded as `v + 2^(value_bits-1)` and
//! range-checked to `value_bits` bits; a row's encoded values are packed,
//! `floor(248 / value_bits)` per field element, least significant first, a
//! row always starting a new element. The commitment chains circomlib
//! Poseidon calls over every row's elements in order:
//! `h_0 = Poseidon(TAG, columns, value_bits, salt)`,
//! `h_{i+1} = Poseidon(h_i, e_{11i} .. e_{11i+10})` (the last call zero
//! padded), and `C_D = Poseidon(h_last, rows)`: the row count is absorbed
//! at the end, so a chain read up to any row is the same whatever the
//! dataset's length, and a padded shard can stop reading it at its last
//! real row (see `shard`).
//!
//! Why this shape: the range checks make packing injective (binding); the
//! random salt in the first call makes the commitment hiding; packing costs
//! about `value_bits + 507 / (11 * per_element)` constraints per value
//! whatever the table's shape (a column-wise layout pays a whole Poseidon call
//! per column even for one row, which wide tables such as images cannot
//! afford); and the chain can be cut at any call boundary, so a long dataset
//! can be proven in shards of rows with the intermediate `h` as the link,
//! without changing the commitment.

use crate::bits::decompose_signed;
use crate::num::pow2;
use crate::poseidon::{self, gadget};
use crate::{Cs, Fr, Num, Result};
use ark_ff::{AdditiveGroup, PrimeField};

/// Bits packed into one field element.
pub const PACK_BITS: usize = 248;
/// Elements absorbed per Poseidon call besides the chaining value.
pub const ABSORB_RATE: usize = poseidon::MAX_INPUTS - 1;
/// Widest supported value.
pub const MAX_VALUE_BITS: usize = 32;

/// Domain separator: the ASCII bytes of `zkgate.dataset.v2` as an integer.
pub fn tag() -> Fr {
    Fr::from_be_bytes_mod_order(b"zkgate.dataset.v2")
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

impl Shape {
    /// Field elements per packed row.
    pub fn elements_per_row(&self) -> usize {
        (self.columns as usize).div_ceil(values_per_element(self.value_bits))
    }

    /// Constraints [`commit_gadget`] costs.
    pub fn cost(&self) -> usize {
        START_COST + self.absorb_cost(self.rows) + FINISH_COST
    }

    /// Poseidon calls that absorb `rows` rows.
    pub fn calls(&self, rows: u64) -> usize {
        (rows as usize * self.elements_per_row()).div_ceil(ABSORB_RATE)
    }

    /// Constraints [`absorb_gadget`] costs for `rows` rows.
    pub fn absorb_cost(&self, rows: u64) -> usize {
        let elements = rows as usize * self.elements_per_row();
        rows as usize * self.columns as usize * self.value_bits
            + elements.div_ceil(ABSORB_RATE) * gadget::cost(poseidon::MAX_INPUTS)
    }

    /// The row counts after which the chain can be cut: multiples of this
    /// fill whole Poseidon calls.
    pub fn cut_rows(&self) -> u64 {
        let per_row = self.elements_per_row() as u64;
        ABSORB_RATE as u64 / gcd(ABSORB_RATE as u64, per_row)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
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

/// Packs one row's values (each must fit `value_bits`).
pub fn pack_row(values: &[i64], value_bits: usize) -> Vec<Fr> {
    assert!((2..=MAX_VALUE_BITS).contains(&value_bits));
    let offset = 1i64 << (value_bits - 1);
    values
        .chunks(values_per_element(value_bits))
        .map(|chunk| {
            chunk.iter().enumerate().fold(Fr::ZERO, |acc, (i, v)| {
                assert!(
                    fits(*v, value_bits),
                    "value {v} does not fit {value_bits} bits"
                );
                acc + Fr::from((v + offset) as u64) * pow2(i * value_bits)
            })
        })
        .collect()
}

/// The chain's first value, `Poseidon(TAG, columns, value_bits, salt)`:
/// the row count is not in it (see [`finish`]).
pub fn start(shape: Shape, salt: Fr) -> Fr {
    poseidon::hash(&[
        tag(),
        Fr::from(shape.columns),
        Fr::from(shape.value_bits as u64),
        salt,
    ])
}

/// Absorbs elements into the hash chain, `ABSORB_RATE` per call.
fn absorb_elements(h: Fr, elements: &[Fr]) -> Fr {
    elements.chunks(ABSORB_RATE).fold(h, |h, chunk| {
        let mut input = Vec::with_capacity(poseidon::MAX_INPUTS);
        input.push(h);
        input.extend_from_slice(chunk);
        input.resize(poseidon::MAX_INPUTS, Fr::ZERO);
        poseidon::hash(&input)
    })
}

/// Continues the chain from `h` over whole rows. Cutting the row sequence
/// where the packed elements so far fill whole calls (see [`Shape::cut_rows`])
/// gives the same value as absorbing it in one go.
pub fn absorb<'a>(h: Fr, value_bits: usize, rows: impl IntoIterator<Item = &'a [i64]>) -> Fr {
    let elements: Vec<Fr> = rows
        .into_iter()
        .flat_map(|r| pack_row(r, value_bits))
        .collect();
    absorb_elements(h, &elements)
}

/// The commitment from the chain's value after the last row:
/// `Poseidon(h, rows)`.
pub fn finish(h: Fr, rows: u64) -> Fr {
    poseidon::hash(&[h, Fr::from(rows)])
}

/// [`finish`] in R1CS: [`FINISH_COST`] constraints.
pub fn finish_gadget(cs: &Cs, h: &Num, rows: &Num) -> Result<Num> {
    gadget::hash(cs, &[h.clone(), rows.clone()])
}

/// Constraints of [`finish_gadget`].
pub const FINISH_COST: usize = 243;

/// The dataset commitment over `rows` (each `shape.columns` values).
pub fn commit<'a>(shape: Shape, salt: Fr, rows: impl IntoIterator<Item = &'a [i64]>) -> Fr {
    let mut elements = Vec::new();
    let mut n = 0u64;
    for row in rows {
        assert_eq!(row.len() as u64, shape.columns, "row width");
        elements.extend(pack_row(row, shape.value_bits));
        n += 1;
    }
    assert_eq!(n, shape.rows, "row count");
    finish(absorb_elements(start(shape, salt), &elements), n)
}

/// The dataset commitment in R1CS: range-checks every value
/// (`value_bits` constraints each) and hashes the packed rows; see
/// [`Shape::cost`].
pub fn commit_gadget(cs: &Cs, shape: Shape, salt: &Num, rows: &[Vec<Num>]) -> Result<Num> {
    assert_eq!(rows.len() as u64, shape.rows, "row count");
    let h = start_gadget(cs, shape, salt)?;
    let h = absorb_gadget(cs, shape, &h, rows)?;
    finish_gadget(cs, &h, &Num::constant(Fr::from(shape.rows)))
}

/// [`start`] in R1CS: one Poseidon(4) call, [`START_COST`] constraints.
pub fn start_gadget(cs: &Cs, shape: Shape, salt: &Num) -> Result<Num> {
    let header = [
        tag(),
        Fr::from(shape.columns),
        Fr::from(shape.value_bits as u64),
    ];
    let mut input: Vec<Num> = header.iter().map(|x| Num::constant(*x)).collect();
    input.push(salt.clone());
    gadget::hash(cs, &input)
}

/// Constraints of [`start_gadget`].
pub const START_COST: usize = 300;

/// [`absorb`] in R1CS: range-checks and packs `rows` (each `shape.columns`
/// wide) and continues the chain from `h`.
pub fn absorb_gadget(cs: &Cs, shape: Shape, h: &Num, rows: &[Vec<Num>]) -> Result<Num> {
    let states = absorb_calls_gadget(cs, shape, h, rows, None)?;
    Ok(states.last().cloned().unwrap_or_else(|| h.clone()))
}

/// [`absorb_gadget`] with every call's output, and with each row's packed
/// elements multiplied by its flag in `mask` when given (1 constraint per
/// element past the first row, whose flag must be 1): a row whose flag is
/// 0 is absorbed as zeros, what the native chain pads its last call with.
pub fn absorb_calls_gadget(
    cs: &Cs,
    shape: Shape,
    h: &Num,
    rows: &[Vec<Num>],
    mask: Option<&[Num]>,
) -> Result<Vec<Num>> {
    assert!((2..=MAX_VALUE_BITS).contains(&shape.value_bits));
    if let Some(m) = mask {
        assert_eq!(m.len(), rows.len(), "one flag per row");
    }
    let bits = shape.value_bits;
    let offset = pow2(bits - 1);
    let mut packed = Vec::with_capacity(rows.len() * shape.elements_per_row());
    for (r, row) in rows.iter().enumerate() {
        assert_eq!(row.len() as u64, shape.columns, "row width");
        for chunk in row.chunks(values_per_element(bits)) {
            for v in chunk {
                decompose_signed(cs, v, bits)?;
            }
            let constant: Fr = (0..chunk.len()).map(|i| offset * pow2(i * bits)).sum();
            let e =
                Num::linear_combination(chunk.iter().enumerate().map(|(i, v)| (pow2(i * bits), v)))
                    .add_const(constant);
            packed.push(match mask {
                Some(m) if r > 0 => Num::mul(cs, &e, &m[r])?,
                _ => e,
            });
        }
    }
    let mut h = h.clone();
    let mut states = Vec::with_capacity(packed.len().div_ceil(ABSORB_RATE));
    for chunk in packed.chunks(ABSORB_RATE) {
        let mut input = Vec::with_capacity(poseidon::MAX_INPUTS);
        input.push(h);
        input.extend(chunk.iter().cloned());
        input.resize(poseidon::MAX_INPUTS, Num::zero());
        h = gadget::hash(cs, &input)?;
        states.push(h.clone());
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_sound, cs, satisfied};

    fn table(rows: usize, cols: usize) -> Vec<Vec<i64>> {
        (0..rows)
            .map(|r| {
                (0..cols)
                    .map(|c| ((r * 37 + c * 11) % 200) as i64 - 100)
                    .collect()
            })
            .collect()
    }

    fn witness_rows(cs: &Cs, t: &[Vec<i64>]) -> Vec<Vec<Num>> {
        t.iter()
            .map(|r| {
                r.iter()
                    .map(|v| Num::witness(cs, Some(crate::i128_to_field(i128::from(*v)))).unwrap())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn gadget_matches_native_and_is_sound() {
        let t = table(5, 40); // 40 values per row: 2 elements per row at 8 bits
        let shape = Shape {
            rows: 5,
            columns: 40,
            value_bits: 8,
        };
        let salt = Fr::from(987654321u64);
        let want = commit(shape, salt, t.iter().map(Vec::as_slice));
        let (count, out) = assert_sound(1 + 5 * 40, |cs| {
            let s = Num::witness(cs, Some(salt)).unwrap();
            let rows = witness_rows(cs, &t);
            vec![commit_gadget(cs, shape, &s, &rows).unwrap()]
        });
        assert_eq!(out[0], want);
        assert_eq!(count, shape.cost());
        assert_eq!(count, 5 * 40 * 8 + 300 + 507 + 243);
    }

    #[test]
    fn the_chain_cuts_at_whole_calls_only() {
        // One element per row: a call holds 11 rows.
        let shape = Shape {
            rows: 33,
            columns: 3,
            value_bits: 8,
        };
        assert_eq!(shape.cut_rows(), 11);
        assert_eq!(
            Shape {
                columns: 40,
                ..shape
            }
            .cut_rows(),
            11
        );
        assert_eq!(
            Shape {
                columns: 31 * 22,
                ..shape
            }
            .cut_rows(),
            1
        );
        let t = table(33, 3);
        let salt = Fr::from(5u64);
        let part = |h: Fr, r: std::ops::Range<usize>| absorb(h, 8, t[r].iter().map(Vec::as_slice));
        let whole = commit(shape, salt, t.iter().map(Vec::as_slice));
        let s = start(shape, salt);
        assert_eq!(
            finish(part(part(part(s, 0..11), 11..22), 22..33), 33),
            whole
        );
        assert_ne!(
            finish(part(part(s, 0..5), 5..33), 33),
            whole,
            "a cut inside a call"
        );
        // The gadget continues the chain from a given value the same way.
        let (count, out) = assert_sound(1 + 11 * 3, |cs| {
            let h = Num::witness(cs, Some(part(s, 0..11))).unwrap();
            vec![absorb_gadget(cs, shape, &h, &witness_rows(cs, &t[11..22])).unwrap()]
        });
        assert_eq!(out[0], part(s, 0..22));
        assert_eq!(count, shape.absorb_cost(11));
        assert_eq!(START_COST, gadget::cost(4));
        assert_eq!(FINISH_COST, gadget::cost(2));
    }

    #[test]
    fn an_out_of_range_value_cannot_be_committed() {
        // 200 does not fit 8 signed bits; packing it would alias its neighbour.
        let cs = cs();
        let s = Num::witness(&cs, Some(Fr::from(1u64))).unwrap();
        let v = Num::witness(&cs, Some(Fr::from(200u64))).unwrap();
        commit_gadget(
            &cs,
            Shape {
                rows: 1,
                columns: 1,
                value_bits: 8,
            },
            &s,
            &[vec![v]],
        )
        .unwrap();
        assert!(!satisfied(&cs));
    }

    #[test]
    fn the_commitment_depends_on_every_part() {
        let t = table(40, 3);
        let shape = Shape {
            rows: 40,
            columns: 3,
            value_bits: 8,
        };
        let rows = |t: &[Vec<i64>]| t.to_vec();
        let c = |shape: Shape, salt: u64, t: &[Vec<i64>]| {
            commit(shape, Fr::from(salt), t.iter().map(Vec::as_slice))
        };
        let base = c(shape, 1, &t);
        let mut changed = rows(&t);
        changed[39][2] += 1;
        assert_ne!(c(shape, 1, &changed), base, "a value");
        let mut swapped = rows(&t);
        swapped.swap(0, 1);
        assert_ne!(c(shape, 1, &swapped), base, "row order");
        assert_ne!(
            c(
                Shape {
                    value_bits: 9,
                    ..shape
                },
                1,
                &t
            ),
            base,
            "value width"
        );
        assert_ne!(c(shape, 2, &t), base, "the salt hides the data");
        // A last row of minimum values packs to a zero element, as the
        // last call's padding does: the row count still tells them apart.
        let mut low = rows(&t[..34]);
        low.push(vec![-128; 3]);
        let short = Shape { rows: 34, ..shape };
        assert_ne!(
            c(Shape { rows: 35, ..shape }, 1, &low),
            c(short, 1, &low[..34]),
            "the row count"
        );
        let reshaped: Vec<Vec<i64>> = t.concat().chunks(4).map(<[i64]>::to_vec).collect();
        assert_ne!(
            c(
                Shape {
                    rows: 30,
                    columns: 4,
                    value_bits: 8
                },
                1,
                &reshaped
            ),
            base,
            "the shape"
        );
    }
}
