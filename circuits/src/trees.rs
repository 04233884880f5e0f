//! Decision-tree ensembles.
//!
//! Every branch of every tree asks `x_f <= T` of some input `f`. Instead of
//! one range-checked comparison per branch (about `bits` constraints each),
//! each input is placed once in its **bucket** among the sorted distinct
//! thresholds the whole ensemble compares it with (`T_1 < ... < T_k`,
//! bucket `j` holding `T_j < x <= T_(j+1)`, with `T_0 = lo - 1` and
//! `T_(k+1) = hi` the input's declared bounds): a one-hot vector `o` of
//! `k + 1` bits and two range checks, `x - (T_j + 1) >= 0` and
//! `T_(j+1) - x >= 0` for the selected `j` (both bounds are linear in `o`).
//! Every branch's answer is then linear and free: `[x <= T_j] = o_0 + ... +
//! o_(j-1)`. So a forest pays `k + 1 + 2 w` per input it reads (`w` the
//! width of the input's range) however many trees compare it, and one
//! constraint per branch below the root to carry the path: the indicator of
//! a branch's true child is the branch's indicator times its answer, the
//! false child's the difference, the root's children are linear. A leaf's
//! indicator is 1 exactly on the leaf the input reaches; a tree's output is
//! the linear sum of its leaves' values weighted by their indicators.
//!
//! The bucket's range checks also prove `lo <= x <= hi`: no bucket fits an
//! input outside its declared range.

use crate::bits::decompose_unsigned;
use crate::num::enforce_boolean;
use crate::{i128_to_field, Cs, Fr, Num, Result};
use ark_ff::One;

/// One input's buckets: the declared bounds and the sorted distinct
/// thresholds strictly inside them (`lo <= T < hi`; a threshold outside
/// decides every input the same way and is no branch at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buckets {
    /// Least value of the input.
    pub lo: i128,
    /// Greatest value of the input.
    pub hi: i128,
    /// Thresholds, ascending, each in `[lo, hi)`.
    pub thresholds: Vec<i128>,
}

impl Buckets {
    /// Bits of the range checks: `hi - lo < 2^w`.
    pub fn width(&self) -> usize {
        (128 - ((self.hi - self.lo) as u128).leading_zeros() as usize).max(1)
    }

    /// Constraints of [`bucket`].
    pub fn cost(&self) -> usize {
        self.thresholds.len() + 1 + 2 * self.width()
    }

    /// The bucket of `x` (native).
    pub fn of(&self, x: i128) -> usize {
        self.thresholds.partition_point(|t| *t < x)
    }
}

/// Places `x` in its bucket: returns the one-hot bits (`k + 1` of them),
/// proving `lo <= x <= hi`. Costs [`Buckets::cost`] constraints.
pub fn bucket(cs: &Cs, x: &Num, b: &Buckets) -> Result<Vec<Num>> {
    let k = b.thresholds.len();
    let j = x
        .value()
        .and_then(crate::field_to_i128)
        .map(|v| b.of(v).min(k));
    let mut onehot = Vec::with_capacity(k + 1);
    for i in 0..k {
        let o = Num::witness(cs, j.map(|j| Fr::from(u64::from(j == i))))?;
        enforce_boolean(cs, &o)?;
        onehot.push(o);
    }
    let rest = onehot
        .iter()
        .fold(Num::constant(Fr::one()), |acc, o| acc.sub(o));
    enforce_boolean(cs, &rest)?;
    onehot.push(rest);
    // Bucket i spans (T_i, T_(i+1)], T_0 = lo - 1, T_(k+1) = hi.
    let below = |i: usize| {
        if i == 0 {
            b.lo - 1
        } else {
            b.thresholds[i - 1]
        }
    };
    let above = |i: usize| if i == k { b.hi } else { b.thresholds[i] };
    let lower = Num::linear_combination(
        onehot
            .iter()
            .enumerate()
            .map(|(i, o)| (i128_to_field(below(i) + 1), o)),
    );
    let upper = Num::linear_combination(
        onehot
            .iter()
            .enumerate()
            .map(|(i, o)| (i128_to_field(above(i)), o)),
    );
    let w = b.width();
    decompose_unsigned(cs, &x.sub(&lower), w)?;
    decompose_unsigned(cs, &upper.sub(x), w)?;
    Ok(onehot)
}

/// `[x <= T_j]` (thresholds counted from 1): the sum of the first `j`
/// one-hot bits. Free.
pub fn at_most(onehot: &[Num], j: usize) -> Num {
    Num::linear_combination(onehot[..j].iter().map(|o| (Fr::one(), o)))
}

/// A branch's condition once the inputs are bucketed.
#[derive(Clone, Debug)]
pub enum Cond {
    /// Decided by the declared ranges alone.
    Always(bool),
    /// `[x <= T]`, linear in a bucket's bits.
    Is(Num),
}

/// One node of a tree: a branch to `yes` when its condition holds, else to
/// `no`, or a leaf. Node 0 is the root; children come after their parent.
#[derive(Clone, Debug)]
pub enum Node {
    /// A branch.
    Branch {
        /// The condition.
        cond: Cond,
        /// The child taken when it holds.
        yes: usize,
        /// The child taken otherwise.
        no: usize,
    },
    /// A leaf.
    Leaf,
}

/// Every node's indicator (1 on the path the input takes, 0 elsewhere),
/// leaves included. Costs one constraint per branch whose own indicator is
/// not constant and whose condition is not decided.
pub fn indicators(cs: &Cs, nodes: &[Node]) -> Result<Vec<Num>> {
    propagate(nodes, |a, b| Num::mul(cs, a, b))
}

/// Constraints [`indicators`] adds for `nodes` (their conditions' values
/// do not matter).
pub fn cost(nodes: &[Node]) -> usize {
    let mut n = 0;
    propagate(nodes, |_, _| {
        n += 1;
        Ok(Num::zero())
    })
    .expect("counting never fails");
    n
}

fn propagate(nodes: &[Node], mut mul: impl FnMut(&Num, &Num) -> Result<Num>) -> Result<Vec<Num>> {
    // Each reached node's indicator, and whether it is the constant 1 or 0
    // (the root, and what decided branches pass on).
    let mut ind: Vec<Option<(Num, Option<bool>)>> = vec![None; nodes.len()];
    ind[0] = Some((Num::constant(Fr::one()), Some(true)));
    for (n, node) in nodes.iter().enumerate() {
        let Node::Branch { cond, yes, no } = node else {
            continue;
        };
        assert!(*yes > n && *no > n, "children come after their parent");
        let (here, fixed) = ind[n].clone().expect("a parent comes first");
        let (taken, left) = match (cond, fixed) {
            (Cond::Always(true), _) => ((here.clone(), fixed), (Num::zero(), Some(false))),
            (Cond::Always(false), _) => ((Num::zero(), Some(false)), (here.clone(), fixed)),
            (Cond::Is(_), Some(false)) => ((Num::zero(), Some(false)), (Num::zero(), Some(false))),
            (Cond::Is(c), Some(true)) => {
                let t = c.clone();
                let l = Num::constant(Fr::one()).sub(&t);
                ((t, None), (l, None))
            }
            (Cond::Is(c), None) => {
                let t = mul(&here, c)?;
                let l = here.sub(&t);
                ((t, None), (l, None))
            }
        };
        ind[*yes] = Some(taken);
        ind[*no] = Some(left);
    }
    Ok(ind
        .into_iter()
        .map(|i| i.map_or_else(Num::zero, |(v, _)| v))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_to_i128;
    use crate::testing::{assert_sound, cs, satisfied};

    fn buckets() -> Buckets {
        Buckets {
            lo: -5,
            hi: 20,
            thresholds: vec![-2, 3, 7, 19],
        }
    }

    #[test]
    fn buckets_every_value_in_range_and_are_sound() {
        let b = buckets();
        for x in -5i128..=20 {
            let (count, out) = assert_sound(1, |cs| {
                let x = Num::witness(cs, Some(i128_to_field(x))).unwrap();
                bucket(cs, &x, &b).unwrap()
            });
            assert_eq!(count, b.cost());
            let j = out.iter().position(|o| *o == Fr::one()).unwrap();
            assert_eq!(j, b.of(x), "{x}");
            assert_eq!(out.iter().filter(|o| **o == Fr::one()).count(), 1);
            // Every threshold's answer is the comparison.
            let bits: Vec<Num> = out.iter().map(|o| Num::constant(*o)).collect();
            for (t, thr) in b.thresholds.iter().enumerate() {
                let le = at_most(&bits, t + 1).value().unwrap();
                assert_eq!(le == Fr::one(), x <= *thr, "{x} <= {thr}");
            }
        }
    }

    #[test]
    fn a_wrong_bucket_or_an_input_out_of_range_is_refused() {
        let b = buckets();
        // x = 5 is in bucket 2 (3 < x <= 7); claim bucket 1 or 3.
        for claim in [1usize, 3] {
            let cs = cs();
            let x = Num::witness(&cs, Some(i128_to_field(5))).unwrap();
            let onehot: Vec<Num> = (0..=4)
                .map(|i| Num::witness(&cs, Some(Fr::from(u64::from(i == claim)))).unwrap())
                .collect();
            let below = [-6i128, -2, 3, 7, 19];
            let above = [-2i128, 3, 7, 19, 20];
            let lower = Num::linear_combination(
                onehot
                    .iter()
                    .zip(below)
                    .map(|(o, t)| (i128_to_field(t + 1), o)),
            );
            let upper = Num::linear_combination(
                onehot.iter().zip(above).map(|(o, t)| (i128_to_field(t), o)),
            );
            // The range checks with an honest-looking witness for the claim.
            let _ = decompose_unsigned(&cs, &x.sub(&lower), b.width());
            let _ = decompose_unsigned(&cs, &upper.sub(&x), b.width());
            assert!(!satisfied(&cs), "bucket {claim} accepted");
        }
        // Outside [lo, hi] no bucket fits.
        for x in [-6i128, 21, 1000] {
            let cs = cs();
            let v = Num::witness(&cs, Some(i128_to_field(x))).unwrap();
            let _ = bucket(&cs, &v, &b);
            assert!(!satisfied(&cs), "{x} accepted");
        }
    }

    #[test]
    fn indicators_follow_the_path_and_are_sound() {
        // x <= 3 ? (y <= 0 ? L3 : L4) : (x <= 7 ? L5 : B6), B6 a branch
        // the ranges decide (always to L8).
        let bx = buckets();
        let by = Buckets {
            lo: -3,
            hi: 3,
            thresholds: vec![0],
        };
        for (x, y) in [(2i128, -1i128), (2, 2), (5, 0), (15, 3), (-5, -3)] {
            let (count, out) = assert_sound(2, |cs| {
                let xv = Num::witness(cs, Some(i128_to_field(x))).unwrap();
                let yv = Num::witness(cs, Some(i128_to_field(y))).unwrap();
                let ox = bucket(cs, &xv, &bx).unwrap();
                let oy = bucket(cs, &yv, &by).unwrap();
                let branch = |cond, yes, no| Node::Branch { cond, yes, no };
                let nodes = vec![
                    branch(Cond::Is(at_most(&ox, 2)), 1, 2),
                    branch(Cond::Is(at_most(&oy, 1)), 3, 4),
                    branch(Cond::Is(at_most(&ox, 3)), 5, 6),
                    Node::Leaf,
                    Node::Leaf,
                    Node::Leaf,
                    branch(Cond::Always(false), 7, 8),
                    Node::Leaf,
                    Node::Leaf,
                ];
                indicators(cs, &nodes).unwrap()
            });
            // Two branches below the root carry the path; the decided one
            // is free.
            assert_eq!(count, bx.cost() + by.cost() + 2);
            let shape = vec![
                Node::Branch {
                    cond: Cond::Is(Num::zero()),
                    yes: 1,
                    no: 2,
                },
                Node::Branch {
                    cond: Cond::Is(Num::zero()),
                    yes: 3,
                    no: 4,
                },
                Node::Branch {
                    cond: Cond::Is(Num::zero()),
                    yes: 5,
                    no: 6,
                },
                Node::Leaf,
                Node::Leaf,
                Node::Leaf,
                Node::Branch {
                    cond: Cond::Always(false),
                    yes: 7,
                    no: 8,
                },
                Node::Leaf,
                Node::Leaf,
            ];
            assert_eq!(cost(&shape), 2);
            let reached = |n: usize| match n {
                0 => true,
                1 => x <= 3,
                2 => x > 3,
                3 => x <= 3 && y <= 0,
                4 => x <= 3 && y > 0,
                5 => x > 3 && x <= 7,
                6 | 8 => x > 7,
                _ => false,
            };
            for (n, v) in out.iter().enumerate() {
                assert_eq!(field_to_i128(*v), Some(i128::from(reached(n))), "node {n}");
            }
        }
    }
}
