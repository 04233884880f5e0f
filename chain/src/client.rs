//! One chain interface over two backends: the embedded EVM
//! ([`crate::embedded`]) and any Ethereum JSON-RPC node ([`crate::rpc`]).
//! Both run the same bytecode; callers see transactions, receipts, calls
//! and logs, never the backend.

use crate::embedded::Embedded;
use crate::rpc::Rpc;
use crate::{Error, Result};
use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_sol_types::SolInterface;
use k256::ecdsa::SigningKey;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A transaction before it is sent: `to` is `None` for a deployment.
#[derive(Clone, Debug, Default)]
pub struct TxRequest {
    /// The callee, or a deployment.
    pub to: Option<Address>,
    /// Calldata (or creation code).
    pub data: Bytes,
    /// Wei sent along.
    pub value: U256,
    /// Gas limit (estimated when `None`).
    pub gas: Option<u64>,
}

/// A log a transaction emitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The emitting contract.
    pub address: Address,
    /// Topics, the event's selector first.
    pub topics: Vec<B256>,
    /// Unindexed data.
    pub data: Bytes,
    /// Block number.
    pub block: u64,
    /// Transaction hash.
    pub tx: B256,
}

/// What a mined transaction did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TxReceipt {
    /// The transaction hash.
    pub hash: B256,
    /// Its block.
    pub block: u64,
    /// Whether it succeeded.
    pub success: bool,
    /// Gas it used, intrinsic gas included.
    pub gas_used: u64,
    /// Wei paid per gas.
    #[serde(default)]
    pub gas_price: u128,
    /// The deployed contract, for a deployment.
    pub contract: Option<Address>,
    /// Its logs.
    pub logs: Vec<LogEntry>,
    /// Return or revert data (the embedded chain only).
    #[serde(default)]
    pub output: Bytes,
}

/// A secp256k1 key that sends transactions.
#[derive(Clone)]
pub struct Wallet {
    key: SigningKey,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Wallet({})", self.address())
    }
}

/// anvil's default development keys (derived from the public test
/// mnemonic; known to everyone, for local chains only).
const DEV_KEYS: [&str; 3] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];

impl Wallet {
    /// A key from 32 bytes of hex (with or without `0x`).
    pub fn from_hex(s: &str) -> Result<Wallet> {
        let bytes = hex::decode(s.trim().trim_start_matches("0x"))
            .map_err(|_| Error::Key("a private key is 32 bytes of hex".into()))?;
        let key = SigningKey::from_slice(&bytes)
            .map_err(|_| Error::Key("not a valid secp256k1 private key".into()))?;
        Ok(Wallet { key })
    }

    /// Reads a key file (hex).
    pub fn from_file(path: &Path) -> Result<Wallet> {
        let s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Wallet::from_hex(&s).map_err(|e| Error::Key(format!("{}: {e}", path.display())))
    }

    /// A new random key.
    pub fn random() -> Wallet {
        Wallet {
            key: SigningKey::random(&mut rand::rngs::OsRng),
        }
    }

    /// The key as hex, for a key file.
    pub fn to_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }

    /// Development account `i` (0, 1 or 2), funded at genesis on the
    /// embedded chain and on anvil.
    pub fn dev(i: usize) -> Result<Wallet> {
        DEV_KEYS
            .get(i)
            .map(|k| Wallet::from_hex(k).expect("development keys are valid"))
            .ok_or_else(|| Error::Key(format!("development accounts are 0..{}", DEV_KEYS.len())))
    }

    /// Every development account.
    pub fn dev_all() -> Vec<Wallet> {
        (0..DEV_KEYS.len())
            .map(|i| Wallet::dev(i).expect("in range"))
            .collect()
    }

    /// The account's address.
    pub fn address(&self) -> Address {
        Address::from_private_key(&self.key)
    }

    pub(crate) fn key(&self) -> &SigningKey {
        &self.key
    }
}

/// The backends.
#[derive(Debug)]
pub enum Chain {
    /// revm in this process, state in a file.
    Embedded(Embedded),
    /// A JSON-RPC node.
    Rpc(Rpc),
}

impl Chain {
    /// The embedded chain whose state is `path`.
    pub fn embedded(path: &Path) -> Result<Chain> {
        Ok(Chain::Embedded(Embedded::open(path)?))
    }

    /// A JSON-RPC node.
    pub fn rpc(url: &str, tls: Option<rustls::ClientConfig>) -> Result<Chain> {
        Ok(Chain::Rpc(Rpc::new(url, tls)?))
    }

    /// The chain id.
    pub async fn chain_id(&self) -> Result<u64> {
        match self {
            Chain::Embedded(_) => Ok(crate::embedded::CHAIN_ID),
            Chain::Rpc(r) => r.chain_id().await,
        }
    }

    /// Sends a transaction and waits until it is mined. A transaction that
    /// would revert is an [`Error::Reverted`] naming the contract's error.
    pub async fn send(&self, from: &Wallet, tx: &TxRequest) -> Result<TxReceipt> {
        let r = match self {
            Chain::Embedded(e) => e.send(from.address(), tx)?,
            Chain::Rpc(r) => r.send(from, tx).await?,
        };
        if r.success {
            Ok(r)
        } else {
            Err(Error::Reverted(format!(
                "{} (transaction {})",
                revert_reason(&r.output),
                r.hash
            )))
        }
    }

    /// Sends `call` to the contract at `to` with `value` wei (see
    /// [`Chain::send`]).
    pub async fn send_call<C: alloy_sol_types::SolCall>(
        &self,
        from: &Wallet,
        to: Address,
        call: C,
        value: U256,
    ) -> Result<TxReceipt> {
        let tx = TxRequest {
            to: Some(to),
            data: call.abi_encode().into(),
            value,
            gas: None,
        };
        self.send(from, &tx).await
    }

    /// A read-only call.
    pub async fn call(&self, to: Address, data: Bytes) -> Result<Bytes> {
        let tx = TxRequest {
            to: Some(to),
            data,
            ..Default::default()
        };
        match self {
            Chain::Embedded(e) => e.call(Address::ZERO, &tx),
            Chain::Rpc(r) => r.call(&tx).await,
        }
    }

    /// An account's balance in wei.
    pub async fn balance(&self, addr: Address) -> Result<U256> {
        match self {
            Chain::Embedded(e) => e.balance(addr),
            Chain::Rpc(r) => r.balance(addr).await,
        }
    }

    /// An account's code (empty for none).
    pub async fn code(&self, addr: Address) -> Result<alloy_primitives::Bytes> {
        match self {
            Chain::Embedded(e) => e.code(addr),
            Chain::Rpc(r) => r.code(addr).await,
        }
    }

    /// The latest block's timestamp.
    pub async fn now(&self) -> Result<u64> {
        match self {
            Chain::Embedded(e) => Ok(e.head()?.1),
            Chain::Rpc(r) => r.now().await,
        }
    }

    /// Logs of `address` with these first two topics.
    pub async fn logs(
        &self,
        address: Address,
        topic0: B256,
        topic1: Option<B256>,
    ) -> Result<Vec<LogEntry>> {
        match self {
            Chain::Embedded(e) => e.logs(address, topic0, topic1),
            Chain::Rpc(r) => r.logs(address, topic0, topic1).await,
        }
    }

    /// Moves a development chain's clock forward (embedded, or anvil's
    /// `evm_increaseTime`).
    pub async fn advance_time(&self, seconds: u64) -> Result<()> {
        match self {
            Chain::Embedded(e) => e.advance_time(seconds),
            Chain::Rpc(r) => r.advance_time(seconds).await,
        }
    }
}

/// Revert data in words: the Settlement contract's error, a `require`
/// string, or the raw bytes.
pub fn revert_reason(data: &[u8]) -> String {
    if let Ok(e) = crate::abi::Settlement::SettlementErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    if let Ok(s) = <alloy_sol_types::Revert as alloy_sol_types::SolError>::abi_decode(data) {
        return s.reason;
    }
    if data.is_empty() {
        "reverted without data".into()
    } else if let Ok(s) = std::str::from_utf8(data) {
        s.to_string()
    } else {
        format!("reverted: 0x{}", hex::encode(data))
    }
}
