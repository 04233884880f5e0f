//! The container snarkjs's `.ptau`, `.zkey` and `.r1cs` files share: four
//! magic bytes, a version and a section count (little-endian u32), then
//! sections of `type: u32, size: u64, bytes`.

use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Where each section's bytes are (`start, size`), the first of each type;
/// `what` names the file in errors.
pub(crate) fn sections(
    bytes: &[u8],
    magic: &[u8; 4],
    what: &str,
) -> Result<BTreeMap<u32, (usize, usize)>> {
    let bad = |m: &str| Error::Proof(format!("{what}: {m}"));
    if bytes.get(..4) != Some(&magic[..]) {
        return Err(bad(&format!(
            "not a .{} file",
            String::from_utf8_lossy(magic)
        )));
    }
    let u32_at = |at: usize| -> Result<u32> {
        bytes
            .get(at..at + 4)
            .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
            .ok_or_else(|| bad("truncated"))
    };
    let count = u32_at(8)?;
    let mut out = BTreeMap::new();
    let mut at = 12usize;
    for _ in 0..count {
        let kind = u32_at(at)?;
        let size = bytes
            .get(at + 4..at + 12)
            .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
            .ok_or_else(|| bad("truncated"))? as usize;
        let start = at + 12;
        let end = start.checked_add(size).ok_or_else(|| bad("truncated"))?;
        if end > bytes.len() {
            return Err(bad("truncated"));
        }
        out.entry(kind).or_insert((start, size));
        at = end;
    }
    Ok(out)
}

/// A file of `sections`, in order, version 1.
pub(crate) fn write(magic: &[u8; 4], sections: &[(u32, &[u8])]) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.extend(1u32.to_le_bytes());
    out.extend((sections.len() as u32).to_le_bytes());
    for (kind, body) in sections {
        out.extend(kind.to_le_bytes());
        out.extend((body.len() as u64).to_le_bytes());
        out.extend_from_slice(body);
    }
    out
}
