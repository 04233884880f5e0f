//! Tree ensembles at integer thresholds: each compared input bucketed
//! among the forest's thresholds at its declared scale ([`Bucketed`]),
//! branches decided at compile time where a threshold lies outside the
//! declared range, leaves at a common scale.

use super::*;

/// An input a forest compares, with its declared integer bounds and the
/// distinct integer thresholds strictly inside them, ascending.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bucketed {
    /// The input.
    pub input: u32,
    /// Least stored integer.
    pub lo: i128,
    /// Greatest stored integer.
    pub hi: i128,
    /// `x <= T` thresholds, `lo <= T < hi`.
    pub thresholds: Vec<i128>,
}

impl Bucketed {
    /// The input's buckets as the gadget takes them.
    pub fn buckets(&self) -> zkgate_circuits::trees::Buckets {
        zkgate_circuits::trees::Buckets {
            lo: self.lo,
            hi: self.hi,
            thresholds: self.thresholds.clone(),
        }
    }
}

/// A quantized tree node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum QNode {
    /// Goes to `yes` when `cond` holds, else to `no`.
    Branch {
        /// The condition.
        cond: QCond,
        /// The child taken when it holds.
        yes: u32,
        /// The child taken otherwise.
        no: u32,
    },
    /// A leaf's integer values `(output, value)`.
    Leaf {
        /// The values.
        values: Vec<(u32, i64)>,
    },
}

/// A quantized branch condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QCond {
    /// Decided by the declared ranges.
    Always(bool),
    /// `x <= T_j` for the `j`-th threshold (from 1) of bucketed input
    /// `slot`.
    AtMost {
        /// Index into the stage's buckets.
        slot: u32,
        /// Thresholds counted from 1.
        j: u32,
    },
}

/// Bits kept of the largest leaf value: leaves weight the path indicators
/// linearly, so their precision costs no constraint.
pub(super) const LEAF_BITS: i32 = 24;

/// Quantizes a forest over inputs in `box_` at `scales`: integer
/// thresholds at each input's scale (`x <= t` is `X <= floor(t 2^s)`,
/// `x < t` is `X <= ceil(t 2^s) - 1`, exactly, for `X = x 2^s`), decided
/// branches resolved, leaf values at one scale. Returns the stage, the
/// outputs' bounds and their scale.
pub(super) fn quantize_trees(
    e: &crate::ir::Ensemble,
    box_: &[Interval],
    scales: &[i32],
) -> Result<(Stage, Vec<Interval>, Vec<i32>)> {
    use crate::ir::TreeNode;
    use std::collections::{BTreeMap, BTreeSet};
    let integer = |feature: u32, t: f64, strict: bool| -> Result<i128> {
        let x = t * pow2(scales[feature as usize]);
        if !x.is_finite() || x.abs() > 2f64.powi(100) {
            return Err(Error::Structure(format!(
                "a tree threshold ({t}) is outside any input's range"
            )));
        }
        Ok(if strict {
            x.ceil() as i128 - 1
        } else {
            x.floor() as i128
        })
    };
    // Every input's thresholds strictly inside its declared range.
    let mut found: BTreeMap<u32, BTreeSet<i128>> = BTreeMap::new();
    for node in e.trees.iter().flatten() {
        if let TreeNode::Branch {
            feature,
            threshold,
            strict,
            ..
        } = node
        {
            let t = integer(*feature, *threshold, *strict)?;
            let r = box_[*feature as usize];
            if r.lo <= t && t < r.hi {
                found.entry(*feature).or_default().insert(t);
            }
        }
    }
    let buckets: Vec<Bucketed> = found
        .into_iter()
        .map(|(input, ts)| Bucketed {
            input,
            lo: box_[input as usize].lo,
            hi: box_[input as usize].hi,
            thresholds: ts.into_iter().collect(),
        })
        .collect();
    let slot: BTreeMap<u32, usize> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| (b.input, i))
        .collect();
    let largest = e
        .trees
        .iter()
        .flatten()
        .filter_map(|n| match n {
            TreeNode::Leaf { values } => {
                Some(values.iter().map(|(_, v)| v.abs()).fold(0.0, f64::max))
            }
            TreeNode::Branch { .. } => None,
        })
        .fold(0f64, f64::max);
    if !largest.is_finite() {
        return Err(Error::Structure(
            "a tree leaf is not a finite number".into(),
        ));
    }
    let scale = if largest > 0.0 {
        LEAF_BITS - largest.log2().ceil() as i32
    } else {
        0
    };
    let mut lo = vec![0i128; e.outputs];
    let mut hi = vec![0i128; e.outputs];
    let mut trees = Vec::with_capacity(e.trees.len());
    for tree in &e.trees {
        let mut least = vec![i128::MAX; e.outputs];
        let mut most = vec![i128::MIN; e.outputs];
        let mut nodes = Vec::with_capacity(tree.len());
        for node in tree {
            nodes.push(match node {
                TreeNode::Branch {
                    feature,
                    threshold,
                    strict,
                    yes,
                    no,
                } => {
                    let t = integer(*feature, *threshold, *strict)?;
                    let r = box_[*feature as usize];
                    let cond = if t < r.lo {
                        QCond::Always(false)
                    } else if t >= r.hi {
                        QCond::Always(true)
                    } else {
                        let s = slot[feature];
                        let j = buckets[s].thresholds.partition_point(|x| *x <= t);
                        QCond::AtMost {
                            slot: s as u32,
                            j: j as u32,
                        }
                    };
                    QNode::Branch {
                        cond,
                        yes: *yes,
                        no: *no,
                    }
                }
                TreeNode::Leaf { values } => {
                    let mut q = vec![0i128; e.outputs];
                    let mut out = Vec::with_capacity(values.len());
                    for (o, v) in values {
                        let x = (v * pow2(scale)).round() as i64;
                        q[*o as usize] += i128::from(x);
                        if x != 0 {
                            out.push((*o, x));
                        }
                    }
                    for o in 0..e.outputs {
                        least[o] = least[o].min(q[o]);
                        most[o] = most[o].max(q[o]);
                    }
                    QNode::Leaf { values: out }
                }
            });
        }
        // A leaf without an output gives it 0, counted above.
        for o in 0..e.outputs {
            lo[o] += least[o];
            hi[o] += most[o];
        }
        trees.push(nodes);
    }
    // The passed inputs first, at their own bounds and scales.
    let bounds = box_[..e.pass]
        .iter()
        .copied()
        .chain(lo.into_iter().zip(hi).map(|(l, h)| Interval::new(l, h)))
        .collect();
    let out_scales = scales[..e.pass]
        .iter()
        .copied()
        .chain(std::iter::repeat_n(scale, e.outputs))
        .collect();
    Ok((
        Stage::Trees {
            buckets,
            trees,
            outputs: e.outputs,
            pass: e.pass,
        },
        bounds,
        out_scales,
    ))
}
