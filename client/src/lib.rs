//! The researcher's side of the gateway API: its types ([`api`]) and an
//! HTTPS client ([`Client`]). Depends on the statement and the settlement
//! client, never on the compiler or the gateway.
#![forbid(unsafe_code)]

pub mod api;
mod http;

pub use http::{Answer, ApiError, Client};

/// Why a request could not be made or its answer not be read (an answer
/// the gateway gives with an error status is an [`ApiError`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client, the connection or the answer failed.
    #[error("{0}")]
    Config(String),
}

/// The client's result type.
pub type Result<T> = std::result::Result<T, Error>;
