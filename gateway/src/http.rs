//! What every HTTP handler shares: the state, the bearer token and the
//! callers it identifies (a researcher, the owner, a registered prover),
//! work moved off the async runtime, and multipart forms read within a
//! limit. Handlers stay thin: each reads its request with these and makes
//! one call into [`crate::research`] or [`crate::owner`].

use crate::error::{Error, Result};
use crate::owner::setup::token_hash;
use crate::store::{CeremonyUpload, Manifest, Researcher};
use crate::Gateway;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Multipart};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use std::sync::Arc;

/// The handlers' state.
pub(crate) type AppState = Arc<Gateway>;

/// The bearer token of a request, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Whether `token` is the owner's.
pub(crate) fn is_owner(gw: &Gateway, token: &str) -> bool {
    gw.config
        .owner_token_sha256
        .as_deref()
        .is_some_and(|want| want.eq_ignore_ascii_case(&token_hash(token)))
}

/// The data owner making a request: a handler taking it runs only with the
/// owner's token (none or an unknown one is a 401; a researcher's is a
/// 403).
pub(crate) struct Owner;

impl FromRequestParts<AppState> for Owner {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, gw: &AppState) -> Result<Self> {
        let token = bearer(&parts.headers).ok_or(Error::Unauthorized)?;
        if is_owner(gw, token) {
            return Ok(Owner);
        }
        match gw.store.researcher(&token_hash(token))? {
            Some(_) => Err(Error::Forbidden(
                "the owner API takes the owner's token".into(),
            )),
            None => Err(Error::Unauthorized),
        }
    }
}

/// The researcher making a request, known by the bearer token: a handler
/// taking it runs only for a known researcher (anything else is a 401
/// before the handler starts).
pub(crate) struct Caller(pub(crate) Researcher);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, gw: &AppState) -> Result<Self> {
        let token = bearer(&parts.headers).ok_or(Error::Unauthorized)?;
        gw.store
            .researcher(&token_hash(token))?
            .map(Caller)
            .ok_or(Error::Unauthorized)
    }
}

/// A prover the owner registered, known by its token.
pub(crate) struct ProverCaller(pub(crate) crate::store::ProverRecord);

impl FromRequestParts<AppState> for ProverCaller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, gw: &AppState) -> Result<Self> {
        let token = bearer(&parts.headers).ok_or(Error::Unauthorized)?;
        gw.store
            .prover(&token_hash(token))?
            .map(ProverCaller)
            .ok_or(Error::Unauthorized)
    }
}

/// Runs work off the async runtime (imports hash every row, a model's
/// import and compilation take seconds; the store and the audit log
/// write synchronously).
pub(crate) async fn blocking<T: Send + 'static>(
    gw: &AppState,
    f: impl FnOnce(&Gateway) -> Result<T> + Send + 'static,
) -> Result<T> {
    let gw = gw.clone();
    tokio::task::spawn_blocking(move || f(&gw))
        .await
        .map_err(|e| Error::Crashed(e.to_string()))?
}

/// A multipart error as the API answers it: too large, or malformed.
fn multipart_error(e: axum::extract::multipart::MultipartError, limit: usize) -> Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::TooLarge(limit)
    } else {
        Error::BadRequest(format!("multipart: {}", e.body_text()))
    }
}

/// The next field of a multipart form within `limit` bytes: its name and
/// its bytes.
pub(crate) async fn next_field(
    form: &mut Multipart,
    limit: usize,
) -> Result<Option<(String, Bytes)>> {
    let Some(field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    else {
        return Ok(None);
    };
    let name = field.name().unwrap_or("").to_string();
    let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
    Ok(Some((name, bytes)))
}

/// Ceremony keys a submission may carry: one circuit proves every shard
/// of a plan (the last padded).
const MAX_CEREMONY_KEYS: usize = 1;

/// A submission's form: its `manifest` (JSON), its `model` (ONNX bytes)
/// and optionally a `ceremony_key` field (the key of the plan's circuit),
/// nothing else: the key within `max_ceremony_key_bytes`, the rest within
/// `max_upload_bytes`.
pub(crate) struct Form {
    pub(crate) manifest: Manifest,
    pub(crate) model: Bytes,
    pub(crate) ceremony: Option<CeremonyUpload>,
    /// Kept ceremony keys named by their verifying keys' SHA-256
    /// (`kept_ceremony_key` fields).
    pub(crate) kept: Vec<String>,
}

/// The body limit of a submission: its fields, and a ceremony key.
pub(crate) fn submission_limit(limits: &crate::config::Limits) -> usize {
    limits
        .max_upload_bytes
        .saturating_add(limits.max_ceremony_key_bytes)
}

/// The next field of a submission's form, read in chunks: a `ceremony_key`
/// within `max_ceremony_key_bytes`, every other field within what is left
/// of `max_upload_bytes` (`used` so far), so neither is held in memory
/// beyond its limit.
async fn next_submission_field(
    form: &mut Multipart,
    limits: &crate::config::Limits,
    used: &mut usize,
) -> Result<Option<(String, Bytes)>> {
    let body = submission_limit(limits);
    let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error(e, body))?
    else {
        return Ok(None);
    };
    let name = field.name().unwrap_or("").to_string();
    let key = name == "ceremony_key";
    let (limit, left) = if key {
        (limits.max_ceremony_key_bytes, limits.max_ceremony_key_bytes)
    } else {
        (
            limits.max_upload_bytes,
            limits.max_upload_bytes.saturating_sub(*used),
        )
    };
    let mut bytes = Vec::new();
    let mut over = false;
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, body))? {
        // Past the field's limit nothing more is kept, but the body is read
        // to its end (within the body's limit): a client still sending
        // gets the answer, not a cut connection.
        over |= bytes.len() + chunk.len() > left;
        if !over {
            bytes.extend_from_slice(&chunk);
        }
    }
    if over {
        // A field holds the form until dropped.
        drop(field);
        while let Some(mut rest) = form
            .next_field()
            .await
            .map_err(|e| multipart_error(e, body))?
        {
            while rest
                .chunk()
                .await
                .map_err(|e| multipart_error(e, body))?
                .is_some()
            {}
        }
        return Err(Error::TooLarge(limit));
    }
    if !key {
        *used += bytes.len();
    }
    Ok(Some((name, Bytes::from(bytes))))
}

pub(crate) async fn read_form(mut form: Multipart, limits: &crate::config::Limits) -> Result<Form> {
    let (mut manifest, mut model) = (None, None);
    let mut keys = Vec::new();
    let mut kept = Vec::new();
    let mut used = 0;
    while let Some((name, bytes)) = next_submission_field(&mut form, limits, &mut used).await? {
        match name.as_str() {
            "manifest" => manifest = Some(bytes),
            "model" => model = Some(bytes),
            "ceremony_key" | "kept_ceremony_key" if keys.len() + kept.len() >= MAX_CEREMONY_KEYS => {
                return Err(Error::BadRequest(format!(
                    "more than {MAX_CEREMONY_KEYS} `ceremony_key` field: one circuit proves every shard"
                )))
            }
            "ceremony_key" => keys.push(bytes),
            "kept_ceremony_key" => {
                let vk = std::str::from_utf8(&bytes)
                    .ok()
                    .map(str::trim)
                    .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or_else(|| {
                        Error::BadRequest(
                            "kept_ceremony_key: a verifying key's SHA-256, 64 hex digits".into(),
                        )
                    })?;
                kept.push(vk.to_ascii_lowercase());
            }
            other => {
                return Err(Error::BadRequest(format!(
                    "unexpected form field `{other}` (expected `manifest`, `model`, and optionally `ceremony_key` or `kept_ceremony_key` fields)"
                )))
            }
        }
    }
    let manifest: Manifest = serde_json::from_slice(
        &manifest.ok_or_else(|| Error::BadRequest("missing form field `manifest`".into()))?,
    )
    .map_err(|e| Error::BadRequest(format!("manifest: {e}")))?;
    let model = model.ok_or_else(|| Error::BadRequest("missing form field `model`".into()))?;
    // The transcripts are read now (cheap); the keys' points and their fit
    // to the job's circuits are checked before proving.
    for (i, key) in keys.iter().enumerate() {
        zkgate_zkml::ceremony::snarkjs::read_transcript(key).map_err(|e| {
            Error::BadRequest(format!("ceremony_key {} of {}: {e}", i + 1, keys.len()))
        })?;
    }
    let ceremony = (!keys.is_empty()).then(|| CeremonyUpload {
        zkeys: keys.iter().map(|k| k.to_vec()).collect(),
    });
    Ok(Form {
        manifest,
        model,
        ceremony,
        kept,
    })
}
