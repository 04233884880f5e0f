//! Smooth and piecewise-linear activations as integer tables: a curve's
//! range, its tails' lines and curvature ([`Smooth`]), the stated error of
//! its secant table ([`error_bound`]), and the [`Table`] a stage carries.

use super::*;

/// A piecewise-linear activation's integer table: on bucket `j` of the
/// thresholds, `slopes[j] * x + intercepts[j]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Least input.
    pub lo: i128,
    /// Greatest input.
    pub hi: i128,
    /// `x <= T` bucket bounds, `lo <= T < hi`, ascending.
    pub thresholds: Vec<i128>,
    /// One slope per bucket.
    pub slopes: Vec<i128>,
    /// One intercept per bucket.
    pub intercepts: Vec<i128>,
}

impl Table {
    /// The table as the gadget takes it.
    pub fn segments(&self) -> zkgate_circuits::activation::Segments {
        zkgate_circuits::activation::Segments {
            buckets: zkgate_circuits::trees::Buckets {
                lo: self.lo,
                hi: self.hi,
                thresholds: self.thresholds.clone(),
            },
            slopes: self.slopes.clone(),
            intercepts: self.intercepts.clone(),
        }
    }

    /// The function at `x`.
    pub fn at(&self, x: i128) -> i128 {
        let j = self.thresholds.partition_point(|t| *t < x);
        self.slopes[j] * x + self.intercepts[j]
    }
}

/// Segments of a smooth activation's approximation over its range.
pub const SEGMENTS: usize = 64;

/// A smooth curve's approximation: the secants of [`SEGMENTS`] equal
/// segments of `[from, to]`, and beyond them the lines its tails approach
/// (`(slope, intercept)`: a limit, or `x` itself for Softplus, Elu and
/// HardSwish above).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Smooth {
    /// Where the secants start.
    pub from: f64,
    /// Where they end.
    pub to: f64,
    /// The line below `from`.
    pub below: (f64, f64),
    /// The line above `to`.
    pub above: (f64, f64),
    /// `max |f''|` on `[from, to]`: the secants' error is at most
    /// `h^2 / 8` times it, `h` a segment's width.
    pub curvature: f64,
}

impl Smooth {
    /// The approximation of `c`, if it is smooth.
    pub fn of(c: Curve) -> Option<Smooth> {
        let s = |from, to, below, above, curvature| {
            Some(Smooth {
                from,
                to,
                below,
                above,
                curvature,
            })
        };
        match c {
            Curve::Sigmoid => s(-8.0, 8.0, (0.0, 0.0), (0.0, 1.0), 0.0962),
            Curve::Tanh => s(-4.0, 4.0, (0.0, -1.0), (0.0, 1.0), 0.770),
            // alpha e^x on (-inf, 0]: the curvature is largest at 0.
            Curve::Elu { alpha } => {
                let a = f64::from(alpha);
                s(-8.0, 0.0, (0.0, -a), (1.0, 0.0), a.abs())
            }
            Curve::Selu { alpha, gamma } => {
                let (a, g) = (f64::from(alpha), f64::from(gamma));
                s(-8.0, 0.0, (0.0, -g * a), (g, 0.0), (g * a).abs())
            }
            // f'' = sigmoid(x) (1 - sigmoid(x)) <= 1/4.
            Curve::Softplus => s(-8.0, 8.0, (0.0, 0.0), (1.0, 0.0), 0.25),
            // x (x + 3) / 6 on [-3, 3]: f'' = 1/3; exact lines outside.
            Curve::HardSwish => s(-3.0, 3.0, (0.0, 0.0), (1.0, 0.0), 1.0 / 3.0),
            Curve::LeakyRelu { .. } | Curve::Clamp { .. } | Curve::Step { .. } => None,
        }
    }

    /// How far the tails' lines are from the curve: the gap at `from` and
    /// at `to` (every supported curve approaches its lines monotonically
    /// beyond them, so the gap there is the largest).
    fn tail_gap(&self, c: Curve) -> f64 {
        let below = (c.at(self.from) - (self.below.0 * self.from + self.below.1)).abs();
        let above = (c.at(self.to) - (self.above.0 * self.to + self.above.1)).abs();
        below.max(above)
    }
}

/// A table's error against its curve: `|table(x) - f(x)| <= absolute +
/// per_unit |x|` (outputs and inputs in real units).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorBound {
    /// The error independent of `x`.
    pub absolute: f64,
    /// The error per unit of `|x|`: a slope's rounding, for slopes that
    /// are not exact in fixed point (a LeakyRelu's `alpha`, a Selu's
    /// `gamma` above zero).
    pub per_unit: f64,
}

impl ErrorBound {
    /// The bound at `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.absolute + self.per_unit * x.abs()
    }
}

/// The approximation's error bound, in output units. A smooth curve's is
/// the secant's error on a segment of width `h`, at most `h^2 / 8 *
/// max|f''|`, or the tails' gap to their lines, whichever is larger, plus
/// the fixed-point rounding below `2^-act_bits` (tested over a dense
/// grid), plus a tail slope's rounding per unit of `|x|` where it is not 0
/// or 1. A piecewise-linear curve has no secant or tail error: its only
/// error is its slope's rounding, at most `|x| 2^-(act_bits + SLOPE_BITS
/// + 1)`.
pub fn error_bound(c: Curve, act_bits: u32) -> ErrorBound {
    let slope_rounding = 2f64.powi(-(act_bits as i32 + SLOPE_BITS + 1));
    let exact = |m: f64| m == 0.0 || m == 1.0;
    match Smooth::of(c) {
        Some(sm) => {
            let h = (sm.to - sm.from) / SEGMENTS as f64;
            let secant = h * h / 8.0 * sm.curvature;
            ErrorBound {
                absolute: secant.max(sm.tail_gap(c)) + 2f64.powi(-(act_bits as i32)),
                per_unit: if exact(sm.below.0) && exact(sm.above.0) {
                    0.0
                } else {
                    slope_rounding
                },
            }
        }
        None => ErrorBound {
            absolute: 0.0,
            // Slopes 0 and 1 are exact (a clamp's and a step's bounds are
            // rounded to the input's fixed point, see `piecewise_table`).
            per_unit: if matches!(c, Curve::LeakyRelu { .. }) {
                slope_rounding
            } else {
                0.0
            },
        },
    }
}

/// Extra bits of the slopes over `act_bits`: a slope's rounding moves the
/// output by at most `|x| 2^-(act_bits + SLOPE_BITS + 1)`.
pub(super) const SLOPE_BITS: i32 = 8;

/// The exact integer table of a piecewise-linear curve for inputs in
/// `[lo, hi]` at scale `s`. A LeakyRelu's lines are `alpha x` below zero
/// and `x` above, the slopes at `act_bits + SLOPE_BITS` fractional bits and
/// the output at scale `s + act_bits + SLOPE_BITS`; a clamp's are its
/// bounds (rounded to the input's fixed point) and `x` between them, at
/// scale `s`. Returns the table, the outputs' bounds and their scale.
pub(super) fn piecewise_table(
    c: Curve,
    x: Interval,
    s: i32,
    act_bits: u32,
) -> Result<(Table, Interval, i32)> {
    // Each line with the greatest input it applies to, ascending.
    let (lines, scale): (Vec<(i128, i128, i128)>, i32) = match c {
        Curve::LeakyRelu { alpha } => {
            if !(0.0..1.0).contains(&alpha) {
                return Err(Error::Structure(format!(
                    "LeakyRelu with alpha {alpha}: only 0 <= alpha < 1 is supported"
                )));
            }
            let t = act_bits as i32 + SLOPE_BITS;
            let below = (f64::from(alpha) * pow2(t)).round() as i128;
            (vec![(-1, below, 0), (i128::MAX, 1i128 << t, 0)], s + t)
        }
        Curve::Clamp { lo, hi } => {
            let at = |v: f32| {
                let q = f64::from(v) * pow2(s);
                if q.is_finite() && q.abs() < 2f64.powi(100) {
                    Ok(q.round() as i128)
                } else {
                    Err(Error::Overflow(format!("a Clip bound {v} at scale 2^{s}")))
                }
            };
            let (l, h) = (lo.map(at).transpose()?, hi.map(at).transpose()?);
            if let (Some(l), Some(h)) = (l, h) {
                if l > h {
                    return Err(Error::Structure(format!(
                        "a Clip to [{lo:?}, {hi:?}] is empty"
                    )));
                }
            }
            let mut lines = Vec::new();
            if let Some(l) = l {
                lines.push((l - 1, 0, l));
            }
            match h {
                Some(h) => {
                    lines.push((h, 1, 0));
                    lines.push((i128::MAX, 0, h));
                }
                None => lines.push((i128::MAX, 1, 0)),
            }
            (lines, s)
        }
        // x > T exactly when the stored integer exceeds floor(T 2^s); the
        // output, 0 or 1, is an integer (scale 0).
        Curve::Step { threshold } => {
            let q = f64::from(threshold) * pow2(s);
            if !(q.is_finite() && q.abs() < 2f64.powi(100)) {
                return Err(Error::Overflow(format!(
                    "a Binarizer threshold {threshold} at scale 2^{s}"
                )));
            }
            let t = q.floor() as i128;
            (vec![(t, 0, 0), (i128::MAX, 0, 1)], 0)
        }
        _ => {
            return Err(Error::Structure(format!(
                "{} is not piecewise linear",
                c.name()
            )))
        }
    };
    table_of(&lines, x, scale)
}

/// The integer table of `c` for inputs in `[lo, hi]` at scale `s`: for a
/// smooth curve the secants of `SEGMENTS` equal segments of its range and
/// its tails' lines beyond, output at scale `s + act_bits + SLOPE_BITS`;
/// for a piecewise-linear one its exact lines (`piecewise_table`).
/// Returns the table, the outputs' bounds and their scale.
pub(super) fn curve_table(
    c: Curve,
    x: Interval,
    s: i32,
    act_bits: u32,
) -> Result<(Table, Interval, i32)> {
    let Some(sm) = Smooth::of(c) else {
        return piecewise_table(c, x, s, act_bits);
    };
    if let Curve::Elu { alpha } | Curve::Selu { alpha, .. } = c {
        let gamma = match c {
            Curve::Selu { gamma, .. } => gamma,
            _ => 1.0,
        };
        if !(alpha.is_finite() && gamma.is_finite() && alpha >= 0.0 && gamma > 0.0) {
            return Err(Error::Structure(format!(
                "{} with alpha {alpha} and gamma {gamma}: only alpha >= 0 and gamma > 0 are supported",
                c.name()
            )));
        }
    }
    let h = (sm.to - sm.from) / SEGMENTS as f64;
    let t = act_bits as i32 + SLOPE_BITS;
    let out_scale = s + t;
    // Breakpoints b_0..b_K and each bucket's line (x as a real number).
    let breaks: Vec<f64> = (0..=SEGMENTS).map(|i| sm.from + i as f64 * h).collect();
    let mut lines: Vec<(f64, f64)> = vec![sm.below];
    for w in breaks.windows(2) {
        let m = (c.at(w[1]) - c.at(w[0])) / (w[1] - w[0]);
        lines.push((m, c.at(w[0]) - m * w[0]));
    }
    lines.push(sm.above);
    let integer_breaks: Vec<i128> = breaks
        .iter()
        .map(|b| (b * pow2(s)).floor() as i128)
        .collect();
    // Each bucket's line, in integers, with the greatest input it covers.
    let integer_lines: Vec<(i128, i128, i128)> = lines
        .iter()
        .enumerate()
        .map(|(j, line)| {
            (
                integer_breaks.get(j).copied().unwrap_or(i128::MAX),
                (line.0 * pow2(t)).round() as i128,
                (line.1 * pow2(out_scale)).round() as i128,
            )
        })
        .collect();
    table_of(&integer_lines, x, out_scale)
}

/// The table of the integer `lines` (each with the greatest input it
/// covers, ascending) over `[x.lo, x.hi]`: thresholds strictly inside,
/// each bucket the line it lies on. Returns the table, the outputs' bounds
/// and `scale`.
pub(super) fn table_of(
    lines: &[(i128, i128, i128)],
    x: Interval,
    scale: i32,
) -> Result<(Table, Interval, i32)> {
    let mut thresholds = Vec::new();
    let mut slopes = Vec::new();
    let mut intercepts = Vec::new();
    let mut bounds: Option<Interval> = None;
    let mut from = x.lo;
    for &(upper, m, b) in lines {
        let up = upper.min(x.hi);
        if up < from {
            continue;
        }
        if !slopes.is_empty() {
            thresholds.push(from - 1);
        }
        slopes.push(m);
        intercepts.push(b);
        let (a, z) = (m * from + b, m * up + b);
        let seg = Interval::new(a.min(z), a.max(z));
        bounds = Some(match bounds {
            None => seg,
            Some(u) => Interval::new(u.lo.min(seg.lo), u.hi.max(seg.hi)),
        });
        from = up.saturating_add(1);
        if up >= x.hi {
            break;
        }
    }
    let bounds = bounds.ok_or_else(|| Error::Structure("an empty activation range".into()))?;
    Ok((
        Table {
            lo: x.lo,
            hi: x.hi,
            thresholds,
            slopes,
            intercepts,
        },
        bounds,
        scale,
    ))
}
