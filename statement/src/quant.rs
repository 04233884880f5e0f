//! Quantization settings a job asks for (part of its request and of the
//! plan whose hash the circuit id covers).

use serde::{Deserialize, Serialize};

/// Quantization settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantConfig {
    /// Bits of the largest weight of each layer.
    pub weight_bits: u32,
    /// Bits of magnitude kept in activations after a rescale.
    pub act_bits: u32,
    /// Extra bits on every calibrated range.
    pub margin_bits: u32,
}

impl Default for QuantConfig {
    fn default() -> Self {
        QuantConfig {
            weight_bits: 10,
            act_bits: 10,
            margin_bits: 1,
        }
    }
}
