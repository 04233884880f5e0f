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
    /// A model-family circuit: the weights are private inputs within
    /// these declared bounds, so one circuit (and one key) serves every
    /// model of the architecture whose weights fit (see [`Family`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
}

/// The declared bounds of a model-family circuit, in the model's own
/// (float) units: each term `w_c x_c` of the first linear layer is at most
/// `2^term_log2` in magnitude for every input `x_c` within the column's
/// declared range (columns come at any scale, so their weights are bounded
/// relative to it), each weight of a later linear layer at most
/// `2^weight_log2` (its inputs share one scale and range), and each bias
/// at most `2^bias_log2`. Every width and rescale of the circuit follows
/// from these and the schema, never from the weights, which the circuit
/// range-checks to them and hashes into the circuit id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    /// Log2 of the largest magnitude of one weight times one input, in the
    /// first linear layer.
    pub term_log2: i32,
    /// Log2 of the largest magnitude of one weight of a later linear
    /// layer.
    pub weight_log2: i32,
    /// Log2 of the largest magnitude of one bias.
    pub bias_log2: i32,
}

impl Family {
    /// Allowed range of either bound's exponent.
    pub const LOG2: std::ops::RangeInclusive<i32> = -32..=32;

    /// Reads `T:W:B` (the term, weight and bias exponents), as the CLI
    /// takes it.
    pub fn parse(s: &str) -> crate::Result<Family> {
        let bad = || {
            crate::Error::Job(format!(
                "a family is TERM_LOG2:WEIGHT_LOG2:BIAS_LOG2 (three integers), not {s:?}"
            ))
        };
        let parts: Vec<i32> = s
            .split(':')
            .map(|p| p.trim().parse().map_err(|_| bad()))
            .collect::<crate::Result<_>>()?;
        let [term_log2, weight_log2, bias_log2] = parts[..] else {
            return Err(bad());
        };
        let f = Family {
            term_log2,
            weight_log2,
            bias_log2,
        };
        f.check()?;
        Ok(f)
    }

    /// Refuses exponents outside [`Family::LOG2`].
    pub fn check(&self) -> crate::Result<()> {
        for (name, v) in [
            ("term_log2", self.term_log2),
            ("weight_log2", self.weight_log2),
            ("bias_log2", self.bias_log2),
        ] {
            if !Self::LOG2.contains(&v) {
                return Err(crate::Error::Job(format!(
                    "quant.family.{name} must be {}..={}, not {v}",
                    Self::LOG2.start(),
                    Self::LOG2.end()
                )));
            }
        }
        Ok(())
    }
}

impl Default for QuantConfig {
    fn default() -> Self {
        QuantConfig {
            weight_bits: 10,
            act_bits: 10,
            margin_bits: 0,
            family: None,
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
        if let Some(f) = &self.family {
            f.check()?;
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
        // No family: the JSON (and every hash over it) is as before.
        assert!(!serde_json::to_string(&q).unwrap().contains("family"));
    }

    #[test]
    fn a_family_parses_and_is_checked() {
        use super::Family;
        let f = Family::parse("-3:1:2").unwrap();
        assert_eq!((f.term_log2, f.weight_log2, f.bias_log2), (-3, 1, 2));
        for bad in ["3", "1:2", "a:1:1", "1::1", "40:0:0", "0:0:-33", "1:1:1:1"] {
            assert!(Family::parse(bad).is_err(), "{bad}");
        }
        let q = QuantConfig {
            family: Some(Family {
                term_log2: 99,
                weight_log2: 0,
                bias_log2: 0,
            }),
            ..QuantConfig::default()
        };
        assert!(q.check().unwrap_err().to_string().contains("term_log2"));
    }
}
