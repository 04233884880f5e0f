//! The researcher's operations on a serving gateway, mirroring the
//! owner's ([`crate::owner`]): the datasets and their mock twins, a
//! submission's admission (what can never run refused at once, an
//! idempotent resubmission answered with its job, the on-chain job it
//! names, the researcher's limits, the policy, the privacy budget), dry
//! runs, the researcher's jobs, their cancellation and their receipts.
//! Each takes the open [`Gateway`] and the caller; [`crate::api`]'s
//! handlers only read requests and write answers around them.

use crate::error::{Error, Result};
use crate::store::{
    now, CeremonyUpload, ChainBinding, DatasetMeta, Hold, Job, JobState, Manifest, Researcher,
};
use crate::{policy, runner, Gateway};
use serde_json::{json, Value};
use std::sync::Arc;
use zkgate_statement::columns::{ColumnError, Columns};
use zkgate_zkml::cost::Estimate;
use zkgate_zkml::import::{ImportLimits, Imported};

/// A job as answered: a running job's elapsed time as of now.
pub fn live(j: &mut Job) {
    if j.state.is_terminal() {
        return;
    }
    if let Some(p) = &mut j.progress {
        p.elapsed_s = p.elapsed_s.max(now().saturating_sub(p.started) as f64);
    }
}

/// The published datasets, each with the shard size its jobs are proved
/// in.
pub fn datasets(gw: &Gateway) -> Result<Vec<DatasetMeta>> {
    let mut list = gw.store.datasets()?;
    for d in &mut list {
        d.shard_rows = Some(crate::question::shard_rows(d, gw.config.limits.shard_rows));
    }
    Ok(list)
}

/// Dataset `name`'s mock twin (synthetic rows from its declared schema,
/// see [`crate::mock`]) as CSV.
pub fn mock(gw: &Gateway, name: &str) -> Result<String> {
    let meta = gw
        .store
        .dataset(name)?
        .ok_or_else(|| Error::NotFound(format!("dataset `{name}`")))?;
    Ok(crate::mock::csv(&meta))
}

/// The powers-of-tau file ceremony keys must be made over: its SHA-256,
/// BLAKE2b, power and the public file it is (null: a local file), or a
/// 404 when the gateway takes none.
pub fn ceremony_file(gw: &Gateway) -> Result<Value> {
    let Some(p) = gw.ptau_info()? else {
        return Err(Error::NotFound(
            "a powers-of-tau file: this gateway takes no ceremony keys".into(),
        ));
    };
    Ok(json!({
        "ptau_sha256": p.sha256, "ptau_blake2b": p.blake2b, "power": p.power,
        "public": p.public,
    }))
}

/// The submission's ceremony keys with the caller's kept keys it names added (their
/// `.zkey` files copied into the job's record, so the job keeps them
/// whatever happens to the registry). A name that is no kept key, or one
/// kept over another powers-of-tau file than the gateway's now, is a bad
/// request.
pub fn with_kept_keys(
    gw: &Gateway,
    who: &Researcher,
    upload: Option<CeremonyUpload>,
    kept: &[String],
) -> Result<Option<CeremonyUpload>> {
    if kept.is_empty() {
        return Ok(upload);
    }
    let file = gw.ptau_info()?.ok_or_else(|| {
        Error::Unprocessable("kept_ceremony_key: this gateway takes no ceremony keys".into())
    })?;
    let mut up = upload.unwrap_or(CeremonyUpload { zkeys: Vec::new() });
    for vk in kept {
        let (meta, zkey) = gw.store.kept_ceremony_key(&who.name, vk)?.ok_or_else(|| {
            Error::BadRequest(format!(
                "kept_ceremony_key: none of your kept keys has verifying key {vk} (GET /v1/ceremony/keys lists them)"
            ))
        })?;
        if meta.ptau_blake2b != file.blake2b {
            return Err(Error::BadRequest(format!(
                "kept_ceremony_key {vk} was made over another powers-of-tau file than the gateway's now"
            )));
        }
        up.zkeys.push(zkey);
    }
    Ok(Some(up))
}

/// The caller's jobs, newest state as of now.
pub fn jobs(gw: &Gateway, who: &Researcher) -> Result<Vec<Job>> {
    Ok(gw
        .store
        .jobs()?
        .into_iter()
        .filter(|j| j.researcher == who.name)
        .map(|mut j| {
            live(&mut j);
            j
        })
        .collect())
}

/// The caller's job `id` (another researcher's is not found, as if it
/// did not exist).
pub fn job(gw: &Gateway, who: &Researcher, id: &str) -> Result<Job> {
    match gw.store.job(id)? {
        Some(mut j) if j.researcher == who.name => {
            live(&mut j);
            Ok(j)
        }
        _ => Err(Error::NotFound(format!("job `{id}`"))),
    }
}

/// Cancels the caller's job `id` unless it has ended.
pub fn cancel(gw: &Gateway, who: &Researcher, id: &str) -> Result<Job> {
    let j = job(gw, who, id)?;
    if j.state.is_terminal() {
        return Err(Error::Conflict(format!(
            "job `{id}` is already {}",
            j.state.name()
        )));
    }
    gw.store.update_job(id, |j| {
        if !j.state.is_terminal() {
            j.state = JobState::Cancelled;
        }
    })
}

/// What a done job hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Download {
    /// The receipt (JSON).
    Receipt,
    /// The verifying key(s) (binary).
    Key,
}

/// The caller's job `id`'s receipt or key: the job must be done and the
/// policy must let the caller read its receipt (audited).
pub fn download(gw: &Gateway, who: &Researcher, id: &str, what: Download) -> Result<Vec<u8>> {
    let name = match what {
        Download::Receipt => "receipt",
        Download::Key => "key",
    };
    let j = job(gw, who, id)?;
    if j.state != JobState::Done {
        return Err(Error::Conflict(format!(
            "job `{id}` is {}, its {name} is not ready",
            j.state.name()
        )));
    }
    policy::read_receipt(gw, who, &j, what == Download::Key)?;
    let found = match what {
        Download::Receipt => gw.store.receipt(id)?.map(String::into_bytes),
        Download::Key => gw.store.vk(id)?,
    };
    found.ok_or_else(|| Error::Store(format!("job {id} is done but has no {name}")))
}

/// How long a registration message stays acceptable (seconds).
const REGISTRATION_TTL: u64 = 600;

/// The caller's registered address, and a fresh registration message for
/// their Ethereum key to sign.
pub fn address_challenge(gw: &Gateway, who: &Researcher) -> Value {
    let message =
        zkgate_chain::identity::registration_message(&gw.vault().recipient(), &who.name, now());
    json!({ "address": who.address, "message": message })
}

/// Registers the address that signed `body`'s `{message, signature}`: a
/// fresh registration message naming this gateway and the caller
/// (EIP-191 `personal_sign`).
pub async fn register_address(gw: &Gateway, who: &Researcher, body: &[u8]) -> Result<Value> {
    #[derive(serde::Deserialize)]
    struct Registration {
        message: String,
        signature: String,
    }
    let r: Registration = serde_json::from_slice(body)
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
    Ok(json!({ "address": address }))
}

/// A submission as the researcher sent it.
pub struct Submission {
    /// The manifest.
    pub manifest: Manifest,
    /// The model's ONNX bytes.
    pub model: axum::body::Bytes,
    /// A ceremony key for the job's circuit, if the researcher made one.
    pub ceremony: Option<CeremonyUpload>,
}

/// A submission's answer: its job, and whether it is new (false: an
/// idempotent resubmission answered with the job it repeats).
pub struct Submitted {
    /// The job.
    pub job: Job,
    /// Whether this submission stored it.
    pub new: bool,
}

/// Admits a submission: refused at once when it can never run; an
/// idempotent resubmission is answered with the job it repeats; otherwise
/// checked against the on-chain job it names, the researcher's limit, the
/// policy and the privacy budget, then stored and queued.
pub async fn submit(gw: &Arc<Gateway>, who: &Researcher, s: Submission) -> Result<Submitted> {
    let Submission {
        manifest,
        model,
        ceremony,
    } = s;
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
    check_inputs(gw, &meta, &manifest, &imported)?;

    // One submission at a time from here to its job being stored: the
    // limits and the on-chain job check read the jobs as they will be.
    // The on-chain job is read from the chain before the admission lock:
    // a slow or unreachable node must not stall every other submission.
    // (Its state can still change before settlement, which reads the
    // chain again.)
    let chain = match manifest.chain_job {
        Some(id) => Some(
            check_chain_job(gw, id, &manifest, &imported, ceremony.as_ref(), &meta, who).await?,
        ),
        None => None,
    };
    let _admission = gw.admission.lock().await;
    // An idempotent resubmission is answered with the job it repeats,
    // before any limit or policy counts it again.
    let jobs = gw.store.jobs()?;
    if let Some(existing) = repeated(&jobs, who, &manifest) {
        return Ok(Submitted {
            job: existing.clone(),
            new: false,
        });
    }
    if let Some(binding) = &chain {
        chain_job_free(&jobs, binding)?;
    }
    check_active(gw, &jobs, who)?;
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
    let facts = policy::Facts::of(gw, who, &meta, &imported, &manifest, &jobs, t, None)?;
    let admitted = policy::admit(gw, &facts, &id, false)?;
    // A held job spends its budget now (so held jobs cannot overdraw it);
    // a denial of it gives the budget back.
    if let Some(epsilon) = manifest.epsilon {
        spend_budget(gw, who, &manifest, &meta, &id, epsilon)?;
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
    store_job(gw, &job, &model, ceremony.as_ref())
}

/// A dry run: the submission taken through the same admission,
/// compilation (from the published schema and row count: the rows are
/// never read) and policy as [`submit`], with nothing stored, queued or
/// proved. Limited per researcher and day; the policy's decisions are
/// audited as `dry_run`.
pub async fn dry_run(
    gw: &Arc<Gateway>,
    who: &Researcher,
    manifest: Manifest,
    model: axum::body::Bytes,
) -> Result<zkgate_client::api::DryRun> {
    let limit = gw.config.limits.max_dry_runs_per_day;
    if let Err(limit) = gw.dry_runs.take(&who.name, now() / 86_400, limit) {
        return Err(Error::Limit(format!(
            "{limit} dry runs today (the limit per researcher per day)"
        )));
    }
    let meta = gw
        .store
        .dataset(&manifest.dataset)?
        .ok_or_else(|| Error::NotFound(format!("dataset `{}`", manifest.dataset)))?;
    let imported = import_model(model, gw.config.limits.model).await?;
    check_inputs(gw, &meta, &manifest, &imported)?;
    let (g, who) = (gw.clone(), who.clone());
    tokio::task::spawn_blocking(move || judge_dry_run(&g, &who, &meta, &manifest, &imported))
        .await
        .map_err(|e| Error::Crashed(e.to_string()))?
}

fn judge_dry_run(
    gw: &Gateway,
    who: &Researcher,
    meta: &DatasetMeta,
    manifest: &Manifest,
    imported: &Imported,
) -> Result<zkgate_client::api::DryRun> {
    let est = estimate(gw, meta, manifest, &imported.model, &imported.onnx_sha256)?;
    let jobs = gw.store.jobs()?;
    let mut facts = policy::Facts::of(gw, who, meta, imported, manifest, &jobs, now(), None)?;
    let submit = policy::would_admit(gw, &facts);
    facts.constraints = Some(est.constraints);
    facts.memory_mb = Some(est.memory >> 20);
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
    let limits = est.over(
        Some(gw.config.limits.max_constraints),
        Some(gw.config.limits.max_memory_mb << 20),
    );
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
        constraints: est.constraints as u64,
        shards: est.shards as u64,
        circuit_id: zkgate_statement::field::fr_to_hex(est.circuits[0].id()),
        estimated_s: est.seconds,
        memory_mb: est.memory >> 20,
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
            ("deny", m.clone(), Err(Error::Budget(m)))
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

/// Imports the model (off the async runtime): a malformed or unsupported
/// model is refused here.
async fn import_model(bytes: axum::body::Bytes, limits: ImportLimits) -> Result<Imported> {
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
    )?;
    match &manifest.question {
        Some(q) => crate::ezkl::check_question(gw, meta, q),
        None => Ok(()),
    }
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
    gw: &Arc<Gateway>,
    id: u64,
    manifest: &Manifest,
    imported: &Imported,
    ceremony: Option<&CeremonyUpload>,
    meta: &DatasetMeta,
    who: &Researcher,
) -> Result<ChainBinding> {
    let question = manifest.question.as_ref();
    let conf = crate::settle::load_config(&gw.paths)?.ok_or_else(|| {
        Error::Unprocessable("this gateway settles on no chain: drop `chain_job`".into())
    })?;
    let q = question.ok_or_else(|| {
        Error::BadRequest(
            "an on-chain job needs the researcher's question (`zkgate submit --chain-dataset` writes one; `openJob` takes its hash)".into(),
        )
    })?;
    let binding = crate::settle::binding(&conf, id, q)?;
    // Taken or spent first (checked again under the lock): that answer
    // needs no chain.
    chain_job_free(&gw.store.jobs()?, &binding)?;
    // An ezkl job's last pinned circuit id is ezkl's hash of its nonce.
    let ezkl_binding = if q.proof_system == zkgate_statement::ezkl::ProofSystem::Ezkl {
        let b = crate::ezkl::backend(gw).ok_or_else(|| {
            Error::Unprocessable("this gateway has no ezkl backend: ask with groth16".into())
        })?;
        let nonce = q.job_nonce();
        let hash = tokio::task::spawn_blocking(move || b.binding_hash(nonce))
            .await
            .map_err(|e| Error::Crashed(e.to_string()))?
            .map_err(|e| Error::Unprocessable(e.to_string()))?;
        Some(hash)
    } else {
        None
    };
    let (now, job) =
        crate::settle::check_job(&gw.paths, &conf, &binding, meta, who, q, ezkl_binding).await?;
    // The public circuit (no rows read) for the estimate and the
    // verifier's bundle, off the async runtime.
    let (g, meta, manifest) = (gw.clone(), meta.clone(), manifest.clone());
    let (model, sha) = (imported.model.clone(), imported.onnx_sha256.clone());
    let zkeys = ceremony.map(|c| c.zkeys.clone()).unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        let est = estimate(&g, &meta, &manifest, &model, &sha)?;
        let vks = zkeys
            .iter()
            .map(|z| {
                Ok(zkgate_zkml::prove::verifying_key(
                    &zkgate_zkml::ceremony::read(z)
                        .map_err(|e| Error::BadRequest(format!("ceremony_key: {e}")))?
                        .0,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let circuit = est
            .circuits
            .first()
            .ok_or_else(|| Error::Crashed("an estimate without a circuit".into()))?;
        crate::settle::check_settleable(
            id,
            &job,
            now,
            (est.seconds, g.config.limits.settle_margin_s),
            circuit.header(),
            vks.first(),
        )
    })
    .await
    .map_err(|e| Error::Crashed(e.to_string()))??;
    Ok(binding)
}

/// What proving the job takes, from its public circuit (the published
/// schema and row count; no row is read), in the gateway's shards.
fn estimate(
    gw: &Gateway,
    meta: &DatasetMeta,
    manifest: &Manifest,
    model: &zkgate_zkml::ir::Model,
    onnx_sha256: &str,
) -> Result<Estimate> {
    let spec = zkgate_zkml::job::compile_public(
        model,
        onnx_sha256,
        &meta.schema,
        meta.rows,
        &runner::request_of(manifest),
    )?;
    Ok(Estimate::of(
        &spec,
        meta.rows,
        Some(gw.config.limits.shard_rows),
    ))
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

/// Stores and queues a new job, or answers with the job a concurrent
/// submission with the same idempotency key stored first.
fn store_job(
    gw: &Gateway,
    job: &Job,
    model: &[u8],
    ceremony: Option<&CeremonyUpload>,
) -> Result<Submitted> {
    let (stored, new) = gw.store.create_job(job, model, ceremony)?;
    if new {
        runner::wake(gw);
    }
    Ok(Submitted { job: stored, new })
}
