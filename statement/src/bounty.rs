//! Evaluation bounties: what a bounty fixes of every entry's circuit, and
//! the metric its entries are ranked by.
//!
//! A circuit's id is SHA-256 of its header's JSON, whose fields come in a
//! fixed order. A bounty fixes the middle of that text, from `"schema"` to
//! the aggregate (the [`Template`]: the dataset's schema, the
//! quantization, the input columns, the label column and the aggregate);
//! the head before it is the format version and the row counts, which the
//! contract writes itself, and the tail after it (`"params"` to the end)
//! is the entrant's model. The contract recomputes each key's circuit id
//! from `head || template || tail` and refuses a key whose circuit is not
//! the bounty's question: a header is its circuit's own serialization
//! (the id is its hash), so a byte-exact middle at a fixed place fixes
//! those fields, and nothing in the tail can repeat them.

use crate::aggregate::Aggregate;
use crate::columns::Columns;
use crate::error::{Error, Result};
use crate::header::SpecHeader;
use crate::quant::QuantConfig;
use crate::schema::Schema;
use serde::{Deserialize, Serialize};

/// The fields of an entry's circuit a bounty fixes, in the header's order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// The dataset's declared schema.
    pub schema: Schema,
    /// The quantization settings.
    pub quant: QuantConfig,
    /// Columns feeding the model.
    pub input_columns: Vec<usize>,
    /// The label column.
    pub label_column: Option<usize>,
    /// The aggregate the metric is read from.
    pub aggregate: Aggregate,
}

/// The first bytes of a header: its version and shard size.
pub fn head(version: u32, shard_rows: u64) -> Vec<u8> {
    format!("{{\"version\":{version},\"shard_rows\":{shard_rows},").into_bytes()
}

/// Where a header's tail begins.
const TAIL_START: &[u8] = b"\"params\":";

impl Template {
    /// The template of a question over `schema` asking for `aggregate`
    /// of the model fed `inputs` (by default every column but the label).
    pub fn new(
        schema: &Schema,
        quant: QuantConfig,
        inputs: Option<&[String]>,
        aggregate: Aggregate,
    ) -> Result<Template> {
        let names = schema.names();
        let c = Columns::resolve(&names, inputs, aggregate.label())
            .map_err(|e| Error::Job(e.to_string()))?;
        Ok(Template {
            schema: schema.clone(),
            quant,
            input_columns: c.inputs,
            label_column: c.label,
            aggregate,
        })
    }

    /// The template as it stands in a header: from `"schema":` to the comma
    /// before `"params":`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = serde_json::to_vec(self).expect("templates serialize");
        // `{...}` to `...,`
        b.remove(0);
        *b.last_mut().expect("an object") = b',';
        b
    }

    /// Reads [`Template::to_bytes`]'s text, refusing anything it would not
    /// write.
    pub fn from_bytes(b: &[u8]) -> Result<Template> {
        let bad = |why: String| Error::Serialization(format!("bounty template: {why}"));
        let inner = b
            .strip_suffix(b",")
            .ok_or_else(|| bad("it does not end with a comma".into()))?;
        let mut text = Vec::with_capacity(b.len() + 1);
        text.push(b'{');
        text.extend_from_slice(inner);
        text.push(b'}');
        let t: Template = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        if t.to_bytes() != b {
            return Err(bad("it is not in the canonical form".into()));
        }
        Ok(t)
    }

    /// The column names the template feeds the model, in order.
    pub fn input_names(&self) -> Vec<String> {
        let names = self.schema.names();
        self.input_columns
            .iter()
            .map(|j| names[*j].clone())
            .collect()
    }
}

/// A header cut as a bounty's contract reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parts {
    /// Version and row counts ([`head`]).
    pub head: Vec<u8>,
    /// The [`Template`]'s bytes.
    pub template: Vec<u8>,
    /// `"params":` to the end: what the entrant's model fixes.
    pub tail: Vec<u8>,
}

impl SpecHeader {
    /// The template of this circuit (what a bounty would fix of it).
    pub fn template(&self) -> Template {
        Template {
            schema: self.schema.clone(),
            quant: self.quant,
            input_columns: self.input_columns.clone(),
            label_column: self.label_column,
            aggregate: self.aggregate.clone(),
        }
    }

    /// This header's JSON (whose hash is its id) cut into its head, its
    /// template and its tail.
    pub fn parts(&self) -> Parts {
        let json = self.circuit_json();
        let head = head(self.version, self.shard_rows);
        let template = self.template().to_bytes();
        assert!(
            json.starts_with(&head)
                && json[head.len()..].starts_with(&template)
                && json[head.len() + template.len()..].starts_with(TAIL_START),
            "a header serializes as head, template, tail"
        );
        let tail = json[head.len() + template.len()..].to_vec();
        Parts {
            head,
            template,
            tail,
        }
    }
}

/// What a bounty ranks its entries by. The contract computes each score
/// from the entry's released values, as a fixed-point number with 27
/// decimals (`SCALE`), rounded down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Correct rows over rows (from `accuracy`, or a confusion matrix's
    /// diagonal). Higher is better.
    Accuracy,
    /// The mean over labels of each label's recall, labels with no rows
    /// left out (from a confusion matrix). Higher is better.
    BalancedAccuracy,
    /// `2 TP / (2 TP + FP + FN)` for class 1 (a two-class confusion
    /// matrix). Higher is better.
    F1,
    /// The mean squared error. Lower is better.
    Mse,
    /// The mean absolute error. Lower is better.
    Mae,
}

/// The scores' fixed point: 10^27.
pub const SCALE_DECIMALS: u32 = 27;

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 5] = [
        Metric::Accuracy,
        Metric::BalancedAccuracy,
        Metric::F1,
        Metric::Mse,
        Metric::Mae,
    ];

    /// The contract's number for it.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The metric the contract numbers `c`.
    pub fn from_code(c: u8) -> Option<Metric> {
        Metric::ALL.get(usize::from(c)).copied()
    }

    /// Its name, as the CLI takes it.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BalancedAccuracy => "balanced_accuracy",
            Metric::F1 => "f1",
            Metric::Mse => "mse",
            Metric::Mae => "mae",
        }
    }

    /// The metric called `name`.
    pub fn parse(name: &str) -> Result<Metric> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name.replace('-', "_"))
            .ok_or_else(|| {
                Error::Job(format!(
                    "unknown metric `{name}`: one of accuracy, balanced_accuracy, f1, mse, mae"
                ))
            })
    }

    /// Whether a lower score ranks higher.
    pub fn lower_is_better(self) -> bool {
        matches!(self, Metric::Mse | Metric::Mae)
    }

    /// Refuses an aggregate this metric cannot be read from.
    pub fn check(self, aggregate: &Aggregate) -> Result<()> {
        let ok = match self {
            Metric::Accuracy => matches!(
                aggregate,
                Aggregate::Accuracy { .. } | Aggregate::Confusion { .. }
            ),
            Metric::BalancedAccuracy | Metric::F1 => {
                matches!(aggregate, Aggregate::Confusion { .. })
            }
            Metric::Mse => matches!(aggregate, Aggregate::Mse { .. }),
            Metric::Mae => matches!(aggregate, Aggregate::Mae { .. }),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::Job(format!(
                "the metric `{}` is not read from `{}`: {}",
                self.name(),
                aggregate.name(),
                match self {
                    Metric::Accuracy => "use accuracy or confusion",
                    Metric::BalancedAccuracy | Metric::F1 => "use confusion",
                    Metric::Mse => "use mse",
                    Metric::Mae => "use mae",
                }
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::AggregateParams;

    fn schema() -> Schema {
        serde_json::from_value(serde_json::json!({
            "value_bits": 16,
            "columns": [
                {"name": "a", "type": "integer", "min": 0, "max": 10},
                {"name": "b", "type": "real", "min": -5, "max": 5, "scale": 2},
                {"name": "y", "type": "integer", "min": 0, "max": 1}
            ]
        }))
        .unwrap()
    }

    fn header() -> SpecHeader {
        let t = Template::new(
            &schema(),
            QuantConfig::default(),
            None,
            Aggregate::Confusion { label: "y".into() },
        )
        .unwrap();
        SpecHeader {
            version: crate::VERSION,
            shard_rows: 64,
            schema: t.schema,
            quant: t.quant,
            input_columns: t.input_columns,
            label_column: t.label_column,
            aggregate: t.aggregate,
            params: AggregateParams::new(2, 6),
            output_scale: 6,
            outputs: 2,
            onnx_sha256: "ab".repeat(32),
            plan_sha256: "cd".repeat(32),
            weights: None,
        }
    }

    #[test]
    fn a_header_is_its_head_template_and_tail() {
        let h = header();
        let p = h.parts();
        let whole = [p.head.clone(), p.template.clone(), p.tail.clone()].concat();
        assert_eq!(whole, serde_json::to_vec(&h).unwrap());
        assert!(p.tail.starts_with(TAIL_START));
        assert_eq!(Template::from_bytes(&p.template).unwrap(), h.template());
        assert_eq!(h.template().input_names(), ["a", "b"]);
        // Another shard size changes the head only.
        let other = h.with_shard_rows(36).parts();
        assert_ne!(other.head, p.head);
        assert_eq!((other.template, other.tail), (p.template, p.tail));
    }

    #[test]
    fn a_template_is_read_only_in_its_canonical_form() {
        let b = header().parts().template;
        assert!(Template::from_bytes(&b[..b.len() - 1]).is_err());
        let spaced = String::from_utf8(b.clone()).unwrap().replacen(':', ": ", 1);
        assert!(Template::from_bytes(spaced.as_bytes()).is_err());
    }

    #[test]
    fn metrics_read_only_their_aggregates() {
        let conf = Aggregate::Confusion { label: "y".into() };
        let mse = Aggregate::Mse { label: "y".into() };
        assert!(Metric::F1.check(&conf).is_ok());
        assert!(Metric::Accuracy.check(&conf).is_ok());
        assert!(Metric::Mse.check(&mse).is_ok());
        assert!(Metric::F1.check(&mse).is_err());
        assert!(Metric::Mse.check(&Aggregate::Mean).is_err());
        assert!(Metric::Accuracy.check(&Aggregate::Sum).is_err());
        for m in Metric::ALL {
            assert_eq!(Metric::from_code(m.code()), Some(m));
            assert_eq!(Metric::parse(m.name()).unwrap(), m);
        }
        assert_eq!(
            Metric::parse("balanced-accuracy").unwrap(),
            Metric::BalancedAccuracy
        );
        assert!(Metric::parse("auc").is_err());
    }
}
