//! A dataset's public mock twin: a CSV with the declared schema's header
//! and synthetic rows drawn uniformly from each column's declared range at
//! its declared scale. It is made from the dataset's public facts alone
//! (schema, row count, commitment as the seed), never from its rows, so it
//! reveals nothing the catalogue does not; researchers try models on it
//! (`zkgate prove` on the mock, `zkgate submit --dry-run`) before the
//! owner spends anything.

use crate::store::DatasetMeta;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use zkgate_statement::schema::Kind;

/// Most rows a mock has (a larger dataset's mock has this many).
pub const MAX_ROWS: u64 = 10_000;

/// The mock twin of `meta` as CSV text: `min(rows, MAX_ROWS)` rows, the
/// same for every call (seeded by the public commitment).
pub fn csv(meta: &DatasetMeta) -> String {
    let seed: [u8; 32] = Sha256::new()
        .chain_update(b"zkgate mock\0")
        .chain_update(meta.name.as_bytes())
        .chain_update([0])
        .chain_update(meta.commitment.as_bytes())
        .finalize()
        .into();
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
    let columns = &meta.schema.columns;
    let mut out = columns
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for _ in 0..meta.rows.min(MAX_ROWS) {
        let row: Vec<String> = columns
            .iter()
            .map(|c| {
                // A stored integer in the declared range, written as the
                // value it stands for (exact in binary, and the shortest
                // decimal that reads back to it).
                let (lo, hi) = c.range();
                let q = rng.gen_range(lo..=hi);
                match c.kind {
                    Kind::Integer => q.to_string(),
                    Kind::Real => {
                        let v = q as f64 / 2f64.powi(c.scale());
                        // Rounding to the step can land just outside a
                        // declared bound that is not on the grid.
                        v.clamp(c.min, c.max).to_string()
                    }
                }
            })
            .collect();
        out += &row.join(",");
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkgate_statement::Schema;
    use zkgate_zkml::dataset::Dataset;

    fn meta(rows: u64, commitment: &str) -> DatasetMeta {
        let schema = Schema::from_json(
            br#"{"value_bits": 16, "columns": [
                {"name": "age", "type": "integer", "min": 18, "max": 90},
                {"name": "dose", "type": "real", "min": -2.5, "max": 7.3},
                {"name": "label", "type": "integer", "min": 0, "max": 1}]}"#,
        )
        .unwrap();
        DatasetMeta {
            name: "trial".into(),
            schema,
            rows,
            commitment: commitment.into(),
            price: 0,
            created: 0,
            shard_rows: None,
            ezkl_hash: None,
        }
    }

    #[test]
    fn a_mock_imports_against_its_schema_and_covers_the_ranges() {
        let m = meta(2_000, "0x01");
        let text = csv(&m);
        let d = Dataset::from_csv_reader(text.as_bytes(), &m.schema).unwrap();
        assert_eq!(d.rows(), 2_000);
        assert_eq!(d.schema, m.schema);
        // Uniform over the declared ranges: both ends of a small range
        // appear, and the values spread over a wide one.
        let ages: Vec<i64> = (0..d.rows()).map(|r| d.row(r)[0]).collect();
        assert!(ages.contains(&18) && ages.contains(&90));
        let labels: std::collections::BTreeSet<i64> = (0..d.rows()).map(|r| d.row(r)[2]).collect();
        assert_eq!(labels.len(), 2);
        let doses: Vec<f64> = (0..d.rows()).map(|r| d.dequantize(1, r)).collect();
        assert!(doses.iter().any(|v| *v < -2.0) && doses.iter().any(|v| *v > 6.8));
    }

    #[test]
    fn a_mock_is_fixed_by_public_facts_and_capped() {
        let m = meta(50, "0x01");
        assert_eq!(csv(&m), csv(&m));
        assert_ne!(csv(&m), csv(&meta(50, "0x02")));
        assert_eq!(
            csv(&meta(MAX_ROWS * 3, "0x01")).lines().count() as u64,
            MAX_ROWS + 1
        );
        assert_eq!(csv(&meta(0, "0x01")).lines().count(), 1);
    }
}
