//! `zkgate worker`: a process on one of the data owner's machines that
//! pulls shard tasks from the NATS work queue (see [`crate::cluster`]) one
//! at a time, decrypts each with its own age identity, fetches the
//! circuit's proving key from the gateway by circuit id (its worker token,
//! the gateway's CA) and keeps it, proves, publishes the proof and only
//! then acknowledges the task. While it proves it tells JetStream it is at
//! work, so a long shard is not handed to another worker; killed, it never
//! acknowledges, and the task goes to another after `ack_wait`. Its memory
//! is one shard's: the task holds the shard's rows only, and it proves
//! one shard at a time.

use crate::cluster::{self, header, ClusterConfig, ShardResult};
use crate::error::{Error, Result};
use async_nats::jetstream::{self, consumer, AckKind};
use futures_util::StreamExt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};
use zkgate_zkml::distribute::ShardTask;
use zkgate_zkml::keys::KeyDir;
use zkgate_zkml::pipeline::KeyCache;
use zkgate_zkml::prove::ProvingKey;

/// The last task's proving key, kept in memory: a job's shards share one
/// or two circuits, and reading a key back from disk costs about what a
/// tenth of its proof does.
type Held = std::sync::Mutex<Option<(String, std::sync::Arc<ProvingKey>)>>;

/// How a worker runs.
pub struct WorkerOptions {
    /// The queue.
    pub cluster: ClusterConfig,
    /// The gateway's API (for proving keys), with the worker's token.
    pub gateway: zkgate_client::Client,
    /// The worker's name, as registered with the gateway.
    pub name: String,
    /// Its directory: `identity.age` (made by `zkgate worker --init`) and
    /// `keys/`.
    pub dir: PathBuf,
    /// Disk kept for proving keys, bytes.
    pub key_cache_bytes: u64,
}

/// The identity file in a worker's directory.
pub fn identity_path(dir: &std::path::Path) -> PathBuf {
    dir.join("identity.age")
}

/// Makes a worker's directory and identity; returns its recipient, which
/// the owner registers (`zkgate workers add NAME --recipient ...`).
pub fn init(dir: &std::path::Path) -> Result<String> {
    let path = identity_path(dir);
    if path.exists() {
        return Err(Error::Conflict(format!(
            "{} already exists",
            path.display()
        )));
    }
    let identity = age::x25519::Identity::generate();
    use age::secrecy::ExposeSecret;
    crate::vault::write_secret(&path, identity.to_string().expose_secret().as_bytes())?;
    Ok(identity.to_public().to_string())
}

fn load_identity(dir: &std::path::Path) -> Result<age::x25519::Identity> {
    let path = identity_path(dir);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    age::x25519::Identity::from_str(text.trim())
        .map_err(|e| Error::Vault(format!("{}: {e}", path.display())))
}

/// Peak resident memory of this process so far, MiB (Linux; 0 elsewhere).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Runs until `stop` completes (a task being proved is finished first).
pub async fn run(opts: WorkerOptions, stop: impl std::future::Future<Output = ()>) -> Result<()> {
    let identity = load_identity(&opts.dir)?;
    let js = cluster::connect(&opts.cluster).await?;
    let consumer: consumer::PullConsumer = js
        .get_stream(opts.cluster.tasks_stream())
        .await
        .map_err(|e| Error::Config(format!("NATS: the tasks stream: {e}")))?
        .get_consumer(ClusterConfig::WORKERS)
        .await
        .map_err(|e| Error::Config(format!("NATS: the workers' consumer: {e}")))?;
    let keys = KeyDir::new(opts.dir.join("keys"), opts.key_cache_bytes);
    let held = Held::default();
    eprintln!(
        "zkgate worker {}: pulling tasks (peak {:.0} MiB)",
        opts.name,
        peak_rss_mb()
    );
    tokio::pin!(stop);
    loop {
        let batch = tokio::select! {
            _ = &mut stop => return Ok(()),
            b = consumer.fetch().max_messages(1).expires(Duration::from_secs(2)).messages() => b,
        };
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                eprintln!("zkgate worker {}: fetching: {e}", opts.name);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        while let Some(m) = batch.next().await {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("zkgate worker {}: {e}", opts.name);
                    continue;
                }
            };
            if let Err(e) = handle(&opts, &js, &identity, (&keys, &held), &m).await {
                eprintln!("zkgate worker {}: {e}", opts.name);
                // Someone else may do better (another key, another
                // identity); JetStream counts the deliveries.
                let _ = m.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
            }
        }
    }
}

async fn handle(
    opts: &WorkerOptions,
    js: &jetstream::Context,
    identity: &age::x25519::Identity,
    keys: (&KeyDir, &Held),
    m: &jetstream::Message,
) -> Result<()> {
    let get = |k: &str| {
        m.headers
            .as_ref()
            .and_then(|h| h.get(k))
            .map(|v| v.as_str().to_string())
            .unwrap_or_default()
    };
    if get(header::AVOID)
        .split(',')
        .any(|w| !w.is_empty() && w == opts.name)
    {
        // Our proof of this shard was wrong once: leave it to another.
        let _ = m
            .ack_with(AckKind::Nak(Some(Duration::from_millis(500))))
            .await;
        return Ok(());
    }
    let delivered = m.info().map(|i| i.delivered as u64).unwrap_or(1);
    let attempt: u32 = get(header::ATTEMPT).parse().unwrap_or(0);
    let plain = age::decrypt(identity, &m.payload)
        .map_err(|e| Error::Vault(format!("a task not for this worker: {e}")))?;
    let task: ShardTask = serde_json::from_slice(&plain)
        .map_err(|e| Error::BadRequest(format!("a task that does not parse: {e}")))?;
    drop(plain);
    eprintln!(
        "zkgate worker {}: proving job {} shard {} of {} (delivery {delivered})",
        opts.name,
        task.job,
        task.shard + 1,
        task.shards
    );
    // Alive while proving: JetStream waits another `ack_wait`.
    let every = Duration::from_secs((opts.cluster.ack_wait_s / 3).max(1));
    let ticker = {
        let m = m.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if m.ack_with(AckKind::Progress).await.is_err() {
                    return;
                }
            }
        })
    };
    // The task (its rows) moves into the prover; only its name stays.
    let (job, shard) = (task.job.clone(), task.shard);
    let proved = prove(opts, keys, task).await;
    ticker.abort();
    let (proof, prove_s, key_s) = proved?;
    let result = ShardResult {
        job: job.clone(),
        shard,
        attempt,
        worker: opts.name.clone(),
        proof: hex::encode(zkgate_statement::groth16::to_bytes(&proof)),
        prove_s,
        key_s,
        peak_rss_mb: peak_rss_mb(),
        delivered,
    };
    js.publish(
        opts.cluster.result_subject(&job, shard),
        serde_json::to_vec(&result)
            .expect("results serialize")
            .into(),
    )
    .await
    .map_err(|e| Error::Config(format!("NATS: publishing a result: {e}")))?
    .await
    .map_err(|e| Error::Config(format!("NATS: the stream did not take a result: {e}")))?;
    m.double_ack()
        .await
        .map_err(|e| Error::Config(format!("NATS: acknowledging: {e}")))?;
    eprintln!(
        "zkgate worker {}: job {job} shard {} proved in {prove_s:.2} s (peak {:.0} MiB, key {key_s:.2} s)",
        opts.name,
        shard + 1,
        result.peak_rss_mb
    );
    Ok(())
}

/// The task's proving key: the last task's, kept on disk, or fetched from
/// the gateway by circuit id (and checked against the task's verifying
/// key).
async fn proving_key(
    opts: &WorkerOptions,
    (keys, held): (&KeyDir, &Held),
    task: &ShardTask,
) -> Result<std::sync::Arc<ProvingKey>> {
    let id = &task.statement.circuit_id;
    {
        let mut last = held.lock().expect("held key");
        match last.as_ref() {
            Some((held_id, pk)) if held_id == id => return Ok(pk.clone()),
            // One key in memory at a time.
            _ => *last = None,
        }
    }
    let found = {
        let (keys, id) = (keys.clone(), id.clone());
        tokio::task::spawn_blocking(move || keys.get(&id))
            .await
            .map_err(|e| Error::Crashed(e.to_string()))?
    };
    let (pk, vk) = match found {
        Some(k) => k,
        None => {
            let bytes = match opts.gateway.proving_key(id).await {
                Ok(Ok(b)) => b,
                Ok(Err(e)) => return Err(Error::Unprocessable(format!("the gateway: {e}"))),
                Err(e) => return Err(Error::Config(format!("the gateway: {e}"))),
            };
            let (keys, key_id) = (keys.clone(), id.clone());
            tokio::task::spawn_blocking(move || {
                keys.put_bytes(&key_id, &bytes);
                keys.get(&key_id)
            })
            .await
            .map_err(|e| Error::Crashed(e.to_string()))?
            .ok_or_else(|| Error::Unprocessable(format!("the key of circuit {id} does not read")))?
        }
    };
    if zkgate_statement::groth16::vk_sha256(&vk) != task.vk_sha256 {
        return Err(Error::Unprocessable(format!(
            "the key of circuit {id} is not the one the task names"
        )));
    }
    let pk = std::sync::Arc::new(pk);
    *held.lock().expect("held key") = Some((id.clone(), pk.clone()));
    Ok(pk)
}

/// The proof, the seconds proving took and the seconds getting the key
/// took.
async fn prove(
    opts: &WorkerOptions,
    keys: (&KeyDir, &Held),
    task: ShardTask,
) -> Result<(zkgate_statement::groth16::Proof, f64, f64)> {
    let t = Instant::now();
    let pk = proving_key(opts, keys, &task).await?;
    let key_s = t.elapsed().as_secs_f64();
    tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let proof = task.prove(&pk, &mut rand::rngs::OsRng)?;
        Ok((proof, t.elapsed().as_secs_f64(), key_s))
    })
    .await
    .map_err(|e| Error::Crashed(e.to_string()))?
}
