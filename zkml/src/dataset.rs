//! Datasets: CSV in, quantized columns out, and their commitment.
//!
//! A dataset is read against its declared [`Schema`] (public): the header
//! must name the declared columns in order, every cell must lie in its
//! column's declared range, and each value is stored at its column's
//! declared scale. [`Schema::infer`] proposes a schema from the rows for the
//! owner to review, with ranges widened to one significant digit. Values
//! and salts are never public.

use crate::error::{Error, Result};
use ark_ff::UniformRand;
use std::io::Read;
use zkgate_circuits::commitment::{self, Shape};
use zkgate_circuits::shard;
use zkgate_circuits::Fr;
use zkgate_statement::schema::{Kind, Schema};

pub use zkgate_statement::schema::{DEFAULT_VALUE_BITS, MAX_COLUMNS};
/// Most rows one dataset may hold.
pub const MAX_ROWS: usize = 1 << 20;

/// A quantized dataset (in memory only).
#[derive(Clone, PartialEq)]
pub struct Dataset {
    /// The declared schema its values were read against.
    pub schema: Schema,
    /// Column-major quantized values.
    pub values: Vec<Vec<i64>>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("schema", &self.schema)
            .field("rows", &self.rows())
            .finish_non_exhaustive()
    }
}

/// CSV cells as read: column names and column-major numbers.
struct Raw {
    columns: Vec<String>,
    cells: Vec<Vec<f64>>,
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
    /// Reads a CSV file (header row, numeric cells) against its declared
    /// schema.
    pub fn from_csv_path(path: impl AsRef<std::path::Path>, schema: &Schema) -> Result<Self> {
        Self::from_raw(read_raw(open(path.as_ref())?)?, schema)
    }

    /// Reads CSV data against its declared schema.
    pub fn from_csv_reader(r: impl Read, schema: &Schema) -> Result<Self> {
        Self::from_raw(read_raw(r)?, schema)
    }

    /// Proposes a schema for a CSV file (see [`Schema::infer`]): for the
    /// owner to review before importing, never published unseen.
    pub fn infer_schema_path(
        path: impl AsRef<std::path::Path>,
        value_bits: usize,
    ) -> Result<Schema> {
        let raw = read_raw(open(path.as_ref())?)?;
        Ok(Schema::infer(&raw.columns, &raw.cells, value_bits)?)
    }

    /// Reads CSV data against the schema [`Schema::infer`] proposes for it
    /// (tests, benchmarks and local runs).
    pub fn infer_from_csv(r: impl Read, value_bits: usize) -> Result<Self> {
        let raw = read_raw(r)?;
        let schema = Schema::infer(&raw.columns, &raw.cells, value_bits)?;
        Self::from_raw(raw, &schema)
    }

    fn from_raw(raw: Raw, schema: &Schema) -> Result<Self> {
        let names = schema.names();
        if raw.columns != names {
            return Err(csv_err(
                Some(1),
                None,
                format!(
                    "the header must name the declared columns in order ({})",
                    names.join(", ")
                ),
            ));
        }
        let mut values = Vec::with_capacity(names.len());
        for (col, decl) in raw.cells.iter().zip(&schema.columns) {
            if let Some(r) = col.iter().position(|v| !decl.admits(*v)) {
                return Err(csv_err(
                    Some(r as u64 + 2),
                    Some(&decl.name),
                    match &decl.codes {
                        Some(codes) if col[r] >= decl.min && col[r] <= decl.max => {
                            format!("`{}` is not one of the declared codes {codes:?}", col[r])
                        }
                        _ => format!(
                            "`{}` is outside the declared {} range [{}, {}]",
                            col[r],
                            match decl.kind {
                                Kind::Integer => "integer",
                                Kind::Real => "real",
                            },
                            decl.min,
                            decl.max
                        ),
                    },
                ));
            }
            let q: Vec<i64> = col.iter().map(|v| decl.quantize(*v)).collect();
            debug_assert!(q.iter().all(|v| commitment::fits(*v, schema.value_bits)));
            values.push(q);
        }
        Ok(Dataset {
            schema: schema.clone(),
            values,
        })
    }

    /// Column names, in order.
    pub fn columns(&self) -> Vec<String> {
        self.schema.names()
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }

    /// The index of a column.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.schema
            .columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| Error::Job(format!("the dataset has no column `{name}`")))
    }

    /// The value a stored integer stands for.
    pub fn dequantize(&self, column: usize, row: usize) -> f64 {
        self.values[column][row] as f64 / 2f64.powi(self.schema.columns[column].scale())
    }

    /// The public shape bound into the commitment.
    pub fn shape(&self) -> Shape {
        Shape {
            rows: self.rows() as u64,
            columns: self.schema.columns.len() as u64,
            value_bits: self.schema.value_bits,
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

/// Where a CSV's declared schema lives: next to it, `NAME.schema.json` for
/// `NAME.csv`.
pub fn schema_path(csv: &std::path::Path) -> std::path::PathBuf {
    csv.with_extension("schema.json")
}

/// Reads the declared schema next to a CSV (see [`schema_path`]).
pub fn declared_schema(csv: &std::path::Path) -> Result<Schema> {
    let p = schema_path(csv);
    let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
    Ok(Schema::from_json(&bytes)?)
}

fn open(path: &std::path::Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|e| Error::io(path, e))
}

/// Reads a CSV's header and numeric cells, checking the shape.
fn read_raw(r: impl Read) -> Result<Raw> {
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
    Ok(Raw {
        columns,
        cells: raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(json: &str) -> Schema {
        Schema::from_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn quantizes_per_declared_column() {
        let csv = "a,b,label\n1.5,1000,0\n-0.25,2000,1\n0.75,4000,1\n";
        let s = schema(
            r#"{"columns":[{"name":"a","type":"real","min":-2,"max":2},
                {"name":"b","type":"integer","min":0,"max":10000},
                {"name":"label","type":"integer","min":0,"max":1}]}"#,
        );
        let d = Dataset::from_csv_reader(csv.as_bytes(), &s).unwrap();
        assert_eq!(d.rows(), 3);
        assert_eq!(
            d.schema.scales(),
            vec![13, 0, 0],
            "2 * 2^14 = 32768 would not fit 16 signed bits"
        );
        assert_eq!(d.values[2], vec![0, 1, 1]);
        assert!((d.dequantize(0, 1) + 0.25).abs() < 1e-9);
    }

    #[test]
    fn rows_outside_the_declared_range_are_refused_with_the_column() {
        let s = schema(
            r#"{"columns":[{"name":"a","type":"real","min":0,"max":1},
                {"name":"n","type":"integer","min":0,"max":9}]}"#,
        );
        let e = Dataset::from_csv_reader("a,n\n0.5,3\n1.5,3\n".as_bytes(), &s).unwrap_err();
        assert!(e.to_string().contains("line 3, column `a`"), "{e}");
        assert!(e.to_string().contains("declared real range [0, 1]"), "{e}");
        let e = Dataset::from_csv_reader("a,n\n0.5,2.5\n".as_bytes(), &s).unwrap_err();
        assert!(e.to_string().contains("column `n`"), "{e}");
        let e = Dataset::from_csv_reader("n,a\n1,0.5\n".as_bytes(), &s).unwrap_err();
        assert!(e.to_string().contains("declared columns in order"), "{e}");
    }

    #[test]
    fn bad_csv_is_a_clear_error() {
        let e = Dataset::infer_from_csv("a,b\n1,2\n3,abc\n".as_bytes(), 16).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad CSV at line 3, column `b`: `abc` is not a number"
        );
        let e = Dataset::infer_from_csv("a,b\n1,2\n3\n".as_bytes(), 16).unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = Dataset::infer_from_csv("a,a\n1,2\n".as_bytes(), 16).unwrap_err();
        assert!(e.to_string().contains("duplicate"), "{e}");
        let e = Dataset::infer_from_csv("a,b\n".as_bytes(), 16).unwrap_err();
        assert!(e.to_string().contains("no rows"), "{e}");
        let e = Dataset::infer_from_csv("a,b\n1,NaN\n".as_bytes(), 16).unwrap_err();
        assert!(e.to_string().contains("finite"), "{e}");
    }

    #[test]
    fn a_range_too_wide_for_the_stored_bits_is_a_clear_error() {
        let e = Dataset::infer_from_csv("a,b\n1,1e30\n2,3\n".as_bytes(), 16).unwrap_err();
        assert!(e.to_string().contains("column `b`"), "{e}");
        assert!(e.to_string().contains("does not fit 16-bit"), "{e}");
        // Whole numbers wider than the stored bits become reals at a
        // negative scale.
        let d = Dataset::infer_from_csv("a\n100000\n3\n".as_bytes(), 16).unwrap();
        assert_eq!(d.schema.columns[0].kind, Kind::Real);
        assert!(d.schema.columns[0].scale() < 0);
    }

    #[test]
    fn secrets_are_redacted_and_commitments_hide() {
        let d = Dataset::infer_from_csv("a\n1\n2\n".as_bytes(), 8).unwrap();
        let mut rng = rand::thread_rng();
        let (s1, s2) = (Secret::random(&mut rng), Secret::random(&mut rng));
        assert_eq!(format!("{s1:?}"), "Secret(<redacted>)");
        assert_ne!(d.commitment(&s1), d.commitment(&s2));
        assert_eq!(d.commitment(&s1), d.commitment(&s1));
    }
}
