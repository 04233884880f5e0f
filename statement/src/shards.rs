//! The shard plan: how a job's rows are split into proofs. One rule for the
//! shard size, one for the tiling, one for the shorter last shard; the
//! prover, the receipt's verifier and the settlement client all ask this
//! module (the contract keeps its own copy of the tiling check).

use std::ops::Range;
use zkgate_circuits::commitment::Shape;

/// How the rows of a job are split into shard proofs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardPlan {
    rows: u64,
    size: u64,
}

impl ShardPlan {
    /// The plan a request for `wanted` rows per proof gets: the whole
    /// dataset when it fits, else `wanted` rounded down to a multiple of
    /// the rows that fill whole Poseidon calls of the commitment (at least
    /// one such multiple).
    pub fn new(shape: Shape, wanted: Option<u64>) -> ShardPlan {
        let n = shape.rows;
        let size = match wanted {
            Some(w) if w < n => {
                let unit = shape.cut_rows();
                ((w / unit).max(1) * unit).min(n)
            }
            _ => n,
        };
        ShardPlan { rows: n, size }
    }

    /// The plan of `rows` rows in shards of `size` (a receipt's header).
    pub fn of(rows: u64, size: u64) -> ShardPlan {
        ShardPlan { rows, size }
    }

    /// Rows per full shard.
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

    /// Every shard's rows, in order: full shards, then the remainder.
    pub fn ranges(&self) -> Vec<Range<u64>> {
        (0..self.len() as u64)
            .map(|i| i * self.size..((i + 1) * self.size).min(self.rows))
            .collect()
    }

    /// The distinct shard sizes, each needing its own circuit and key: the
    /// full size, then the last shard's when it is shorter.
    pub fn sizes(&self) -> Vec<u64> {
        let mut v = vec![self.size];
        let rest = self.rows % self.size.max(1);
        if rest != 0 && self.len() > 1 {
            v.push(rest);
        }
        v
    }

    /// Which of [`ShardPlan::sizes`] proves shard `i`.
    pub fn circuit_of(&self, i: usize) -> usize {
        let r = &self.ranges()[i];
        usize::from(r.end - r.start != self.size)
    }

    /// Checks that shards given as `(offset, rows)` are exactly this plan's,
    /// naming the first that is not.
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
        assert_eq!(ShardPlan::new(shape(100), None).ranges(), vec![0..100]);
        assert_eq!(ShardPlan::new(shape(100), Some(500)).sizes(), [100]);
        assert_eq!(ShardPlan::new(shape(100), Some(1)).size(), unit);
    }

    #[test]
    fn the_remainder_has_its_own_circuit() {
        let p = ShardPlan::of(25, 11);
        assert_eq!(p.ranges(), [0..11, 11..22, 22..25]);
        assert_eq!(p.sizes(), [11, 3]);
        assert_eq!(
            (p.circuit_of(0), p.circuit_of(1), p.circuit_of(2)),
            (0, 0, 1)
        );
        assert_eq!(ShardPlan::of(22, 11).sizes(), [11]);
    }

    #[test]
    fn check_refuses_anything_but_the_plan() {
        let p = ShardPlan::of(25, 11);
        assert!(p.check(&[(0, 11), (11, 11), (22, 3)]).is_ok());
        assert!(p.check(&[(0, 11), (11, 11)]).is_err());
        assert!(p.check(&[(0, 11), (11, 11), (22, 3), (25, 1)]).is_err());
        assert!(p.check(&[(0, 11), (11, 3), (14, 11)]).is_err());
        assert!(p.check(&[(0, 11), (10, 11), (22, 3)]).is_err());
        assert!(p.check(&[]).is_err());
    }
}
