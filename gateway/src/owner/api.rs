//! The owner API (`/v1/owner/...`; `/v1/admin/...` in an earlier
//! release) on the running gateway, behind the owner's bearer token
//! (`owner.token`, made at `init`); the registered provers' key route;
//! and `/v1/whoami`, which tells either kind of token what it is. Each
//! handler is one call into [`crate::owner`], which the CLI also uses on a
//! stopped gateway.

use crate::api::ErrorBody;
use crate::config::Limits;
use crate::error::{Error, Result};
use crate::http::{bearer, blocking, is_owner, next_field, AppState, Owner, ProverCaller};
use crate::owner::setup::token_hash;
use crate::owner::{self, NewResearcher, Note, Verdict};
use axum::extract::Request;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::HeaderValue;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::json;
use tower::ServiceExt;
use utoipa_axum::{router::OpenApiRouter, routes};
use zkgate_client::api::{DatasetMeta, Job};

/// Prefixes an earlier release served, and what they are called now: a
/// request under one is answered as its successor, with a `Deprecation`
/// header and a `Link` to the new path.
pub(crate) const RENAMED: &[(&str, &str)] = &[
    ("/v1/admin/workers", "/v1/owner/provers"),
    ("/v1/admin/", "/v1/owner/"),
    ("/v1/worker/", "/v1/prover/"),
];

/// The owner's routes, the registered provers' key route and
/// `/v1/whoami`, documented (see [`crate::api`]).
pub(crate) fn routes(limits: &Limits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(whoami))
        .routes(routes!(datasets, import))
        .routes(routes!(remove))
        .routes(routes!(researchers, add))
        .routes(routes!(revoke))
        .routes(routes!(reload))
        .routes(routes!(jobs))
        .routes(routes!(review))
        .routes(routes!(audit))
        .routes(routes!(provers, add_prover))
        .routes(routes!(remove_prover))
        .routes(routes!(proving_key))
        // An import's CSV may be larger than a model upload.
        .layer(DefaultBodyLimit::max(
            limits.max_dataset_bytes.max(limits.max_upload_bytes),
        ))
}

/// The old prefixes of [`RENAMED`], each answered as its successor among
/// [`routes`].
pub(crate) fn renamed(limits: &Limits) -> Router<AppState> {
    let (served, _) = routes(limits).split_for_parts();
    let legacy = any(move |State(gw): State<AppState>, req: Request| {
        forward(served.clone().with_state(gw), req)
    });
    Router::new()
        .route("/v1/admin/{*rest}", legacy.clone())
        .route("/v1/worker/{*rest}", legacy)
}

/// A dataset import's multipart form, as the OpenAPI document describes it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ImportForm {
    /// The dataset's name.
    name: String,
    /// The declared schema (JSON): every column's name, kind, range and
    /// scale.
    #[schema(value_type = String, content_media_type = "application/json")]
    schema: String,
    /// The rows (CSV with a header).
    #[schema(value_type = String, format = Binary)]
    csv: Vec<u8>,
    /// Price per job, wei (default 0).
    price: Option<u64>,
}

/// Answers a request under an old prefix as its successor would.
async fn forward(routes: Router, mut req: Request) -> Response {
    let path = req.uri().path();
    let Some((old, new)) = RENAMED.iter().find(|(old, _)| path.starts_with(old)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let successor = format!("{new}{}", &path[old.len()..]);
    let uri = match req.uri().query() {
        Some(q) => format!("{successor}?{q}"),
        None => successor.clone(),
    };
    match uri.parse() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    }
    // The old route's own match (its `rest`) must not reach the new
    // route's path extractors.
    req.extensions_mut().clear();
    let mut res = match routes.oneshot(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    };
    let h = res.headers_mut();
    h.insert("deprecation", HeaderValue::from_static("true"));
    if let Ok(link) = HeaderValue::from_str(&format!("<{successor}>; rel=\"successor-version\"")) {
        h.insert(header::LINK, link);
    }
    res
}

/// `GET /v1/whoami`: `{"role": "owner"}` or the researcher the token
/// belongs to.
#[utoipa::path(get, path = "/v1/whoami", tag = "service",
    responses(
        (status = 200, description = "{role: owner} or {role: researcher, name, organisation, trust, address}", body = Object),
        (status = 401, description = "unknown token", body = ErrorBody)))]
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

/// `GET /v1/owner/datasets`: every dataset's metadata.
#[utoipa::path(get, path = "/v1/owner/datasets", tag = "owner", operation_id = "owner_datasets",
    responses(
        (status = 200, description = "every dataset's metadata", body = [DatasetMeta]),
        (status = 403, description = "a researcher's token", body = ErrorBody)))]
async fn datasets(State(gw): State<AppState>, _: Owner) -> Result<Response> {
    Ok(Json(gw.store.datasets()?).into_response())
}

/// `POST /v1/owner/datasets`: multipart `name`, `schema` (JSON), `csv`,
/// optionally `price`.
#[utoipa::path(post, path = "/v1/owner/datasets", tag = "owner",
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "the dataset's metadata and commitment", body = DatasetMeta),
        (status = 400, description = "bad CSV or schema, rows outside the declared ranges", body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody),
        (status = 413, description = "over max_dataset_bytes", body = ErrorBody)))]
async fn import(State(gw): State<AppState>, _: Owner, mut form: Multipart) -> Result<Response> {
    let limit = gw.config.limits.max_dataset_bytes;
    let (mut name, mut schema, mut csv, mut price) = (None, None, None, 0u64);
    while let Some((field_name, bytes)) = next_field(&mut form, limit).await? {
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

/// `DELETE /v1/owner/datasets/{name}`.
#[utoipa::path(delete, path = "/v1/owner/datasets/{name}", tag = "owner",
    params(("name" = String, Path, description = "the dataset")),
    responses(
        (status = 200, description = "{removed}", body = Object),
        (status = 409, description = "a job that is not finished reads it", body = ErrorBody)))]
async fn remove(
    State(gw): State<AppState>,
    _: Owner,
    Path(name): Path<String>,
) -> Result<Response> {
    let n = name.clone();
    blocking(&gw, move |gw| owner::remove_dataset(gw, &n)).await?;
    Ok(Json(json!({ "removed": name })).into_response())
}

/// `GET /v1/owner/researchers`.
#[utoipa::path(get, path = "/v1/owner/researchers", tag = "owner",
    responses((status = 200, description = "every researcher (never a token)", body = [Object])))]
async fn researchers(State(gw): State<AppState>, _: Owner) -> Result<Response> {
    Ok(Json(owner::researchers(&gw)?).into_response())
}

/// `POST /v1/owner/researchers`.
#[utoipa::path(post, path = "/v1/owner/researchers", tag = "owner",
    request_body(content = Object, description = "{name, organisation, trust, address}"),
    responses(
        (status = 201, description = "{name, token}: the token, shown once", body = Object),
        (status = 409, description = "the name or address is taken", body = ErrorBody)))]
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

/// `DELETE /v1/owner/researchers/{name}`.
#[utoipa::path(delete, path = "/v1/owner/researchers/{name}", tag = "owner",
    params(("name" = String, Path, description = "the researcher")),
    responses((status = 200, description = "{revoked, cancelled}: their token stops working at once; their queued and held jobs are cancelled", body = Object)))]
async fn revoke(
    State(gw): State<AppState>,
    _: Owner,
    Path(name): Path<String>,
) -> Result<Response> {
    let n = name.clone();
    let cancelled = blocking(&gw, move |gw| owner::revoke_researcher(gw, &n)).await?;
    Ok(Json(json!({ "revoked": name, "cancelled": cancelled })).into_response())
}

/// `POST /v1/owner/policy/reload`.
#[utoipa::path(post, path = "/v1/owner/policy/reload", tag = "owner",
    responses(
        (status = 200, description = "{rules}: the rules now in force", body = Object),
        (status = 422, description = "the file is invalid: its errors; the old policy stays", body = ErrorBody)))]
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

/// `GET /v1/owner/jobs`.
#[utoipa::path(get, path = "/v1/owner/jobs", tag = "owner", operation_id = "owner_jobs",
    responses((status = 200, description = "every researcher's jobs, newest first", body = [Job])))]
async fn jobs(State(gw): State<AppState>, _: Owner) -> Result<Response> {
    let mut all = owner::jobs(&gw)?;
    all.iter_mut().for_each(crate::research::live);
    Ok(Json(all).into_response())
}

fn note(body: &[u8]) -> Result<Note> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Note::default());
    }
    serde_json::from_slice(body).map_err(|e| Error::BadRequest(format!("expected {{note}}: {e}")))
}

/// `POST /v1/owner/jobs/{id}/approve` and `.../deny` with `{note}`.
#[utoipa::path(post, path = "/v1/owner/jobs/{id}/{verdict}", tag = "owner",
    params(
        ("id" = String, Path, description = "the held job"),
        ("verdict" = String, Path, description = "`approve` (the job is queued) or `deny` (it fails with the note; its epsilon is given back)")),
    request_body(content = Object, description = "{note}, shown to the researcher (may be empty)"),
    responses(
        (status = 200, description = "the job", body = Job),
        (status = 404, description = "no such job, or a verdict other than approve or deny", body = ErrorBody),
        (status = 409, description = "not held", body = ErrorBody)))]
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

/// `GET /v1/owner/audit`.
#[utoipa::path(get, path = "/v1/owner/audit", tag = "owner",
    params(
        ("from" = Option<u64>, Query, description = "the first entry's sequence number"),
        ("limit" = Option<usize>, Query, description = "entries (default: the last 200)")),
    responses((status = 200, description = "{entries, total, links: {ok, seq, head} or {ok: false, error}; chain: the same (deprecated)}", body = Object)))]
async fn audit(State(gw): State<AppState>, _: Owner, Query(p): Query<Page>) -> Result<Response> {
    let limit = p.limit.unwrap_or(200).clamp(1, 10_000);
    let page = blocking(&gw, move |gw| owner::audit_page(gw, p.from, limit)).await?;
    Ok(Json(page).into_response())
}

/// `GET /v1/owner/provers`.
#[utoipa::path(get, path = "/v1/owner/provers", tag = "owner",
    responses((status = 200, description = "the registered provers: name, recipient, nkey, added", body = [Object])))]
async fn provers(State(gw): State<AppState>, _: Owner) -> Result<Response> {
    Ok(Json(gw.store.provers()?).into_response())
}

/// `POST /v1/owner/provers`.
#[utoipa::path(post, path = "/v1/owner/provers", tag = "owner",
    request_body(content = Object, description = "{name, recipient, nkey}: the age recipient its shard tasks are encrypted to, the nkey it connects to NATS and signs its results with"),
    responses(
        (status = 201, description = "{name, token}: the prover's token, shown once", body = Object),
        (status = 400, description = "not an age recipient or not a user nkey", body = ErrorBody),
        (status = 409, description = "the name or the nkey is taken", body = ErrorBody)))]
async fn add_prover(
    State(gw): State<AppState>,
    _: Owner,
    body: axum::body::Bytes,
) -> Result<Response> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NewProver {
        name: String,
        recipient: String,
        nkey: String,
    }
    let w: NewProver = serde_json::from_slice(&body)
        .map_err(|e| Error::BadRequest(format!("expected {{name, recipient, nkey}}: {e}")))?;
    let name = w.name.clone();
    let token = blocking(&gw, move |gw| {
        owner::add_prover(gw, &w.name, &w.recipient, &w.nkey)
    })
    .await?;
    Ok(issued(&name, &token))
}

/// `DELETE /v1/owner/provers/{name}`.
#[utoipa::path(delete, path = "/v1/owner/provers/{name}", tag = "owner",
    params(("name" = String, Path, description = "the prover")),
    responses(
        (status = 200, description = "{removed}: its token fetches nothing from now on", body = Object),
        (status = 404, description = "no such prover", body = ErrorBody)))]
async fn remove_prover(
    State(gw): State<AppState>,
    _: Owner,
    Path(name): Path<String>,
) -> Result<Response> {
    let n = name.clone();
    blocking(&gw, move |gw| owner::remove_prover(gw, &n)).await?;
    Ok(Json(json!({ "removed": name })).into_response())
}

/// `GET /v1/prover/keys/{circuit_id}`: a kept proving key, as the gateway
/// keeps it (uncompressed), for a registered prover.
#[utoipa::path(get, path = "/v1/prover/keys/{id}", tag = "prover",
    params(("id" = String, Path, description = "the circuit id")),
    responses(
        (status = 200, description = "the proving key, as the gateway keeps it (uncompressed), for a registered prover's token", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, description = "not a registered prover's token", body = ErrorBody),
        (status = 404, description = "no key for that circuit", body = ErrorBody)))]
async fn proving_key(
    State(gw): State<AppState>,
    ProverCaller(w): ProverCaller,
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
        "zkgate: prover `{}` fetched the key of circuit {id} ({} MiB)",
        w.name,
        bytes.len() >> 20
    );
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
