//! Shards: one dataset commitment opened in pieces of rows, with the job's
//! running totals carried between them out of sight.
//!
//! A shard circuit reads a fixed number of rows, its *size*, whatever the
//! dataset's length: the shard proof of rows `[offset, offset + active)`
//! of a dataset of `n` rows committed by [`commitment::commit`] reads
//! `active` real rows and `size - active` padding rows. `n`, the offset
//! and `active` are public inputs, so one circuit (and one key) serves
//! every dataset of its schema at any length: all shards of a job have the
//! same size, every one but the last is full, and the last is padded.
//!
//! Each row has a flag `[row < active]` ([`active_flags`]): booleans,
//! never rising, the first 1, summing to `active`. A padding row's share
//! of the aggregate is multiplied by its flag (the caller does that before
//! handing the shard's `sums` here), and so are its packed elements before
//! the commitment chain absorbs them, so the padding reads as the zeros the
//! native chain pads its last call with. The chain value at the shard's
//! end is the output of the call that holds the last real element, picked
//! by a one-hot sum over the calls: padding can neither add to the
//! aggregate nor hide a real row from it, and the chain is read where the
//! real rows end.
//!
//! Next to `C_D`, `n`, the offset and `active`, a shard publishes two
//! *links*, one at each end: `L = Poseidon(h, b, acc...)` over the chain
//! value `h` there, the job's running totals `acc` over the rows before
//! the cut and the blinding `b = Poseidon(TAG, salt, nonce, offset)` of
//! that cut, computed in the circuit from the dataset's secret salt and
//! the job's nonce (a public input). A link reveals neither the chain
//! (which would let anyone test guesses about the rows after the cut
//! against `C_D`) nor the partial totals (a shard's share of a sum is an
//! aggregate over a few rows, one row in a one-row shard): only the last
//! shard publishes values, the totals over every row. Because the nonce
//! enters the blinding, two jobs' links at the same cut are unrelated even
//! when their totals there are equal.
//!
//! The gadget enforces, with `first = [offset == 0]`,
//! `end = offset + active` and `last = [end == n]`:
//! - `h = first ? start(salt) : h_in`, `first => acc_in == 0`, and
//!   `link_in = first ? 0 : L(h_in, salt, nonce, offset, acc_in)`;
//! - `not last => active == size` (only the last shard is padded);
//! - `h_out` = the chain from `h` over the masked rows, read at the call
//!   holding the last real element; `acc_out = acc_in + sums`;
//! - `link_out = last ? 0 : L(h_out, salt, nonce, end, acc_out)`, and
//!   `last => Poseidon(h_out, n) == C_D`.
//!
//! It hands `last` and `acc_out` back: the caller publishes
//! `last * f(acc_out)`, so a shard other than the last publishes zeros.
//!
//! A verifier that checks that the shards' offsets are `0, size, 2 size,
//! ...` up to `n`, that each `active` is `min(size, n - offset)` and that
//! each `link_out` is the next `link_in` (0 at both ends) knows that the
//! shards together open `C_D` and that the last shard's totals are over
//! every row: following the links from the start (first shard) to `C_D`
//! (last shard), every Poseidon call of the commitment is proved, and
//! equal links mean equal chain values, totals and blindings (so one salt
//! throughout, the one `C_D` binds) by collision resistance. Sizes are
//! multiples of [`Shape::cut_rows`], so cuts fall where the packed rows
//! fill whole calls. A one-shard job is the same circuit with offset 0
//! and both links 0.

use crate::commitment::{self, Shape};
use crate::num::{enforce, enforce_boolean};
use crate::poseidon::{self, gadget, MAX_INPUTS};
use crate::{compare, Cs, Fr, Num, Result};
use ark_ff::{AdditiveGroup, Field, PrimeField};

/// The shard's public values.
pub struct Public<'a> {
    /// The dataset commitment.
    pub commitment: &'a Num,
    /// The dataset's row count.
    pub rows: &'a Num,
    /// The shard's first row.
    pub offset: &'a Num,
    /// The shard's real rows (the rest of its size is padding).
    pub active: &'a Num,
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
    /// `[offset + active == n]`: 1 for the shard that publishes the totals.
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
    /// The chain value there (`start` at 0; at the dataset's end the value
    /// `C_D` is [`commitment::finish`]ed from).
    pub h: Fr,
}

/// The cuts of a dataset proved in shards of `size` rows (the last shard
/// padded): one per shard boundary, both ends included. `size` must be a
/// multiple of [`Shape::cut_rows`] unless one shard holds every row.
pub fn cuts<'a>(
    shape: Shape,
    salt: Fr,
    rows: impl IntoIterator<Item = &'a [i64]>,
    size: u64,
) -> Vec<Cut> {
    assert!(
        size > 0 && (size >= shape.rows || size.is_multiple_of(shape.cut_rows())),
        "shards of {size} rows do not end on whole Poseidon calls"
    );
    let mut rows = rows.into_iter();
    let mut h = commitment::start(shape, salt);
    let mut out = vec![Cut { offset: 0, h }];
    let mut offset = 0;
    while offset < shape.rows {
        let take = size.min(shape.rows - offset);
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

/// The flags `[i < active]` of a shard's `size` rows: the first the
/// constant 1, the others booleans that never rise, summing to `active`
/// (so `1 <= active <= size`). Costs `2 (size - 1) + 1` constraints.
pub fn active_flags(cs: &Cs, active: &Num, size: usize) -> Result<Vec<Num>> {
    assert!(size > 0, "an empty shard");
    let a = active.value().map(|v| v.into_bigint().0[0]);
    let mut flags = vec![Num::constant(Fr::ONE)];
    for i in 1..size {
        let b = Num::witness(
            cs,
            a.map(|a| Fr::from(u64::try_from(i).unwrap_or(u64::MAX) < a)),
        )?;
        enforce_boolean(cs, &b)?;
        // b_i <= b_{i-1}: b_i (1 - b_{i-1}) = 0.
        let gap = Num::constant(Fr::ONE).sub(&flags[i - 1]);
        enforce(cs, &b, &gap, &Num::zero())?;
        flags.push(b);
    }
    let sum = Num::linear_combination(flags.iter().map(|f| (Fr::ONE, f)));
    compare::assert_equal(cs, &sum, active)?;
    Ok(flags)
}

/// Opens the commitment over one shard's `rows` (its size, padding
/// included), whose `flags` came from [`active_flags`] with the public
/// `active`, carrying the job's totals from `private.acc_in` by the
/// shard's own `sums` (already masked by the flags; see the module docs).
pub fn open(
    cs: &Cs,
    shape: Shape,
    public: &Public<'_>,
    private: &Private<'_>,
    rows: &[Vec<Num>],
    flags: &[Num],
    sums: &[Num],
) -> Result<End> {
    let size = rows.len();
    assert!(size > 0, "an empty shard");
    assert_eq!(flags.len(), size, "one flag per row");
    assert_eq!(
        private.acc_in.len(),
        sums.len(),
        "one running total per value"
    );
    let zero = Num::zero();
    let one = Num::constant(Fr::ONE);
    if !only_shard(shape, size as u64) {
        return open_cut(cs, shape, public, private, rows, flags, sums);
    }
    // A size that does not end on a whole call cannot be cut after: the
    // circuit proves one-shard jobs only (offset and links 0, every row of
    // the dataset real), and needs no links.
    compare::assert_equal(cs, public.offset, &zero)?;
    compare::assert_equal(cs, public.link_in, &zero)?;
    compare::assert_equal(cs, public.link_out, &zero)?;
    compare::assert_equal(cs, public.active, public.rows)?;
    let h = commitment::start_gadget(cs, shape, private.salt)?;
    let h_out = read_to_end(cs, shape, &h, rows, flags)?;
    let c = commitment::finish_gadget(cs, &h_out, public.rows)?;
    compare::assert_equal(cs, &c, public.commitment)?;
    Ok(End {
        last: one,
        acc_out: sums.to_vec(),
    })
}

/// Whether a circuit of `size` rows proves one-shard jobs only: its size
/// does not end on a whole Poseidon call, so no shard could follow it.
pub fn only_shard(shape: Shape, size: u64) -> bool {
    !size.is_multiple_of(shape.cut_rows())
}

/// The chain from `h` over the masked rows, read at the call holding the
/// last real element: call `j` is the last iff its first element is real
/// and the next call's is not (one product per call).
fn read_to_end(cs: &Cs, shape: Shape, h: &Num, rows: &[Vec<Num>], flags: &[Num]) -> Result<Num> {
    let size = rows.len();
    let states = commitment::absorb_calls_gadget(cs, shape, h, rows, Some(flags))?;
    let per_row = shape.elements_per_row();
    let opens = |j: usize| -> Num {
        let e = j * commitment::ABSORB_RATE;
        if e >= size * per_row {
            Num::zero()
        } else {
            flags[e / per_row].clone()
        }
    };
    let mut h_out = Num::zero();
    for (j, state) in states.iter().enumerate() {
        let is_end = opens(j).sub(&opens(j + 1));
        h_out = h_out.add(&Num::mul(cs, &is_end, state)?);
    }
    Ok(h_out)
}

/// [`open`] for a size that ends on a whole call: any shard of a job.
fn open_cut(
    cs: &Cs,
    shape: Shape,
    public: &Public<'_>,
    private: &Private<'_>,
    rows: &[Vec<Num>],
    flags: &[Num],
    sums: &[Num],
) -> Result<End> {
    let size = rows.len();
    let zero = Num::zero();
    let one = Num::constant(Fr::ONE);
    let first = compare::is_equal(cs, public.offset, &zero)?;
    let end = public.offset.add(public.active);
    let last = compare::is_equal(cs, &end, public.rows)?;
    // Only the last shard is padded.
    let full = Num::constant(Fr::from(size as u64)).sub(public.active);
    enforce(cs, &one.sub(&last), &full, &zero)?;

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

    let h_out = read_to_end(cs, shape, &h, rows, flags)?;
    let acc_out: Vec<Num> = private
        .acc_in
        .iter()
        .zip(sums)
        .map(|(a, s)| a.add(s))
        .collect();
    let l_out = link_gadget(cs, &h_out, private.salt, public.nonce, &end, &acc_out)?;
    // link_out = (1 - last) * l_out, and last => Poseidon(h_out, n) == C_D
    enforce(cs, &last, &l_out, &l_out.sub(public.link_out))?;
    let c = commitment::finish_gadget(cs, &h_out, public.rows)?;
    enforce(cs, &last, &c.sub(public.commitment), &zero)?;
    Ok(End { last, acc_out })
}

/// Constraints [`active_flags`] and [`open`] cost together for a shard of
/// `size` rows carrying `values` running totals.
pub fn cost(shape: Shape, size: u64, values: usize) -> usize {
    let flags = 2 * (size as usize - 1) + 1;
    let mask = (size as usize - 1) * shape.elements_per_row();
    let chain = commitment::START_COST
        + shape.absorb_cost(size)
        + mask
        + shape.calls(size)
        + commitment::FINISH_COST;
    if only_shard(shape, size) {
        flags + chain + 5
    } else {
        flags + chain + 2 * link_cost(values) + values + 9
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

    /// What padding rows hold: anything in range; the flags zero it.
    const PAD: i64 = 7;

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

    /// Indices into `build`'s values.
    const C_D: usize = 0;
    const OFFSET: usize = 1;
    const LINK_IN: usize = 2;
    const LINK_OUT: usize = 3;
    const NONCE: usize = 4;
    const ACC_IN: usize = 5;
    const SALT: usize = 6;
    const ROWS: usize = 7;
    const ACTIVE: usize = 8;

    /// Builds shard `i` of shards of `size` rows (the last padded with
    /// [`PAD`] rows), carrying the total of column 0 masked by the flags,
    /// with its values (`[C_D, offset, link_in, link_out, nonce, acc_in,
    /// salt, n, active]`, `acc_in` and the salt private) allocated as
    /// witnesses after `fix`, so that tampering reaches them too. Returns
    /// the public values the shard constrains and the value it publishes,
    /// `last * acc_out`: `C_D` and `n` only when it is the last (the links
    /// carry them to the others, where the verifier fixes them), the nonce
    /// only when the job has more than one shard (a one-shard job has no
    /// link, and its nonce is bound by Groth16's input check alone).
    fn build(cs: &Cs, size: u64, i: usize, fix: impl Fn(&mut [Fr; 9])) -> Vec<Num> {
        build_padded(cs, size, i, PAD, fix)
    }

    /// [`build`] with `pad` in every padding row's values.
    fn build_padded(
        cs: &Cs,
        size: u64,
        i: usize,
        pad: i64,
        fix: impl Fn(&mut [Fr; 9]),
    ) -> Vec<Num> {
        let t = table();
        let cuts = cuts(SHAPE, salt(), t.iter().map(Vec::as_slice), size);
        let acc = totals(&cuts);
        let links = links(SHAPE, salt(), nonce(), &cuts, &acc);
        let (a, b) = (cuts[i], cuts[i + 1]);
        let c_d = commitment::finish(cuts.last().unwrap().h, SHAPE.rows);
        let mut public = [
            c_d,
            Fr::from(a.offset),
            links[i],
            links[i + 1],
            nonce(),
            acc[i][0],
            salt(),
            Fr::from(SHAPE.rows),
            Fr::from(b.offset - a.offset),
        ];
        fix(&mut public);
        let w = |x: Fr| Num::witness(cs, Some(x)).unwrap();
        let p: Vec<Num> = public.iter().map(|x| w(*x)).collect();
        let h_in = w(a.h);
        let pad = vec![pad; 3];
        let rows: Vec<Vec<Num>> = (a.offset..a.offset + size)
            .map(|r| {
                t.get(r as usize)
                    .unwrap_or(&pad)
                    .iter()
                    .map(|v| w(crate::i128_to_field(i128::from(*v))))
                    .collect()
            })
            .collect();
        let flags = active_flags(cs, &p[ACTIVE], size as usize).unwrap();
        let masked: Vec<Num> = rows
            .iter()
            .zip(&flags)
            .map(|(r, f)| Num::mul(cs, &r[0], f).unwrap())
            .collect();
        let sum = crate::aggregate::sum(&masked);
        let end = open(
            cs,
            SHAPE,
            &Public {
                commitment: &p[C_D],
                rows: &p[ROWS],
                offset: &p[OFFSET],
                active: &p[ACTIVE],
                link_in: &p[LINK_IN],
                link_out: &p[LINK_OUT],
                nonce: &p[NONCE],
            },
            &Private {
                salt: &p[SALT],
                h_in: &h_in,
                acc_in: std::slice::from_ref(&p[ACC_IN]),
            },
            &rows,
            &flags,
            &[sum],
        )
        .unwrap();
        let published = Num::mul(cs, &end.last, &end.acc_out[0]).unwrap();
        let (first, last) = (a.offset == 0, b.offset == SHAPE.rows);
        let keep = [
            last,
            true,
            true,
            true,
            !(first && last),
            false,
            false,
            last,
            true,
        ];
        p.into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(p, _)| p)
            .chain([published])
            .collect()
    }

    fn unsatisfied(size: u64, i: usize, fix: &dyn Fn(&mut [Fr; 9])) -> bool {
        let cs = cs();
        build(&cs, size, i, fix);
        !satisfied(&cs)
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
        assert_eq!(commitment::finish(cuts[3].h, 25), c_d);
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
        assert_eq!(super::cuts(SHAPE, salt(), rows(), 33).len(), 2);
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
    fn flags_are_a_prefix_of_ones_summing_to_active() {
        for (active, size) in [(1u64, 4usize), (3, 4), (4, 4)] {
            let (count, out) = crate::testing::assert_sound(1, |cs| {
                let a = Num::witness(cs, Some(Fr::from(active))).unwrap();
                active_flags(cs, &a, size).unwrap()
            });
            assert_eq!(count, 2 * (size - 1) + 1);
            let want: Vec<Fr> = (0..size as u64).map(|i| Fr::from(i < active)).collect();
            assert_eq!(out, want);
        }
        // No flags for an active count outside 1..=size.
        for active in [0u64, 5] {
            let cs = cs();
            let a = Num::witness(&cs, Some(Fr::from(active))).unwrap();
            active_flags(&cs, &a, 4).unwrap();
            assert!(!satisfied(&cs), "active {active}");
        }
    }

    #[test]
    fn every_shard_is_sound() {
        // First, middle and last (padded) shard, and one padded shard for
        // the whole dataset; every witness tampered, the public values
        // included.
        let total: i64 = table().iter().map(|r| r[0]).sum();
        for (size, i) in [(11, 0), (11, 1), (11, 2), (33, 0), (27, 0)] {
            let (count, out) = assert_sound_sampled(0, 60, |cs| build(cs, size, i, |_| ()));
            // `build` adds one product per row for the masked value and
            // one for the published value.
            assert_eq!(
                count,
                cost(SHAPE, size, 1) + size as usize + 1,
                "shard {i} of {size}"
            );
            let last = (i + 1) as u64 * size >= SHAPE.rows;
            let want = if last {
                crate::i128_to_field(i128::from(total))
            } else {
                Fr::ZERO
            };
            assert_eq!(
                *out.last().unwrap(),
                want,
                "only the last shard publishes the total, without its padding"
            );
        }
    }

    #[test]
    fn shards_cannot_claim_another_place_or_total() {
        // A middle shard posing as the first (its chain does not start at
        // the salt) or as the last (it does not end at C_D).
        assert!(unsatisfied(11, 1, &|p| p[OFFSET] = Fr::ZERO));
        assert!(unsatisfied(11, 1, &|p| p[OFFSET] = Fr::from(14u64)));
        // The first shard posing as a middle one needs the link of a start
        // value nobody else can produce; a link of 0 is not accepted there.
        assert!(unsatisfied(11, 0, &|p| p[OFFSET] = Fr::from(11u64)));
        assert!(unsatisfied(11, 1, &|p| p[LINK_IN] = Fr::ZERO));
        assert!(unsatisfied(11, 1, &|p| p[LINK_OUT] = Fr::ZERO));
        assert!(unsatisfied(11, 2, &|p| p[C_D] += Fr::ONE));
        // A shard cannot start from another running total than the one its
        // link carries, and the first starts from zero.
        assert!(unsatisfied(11, 1, &|p| p[ACC_IN] += Fr::ONE));
        assert!(unsatisfied(11, 2, &|p| p[ACC_IN] -= Fr::ONE));
        assert!(unsatisfied(11, 0, &|p| p[ACC_IN] = Fr::ONE));
        // A shard proved under another job's nonce does not join this
        // job's links.
        assert!(unsatisfied(11, 1, &|p| p[NONCE] += Fr::ONE));
        assert!(unsatisfied(11, 2, &|p| p[NONCE] += Fr::ONE));
        assert!(unsatisfied(11, 0, &|p| p[NONCE] += Fr::ONE));
        // A whole-dataset shard has offset and links 0.
        assert!(unsatisfied(33, 0, &|p| p[OFFSET] = Fr::ONE));
        assert!(unsatisfied(33, 0, &|p| p[LINK_OUT] = Fr::ONE));
        assert!(!unsatisfied(11, 1, &|_| ()));
        assert!(!unsatisfied(33, 0, &|_| ()));
    }

    #[test]
    fn padding_neither_counts_nor_hides_rows() {
        // Padded rows counted: the last shard claiming a padding row as
        // real (one more active row, one more dataset row) does not open
        // C_D; nor does the whole-dataset shard.
        let more = |p: &mut [Fr; 9]| {
            p[ACTIVE] += Fr::ONE;
            p[ROWS] += Fr::ONE;
        };
        assert!(unsatisfied(11, 2, &more));
        assert!(unsatisfied(33, 0, &more));
        // Real rows dropped: one fewer active row, with or without one
        // fewer dataset row.
        let fewer = |p: &mut [Fr; 9]| {
            p[ACTIVE] -= Fr::ONE;
            p[ROWS] -= Fr::ONE;
        };
        assert!(unsatisfied(11, 2, &fewer));
        assert!(unsatisfied(33, 0, &fewer));
        assert!(unsatisfied(11, 2, &|p| p[ACTIVE] -= Fr::ONE));
        assert!(unsatisfied(33, 0, &|p| p[ACTIVE] -= Fr::ONE));
        // The active count changed alone, on any shard: a shard other than
        // the last is full, and the last ends at n.
        for i in 0..3 {
            assert!(unsatisfied(11, i, &|p| p[ACTIVE] += Fr::ONE), "shard {i}");
            assert!(unsatisfied(11, i, &|p| p[ACTIVE] -= Fr::ONE), "shard {i}");
        }
        // The row count changed alone.
        assert!(unsatisfied(11, 2, &|p| p[ROWS] += Fr::ONE));
        assert!(unsatisfied(33, 0, &|p| p[ROWS] -= Fr::ONE));
    }

    #[test]
    fn a_size_off_the_calls_proves_one_shard_jobs_only() {
        // 27 rows end inside a call: the circuit has no links, and only a
        // shard holding the whole dataset satisfies it.
        assert!(only_shard(SHAPE, 27) && !only_shard(SHAPE, 33));
        assert!(cost(SHAPE, 27, 1) + 2 * link_cost(1) < cost(SHAPE, 33, 1));
        assert!(!unsatisfied(27, 0, &|_| ()));
        assert!(unsatisfied(27, 0, &|p| p[OFFSET] = Fr::from(11u64)));
        assert!(unsatisfied(27, 0, &|p| p[LINK_IN] = Fr::ONE));
        assert!(unsatisfied(27, 0, &|p| p[LINK_OUT] = Fr::ONE));
        assert!(unsatisfied(27, 0, &|p| p[ACTIVE] -= Fr::ONE));
        assert!(unsatisfied(27, 0, &|p| p[C_D] += Fr::ONE));
        // Padding counted, rows dropped.
        assert!(unsatisfied(27, 0, &|p| {
            p[ACTIVE] += Fr::ONE;
            p[ROWS] += Fr::ONE;
        }));
        assert!(unsatisfied(27, 0, &|p| {
            p[ACTIVE] -= Fr::ONE;
            p[ROWS] -= Fr::ONE;
        }));
        assert!(unsatisfied(27, 0, &|p| p[SALT] += Fr::ONE));
    }

    #[test]
    fn the_padding_values_do_not_matter() {
        // The same shards with other padding values open the same C_D and
        // publish the same total: the flags zero both the padding's share
        // and its elements.
        for (size, i) in [(11, 2), (33, 0), (27, 0)] {
            let values = |pad: i64| {
                let cs = cs();
                let out: Vec<Fr> = build_padded(&cs, size, i, pad, |_| ())
                    .iter()
                    .map(|n| n.value().unwrap())
                    .collect();
                assert!(satisfied(&cs), "padding {pad}");
                out
            };
            assert_eq!(values(PAD), values(-128));
            assert_eq!(values(PAD), values(127));
        }
    }

    #[test]
    fn a_shard_with_another_salt_does_not_join() {
        // The links bind the salt: a middle or last shard proved under
        // another salt than the first (whose start `C_D` binds) does not
        // join its neighbours, so the salt is the same in every shard.
        assert!(unsatisfied(11, 1, &|p| p[SALT] += Fr::ONE));
        assert!(unsatisfied(11, 2, &|p| p[SALT] += Fr::ONE));
        assert!(unsatisfied(11, 0, &|p| p[SALT] += Fr::ONE));
        assert!(unsatisfied(33, 0, &|p| p[SALT] += Fr::ONE));
    }

    /// A researcher's goal: where one row lies, by comparing the links two
    /// receipts publish at the same cuts (equal links, equal running
    /// totals). Links are blinded per job: equal totals give unrelated
    /// links.
    #[test]
    fn red_team_link_comparison_gives_unrelated_links() {
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
