//! Quantization settings a job asks for (part of its request and of the
//! plan whose hash the circuit id covers).

use serde::{Deserialize, Serialize};

/// Quantization settings. A manifest may give any subset; the rest take
/// their defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuantConfig {
    /// Bits of the largest weight of each layer.
    pub weight_bits: u32,
    /// Bits of magnitude kept in activations after a rescale.
    pub act_bits: u32,
    /// Extra bits on every proven range (the bounds are sound without
    /// any; a margin only widens them).
    pub margin_bits: u32,
}

impl Default for QuantConfig {
    fn default() -> Self {
        QuantConfig {
            weight_bits: 10,
            act_bits: 10,
            margin_bits: 0,
        }
    }
}

impl QuantConfig {
    /// Allowed range of `weight_bits` and `act_bits`.
    pub const BITS: std::ops::RangeInclusive<u32> = 2..=24;
    /// Allowed range of `margin_bits`.
    pub const MARGIN: std::ops::RangeInclusive<u32> = 0..=8;

    /// Refuses settings outside the allowed ranges, naming the setting and
    /// its range.
    pub fn check(&self) -> crate::Result<()> {
        for (name, v, range) in [
            ("weight_bits", self.weight_bits, Self::BITS),
            ("act_bits", self.act_bits, Self::BITS),
            ("margin_bits", self.margin_bits, Self::MARGIN),
        ] {
            if !range.contains(&v) {
                return Err(crate::Error::Job(format!(
                    "quant.{name} must be {}..={}, not {v}",
                    range.start(),
                    range.end()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::QuantConfig;

    #[test]
    fn a_partial_quant_object_takes_the_other_defaults() {
        let q: QuantConfig = serde_json::from_str(r#"{"act_bits": 12}"#).unwrap();
        assert_eq!(
            q,
            QuantConfig {
                act_bits: 12,
                ..QuantConfig::default()
            }
        );
        let q: QuantConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(q, QuantConfig::default());
    }
}
