//! The shard plan: how a job's rows are split into proofs. One rule for the
//! shard size, one for the tiling; the prover, the receipt's verifier and
//! the settlement client all ask this module (the contract keeps its own
//! copy of the tiling check).
//!
//! Every shard of a job is proved by one circuit that reads a fixed number
//! of rows (its size); the last shard is padded, its real rows a public
//! input. The size does not depend on the dataset's exact length: a
//! dataset larger than the owner's largest shard is cut at that size (one
//! circuit for every dataset of the schema above it), and a smaller one
//! gets the smallest size of a short ladder that holds it, so datasets of
//! nearby lengths share a circuit, a key and a ceremony. Sizes that cut
//! the chain end on whole Poseidon calls; a one-shard size need not (its
//! circuit then proves one-shard jobs only), so a small dataset is not
//! padded to a whole call (11 rows for most schemas).

use std::ops::Range;
use zkgate_circuits::commitment::Shape;

/// How the rows of a job are split into shard proofs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardPlan {
    rows: u64,
    size: u64,
}

/// The ladder of shard sizes, in units of whole Poseidon calls: every
/// size up to 7, then the smallest `m * 2^k` (`m` from 4 to 7) at least
/// `units`: four sizes an octave, so the padding is under a quarter of the
/// size (about a tenth on average over lengths).
pub fn ladder(units: u64) -> u64 {
    let units = units.max(1);
    let k = (64 - units.leading_zeros()).saturating_sub(3);
    units.div_ceil(1 << k) << k
}

impl ShardPlan {
    /// The plan of a dataset of `shape.rows` rows under the owner's
    /// largest shard of `wanted` rows (none: no limit): shards of at most
    /// `wanted` rows rounded down to a multiple of the rows that fill whole
    /// Poseidon calls of the commitment (at least one such multiple); a
    /// dataset that fits one shard gets the smaller of the [`ladder`]
    /// sizes that hold it in rows and in whole calls, within that bound.
    pub fn new(shape: Shape, wanted: Option<u64>) -> ShardPlan {
        let unit = shape.cut_rows();
        let n = shape.rows.max(1);
        let units = n.div_ceil(unit);
        let cap = wanted.map_or(u64::MAX, |w| (w / unit).max(1));
        let size = if units > cap {
            cap * unit
        } else {
            ladder(n)
                .min(ladder(units).saturating_mul(unit))
                .min(cap.saturating_mul(unit))
        };
        ShardPlan {
            rows: shape.rows,
            size,
        }
    }

    /// The plan of `rows` rows in shards of `size` (a receipt's header).
    pub fn of(rows: u64, size: u64) -> ShardPlan {
        ShardPlan { rows, size }
    }

    /// Rows every shard's circuit reads.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of shards.
    pub fn len(&self) -> usize {
        if self.size == 0 {
            0
        } else {
            self.rows.div_ceil(self.size) as usize
        }
    }

    /// Whether the plan has no shard (no rows).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every shard's real rows, in order: full shards, then the rest.
    pub fn ranges(&self) -> Vec<Range<u64>> {
        (0..self.len() as u64)
            .map(|i| i * self.size..((i + 1) * self.size).min(self.rows))
            .collect()
    }

    /// Padding rows over the whole plan (all in the last shard).
    pub fn padding(&self) -> u64 {
        self.len() as u64 * self.size - self.rows
    }

    /// Checks that shards given as `(offset, real rows)` are exactly this
    /// plan's, naming the first that is not.
    pub fn check(&self, shards: &[(u64, u64)]) -> Result<(), String> {
        let want = self.ranges();
        for (i, (offset, rows)) in shards.iter().enumerate() {
            match want.get(i) {
                Some(r) if r.start == *offset && r.end - r.start == *rows => {}
                _ => {
                    return Err(format!(
                        "shard {i} (rows {offset}..{}) does not continue the shards before it",
                        offset.saturating_add(*rows)
                    ))
                }
            }
        }
        if shards.len() != want.len() {
            return Err("the shards do not cover the dataset".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(rows: u64) -> Shape {
        // 2 columns of 16 bits pack into one element per row, so whole
        // Poseidon calls end every 11 rows.
        Shape {
            rows,
            columns: 2,
            value_bits: 16,
        }
    }

    #[test]
    fn the_ladder_has_four_sizes_an_octave() {
        let got: Vec<u64> = (1..=17).map(ladder).collect();
        assert_eq!(
            got,
            [1, 2, 3, 4, 5, 6, 7, 8, 10, 10, 12, 12, 14, 14, 16, 16, 20]
        );
        let mut sizes: Vec<u64> = (1..=4096).map(ladder).collect();
        for u in 1..=4096 {
            let l = ladder(u);
            assert!(l >= u && (l - u) * 4 < l, "{u} -> {l}");
        }
        sizes.dedup();
        // 7 sizes below 8, then four an octave for nine octaves.
        assert_eq!(sizes.len(), 7 + 4 * 9 + 1);
    }

    #[test]
    fn sizes_round_to_whole_calls_and_tile_the_rows() {
        let unit = shape(100).cut_rows();
        let p = ShardPlan::new(shape(100), Some(30));
        assert_eq!(p.size() % unit, 0);
        assert!(p.size() <= 30 && p.size() > 0);
        let ranges = p.ranges();
        assert_eq!(ranges.first().unwrap().start, 0);
        assert_eq!(ranges.last().unwrap().end, 100);
        for w in ranges.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        // One shard, at the ladder's size: 95 rows are 96 on the ladder of
        // rows; 100 rows are 10 calls, 110 rows (the ladder of rows says
        // 112).
        let whole = ShardPlan::new(shape(95), None);
        assert_eq!((whole.size(), whole.len(), whole.padding()), (96, 1, 1));
        assert_eq!(ShardPlan::new(shape(95), Some(500)).size(), 96);
        assert_eq!(ShardPlan::new(shape(100), None).size(), 110);
        // Small datasets are not padded to a whole call.
        assert_eq!(ShardPlan::new(shape(4), None).size(), 4);
        assert_eq!(ShardPlan::new(shape(9), None).size(), 10);
        // Within the owner's bound: 99 rows, not 110.
        assert_eq!(ShardPlan::new(shape(99), Some(100)).size(), 99);
        assert_eq!(ShardPlan::new(shape(100), Some(1)).size(), unit);
    }

    #[test]
    fn one_size_serves_every_length_above_the_bound() {
        for rows in [45, 100, 1000, 1001] {
            let p = ShardPlan::new(shape(rows), Some(44));
            assert_eq!(p.size(), 44, "{rows} rows");
            assert!(p.padding() < 44);
        }
        // And nearby lengths below it share a ladder size.
        let sizes: Vec<u64> = (97..=110)
            .map(|r| ShardPlan::new(shape(r), None).size())
            .collect();
        assert!(sizes.iter().all(|s| *s == 110), "{sizes:?}");
    }

    #[test]
    fn check_refuses_anything_but_the_plan() {
        let p = ShardPlan::of(25, 11);
        assert_eq!(p.ranges(), [0..11, 11..22, 22..25]);
        assert!(p.check(&[(0, 11), (11, 11), (22, 3)]).is_ok());
        assert!(p.check(&[(0, 11), (11, 11)]).is_err());
        assert!(p.check(&[(0, 11), (11, 11), (22, 3), (25, 1)]).is_err());
        assert!(p.check(&[(0, 11), (11, 11), (22, 11)]).is_err());
        assert!(p.check(&[(0, 11), (11, 3), (14, 11)]).is_err());
        assert!(p.check(&[(0, 11), (10, 11), (22, 3)]).is_err());
        assert!(p.check(&[]).is_err());
    }
}
