//! zkgate's settlement side: the Settlement contract (`contracts/`), its
//! client, and the chains it runs on.
//!
//! - [`evm`]: Groth16 keys, proofs and public inputs in the encodings of the
//!   EVM's BN254 precompiles (EIP-196 ecAdd and ecMul, EIP-197 pairing).
//! - [`abi`]: the contract's interface and its compiled artifact.
//! - [`client`]: one [`client::Chain`] over two backends, [`embedded`] (revm
//!   in this process, state in a file) and [`rpc`] (any JSON-RPC node).
//! - [`settlement`]: the contract's calls, typed, and the settlement of a
//!   receipt.
//! - [`bounty`]: evaluation bounties on the same contract, and the scores
//!   it computes.
//! - [`erc7992`]: ERC-7992's registry and verifier (`Inference.sol`) over
//!   the Settlement contract's key bundles, for one-shard receipts.
#![forbid(unsafe_code)]

pub mod abi;
pub mod bounty;
pub mod client;
pub mod config;
pub mod embedded;
pub mod erc7992;
pub mod evm;
pub mod identity;
pub mod rpc;
pub mod settlement;

pub use alloy_primitives;
pub use alloy_sol_types;
pub use client::{Chain, TxReceipt, TxRequest, Wallet};
pub use settlement::Settlement;

/// Errors of the settlement side.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The contract reverted; the reason names its error.
    #[error("reverted: {0}")]
    Reverted(String),
    /// The chain or node failed or answered something unexpected.
    #[error("chain: {0}")]
    Chain(String),
    /// A key could not be read.
    #[error("key: {0}")]
    Key(String),
    /// A receipt or key bundle that cannot be settled.
    #[error("receipt: {0}")]
    Receipt(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
