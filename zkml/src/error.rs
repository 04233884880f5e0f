//! The errors of the compiler, prover and verifier.

use thiserror::Error;

/// Everything that can go wrong in zkml.
#[derive(Debug, Error)]
pub enum Error {
    /// The file is not a loadable ONNX model.
    #[error("malformed ONNX model: {0}")]
    MalformedModel(String),
    /// A node uses an op the compiler does not support.
    #[error("unsupported op `{op}` at node `{node}`{}", if detail.is_empty() { String::new() } else { format!(": {detail}") })]
    UnsupportedOp {
        /// The node's name.
        node: String,
        /// The op's name.
        op: String,
        /// Why it is unsupported, when more than "not implemented".
        detail: String,
    },
    /// The model asks for more than the importer's limits allow.
    #[error("the model's {what} ({value}) is over the limit of {limit}")]
    OverLimit {
        /// Which limit.
        what: String,
        /// What the model asks for.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// The model's shape does not fit what the compiler needs.
    #[error("unsupported model structure: {0}")]
    Structure(String),
    /// A CSV file could not be read.
    #[error("bad CSV{}: {message}", match (line, column) { (Some(l), Some(c)) => format!(" at line {l}, column `{c}`"), (Some(l), None) => format!(" at line {l}"), _ => String::new() })]
    Csv {
        /// 1-based line in the file, when known.
        line: Option<u64>,
        /// The column, when known.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A value does not fit the fixed-point range it must be proven in.
    #[error("fixed-point overflow: {0}")]
    Overflow(String),
    /// The job asks for something the model or dataset cannot provide.
    #[error("invalid job: {0}")]
    Job(String),
    /// Synthesizing, proving or verifying failed.
    #[error("proof system error: {0}")]
    Proof(String),
    /// Reading or writing keys, proofs or receipts failed.
    #[error("serialization error: {0}")]
    Serialization(String),
    /// The caller's gate (see `pipeline::LocalJob::gate`) stopped the job;
    /// the caller's own error is kept as the source.
    #[error("{0}")]
    Refused(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// An I/O error, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// zkml's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

impl From<ark_relations::gr1cs::SynthesisError> for Error {
    fn from(e: ark_relations::gr1cs::SynthesisError) -> Self {
        Error::Proof(e.to_string())
    }
}

impl From<ark_serialize::SerializationError> for Error {
    fn from(e: ark_serialize::SerializationError) -> Self {
        Error::Serialization(e.to_string())
    }
}

impl From<zkgate_statement::Error> for Error {
    fn from(e: zkgate_statement::Error) -> Self {
        use zkgate_statement::Error as S;
        match e {
            S::Overflow(m) => Error::Overflow(m),
            S::Job(m) => Error::Job(m),
            S::Serialization(m) => Error::Serialization(m),
        }
    }
}

impl From<zkgate_statement::columns::ColumnError> for Error {
    fn from(e: zkgate_statement::columns::ColumnError) -> Self {
        Error::Job(e.to_string())
    }
}

/// The message a caught panic carried (`panic!` with a literal or a
/// formatted string), for an error that replaces it.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}
