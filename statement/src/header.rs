//! The public description of a circuit: what a receipt carries, and whose
//! hash is the circuit id.

use crate::aggregate::{Aggregate, AggregateParams};
use crate::field::hash_to_field;
use crate::quant::QuantConfig;
use crate::schema::Schema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zkgate_circuits::commitment::Shape;
use zkgate_circuits::Fr;

/// Format version of headers and receipts.
pub const VERSION: u32 = 5;

/// The shape the commitment gives `rows` rows of `schema`.
pub fn shape_of(schema: &Schema, rows: u64) -> Shape {
    Shape {
        rows,
        columns: schema.columns.len() as u64,
        value_bits: schema.value_bits,
    }
}

/// Everything a circuit fixes but its quantized plan, which it names by
/// hash. The circuit id is the hash of this header, so a verifier that
/// decodes aggregates with these scales decodes what was proved; the
/// compiler's spec is this header plus the plan, so no field can escape the
/// id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpecHeader {
    /// Format version.
    pub version: u32,
    /// Rows every shard proof reads (the last shard padded): the circuit
    /// does not depend on the dataset's row count, a public input.
    pub shard_rows: u64,
    /// The dataset's declared schema (names, kinds, ranges, scales, stored
    /// bits): every width in the circuit follows from it and the model.
    pub schema: Schema,
    /// The quantization settings the plan was built with.
    pub quant: QuantConfig,
    /// Columns feeding the model.
    pub input_columns: Vec<usize>,
    /// Label column.
    pub label_column: Option<usize>,
    /// The aggregate.
    pub aggregate: Aggregate,
    /// Its constants.
    pub params: AggregateParams,
    /// Scale of the model's outputs.
    pub output_scale: i32,
    /// Number of model outputs.
    pub outputs: usize,
    /// SHA-256 of the ONNX file.
    pub onnx_sha256: String,
    /// SHA-256 of the quantized plan's JSON (a model-family circuit's:
    /// its architecture, every weight and learned bias zero).
    pub plan_sha256: String,
    /// A model-family circuit's weights hash (hex field element,
    /// `zkgate_circuits::weights`): the weights are private inputs the
    /// circuit hashes into its id, so the key is the architecture's
    /// ([`SpecHeader::key_id`]) and the id names the model
    /// ([`SpecHeader::id`]). Absent for a circuit whose weights are its
    /// constants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
}

/// The domain tag of a model-family circuit's id.
pub fn family_tag() -> Fr {
    hash_to_field(&Sha256::digest(b"zkgate.family.v1"))
}

/// A model-family circuit's id: `Poseidon(tag, key_id, weights)`, which
/// its circuit computes from the weights it reads.
pub fn family_id(key_id: Fr, weights: Fr) -> Fr {
    zkgate_circuits::poseidon::hash(&[family_tag(), key_id, weights])
}

impl SpecHeader {
    /// The header of the circuit for shards of `rows` rows.
    pub fn with_shard_rows(&self, rows: u64) -> SpecHeader {
        SpecHeader {
            shard_rows: rows,
            ..self.clone()
        }
    }

    /// The circuit id, the statement's public input: the key's id
    /// ([`SpecHeader::key_id`]), or for a model-family circuit
    /// [`family_id`] of it and the weights hash (an unreadable hash gives
    /// an id no circuit has: zero).
    pub fn id(&self) -> Fr {
        match &self.weights {
            None => self.key_id(),
            Some(w) => match crate::field::fr_from_hex(w) {
                Ok(w) => family_id(self.key_id(), w),
                Err(_) => Fr::from(0u64),
            },
        }
    }

    /// The id of the circuit's keys: SHA-256 of the JSON of
    /// [`SpecHeader::circuit`], as a field element. For a model-family
    /// circuit the header hashed names no weights and no ONNX file, so
    /// every model of the architecture shares the key.
    pub fn key_id(&self) -> Fr {
        hash_to_field(&Sha256::digest(self.circuit_json()))
    }

    /// Whether the weights are private inputs (a model-family circuit).
    pub fn is_family(&self) -> bool {
        self.weights.is_some()
    }

    /// This header without its release's suppression threshold: the
    /// circuit, whose id it hashes. The threshold is a public input
    /// ([`SpecHeader::takes_threshold`]), chosen by the owner's release
    /// policy after the circuit and its keys exist.
    pub fn circuit(&self) -> SpecHeader {
        let mut h = self.clone();
        h.params.suppress_below = 0;
        if h.weights.take().is_some() {
            h.onnx_sha256.clear();
        }
        h
    }

    /// The JSON the circuit id hashes.
    pub(crate) fn circuit_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.circuit()).expect("headers serialize")
    }

    /// Whether the circuit takes a suppression threshold as a public input
    /// (before the values): it releases cells, exact.
    pub fn takes_threshold(&self) -> bool {
        self.aggregate.has_cells() && self.params.noise.is_none()
    }

    /// The threshold public input of a shard: the release's on the last
    /// shard, 0 on the others (it is published like a value); `None` for
    /// a circuit that takes none.
    pub fn threshold_input(&self, last: bool) -> Option<u64> {
        self.takes_threshold()
            .then_some(if last { self.params.suppress_below } else { 0 })
    }

    /// The shape the commitment gives a dataset of `rows` rows of this
    /// circuit's schema.
    pub fn shape(&self, rows: u64) -> Shape {
        shape_of(&self.schema, rows)
    }

    /// Number of aggregate values the statement carries.
    pub fn aggregate_len(&self) -> usize {
        self.aggregate.values(self.outputs, &self.params)
    }

    /// Whether cells below the owner's threshold are published as zero.
    pub fn suppresses(&self) -> bool {
        self.params.suppress_below > 0 && self.takes_threshold()
    }

    /// The values as published: cells below the suppression threshold
    /// zeroed.
    pub fn suppress(&self, mut values: Vec<i128>) -> Vec<i128> {
        if self.suppresses() {
            let k = i128::from(self.params.suppress_below);
            values.iter_mut().filter(|v| **v < k).for_each(|v| *v = 0);
        }
        values
    }

    /// The aggregate values over `rows` rows read as numbers.
    pub fn decode(&self, rows: u64, values: &[i128]) -> serde_json::Value {
        let mut v = self.aggregate.decode(self, rows, values);
        if self.suppresses() {
            // A zero count stands for fewer than this many rows, so an
            // accuracy read off the matrix is only a lower bound.
            v["suppressed_below"] = self.params.suppress_below.into();
            if let Some(a) = v.as_object_mut().and_then(|o| o.remove("accuracy")) {
                v["accuracy_at_least"] = a;
            }
        }
        v
    }
}
