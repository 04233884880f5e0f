//! The owner API (`/v1/owner/...`; `/v1/admin/...` in an earlier
//! release) on the running gateway, behind the owner's bearer token
//! (`owner.token`, made at `init`); the registered provers' key route;
//! and `/v1/whoami`, which tells either kind of token what it is. Each
//! handler is one call into [`crate::owner`], which the CLI also uses on a
//! stopped gateway.

use crate::error::{Error, Result};
use crate::http::{bearer, blocking, is_owner, next_field, AppState, Owner, ProverCaller};
use crate::owner::setup::token_hash;
use crate::owner::{self, NewResearcher, Note, Verdict};
use crate::Gateway;
use axum::extract::Request;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::HeaderValue;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use axum::{Json, Router};
use serde_json::json;
use tower::ServiceExt;

/// Prefixes an earlier release served, and what they are called now: a
/// request under one is answered as its successor, with a `Deprecation`
/// header and a `Link` to the new path.
pub(crate) const RENAMED: &[(&str, &str)] = &[
    ("/v1/admin/workers", "/v1/owner/provers"),
    ("/v1/admin/", "/v1/owner/"),
    ("/v1/worker/", "/v1/prover/"),
];

/// The owner's routes, the registered provers' key route, `/v1/whoami`,
/// and the old prefixes of [`RENAMED`].
pub(crate) fn routes(gw: &Gateway) -> Router<AppState> {
    let current = Router::new()
        .route("/v1/whoami", get(whoami))
        .route("/v1/owner/datasets", get(datasets).post(import))
        .route("/v1/owner/datasets/{name}", delete(remove))
        .route("/v1/owner/researchers", get(researchers).post(add))
        .route("/v1/owner/researchers/{name}", delete(revoke))
        .route("/v1/owner/policy/reload", post(reload))
        .route("/v1/owner/jobs", get(jobs))
        .route("/v1/owner/jobs/{id}/{verdict}", post(review))
        .route("/v1/owner/audit", get(audit))
        .route("/v1/owner/provers", get(provers).post(add_prover))
        .route("/v1/owner/provers/{name}", delete(remove_prover))
        .route("/v1/prover/keys/{id}", get(proving_key))
        // An import's CSV may be larger than a model upload.
        .layer(DefaultBodyLimit::max(
            gw.config
                .limits
                .max_dataset_bytes
                .max(gw.config.limits.max_upload_bytes),
        ));
    let served = current.clone();
    let legacy = any(move |State(gw): State<AppState>, req: Request| {
        forward(served.clone().with_state(gw), req)
    });
    current
        .route("/v1/admin/{*rest}", legacy.clone())
        .route("/v1/worker/{*rest}", legacy)
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
    all.iter_mut().for_each(crate::research::live);
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

async fn provers(State(gw): State<AppState>, _: Owner) -> Result<Response> {
    Ok(Json(gw.store.provers()?).into_response())
}

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
