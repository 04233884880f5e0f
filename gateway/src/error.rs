//! The gateway's errors, and their HTTP form: a JSON body
//! `{"error": {"code": "...", "message": "..."}}` with a stable code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use thiserror::Error;

/// Everything the gateway can fail with.
#[derive(Debug, Error)]
pub enum Error {
    /// Missing or wrong credentials.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// Not found (or not visible to this researcher).
    #[error("{0} not found")]
    NotFound(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The request is well-formed but cannot be run.
    #[error("{0}")]
    Unprocessable(String),
    /// The upload is too large.
    #[error("upload over the {0}-byte limit")]
    TooLarge(usize),
    /// A limit was reached (concurrency, quotas).
    #[error("{0}")]
    Limit(String),
    /// The data owner's policy denies it.
    #[error("{message}")]
    Denied {
        /// The researcher-facing explanation.
        message: String,
        /// The rules that denied it.
        rules: Vec<String>,
    },
    /// The policy holds the job for the data owner's approval.
    #[error("{message}")]
    Held {
        /// The researcher-facing explanation.
        message: String,
        /// The rules that hold it.
        rules: Vec<String>,
    },
    /// The job is not in a state that allows this.
    #[error("{0}")]
    Conflict(String),
    /// The caller may not use what the request names (another
    /// researcher's on-chain job, another's address).
    #[error("{0}")]
    Forbidden(String),
    /// The dataset's privacy budget left is less than the job asks for.
    #[error("{0}")]
    Budget(String),
    /// A zkml error (import, compile, prove).
    #[error(transparent)]
    Zkml(#[from] zkgate_zkml::Error),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(String),
    /// A stored record could not be read. It is left as it is, for the
    /// owner to look at.
    #[error("corrupt record {record}: {reason}")]
    Corrupt {
        /// Which record: the tree and the key.
        record: String,
        /// Why it could not be read.
        reason: String,
    },
    /// A job panicked while it ran; the job fails, the gateway goes on.
    #[error("the job crashed: {0}")]
    Crashed(String),
    /// Encryption or decryption failed.
    #[error("vault: {0}")]
    Vault(String),
    /// Configuration is missing or invalid.
    #[error("config: {0}")]
    Config(String),
    /// An I/O error with its path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The gateway's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// The stable code and HTTP status of this error.
    pub fn code(&self) -> (StatusCode, &'static str) {
        use zkgate_zkml::Error as Z;
        match self {
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Error::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            Error::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Error::Limit(_) => (StatusCode::TOO_MANY_REQUESTS, "limit_reached"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Error::Denied { .. } => (StatusCode::FORBIDDEN, "policy_denied"),
            Error::Budget(_) => (StatusCode::FORBIDDEN, "budget_exhausted"),
            Error::Held { .. } => (StatusCode::CONFLICT, "held"),
            Error::Zkml(z) => match z {
                Z::MalformedModel(_) => (StatusCode::BAD_REQUEST, "malformed_model"),
                Z::UnsupportedOp { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "unsupported_op"),
                Z::Structure(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unsupported_model"),
                Z::OverLimit { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "model_over_limit"),
                Z::Csv { .. } => (StatusCode::BAD_REQUEST, "bad_csv"),
                Z::Overflow(_) => (StatusCode::UNPROCESSABLE_ENTITY, "overflow"),
                Z::Job(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_job"),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
            Error::Corrupt { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "corrupt_record"),
            Error::Crashed(_) => (StatusCode::INTERNAL_SERVER_ERROR, "job_crashed"),
            Error::Store(_) | Error::Vault(_) | Error::Config(_) | Error::Io { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }

    /// What a client is told of this error (the `error` member of
    /// [`Error::body`], and a failed job's `error`). Internal errors keep
    /// their detail in the server log only.
    pub fn detail(&self) -> ErrorDetail {
        let (status, code) = self.code();
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            "internal error".to_string()
        } else {
            self.to_string()
        };
        let rules = match self {
            Error::Denied { rules, .. } | Error::Held { rules, .. } => Some(rules.clone()),
            _ => None,
        };
        ErrorDetail {
            code: code.to_string(),
            message,
            rules,
        }
    }

    /// The JSON body sent for this error: `{"error": detail}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!(crate::api::ErrorBody {
            error: self.detail()
        })
    }
}

pub use zkgate_client::api::ErrorDetail;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, _) = self.code();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            eprintln!("zkgate: internal error: {self}");
        }
        (status, axum::Json(self.body())).into_response()
    }
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::Store(e.to_string())
    }
}

impl From<zkgate_statement::Error> for Error {
    fn from(e: zkgate_statement::Error) -> Self {
        Error::Zkml(e.into())
    }
}
