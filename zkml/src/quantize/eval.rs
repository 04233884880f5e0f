//! The plan's native integer evaluation: the same arithmetic the circuit
//! constrains.

use super::*;

/// `sum_i w_ji x_i + b_j`.
pub(crate) fn linear(rows: &[Vec<(u32, i64)>], bias: &[i128], x: &[i128]) -> Vec<i128> {
    rows.iter()
        .zip(bias)
        .map(|(row, b)| {
            row.iter()
                .map(|(i, w)| i128::from(*w) * x[*i as usize])
                .sum::<i128>()
                + b
        })
        .collect()
}

/// `floor(z / 2^shift)`, then ReLU if asked.
pub(crate) fn rescale(z: i128, shift: usize, relu: bool) -> i128 {
    let y = z >> shift;
    if relu {
        y.max(0)
    } else {
        y
    }
}

/// The leaf a quantized tree reaches, given each bucketed input's bucket.
pub(crate) fn tree_leaf<'a>(tree: &'a [QNode], bucket: &[usize]) -> &'a [(u32, i64)] {
    let mut n = 0usize;
    loop {
        match &tree[n] {
            QNode::Branch { cond, yes, no } => {
                let holds = match cond {
                    QCond::Always(b) => *b,
                    // x <= T_j exactly when its bucket is below j.
                    QCond::AtMost { slot, j } => bucket[*slot as usize] < *j as usize,
                };
                n = if holds { *yes } else { *no } as usize;
            }
            QNode::Leaf { values } => return values,
        }
    }
}

pub(super) fn pool(windows: &[Vec<u32>], x: &[i128]) -> Vec<i128> {
    windows
        .iter()
        .map(|w| w.iter().map(|j| x[*j as usize]).max().expect("non-empty"))
        .collect()
}
