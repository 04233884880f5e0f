//! The researcher's HTTP API (`/v1`), health, metrics and the OpenAPI
//! document. Each handler reads its request with [`crate::http`]'s
//! extractors and makes one call into [`crate::research`].

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
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;
use std::sync::Arc;

/// The router.
pub fn router(gw: Arc<Gateway>) -> Router {
    let limit = gw.config.limits.max_upload_bytes;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(|| async { Json(openapi()) }))
        .route("/v1/datasets", get(datasets))
        .route("/v1/jobs", post(submit).get(my_jobs))
        .route("/v1/jobs/{id}", get(job))
        .route("/v1/jobs/{id}/cancel", post(cancel))
        .route("/v1/jobs/{id}/receipt", get(receipt))
        .route("/v1/jobs/{id}/vk", get(vk))
        .route(
            "/v1/me/address",
            get(address_challenge).put(register_address),
        )
        .route("/v1/ceremony", get(ceremony_file))
        .route("/v1/ceremony/keys", get(kept_keys))
        .route("/v1/ceremony/keys/{vk}", get(kept_key_file))
        .route("/v1/audit/head", get(audit_head))
        .route("/v1/datasets/{name}/mock", get(mock))
        .route("/v1/jobs/dry-run", post(dry_run))
        .layer(DefaultBodyLimit::max(limit))
        .merge(crate::owner::api::routes(&gw))
        .merge(crate::console::routes())
        .with_state(gw)
}

/// `GET /v1/ceremony`: the powers-of-tau file ceremony keys must be made
/// over (its SHA-256 and power), or 404 when the gateway takes none.
async fn ceremony_file(State(gw): State<AppState>, _: Caller) -> Result<Response> {
    let info = blocking(&gw, research::ceremony_file).await?;
    Ok(Json(info).into_response())
}

/// `GET /v1/ceremony/keys`: the ceremony keys kept from the caller's
/// earlier jobs.
async fn kept_keys(State(gw): State<AppState>, Caller(who): Caller) -> Result<Response> {
    let keys = blocking(&gw, move |g| g.store.kept_ceremony_keys(&who.name)).await?;
    Ok(Json(keys).into_response())
}

/// `GET /v1/ceremony/keys/{vk}`: a kept ceremony key's `.zkey` (to check,
/// contribute to, or pin in a question).
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
async fn audit_head(State(gw): State<AppState>, _: Caller) -> Json<crate::audit::Anchor> {
    Json(gw.audit.anchor(&gw.vault().signer()))
}

/// `GET /v1/me/address`: the caller's registered address, and a fresh
/// registration message for their Ethereum key to sign.
async fn address_challenge(State(gw): State<AppState>, Caller(who): Caller) -> Json<Value> {
    Json(research::address_challenge(&gw, &who))
}

/// `PUT /v1/me/address` with `{message, signature}`.
async fn register_address(
    State(gw): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Response> {
    Ok(Json(research::register_address(&gw, &who, &body).await?).into_response())
}

async fn datasets(State(gw): State<AppState>, _: Caller) -> Result<Response> {
    Ok(Json(research::datasets(&gw)?).into_response())
}

async fn my_jobs(State(gw): State<AppState>, Caller(who): Caller) -> Result<Response> {
    Ok(Json(research::jobs(&gw, &who)?).into_response())
}

async fn job(
    State(gw): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    Ok(Json(research::job(&gw, &who, &id)?).into_response())
}

async fn cancel(
    State(gw): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    Ok(Json(research::cancel(&gw, &who, &id)?).into_response())
}

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
    } = read_form(form, gw.config.limits.max_upload_bytes).await?;
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
async fn dry_run(
    State(gw): State<AppState>,
    Caller(who): Caller,
    form: Multipart,
) -> Result<Response> {
    let Form {
        manifest, model, ..
    } = read_form(form, gw.config.limits.max_upload_bytes).await?;
    Ok(Json(research::dry_run(&gw, &who, manifest, model).await?).into_response())
}

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

/// The OpenAPI 3.1 document of the API.
pub fn openapi() -> serde_json::Value {
    let error = serde_json::json!({ "$ref": "#/components/schemas/Error" });
    let job = serde_json::json!({ "$ref": "#/components/schemas/Job" });
    let id = serde_json::json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    let err = |d: &str| serde_json::json!({ "description": d, "content": { "application/json": { "schema": error } } });
    let mut doc = serde_json::json!({
        "openapi": "3.1.0",
        "info": { "title": "zkgate gateway", "version": env!("CARGO_PKG_VERSION") },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "properties": { "error": { "type": "object", "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } } },
                "Job": { "type": "object", "properties": {
                    "id": { "type": "string" }, "researcher": { "type": "string" },
                    "state": { "type": "string", "enum": ["queued", "held", "compiling", "setup", "proving", "proved", "settling", "done", "failed", "cancelled"] },
                    "hold": { "type": "object", "description": "why a held job waits for the data owner: rules, message, since" },
                    "review": { "type": "object", "description": "the owner's decision on a held job: decision (approved, denied), note, at" },
                    "progress": { "type": "object", "description": "stage, shard (k of shards), started, elapsed_s, estimated_s" },
                    "manifest": { "type": "object" }, "error": { "type": ["object", "null"] }, "attempts": { "type": "integer" },
                    "settlement": { "type": "object", "description": "for an on-chain job: chain_id, contract, job, tx, block, gas_used, values; or error" },
                    "chain": { "type": "object", "description": "for an on-chain job: the job, contract, chain_id and nonce it was accepted for" } } }
            }
        },
        "security": [{ "bearer": [] }],
        "paths": {
            "/healthz": { "get": { "security": [], "responses": { "200": { "description": "alive" } } } },
            "/metrics": { "get": { "security": [], "responses": { "200": { "description": "Prometheus text" }, "401": err("not the metrics token (metrics_token_sha256) or, without one, the owner's; unless metrics_public is set") } } },
            "/v1/datasets": { "get": { "responses": { "200": { "description": "public metadata of every dataset" }, "401": err("bad token") } } },
            "/v1/jobs": {
                "get": { "responses": { "200": { "description": "the caller's jobs" }, "401": err("bad token") } },
                "post": {
                    "requestBody": { "content": { "multipart/form-data": { "schema": { "type": "object", "properties": {
                        "manifest": { "type": "string", "description": "JSON: dataset, columns, aggregate, idempotency_key, quant (any subset), epsilon, chain_job (an on-chain job opened for the question, which then names the contract in `chain`), question (the researcher's question, docs/question.schema.json: the job must answer it and its proofs are bound to its hash), nonce (32 random bytes, hex, without a question)" },
                        "ceremony_key": { "type": "string", "format": "binary", "description": "optional: a phase-2 key of the job's circuit over the gateway's powers-of-tau file, a snarkjs .zkey with its transcript (zkgate ceremony or snarkjs zkey contribute), proved with after it is checked" },
                        "model": { "type": "string", "format": "binary" } } } } } },
                    "responses": {
                        "202": { "description": "accepted", "content": { "application/json": { "schema": job } } },
                        "200": { "description": "same idempotency key: the existing job" },
                        "400": err("malformed manifest or model"), "401": err("bad token"), "404": err("unknown dataset"),
                        "403": err("policy denied, or an on-chain job not opened by the caller's registered address"),
                        "413": err("upload too large"), "422": err("unsupported op, unknown column, wrong input count"),
                        "429": err("too many active jobs")
                    }
                }
            },
            "/v1/jobs/{id}": { "get": { "parameters": id, "responses": { "200": { "description": "the job" }, "404": err("no such job of yours") } } },
            "/v1/jobs/{id}/cancel": { "post": { "parameters": id, "responses": { "200": { "description": "cancelled" }, "409": err("already finished") } } },
            "/v1/jobs/{id}/receipt": { "get": { "parameters": id, "responses": { "200": { "description": "receipt JSON" }, "409": err("not done") } } },
            "/v1/jobs/{id}/vk": { "get": { "parameters": id, "responses": { "200": { "description": "verifying key (compressed)" }, "409": err("not done") } } },
            "/v1/audit/head": { "get": { "responses": { "200": { "description": "the audit log's head signed by the vault's key: seq, head, time, signer, signature" } } } },
            "/v1/ceremony/keys": { "get": { "responses": { "200": { "description": "the ceremony keys kept from the caller's earlier jobs (only theirs): researcher, vk_sha256, circuit_id, shard_rows, transcript_sha256, contributors, contribution_hashes, ptau_blake2b, first_job, added; a submission names one with a `kept_ceremony_key` field" } } } },
            "/v1/ceremony/keys/{vk}": { "get": { "responses": { "200": { "description": "the kept key's .zkey" }, "404": err("no kept key with this verifying key's SHA-256") } } },
            "/v1/ceremony": { "get": { "responses": { "200": { "description": "the powers-of-tau file ceremony keys are made over: ptau_sha256, ptau_blake2b, power, public (the public file it is, or null)" }, "404": err("the gateway takes no ceremony keys") } } },
            "/v1/me/address": {
                "get": { "responses": { "200": { "description": "the caller's registered Ethereum address (or null) and a fresh registration message to sign" } } },
                "put": {
                    "requestBody": { "content": { "application/json": { "schema": { "type": "object", "properties": {
                        "message": { "type": "string" }, "signature": { "type": "string", "description": "personal_sign (EIP-191), 65 bytes hex" } } } } } },
                    "responses": { "200": { "description": "registered: the recovered address" }, "400": err("not a fresh registration message of this gateway, or a bad signature"), "403": err("the message names another researcher"), "409": err("the address is another researcher's") }
                }
            }
        }
    });
    // The owner API, the console and the researcher's tools (a second
    // object: one `json!` of every path is past the macro's recursion
    // limit).
    let more = serde_json::json!({
            "/v1/jobs/dry-run": { "post": {
                "description": "the submission's form (manifest, model), taken through admission, compilation and the policy; nothing is stored or proved",
                "responses": { "200": { "description": "decision and compiled_decision (allow, hold, deny) with their rules and message, constraints, shards, circuit_id, estimated_s, memory_mb" }, "400": err("malformed manifest or model"), "422": err("unsupported op, unknown column, wrong input count"), "429": err("limits.max_dry_runs_per_day reached") } } },
            "/v1/datasets/{name}/mock": { "get": { "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }], "responses": { "200": { "description": "text/csv: the declared schema's columns over synthetic rows drawn from the declared ranges (at most 10,000)" }, "404": err("no such dataset") } } },
            "/v1/whoami": { "get": { "responses": { "200": { "description": "{role: owner} or {role: researcher, name, organisation, trust, address}" }, "401": err("unknown token") } } },
            "/v1/owner/datasets": {
                "get": { "description": "owner's token", "responses": { "200": { "description": "every dataset's metadata" }, "403": err("a researcher's token") } },
                "post": { "description": "multipart: name, schema (JSON), csv, price", "responses": { "201": { "description": "the dataset's metadata and commitment" }, "400": err("bad CSV or schema, rows outside the declared ranges"), "409": err("the name or the nkey is taken"), "413": err("over max_dataset_bytes") } } },
            "/v1/owner/datasets/{name}": { "delete": { "responses": { "200": { "description": "{removed}" }, "409": err("a job that is not finished reads it") } } },
            "/v1/owner/researchers": {
                "get": { "responses": { "200": { "description": "every researcher (never a token)" } } },
                "post": { "description": "{name, organisation, trust, address}", "responses": { "201": { "description": "{name, token}: the token, shown once" }, "409": err("the name or address is taken") } } },
            "/v1/owner/researchers/{name}": { "delete": { "responses": { "200": { "description": "{revoked, cancelled}: their token stops working at once; their queued and held jobs are cancelled" } } } },
            "/v1/owner/policy/reload": { "post": { "responses": { "200": { "description": "{rules}: the rules now in force" }, "422": err("the file is invalid: its errors; the old policy stays") } } },
            "/v1/owner/jobs": { "get": { "responses": { "200": { "description": "every researcher's jobs, newest first" } } } },
            "/v1/owner/jobs/{id}/approve": { "post": { "description": "{note}", "responses": { "200": { "description": "the job, queued" }, "409": err("not held") } } },
            "/v1/owner/jobs/{id}/deny": { "post": { "description": "{note}", "responses": { "200": { "description": "the job, failed with the note; its epsilon given back" }, "409": err("not held") } } },
            "/v1/owner/audit": { "get": { "description": "?from=SEQ&limit=N (default: the last 200)", "responses": { "200": { "description": "{entries, total, links: {ok, seq, head} or {ok: false, error}; chain: the same (deprecated)}" } } } },
            "/console": { "get": { "security": [], "responses": { "200": { "description": "the web console (HTML; its script and style at /console/app.js and /console/app.css)" } } } },
            "/openapi.json": { "get": { "security": [], "responses": { "200": { "description": "this document" } } } },
            "/v1/owner/provers": {
                "get": { "description": "owner's token", "responses": { "200": { "description": "the registered provers: name, recipient, nkey, added" } } },
                "post": { "description": "{name, recipient, nkey}: the age recipient its shard tasks are encrypted to, the nkey it connects to NATS and signs its results with", "responses": { "201": { "description": "{name, token}: the prover's token, shown once" }, "400": err("not an age recipient or not a user nkey"), "409": err("the name or the nkey is taken") } } },
            "/v1/owner/provers/{name}": { "delete": { "responses": { "200": { "description": "{removed}: its token fetches nothing from now on" }, "404": err("no such prover") } } },
            "/v1/prover/keys/{id}": { "get": { "description": "a registered prover's token: the proving key of circuit `id`, age-encrypted to the prover", "parameters": id, "responses": { "200": { "description": "the key, encrypted" }, "401": err("not a registered prover's token"), "404": err("no key for that circuit") } } }
    });
    if let (Some(paths), Some(more)) = (doc["paths"].as_object_mut(), more.as_object()) {
        paths.extend(more.clone());
    }
    // The old prefixes still answered, as their successors (deprecated).
    doc["x-renamed"] = crate::owner::api::RENAMED
        .iter()
        .map(|(old, new)| (old.to_string(), Value::from(*new)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    doc
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

    /// Every route the routers declare is in the OpenAPI document (the
    /// owner's review route under both verdicts).
    #[test]
    fn the_openapi_document_covers_every_route() {
        let doc = super::openapi();
        let paths = doc["paths"].as_object().unwrap();
        let sources = [
            include_str!("api.rs"),
            include_str!("owner/api.rs"),
            include_str!("console.rs"),
        ];
        let mut routes = Vec::new();
        for src in sources {
            // The routers, not this test's own text.
            let mut rest = src.split("#[cfg(test)]").next().unwrap();
            while let Some(at) = rest.find(".route(") {
                rest = &rest[at + 7..];
                let open = rest.find('"').unwrap();
                let close = rest[open + 1..].find('"').unwrap();
                routes.push(rest[open + 1..open + 1 + close].to_string());
            }
        }
        assert!(routes.len() > 25, "{routes:?}");
        for r in routes {
            let want: Vec<String> = if r.contains("{verdict}") {
                ["approve", "deny"]
                    .iter()
                    .map(|v| r.replace("{verdict}", v))
                    .collect()
            } else if r == "/console/" || r.starts_with("/console/app.") {
                vec!["/console".into()]
            } else if let Some(prefix) = r.strip_suffix("{*rest}") {
                // An old prefix, forwarded to its successor.
                assert!(doc["x-renamed"].get(prefix).is_some(), "{r}");
                let new = doc["x-renamed"][prefix].as_str().unwrap().to_string();
                assert!(paths.keys().any(|p| p.starts_with(&new)), "{r}");
                vec![]
            } else {
                vec![r.clone()]
            };
            for w in want {
                assert!(
                    paths.contains_key(&w),
                    "route {w} is not in the OpenAPI document"
                );
            }
        }
    }
}
