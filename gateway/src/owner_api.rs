//! The owner API (`/v1/admin/...`) on the running gateway, behind the
//! owner's bearer token (`admin.token`, made at `init`), and `/v1/whoami`,
//! which tells either kind of token what it is. Each handler is one call
//! into [`crate::owner`], which the CLI also uses on a stopped gateway.

use crate::admin::token_hash;
use crate::api::multipart_error;
use crate::error::{Error, Result};
use crate::owner::{self, NewResearcher, Note, Verdict};
use crate::Gateway;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

type AppState = Arc<Gateway>;

/// The bearer token of a request, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Whether `token` is the owner's.
fn is_owner(gw: &Gateway, token: &str) -> bool {
    gw.config
        .admin_token_sha256
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

/// The owner's routes, and `/v1/whoami`.
pub(crate) fn routes(gw: &Gateway) -> Router<AppState> {
    Router::new()
        .route("/v1/whoami", get(whoami))
        .route("/v1/admin/datasets", get(datasets).post(import))
        .route("/v1/admin/datasets/{name}", delete(remove))
        .route("/v1/admin/researchers", get(researchers).post(add))
        .route("/v1/admin/researchers/{name}", delete(revoke))
        .route("/v1/admin/policy/reload", post(reload))
        .route("/v1/admin/jobs", get(jobs))
        .route("/v1/admin/jobs/{id}/{verdict}", post(review))
        .route("/v1/admin/audit", get(audit))
        .route("/v1/admin/workers", get(workers).post(add_worker))
        .route("/v1/admin/workers/{name}", delete(remove_worker))
        .route("/v1/worker/keys/{id}", get(proving_key))
        // An import's CSV may be larger than a model upload.
        .layer(DefaultBodyLimit::max(
            gw.config
                .limits
                .max_dataset_bytes
                .max(gw.config.limits.max_upload_bytes),
        ))
}

/// A proving worker the owner registered, known by its token.
pub(crate) struct WorkerCaller(crate::store::WorkerRecord);

impl FromRequestParts<AppState> for WorkerCaller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, gw: &AppState) -> Result<Self> {
        let token = bearer(&parts.headers).ok_or(Error::Unauthorized)?;
        gw.store
            .worker(&token_hash(token))?
            .map(WorkerCaller)
            .ok_or(Error::Unauthorized)
    }
}

/// Runs owner work off the async runtime (imports hash every row; the
/// store and the audit log write synchronously).
async fn blocking<T: Send + 'static>(
    gw: &AppState,
    f: impl FnOnce(&Gateway) -> Result<T> + Send + 'static,
) -> Result<T> {
    let gw = gw.clone();
    tokio::task::spawn_blocking(move || f(&gw))
        .await
        .map_err(|e| Error::Crashed(e.to_string()))?
}

/// `GET /v1/whoami`: `{"role": "owner"}` or the researcher the token
/// belongs to.
async fn whoami(State(gw): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let token = bearer(&headers).ok_or(Error::Unauthorized)?;
    if is_owner(&gw, token) {
        return Ok(Json(json!({ "role": "owner" })).into_response());
    }
    let r = gw
        .store
        .researcher(&token_hash(token))?
        .ok_or(Error::Unauthorized)?;
    Ok(Json(json!({
        "role": "researcher",
        "name": r.name,
        "organisation": r.organisation,
        "trust": r.trust,
        "address": r.address,
    }))
    .into_response())
}

async fn datasets(State(gw): State<AppState>, _: Owner) -> Result<Response> {
    Ok(Json(gw.store.datasets()?).into_response())
}

/// `POST /v1/admin/datasets`: multipart `name`, `schema` (JSON), `csv`,
/// optionally `price`.
async fn import(State(gw): State<AppState>, _: Owner, mut form: Multipart) -> Result<Response> {
    let limit = gw.config.limits.max_dataset_bytes;
    let (mut name, mut schema, mut csv, mut price) = (None, None, None, 0u64);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        let field_name = field.name().unwrap_or("").to_string();
        let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
        match field_name.as_str() {
            "name" => name = Some(String::from_utf8_lossy(&bytes).trim().to_string()),
            "schema" => {
                schema = Some(
                    zkgate_statement::Schema::from_json(&bytes)
                        .map_err(|e| Error::BadRequest(format!("schema: {e}")))?,
                )
            }
            "csv" => csv = Some(bytes),
            "price" => {
                price = String::from_utf8_lossy(&bytes)
                    .trim()
                    .parse()
                    .map_err(|_| Error::BadRequest("price is a whole number of wei".into()))?
            }
            other => {
                return Err(Error::BadRequest(format!(
                    "unexpected form field `{other}` (expected `name`, `schema`, `csv`, `price`)"
                )))
            }
        }
    }
    let missing = |f: &str| Error::BadRequest(format!("missing form field `{f}`"));
    let name = name.ok_or_else(|| missing("name"))?;
    let schema = schema.ok_or_else(|| missing("schema"))?;
    let csv = csv.ok_or_else(|| missing("csv"))?;
    if csv.len() > limit {
        return Err(Error::TooLarge(limit));
    }
    let meta = blocking(&gw, move |gw| {
        owner::import_dataset(gw, &name, &schema, &csv, price)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(meta)).into_response())
}

async fn remove(
    State(gw): State<AppState>,
    _: Owner,
    Path(name): Path<String>,
) -> Result<Response> {
    let n = name.clone();
    blocking(&gw, move |gw| owner::remove_dataset(gw, &n)).await?;
    Ok(Json(json!({ "removed": name })).into_response())
}

async fn researchers(State(gw): State<AppState>, _: Owner) -> Result<Response> {
    Ok(Json(owner::researchers(&gw)?).into_response())
}

async fn add(State(gw): State<AppState>, _: Owner, body: axum::body::Bytes) -> Result<Response> {
    let r: NewResearcher = serde_json::from_slice(&body).map_err(|e| {
        Error::BadRequest(format!(
            "expected {{name, organisation, trust, address}}: {e}"
        ))
    })?;
    let name = r.name.clone();
    let token = blocking(&gw, move |gw| {
        owner::add_researcher(gw, &r.name, &r.organisation, r.trust, r.address)
    })
    .await?;
    Ok(issued(&name, &token))
}

/// A 201 with the token just made for `name` (shown once).
fn issued(name: &str, token: &str) -> Response {
    (
        StatusCode::CREATED,
        Json(json!({ "name": name, "token": token })),
    )
        .into_response()
}

async fn revoke(
    State(gw): State<AppState>,
    _: Owner,
    Path(name): Path<String>,
) -> Result<Response> {
    let n = name.clone();
    let cancelled = blocking(&gw, move |gw| owner::revoke_researcher(gw, &n)).await?;
    Ok(Json(json!({ "revoked": name, "cancelled": cancelled })).into_response())
}

async fn reload(State(gw): State<AppState>, _: Owner) -> Result<Response> {
    // An invalid file is the owner's to fix: its errors are the answer.
    let rules = blocking(&gw, crate::policy::reload)
        .await
        .map_err(|e| match e {
            Error::Config(m) => Error::Unprocessable(m),
            e => e,
        })?;
    Ok(Json(json!({ "rules": rules })).into_response())
}

async fn jobs(State(gw): State<AppState>, _: Owner) -> Result<Response> {
    let mut all = owner::jobs(&gw)?;
    all.iter_mut().for_each(crate::api::live);
    Ok(Json(all).into_response())
}

fn note(body: &[u8]) -> Result<Note> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Note::default());
    }
    serde_json::from_slice(body).map_err(|e| Error::BadRequest(format!("expected {{note}}: {e}")))
}

/// `POST /v1/admin/jobs/{id}/approve` and `.../deny` with `{note}`.
async fn review(
    State(gw): State<AppState>,
    _: Owner,
    Path((id, verdict)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response> {
    let verdict = match verdict.as_str() {
        "approve" => Verdict::Approve,
        "deny" => Verdict::Deny,
        other => return Err(Error::NotFound(format!("`{other}`: approve or deny"))),
    };
    let n = note(&body)?;
    let job = blocking(&gw, move |gw| owner::review(gw, &id, verdict, &n.note)).await?;
    Ok(Json(job).into_response())
}

#[derive(serde::Deserialize)]
struct Page {
    from: Option<u64>,
    limit: Option<usize>,
}

async fn audit(State(gw): State<AppState>, _: Owner, Query(p): Query<Page>) -> Result<Response> {
    let limit = p.limit.unwrap_or(200).clamp(1, 10_000);
    let page = blocking(&gw, move |gw| owner::audit_page(gw, p.from, limit)).await?;
    Ok(Json(page).into_response())
}

async fn workers(State(gw): State<AppState>, _: Owner) -> Result<Response> {
    Ok(Json(gw.store.workers()?).into_response())
}

async fn add_worker(
    State(gw): State<AppState>,
    _: Owner,
    body: axum::body::Bytes,
) -> Result<Response> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NewWorker {
        name: String,
        recipient: String,
        nkey: String,
    }
    let w: NewWorker = serde_json::from_slice(&body)
        .map_err(|e| Error::BadRequest(format!("expected {{name, recipient, nkey}}: {e}")))?;
    let name = w.name.clone();
    let token = blocking(&gw, move |gw| {
        owner::add_worker(gw, &w.name, &w.recipient, &w.nkey)
    })
    .await?;
    Ok(issued(&name, &token))
}

async fn remove_worker(
    State(gw): State<AppState>,
    _: Owner,
    Path(name): Path<String>,
) -> Result<Response> {
    let n = name.clone();
    blocking(&gw, move |gw| owner::remove_worker(gw, &n)).await?;
    Ok(Json(json!({ "removed": name })).into_response())
}

/// `GET /v1/worker/keys/{circuit_id}`: a kept proving key, as the gateway
/// keeps it (uncompressed), for a registered worker.
async fn proving_key(
    State(gw): State<AppState>,
    WorkerCaller(w): WorkerCaller,
    Path(id): Path<String>,
) -> Result<Response> {
    let path = gw
        .proving_keys()
        .file(&id)
        .ok_or_else(|| Error::NotFound(format!("the proving key of circuit {id}")))?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| Error::io(&path, e))?;
    eprintln!(
        "zkgate: worker `{}` fetched the key of circuit {id} ({} MiB)",
        w.name,
        bytes.len() >> 20
    );
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
