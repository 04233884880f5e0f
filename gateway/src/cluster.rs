//! Shards proved across the data owner's machines over NATS JetStream.
//!
//! With `[cluster] nats = "nats://..."` in `config.toml`, a sharded job's
//! shards become tasks on a work-queue stream (`<prefix>_SHARDS`, subjects
//! `<prefix>.shards.<job>.<shard>`) that `zkgate worker` processes pull one
//! at a time with explicit acks: a worker that dies mid-shard never acks,
//! and JetStream delivers the task again after `ack_wait` (up to
//! `max_deliver` times); a worker proving a long shard tells JetStream it is
//! still at work. A task holds the shard's rows and the dataset's salt, so
//! it is encrypted (age) to the registered workers' recipients: plaintext
//! never sits in the queue. Workers fetch proving keys by circuit id from
//! the gateway's HTTPS API with their own token and keep them.
//!
//! Results come back on `<prefix>_RESULTS` (`<prefix>.results.<job>.<shard>`):
//! a proof, who made it, how long it took. The gateway keys them by job and
//! shard (a second result for a shard is ignored), and verifies each
//! against the shard's statement and key before taking it: a wrong proof
//! (a broken or hostile worker) sends the task out again, marked so that
//! the worker who sent it passes it on. Proofs are public, so results are
//! not encrypted; the queue is trusted with nothing but availability.

use crate::error::{Error, Result};
use async_nats::jetstream::{self, consumer, stream};
use async_nats::HeaderMap;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use zkgate_statement::groth16::{self, Proof, VerifyingKey};
use zkgate_zkml::distribute::{proves, ShardProver, ShardTask};

/// The `[cluster]` table of `config.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterConfig {
    /// The NATS server (`nats://host:4222`); none: shards are proved in the
    /// gateway's own process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats: Option<String>,
    /// Prefix of the streams' names and subjects.
    pub prefix: String,
    /// Seconds a worker may hold a task without a sign of life before
    /// JetStream delivers it to another.
    pub ack_wait_s: u64,
    /// Deliveries of a task before JetStream gives up on it.
    pub max_deliver: i64,
    /// Times a shard is sent out again after a wrong proof.
    pub max_retries: u32,
    /// Seconds without any result after which a job fails.
    pub idle_timeout_s: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nats: None,
            prefix: "zkgate".into(),
            ack_wait_s: 30,
            max_deliver: 5,
            max_retries: 3,
            idle_timeout_s: 1800,
        }
    }
}

impl ClusterConfig {
    /// Whether nothing is set (the table is left out of `config.toml`).
    pub fn is_default(&self) -> bool {
        *self == ClusterConfig::default()
    }
    /// The work-queue stream of tasks.
    pub fn tasks_stream(&self) -> String {
        format!("{}_SHARDS", self.prefix.to_ascii_uppercase())
    }
    /// The stream of results.
    pub fn results_stream(&self) -> String {
        format!("{}_RESULTS", self.prefix.to_ascii_uppercase())
    }
    fn task_subject(&self, job: &str, shard: usize) -> String {
        format!("{}.shards.{job}.{shard}", self.prefix)
    }
    /// Where a worker sends the result of a shard.
    pub fn result_subject(&self, job: &str, shard: usize) -> String {
        format!("{}.results.{job}.{shard}", self.prefix)
    }
    /// The durable consumer every worker pulls from.
    pub const WORKERS: &'static str = "provers";
}

/// What a worker sends back for a shard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardResult {
    /// The job.
    pub job: String,
    /// The shard.
    pub shard: usize,
    /// The task's attempt it answers.
    pub attempt: u32,
    /// The worker's name.
    pub worker: String,
    /// The Groth16 proof, compressed, hex.
    pub proof: String,
    /// Seconds the worker spent proving.
    pub prove_s: f64,
    /// Seconds it spent getting the proving key first (0: it kept it).
    #[serde(default)]
    pub key_s: f64,
    /// The worker's peak resident memory so far, MiB.
    pub peak_rss_mb: f64,
    /// JetStream's delivery count of the task (2 and more: redelivered).
    pub delivered: u64,
}

/// Headers a task carries in clear (the body is the encrypted
/// [`ShardTask`]).
pub mod header {
    /// The job.
    pub const JOB: &str = "Zkgate-Job";
    /// The shard.
    pub const SHARD: &str = "Zkgate-Shard";
    /// The attempt (0 first; one more each time a wrong proof sends it out
    /// again).
    pub const ATTEMPT: &str = "Zkgate-Attempt";
    /// Workers whose proof of this shard was wrong, comma-separated: they
    /// pass it on.
    pub const AVOID: &str = "Zkgate-Avoid";
}

fn nats_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Config(format!("NATS: {what}: {e}"))
}

/// Connects and makes sure both streams exist (work-queue tasks with a
/// deduplication window, results kept a day) and the workers' consumer.
pub async fn connect(cfg: &ClusterConfig) -> Result<jetstream::Context> {
    let url = cfg
        .nats
        .as_deref()
        .ok_or_else(|| Error::Config("no [cluster] nats URL".into()))?;
    let client = async_nats::connect(url)
        .await
        .map_err(|e| nats_error(&format!("connecting to {url}"), e))?;
    let js = jetstream::new(client);
    let tasks = js
        .get_or_create_stream(stream::Config {
            name: cfg.tasks_stream(),
            subjects: vec![format!("{}.shards.>", cfg.prefix)],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(600),
            ..Default::default()
        })
        .await
        .map_err(|e| nats_error("the tasks stream", e))?;
    js.get_or_create_stream(stream::Config {
        name: cfg.results_stream(),
        subjects: vec![format!("{}.results.>", cfg.prefix)],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: Duration::from_secs(86_400),
        ..Default::default()
    })
    .await
    .map_err(|e| nats_error("the results stream", e))?;
    tasks
        .get_or_create_consumer(
            ClusterConfig::WORKERS,
            consumer::pull::Config {
                durable_name: Some(ClusterConfig::WORKERS.into()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(cfg.ack_wait_s.max(1)),
                max_deliver: cfg.max_deliver,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| nats_error("the workers' consumer", e))?;
    Ok(js)
}

/// Encrypts `plaintext` to every recipient.
pub fn seal(recipients: &[age::x25519::Recipient], plaintext: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    if recipients.is_empty() {
        return Err(Error::Config(
            "no worker is registered (zkgate workers add): shard tasks have nobody to be encrypted to".into(),
        ));
    }
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| Error::Vault(e.to_string()))?;
    let mut out = Vec::with_capacity(plaintext.len() + 512);
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|e| Error::Vault(e.to_string()))?;
    w.write_all(plaintext)
        .and_then(|()| w.finish().map(|_| ()))
        .map_err(|e| Error::Vault(e.to_string()))?;
    Ok(out)
}

/// The gateway's side: a job's shards sent out and their proofs collected.
pub struct Dispatch<'a> {
    /// The runtime the gateway serves on (the pipeline runs on a blocking
    /// thread and waits on it).
    pub runtime: tokio::runtime::Handle,
    /// The configuration.
    pub config: &'a ClusterConfig,
    /// The job.
    pub job: &'a str,
    /// The workers' recipients.
    pub recipients: Vec<age::x25519::Recipient>,
}

impl Dispatch<'_> {
    async fn publish(
        &self,
        js: &jetstream::Context,
        task: &ShardTask,
        attempt: u32,
        avoid: &[String],
    ) -> Result<()> {
        let body = seal(
            &self.recipients,
            &serde_json::to_vec(task).expect("tasks serialize"),
        )?;
        let max = js.client().server_info().max_payload;
        if max > 0 && body.len() + 1024 > max {
            return Err(Error::Unprocessable(format!(
                "a shard task is {} bytes, over the NATS server's max_payload of {max}: lower limits.shard_rows or raise max_payload",
                body.len()
            )));
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::JOB, self.job);
        headers.insert(header::SHARD, task.shard.to_string().as_str());
        headers.insert(header::ATTEMPT, attempt.to_string().as_str());
        headers.insert(header::AVOID, avoid.join(",").as_str());
        // Sent again after a restart, the same task is dropped by the
        // stream's deduplication.
        headers.insert(
            "Nats-Msg-Id",
            format!("{}.{}.{attempt}", self.job, task.shard).as_str(),
        );
        js.publish_with_headers(
            self.config.task_subject(self.job, task.shard),
            headers,
            body.into(),
        )
        .await
        .map_err(|e| nats_error("publishing a task", e))?
        .await
        .map_err(|e| nats_error("the stream did not take a task", e))?;
        Ok(())
    }

    async fn run(
        &self,
        js: &jetstream::Context,
        mut tasks: Vec<ShardTask>,
        keys: Vec<VerifyingKey>,
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<Proof>> {
        let results = js
            .get_stream(self.config.results_stream())
            .await
            .map_err(|e| nats_error("the results stream", e))?;
        // A consumer of this job's results, from the first: results of a
        // run a restart interrupted count too (one left by that run, with
        // its acknowledgements, is replaced).
        let name = format!("gateway_{}", self.job);
        let _ = results.delete_consumer(&name).await;
        let consumer: consumer::PullConsumer = results
            .get_or_create_consumer(
                &name,
                consumer::pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: format!("{}.results.{}.>", self.config.prefix, self.job),
                    ack_policy: consumer::AckPolicy::Explicit,
                    deliver_policy: consumer::DeliverPolicy::All,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| nats_error("the results consumer", e))?;
        for t in &mut tasks {
            t.job = self.job.to_string();
            self.publish(js, t, 0, &[]).await?;
        }
        let statements = tasks
            .iter()
            .map(|t| t.statement.statement())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut proofs: Vec<Option<Proof>> = vec![None; tasks.len()];
        let mut attempts = vec![0u32; tasks.len()];
        let mut avoid: Vec<Vec<String>> = vec![vec![]; tasks.len()];
        let (mut count, mut last) = (0, Instant::now());
        let idle = Duration::from_secs(self.config.idle_timeout_s.max(1));
        while count < tasks.len() {
            // One at a time: a result is taken as soon as it is in.
            let batch = consumer
                .fetch()
                .max_messages(1)
                .expires(Duration::from_secs(2))
                .messages()
                .await
                .map_err(|e| nats_error("fetching results", e))?;
            let messages: Vec<_> = batch.collect().await;
            if messages.is_empty() && last.elapsed() > idle {
                let missing: Vec<String> = proofs
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.is_none())
                    .map(|(i, _)| i.to_string())
                    .collect();
                return Err(Error::Unprocessable(format!(
                    "no worker proved shard {} within {} s",
                    missing.join(", "),
                    idle.as_secs()
                )));
            }
            for m in messages {
                let m = m.map_err(|e| nats_error("reading a result", e))?;
                let _ = m.ack().await;
                let Ok(r) = serde_json::from_slice::<ShardResult>(&m.payload) else {
                    eprintln!("zkgate: job {}: a result that does not parse", self.job);
                    continue;
                };
                let i = r.shard;
                if r.job != self.job || i >= tasks.len() || proofs[i].is_some() {
                    continue; // another job's, or a shard proved already
                }
                last = Instant::now();
                let proof = hex::decode(&r.proof)
                    .ok()
                    .and_then(|b| groth16::from_bytes::<Proof>(&b).ok());
                match proof {
                    Some(p) if proves(&keys[i], &statements[i], &p) => {
                        proofs[i] = Some(p);
                        count += 1;
                        done(count);
                    }
                    _ => {
                        eprintln!(
                            "zkgate: job {}: worker `{}` sent a wrong proof of shard {i}: sent out again",
                            self.job, r.worker
                        );
                        attempts[i] += 1;
                        if attempts[i] > self.config.max_retries {
                            return Err(Error::Unprocessable(format!(
                                "shard {i}: {} wrong proofs",
                                attempts[i]
                            )));
                        }
                        avoid[i].push(r.worker.clone());
                        self.publish(js, &tasks[i], attempts[i], &avoid[i]).await?;
                    }
                }
            }
        }
        Ok(proofs.into_iter().map(|p| p.expect("all proved")).collect())
    }

    /// Forgets the job on the queue, however it ended: its tasks still
    /// waiting (a failed job's would be proved for nothing) and its
    /// results consumer.
    async fn clean_up(&self, js: &jetstream::Context) {
        if let Ok(tasks) = js.get_stream(self.config.tasks_stream()).await {
            let _ = tasks
                .purge()
                .filter(format!("{}.shards.{}.>", self.config.prefix, self.job))
                .await;
        }
        if let Ok(results) = js.get_stream(self.config.results_stream()).await {
            let _ = results
                .delete_consumer(&format!("gateway_{}", self.job))
                .await;
        }
    }
}

impl ShardProver for Dispatch<'_> {
    fn prove_all(
        &self,
        tasks: Vec<ShardTask>,
        keys: Vec<VerifyingKey>,
        done: &mut dyn FnMut(usize),
    ) -> zkgate_zkml::Result<Vec<Proof>> {
        self.runtime
            .block_on(async {
                let js = connect(self.config).await?;
                let out = self.run(&js, tasks, keys, done).await;
                self.clean_up(&js).await;
                out
            })
            .map_err(|e| zkgate_zkml::Error::Refused(Box::new(e)))
    }
}
