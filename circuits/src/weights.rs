//! A model's weights as private inputs (a model-family circuit): each
//! range-checked to its declared signed width, then hashed, so the circuit
//! proves which weights it ran while its constraints depend on their
//! widths only.
//!
//! Each value `v` of width `b` is checked to `-2^(b-1) <= v < 2^(b-1)` and
//! offset to `v + 2^(b-1)`, `b` bits; the offset values are packed in order
//! into field elements of at most [`PACK_BITS`] bits (a value never
//! straddles two), which the range checks make injective. The hash is a
//! chain of circomlib Poseidon calls: `h = Poseidon(tag, count)`, then
//! `h = Poseidon(h, e_1..e_k)` over at most [`ABSORB_RATE`] elements at a
//! time. The widths are the circuit's (public), the count binds the length.

use crate::bits::decompose_signed;
use crate::commitment::{ABSORB_RATE, PACK_BITS};
use crate::num::pow2;
use crate::{i128_to_field, poseidon, Cs, Fr, Num, Result};
use ark_ff::PrimeField;

/// Widest supported value.
pub const MAX_BITS: usize = 120;

/// Domain separator: the ASCII bytes of `zkgate.weights.v1` as an integer.
pub fn tag() -> Fr {
    Fr::from_be_bytes_mod_order(b"zkgate.weights.v1")
}

/// Whether `v` fits the signed width `bits`.
pub fn fits(v: i128, bits: usize) -> bool {
    (1..=MAX_BITS).contains(&bits) && (-(1i128 << (bits - 1))..(1i128 << (bits - 1))).contains(&v)
}

/// Which values each packed element holds, in order.
fn elements(bits: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut used) = (0usize, 0usize);
    for (i, b) in bits.iter().enumerate() {
        assert!((1..=MAX_BITS).contains(b), "weight width {b} out of range");
        if used + b > PACK_BITS {
            out.push(start..i);
            (start, used) = (i, 0);
        }
        used += b;
    }
    if start < bits.len() {
        out.push(start..bits.len());
    }
    out
}

fn chain(start: Fr, packed: &[Fr]) -> Fr {
    packed.chunks(ABSORB_RATE).fold(start, |h, chunk| {
        let mut inputs = Vec::with_capacity(chunk.len() + 1);
        inputs.push(h);
        inputs.extend_from_slice(chunk);
        poseidon::hash(&inputs)
    })
}

/// The hash of `values` at their `bits` widths. Panics on a value that
/// does not fit its width (a caller checks with [`fits`] first).
pub fn hash(values: &[i128], bits: &[usize]) -> Fr {
    assert_eq!(values.len(), bits.len());
    let packed: Vec<Fr> = elements(bits)
        .into_iter()
        .map(|r| {
            let mut off = 0usize;
            r.map(|i| {
                assert!(
                    fits(values[i], bits[i]),
                    "weight {i} does not fit {} bits",
                    bits[i]
                );
                let u = i128_to_field(values[i] + (1i128 << (bits[i] - 1))) * pow2(off);
                off += bits[i];
                u
            })
            .sum()
        })
        .collect();
    chain(
        poseidon::hash(&[tag(), Fr::from(values.len() as u64)]),
        &packed,
    )
}

/// Range-checks `values` to their `bits` widths and returns their hash
/// ([`hash`]). Costs [`cost`] constraints.
pub fn open(cs: &Cs, values: &[Num], bits: &[usize]) -> Result<Num> {
    assert_eq!(values.len(), bits.len());
    let mut packed = Vec::new();
    for r in elements(bits) {
        let mut off = 0usize;
        let mut e = Num::zero();
        for i in r {
            decompose_signed(cs, &values[i], bits[i])?;
            let u = values[i].add_const(pow2(bits[i] - 1));
            e = e.add_scaled(&u, pow2(off));
            off += bits[i];
        }
        packed.push(e);
    }
    let start = Num::constant(poseidon::hash(&[tag(), Fr::from(values.len() as u64)]));
    let mut h = start;
    for chunk in packed.chunks(ABSORB_RATE) {
        let mut inputs = Vec::with_capacity(chunk.len() + 1);
        inputs.push(h);
        inputs.extend_from_slice(chunk);
        h = poseidon::gadget::hash(cs, &inputs)?;
    }
    Ok(h)
}

/// Constraints [`open`] costs for values of these widths.
pub fn cost(bits: &[usize]) -> usize {
    let packed = elements(bits).len();
    let calls: usize = (0..packed)
        .step_by(ABSORB_RATE)
        .map(|s| poseidon::gadget::cost(1 + ABSORB_RATE.min(packed - s)))
        .sum();
    bits.iter().sum::<usize>() + calls
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_sound_sampled, cs, satisfied};

    fn build(cs: &Cs, values: &[i128], bits: &[usize]) -> Num {
        let v: Vec<Num> = values
            .iter()
            .map(|x| Num::witness(cs, Some(i128_to_field(*x))).unwrap())
            .collect();
        open(cs, &v, bits).unwrap()
    }

    /// Forty values of mixed widths: two packed elements, the first full.
    fn sample() -> (Vec<i128>, Vec<usize>) {
        let bits: Vec<usize> = (0..40).map(|i| [3usize, 9, 12, 1][i % 4]).collect();
        let values = bits
            .iter()
            .enumerate()
            .map(|(i, b)| {
                // Both ends of the range, zero, and values between.
                let half = 1i128 << (b - 1);
                match i % 5 {
                    0 => -half,
                    1 => half - 1,
                    2 => 0,
                    _ => (i as i128 * 37) % (2 * half) - half,
                }
            })
            .collect();
        (values, bits)
    }

    #[test]
    fn agrees_with_native_pins_its_cost_and_is_sound() {
        let (values, bits) = sample();
        assert_eq!(elements(&bits).len(), 2);
        let want = hash(&values, &bits);
        let (constraints, out) =
            assert_sound_sampled(values.len(), 120, |cs| vec![build(cs, &values, &bits)]);
        assert_eq!(out, vec![want]);
        assert_eq!(constraints, cost(&bits));
    }

    #[test]
    fn a_value_outside_its_width_is_refused() {
        for (v, b) in [(4i128, 3usize), (-5, 3), (1, 1), (-2, 1)] {
            let cs = cs();
            build(&cs, &[v, 0], &[b, 4]);
            assert!(!satisfied(&cs), "{v} in {b} bits");
        }
        // The ends of the range are accepted.
        for (v, b) in [(3i128, 3usize), (-4, 3), (0, 1), (-1, 1)] {
            let cs = cs();
            build(&cs, &[v, 0], &[b, 4]);
            assert!(satisfied(&cs), "{v} in {b} bits");
        }
    }

    #[test]
    fn the_hash_binds_every_value_its_order_and_the_widths() {
        let (values, bits) = sample();
        let h = hash(&values, &bits);
        for i in [0usize, 17, 39] {
            let mut v = values.clone();
            v[i] = if v[i] == 0 { -1 } else { 0 };
            assert_ne!(hash(&v, &bits), h, "value {i}");
        }
        let mut v = values.clone();
        assert_eq!(bits[1], bits[5]);
        assert_ne!(values[1], values[5]);
        v.swap(1, 5); // same widths, different values
        assert_ne!(hash(&v, &bits), h);
        // A prefix is another hash (the count is absorbed first).
        assert_ne!(hash(&values[..39], &bits[..39]), h);
        // The same offset bits read at other widths are another hash.
        // (2 + 2 * 4 packs as 1 + 9 * 2 does.)
        assert_ne!(hash(&[0, 0], &[2, 2]), hash(&[0, 5], &[1, 4]));
    }

    #[test]
    fn a_witness_hashing_to_another_value_is_refused() {
        // The gadget's output forced to the honest hash of other weights.
        let (values, bits) = sample();
        let mut other = values.clone();
        other[3] = if other[3] == 0 { -1 } else { 0 };
        let cs = cs();
        let h = build(&cs, &values, &bits);
        crate::compare::assert_equal(&cs, &h, &Num::constant(hash(&other, &bits))).unwrap();
        assert!(!satisfied(&cs));
    }
}
