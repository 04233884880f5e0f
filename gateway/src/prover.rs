//! `zkgate prover`: a process on one of the data owner's machines that
//! connects to NATS as its own nkey user, says every second that it is
//! alive, pulls the tasks the gateway gave it from its own consumer (see
//! [`crate::cluster`]) one at a time, decrypts each with its own age
//! identity, fetches the circuit's proving key from the gateway by circuit
//! id (its prover token, the gateway's CA) and keeps it, proves, publishes
//! the proof signed with its nkey and only then acknowledges the task.
//! While it proves it tells JetStream it is at work, so a long shard is not
//! delivered again; killed, it never acknowledges, and the gateway gives
//! its tasks to another once its heartbeats stop. Its memory is one
//! shard's: the task holds the shard's rows only, and it proves one shard
//! at a time.

use crate::cluster::{self, header, Access, ShardResult, SignedResult};
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

/// How a prover runs.
pub struct ProverOptions {
    /// The queue.
    pub cluster: cluster::ClusterConfig,
    /// Its credentials on the queue (made with [`access`]).
    pub access: Access,
    /// The gateway's API (for proving keys), with the prover's token.
    pub gateway: zkgate_client::Client,
    /// The prover's name, as registered with the gateway.
    pub name: String,
    /// Its directory: `identity.age` and `nkey.seed` (made by `zkgate
    /// prover --init`) and `keys/`.
    pub dir: PathBuf,
    /// Disk kept for proving keys, bytes.
    pub key_cache_bytes: u64,
}

/// The identity file in a prover's directory.
pub fn identity_path(dir: &std::path::Path) -> PathBuf {
    dir.join("identity.age")
}

/// The nkey seed file in a prover's directory.
pub fn seed_path(dir: &std::path::Path) -> PathBuf {
    dir.join("nkey.seed")
}

/// Makes a prover's directory, its age identity and its nkey; returns its
/// recipient and its nkey's public key, which the owner registers (`zkgate
/// provers add NAME --recipient ... --nkey ...`). A directory made before
/// provers had nkeys gets one, its identity kept.
pub fn init(dir: &std::path::Path) -> Result<(String, String)> {
    let path = identity_path(dir);
    let seed = seed_path(dir);
    if path.exists() && seed.exists() {
        return Err(Error::Conflict(format!(
            "{} already exists",
            path.display()
        )));
    }
    if !path.exists() {
        let identity = age::x25519::Identity::generate();
        use age::secrecy::ExposeSecret;
        crate::vault::write_secret(&path, identity.to_string().expose_secret().as_bytes())?;
    }
    if !seed.exists() {
        crate::vault::write_secret(&seed, cluster::new_seed().as_bytes())?;
    }
    let recipient = load_identity(dir)?.to_public().to_string();
    Ok((recipient, cluster::public_key(&load_seed(dir)?)?))
}

fn load_seed(dir: &std::path::Path) -> Result<String> {
    let path = seed_path(dir);
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|e| Error::io(&path, e))
}

/// Prover `name`'s access from its directory (`nkey.seed`) and the TLS
/// files of `cfg` (relative ones from the current directory).
pub fn access(dir: &std::path::Path, name: &str, cfg: &cluster::ClusterConfig) -> Result<Access> {
    Access::new(
        cluster::Party::Prover(name.to_string()),
        load_seed(dir)?,
        cfg,
        std::path::Path::new("."),
    )
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
pub async fn run(opts: ProverOptions, stop: impl std::future::Future<Output = ()>) -> Result<()> {
    let identity = load_identity(&opts.dir)?;
    let client = cluster::client(&opts.cluster, &opts.access).await?;
    let js = jetstream::new(client.clone());
    // Alive, every second, from now until the process ends.
    let heartbeat = {
        let (client, subject) = (client.clone(), opts.cluster.alive_subject(&opts.name));
        tokio::spawn(async move {
            loop {
                let _ = client.publish(subject.clone(), "".into()).await;
                tokio::time::sleep(cluster::HEARTBEAT).await;
            }
        })
    };
    tokio::pin!(stop);
    // The gateway makes the prover's consumer when it first gives it a
    // task.
    let (name, stream) = (
        opts.cluster.consumer(&opts.name),
        opts.cluster.tasks_stream(),
    );
    let mut said = false;
    let consumer: consumer::PullConsumer = loop {
        match js.get_consumer_from_stream(&name, &stream).await {
            Ok(c) => break c,
            Err(e) => {
                if !said {
                    eprintln!(
                        "zkgate prover {}: waiting for its consumer {name} ({e})",
                        opts.name
                    );
                    said = true;
                }
            }
        }
        tokio::select! {
            _ = &mut stop => { heartbeat.abort(); return Ok(()) },
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    };
    let ack_wait = consumer.cached_info().config.ack_wait;
    let keys = KeyDir::new(opts.dir.join("keys"), opts.key_cache_bytes);
    let held = Held::default();
    eprintln!(
        "zkgate prover {}: pulling tasks (peak {:.0} MiB)",
        opts.name,
        peak_rss_mb()
    );
    loop {
        let batch = tokio::select! {
            _ = &mut stop => { heartbeat.abort(); return Ok(()) },
            b = consumer.fetch().max_messages(1).expires(Duration::from_secs(2)).messages() => b,
        };
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                eprintln!("zkgate prover {}: fetching: {e}", opts.name);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        while let Some(m) = batch.next().await {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("zkgate prover {}: {e}", opts.name);
                    continue;
                }
            };
            if let Err(e) = handle(&opts, &js, &identity, (&keys, &held), ack_wait, &m).await {
                eprintln!("zkgate prover {}: {e}", opts.name);
                // JetStream counts the deliveries; the gateway moves the
                // task if this prover cannot do it.
                let _ = m.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
            }
        }
    }
}

async fn handle(
    opts: &ProverOptions,
    js: &jetstream::Context,
    identity: &age::x25519::Identity,
    keys: (&KeyDir, &Held),
    ack_wait: Duration,
    m: &jetstream::Message,
) -> Result<()> {
    let get = |k: &str| {
        m.headers
            .as_ref()
            .and_then(|h| h.get(k))
            .map(|v| v.as_str().to_string())
            .unwrap_or_default()
    };
    let delivered = m.info().map(|i| i.delivered as u64).unwrap_or(1);
    let attempt: u32 = get(header::ATTEMPT).parse().unwrap_or(0);
    let plain = age::decrypt(identity, &m.payload)
        .map_err(|e| Error::Vault(format!("a task not for this prover: {e}")))?;
    let task: ShardTask = serde_json::from_slice(&plain)
        .map_err(|e| Error::BadRequest(format!("a task that does not parse: {e}")))?;
    drop(plain);
    eprintln!(
        "zkgate prover {}: proving job {} shard {} of {} (delivery {delivered})",
        opts.name,
        task.job,
        task.shard + 1,
        task.shards
    );
    // Alive while proving: JetStream waits another `ack_wait`.
    let every = (ack_wait / 3).max(Duration::from_millis(500));
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
        prover: opts.name.clone(),
        proof: hex::encode(zkgate_statement::groth16::to_bytes(&proof)),
        prove_s,
        key_s,
        peak_rss_mb: peak_rss_mb(),
        delivered,
    };
    let signed = SignedResult::sign(&result, &opts.access.seed)?;
    js.publish(
        opts.cluster.result_subject(&opts.name, &job, shard),
        serde_json::to_vec(&signed)
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
        "zkgate prover {}: job {job} shard {} proved in {prove_s:.2} s (peak {:.0} MiB, key {key_s:.2} s)",
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
    opts: &ProverOptions,
    (keys, held): (&KeyDir, &Held),
    task: &ShardTask,
) -> Result<std::sync::Arc<ProvingKey>> {
    // Keys are kept by the key's id (a model-family circuit's serves
    // every model of its architecture); the task's statement names the
    // circuit's.
    let id = &zkgate_statement::field::fr_to_hex(task.header.key_id());
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
    opts: &ProverOptions,
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
