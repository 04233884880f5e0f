//! Field elements as the statement writes them: hex, hashes, integers.

use crate::error::{Error, Result};
use ark_ff::{BigInteger, PrimeField};
use zkgate_circuits::Fr;

pub use zkgate_circuits::{field_to_i128, i128_to_field};

/// A 248-bit field element from a hash (the top byte dropped so it is
/// always canonical).
pub fn hash_to_field(digest: &[u8]) -> Fr {
    Fr::from_be_bytes_mod_order(&digest[1..32])
}

/// A field element as 0x-prefixed big-endian hex.
pub fn fr_to_hex(x: Fr) -> String {
    format!("0x{}", hex::encode(x.into_bigint().to_bytes_be()))
}

/// Parses [`fr_to_hex`]'s output, rejecting non-canonical values.
pub fn fr_from_hex(s: &str) -> Result<Fr> {
    let bytes = hex::decode(s.trim_start_matches("0x"))
        .map_err(|e| Error::Serialization(format!("`{s}`: {e}")))?;
    if bytes.len() != 32 {
        return Err(Error::Serialization(format!(
            "`{s}`: a field element is 32 bytes"
        )));
    }
    let x = Fr::from_be_bytes_mod_order(&bytes);
    if x.into_bigint().to_bytes_be() != bytes {
        return Err(Error::Serialization(format!(
            "`{s}` is not a canonical field element"
        )));
    }
    Ok(x)
}

/// Whether two hex strings name the same field element (case and
/// formatting aside); an unreadable one names none.
pub fn same_field(a: &str, b: &str) -> bool {
    matches!((fr_from_hex(a), fr_from_hex(b)), (Ok(x), Ok(y)) if x == y)
}

/// Bits of `|x|`.
pub fn bitlen(x: i128) -> usize {
    (128 - x.unsigned_abs().leading_zeros()) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_non_canonical() {
        let x = Fr::from(123456789u64);
        assert_eq!(fr_from_hex(&fr_to_hex(x)).unwrap(), x);
        // r itself is not canonical.
        let r = "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";
        assert!(fr_from_hex(r).is_err());
        assert!(fr_from_hex("0x01").is_err());
        assert_eq!(bitlen(0), 0);
        assert_eq!(bitlen(-8), 4);
    }
}
