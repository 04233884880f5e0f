//! Shards: one dataset commitment opened in pieces of rows, with the job's
//! running totals carried between them out of sight.
//!
//! A shard proof covers rows `[offset, offset + rows)` of a dataset of
//! `shape.rows` rows committed by [`commitment::commit`]. Next to the
//! commitment `C_D` and the offset, it publishes two *links*, one at each
//! end: `L = Poseidon(h, b, acc...)` over the commitment chain value `h`
//! there, the job's running totals `acc` over the rows before the cut, and
//! the blinding `b = Poseidon(TAG, salt, nonce, offset)` of that cut,
//! computed in the circuit from the dataset's secret salt and the job's
//! nonce (a public input). A link reveals neither the
//! chain (which would let anyone test guesses about the rows after the cut
//! against `C_D`) nor the partial totals (a shard's share of a sum is an
//! aggregate over a few rows, one row in a one-row shard): only the last
//! shard publishes values, the totals over every row. Because the nonce
//! enters the blinding, two jobs' links at the same cut are unrelated even
//! when their totals there are equal: a link cannot be compared across
//! jobs (the nonce is used by one job per dataset).
//!
//! The gadget enforces, with `first = [offset == 0]` and
//! `last = [offset + rows == N]`:
//! - `h = first ? start(salt) : h_in`, `first => acc_in == 0`, and
//!   `link_in = first ? 0 : L(h_in, salt, nonce, offset, acc_in)`;
//! - `h_out = absorb(h, rows)` (range checks and packing as in the
//!   commitment), `acc_out = acc_in + sums` (the shard's own totals);
//! - `link_out = last ? 0 : L(h_out, salt, nonce, offset + rows, acc_out)`, and
//!   `last => h_out == C_D`.
//!
//! It hands `last` and `acc_out` back: the caller publishes
//! `last * f(acc_out)`, so a shard other than the last publishes zeros.
//!
//! The offset matters to the circuit only through `first`, `last` and the
//! blindings. A verifier that checks that the shards' offsets tile `0..N`
//! and that each shard's `link_out` is the next shard's `link_in` knows
//! that the shards together open `C_D` and that the last shard's totals are
//! over all of its rows: following the links from the start (first shard)
//! to `C_D` (last shard), every Poseidon call of the commitment is proved,
//! and equal links mean equal chain values, totals and blindings (so one
//! salt throughout, the one `C_D` binds) by collision resistance. Cuts must
//! fall where the packed rows fill whole calls ([`Shape::cut_rows`]).
//!
//! When one shard covers the whole dataset the gadget is the commitment
//! opening alone, with the offset and both links constrained to zero.

use crate::commitment::{self, Shape};
use crate::num::enforce;
use crate::poseidon::{self, gadget, MAX_INPUTS};
use crate::{compare, Cs, Fr, Num, Result};
use ark_ff::{AdditiveGroup, PrimeField};

/// The shard's public values.
pub struct Public<'a> {
    /// The dataset commitment.
    pub commitment: &'a Num,
    /// The shard's first row.
    pub offset: &'a Num,
    /// The link before the shard (0 for the first).
    pub link_in: &'a Num,
    /// The link after the shard (0 for the last).
    pub link_out: &'a Num,
    /// The job's nonce: it blinds the links, so no two jobs' links can be
    /// compared.
    pub nonce: &'a Num,
}

/// The shard's private values.
pub struct Private<'a> {
    /// The dataset's salt.
    pub salt: &'a Num,
    /// The chain value before the shard (ignored by the first shard).
    pub h_in: &'a Num,
    /// The job's totals over the rows before the shard (zero for the first).
    pub acc_in: &'a [Num],
}

/// What the shard hands back to the job circuit.
pub struct End {
    /// `[offset + rows == N]`: 1 for the shard that publishes the totals.
    pub last: Num,
    /// The job's totals over every row up to the end of the shard.
    pub acc_out: Vec<Num>,
}

impl End {
    /// Publishes `value` (a function of the totals `acc_out`) as `claimed`
    /// from the last shard, and zero from every other: `last * value ==
    /// claimed`, 1 constraint.
    pub fn publish(&self, cs: &Cs, value: &Num, claimed: &Num) -> Result<()> {
        enforce(cs, &self.last, value, claimed)
    }
}

/// Domain separator of [`blinding`]: `zkgate.link.v3` as an integer.
fn link_tag() -> Fr {
    Fr::from_be_bytes_mod_order(b"zkgate.link.v3")
}

/// Poseidon over any number of inputs: the first [`MAX_INPUTS`] in one
/// call, then each further `MAX_INPUTS - 1` with the running hash.
fn hash_chain(inputs: &[Fr]) -> Fr {
    let (head, tail) = inputs.split_at(inputs.len().min(MAX_INPUTS));
    tail.chunks(MAX_INPUTS - 1)
        .fold(poseidon::hash(head), |h, c| {
            let mut v = vec![h];
            v.extend_from_slice(c);
            poseidon::hash(&v)
        })
}

fn hash_chain_gadget(cs: &Cs, inputs: &[Num]) -> Result<Num> {
    let (head, tail) = inputs.split_at(inputs.len().min(MAX_INPUTS));
    let mut h = gadget::hash(cs, head)?;
    for c in tail.chunks(MAX_INPUTS - 1) {
        let mut v = vec![h];
        v.extend_from_slice(c);
        h = gadget::hash(cs, &v)?;
    }
    Ok(h)
}

fn hash_chain_cost(inputs: usize) -> usize {
    let head = inputs.min(MAX_INPUTS);
    let rest = inputs - head;
    let full = rest / (MAX_INPUTS - 1);
    let part = rest % (MAX_INPUTS - 1);
    gadget::cost(head)
        + full * gadget::cost(MAX_INPUTS)
        + if part > 0 { gadget::cost(part + 1) } else { 0 }
}

/// The blinding of the cut before row `offset` in the job with `nonce`:
/// derived from the dataset's salt, so no per-shard secret has to be
/// stored, and from the job's nonce, so it is another blinding in every
/// job; computed in the circuit, so every shard is bound to the salt `C_D`
/// commits to and to the job's nonce.
pub fn blinding(salt: Fr, nonce: Fr, offset: u64) -> Fr {
    poseidon::hash(&[link_tag(), salt, nonce, Fr::from(offset)])
}

/// The link at a cut inside the dataset: the chain value `h` there and the
/// job's totals `acc` over the rows before it, blinded.
pub fn link(h: Fr, salt: Fr, nonce: Fr, offset: u64, acc: &[Fr]) -> Fr {
    let mut v = vec![h, blinding(salt, nonce, offset)];
    v.extend_from_slice(acc);
    hash_chain(&v)
}

fn link_gadget(
    cs: &Cs,
    h: &Num,
    salt: &Num,
    nonce: &Num,
    offset: &Num,
    acc: &[Num],
) -> Result<Num> {
    let tag = Num::constant(link_tag());
    let blind = gadget::hash(cs, &[tag, salt.clone(), nonce.clone(), offset.clone()])?;
    let mut v = vec![h.clone(), blind];
    v.extend_from_slice(acc);
    hash_chain_gadget(cs, &v)
}

fn link_cost(values: usize) -> usize {
    gadget::cost(4) + hash_chain_cost(2 + values)
}

/// The commitment chain at one cut, natively.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    /// Rows absorbed before the cut.
    pub offset: u64,
    /// The chain value there (`start` at 0, `C_D` at the end).
    pub h: Fr,
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
    let mut out = vec![Cut { offset: 0, h }];
    let mut offset = 0;
    while offset < shape.rows {
        let take = shard_rows.min(shape.rows - offset);
        h = commitment::absorb(h, shape.value_bits, rows.by_ref().take(take as usize));
        offset += take;
        out.push(Cut { offset, h });
    }
    assert!(rows.next().is_none(), "more rows than the shape says");
    out
}

/// The public links at `cuts` of the job with `nonce`, given the job's
/// totals before each cut (`acc[i]` over the rows before `cuts[i]`): 0 at
/// both ends.
pub fn links(shape: Shape, salt: Fr, nonce: Fr, cuts: &[Cut], acc: &[Vec<Fr>]) -> Vec<Fr> {
    assert_eq!(cuts.len(), acc.len(), "one set of totals per cut");
    cuts.iter()
        .zip(acc)
        .map(|(c, a)| {
            if c.offset == 0 || c.offset == shape.rows {
                Fr::ZERO
            } else {
                link(c.h, salt, nonce, c.offset, a)
            }
        })
        .collect()
}

/// Opens the commitment over one shard's `rows`, carrying the job's totals
/// from `private.acc_in` by the shard's own `sums` (see the module docs).
pub fn open(
    cs: &Cs,
    shape: Shape,
    public: &Public<'_>,
    private: &Private<'_>,
    rows: &[Vec<Num>],
    sums: &[Num],
) -> Result<End> {
    let n = rows.len() as u64;
    assert!(n > 0 && n <= shape.rows, "shard of {n} rows");
    assert_eq!(
        private.acc_in.len(),
        sums.len(),
        "one running total per value"
    );
    let zero = Num::zero();
    if n == shape.rows {
        compare::assert_equal(cs, public.offset, &zero)?;
        compare::assert_equal(cs, public.link_in, &zero)?;
        compare::assert_equal(cs, public.link_out, &zero)?;
        let c = commitment::commit_gadget(cs, shape, private.salt, rows)?;
        compare::assert_equal(cs, &c, public.commitment)?;
        return Ok(End {
            last: Num::constant(Fr::from(1u64)),
            acc_out: sums.to_vec(),
        });
    }
    let first = compare::is_equal(cs, public.offset, &zero)?;
    let end = public.offset.add_const(Fr::from(n));
    let last = compare::is_equal(cs, &end, &Num::constant(Fr::from(shape.rows)))?;

    let start = commitment::start_gadget(cs, shape, private.salt)?;
    let pick = Num::mul(cs, &first, &start.sub(private.h_in))?;
    let h = private.h_in.add(&pick);
    for a in private.acc_in {
        enforce(cs, &first, a, &zero)?;
    }
    let l_in = link_gadget(
        cs,
        private.h_in,
        private.salt,
        public.nonce,
        public.offset,
        private.acc_in,
    )?;
    // link_in = (1 - first) * l_in
    enforce(cs, &first, &l_in, &l_in.sub(public.link_in))?;

    let h_out = commitment::absorb_gadget(cs, shape, &h, rows)?;
    let acc_out: Vec<Num> = private
        .acc_in
        .iter()
        .zip(sums)
        .map(|(a, s)| a.add(s))
        .collect();
    let l_out = link_gadget(cs, &h_out, private.salt, public.nonce, &end, &acc_out)?;
    // link_out = (1 - last) * l_out, and last => h_out == C_D
    enforce(cs, &last, &l_out, &l_out.sub(public.link_out))?;
    enforce(cs, &last, &h_out.sub(public.commitment), &zero)?;
    Ok(End { last, acc_out })
}

/// Constraints [`open`] costs for a shard of `rows` rows carrying `values`
/// running totals.
pub fn cost(shape: Shape, rows: u64, values: usize) -> usize {
    if rows == shape.rows {
        shape.cost() + 4
    } else {
        commitment::START_COST + shape.absorb_cost(rows) + 2 * link_cost(values) + values + 8
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

    fn nonce() -> Fr {
        Fr::from(777u64)
    }

    /// The running total (of column 0) before each cut.
    fn totals(cuts: &[Cut]) -> Vec<Vec<Fr>> {
        let t = table();
        cuts.iter()
            .map(|c| {
                let s: i64 = t[..c.offset as usize].iter().map(|r| r[0]).sum();
                vec![crate::i128_to_field(i128::from(s))]
            })
            .collect()
    }

    /// Builds shard `i` of shards of `size` rows, carrying the total of
    /// column 0, with `public` values (`[C_D, offset, link_in, link_out,
    /// nonce, acc_in, salt]`, the last two private) allocated as witnesses
    /// after `fix`,
    /// so that tampering reaches them too. Returns the public values the
    /// shard constrains (`C_D` only when it is the last, since the links
    /// carry it to the others; the offset only when it is the first or the
    /// last, elsewhere it is a label the verifier fixes when it checks the
    /// tiling) and the value it publishes, `last * acc_out`.
    fn build(cs: &Cs, size: u64, i: usize, fix: impl Fn(&mut [Fr; 7])) -> Vec<Num> {
        let t = table();
        let cuts = cuts(SHAPE, salt(), t.iter().map(Vec::as_slice), size);
        let acc = totals(&cuts);
        let links = links(SHAPE, salt(), nonce(), &cuts, &acc);
        let (a, b) = (cuts[i], cuts[i + 1]);
        let c_d = cuts.last().unwrap().h;
        let mut public = [
            c_d,
            Fr::from(a.offset),
            links[i],
            links[i + 1],
            nonce(),
            acc[i][0],
            salt(),
        ];
        fix(&mut public);
        let w = |x: Fr| Num::witness(cs, Some(x)).unwrap();
        let p: Vec<Num> = public.iter().map(|x| w(*x)).collect();
        let (s, h_in) = (p[6].clone(), w(a.h));
        let rows: Vec<Vec<Num>> = t[a.offset as usize..b.offset as usize]
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| w(crate::i128_to_field(i128::from(*v))))
                    .collect()
            })
            .collect();
        let sum = crate::aggregate::sum(&rows.iter().map(|r| r[0].clone()).collect::<Vec<_>>());
        let end = open(
            cs,
            SHAPE,
            &Public {
                commitment: &p[0],
                offset: &p[1],
                link_in: &p[2],
                link_out: &p[3],
                nonce: &p[4],
            },
            &Private {
                salt: &s,
                h_in: &h_in,
                acc_in: std::slice::from_ref(&p[5]),
            },
            &rows,
            &[sum],
        )
        .unwrap();
        let published = Num::mul(cs, &end.last, &end.acc_out[0]).unwrap();
        let (first, last) = (a.offset == 0, b.offset == SHAPE.rows);
        // The nonce blinds the links of a sharded job; a one-shard job has
        // none, and its nonce is bound by Groth16's input check alone.
        let keep = [
            last,
            first || last,
            true,
            true,
            !(first && last),
            false,
            false,
        ];
        p.into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(p, _)| p)
            .chain([published])
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
        let acc = totals(&cuts);
        let l = links(SHAPE, salt(), nonce(), &cuts, &acc);
        assert_eq!((l[0], l[3]), (Fr::ZERO, Fr::ZERO));
        assert_eq!(l[1], link(cuts[1].h, salt(), nonce(), 11, &acc[1]));
        // Another total, another salt or another offset: another link.
        assert_ne!(
            l[1],
            link(cuts[1].h, salt(), nonce(), 11, &[acc[1][0] + Fr::ONE])
        );
        assert_ne!(
            l[1],
            link(cuts[1].h, salt() + Fr::ONE, nonce(), 11, &acc[1])
        );
        assert_ne!(l[1], link(cuts[1].h, salt(), nonce(), 12, &acc[1]));
        assert_eq!(super::cuts(SHAPE, salt(), rows(), 25).len(), 2);
        // More totals than one Poseidon call takes are chained.
        let many: Vec<Fr> = (0..30u64).map(Fr::from).collect();
        let mut other = many.clone();
        other[29] += Fr::ONE;
        assert_ne!(
            link(cuts[1].h, salt(), nonce(), 11, &many),
            link(cuts[1].h, salt(), nonce(), 11, &other)
        );
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
            let (count, out) = assert_sound_sampled(0, 60, |cs| build(cs, 11, i, |_| ()));
            // `build` adds one product for the published value.
            assert_eq!(count, cost(SHAPE, rows, 1) + 1, "shard {i}");
            let total: i64 = table().iter().map(|r| r[0]).sum();
            let want = if i == 2 {
                crate::i128_to_field(i128::from(total))
            } else {
                Fr::ZERO
            };
            assert_eq!(
                *out.last().unwrap(),
                want,
                "only the last shard publishes the total"
            );
        }
        let (count, _) = assert_sound_sampled(0, 60, |cs| build(cs, 25, 0, |_| ()));
        assert_eq!(count, cost(SHAPE, 25, 1) + 1);
    }

    #[test]
    fn shards_cannot_claim_another_place_or_total() {
        let unsatisfied = |size, i, fix: &dyn Fn(&mut [Fr; 7])| {
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
        // A shard cannot start from another running total than the one its
        // link carries, and the first starts from zero.
        assert!(unsatisfied(11, 1, &|p| p[5] += Fr::ONE));
        assert!(unsatisfied(11, 2, &|p| p[5] -= Fr::ONE));
        assert!(unsatisfied(11, 0, &|p| p[5] = Fr::ONE));
        // A shard proved under another job's nonce does not join this
        // job's links.
        assert!(unsatisfied(11, 1, &|p| p[4] += Fr::ONE));
        assert!(unsatisfied(11, 2, &|p| p[4] += Fr::ONE));
        assert!(unsatisfied(11, 0, &|p| p[4] += Fr::ONE));
        // A whole-dataset shard has offset and links 0.
        assert!(unsatisfied(25, 0, &|p| p[1] = Fr::ONE));
        assert!(unsatisfied(25, 0, &|p| p[3] = Fr::ONE));
        assert!(!unsatisfied(11, 1, &|_| ()));
    }

    #[test]
    fn a_shard_with_another_salt_does_not_join() {
        // The links bind the salt: a middle or last shard proved under
        // another salt than the first (whose start `C_D` binds) does not
        // join its neighbours, so the salt is the same in every shard.
        let unsatisfied = |i, fix: &dyn Fn(&mut [Fr; 7])| {
            let cs = cs();
            build(&cs, 11, i, fix);
            !satisfied(&cs)
        };
        assert!(unsatisfied(1, &|p| p[6] += Fr::ONE));
        assert!(unsatisfied(2, &|p| p[6] += Fr::ONE));
        assert!(unsatisfied(0, &|p| p[6] += Fr::ONE));
    }

    /// A researcher's goal: where one row lies, by comparing the links two
    /// receipts publish at the same cuts (equal links, equal running
    /// totals). Links are blinded per job: equal totals give unrelated
    /// links.
    #[test]
    fn red_team_link_comparison_gives_unrelated_links() {
        // Two jobs over the same rows, the same cuts and the same running
        // totals (an exact and a noised release of one count, say): no link
        // of one equals any link of the other, so receipts cannot be
        // compared cut by cut.
        let t = table();
        let cuts = cuts(SHAPE, salt(), t.iter().map(Vec::as_slice), 11);
        let acc = totals(&cuts);
        let one = links(SHAPE, salt(), nonce(), &cuts, &acc);
        let two = links(SHAPE, salt(), nonce() + Fr::ONE, &cuts, &acc);
        for (a, b) in one.iter().zip(&two).skip(1).take(cuts.len() - 2) {
            assert_ne!(a, b);
            assert!(!two.contains(a));
        }
    }
}
