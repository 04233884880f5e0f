//! A load run on loopback: many researchers submitting, resubmitting and
//! polling at once while one job runner proves, against a fresh gateway over
//! plain HTTP. Reports API latency percentiles per kind of request and
//! checks the gateway's books: every accepted job is stored once and
//! reaches an end, an idempotent resubmission answers with the same job,
//! and no researcher ever has more jobs accepted at once than the limit.

use anyhow::{ensure, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};
use zkgate_client::Client;
use zkgate_gateway::config::{Config, Limits, Paths};
use zkgate_gateway::store::{Manifest, Store};
use zkgate_gateway::vault::Vault;
use zkgate_gateway::{owner::setup, Gateway};
use zkgate_statement::Aggregate;

/// Active jobs each researcher may have.
const ACTIVE: usize = 2;
/// Submissions in each researcher's burst (more than [`ACTIVE`]).
const BURST: usize = 4;

fn percentiles(mut v: Vec<f64>) -> serde_json::Value {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    serde_json::json!({ "requests": v.len(), "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0) })
}

/// The mean of the linear model over the 13 features of `dataset`.
fn job(dataset: &str, idempotency_key: Option<String>) -> Manifest {
    Manifest {
        dataset: dataset.into(),
        columns: Some((0..13).map(|i| format!("f{i}")).collect()),
        aggregate: Aggregate::Mean,
        idempotency_key,
        quant: Default::default(),
        chain_job: None,
        epsilon: None,
        nonce: None,
        question: None,
    }
}

/// What one researcher saw.
#[derive(Default)]
struct Seen {
    accepted: Vec<String>,
    refused: usize,
    repeated_same: bool,
    latency: BTreeMap<&'static str, Vec<f64>>,
}

async fn researcher(
    base: String,
    token: String,
    model: Vec<u8>,
    polls: usize,
    bursts_done: std::sync::Arc<tokio::sync::Barrier>,
) -> Result<Seen> {
    let c = Client::new(&base, &token, None)?;
    let mut seen = Seen::default();
    let timed = |kind: &'static str, t: Instant, seen: &mut Seen| {
        seen.latency
            .entry(kind)
            .or_default()
            .push(t.elapsed().as_secs_f64() * 1e3);
    };
    let manifest = |key: usize| job("t", Some(format!("k{key}")));
    for k in 0..BURST {
        let t = Instant::now();
        let answer = c.submit(&manifest(k), model.clone()).await?;
        timed("submit", t, &mut seen);
        match answer {
            Ok(job) => seen.accepted.push(job.id),
            Err(e) if e.status == 429 => seen.refused += 1,
            Err(e) => anyhow::bail!("submit: {e}"),
        }
    }
    // The first submission again: the same job, not a new one.
    let t = Instant::now();
    let again = c.submit(&manifest(0), model.clone()).await?;
    timed("resubmit", t, &mut seen);
    seen.repeated_same = again.ok().map(|j| j.id) == seen.accepted.first().cloned();
    // Every burst is in before anyone polls; the polling then runs while
    // the job runner generates keys and proves.
    bursts_done.wait().await;
    for i in 0..polls {
        let id = &seen.accepted[i % seen.accepted.len()];
        let t = Instant::now();
        c.job(id).await?.map_err(|e| anyhow::anyhow!("poll: {e}"))?;
        timed("poll_job", t, &mut seen);
        let t = Instant::now();
        c.jobs().await?.map_err(|e| anyhow::anyhow!("list: {e}"))?;
        timed("list_jobs", t, &mut seen);
        let t = Instant::now();
        c.datasets()
            .await?
            .map_err(|e| anyhow::anyhow!("datasets: {e}"))?;
        timed("datasets", t, &mut seen);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    Ok(seen)
}

/// Runs `clients` researchers against a fresh gateway in `dir`, each
/// submitting a burst of 4 jobs (2 may be active), resubmitting one, and
/// polling `polls` times; then cancels what is still queued and checks the
/// books. Returns the figures.
pub async fn run(
    dir: &Path,
    fixtures: &Path,
    clients: usize,
    polls: usize,
) -> Result<serde_json::Value> {
    let root = dir.join("gw");
    let config = Config {
        plain_http: true,
        limits: Limits {
            max_active_jobs_per_researcher: ACTIVE,
            job_runners: 1,
            ..Limits::default()
        },
        ..Config::default()
    };
    setup::init(&root, &config, None, "open")?;
    std::fs::write(
        root.join("policy.cedar"),
        "@id(\"everything\")\npermit (principal, action, resource);\n",
    )?;
    let paths = Paths::new(&root);
    let tokens = {
        let store = Store::open(&paths.db())?;
        let vault = Vault::open(&paths, None)?;
        let src = fixtures.join("data/tabular.csv");
        let text = std::fs::read_to_string(&src)?;
        let schema = zkgate_zkml::dataset::declared_schema(&src)?;
        // The researchers. dataset (64 rows: a proof in a fraction of a
        // second once its keys exist) and a larger one for the job that
        // holds the job runner while the bursts come in (512 rows: key
        // generation and proof take seconds).
        for (name, rows) in [("t", 64), ("big", 256)] {
            let csv = dir.join(format!("{name}.csv"));
            std::fs::write(
                &csv,
                text.lines().take(rows + 1).collect::<Vec<_>>().join("\n"),
            )?;
            setup::import_dataset(&paths, &store, &vault, &csv, name, &schema, 0)?;
        }
        (0..=clients)
            .map(|i| setup::add_researcher(&store, &format!("r{i}"), "", 1, None))
            .collect::<zkgate_gateway::Result<Vec<_>>>()?
    };
    let gw = Gateway::open(&root, None)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(zkgate_gateway::serve(gw.clone(), listener, async {
        let _ = stopped.await;
    }));
    let model = std::fs::read(fixtures.join("models/linreg.onnx"))?;
    // The last researcher's job on `big` takes the job runner first, so that
    // no burst sees a job of its own end (the active-job count is exact).
    let (tokens, holder) = tokens.split_at(clients);
    let holder = Client::new(&base, &holder[0], None)?;
    let hold = job("big", None);
    let held = holder
        .submit(&hold, model.clone())
        .await?
        .map_err(|e| anyhow::anyhow!("holding job: {e}"))?;

    let t0 = Instant::now();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clients));
    let runs: Vec<_> = tokens
        .iter()
        .map(|t| {
            tokio::spawn(researcher(
                base.clone(),
                t.clone(),
                model.clone(),
                polls,
                barrier.clone(),
            ))
        })
        .collect();
    let mut seen = Vec::with_capacity(clients);
    for r in runs {
        seen.push(r.await.context("a researcher's task")??);
    }
    let load_s = t0.elapsed().as_secs_f64();

    // Cancel what is still waiting, so every job ends.
    for (s, token) in seen.iter().zip(tokens) {
        let c = Client::new(&base, token, None)?;
        for id in &s.accepted {
            let _ = c.cancel(id).await?;
        }
    }
    let _ = holder.cancel(&held.id).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let jobs = loop {
        let jobs = gw.store.jobs()?;
        if jobs.iter().all(|j| j.state.is_terminal()) || Instant::now() > deadline {
            break jobs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = stop.send(());
    server.await??;

    // The books.
    let mut accepted: BTreeSet<&String> = seen.iter().flat_map(|s| &s.accepted).collect();
    accepted.insert(&held.id);
    let accepted_count: usize = seen.iter().map(|s| s.accepted.len()).sum::<usize>() + 1;
    let stored: BTreeSet<&String> = jobs.iter().map(|j| &j.id).collect();
    ensure!(
        accepted.len() == accepted_count,
        "a job id was handed out twice"
    );
    ensure!(
        stored == accepted,
        "stored jobs differ from accepted ones: {} stored, {} accepted",
        stored.len(),
        accepted.len()
    );
    ensure!(
        jobs.iter().all(|j| j.state.is_terminal()),
        "a job never ended"
    );
    ensure!(
        seen.iter().all(|s| s.repeated_same),
        "a resubmission made a new job"
    );
    // Every burst is answered before the first job's key generation ends,
    // so exactly `ACTIVE` per researcher.
    for (i, s) in seen.iter().enumerate() {
        ensure!(
            s.accepted.len() == ACTIVE && s.refused == BURST - ACTIVE,
            "researcher {i}: {} accepted and {} refused of a burst of {BURST} (limit {ACTIVE})",
            s.accepted.len(),
            s.refused
        );
    }
    let mut latency: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for s in &seen {
        for (k, v) in &s.latency {
            latency.entry(k).or_default().extend(v);
        }
    }
    let requests: usize = latency.values().map(Vec::len).sum();
    let done = jobs
        .iter()
        .filter(|j| j.id != held.id && j.state == zkgate_gateway::store::JobState::Done)
        .count();
    Ok(serde_json::json!({
        "model": "load",
        "clients": clients,
        "requests": requests,
        "load_s": load_s,
        "requests_per_s": requests as f64 / load_s,
        "latency": latency.into_iter().map(|(k, v)| (k.to_string(), percentiles(v))).collect::<serde_json::Map<_, _>>(),
        "jobs_accepted": accepted.len() - 1,
        "jobs_stored": stored.len() - 1,
        "jobs_proved_during_the_run": done,
        "lost": 0,
        "duplicated": 0,
    }))
}
