//! The job runners: a bounded pool that takes queued jobs in order and
//! runs them through zkml on blocking threads, recording every state change
//! durably. `recover` requeues jobs a crash left in flight.

use crate::error::{Error, Result};
use crate::owner::setup::load_dataset;
use crate::settle::Attempt;
use crate::store::{now, Hold, Job, JobState, Manifest, Progress, SettlementRecord, Timings};
use crate::{policy, Gateway};
use std::sync::Arc;
use zkgate_zkml::job::JobRequest;
use zkgate_zkml::pipeline::{self, Gate, LocalJob, Step};
use zkgate_zkml::spec::Evaluation;

/// Attempts after which a job that keeps stopping the gateway (found
/// running at start-up this many times) fails instead of running again.
pub const MAX_ATTEMPTS: u32 = 3;

/// Queues again every job a previous run left between queued and done; a
/// job whose settlement was in flight is settled again (see
/// [`crate::chain`]: a settled job is recorded, never settled twice). A job
/// that was running when the gateway stopped [`MAX_ATTEMPTS`] times fails
/// instead: a job that kills the process cannot make it crash in a loop.
pub fn recover(gw: &Gateway) -> Result<usize> {
    let mut n = 0;
    for job in gw.store.jobs()? {
        let Some(back) = recovered(&job) else {
            continue;
        };
        gw.store.update_job(&job.id, |j| {
            j.state = back;
            if back == JobState::Failed {
                j.error = Some(
                    Error::Crashed(format!(
                        "the gateway stopped {} times while it ran",
                        j.attempts
                    ))
                    .detail(),
                );
            }
        })?;
        n += 1;
    }
    Ok(n)
}

/// Where a job found at start-up goes: running jobs are queued again (or
/// fail after [`MAX_ATTEMPTS`] attempts), settling ones go back to proved.
fn recovered(job: &Job) -> Option<JobState> {
    match job.state {
        JobState::Compiling | JobState::Setup | JobState::Proving => {
            Some(if job.attempts >= MAX_ATTEMPTS {
                JobState::Failed
            } else {
                JobState::Queued
            })
        }
        JobState::Settling => Some(JobState::Proved),
        _ => None,
    }
}

/// Wakes the runners (a job was queued).
pub fn wake(gw: &Gateway) {
    gw.wake.notify_waiters();
}

/// Starts `limits.job_runners` runners; each stops once `stop` turns true (a
/// runner busy proving stops after its job: a watch, unlike a notification,
/// is not missed while nobody waits on it).
pub fn spawn(
    gw: Arc<Gateway>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let picking = Arc::new(tokio::sync::Mutex::new(()));
    (0..gw.config.limits.job_runners.max(1))
        .map(|_| {
            let (gw, mut stop, picking) = (gw.clone(), stop.clone(), picking.clone());
            tokio::spawn(async move {
                loop {
                    if *stop.borrow() {
                        return;
                    }
                    let next = {
                        let _guard = picking.lock().await;
                        claim_next(&gw)
                    };
                    match next {
                        Ok(Some(job)) if job.state == JobState::Settling => {
                            if !settle_job(&gw, &job).await {
                                // The chain is unreachable: wait before the
                                // next attempt.
                                tokio::select! {
                                    _ = stop.changed() => {}
                                    _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
                                }
                            }
                        }
                        Ok(Some(job)) => {
                            let g = gw.clone();
                            let _ = tokio::task::spawn_blocking(move || run_job(&g, job)).await;
                        }
                        Ok(None) => {
                            tokio::select! {
                                _ = gw.wake.notified() => {}
                                _ = stop.changed() => {}
                                _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
                            }
                        }
                        Err(e) => {
                            eprintln!("zkgate: job runner: {e}");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        }
                    }
                }
            })
        })
        .collect()
}

/// The next job to work on: a queued job to prove first, then a proved
/// job to settle (so a chain that cannot be reached delays settlements,
/// never proofs).
fn claim_next(gw: &Gateway) -> Result<Option<Job>> {
    claim_listed(&gw.store, &gw.store.jobs()?)
}

/// [`claim_next`] from the jobs as `jobs` listed them a moment ago.
fn claim_listed(store: &crate::store::Store, jobs: &[Job]) -> Result<Option<Job>> {
    // Each claim moves the job on only if it is still where the list saw
    // it: a job cancelled since stays cancelled.
    for job in jobs.iter().filter(|j| j.state == JobState::Queued) {
        let job = store.update_job(&job.id, |j| {
            if j.state == JobState::Queued {
                j.state = JobState::Compiling;
                j.attempts += 1;
                j.progress = None;
            }
        })?;
        if job.state == JobState::Compiling {
            return Ok(Some(job));
        }
    }
    for job in jobs.iter().filter(|j| j.state == JobState::Proved) {
        let job = store.update_job(&job.id, |j| {
            if j.state == JobState::Proved {
                j.state = JobState::Settling;
            }
        })?;
        if job.state == JobState::Settling {
            return Ok(Some(job));
        }
    }
    Ok(None)
}

/// Submits a proved job to the settlement contract; false when the chain
/// could not be reached (the job goes back to `proved`).
async fn settle_job(gw: &Gateway, job: &Job) -> bool {
    let attempt = attempt_settlement(gw, job).await;
    if let Ok(Attempt::Settled(_)) = &attempt {
        // Each settlement also anchors the audit log's head on chain.
        let anchor = gw.audit().anchor(&gw.vault().signer());
        let anchored = match crate::settle::job_binding(&gw.paths, job) {
            Ok(Some(b)) => crate::settle::anchor_audit(&gw.paths, &b, &anchor).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = anchored {
            eprintln!(
                "zkgate: job {}: the audit head was not anchored: {e}",
                job.id
            );
        }
    }
    // A settlement the chain refuses fails the job: its receipt and values
    // are withheld, since the researcher can take the escrow back after
    // the deadline and must not have both the result and the refund.
    let (state, record, reached) = match attempt {
        Ok(Attempt::Settled(r)) => (JobState::Done, SettlementRecord::Settled(r), true),
        Ok(Attempt::Refused(why)) => (
            JobState::Failed,
            SettlementRecord::Refused { error: why },
            true,
        ),
        Ok(Attempt::Retry(why)) | Err(crate::Error::Config(why)) => (
            JobState::Proved,
            SettlementRecord::Retrying { retrying: why },
            false,
        ),
        Err(e) => (
            JobState::Failed,
            SettlementRecord::Refused {
                error: e.to_string(),
            },
            true,
        ),
    };
    if let Err(e) = gw.store.update_job(&job.id, |j| {
        j.state = state;
        if let Some(why) = record.error() {
            j.error = Some(zkgate_client::api::ErrorDetail {
                code: "settlement_refused".into(),
                message: format!(
                    "the chain refused the settlement ({why}): the result is withheld; the escrow is refundable after the deadline"
                ),
                rules: None,
            });
        }
        j.settlement = Some(record.clone());
    }) {
        eprintln!(
            "zkgate: job {}: could not record its settlement: {e}",
            job.id
        );
    }
    if let Some(why) = record.retrying() {
        eprintln!("zkgate: job {}: settlement will be retried: {why}", job.id);
    }
    if let Some(why) = record.error() {
        record_abort(gw, job, &format!("the chain refused its settlement: {why}"));
    }
    reached
}

/// One attempt at settling `job` on the on-chain job it is bound to.
async fn attempt_settlement(gw: &Gateway, job: &Job) -> Result<Attempt> {
    let binding =
        crate::settle::job_binding(&gw.paths, job)?.expect("only on-chain jobs are settled");
    let Some(q) = &job.manifest.question else {
        return Ok(Attempt::Refused(
            "the job has no question: the contract's job pins one".into(),
        ));
    };
    match (gw.store.receipt(&job.id), gw.store.vk(&job.id)) {
        (Ok(Some(r)), Ok(Some(vk))) => crate::settle::settle(&gw.paths, &binding, q, &r, &vk).await,
        _ => Ok(Attempt::Refused("the receipt is missing".into())),
    }
}

fn run_job(gw: &Gateway, job: Job) {
    let result = contained(|| prove_job(gw, &job));
    let aborted = std::cell::Cell::new(false);
    let outcome = gw.store.update_job(&job.id, |j| {
        if j.state == JobState::Cancelled {
            return;
        }
        match &result {
            Ok(timings) => {
                j.state = if j.manifest.chain_job.is_some() {
                    JobState::Proved
                } else {
                    JobState::Done
                };
                j.timings = Some(timings.clone());
            }
            // Compiled, the job met a rule that holds it: it waits for the
            // owner like a job held at submission.
            Err(Error::Held { message, rules }) => {
                j.state = JobState::Held;
                j.progress = None;
                j.hold = Some(Hold {
                    rules: rules.clone(),
                    message: message.clone(),
                    since: now(),
                });
            }
            Err(e) => {
                // Past the gate, the noised values were drawn and judged: a
                // failure from here on is visible as the owner's abort.
                if matches!(j.state, JobState::Setup | JobState::Proving) {
                    aborted.set(true);
                }
                j.state = JobState::Failed;
                j.error = Some(e.detail());
            }
        }
    });
    if let Err(e) = outcome {
        eprintln!("zkgate: job {}: could not record its outcome: {e}", job.id);
    }
    if let (true, Err(e)) = (aborted.get(), &result) {
        record_abort(gw, &job, &e.to_string());
    }
}

/// Audits a noised job that failed after its noise was drawn and judged
/// (proving failed, or the chain refused its settlement) as the owner's
/// abort, so that selective aborts of unwelcome draws show in the log.
fn record_abort(gw: &Gateway, job: &Job, why: &str) {
    if job.manifest.epsilon.is_none() {
        return;
    }
    let r = gw.audit.append(crate::audit::Record {
        who: "owner".into(),
        action: "abort".into(),
        dataset: Some(job.manifest.dataset.clone()),
        job: Some(job.id.clone()),
        model: Some(job.model_sha256.clone()),
        decision: "aborted".into(),
        message: format!("a noised job failed after its noise was drawn: {why}"),
        ..Default::default()
    });
    if let Err(e) = r {
        eprintln!("zkgate: job {}: could not audit its abort: {e}", job.id);
    }
}

/// Runs `f`, turning a panic into [`Error::Crashed`]: a job that panics
/// fails (and stops counting against its researcher's active jobs) instead
/// of staying in its running state.
fn contained<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(Error::Crashed(zkgate_zkml::error::panic_message(&*p))))
}

/// What the compiler is asked for by a manifest: the one translation the
/// runner, dry runs and the researcher's question use.
pub fn request_of(manifest: &Manifest) -> JobRequest {
    JobRequest {
        aggregate: manifest.aggregate.clone(),
        input_columns: manifest.columns.clone(),
        quant: manifest.quant,
        epsilon: manifest.epsilon,
    }
}

fn prove_job(gw: &Gateway, job: &Job) -> Result<Timings> {
    let model_bytes = gw
        .store
        .model(&job.id)?
        .ok_or_else(|| Error::Store(format!("job {} has no model", job.id)))?;
    let model = zkgate_zkml::import::load_bytes_within(&model_bytes, &gw.config.limits.model)?;
    let (dataset, secret) = load_dataset(&gw.paths, gw.vault(), &job.manifest.dataset)?;
    let request = request_of(&job.manifest);
    let tracker = std::sync::Mutex::new(Tracker::new());
    let mut progress = |step: Step| {
        let state = match step {
            Step::Compile | Step::Evaluate => JobState::Compiling,
            Step::Setup => JobState::Setup,
            Step::Prove { .. } | Step::Verify => JobState::Proving,
        };
        let p = tracker.lock().expect("tracker").step(step);
        let _ = gw.store.update_job(&job.id, |j| {
            if !j.state.is_terminal() {
                j.state = state;
                j.progress = Some(p.clone());
            }
        });
    };
    // The policy sees the job again once compiled (with its constraint
    // count) and judges the outputs before any key or proof is made.
    let researcher = gw
        .store
        .researcher_named(&job.researcher)?
        .ok_or_else(|| Error::NotFound(format!("researcher `{}`", job.researcher)))?;
    let meta = gw
        .store
        .dataset(&job.manifest.dataset)?
        .ok_or_else(|| Error::NotFound(format!("dataset `{}`", job.manifest.dataset)))?;
    // A dataset committed in an earlier commitment format cannot be opened
    // against its published commitment: say so before any work.
    if zkgate_statement::field::fr_to_hex(dataset.commitment(&secret)) != meta.commitment {
        return Err(Error::Unprocessable(format!(
            "dataset `{}` was published with a commitment of an earlier format (its rows now commit to another value): the owner must import it again and publish the new commitment",
            meta.name
        )));
    }
    let jobs = gw.store.jobs()?;
    let facts = policy::Facts::of(
        gw,
        &researcher,
        &meta,
        &model,
        &job.manifest,
        &jobs,
        job.created,
        Some(&job.id),
    )?;
    let shard_rows = crate::question::shard_rows(&meta, gw.config.limits.shard_rows);
    if let Some(q) = job
        .manifest
        .question
        .as_ref()
        .filter(|q| q.proof_system == zkgate_statement::ezkl::ProofSystem::Ezkl)
    {
        progress(Step::Prove {
            shard: 0,
            shards: 1,
        });
        return crate::ezkl::prove(
            gw,
            crate::ezkl::EzklJob {
                job,
                question: q,
                model: &model,
                model_bytes: &model_bytes,
                dataset: &dataset,
                secret: &secret,
                request: &request,
                meta: &meta,
                facts: &facts,
                nonce: crate::settle::proof_nonce(&gw.paths, job)?,
                shard_rows,
            },
        );
    }
    let gate = |g: &Gate<'_>| {
        let facts = facts.clone().compiled(g.constraints, g.memory);
        tracker.lock().expect("tracker").compiled(g.constraints);
        let refused = |e: Error| zkgate_zkml::Error::Refused(Box::new(e));
        let question = job.manifest.question.as_ref();
        if let Some(q) = question {
            let header = g.spec.header().with_shard_rows(shard_rows);
            crate::question::check_compiled(q, &header).map_err(refused)?;
        }
        let below = judge(gw, job, &facts, g.evaluation).map_err(refused)?;
        let suppresses = below > 0 && g.spec.aggregate.has_cells() && g.spec.params.noise.is_none();
        match question {
            Some(q) if suppresses && below > q.owner.suppress_below_max => {
                Err(refused(Error::Denied {
                    rules: vec!["question-suppression".into()],
                    message: format!(
                        "the release policy suppresses cells below {below} rows; the question allows at most {}",
                        q.owner.suppress_below_max
                    ),
                }))
            }
            _ => Ok(below),
        }
    };
    // Ceremony keys the researcher sent, over the gateway's file: each
    // checked against its circuit before anything is proved.
    let upload = gw.store.ceremony(&job.id)?;
    let ceremony_parts = match &upload {
        None => None,
        Some(up) => {
            let rel = gw.config.ptau.as_ref().ok_or_else(|| {
                Error::Unprocessable("the gateway no longer names a powers-of-tau file".into())
            })?;
            let ptau = zkgate_zkml::ceremony::Ptau::read(&gw.paths.root.join(rel))?;
            let keys = up
                .zkeys
                .iter()
                .enumerate()
                .map(|(i, z)| {
                    zkgate_zkml::ceremony::read(z).map_err(|e| {
                        Error::Unprocessable(format!(
                            "ceremony key {} of {}: {e}",
                            i + 1,
                            up.zkeys.len()
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Some((ptau, keys))
        }
    };
    let ceremony: Vec<zkgate_zkml::ceremony::Ceremony> = ceremony_parts
        .as_ref()
        .map(|(ptau, keys)| {
            keys.iter()
                .map(|(key, transcript)| zkgate_zkml::ceremony::Ceremony {
                    ptau,
                    key,
                    transcript,
                })
                .collect()
        })
        .unwrap_or_default();
    // An on-chain job's proofs carry the binding it was accepted with.
    let nonce = crate::settle::proof_nonce(&gw.paths, job)?;
    // With a queue configured, the shards go to the owner's provers, each
    // task to one.
    let dispatch = crate::cluster::dispatch(gw, &job.id)?;
    // Kept keys, paced so that the setup step does not tell this
    // researcher whether another asked the same question before.
    let paced = crate::keys::PacedKeys::new(gw.proving_keys(), &gw.store, &job.researcher);
    let outcome = pipeline::run(
        LocalJob {
            model: &model,
            dataset: &dataset,
            secret: &secret,
            request: &request,
            nonce,
            max_constraints: Some(gw.config.limits.max_constraints),
            max_memory: Some(gw.config.limits.max_memory_mb << 20),
            shard_rows: Some(gw.config.limits.shard_rows).filter(|r| *r > 0),
            keys: Some(&paced),
            gate: Some(&gate),
            ceremony: &ceremony,
            remote: dispatch
                .as_ref()
                .map(|d| d as &dyn zkgate_zkml::distribute::ShardProver),
        },
        &mut rand::rngs::OsRng,
        &mut progress,
    )
    .map_err(|e| match e {
        // The gate's refusal is the gateway's own error.
        zkgate_zkml::Error::Refused(b) => match b.downcast::<Error>() {
            Ok(mine) => *mine,
            Err(other) => Error::Zkml(zkgate_zkml::Error::Refused(other)),
        },
        e => Error::Zkml(e),
    })?;
    // The float-vs-quantized agreement is computed from the rows and is
    // not part of the released aggregate: it stays in the owner's audit
    // log, out of the receipt.
    let vk = outcome.vk_bytes();
    let mut receipt = outcome.receipt;
    if let Some(a) = receipt.agreement.take() {
        gw.audit.append(crate::audit::Record {
            who: "owner".into(),
            action: "agreement".into(),
            dataset: Some(job.manifest.dataset.clone()),
            job: Some(job.id.clone()),
            decision: "kept".into(),
            message: serde_json::to_string(&a).unwrap_or_default(),
            ..Default::default()
        })?;
    }
    gw.store.put_receipt(&job.id, &receipt.to_json(), &vk)?;
    // The ceremony keys proved with are kept for later jobs on their
    // circuits.
    if let (Some(up), Some((ptau, keys))) = (&upload, &ceremony_parts) {
        for (zkey, (key, transcript)) in up.zkeys.iter().zip(keys) {
            let vk_sha256 =
                zkgate_statement::groth16::vk_sha256(&zkgate_zkml::prove::verifying_key(key));
            if !receipt.shards.iter().any(|s| s.vk_sha256 == vk_sha256) {
                continue;
            }
            gw.store.keep_ceremony_key(
                &crate::store::KeptKey {
                    researcher: job.researcher.clone(),
                    vk_sha256,
                    // The key's id: a model-family circuit's key serves
                    // every model of its architecture.
                    circuit_id: zkgate_statement::field::fr_to_hex(receipt.circuit.key_id()),
                    shard_rows: receipt.circuit.shard_rows,
                    transcript_sha256: transcript.sha256(),
                    contributors: transcript.contributors(),
                    contribution_hashes: transcript
                        .contributions
                        .iter()
                        .map(|c| hex::encode(c.hash()))
                        .collect(),
                    ptau_blake2b: hex::encode(ptau.blake2b),
                    first_job: job.id.clone(),
                    added: crate::store::now(),
                },
                zkey,
            )?;
        }
    }
    if let Some(s) = receipt.timings.get("prove_s") {
        let mut stats = gw.stats.lock().expect("stats lock");
        stats.seconds += s;
        stats.count += 1;
    }
    Ok(receipt.timings)
}

/// The gate between evaluation and setup: a job cancelled meanwhile stops
/// here; otherwise the policy admits the compiled job and judges its
/// outputs. Returns the cell-suppression threshold.
pub(crate) fn judge(
    gw: &Gateway,
    job: &Job,
    facts: &policy::Facts<'_>,
    eval: &Evaluation,
) -> Result<u64> {
    if gw.store.job(&job.id).ok().flatten().map(|j| j.state) == Some(JobState::Cancelled) {
        return Err(Error::Conflict("cancelled".into()));
    }
    let approved = job.review.as_ref().is_some_and(|r| r.approved());
    if let policy::Admitted::Hold(d) = policy::admit(gw, facts, &job.id, approved)? {
        return Err(Error::Held {
            message: d.message,
            rules: d.rules,
        });
    }
    policy::release(gw, facts, &job.id, eval)
}

/// A running job's progress: its step, the shard being proved, and an
/// estimate of the whole run (from the circuit's size until a shard has
/// been proved, from the measured shards after).
struct Tracker {
    started: u64,
    clock: std::time::Instant,
    stage: &'static str,
    shard: u64,
    shards: u64,
    first_proof: Option<std::time::Instant>,
    estimate: Option<f64>,
}

impl Tracker {
    fn new() -> Tracker {
        Tracker {
            started: now(),
            clock: std::time::Instant::now(),
            stage: "compile",
            shard: 0,
            shards: 1,
            first_proof: None,
            estimate: None,
        }
    }

    /// Once compiled: setup and proving estimated from the constraints
    /// over all shards (setup costs about what proving does).
    fn compiled(&mut self, constraints: usize) {
        let rest = zkgate_zkml::cost::setup_and_prove_seconds(constraints);
        self.estimate = Some(self.clock.elapsed().as_secs_f64() + rest);
    }

    fn step(&mut self, step: Step) -> Progress {
        self.stage = step.name();
        if let Step::Prove { shard, shards } = step {
            let (shard, shards) = (shard as u64, shards as u64);
            self.shard = shard + 1;
            self.shards = shards;
            let first = *self.first_proof.get_or_insert_with(std::time::Instant::now);
            if shard > 0 {
                // Shards are of (nearly) one size: the measured ones give
                // the rest.
                let per = first.elapsed().as_secs_f64() / shard as f64;
                let before = (first - self.clock).as_secs_f64();
                self.estimate = Some(before + per * shards as f64);
            }
        }
        Progress {
            stage: self.stage.into(),
            shard: self.shard,
            shards: self.shards,
            started: self.started,
            elapsed_s: self.clock.elapsed().as_secs_f64(),
            estimated_s: self.estimate,
        }
    }
}

/// Proving totals.
pub fn stats(gw: &Gateway) -> (f64, u64) {
    let s = gw.stats.lock().expect("stats lock");
    (s.seconds, s.count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_contained_as_the_jobs_error() {
        assert_eq!(contained(|| Ok(3)).unwrap(), 3);
        let e = contained::<()>(|| panic!("index out of bounds")).unwrap_err();
        assert!(
            matches!(&e, Error::Crashed(m) if m == "index out of bounds"),
            "{e}"
        );
        let e = contained::<()>(|| panic!("{}", String::from("owned"))).unwrap_err();
        assert!(matches!(&e, Error::Crashed(m) if m == "owned"), "{e}");
        assert_eq!(e.detail().code, "job_crashed");
        let e = contained::<()>(|| Err(Error::Conflict("cancelled".into()))).unwrap_err();
        assert!(matches!(e, Error::Conflict(_)));
    }

    /// A job cancelled after the runner listed it queued (or proved)
    /// stays cancelled: the claim moves only a job still where the list
    /// saw it.
    #[test]
    fn a_job_cancelled_after_the_listing_is_not_claimed() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("db")).unwrap();
        let mut proved = crate::store::tests::job("j2");
        proved.state = JobState::Proved;
        for j in [crate::store::tests::job("j1"), proved] {
            store.create_job(&j, b"model", None).unwrap();
        }
        let listed = store.jobs().unwrap();
        for id in ["j1", "j2"] {
            store
                .update_job(id, |j| j.state = JobState::Cancelled)
                .unwrap();
        }
        assert!(claim_listed(&store, &listed).unwrap().is_none());
        for id in ["j1", "j2"] {
            let j = store.job(id).unwrap().unwrap();
            assert_eq!((j.state, j.attempts), (JobState::Cancelled, 0), "{id}");
        }
        // Still queued, it is claimed.
        store
            .create_job(&crate::store::tests::job("j3"), b"model", None)
            .unwrap();
        let listed = store.jobs().unwrap();
        let claimed = claim_listed(&store, &listed).unwrap().unwrap();
        assert_eq!(
            (claimed.id.as_str(), claimed.state),
            ("j3", JobState::Compiling)
        );
    }

    #[test]
    fn progress_counts_shards_and_estimates_from_the_measured_ones() {
        let mut t = Tracker::new();
        let p = t.step(Step::Compile);
        assert_eq!((p.stage.as_str(), p.shard, p.shards), ("compile", 0, 1));
        assert_eq!(p.estimated_s, None);
        // Once compiled: twice the constraints' proving time.
        t.compiled(1_000_000);
        let p = t.step(Step::Setup);
        let e = p.estimated_s.unwrap();
        assert!((40.0..41.0).contains(&e), "{e}");
        let p = t.step(Step::Prove {
            shard: 0,
            shards: 4,
        });
        assert_eq!((p.stage.as_str(), p.shard, p.shards), ("prove", 1, 4));
        assert_eq!(p.estimated_s, Some(e), "nothing measured yet");
        std::thread::sleep(std::time::Duration::from_millis(40));
        let p = t.step(Step::Verify);
        assert_eq!((p.stage.as_str(), p.shard), ("verify", 1));
        let p = t.step(Step::Prove {
            shard: 1,
            shards: 4,
        });
        assert_eq!(p.shard, 2);
        // One shard measured (at least 40 ms): the estimate is four of
        // them after the time before the first, no longer the guess.
        let e = p.estimated_s.unwrap();
        assert!((4.0 * 0.04..1.0).contains(&e) && e >= p.elapsed_s, "{p:?}");
    }

    #[test]
    fn a_job_that_keeps_stopping_the_gateway_fails_instead_of_looping() {
        let mut job = crate::store::tests::job("j1");
        job.state = JobState::Proving;
        job.attempts = 1;
        assert_eq!(recovered(&job), Some(JobState::Queued));
        job.attempts = MAX_ATTEMPTS;
        assert_eq!(recovered(&job), Some(JobState::Failed));
        job.state = JobState::Settling;
        assert_eq!(recovered(&job), Some(JobState::Proved));
        job.state = JobState::Done;
        assert_eq!(recovered(&job), None);
    }
}
