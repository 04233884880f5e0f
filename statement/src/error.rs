//! The errors of the statement, its encodings and its checks.

use thiserror::Error;

/// Everything that can go wrong outside the compiler.
#[derive(Debug, Error)]
pub enum Error {
    /// A value does not fit the fixed-point range it must be proven in.
    #[error("fixed-point overflow: {0}")]
    Overflow(String),
    /// The job asks for something the model or dataset cannot provide.
    #[error("invalid job: {0}")]
    Job(String),
    /// Reading keys, proofs, field elements or receipts failed.
    #[error("serialization error: {0}")]
    Serialization(String),
}

/// The statement crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl From<ark_serialize::SerializationError> for Error {
    fn from(e: ark_serialize::SerializationError) -> Self {
        Error::Serialization(e.to_string())
    }
}
