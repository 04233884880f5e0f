//! One question over several owners' datasets: each owner's gateway
//! proves its own part, and the parts' proved values are pooled here.
//!
//! Every aggregate is a sum over rows of a per-row part, so the pooled
//! values are the parts' proved values added up and decoded over the
//! pooled row count: exact (counts, confusion cells, sums, squared and
//! absolute errors at their integer scale), never an average of averages.
//! Parts pool only when their values share one scale: the same model file,
//! aggregate, quantization and aggregate constants. Noise and small-cell
//! suppression are each owner's, per part; [`Pooled`] states what they do
//! to the pooled values.

use crate::header::SpecHeader;
use crate::question::Question;
use crate::receipt::Receipt;
use serde::{Deserialize, Serialize};

/// Format version of federated receipts.
pub const FEDERATION_VERSION: u32 = 1;

/// One part of a federation: a dataset at a gateway.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartName {
    /// The gateway's URL.
    pub gateway: String,
    /// The dataset's name there.
    pub dataset: String,
    /// Its id in the settlement contract's registry, when the part is
    /// settled on chain (one chain and contract for every part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_dataset: Option<u64>,
}

impl std::fmt::Display for PartName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (dataset `{}`)", self.gateway, self.dataset)
    }
}

/// What a federated question asks: which parts, and whether one refusal
/// fails the whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Federation {
    /// The parts, each once.
    pub parts: Vec<PartName>,
    /// Whether a part refused (or failed) leaves no answer at all.
    #[serde(default)]
    pub all_or_nothing: bool,
}

/// A part as the combined receipt carries it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// Which part.
    #[serde(flatten)]
    pub name: PartName,
    /// Its answer or its refusal.
    pub outcome: Outcome,
}

/// A part's answer, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Proved: the researcher's question to this gateway, the receipt that
    /// answers it and its verifying keys (`vk.bin`, hex).
    Answered {
        /// The question sent to this part.
        question: Box<Question>,
        /// The gateway's receipt.
        receipt: Box<Receipt>,
        /// Its verifying keys, hex.
        vk: String,
        /// Seconds from submission to the receipt.
        seconds: f64,
        /// The on-chain job the part settled (its escrow paid that
        /// dataset's owner).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chain_job: Option<u64>,
    },
    /// Refused by the owner's policy, or failed: the gateway's code and
    /// message.
    Refused {
        /// The stable error code.
        code: String,
        /// The message.
        message: String,
    },
}

/// The noise in pooled values: each noised part adds its owner's
/// independent discrete Laplace draw to every value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PooledNoise {
    /// How the pooled noise is distributed.
    pub distribution: String,
    /// Standard deviation of each pooled value's noise, in the values'
    /// units (the parts' variances added).
    pub std_dev: f64,
    /// Each noised part's epsilon (its owner's budget pays it; a person in
    /// several datasets pays the sum).
    pub epsilons: Vec<f64>,
}

/// The pooled answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pooled {
    /// Parts pooled (the answered ones).
    pub parts: usize,
    /// Rows over all pooled parts.
    pub rows: u64,
    /// The pooled values, decimal integers at the parts' common scales.
    pub values: Vec<String>,
    /// The pooled values read as numbers.
    pub result: serde_json::Value,
    /// Where a part suppressed small cells (published them as zero), the
    /// most each pooled value can be above what is shown: the sum, over
    /// the parts that published that value as zero, of their threshold
    /// minus one. Empty: nothing was suppressed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed_up_to: Vec<String>,
    /// The noise in the pooled values, if any part was noised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<PooledNoise>,
}

/// A federated receipt: the federation asked, each part's answer or
/// refusal, and the pooled answer (none when no part answered, or when
/// the question is all-or-nothing and a part refused).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Federated {
    /// Format version ([`FEDERATION_VERSION`]).
    pub version: u32,
    /// What was asked.
    pub federation: Federation,
    /// One entry per part, in the federation's order.
    pub parts: Vec<Part>,
    /// The pooled answer.
    pub pooled: Option<Pooled>,
}

/// What must agree between parts for their values to be added: the
/// header with what is each owner's own (rows, shard size, schema, the
/// plan built from it, suppression, noise) set aside.
fn scale_key(h: &SpecHeader) -> serde_json::Value {
    let mut params = h.params.clone();
    params.suppress_below = 0;
    params.noise = None;
    let names = h.schema.names();
    let col = |i: &usize| names.get(*i).cloned().unwrap_or_default();
    serde_json::json!({
        "aggregate": h.aggregate,
        "params": params,
        "output_scale": h.output_scale,
        "outputs": h.outputs,
        "onnx_sha256": h.onnx_sha256,
        "quant": h.quant,
        "inputs": h.input_columns.iter().map(col).collect::<Vec<_>>(),
        "label": h.label_column.as_ref().map(col),
    })
}

/// Pools the answered parts `(name, receipt)`: their proved values added
/// and decoded over their rows together. `Err` names the part whose
/// values do not share the first part's scales, or whose values cannot be
/// read.
pub fn pool(parts: &[(&PartName, &Receipt)]) -> Result<Pooled, String> {
    let Some((_, first)) = parts.first() else {
        return Err("no part answered".into());
    };
    let key = scale_key(&first.circuit);
    let mut values = vec![0i128; first.circuit.aggregate_len()];
    let mut up_to = vec![0i128; values.len()];
    let mut suppressed = false;
    let (mut rows, mut variance, mut epsilons) = (0u64, 0f64, Vec::new());
    for (name, r) in parts {
        let h = &r.circuit;
        if scale_key(h) != key {
            return Err(format!(
                "{name}: its values are not at the other parts' scales (another model, aggregate, quantization or column set)"
            ));
        }
        let v = r
            .aggregates()
            .map_err(|e| format!("{name}: its values cannot be read: {e}"))?;
        if v.len() != values.len() {
            return Err(format!(
                "{name}: it publishes {} values, not {}",
                v.len(),
                values.len()
            ));
        }
        for (i, x) in v.iter().enumerate() {
            values[i] = values[i]
                .checked_add(*x)
                .ok_or_else(|| format!("{name}: the pooled values overflow"))?;
            if h.suppresses() && *x == 0 {
                suppressed = true;
                up_to[i] += i128::from(h.params.suppress_below) - 1;
            }
        }
        rows = rows
            .checked_add(r.rows)
            .ok_or_else(|| format!("{name}: the pooled rows overflow"))?;
        if let Some(n) = &h.params.noise {
            variance += n.std_dev().powi(2);
            epsilons.push(n.epsilon);
        }
    }
    let mut header = first.circuit.clone();
    header.params.suppress_below = 0;
    header.params.noise = None;
    let mut result = header.decode(rows, &values);
    if suppressed {
        if let Some(a) = result.as_object_mut().and_then(|o| o.remove("accuracy")) {
            result["accuracy_at_least"] = a;
        }
    }
    Ok(Pooled {
        parts: parts.len(),
        rows,
        values: values.iter().map(i128::to_string).collect(),
        result,
        suppressed_up_to: if suppressed {
            up_to.iter().map(i128::to_string).collect()
        } else {
            Vec::new()
        },
        noise: (!epsilons.is_empty()).then(|| PooledNoise {
            distribution: format!(
                "the sum of {} independent discrete Laplace draws, one per noised part",
                epsilons.len()
            ),
            std_dev: variance.sqrt(),
            epsilons,
        }),
    })
}

/// What two questions must share to be one federated question: every
/// field but the dataset, the owner's bounds, the expected circuit (built
/// from each owner's schema), the circuit ids, the nonce, the ceremony
/// keys and the chain.
pub fn same_question(a: &Question, b: &Question) -> Option<&'static str> {
    if a.model_sha256 != b.model_sha256 {
        Some("model")
    } else if a.columns != b.columns {
        Some("columns")
    } else if a.aggregate != b.aggregate {
        Some("aggregate")
    } else if a.quant != b.quant {
        Some("quantization")
    } else if a.epsilon != b.epsilon {
        Some("epsilon")
    } else {
        None
    }
}
