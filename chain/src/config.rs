//! Where a gateway's data dir settles (`chain.json`), and the one place
//! that turns it, or flags given over it, into a chain, a contract and a
//! wallet. The gateway, the `zkgate chain` commands and `zkgate verify` all
//! resolve through here.

use crate::client::{Chain, Wallet};
use crate::settlement::{job_nonce, Settlement};
use crate::{Error, Result};
use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use zkgate_statement::Fr;

/// The file under a data dir that names where it settles.
pub const CONFIG_FILE: &str = "chain.json";

/// The embedded chain's state under a data dir.
pub fn embedded_state(data_dir: &Path) -> PathBuf {
    data_dir.join("chain").join("state.json")
}

/// Where a data dir settles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChainConfig {
    /// The Settlement contract.
    pub contract: Address,
    /// The chain id (the job nonce depends on it).
    pub chain_id: u64,
    /// A JSON-RPC node; `None` for the embedded chain.
    #[serde(default)]
    pub rpc: Option<String>,
    /// The data owner's key file (hex), relative to the data dir.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// CA certificate (PEM) an `https://` node's certificate chains to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Or a development account (local chains only).
    #[serde(default)]
    pub dev_account: Option<usize>,
}

fn io(p: &Path, e: std::io::Error) -> Error {
    Error::io(p, e)
}

impl ChainConfig {
    /// The data dir's configuration, if it settles on a chain.
    pub fn load(data_dir: &Path) -> Result<Option<ChainConfig>> {
        let p = data_dir.join(CONFIG_FILE);
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::Chain(format!("{}: {e}", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&p, e)),
        }
    }

    /// Writes it to the data dir.
    pub fn save(&self, data_dir: &Path) -> Result<()> {
        let p = data_dir.join(CONFIG_FILE);
        let text = serde_json::to_string_pretty(self).expect("configs serialize");
        std::fs::write(&p, text).map_err(|e| io(&p, e))
    }

    /// The owner's wallet. A JSON-RPC chain needs a key file or an
    /// explicit development account: the development keys are public.
    pub fn wallet(&self, data_dir: &Path) -> Result<Wallet> {
        match (&self.key_file, self.dev_account) {
            (Some(f), _) => Wallet::from_file(&resolve(data_dir, f)),
            (None, Some(i)) => Wallet::dev(i),
            (None, None) if self.rpc.is_some() => Err(no_key()),
            (None, None) => Wallet::dev(0),
        }
    }

    /// The chain it names.
    pub fn chain(&self, data_dir: &Path) -> Result<Chain> {
        Endpoint::default().chain_over(data_dir, Some(self))
    }

    /// The nonce the proofs of the question hashing to `question`, opened
    /// by `researcher`, carry on this contract.
    pub fn nonce(&self, researcher: Address, question: B256) -> Fr {
        job_nonce(self.chain_id, self.contract, researcher, question)
    }
}

/// A chain named by flags, each overriding the data dir's configuration
/// (paths in flags are the user's, relative to the working directory;
/// paths in the configuration are relative to the data dir).
#[derive(Clone, Debug, Default)]
pub struct Endpoint {
    /// A JSON-RPC node instead of the configured one (or the embedded
    /// chain).
    pub rpc: Option<String>,
    /// The contract instead of the configured one.
    pub contract: Option<Address>,
    /// CA certificate (PEM) of an `https://` node.
    pub ca_file: Option<PathBuf>,
    /// The signer's key file.
    pub key_file: Option<PathBuf>,
    /// Or a development account.
    pub dev_account: Option<usize>,
}

impl Endpoint {
    /// The chain: the flags', else the configuration's, else the data
    /// dir's embedded chain.
    pub fn chain_over(&self, data_dir: &Path, conf: Option<&ChainConfig>) -> Result<Chain> {
        let rpc = self
            .rpc
            .clone()
            .or_else(|| conf.and_then(|c| c.rpc.clone()));
        let ca = match (&self.ca_file, conf.and_then(|c| c.ca_file.as_ref())) {
            (Some(f), _) => Some(f.clone()),
            (None, Some(f)) => Some(resolve(data_dir, f)),
            (None, None) => None,
        };
        match rpc {
            Some(url) => {
                let tls = match ca {
                    Some(f) => Some(crate::rpc::tls_with_ca(
                        &std::fs::read(&f).map_err(|e| io(&f, e))?,
                    )?),
                    None => None,
                };
                Chain::rpc(&url, tls)
            }
            None => Chain::embedded(&embedded_state(data_dir)),
        }
    }

    /// The contract on its chain; `None` when neither the flags nor the
    /// configuration name one.
    pub fn settlement_over(
        &self,
        data_dir: &Path,
        conf: Option<&ChainConfig>,
    ) -> Result<Option<Settlement>> {
        let Some(address) = self.contract.or(conf.map(|c| c.contract)) else {
            return Ok(None);
        };
        Ok(Some(Settlement::at(
            self.chain_over(data_dir, conf)?,
            address,
        )))
    }

    /// The signer: the key file, else the development account, else, on
    /// the embedded chain only, development account `default_dev`. On a
    /// JSON-RPC chain (the flags' or `conf`'s) a missing key is an error,
    /// never the public development key.
    pub fn wallet(&self, default_dev: usize, conf: Option<&ChainConfig>) -> Result<Wallet> {
        let rpc = self.rpc.is_some() || conf.is_some_and(|c| c.rpc.is_some());
        match (&self.key_file, self.dev_account) {
            (Some(f), _) => Wallet::from_file(f),
            (None, Some(i)) => Wallet::dev(i),
            (None, None) if rpc => Err(no_key()),
            (None, None) => Wallet::dev(default_dev),
        }
    }
}

/// Why no signer was chosen on a JSON-RPC chain.
fn no_key() -> Error {
    Error::Key(
        "a JSON-RPC chain needs a key file (--chain-key), or --dev-account N for a local \
         development node: the development keys are public"
            .into(),
    )
}

fn resolve(root: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_configuration_and_paths_resolve_where_they_belong() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ChainConfig::load(dir.path()).unwrap(), None);
        let conf = ChainConfig {
            contract: Address::repeat_byte(7),
            chain_id: 31337,
            rpc: None,
            key_file: Some("owner.key".into()),
            ca_file: None,
            dev_account: None,
        };
        conf.save(dir.path()).unwrap();
        assert_eq!(ChainConfig::load(dir.path()).unwrap(), Some(conf.clone()));
        // The configuration's key file is relative to the data dir.
        let e = conf.wallet(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains(&dir.path().join("owner.key").display().to_string()),
            "{e}"
        );
        let flags = Endpoint {
            contract: Some(Address::repeat_byte(9)),
            ..Endpoint::default()
        };
        let s = flags
            .settlement_over(dir.path(), Some(&conf))
            .unwrap()
            .unwrap();
        assert_eq!(s.address(), Address::repeat_byte(9));
        assert!(Endpoint::default()
            .settlement_over(dir.path(), None)
            .unwrap()
            .is_none());
        let r = Address::repeat_byte(3);
        assert_ne!(
            conf.nonce(r, B256::repeat_byte(1)),
            conf.nonce(r, B256::repeat_byte(2))
        );
        assert_ne!(
            conf.nonce(r, B256::repeat_byte(1)),
            conf.nonce(Address::repeat_byte(4), B256::repeat_byte(1))
        );
        // The public development key is never a default on a JSON-RPC chain.
        assert!(Endpoint::default().wallet(0, Some(&conf)).is_ok());
        let rpc = Endpoint {
            rpc: Some("http://127.0.0.1:1".into()),
            ..Endpoint::default()
        };
        let e = rpc.wallet(0, Some(&conf)).unwrap_err().to_string();
        assert!(e.contains("needs a key file"), "{e}");
        let dev = Endpoint {
            dev_account: Some(1),
            ..rpc
        };
        assert!(dev.wallet(0, None).is_ok());
        let remote = ChainConfig {
            rpc: Some("http://127.0.0.1:1".into()),
            key_file: None,
            ..conf.clone()
        };
        assert!(remote.wallet(dir.path()).is_err());
        assert!(Endpoint::default().wallet(0, Some(&remote)).is_err());
        std::fs::write(dir.path().join(CONFIG_FILE), "{").unwrap();
        assert!(ChainConfig::load(dir.path()).is_err());
    }
}
