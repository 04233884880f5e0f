//! The vault: an age x25519 identity in the data dir (optionally itself
//! encrypted with a passphrase), used to encrypt datasets at rest. Secrets
//! are written with mode 0600, atomically (temp file + rename), and never
//! printed: `Debug` is redacted.

use crate::config::Paths;
use crate::error::{Error, Result};
use age::secrecy::ExposeSecret;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

/// The vault's identity.
pub struct Vault {
    identity: age::x25519::Identity,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(<redacted>)")
    }
}

/// Writes `bytes` to `path` atomically with mode 0600.
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, bytes, true)
}

/// Writes `bytes` to `path` atomically (temp file in the same dir, fsync,
/// rename), so a crash never leaves half a file.
pub fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::Config(format!("{} has no parent dir", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if secret {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

impl Vault {
    /// Creates a new identity in the data dir; with a passphrase, the
    /// identity file is itself age-encrypted (scrypt).
    pub fn create(paths: &Paths, passphrase: Option<&str>) -> Result<Vault> {
        let identity = age::x25519::Identity::generate();
        let text = identity.to_string();
        let bytes = match passphrase {
            Some(p) => age::encrypt(
                &age::scrypt::Recipient::new(p.to_owned().into()),
                text.expose_secret().as_bytes(),
            )
            .map_err(|e| Error::Vault(e.to_string()))?,
            None => text.expose_secret().as_bytes().to_vec(),
        };
        write_secret(&paths.identity(), &bytes)?;
        Ok(Vault { identity })
    }

    /// Opens the data dir's identity.
    pub fn open(paths: &Paths, passphrase: Option<&str>) -> Result<Vault> {
        let path = paths.identity();
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let text = if bytes.starts_with(b"AGE-SECRET-KEY-") {
            String::from_utf8(bytes)
                .map_err(|_| Error::Vault("identity file is not UTF-8".into()))?
        } else {
            let p = passphrase.ok_or_else(|| {
                Error::Vault(
                    "the vault identity is passphrase-protected: set ZKGATE_VAULT_PASSPHRASE"
                        .into(),
                )
            })?;
            let plain = age::decrypt(&age::scrypt::Identity::new(p.to_owned().into()), &bytes)
                .map_err(|_| Error::Vault("wrong vault passphrase".into()))?;
            String::from_utf8(plain)
                .map_err(|_| Error::Vault("identity file is not UTF-8".into()))?
        };
        let identity = age::x25519::Identity::from_str(text.trim())
            .map_err(|e| Error::Vault(format!("bad identity: {e}")))?;
        Ok(Vault { identity })
    }

    /// The vault's public recipient (`age1...`): the gateway's public name
    /// in address registration messages.
    pub fn recipient(&self) -> String {
        self.identity.to_public().to_string()
    }

    /// The vault's signing key: a secp256k1 key derived from the identity
    /// (SHA-256 of a domain tag and the secret), so it needs no file of
    /// its own and moves with the vault. It signs the audit log's head.
    pub fn signer(&self) -> zkgate_chain::Wallet {
        use sha2::{Digest, Sha256};
        let secret = self.identity.to_string();
        let mut h = Sha256::new();
        h.update(b"zkgate.vault.signer.v1");
        h.update(secret.expose_secret().as_bytes());
        zkgate_chain::Wallet::from_hex(&hex::encode(h.finalize()))
            .expect("a SHA-256 digest is a valid secp256k1 key but with negligible probability")
    }

    /// Encrypts to the vault's recipient.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        age::encrypt(&self.identity.to_public(), plaintext).map_err(|e| Error::Vault(e.to_string()))
    }

    /// Decrypts with the vault's identity (in memory only).
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>> {
        age::decrypt(&self.identity, ciphertext).map_err(|e| Error::Vault(e.to_string()))
    }
}
