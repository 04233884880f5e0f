//! A dataset's declared public schema: every column's name, kind, range and
//! fixed-point scale, fixed by the data owner before any row is read.
//!
//! The circuit follows from the schema and the model alone: every width it
//! proves is a bound propagated from the declared ranges, never a magnitude
//! seen in the rows, so the same model over the same schema and row count is
//! the same circuit whatever the rows hold, and anyone holding the model and
//! the schema can rebuild it. Import refuses a row outside its column's
//! declared range.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zkgate_circuits::commitment;

/// Most columns one dataset may hold.
pub const MAX_COLUMNS: usize = 4096;
/// Lowest column scale (`2^-8` per step).
pub const MIN_SCALE: i32 = -8;
/// Highest column scale.
pub const MAX_SCALE: i32 = 48;
/// Most codes a categorical column may declare.
pub const MAX_CODES: usize = 4096;
/// Default bits per stored value.
pub const DEFAULT_VALUE_BITS: usize = 16;

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Whole numbers, stored exactly (scale 0): ids, counts, class labels.
    Integer,
    /// Real numbers, stored in fixed point at the column's scale.
    Real,
}

/// One declared column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Name (the CSV header's).
    pub name: String,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// Least value a row may hold.
    pub min: f64,
    /// Greatest value a row may hold.
    pub max: f64,
    /// Fixed-point scale: a stored integer `q` stands for `q / 2^scale`.
    /// Optional when declaring: 0 for integers, and for reals the largest
    /// scale at which the range fits the stored bits.
    #[serde(default)]
    pub scale: Option<i32>,
    /// A categorical column's codes: the only values a row may hold
    /// (integer columns only, ascending, inside `[min, max]`). A model's
    /// `OneHotEncoder` over the column then never meets another value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<Vec<i64>>,
}

impl Column {
    /// The resolved scale.
    pub fn scale(&self) -> i32 {
        self.scale.expect("resolved schemas have every scale")
    }

    /// The stored integer of `v` (rounded to the nearest step).
    pub fn quantize(&self, v: f64) -> i64 {
        (v * 2f64.powi(self.scale())).round() as i64
    }

    /// The least and greatest stored integers a row may hold.
    pub fn range(&self) -> (i64, i64) {
        (self.quantize(self.min), self.quantize(self.max))
    }

    /// The stored integer a padding row holds: a value every row may hold
    /// (the first code of a categorical column, else the one nearest 0),
    /// so a model meets nothing it would not meet in a real row.
    pub fn filler(&self) -> i64 {
        match self.codes.as_ref().and_then(|c| c.first()) {
            Some(c) => self.quantize(*c as f64),
            None => {
                let (lo, hi) = self.range();
                0.clamp(lo, hi)
            }
        }
    }

    /// Whether `v` is inside the declared range (and one of the codes of a
    /// categorical column).
    pub fn admits(&self, v: f64) -> bool {
        v >= self.min
            && v <= self.max
            && (self.kind == Kind::Real || v.fract() == 0.0)
            && self
                .codes
                .as_ref()
                .is_none_or(|codes| codes.binary_search(&(v as i64)).is_ok())
    }
}

/// A dataset's declared schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Bits per stored value (the commitment's width).
    #[serde(default = "default_value_bits")]
    pub value_bits: usize,
    /// The columns, in file order.
    pub columns: Vec<Column>,
}

fn default_value_bits() -> usize {
    DEFAULT_VALUE_BITS
}

fn bad(column: Option<&str>, message: impl std::fmt::Display) -> Error {
    match column {
        Some(c) => Error::Job(format!("schema: column `{c}`: {message}")),
        None => Error::Job(format!("schema: {message}")),
    }
}

impl Schema {
    /// Reads a declared schema (JSON) and resolves its scales.
    pub fn from_json(bytes: &[u8]) -> Result<Schema> {
        let s: Schema = serde_json::from_slice(bytes).map_err(|e| bad(None, e))?;
        s.resolve()
    }

    /// Checks a declaration and fills in the scales it leaves out.
    pub fn resolve(mut self) -> Result<Schema> {
        if !(2..=commitment::MAX_VALUE_BITS).contains(&self.value_bits) {
            return Err(bad(
                None,
                format!(
                    "value_bits must be 2..={}, not {}",
                    commitment::MAX_VALUE_BITS,
                    self.value_bits
                ),
            ));
        }
        if self.columns.is_empty() || self.columns.len() > MAX_COLUMNS {
            return Err(bad(
                None,
                format!("1..={MAX_COLUMNS} columns, not {}", self.columns.len()),
            ));
        }
        let limit = ((1i64 << (self.value_bits - 1)) - 1) as f64;
        for i in 0..self.columns.len() {
            let c = &self.columns[i];
            let name = c.name.as_str();
            if name.is_empty() || name.len() > 256 {
                return Err(bad(None, "column names are 1-256 bytes"));
            }
            if self.columns[..i].iter().any(|d| d.name == c.name) {
                return Err(bad(Some(name), "declared twice"));
            }
            if !c.min.is_finite() || !c.max.is_finite() || c.min > c.max {
                return Err(bad(Some(name), "min and max must be finite, min <= max"));
            }
            if let Some(codes) = &c.codes {
                let ascending = codes.windows(2).all(|w| w[0] < w[1]);
                let inside = codes
                    .iter()
                    .all(|k| (*k as f64) >= c.min && (*k as f64) <= c.max);
                if c.kind != Kind::Integer
                    || codes.is_empty()
                    || codes.len() > MAX_CODES
                    || !ascending
                    || !inside
                {
                    return Err(bad(
                        Some(name),
                        format!("codes are 1..={MAX_CODES} ascending integers inside [min, max] of an integer column"),
                    ));
                }
            }
            let top = c.min.abs().max(c.max.abs());
            let scale = match (c.kind, c.scale) {
                (Kind::Integer, None | Some(0)) => {
                    if c.min.fract() != 0.0 || c.max.fract() != 0.0 {
                        return Err(bad(
                            Some(name),
                            "an integer column's min and max are integers",
                        ));
                    }
                    0
                }
                (Kind::Integer, Some(_)) => {
                    return Err(bad(Some(name), "integer columns have scale 0"))
                }
                (Kind::Real, Some(s)) => s,
                (Kind::Real, None) if top == 0.0 => 0,
                (Kind::Real, None) => {
                    let mut s = ((limit / top).log2().floor() as i32).min(MAX_SCALE);
                    while (top * 2f64.powi(s)).round() > limit {
                        s -= 1;
                    }
                    s
                }
            };
            if c.scale.is_none() && scale < MIN_SCALE {
                return Err(bad(
                    Some(name),
                    format!(
                        "the range [{}, {}] does not fit {}-bit values at any scale down to 2^{MIN_SCALE}",
                        c.min, c.max, self.value_bits
                    ),
                ));
            }
            if !(MIN_SCALE..=MAX_SCALE).contains(&scale) {
                return Err(bad(
                    Some(name),
                    format!("scale must be {MIN_SCALE}..={MAX_SCALE}, not {scale}"),
                ));
            }
            if (top * 2f64.powi(scale)).round() > limit {
                return Err(bad(
                    Some(name),
                    format!(
                        "the range [{}, {}] does not fit {}-bit values at scale 2^{scale}",
                        c.min, c.max, self.value_bits
                    ),
                ));
            }
            self.columns[i].scale = Some(scale);
        }
        Ok(self)
    }

    /// A schema for rows already read, for the owner to review: integer or
    /// real per column, and ranges widened outward to one significant
    /// digit (1, 2 or 5 times a power of ten), so the declared bounds do not
    /// publish any row's value.
    pub fn infer(names: &[String], columns: &[Vec<f64>], value_bits: usize) -> Result<Schema> {
        let columns = names
            .iter()
            .zip(columns)
            .map(|(name, col)| {
                let lo = col.iter().copied().fold(0f64, f64::min);
                let hi = col.iter().copied().fold(0f64, f64::max);
                let (min, max) = (0.0 - round_up(-lo), round_up(hi));
                // Whole numbers too wide for the stored bits are reals at a
                // negative scale.
                let limit = ((1i64 << (value_bits.clamp(2, 63) - 1)) - 1) as f64;
                let integer =
                    col.iter().all(|v| v.fract() == 0.0) && min.abs().max(max.abs()) <= limit;
                Column {
                    name: name.clone(),
                    kind: if integer { Kind::Integer } else { Kind::Real },
                    min,
                    max,
                    scale: None,
                    codes: None,
                }
            })
            .collect();
        Schema {
            value_bits,
            columns,
        }
        .resolve()
    }

    /// Column names, in order.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// Every column's scale.
    pub fn scales(&self) -> Vec<i32> {
        self.columns.iter().map(Column::scale).collect()
    }

    /// SHA-256 of the schema's JSON (the on-chain registry's schema hash).
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(serde_json::to_vec(self).expect("schemas serialize")).into()
    }
}

/// The least of 1, 2 or 5 times a power of ten that is at least `v >= 0`
/// (0 stays 0).
fn round_up(v: f64) -> f64 {
    if v <= 0.0 {
        return 0.0;
    }
    let mut p = 10f64.powi(v.log10().floor() as i32);
    loop {
        for m in [1.0, 2.0, 5.0] {
            if m * p >= v {
                return m * p;
            }
        }
        p *= 10.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, kind: Kind, min: f64, max: f64, scale: Option<i32>) -> Column {
        Column {
            name: name.into(),
            kind,
            min,
            max,
            scale,
            codes: None,
        }
    }

    /// The error resolving a schema of the one column `c`.
    fn refusal(c: Column) -> String {
        Schema {
            value_bits: 16,
            columns: vec![c],
        }
        .resolve()
        .unwrap_err()
        .to_string()
    }

    #[test]
    fn a_categorical_column_admits_its_codes_only() {
        let mut c = col("dept", Kind::Integer, 0.0, 10.0, None);
        c.codes = Some(vec![1, 3, 7]);
        let s = Schema {
            value_bits: 16,
            columns: vec![c.clone()],
        }
        .resolve()
        .unwrap();
        let d = &s.columns[0];
        assert!(d.admits(3.0) && d.admits(7.0));
        assert!(!d.admits(2.0) && !d.admits(3.5) && !d.admits(11.0));
        // Codes are kept in the JSON, and absent when not declared (so a
        // schema without codes reads and hashes as before).
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"codes\":[1,3,7]"), "{json}");
        let plain = col("x", Kind::Integer, 0.0, 1.0, None);
        assert!(!serde_json::to_string(&plain).unwrap().contains("codes"));
        for (codes, kind) in [
            (vec![3, 1], Kind::Integer),
            (vec![], Kind::Integer),
            (vec![1, 12], Kind::Integer),
            (vec![1, 2], Kind::Real),
        ] {
            let mut c = col("dept", kind, 0.0, 10.0, None);
            c.codes = Some(codes.clone());
            let e = refusal(c);
            assert!(e.contains("codes are"), "{codes:?} {kind:?}: {e}");
        }
    }

    #[test]
    fn scales_follow_from_declared_ranges() {
        let s = Schema {
            value_bits: 16,
            columns: vec![
                col("age", Kind::Integer, 0.0, 120.0, None),
                col("x", Kind::Real, -4.0, 3.0, None),
                col("y", Kind::Real, 0.0, 1.0, Some(8)),
            ],
        }
        .resolve()
        .unwrap();
        assert_eq!(s.scales(), vec![0, 12, 8]);
        assert_eq!(s.columns[1].range(), (-4 << 12, 3 << 12));
        assert!(s.columns[0].admits(120.0) && !s.columns[0].admits(121.0));
        assert!(!s.columns[0].admits(1.5), "integers only");
    }

    #[test]
    fn bad_declarations_name_the_column() {
        for (c, want) in [
            (col("a", Kind::Integer, 0.0, 1.5, None), "integers"),
            (col("a", Kind::Real, 2.0, 1.0, None), "min <= max"),
            (col("a", Kind::Real, 0.0, 1e9, Some(8)), "does not fit"),
            (col("a", Kind::Integer, 0.0, 1.0, Some(3)), "scale 0"),
        ] {
            let e = refusal(c);
            assert!(e.contains("column `a`") && e.contains(want), "{e}");
        }
        let dup = Schema {
            value_bits: 16,
            columns: vec![
                col("a", Kind::Real, 0.0, 1.0, None),
                col("a", Kind::Real, 0.0, 1.0, None),
            ],
        };
        assert!(dup.resolve().unwrap_err().to_string().contains("twice"));
        assert!(Schema::from_json(br#"{"columns":[],"extra":1}"#).is_err());
    }

    #[test]
    fn inferred_ranges_are_coarse() {
        let s = Schema::infer(
            &["a".into(), "b".into()],
            &[vec![3.0, 87.0], vec![-0.013, 0.42]],
            16,
        )
        .unwrap();
        assert_eq!(s.columns[0].kind, Kind::Integer);
        assert_eq!((s.columns[0].min, s.columns[0].max), (0.0, 100.0));
        assert_eq!(s.columns[1].kind, Kind::Real);
        assert_eq!((s.columns[1].min, s.columns[1].max), (-0.02, 0.5));
    }
}
