//! The HTTP API (`/v1`), health, metrics and the OpenAPI document.

use crate::admin::token_hash;
use crate::error::{Error, Result};
use crate::store::{
    now, CeremonyUpload, ChainBinding, DatasetMeta, Hold, Job, JobState, Manifest, Researcher,
};
use crate::{policy, worker, Gateway};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use zkgate_statement::columns::{ColumnError, Columns};
use zkgate_zkml::import::{ImportLimits, Imported};

type AppState = Arc<Gateway>;

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
        .route("/v1/audit/head", get(audit_head))
        .route("/v1/datasets/{name}/mock", get(mock))
        .route("/v1/jobs/dry-run", post(dry_run))
        .layer(DefaultBodyLimit::max(limit))
        .merge(crate::owner_api::routes(&gw))
        .merge(crate::console::routes())
        .with_state(gw)
}

/// A job as answered: a running job's elapsed time as of now.
pub(crate) fn live(j: &mut Job) {
    if j.state.is_terminal() {
        return;
    }
    if let Some(p) = &mut j.progress {
        p.elapsed_s = p.elapsed_s.max(now().saturating_sub(p.started) as f64);
    }
}

/// The researcher making a request, known by the bearer token: a handler
/// taking it runs only for a known researcher (anything else is a 401
/// before the handler starts).
struct Caller(Researcher);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, gw: &AppState) -> Result<Self> {
        let token = crate::owner_api::bearer(&parts.headers).ok_or(Error::Unauthorized)?;
        gw.store
            .researcher(&token_hash(token))?
            .map(Caller)
            .ok_or(Error::Unauthorized)
    }
}

fn own_job(gw: &Gateway, who: &Researcher, id: &str) -> Result<Job> {
    match gw.store.job(id)? {
        Some(mut j) if j.researcher == who.name => {
            live(&mut j);
            Ok(j)
        }
        _ => Err(Error::NotFound(format!("job `{id}`"))),
    }
}

/// `GET /v1/ceremony`: the powers-of-tau file ceremony keys must be made
/// over (its SHA-256 and power), or 404 when the gateway takes none.
async fn ceremony_file(State(gw): State<AppState>, _: Caller) -> Result<Response> {
    let info = tokio::task::spawn_blocking(move || gw.ptau_info())
        .await
        .map_err(|e| Error::Config(format!("ptau: {e}")))??;
    let Some((sha256, power)) = info else {
        return Err(Error::NotFound(
            "a powers-of-tau file: this gateway takes no ceremony keys".into(),
        ));
    };
    Ok(Json(json!({ "ptau_sha256": sha256, "power": power })).into_response())
}

/// `GET /v1/audit/head`: the audit log's head (entries, hash of the last
/// one) signed now by the vault's key, for researchers to keep: the owner
/// cannot later rewrite the history before it without the anchor showing.
async fn audit_head(State(gw): State<AppState>, _: Caller) -> Json<crate::audit::Anchor> {
    Json(gw.audit.anchor(&gw.vault().signer()))
}

/// How long a registration message stays acceptable (seconds).
const REGISTRATION_TTL: u64 = 600;

/// `GET /v1/me/address`: the caller's registered address, and a fresh
/// registration message for their Ethereum key to sign.
async fn address_challenge(State(gw): State<AppState>, Caller(who): Caller) -> Json<Value> {
    let message =
        zkgate_chain::identity::registration_message(&gw.vault().recipient(), &who.name, now());
    Json(json!({ "address": who.address, "message": message }))
}

/// `PUT /v1/me/address` with `{message, signature}`: registers the address
/// that signed a fresh registration message naming this gateway and the
/// caller (EIP-191 `personal_sign`).
async fn register_address(
    State(gw): State<AppState>,
    Caller(who): Caller,
    body: Bytes,
) -> Result<Response> {
    #[derive(serde::Deserialize)]
    struct Registration {
        message: String,
        signature: String,
    }
    let r: Registration = serde_json::from_slice(&body)
        .map_err(|e| Error::BadRequest(format!("expected {{message, signature}}: {e}")))?;
    let (gateway, name, issued) = zkgate_chain::identity::parse_registration(&r.message)
        .ok_or_else(|| {
            Error::BadRequest("not a registration message: GET /v1/me/address gives one".into())
        })?;
    if gateway != gw.vault().recipient() {
        return Err(Error::BadRequest(
            "the message names another gateway".into(),
        ));
    }
    if name != who.name {
        return Err(Error::Forbidden(
            "the message names another researcher".into(),
        ));
    }
    let t = now();
    if issued.saturating_add(REGISTRATION_TTL) < t || issued > t + 60 {
        return Err(Error::BadRequest(
            "the message is stale: get a fresh one from GET /v1/me/address".into(),
        ));
    }
    let address = zkgate_chain::identity::recover_signer(&r.message, &r.signature)
        .map_err(|e| Error::BadRequest(e.to_string()))?;
    let _admission = gw.admission.lock().await;
    gw.store.set_address(&who.name, address)?;
    gw.audit().append(crate::audit::Record {
        who: who.name.clone(),
        action: "register_address".into(),
        decision: "ok".into(),
        message: format!("address {address}"),
        ..Default::default()
    })?;
    Ok(Json(json!({ "address": address })).into_response())
}

async fn datasets(State(gw): State<AppState>, _: Caller) -> Result<Response> {
    let mut list = gw.store.datasets()?;
    for d in &mut list {
        d.shard_rows = Some(crate::question::shard_rows(d, gw.config.limits.shard_rows));
    }
    Ok(Json(list).into_response())
}

async fn my_jobs(State(gw): State<AppState>, Caller(who): Caller) -> Result<Response> {
    let jobs: Vec<Job> = gw
        .store
        .jobs()?
        .into_iter()
        .filter(|j| j.researcher == who.name)
        .map(|mut j| {
            live(&mut j);
            j
        })
        .collect();
    Ok(Json(jobs).into_response())
}

async fn job(
    State(gw): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    Ok(Json(own_job(&gw, &who, &id)?).into_response())
}

async fn cancel(
    State(gw): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    let j = own_job(&gw, &who, &id)?;
    if j.state.is_terminal() {
        return Err(Error::Conflict(format!(
            "job `{id}` is already {}",
            j.state.name()
        )));
    }
    let j = gw.store.update_job(&id, |j| {
        if !j.state.is_terminal() {
            j.state = JobState::Cancelled;
        }
    })?;
    Ok(Json(j).into_response())
}

/// The caller's job `id`, which must be done, and its receipt readable
/// under the policy, before its `what` is served.
fn done_job(gw: &Gateway, who: &Researcher, id: &str, what: &str) -> Result<()> {
    let j = own_job(gw, who, id)?;
    if j.state != JobState::Done {
        return Err(Error::Conflict(format!(
            "job `{id}` is {}, its {what} is not ready",
            j.state.name()
        )));
    }
    policy::read_receipt(gw, who, &j)
}

async fn receipt(
    State(gw): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    done_job(&gw, &who, &id, "receipt")?;
    let r = gw
        .store
        .receipt(&id)?
        .ok_or_else(|| Error::Store(format!("job {id} is done but has no receipt")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], r).into_response())
}

async fn vk(
    State(gw): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    done_job(&gw, &who, &id, "key")?;
    let vk = gw
        .store
        .vk(&id)?
        .ok_or_else(|| Error::Store(format!("job {id} is done but has no key")))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], vk).into_response())
}

/// `POST /v1/jobs`: a model and its manifest. Refused at once when it can
/// never run; an idempotent resubmission is answered with the job it
/// repeats; otherwise checked against the on-chain job it names, the
/// researcher's limit and the policy, then stored and queued.
async fn submit(
    State(gw): State<AppState>,
    Caller(who): Caller,
    form: Multipart,
) -> Result<Response> {
    let Form {
        manifest,
        model,
        ceremony,
    } = read_form(form, gw.config.limits.max_upload_bytes).await?;
    if ceremony.is_some() && gw.config.ptau.is_none() {
        return Err(Error::Unprocessable(
            "this gateway takes no ceremony keys: it names no powers-of-tau file".into(),
        ));
    }
    let meta = gw
        .store
        .dataset(&manifest.dataset)?
        .ok_or_else(|| Error::NotFound(format!("dataset `{}`", manifest.dataset)))?;
    let imported = import_model(model.clone(), gw.config.limits.model).await?;
    check_inputs(&gw, &meta, &manifest, &imported)?;

    // One submission at a time from here to its job being stored: the
    // limits and the on-chain job check read the jobs as they will be.
    // The on-chain job is read from the chain before the admission lock:
    // a slow or unreachable node must not stall every other submission.
    // (Its state can still change before settlement, which reads the
    // chain again.)
    let chain = match manifest.chain_job {
        Some(id) => Some(
            check_chain_job(
                &gw,
                id,
                &manifest,
                &imported,
                ceremony.as_ref(),
                &meta,
                &who,
            )
            .await?,
        ),
        None => None,
    };
    let _admission = gw.admission.lock().await;
    // An idempotent resubmission is answered with the job it repeats,
    // before any limit or policy counts it again.
    let jobs = gw.store.jobs()?;
    if let Some(existing) = repeated(&jobs, &who, &manifest) {
        return Ok((StatusCode::OK, Json(existing.clone())).into_response());
    }
    if let Some(binding) = &chain {
        chain_job_free(&jobs, binding)?;
    }
    check_active(&gw, &jobs, &who)?;
    if let Some(n) = manifest.researcher_nonce() {
        // One nonce, one noise draw: a second job with it would cancel the
        // noise by differencing.
        if jobs.iter().any(|j| {
            j.manifest.dataset == manifest.dataset && j.manifest.researcher_nonce() == Some(n)
        }) {
            return Err(Error::Conflict(format!(
                "nonce {n} was used before on dataset `{}`: pick a fresh random one",
                manifest.dataset
            )));
        }
    }
    let t = now();
    let id = format!("job_{}", hex::encode(rand::random::<[u8; 12]>()));
    let admitted = policy::admit(
        &gw,
        &policy::Facts {
            researcher: &who,
            dataset: &meta,
            model: &imported,
            manifest: &manifest,
            jobs_today: policy::jobs_today(&jobs, &who.name, t, None),
            constraints: None,
            memory_mb: None,
            epsilon: gw.store.budget(
                manifest.budget_holder(&who.name),
                &meta.name,
                gw.config.privacy_budget,
            )?,
        },
        &id,
        false,
    )?;
    // A held job spends its budget now (so held jobs cannot overdraw it);
    // a denial of it gives the budget back.
    if let Some(epsilon) = manifest.epsilon {
        spend_budget(&gw, &who, &manifest, &meta, &id, epsilon)?;
    }
    let (state, hold) = match admitted {
        policy::Admitted::Allow => (JobState::Queued, None),
        policy::Admitted::Hold(d) => (
            JobState::Held,
            Some(Hold {
                rules: d.rules,
                message: d.message,
                since: t,
            }),
        ),
    };
    let job = Job {
        id,
        researcher: who.name.clone(),
        model_sha256: imported.onnx_sha256.clone(),
        manifest,
        state,
        error: None,
        attempts: 0,
        created: t,
        updated: t,
        timings: None,
        settlement: None,
        hold,
        review: None,
        progress: None,
        chain,
    };
    store_job(&gw, &job, &model, ceremony.as_ref())
}

/// `GET /v1/datasets/{name}/mock`: the dataset's mock twin (synthetic rows
/// from its declared schema, see [`crate::mock`]) as CSV.
async fn mock(State(gw): State<AppState>, _: Caller, Path(name): Path<String>) -> Result<Response> {
    let meta = gw
        .store
        .dataset(&name)?
        .ok_or_else(|| Error::NotFound(format!("dataset `{name}`")))?;
    let csv = tokio::task::spawn_blocking(move || crate::mock::csv(&meta))
        .await
        .map_err(|e| Error::Crashed(e.to_string()))?;
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

/// `POST /v1/jobs/dry-run`: the submission's form, taken through the same
/// admission, compilation (from the published schema and row count: the
/// rows are never read) and policy as a submission, with nothing stored,
/// queued or proved. The policy's decisions are audited as `dry_run`.
async fn dry_run(
    State(gw): State<AppState>,
    Caller(who): Caller,
    form: Multipart,
) -> Result<Response> {
    let limit = gw.config.limits.max_dry_runs_per_day;
    if let Err(limit) = gw.dry_runs.take(&who.name, now() / 86_400, limit) {
        return Err(Error::Limit(format!(
            "{limit} dry runs today (the limit per researcher per day)"
        )));
    }
    let Form {
        manifest, model, ..
    } = read_form(form, gw.config.limits.max_upload_bytes).await?;
    let meta = gw
        .store
        .dataset(&manifest.dataset)?
        .ok_or_else(|| Error::NotFound(format!("dataset `{}`", manifest.dataset)))?;
    let imported = import_model(model, gw.config.limits.model).await?;
    check_inputs(&gw, &meta, &manifest, &imported)?;
    let g = gw.clone();
    let answer =
        tokio::task::spawn_blocking(move || dry_run_of(&g, &who, &meta, &manifest, &imported))
            .await
            .map_err(|e| Error::Crashed(e.to_string()))??;
    Ok(Json(answer).into_response())
}

fn dry_run_of(
    gw: &Gateway,
    who: &Researcher,
    meta: &DatasetMeta,
    manifest: &Manifest,
    imported: &Imported,
) -> Result<zkgate_client::api::DryRun> {
    let Cost {
        specs,
        per,
        constraints,
        shards,
        memory,
    } = cost_of(gw, meta, manifest, &imported.model, &imported.onnx_sha256)?;
    let t = now();
    let jobs = gw.store.jobs()?;
    let budget = gw.store.budget(
        manifest.budget_holder(&who.name),
        &meta.name,
        gw.config.privacy_budget,
    )?;
    let mut facts = policy::Facts {
        researcher: who,
        dataset: meta,
        model: imported,
        manifest,
        jobs_today: policy::jobs_today(&jobs, &who.name, t, None),
        constraints: None,
        memory_mb: None,
        epsilon: budget,
    };
    let submit = policy::would_admit(gw, &facts);
    facts.constraints = Some(constraints);
    facts.memory_mb = Some(memory >> 20);
    let compiled = policy::would_admit(gw, &facts);
    let split = |d: &zkgate_policies::Decision| -> (String, Vec<String>, String) {
        match d {
            zkgate_policies::Decision::Allow(r) => ("allow".into(), r.clone(), String::new()),
            zkgate_policies::Decision::Hold(d) => {
                ("hold".into(), d.rules.clone(), d.message.clone())
            }
            zkgate_policies::Decision::Deny(d) => {
                ("deny".into(), d.rules.clone(), d.message.clone())
            }
        }
    };
    let (decision, rules, mut message) = split(&submit);
    let (compiled_decision, compiled_rules, compiled_message) = split(&compiled);
    if message.is_empty() {
        message = compiled_message;
    }
    let mut limits = vec![];
    let max = gw.config.limits.max_constraints;
    if per.iter().any(|c| *c > max) {
        limits.push(format!(
            "a shard's circuit needs more than the gateway's limit of {max} constraints"
        ));
    }
    if memory >> 20 > gw.config.limits.max_memory_mb {
        limits.push(format!(
            "proving needs about {} MiB, over the gateway's limit of {} MiB",
            memory >> 20,
            gw.config.limits.max_memory_mb
        ));
    }
    let (decision, message) = if limits.is_empty() {
        (decision, message)
    } else {
        ("deny".to_string(), limits.join("; "))
    };
    gw.audit.append(crate::audit::Record {
        who: who.name.clone(),
        action: "dry_run".into(),
        dataset: Some(meta.name.clone()),
        model: Some(imported.onnx_sha256.clone()),
        decision: decision.clone(),
        rules: rules.clone(),
        message: message.clone(),
        ..Default::default()
    })?;
    Ok(zkgate_client::api::DryRun {
        decision,
        rules,
        message,
        compiled_decision,
        compiled_rules,
        constraints: constraints as u64,
        shards: shards as u64,
        circuit_id: zkgate_statement::field::fr_to_hex(specs[0].id()),
        estimated_s: zkgate_zkml::cost::setup_and_prove_seconds(constraints),
        memory_mb: memory >> 20,
        note: "the release policy judges the job's outputs, computed from the rows: a dry run cannot say whether they may leave".into(),
    })
}

/// Spends `epsilon` of the researcher's privacy budget on the dataset
/// before the job is stored (never given back: a job that fails may still
/// have been judged on its noised values), or refuses the job, audited.
fn spend_budget(
    gw: &Gateway,
    who: &Researcher,
    manifest: &Manifest,
    meta: &DatasetMeta,
    job: &str,
    epsilon: f64,
) -> Result<()> {
    let total = gw.config.privacy_budget;
    let holder = manifest.budget_holder(&who.name);
    let (decision, message, out) = match gw.store.spend(holder, &meta.name, total, epsilon)? {
        Ok(b) => (
            "allow",
            format!("epsilon {epsilon} spent: {:.4} of {total} left", b.left()),
            Ok(()),
        ),
        Err(b) => {
            let whose = if holder == who.name {
                "your"
            } else {
                "the public on-chain"
            };
            let m = format!(
                "privacy budget exhausted: this job asks for epsilon {epsilon}, and {:.4} of {whose} {total} is left on dataset `{}`",
                b.left(),
                meta.name
            );
            ("deny", m.clone(), Err(Error::Forbidden(m)))
        }
    };
    gw.audit.append(crate::audit::Record {
        who: who.name.clone(),
        action: "privacy_budget".into(),
        dataset: Some(meta.name.clone()),
        job: Some(job.into()),
        decision: decision.into(),
        message,
        ..Default::default()
    })?;
    out
}

pub(crate) fn multipart_error(e: axum::extract::multipart::MultipartError, limit: usize) -> Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::TooLarge(limit)
    } else {
        Error::BadRequest(format!("multipart: {}", e.body_text()))
    }
}

/// The submission form: its `manifest` (JSON) and its `model` (ONNX bytes),
/// nothing else, in at most `limit` bytes.
/// What a submission carries.
struct Form {
    manifest: Manifest,
    model: Bytes,
    ceremony: Option<CeremonyUpload>,
}

async fn read_form(mut form: Multipart, limit: usize) -> Result<Form> {
    let (mut manifest, mut model) = (None, None);
    let mut key = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        let name = field.name().unwrap_or("").to_string();
        let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
        match name.as_str() {
            "manifest" => manifest = Some(bytes),
            "model" => model = Some(bytes),
            "ceremony_key" => key = Some(bytes),
            other => {
                return Err(Error::BadRequest(format!(
                    "unexpected form field `{other}` (expected `manifest`, `model`, and optionally `ceremony_key`)"
                )))
            }
        }
    }
    let manifest: Manifest = serde_json::from_slice(
        &manifest.ok_or_else(|| Error::BadRequest("missing form field `manifest`".into()))?,
    )
    .map_err(|e| Error::BadRequest(format!("manifest: {e}")))?;
    let model = model.ok_or_else(|| Error::BadRequest("missing form field `model`".into()))?;
    let ceremony = match key {
        None => None,
        Some(key) => {
            // The transcript is read now (cheap); the key's points and its
            // fit to the job's circuit are checked before proving.
            zkgate_zkml::ceremony::snarkjs::read_transcript(&key)
                .map_err(|e| Error::BadRequest(format!("ceremony_key: {e}")))?;
            Some(CeremonyUpload { zkey: key.to_vec() })
        }
    };
    Ok(Form {
        manifest,
        model,
        ceremony,
    })
}

/// Imports the model (off the async runtime): a malformed or unsupported
/// model is refused here.
async fn import_model(bytes: Bytes, limits: ImportLimits) -> Result<Imported> {
    Ok(
        tokio::task::spawn_blocking(move || {
            zkgate_zkml::import::load_bytes_within(&bytes, &limits)
        })
        .await
        .map_err(|e| Error::Store(format!("import task: {e}")))??,
    )
}

/// Refuses what can never run on `meta`: unknown columns, a number of
/// input columns the model does not take.
fn check_inputs(
    gw: &Gateway,
    meta: &DatasetMeta,
    manifest: &Manifest,
    imported: &Imported,
) -> Result<()> {
    if let Some(e) = manifest.epsilon {
        zkgate_statement::Noise::check_epsilon(e)
            .map_err(|e| Error::Unprocessable(e.to_string()))?;
        // Off chain, the noise is drawn from the researcher's randomness:
        // seeded from anything the gateway picks, the owner could choose it.
        if manifest.chain_job.is_none() && manifest.researcher_nonce().is_none() {
            return Err(Error::BadRequest(
                "a noised job needs the researcher's randomness: a question (zkgate submit writes one) or a `nonce` of 32 random bytes".into(),
            ));
        }
    }
    if let Some(n) = &manifest.nonce {
        if n.len() != 64 || !n.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::BadRequest(
                "the manifest's nonce is 32 random bytes in hex (64 characters)".into(),
            ));
        }
    }
    // The same rule compilation and the policy facts use.
    let columns = Columns::resolve(
        &meta.columns(),
        manifest.columns.as_deref(),
        manifest.aggregate.label(),
    )
    .map_err(|e| match e {
        ColumnError::Unknown(c) => {
            Error::Unprocessable(format!("unknown column `{c}` in dataset `{}`", meta.name))
        }
        other => Error::Unprocessable(other.to_string()),
    })?;
    let inputs = columns.inputs.len();
    if inputs != imported.model.inputs {
        return Err(Error::Unprocessable(format!(
            "the model takes {} inputs, the manifest selects {inputs} columns",
            imported.model.inputs
        )));
    }
    let names = meta.columns();
    let selected: Vec<String> = columns.inputs.iter().map(|i| names[*i].clone()).collect();
    crate::question::check_submission(
        meta,
        manifest,
        &imported.onnx_sha256,
        &selected,
        crate::question::shard_rows(meta, gw.config.limits.shard_rows),
    )
}

/// The caller's job with the manifest's idempotency key, if any.
fn repeated<'a>(jobs: &'a [Job], who: &Researcher, manifest: &Manifest) -> Option<&'a Job> {
    let key = manifest.idempotency_key.as_ref()?;
    jobs.iter()
        .find(|j| j.researcher == who.name && j.manifest.idempotency_key.as_ref() == Some(key))
}

/// The on-chain job `id` as the chain has it, checked (open, in time,
/// opened by the caller's registered address, against this dataset, with
/// room before its deadline for the job's estimated time and a verifier
/// the gateway can settle under), and the binding a gateway job for it
/// gets. Reads the chain: called before the admission lock.
async fn check_chain_job(
    gw: &AppState,
    id: u64,
    manifest: &Manifest,
    imported: &Imported,
    ceremony: Option<&CeremonyUpload>,
    meta: &DatasetMeta,
    who: &Researcher,
) -> Result<ChainBinding> {
    let question = manifest.question.as_ref();
    let conf = crate::chain::load_config(&gw.paths)?.ok_or_else(|| {
        Error::Unprocessable("this gateway settles on no chain: drop `chain_job`".into())
    })?;
    let q = question.ok_or_else(|| {
        Error::BadRequest(
            "an on-chain job needs the researcher's question (`zkgate submit --chain-dataset` writes one; `openJob` takes its hash)".into(),
        )
    })?;
    let binding = crate::chain::binding(&conf, id, q)?;
    // Taken or spent first (checked again under the lock): that answer
    // needs no chain.
    chain_job_free(&gw.store.jobs()?, &binding)?;
    let (now, job) = crate::chain::check_job(&gw.paths, &conf, &binding, meta, who, q).await?;
    // The public circuit (no rows read) for the estimate and the
    // verifier's bundle, off the async runtime.
    let (g, meta, manifest) = (gw.clone(), meta.clone(), manifest.clone());
    let (model, sha) = (imported.model.clone(), imported.onnx_sha256.clone());
    let zkey = ceremony.map(|c| c.zkey.clone());
    tokio::task::spawn_blocking(move || {
        let cost = cost_of(&g, &meta, &manifest, &model, &sha)?;
        let vk = match &zkey {
            Some(z) => Some(zkgate_zkml::prove::verifying_key(
                &zkgate_zkml::ceremony::read(z)
                    .map_err(|e| Error::BadRequest(format!("ceremony_key: {e}")))?
                    .0,
            )),
            None => None,
        };
        crate::chain::check_settleable(
            id,
            &job,
            now,
            (
                zkgate_zkml::cost::setup_and_prove_seconds(cost.constraints),
                g.config.limits.settle_margin_s,
            ),
            cost.specs[0].header(),
            vk.as_ref(),
        )
    })
    .await
    .map_err(|e| Error::Crashed(e.to_string()))??;
    Ok(binding)
}

/// What proving a job takes, from its public circuit (the published
/// schema and row count; no row is read).
struct Cost {
    /// The circuit of each shard size, largest first.
    specs: Vec<zkgate_zkml::spec::CircuitSpec>,
    /// Constraints of each of `specs`.
    per: Vec<usize>,
    /// Constraints of every shard together.
    constraints: usize,
    /// Shards.
    shards: usize,
    /// The largest shard's proving memory, bytes.
    memory: u64,
}

fn cost_of(
    gw: &Gateway,
    meta: &DatasetMeta,
    manifest: &Manifest,
    model: &zkgate_zkml::ir::Model,
    onnx_sha256: &str,
) -> Result<Cost> {
    let spec = zkgate_zkml::job::compile_public(
        model,
        onnx_sha256,
        &meta.schema,
        meta.rows,
        &worker::request_of(manifest),
    )?;
    let wanted = Some(gw.config.limits.shard_rows).filter(|r| *r > 0);
    let plan = spec.shard_plan(wanted);
    let specs: Vec<_> = plan
        .sizes()
        .iter()
        .map(|rows| spec.with_shard_rows(*rows))
        .collect();
    let per: Vec<usize> = specs.iter().map(zkgate_zkml::cost::constraints).collect();
    let constraints: usize = (0..plan.len()).map(|i| per[plan.circuit_of(i)]).sum();
    let memory = specs
        .iter()
        .map(zkgate_zkml::cost::memory_bytes)
        .max()
        .unwrap_or(0);
    Ok(Cost {
        specs,
        per,
        constraints,
        shards: plan.len(),
        memory: memory as u64,
    })
}

/// One gateway job per on-chain job, failed or not: a second could never
/// settle while the first is live, and after a failure it would draw its
/// noise again from the same nonce (the contract's, fixed by the opening
/// address and the question),
/// so that release decisions on two draws could be compared. (A job from
/// before bindings were kept counts for the same id on any contract.)
/// Called under the admission lock, over the jobs as they will be.
fn chain_job_free(jobs: &[Job], binding: &ChainBinding) -> Result<()> {
    let id = binding.job;
    match jobs.iter().find(|j| {
        j.manifest.chain_job == Some(id)
            && j.chain.as_ref().is_none_or(|theirs| theirs.same_job(binding))
    }) {
        Some(other) => Err(Error::Conflict(format!(
            "on-chain job {id} is already taken by job {} ({}): its nonce is spent; open a new on-chain job",
            other.id,
            other.state.name()
        ))),
        None => Ok(()),
    }
}

/// Refuses a job over the researcher's limit of jobs queued or running.
fn check_active(gw: &Gateway, jobs: &[Job], who: &Researcher) -> Result<()> {
    let limit = gw.config.limits.max_active_jobs_per_researcher;
    let active = jobs
        .iter()
        .filter(|j| j.researcher == who.name && !j.state.is_terminal())
        .count();
    if active >= limit {
        return Err(Error::Limit(format!(
            "{active} jobs already queued or running (limit {limit})"
        )));
    }
    Ok(())
}

/// Stores and queues a new job (202), or answers with the job a
/// concurrent submission with the same idempotency key stored first (200).
fn store_job(
    gw: &Gateway,
    job: &Job,
    model: &[u8],
    ceremony: Option<&CeremonyUpload>,
) -> Result<Response> {
    let (stored, new) = gw.store.create_job(job, model, ceremony)?;
    let status = if new {
        worker::wake(gw);
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored)).into_response())
}

async fn metrics(State(gw): State<AppState>, headers: axum::http::HeaderMap) -> Result<Response> {
    if !gw.config.metrics_public {
        // The metrics token, or else the owner's; with neither configured
        // nobody reads them (set `metrics_public` to serve them openly).
        let want = gw
            .config
            .metrics_token_sha256
            .as_ref()
            .or(gw.config.admin_token_sha256.as_ref())
            .ok_or(Error::Unauthorized)?;
        let given = crate::owner_api::bearer(&headers).map(token_hash);
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
    let (secs, count) = worker::stats(&gw);
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
            "/v1/ceremony": { "get": { "responses": { "200": { "description": "the powers-of-tau file ceremony keys are made over: ptau_sha256, power" }, "404": err("the gateway takes no ceremony keys") } } },
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
            "/v1/admin/datasets": {
                "get": { "description": "owner's token", "responses": { "200": { "description": "every dataset's metadata" }, "403": err("a researcher's token") } },
                "post": { "description": "multipart: name, schema (JSON), csv, price", "responses": { "201": { "description": "the dataset's metadata and commitment" }, "400": err("bad CSV or schema, rows outside the declared ranges"), "409": err("the name or the nkey is taken"), "413": err("over max_dataset_bytes") } } },
            "/v1/admin/datasets/{name}": { "delete": { "responses": { "200": { "description": "{removed}" }, "409": err("a job that is not finished reads it") } } },
            "/v1/admin/researchers": {
                "get": { "responses": { "200": { "description": "every researcher (never a token)" } } },
                "post": { "description": "{name, organisation, trust, address}", "responses": { "201": { "description": "{name, token}: the token, shown once" }, "409": err("the name or address is taken") } } },
            "/v1/admin/researchers/{name}": { "delete": { "responses": { "200": { "description": "{revoked, cancelled}: their token stops working at once; their queued and held jobs are cancelled" } } } },
            "/v1/admin/policy/reload": { "post": { "responses": { "200": { "description": "{rules}: the rules now in force" }, "422": err("the file is invalid: its errors; the old policy stays") } } },
            "/v1/admin/jobs": { "get": { "responses": { "200": { "description": "every researcher's jobs, newest first" } } } },
            "/v1/admin/jobs/{id}/approve": { "post": { "description": "{note}", "responses": { "200": { "description": "the job, queued" }, "409": err("not held") } } },
            "/v1/admin/jobs/{id}/deny": { "post": { "description": "{note}", "responses": { "200": { "description": "the job, failed with the note; its epsilon given back" }, "409": err("not held") } } },
            "/v1/admin/audit": { "get": { "description": "?from=SEQ&limit=N (default: the last 200)", "responses": { "200": { "description": "{entries, total, chain: {ok, seq, head} or {ok: false, error}}" } } } },
            "/console": { "get": { "security": [], "responses": { "200": { "description": "the web console (HTML; its script and style at /console/app.js and /console/app.css)" } } } },
            "/openapi.json": { "get": { "security": [], "responses": { "200": { "description": "this document" } } } },
            "/v1/admin/workers": {
                "get": { "description": "owner's token", "responses": { "200": { "description": "the registered proving workers: name, recipient, nkey, added" } } },
                "post": { "description": "{name, recipient, nkey}: the age recipient its shard tasks are encrypted to, the nkey it connects to NATS and signs its results with", "responses": { "201": { "description": "{name, token}: the worker's token, shown once" }, "400": err("not an age recipient or not a user nkey"), "409": err("the name or the nkey is taken") } } },
            "/v1/admin/workers/{name}": { "delete": { "responses": { "200": { "description": "{removed}: its token fetches nothing from now on" }, "404": err("no such worker") } } },
            "/v1/worker/keys/{id}": { "get": { "description": "a registered worker's token: the proving key of circuit `id`, age-encrypted to the worker", "parameters": id, "responses": { "200": { "description": "the key, encrypted" }, "401": err("not a registered worker's token"), "404": err("no key for that circuit") } } }
    });
    if let (Some(paths), Some(more)) = (doc["paths"].as_object_mut(), more.as_object()) {
        paths.extend(more.clone());
    }
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
            include_str!("owner_api.rs"),
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
