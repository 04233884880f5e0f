//! Datasets: CSV in, quantized columns out, and their commitment.
//!
//! Every column gets its own power-of-two scale: a column whose values are
//! all integers that fit is stored exactly (scale 0; labels, counts, pixel
//! levels), any other column gets the largest scale at which its largest
//! magnitude still fits `value_bits` signed bits. Scales are public (they
//! are part of the schema); values and salts are not.

use crate::error::{Error, Result};
use ark_ff::UniformRand;
use std::io::Read;
use zkgate_circuits::commitment::{self, Shape};
use zkgate_circuits::shard;
use zkgate_circuits::Fr;

/// Default bits per stored value.
pub const DEFAULT_VALUE_BITS: usize = 16;
/// Most rows one dataset may hold.
pub const MAX_ROWS: usize = 1 << 20;
/// Most columns one dataset may hold.
pub const MAX_COLUMNS: usize = 4096;
/// Lowest column scale: a column whose magnitudes need less precision than
/// `2^-MIN_SCALE` per step is rejected as overflowing.
pub const MIN_SCALE: i32 = -8;

/// A quantized dataset (in memory only).
#[derive(Clone, PartialEq)]
pub struct Dataset {
    /// Column names, in file order.
    pub columns: Vec<String>,
    /// Bits per stored value.
    pub value_bits: usize,
    /// Per column: a stored integer `q` stands for `q / 2^scale`.
    pub scales: Vec<i32>,
    /// Column-major quantized values.
    pub values: Vec<Vec<i64>>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("columns", &self.columns)
            .field("rows", &self.rows())
            .field("value_bits", &self.value_bits)
            .field("scales", &self.scales)
            .finish_non_exhaustive()
    }
}

/// The dataset's secret salt (it makes the commitment hiding).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret(pub Fr);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// A fresh random secret.
    pub fn random<R: rand::RngCore + rand::CryptoRng>(rng: &mut R) -> Self {
        Secret(Fr::rand(rng))
    }
}

fn csv_err(line: Option<u64>, column: Option<&str>, message: impl Into<String>) -> Error {
    Error::Csv {
        line,
        column: column.map(str::to_string),
        message: message.into(),
    }
}

impl Dataset {
    /// Reads and quantizes a CSV file (header row, numeric cells).
    pub fn from_csv_path(path: impl AsRef<std::path::Path>, value_bits: usize) -> Result<Self> {
        let path = path.as_ref();
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        Self::from_csv_reader(f, value_bits)
    }

    /// Reads and quantizes CSV data.
    pub fn from_csv_reader(r: impl Read, value_bits: usize) -> Result<Self> {
        if !(2..=commitment::MAX_VALUE_BITS).contains(&value_bits) {
            return Err(Error::Job(format!(
                "value bits must be 2..={}, not {value_bits}",
                commitment::MAX_VALUE_BITS
            )));
        }
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(r);
        let columns: Vec<String> = rdr
            .headers()
            .map_err(|e| csv_err(Some(1), None, e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        if columns.is_empty() || columns.iter().any(String::is_empty) {
            return Err(csv_err(Some(1), None, "the header must name every column"));
        }
        if columns.len() > MAX_COLUMNS {
            return Err(csv_err(
                Some(1),
                None,
                format!(
                    "{} columns is over the limit of {MAX_COLUMNS}",
                    columns.len()
                ),
            ));
        }
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].contains(c) {
                return Err(csv_err(Some(1), Some(c), "duplicate column name"));
            }
        }
        let mut raw: Vec<Vec<f64>> = vec![Vec::new(); columns.len()];
        for (i, rec) in rdr.records().enumerate() {
            let line = i as u64 + 2;
            let rec = rec.map_err(|e| csv_err(Some(line), None, e.to_string()))?;
            if rec.len() != columns.len() {
                return Err(csv_err(
                    Some(line),
                    None,
                    format!("{} cells, the header has {}", rec.len(), columns.len()),
                ));
            }
            if i >= MAX_ROWS {
                return Err(csv_err(
                    Some(line),
                    None,
                    format!("more than {MAX_ROWS} rows"),
                ));
            }
            for (j, cell) in rec.iter().enumerate() {
                let v: f64 = cell.parse().map_err(|_| {
                    csv_err(
                        Some(line),
                        Some(&columns[j]),
                        format!("`{cell}` is not a number"),
                    )
                })?;
                if !v.is_finite() {
                    return Err(csv_err(
                        Some(line),
                        Some(&columns[j]),
                        format!("`{cell}` is not a finite number"),
                    ));
                }
                raw[j].push(v);
            }
        }
        if raw[0].is_empty() {
            return Err(csv_err(None, None, "no rows"));
        }
        let mut scales = Vec::with_capacity(columns.len());
        let mut values = Vec::with_capacity(columns.len());
        for (j, col) in raw.iter().enumerate() {
            let scale = choose_scale(col, value_bits);
            if scale < MIN_SCALE {
                let (row, v) = col
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                    .expect("non-empty");
                return Err(Error::Overflow(format!(
                    "column `{}`, line {}: {v} does not fit {value_bits}-bit fixed point (it would need scale 2^{scale}, the least allowed is 2^{MIN_SCALE})",
                    columns[j],
                    row + 2
                )));
            }
            let q: Vec<i64> = col.iter().map(|v| quantize(*v, scale)).collect();
            debug_assert!(q.iter().all(|v| commitment::fits(*v, value_bits)));
            scales.push(scale);
            values.push(q);
        }
        Ok(Dataset {
            columns,
            value_bits,
            scales,
            values,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }

    /// The index of a column.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| Error::Job(format!("the dataset has no column `{name}`")))
    }

    /// The value a stored integer stands for.
    pub fn dequantize(&self, column: usize, row: usize) -> f64 {
        self.values[column][row] as f64 / 2f64.powi(self.scales[column])
    }

    /// The public shape bound into the commitment.
    pub fn shape(&self) -> Shape {
        Shape {
            rows: self.rows() as u64,
            columns: self.columns.len() as u64,
            value_bits: self.value_bits,
        }
    }

    /// Row `r`'s values.
    pub fn row(&self, r: usize) -> Vec<i64> {
        self.values.iter().map(|c| c[r]).collect()
    }

    /// The dataset commitment.
    pub fn commitment(&self, secret: &Secret) -> Fr {
        let rows = self.row_major();
        commitment::commit(self.shape(), secret.0, rows.iter().map(Vec::as_slice))
    }

    /// Every row, in order.
    fn row_major(&self) -> Vec<Vec<i64>> {
        (0..self.rows()).map(|r| self.row(r)).collect()
    }

    /// The commitment chain cut into shards of `shard_rows` rows (see
    /// `zkgate_circuits::shard::cuts`); the last cut holds the commitment.
    pub fn cuts(&self, secret: &Secret, shard_rows: u64) -> Vec<shard::Cut> {
        let rows = self.row_major();
        shard::cuts(
            self.shape(),
            secret.0,
            rows.iter().map(Vec::as_slice),
            shard_rows,
        )
    }
}

/// Largest value that fits, as a float.
fn max_stored(value_bits: usize) -> f64 {
    ((1i64 << (value_bits - 1)) - 1) as f64
}

fn choose_scale(col: &[f64], value_bits: usize) -> i32 {
    let max_abs = col.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let limit = max_stored(value_bits);
    if col.iter().all(|v| v.fract() == 0.0) && max_abs <= limit {
        return 0;
    }
    if max_abs == 0.0 {
        return 0;
    }
    let mut s = (limit / max_abs).log2().floor() as i32;
    // Guard against rounding up past the limit.
    while (max_abs * 2f64.powi(s)).round() > limit {
        s -= 1;
    }
    s.min(60)
}

fn quantize(v: f64, scale: i32) -> i64 {
    (v * 2f64.powi(scale)).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantizes_per_column() {
        let csv = "a,b,label\n1.5,1000,0\n-0.25,2000,1\n0.75,4000,1\n";
        let d = Dataset::from_csv_reader(csv.as_bytes(), 16).unwrap();
        assert_eq!(d.rows(), 3);
        assert_eq!(d.scales[2], 0, "integer labels are stored exactly");
        assert_eq!(d.values[2], vec![0, 1, 1]);
        assert_eq!(d.scales[1], 0);
        assert_eq!(
            d.scales[0], 14,
            "1.5 * 2^14 = 24576 fits 15 bits, 2^15 would not"
        );
        assert!((d.dequantize(0, 1) + 0.25).abs() < 1e-9);
    }

    #[test]
    fn bad_csv_is_a_clear_error() {
        let e = Dataset::from_csv_reader("a,b\n1,2\n3,abc\n".as_bytes(), 16).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad CSV at line 3, column `b`: `abc` is not a number"
        );
        let e = Dataset::from_csv_reader("a,b\n1,2\n3\n".as_bytes(), 16).unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = Dataset::from_csv_reader("a,a\n1,2\n".as_bytes(), 16).unwrap_err();
        assert!(e.to_string().contains("duplicate"), "{e}");
        let e = Dataset::from_csv_reader("a,b\n".as_bytes(), 16).unwrap_err();
        assert!(e.to_string().contains("no rows"), "{e}");
        let e = Dataset::from_csv_reader("a,b\n1,NaN\n".as_bytes(), 16).unwrap_err();
        assert!(e.to_string().contains("finite"), "{e}");
    }

    #[test]
    fn overflow_is_a_clear_error() {
        let e = Dataset::from_csv_reader("a,b\n1,1e30\n2,3\n".as_bytes(), 16).unwrap_err();
        assert!(matches!(e, Error::Overflow(_)), "{e}");
        assert!(e.to_string().contains("column `b`, line 2"), "{e}");
    }

    #[test]
    fn secrets_are_redacted_and_commitments_hide() {
        let d = Dataset::from_csv_reader("a\n1\n2\n".as_bytes(), 8).unwrap();
        let mut rng = rand::thread_rng();
        let (s1, s2) = (Secret::random(&mut rng), Secret::random(&mut rng));
        assert_eq!(format!("{s1:?}"), "Secret(<redacted>)");
        assert_ne!(d.commitment(&s1), d.commitment(&s2));
        assert_eq!(d.commitment(&s1), d.commitment(&s1));
    }
}
