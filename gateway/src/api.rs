//! The researcher's HTTP API (`/v1`), health, metrics and the OpenAPI
//! document. Each handler reads its request with [`crate::http`]'s
//! extractors and makes one call into [`crate::research`].

use crate::config::Limits;
use crate::error::{Error, Result};
use crate::http::{bearer, blocking, read_form, AppState, Caller, Form};
use crate::owner::setup::token_hash;
use crate::research;
use crate::store::JobState;
use crate::{runner, Gateway};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::Value;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use zkgate_client::api::{DatasetMeta, DryRun, Job, Manifest};

/// The OpenAPI document's frame: its title, the bearer scheme every route
/// takes unless it says otherwise, and the shared schemas; the paths come
/// from the handlers' `#[utoipa::path]` as [`documented`] routes them.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "zkgate gateway"),
    modifiers(&Bearer),
    security(("bearer" = [])),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// The bearer-token security scheme.
struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

/// Every documented route (the researcher's, the owner's and the
/// console's), each registered with the OpenAPI operation its handler
/// declares, so the router and the document cannot disagree.
fn documented(limits: &Limits) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        // A submission may carry a ceremony key, larger than the rest
        // (the inner limit is the one a request meets).
        .routes(routes!(submit, my_jobs))
        .routes(routes!(dry_run))
        .layer(DefaultBodyLimit::max(crate::http::submission_limit(limits)))
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
        .routes(routes!(datasets))
        .routes(routes!(job))
        .routes(routes!(cancel))
        .routes(routes!(receipt))
        .routes(routes!(vk))
        .routes(routes!(address_challenge, register_address))
        .routes(routes!(ceremony_file))
        .routes(routes!(kept_keys))
        .routes(routes!(kept_key_file))
        .routes(routes!(audit_head))
        .routes(routes!(mock))
        .layer(DefaultBodyLimit::max(limits.max_upload_bytes))
        .merge(crate::owner::api::routes(limits))
        .merge(crate::console::routes())
}

/// The router.
pub fn router(gw: Arc<Gateway>) -> Router {
    let (routes, _) = documented(&gw.config.limits).split_for_parts();
    routes
        .merge(crate::owner::api::renamed(&gw.config.limits))
        .merge(crate::console::assets())
        .with_state(gw)
}

/// The OpenAPI 3.1 document of the API: the documented routes' operations
/// and the API's types as schemas, with `x-renamed` naming the old
/// prefixes still answered as their successors (deprecated).
pub fn openapi() -> Value {
    let (_, api) = documented(&Limits::default()).split_for_parts();
    let mut doc = serde_json::to_value(&api).unwrap_or_default();
    doc["x-renamed"] = crate::owner::api::RENAMED
        .iter()
        .map(|(old, new)| (old.to_string(), Value::from(*new)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    doc
}

/// A submission's multipart form (`POST /v1/jobs`, `POST /v1/jobs/dry-run`),
/// as the OpenAPI document describes it; [`read_form`] reads it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct SubmissionForm {
    /// The manifest (JSON, [`Manifest`]).
    #[schema(value_type = String, content_media_type = "application/json")]
    manifest: Manifest,
    /// The ONNX model.
    #[schema(value_type = String, format = Binary)]
    model: Vec<u8>,
    /// Up to two phase-2 keys of the job's circuits over the gateway's
    /// powers-of-tau file (`.zkey` with its transcript: `zkgate ceremony`
    /// or `snarkjs zkey contribute`), proved with once checked.
    #[schema(value_type = Option<String>, format = Binary)]
    ceremony_key: Option<Vec<u8>>,
    /// A ceremony key kept from an earlier job (`GET /v1/ceremony/keys`),
    /// by its verifying key's SHA-256.
    kept_ceremony_key: Option<String>,
}

/// The body of every error answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error's stable code and message.
    pub error: crate::error::ErrorDetail,
}

/// `GET /healthz`: alive.
#[utoipa::path(get, path = "/healthz", tag = "service", security(()),
    responses((status = 200, description = "alive", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// `GET /openapi.json`: this document.
#[utoipa::path(get, path = "/openapi.json", tag = "service", security(()),
    responses((status = 200, description = "this document", body = Object)))]
async fn openapi_json() -> Json<Value> {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    Json(DOC.get_or_init(openapi).clone())
}

/// `GET /v1/ceremony`: the powers-of-tau file ceremony keys must be made
/// over (its SHA-256 and power), or 404 when the gateway takes none.
#[utoipa::path(get, path = "/v1/ceremony", tag = "researcher",
    responses(
        (status = 200, description = "the powers-of-tau file ceremony keys are made over: ptau_sha256, ptau_blake2b, power, public (the public file it is, or null)", body = Object),
        (status = 404, description = "the gateway takes no ceremony keys", body = ErrorBody)))]
async fn ceremony_file(State(gw): State<AppState>, _: Caller) -> Result<Response> {
    let info = blocking(&gw, research::ceremony_file).await?;
    Ok(Json(info).into_response())
}

/// `GET /v1/ceremony/keys`: the ceremony keys kept from the caller's
/// earlier jobs.
#[utoipa::path(get, path = "/v1/ceremony/keys", tag = "researcher",
    responses((status = 200, description = "the ceremony keys kept from the caller's earlier jobs (only theirs): researcher, vk_sha256, circuit_id, shard_rows, transcript_sha256, contributors, contribution_hashes, ptau_blake2b, first_job, added; a submission names one with a `kept_ceremony_key` field", body = [Object])))]
async fn kept_keys(State(gw): State<AppState>, Caller(who): Caller) -> Result<Response> {
    let keys = blocking(&gw, move |g| g.store.kept_ceremony_keys(&who.name)).await?;
    Ok(Json(keys).into_response())
}

/// `GET /v1/ceremony/keys/{vk}`: a kept ceremony key's `.zkey` (to check,
/// contribute to, or pin in a question).
#[utoipa::path(get, path = "/v1/ceremony/keys/{vk}", tag = "researcher",
    params(("vk" = String, Path, description = "the kept key's verifying key's SHA-256, hex")),
    responses(
        (status = 200, description = "the kept key's .zkey", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "no kept key with this verifying key's SHA-256", body = ErrorBody)))]
async fn kept_key_file(
    State(gw): State<AppState>,
    Caller(who): Caller,
    Path(vk): Path<String>,
) -> Result<Response> {
    let v = vk.clone();
    let (_, zkey) = blocking(&gw, move |g| g.store.kept_ceremony_key(&who.name, &v))
        .await?
        .ok_or_else(|| Error::NotFound(format!("kept ceremony key {vk}")))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], zkey).into_response())
}

/// `GET /v1/audit/head`: the audit log's head (entries, hash of the last
/// one) signed now by the vault's key, for researchers to keep: the owner
/// cannot later rewrite the history before it without the anchor showing.
#[utoipa::path(get, path = "/v1/audit/head", tag = "researcher",
    responses((status = 200, description = "the audit log's head signed by the vault's key: seq, head, time, signer, signature", body = Object)))]
async fn audit_head(State(gw): State<AppState>, _: Caller) -> Json<crate::audit::Anchor> {
    Json(gw.audit.anchor(&gw.vault().signer()))
}

/// `GET /v1/me/address`: the caller's registered address, and a fresh
/// registration message for their Ethereum key to sign.
#[utoipa::path(get, path = "/v1/me/address", tag = "researcher",
    responses((status = 200, description = "the caller's registered Ethereum address (or null) and a fresh registration message to sign: {address, message}", body = Object)))]
async fn address_challenge(State(gw): State<AppState>, Caller(who): Caller) -> Json<Value> {
    Json(research::address_challenge(&gw, &who))
}

/// `PUT /v1/me/address` with `{message, signature}`.
#[utoipa::path(put, path = "/v1/me/address", tag = "researcher",
    request_body(content = Object, description = "{message, signature}: the registration message, signed with personal_sign (EIP-191; 65 bytes, hex)"),
    responses(
        (status = 200, description = "registered: {address}, the recovered address", body = Object),
        (status = 400, description = "not a fresh registration message of this gateway, or a bad signature", body = ErrorBody),
        (status = 403, description = "the message names another researcher", body = ErrorBody),
        (status = 409, description = "the address is another researcher's", body = ErrorBody)))]
async fn register_address(
    State(gw): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Response> {
    Ok(Json(research::register_address(&gw, &who, &body).await?).into_response())
}

/// `GET /v1/datasets`: every dataset's public metadata.
#[utoipa::path(get, path = "/v1/datasets", tag = "researcher",
    responses(
        (status = 200, description = "public metadata of every dataset", body = [DatasetMeta]),
        (status = 401, description = "bad token", body = ErrorBody)))]
async fn datasets(State(gw): State<AppState>, _: Caller) -> Result<Response> {
    Ok(Json(research::datasets(&gw)?).into_response())
}

/// `GET /v1/jobs`: the caller's jobs.
#[utoipa::path(get, path = "/v1/jobs", tag = "researcher",
    responses(
        (status = 200, description = "the caller's jobs", body = [Job]),
        (status = 401, description = "bad token", body = ErrorBody)))]
async fn my_jobs(State(gw): State<AppState>, Caller(who): Caller) -> Result<Response> {
    Ok(Json(research::jobs(&gw, &who)?).into_response())
}

/// `GET /v1/jobs/{id}`: one of the caller's jobs.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "researcher",
    params(("id" = String, Path, description = "the job's id")),
    responses(
        (status = 200, description = "the job", body = Job),
        (status = 404, description = "no such job of yours", body = ErrorBody)))]
async fn job(
    State(gw): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    Ok(Json(research::job(&gw, &who, &id)?).into_response())
}

/// `POST /v1/jobs/{id}/cancel`.
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "researcher",
    params(("id" = String, Path, description = "the job's id")),
    responses(
        (status = 200, description = "cancelled", body = Job),
        (status = 409, description = "already finished", body = ErrorBody)))]
async fn cancel(
    State(gw): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    Ok(Json(research::cancel(&gw, &who, &id)?).into_response())
}

/// `GET /v1/jobs/{id}/receipt`: a done job's receipt.
#[utoipa::path(get, path = "/v1/jobs/{id}/receipt", tag = "researcher",
    params(("id" = String, Path, description = "the job's id")),
    responses(
        (status = 200, description = "the receipt (JSON)", body = Object),
        (status = 409, description = "not done", body = ErrorBody)))]
async fn receipt(
    State(gw): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    let r = blocking(&gw, move |gw| {
        research::download(gw, &who, &id, research::Download::Receipt)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], r).into_response())
}

/// `GET /v1/jobs/{id}/vk`: a done job's verifying key(s).
#[utoipa::path(get, path = "/v1/jobs/{id}/vk", tag = "researcher",
    params(("id" = String, Path, description = "the job's id")),
    responses(
        (status = 200, description = "the verifying key(s), compressed", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 409, description = "not done", body = ErrorBody)))]
async fn vk(
    State(gw): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    let vk = blocking(&gw, move |gw| {
        research::download(gw, &who, &id, research::Download::Key)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], vk).into_response())
}

/// `POST /v1/jobs`: a model and its manifest (see [`research::submit`]):
/// 202 with a new job, 200 with the job an idempotent resubmission
/// repeats.
#[utoipa::path(post, path = "/v1/jobs", tag = "researcher",
    request_body(content = SubmissionForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "accepted", body = Job),
        (status = 200, description = "same idempotency key: the existing job", body = Job),
        (status = 400, description = "malformed manifest or model", body = ErrorBody),
        (status = 401, description = "bad token", body = ErrorBody),
        (status = 403, description = "policy denied, or an on-chain job not opened by the caller's registered address", body = ErrorBody),
        (status = 404, description = "unknown dataset", body = ErrorBody),
        (status = 413, description = "upload too large", body = ErrorBody),
        (status = 422, description = "unsupported op, unknown column, wrong input count", body = ErrorBody),
        (status = 429, description = "too many active jobs", body = ErrorBody)))]
async fn submit(
    State(gw): State<AppState>,
    Caller(who): Caller,
    form: Multipart,
) -> Result<Response> {
    let Form {
        manifest,
        model,
        ceremony,
        kept,
    } = read_form(form, &gw.config.limits).await?;
    let caller = who.clone();
    let ceremony = blocking(&gw, move |g| {
        research::with_kept_keys(g, &caller, ceremony, &kept)
    })
    .await?;
    let s = research::Submission {
        manifest,
        model,
        ceremony,
    };
    let done = research::submit(&gw, &who, s).await?;
    let status = if done.new {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(done.job)).into_response())
}

/// `GET /v1/datasets/{name}/mock`: the dataset's mock twin as CSV.
#[utoipa::path(get, path = "/v1/datasets/{name}/mock", tag = "researcher",
    params(("name" = String, Path, description = "the dataset")),
    responses(
        (status = 200, description = "the declared schema's columns over synthetic rows drawn from the declared ranges (at most 10,000)", content_type = "text/csv", body = String),
        (status = 404, description = "no such dataset", body = ErrorBody)))]
async fn mock(State(gw): State<AppState>, _: Caller, Path(name): Path<String>) -> Result<Response> {
    let n = name.clone();
    let csv = blocking(&gw, move |gw| research::mock(gw, &n)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.mock.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}

/// `POST /v1/jobs/dry-run`: the submission's form, judged as a submission
/// would be, nothing stored (see [`research::dry_run`]).
#[utoipa::path(post, path = "/v1/jobs/dry-run", tag = "researcher",
    request_body(content = SubmissionForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "what submitting would do; nothing is stored or proved", body = DryRun),
        (status = 400, description = "malformed manifest or model", body = ErrorBody),
        (status = 422, description = "unsupported op, unknown column, wrong input count", body = ErrorBody),
        (status = 429, description = "limits.max_dry_runs_per_day reached", body = ErrorBody)))]
async fn dry_run(
    State(gw): State<AppState>,
    Caller(who): Caller,
    form: Multipart,
) -> Result<Response> {
    let Form {
        manifest, model, ..
    } = read_form(form, &gw.config.limits).await?;
    Ok(Json(research::dry_run(&gw, &who, manifest, model).await?).into_response())
}

/// `GET /metrics`: Prometheus text.
#[utoipa::path(get, path = "/metrics", tag = "service", security(()),
    responses(
        (status = 200, description = "Prometheus text", content_type = "text/plain", body = String),
        (status = 401, description = "not the metrics token (metrics_token_sha256) or, without one, the owner's; unless metrics_public is set", body = ErrorBody)))]
async fn metrics(State(gw): State<AppState>, headers: axum::http::HeaderMap) -> Result<Response> {
    if !gw.config.metrics_public {
        // The metrics token, or else the owner's; with neither configured
        // nobody reads them (set `metrics_public` to serve them openly).
        let want = gw
            .config
            .metrics_token_sha256
            .as_ref()
            .or(gw.config.owner_token_sha256.as_ref())
            .ok_or(Error::Unauthorized)?;
        let given = bearer(&headers).map(token_hash);
        if given.as_deref() != Some(want.to_ascii_lowercase().as_str()) {
            return Err(Error::Unauthorized);
        }
    }
    let jobs = gw.store.jobs()?;
    let mut out = String::from("# HELP zkgate_jobs Jobs by state.\n# TYPE zkgate_jobs gauge\n");
    for s in JobState::ALL {
        out += &format!(
            "zkgate_jobs{{state=\"{}\"}} {}\n",
            s.name(),
            jobs.iter().filter(|j| j.state == s).count()
        );
    }
    let (secs, count) = runner::stats(&gw);
    out += "# HELP zkgate_proving_seconds Time spent proving since start.\n# TYPE zkgate_proving_seconds summary\n";
    out += &format!("zkgate_proving_seconds_sum {secs}\nzkgate_proving_seconds_count {count}\n");
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

#[cfg(test)]
mod tests {
    /// Dry runs compile a model and write an audit entry each: a
    /// researcher has a daily number of them, counted per day.
    #[test]
    fn dry_runs_are_counted_per_researcher_and_day() {
        let q = crate::DryRunQuota::default();
        assert_eq!(q.take("alice", 7, 2), Ok(1));
        assert_eq!(q.take("alice", 7, 2), Ok(2));
        assert_eq!(q.take("alice", 7, 2), Err(2));
        assert_eq!(q.take("bob", 7, 2), Ok(1));
        assert_eq!(q.take("alice", 8, 2), Ok(1));
    }

    /// The document is made from the routed handlers: every handler that
    /// declares an operation is routed (its path is in the document), the
    /// routes added without one are only the console's files and the old
    /// prefixes, every operation has its own id, and the API's types are
    /// schemas derived from their Rust definitions.
    #[test]
    fn the_openapi_document_covers_every_route() {
        let doc = super::openapi();
        let paths = doc["paths"].as_object().unwrap();
        let sources = [
            include_str!("api.rs"),
            include_str!("owner/api.rs"),
            include_str!("console.rs"),
        ];
        // The text between `{marker}"` and the next quote, everywhere
        // outside the tests.
        let quoted = |marker: &str| {
            let mut found = Vec::new();
            for src in sources {
                let mut rest = src.split("#[cfg(test)]").next().unwrap();
                while let Some(at) = rest.find(marker) {
                    rest = &rest[at + marker.len()..];
                    found.push(rest[..rest.find('"').unwrap()].to_string());
                }
            }
            found
        };
        let declared = quoted("path = \"");
        assert!(declared.len() > 30, "{declared:?}");
        for p in &declared {
            assert!(paths.contains_key(p), "{p} is declared but not routed");
        }
        for r in quoted(".route(\"") {
            let renamed = r
                .strip_suffix("{*rest}")
                .is_some_and(|old| doc["x-renamed"].get(old).is_some());
            assert!(
                renamed || r == "/console/" || r.starts_with("/console/app."),
                "route {r} has no operation in the OpenAPI document"
            );
        }
        let mut ids: Vec<&str> = paths
            .values()
            .flat_map(|ops| ops.as_object().unwrap().values())
            .map(|op| op["operationId"].as_str().unwrap())
            .collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "operation ids repeat");
        let schemas = &doc["components"]["schemas"];
        let states = schemas["JobState"]["enum"].as_array().unwrap();
        assert_eq!(states.len(), crate::store::JobState::ALL.len());
        for s in crate::store::JobState::ALL {
            assert!(states.contains(&s.name().into()), "{}", s.name());
        }
        assert!(schemas.get("BTreeMap").is_none(), "a map is inlined");
        for t in ["Job", "DatasetMeta", "DryRun", "Manifest", "ErrorBody"] {
            assert!(schemas[t]["properties"].is_object(), "{t}");
        }
        assert_eq!(
            doc["paths"]["/v1/jobs"]["post"]["responses"]["202"]["content"]["application/json"]
                ["schema"]["$ref"],
            "#/components/schemas/Job"
        );
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            doc["paths"]["/healthz"]["get"]["security"],
            serde_json::json!([{}])
        );
    }
}
