//! Ethereum addresses bound to gateway accounts: a researcher proves they
//! hold an address by signing the gateway's registration message with it
//! (EIP-191 `personal_sign`, as wallets do), and the gateway recovers the
//! address from the signature.

use crate::client::Wallet;
use crate::{Error, Result};
use alloy_primitives::{Address, Signature};

/// The registration message for `researcher` at `gateway`, issued at unix
/// second `issued`: what the address's key signs.
pub fn registration_message(gateway: &str, researcher: &str, issued: u64) -> String {
    format!(
        "zkgate address registration\ngateway: {gateway}\nresearcher: {researcher}\nissued: {issued}"
    )
}

/// The fields of a registration message (`None`: not one).
pub fn parse_registration(message: &str) -> Option<(String, String, u64)> {
    let mut lines = message.lines();
    if lines.next()? != "zkgate address registration" {
        return None;
    }
    let gateway = lines.next()?.strip_prefix("gateway: ")?.to_string();
    let researcher = lines.next()?.strip_prefix("researcher: ")?.to_string();
    let issued = lines.next()?.strip_prefix("issued: ")?.parse().ok()?;
    lines
        .next()
        .is_none()
        .then_some((gateway, researcher, issued))
}

impl Wallet {
    /// Signs `message` as `personal_sign` does: 65 bytes `r || s || v`
    /// (v 27 or 28), hex with `0x`.
    pub fn sign_message(&self, message: &str) -> String {
        let hash = alloy_primitives::eip191_hash_message(message.as_bytes());
        let (sig, recid) = self
            .key()
            .sign_prehash_recoverable(hash.as_slice())
            .expect("a 32-byte prehash signs");
        let sig = Signature::from_signature_and_parity(sig, recid.is_y_odd());
        format!("0x{}", hex::encode(sig.as_bytes()))
    }
}

/// The address whose key signed `message` (`personal_sign`; `signature`
/// is 65 bytes of hex).
pub fn recover_signer(message: &str, signature: &str) -> Result<Address> {
    let bytes = hex::decode(signature.trim().trim_start_matches("0x"))
        .map_err(|_| Error::Key("a signature is 65 bytes of hex".into()))?;
    let sig = Signature::from_raw(&bytes)
        .map_err(|_| Error::Key("a signature is 65 bytes: r, s and v".into()))?;
    sig.recover_address_from_msg(message.as_bytes())
        .map_err(|_| Error::Key("the signature does not recover to an address".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_message_recovers_its_signer_and_nothing_else() {
        let w = Wallet::dev(1).unwrap();
        let m = registration_message("gw", "alice", 1_700_000_000);
        let sig = w.sign_message(&m);
        assert_eq!(recover_signer(&m, &sig).unwrap(), w.address());
        // Another message, or another key, recovers another address.
        let other = registration_message("gw", "mallory", 1_700_000_000);
        assert_ne!(recover_signer(&other, &sig).unwrap(), w.address());
        assert_ne!(
            recover_signer(&m, &Wallet::dev(2).unwrap().sign_message(&m)).unwrap(),
            w.address()
        );
        assert!(recover_signer(&m, "0x1234").is_err());
        assert_eq!(
            parse_registration(&m),
            Some(("gw".into(), "alice".into(), 1_700_000_000))
        );
        assert_eq!(parse_registration("hello"), None);
        assert_eq!(parse_registration(&format!("{m}\nextra")), None);
    }
}
