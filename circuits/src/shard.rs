//! Shards: one dataset commitment opened in pieces of rows.
//!
//! A shard proof covers rows `[offset, offset + rows)` of a dataset of
//! `shape.rows` rows committed by [`commitment::commit`]. Next to the
//! commitment `C_D` and the offset, it publishes two *links*: the chain value
//! `h` at each end of the shard, blinded as `Poseidon(h, blind)` with a
//! private `blind` (the owner derives it from the salt and the offset, see
//! [`blinding`]). An unblinded `h` would let anyone test guesses about the
//! rows after the cut against `C_D`; the blinded link reveals nothing.
//!
//! The gadget enforces, with `first = [offset == 0]` and
//! `last = [offset + rows == N]`:
//! - `h = first ? start(salt) : h_in`, and `link_in = first ? 0 : Poseidon(h_in, blind_in)`;
//! - `h_out = absorb(h, rows)` (range checks and packing as in the commitment);
//! - `link_out = last ? 0 : Poseidon(h_out, blind_out)`, and `last => h_out == C_D`.
//!
//! The offset matters to the circuit only through `first` and `last`.
//! A verifier that checks that the shards' offsets tile `0..N` and that each
//! shard's `link_out` is the next shard's `link_in` knows that the shards
//! together open `C_D`: following the links from the start (first shard) to
//! `C_D` (last shard), every Poseidon call of the commitment is proved, so by
//! collision resistance the rows are the committed ones, in order. Cuts must
//! fall where the packed rows fill whole calls ([`Shape::cut_rows`]).
//!
//! When one shard covers the whole dataset the gadget is the commitment
//! opening alone, with the offset and both links constrained to zero.

use crate::commitment::{self, Shape};
use crate::num::enforce;
use crate::poseidon::{self, gadget};
use crate::{compare, Cs, Fr, Num, Result};
use ark_ff::{AdditiveGroup, PrimeField};

/// The shard's public values.
pub struct Public<'a> {
    /// The dataset commitment.
    pub commitment: &'a Num,
    /// The shard's first row.
    pub offset: &'a Num,
    /// The blinded chain value before the shard (0 for the first shard).
    pub link_in: &'a Num,
    /// The blinded chain value after the shard (0 for the last shard).
    pub link_out: &'a Num,
}

/// The shard's private values.
pub struct Private<'a> {
    /// The dataset's salt (read by the first shard only).
    pub salt: &'a Num,
    /// The chain value before the shard (ignored by the first shard).
    pub h_in: &'a Num,
    /// Blinding of `link_in`.
    pub blind_in: &'a Num,
    /// Blinding of `link_out`.
    pub blind_out: &'a Num,
}

/// Domain separator of [`blinding`]: `zkgate.link.v1` as an integer.
fn link_tag() -> Fr {
    Fr::from_be_bytes_mod_order(b"zkgate.link.v1")
}

/// A link: the chain value `h` blinded.
pub fn link(h: Fr, blind: Fr) -> Fr {
    poseidon::hash(&[h, blind])
}

/// The blinding the owner uses for the cut before row `offset`: derived from
/// the dataset's salt, so no per-shard secret has to be stored.
pub fn blinding(salt: Fr, offset: u64) -> Fr {
    poseidon::hash(&[link_tag(), salt, Fr::from(offset)])
}

/// The chain at one cut, natively.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    /// Rows absorbed before the cut.
    pub offset: u64,
    /// The chain value there (`start` at 0, `C_D` at the end).
    pub h: Fr,
    /// Its blinding (0 at both ends).
    pub blind: Fr,
    /// The public link (0 at both ends).
    pub link: Fr,
}

/// The cuts of a dataset proved in shards of `shard_rows` rows (the last
/// shard takes the remainder): one per shard boundary, both ends included.
/// `shard_rows` must be a multiple of [`Shape::cut_rows`] unless it covers
/// the whole dataset.
pub fn cuts<'a>(
    shape: Shape,
    salt: Fr,
    rows: impl IntoIterator<Item = &'a [i64]>,
    shard_rows: u64,
) -> Vec<Cut> {
    assert!(shard_rows > 0, "empty shards");
    assert!(
        shard_rows >= shape.rows || shard_rows.is_multiple_of(shape.cut_rows()),
        "shards of {shard_rows} rows do not end on whole Poseidon calls"
    );
    let mut rows = rows.into_iter();
    let mut h = commitment::start(shape, salt);
    let mut out = vec![Cut {
        offset: 0,
        h,
        blind: Fr::ZERO,
        link: Fr::ZERO,
    }];
    let mut offset = 0;
    while offset < shape.rows {
        let take = shard_rows.min(shape.rows - offset);
        h = commitment::absorb(h, shape.value_bits, rows.by_ref().take(take as usize));
        offset += take;
        let end = offset == shape.rows;
        let blind = if end {
            Fr::ZERO
        } else {
            blinding(salt, offset)
        };
        out.push(Cut {
            offset,
            h,
            blind,
            link: if end { Fr::ZERO } else { link(h, blind) },
        });
    }
    assert!(rows.next().is_none(), "more rows than the shape says");
    out
}

/// Opens the commitment over one shard's `rows` (see the module docs).
pub fn open(
    cs: &Cs,
    shape: Shape,
    public: &Public<'_>,
    private: &Private<'_>,
    rows: &[Vec<Num>],
) -> Result<()> {
    let n = rows.len() as u64;
    assert!(n > 0 && n <= shape.rows, "shard of {n} rows");
    let zero = Num::zero();
    if n == shape.rows {
        compare::assert_equal(cs, public.offset, &zero)?;
        compare::assert_equal(cs, public.link_in, &zero)?;
        compare::assert_equal(cs, public.link_out, &zero)?;
        let c = commitment::commit_gadget(cs, shape, private.salt, rows)?;
        return compare::assert_equal(cs, &c, public.commitment);
    }
    let first = compare::is_equal(cs, public.offset, &zero)?;
    let last = compare::is_equal(
        cs,
        &public.offset.add_const(Fr::from(n)),
        &Num::constant(Fr::from(shape.rows)),
    )?;

    let start = commitment::start_gadget(cs, shape, private.salt)?;
    let pick = Num::mul(cs, &first, &start.sub(private.h_in))?;
    let h = private.h_in.add(&pick);
    let l_in = gadget::hash(cs, &[private.h_in.clone(), private.blind_in.clone()])?;
    // link_in = (1 - first) * l_in
    enforce(cs, &first, &l_in, &l_in.sub(public.link_in))?;

    let h_out = commitment::absorb_gadget(cs, shape, &h, rows)?;
    let l_out = gadget::hash(cs, &[h_out.clone(), private.blind_out.clone()])?;
    // link_out = (1 - last) * l_out, and last => h_out == C_D
    enforce(cs, &last, &l_out, &l_out.sub(public.link_out))?;
    enforce(cs, &last, &h_out.sub(public.commitment), &zero)
}

/// Constraints [`open`] costs for a shard of `rows` rows.
pub fn cost(shape: Shape, rows: u64) -> usize {
    if rows == shape.rows {
        shape.cost() + 4
    } else {
        commitment::START_COST + shape.absorb_cost(rows) + 2 * gadget::cost(2) + 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_sound_sampled, cs, satisfied};
    use ark_ff::Field;

    const SHAPE: Shape = Shape {
        rows: 25,
        columns: 3,
        value_bits: 8,
    };

    fn table() -> Vec<Vec<i64>> {
        (0..SHAPE.rows as usize)
            .map(|r| {
                (0..3)
                    .map(|c| ((r * 31 + c * 7) % 250) as i64 - 125)
                    .collect()
            })
            .collect()
    }

    fn salt() -> Fr {
        Fr::from(424242u64)
    }

    /// Builds shard `i` of shards of `size` rows with `public` and `private`
    /// values allocated as witnesses, so that tampering reaches them too.
    /// Returns the public values the shard constrains: `C_D` only when it
    /// is the last (the links carry it to the others), the offset only when
    /// it is the first or the last (elsewhere the offset is a label that the
    /// verifier fixes when it checks that the shards tile the rows).
    fn build(cs: &Cs, size: u64, i: usize, fix: impl Fn(&mut [Fr; 4])) -> Vec<Num> {
        let t = table();
        let cuts = cuts(SHAPE, salt(), t.iter().map(Vec::as_slice), size);
        let (a, b) = (cuts[i], cuts[i + 1]);
        let c_d = cuts.last().unwrap().h;
        let mut public = [c_d, Fr::from(a.offset), a.link, b.link];
        fix(&mut public);
        let w = |x: Fr| Num::witness(cs, Some(x)).unwrap();
        let p: Vec<Num> = public.iter().map(|x| w(*x)).collect();
        let (s, h_in, blind_in, blind_out) = (w(salt()), w(a.h), w(a.blind), w(b.blind));
        let rows: Vec<Vec<Num>> = t[a.offset as usize..b.offset as usize]
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| w(crate::i128_to_field(i128::from(*v))))
                    .collect()
            })
            .collect();
        open(
            cs,
            SHAPE,
            &Public {
                commitment: &p[0],
                offset: &p[1],
                link_in: &p[2],
                link_out: &p[3],
            },
            &Private {
                salt: &s,
                h_in: &h_in,
                blind_in: &blind_in,
                blind_out: &blind_out,
            },
            &rows,
        )
        .unwrap();
        let (first, last) = (a.offset == 0, b.offset == SHAPE.rows);
        let keep = [last, first || last, true, true];
        p.into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(p, _)| p)
            .collect()
    }

    #[test]
    fn cuts_follow_the_commitment() {
        let t = table();
        let rows = || t.iter().map(Vec::as_slice);
        let c_d = commitment::commit(SHAPE, salt(), rows());
        let cuts = cuts(SHAPE, salt(), rows(), 11);
        let offsets: Vec<u64> = cuts.iter().map(|c| c.offset).collect();
        assert_eq!(offsets, [0, 11, 22, 25]);
        assert_eq!(cuts[0].h, commitment::start(SHAPE, salt()));
        assert_eq!(cuts[3].h, c_d);
        assert_eq!((cuts[0].link, cuts[3].link), (Fr::ZERO, Fr::ZERO));
        assert_eq!(cuts[1].link, link(cuts[1].h, blinding(salt(), 11)));
        assert_ne!(cuts[1].link, cuts[1].h, "links are blinded");
        assert_eq!(super::cuts(SHAPE, salt(), rows(), 25).len(), 2);
    }

    #[test]
    #[should_panic(expected = "whole Poseidon calls")]
    fn cuts_inside_a_call_are_refused() {
        let t = table();
        cuts(SHAPE, salt(), t.iter().map(Vec::as_slice), 10);
    }

    #[test]
    fn every_shard_is_sound() {
        // First, middle and last (remainder) shard; every witness tampered,
        // the public values included.
        for (i, rows) in [(0, 11), (1, 11), (2, 3)] {
            let (count, _) = assert_sound_sampled(0, 60, |cs| build(cs, 11, i, |_| ()));
            assert_eq!(count, cost(SHAPE, rows), "shard {i}");
        }
        let (count, _) = assert_sound_sampled(0, 60, |cs| build(cs, 25, 0, |_| ()));
        assert_eq!(count, cost(SHAPE, 25));
    }

    #[test]
    fn shards_cannot_claim_another_place() {
        let unsatisfied = |size, i, fix: &dyn Fn(&mut [Fr; 4])| {
            let cs = cs();
            build(&cs, size, i, fix);
            !satisfied(&cs)
        };
        // A middle shard posing as the first (its chain does not start at
        // the salt) or as the last (it does not end at C_D).
        assert!(unsatisfied(11, 1, &|p| p[1] = Fr::ZERO));
        assert!(unsatisfied(11, 1, &|p| p[1] = Fr::from(14u64)));
        // The first shard posing as a middle one needs the link of a start
        // value nobody else can produce; a link of 0 is not accepted there.
        assert!(unsatisfied(11, 0, &|p| p[1] = Fr::from(11u64)));
        assert!(unsatisfied(11, 1, &|p| p[2] = Fr::ZERO));
        assert!(unsatisfied(11, 1, &|p| p[3] = Fr::ZERO));
        assert!(unsatisfied(11, 2, &|p| p[0] += Fr::ONE));
        // A whole-dataset shard has offset and links 0.
        assert!(unsatisfied(25, 0, &|p| p[1] = Fr::ONE));
        assert!(unsatisfied(25, 0, &|p| p[3] = Fr::ONE));
        assert!(!unsatisfied(11, 1, &|_| ()));
    }
}
