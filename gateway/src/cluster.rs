//! Shards proved across the data owner's machines over NATS JetStream,
//! on a network nobody trusts.
//!
//! With `[cluster] nats = "tls://..."` in `config.toml`, a sharded job's
//! shards become tasks on a work-queue stream (`<prefix>_SHARDS`). **Each
//! task goes to one prover**: its subject is
//! `<prefix>.shards.<prover>.<tag>.<shard>`, a durable pull consumer per
//! prover (`w_<prover>`) delivers only that prover's subjects, and the task
//! is encrypted (age) to that prover's recipient alone. The gateway picks
//! among the provers that sent a heartbeat lately (`<prefix>.alive.<prover>`,
//! every second), the least loaded first; a prover silent for `ack_wait_s`
//! loses its unproved tasks to a live one (taken off its queue, sealed
//! again to the other), and an idle live prover takes a not yet started
//! task from a busy one. JetStream keeps what it kept: a prover that dies
//! mid-shard never acks, and its consumer delivers the task again after
//! `ack_wait` (up to `max_deliver` times); a restarted gateway finds every
//! task and result where it left them. `<tag>` is a keyed hash of the job
//! id: the queue never sees which job a task belongs to.
//!
//! **Who may do what** is the NATS server's job: every party is an nkey
//! user, and [`server_config`] writes the server's `authorization` block
//! (`zkgate provers nats-config`): only the gateway publishes tasks, reads
//! results and manages streams; a prover pulls from, acknowledges on and
//! answers through its own consumer and subjects only, and reads replies
//! on its own inbox prefix. A client without credentials is refused. With
//! `ca_cert` set, the connection is TLS (and `client_cert`/`client_key`
//! present a certificate to a server that asks for one).
//!
//! **Results are signed.** A prover signs each result with its nkey (the
//! same ed25519 key it connects with, registered with its age recipient).
//! The gateway takes a result only if a registered prover's key signed it,
//! on that prover's own subject, for a task it was given; it verifies the
//! proof against the shard's statement and key; a wrong one strikes the
//! prover who signed it (it gets no more of the job's tasks, and its
//! unproved ones go to others), never a prover whose name was only written
//! in a result. Proofs are public, so results are not encrypted.

use crate::error::{Error, Result};
use async_nats::jetstream::{self, consumer, stream};
use async_nats::HeaderMap;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zkgate_statement::groth16::{self, Proof, VerifyingKey};
use zkgate_zkml::distribute::{proves, ShardProver, ShardTask};

/// The consumer all provers shared before each task went to one prover.
const LEGACY_CONSUMER: &str = "provers";

/// How often a prover says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// The `[cluster]` table of `config.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterConfig {
    /// The NATS server (`tls://host:4222`, `nats://...`); none: shards are
    /// proved in the gateway's own process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats: Option<String>,
    /// Prefix of the streams' names and subjects.
    pub prefix: String,
    /// Seconds a prover may hold a task without a sign of life before
    /// JetStream delivers it again, and seconds without a heartbeat before
    /// the gateway gives a prover's tasks to another.
    pub ack_wait_s: u64,
    /// Deliveries of a task before JetStream gives up on it.
    pub max_deliver: i64,
    /// Times a shard is sent out again after a wrong proof.
    pub max_retries: u32,
    /// Seconds without any result after which a job fails.
    pub idle_timeout_s: u64,
    /// PEM file of the certificate authority that signed the NATS server's
    /// certificate (for the gateway, relative to its data dir): the
    /// connection must be TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// A client certificate (PEM) for a server that verifies its clients'
    /// (`tls { verify: true }`), with `client_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
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
            ca_cert: None,
            client_cert: None,
            client_key: None,
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
    /// Where the task of `shard` goes when `prover` is to prove it.
    pub fn task_subject(&self, prover: &str, tag: &str, shard: usize) -> String {
        format!("{}.shards.{prover}.{tag}.{shard}", self.prefix)
    }
    /// Where `prover` sends the result of a shard.
    pub fn result_subject(&self, prover: &str, tag: &str, shard: usize) -> String {
        format!("{}.results.{prover}.{tag}.{shard}", self.prefix)
    }
    /// Where `prover` says it is alive.
    pub fn alive_subject(&self, prover: &str) -> String {
        format!("{}.alive.{prover}", self.prefix)
    }
    /// The durable consumer that delivers `prover`'s tasks.
    pub fn consumer(&self, prover: &str) -> String {
        format!("w_{prover}")
    }
    /// The prefix of a party's reply subjects (others cannot subscribe to
    /// it).
    pub fn inbox(&self, party: &Party) -> String {
        match party {
            Party::Gateway => format!("_INBOX_{}_gateway", self.prefix),
            Party::Prover(name) => format!("_INBOX_{}_w_{name}", self.prefix),
        }
    }
}

/// Who connects to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Party {
    /// The gateway.
    Gateway,
    /// A registered prover, by name.
    Prover(String),
}

/// A party's credentials: its nkey seed (`SU...`) and, for TLS, the files
/// of [`ClusterConfig`] with their paths resolved.
#[derive(Clone)]
pub struct Access {
    /// Who.
    pub party: Party,
    /// Its nkey seed.
    pub seed: String,
    /// The server's certificate authority (PEM): TLS required.
    pub ca_cert: Option<PathBuf>,
    /// A client certificate and its key (PEM).
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

impl Access {
    /// `party`'s access with `seed`, the TLS files of `cfg` resolved
    /// against `base` where relative.
    pub fn new(party: Party, seed: String, cfg: &ClusterConfig, base: &Path) -> Result<Access> {
        let at = |p: &PathBuf| {
            if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            }
        };
        let client_cert = match (&cfg.client_cert, &cfg.client_key) {
            (Some(c), Some(k)) => Some((at(c), at(k))),
            (None, None) => None,
            _ => {
                return Err(Error::Config(
                    "[cluster] client_cert and client_key go together".into(),
                ))
            }
        };
        Ok(Access {
            party,
            seed,
            ca_cert: cfg.ca_cert.as_ref().map(at),
            client_cert,
        })
    }

    /// The public key of its seed (`U...`).
    pub fn public_key(&self) -> Result<String> {
        public_key(&self.seed)
    }
}

/// The public key (`U...`) of an nkey seed.
pub fn public_key(seed: &str) -> Result<String> {
    Ok(key_pair(seed)?.public_key())
}

fn key_pair(seed: &str) -> Result<nkeys::KeyPair> {
    nkeys::KeyPair::from_seed(seed.trim())
        .map_err(|e| Error::Config(format!("not an nkey seed: {e}")))
}

/// A new nkey user seed (`SU...`).
pub fn new_seed() -> String {
    nkeys::KeyPair::new_user()
        .seed()
        .expect("a new key pair has its seed")
}

/// Checks that `key` is an nkey user's public key (`U...`).
pub fn check_public_key(key: &str) -> Result<()> {
    match nkeys::KeyPair::from_public_key(key) {
        Ok(k) if k.key_pair_type() == nkeys::KeyPairType::User => Ok(()),
        Ok(_) => Err(Error::BadRequest(format!(
            "`{key}` is an nkey, but not a user's (U...)"
        ))),
        Err(e) => Err(Error::BadRequest(format!(
            "`{key}` is not an nkey public key: {e}"
        ))),
    }
}

/// The gateway's nkey seed (`cluster/gateway.nk` in its data dir), made
/// the first time it is asked for.
pub fn gateway_seed(root: &Path) -> Result<String> {
    let path = root.join("cluster").join("gateway.nk");
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(s.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let seed = new_seed();
            crate::vault::write_secret(&path, seed.as_bytes())?;
            Ok(seed)
        }
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// A registered prover as the gateway deals with it.
#[derive(Clone)]
pub struct Member {
    /// Its name.
    pub name: String,
    /// Where its tasks are encrypted to.
    pub recipient: age::x25519::Recipient,
    /// Its nkey public key (`U...`): its NATS user and the key its results
    /// are signed with.
    pub nkey: String,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.recipient, self.nkey)
    }
}

/// The TLS files of a server configuration.
#[derive(Clone, Debug)]
pub struct ServerTls {
    /// The server's certificate (PEM).
    pub cert: PathBuf,
    /// Its key (PEM).
    pub key: PathBuf,
    /// A CA the clients' certificates must be signed by (`verify: true`);
    /// none: clients authenticate by nkey only.
    pub verify_ca: Option<PathBuf>,
}

/// The nats-server configuration of a cluster: JetStream, one nkey user
/// for the gateway and one per prover, each allowed only what its part
/// needs, and TLS when `tls` is given. `provers` is `(name, nkey)`.
pub fn server_config(
    cfg: &ClusterConfig,
    gateway: &str,
    provers: &[(String, String)],
    tls: Option<&ServerTls>,
) -> String {
    let q = |s: &str| format!("\"{s}\"");
    let list = |v: &[String]| v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ");
    let (p, tasks, results) = (&cfg.prefix, cfg.tasks_stream(), cfg.results_stream());
    let mut out = String::new();
    out.push_str(
        "# nats-server configuration of a zkgate proving cluster, written by\n\
         # `zkgate provers nats-config`: write it again after adding or\n\
         # removing a prover, then reload the server (nats-server --signal reload).\n\
         jetstream: enabled\n",
    );
    if let Some(t) = tls {
        out.push_str(&format!(
            "tls {{\n  cert_file: {}\n  key_file: {}\n",
            q(&t.cert.display().to_string()),
            q(&t.key.display().to_string())
        ));
        if let Some(ca) = &t.verify_ca {
            out.push_str(&format!(
                "  ca_file: {}\n  verify: true\n",
                q(&ca.display().to_string())
            ));
        }
        out.push_str("}\n");
    }
    out.push_str("authorization {\n  users = [\n");
    let gateway_pub = vec![
        "$JS.API.>".to_string(),
        format!("$JS.ACK.{results}.>"),
        format!("{p}.shards.>"),
    ];
    let gateway_sub = vec![
        format!("{}.>", cfg.inbox(&Party::Gateway)),
        format!("{p}.alive.*"),
    ];
    out.push_str(&format!(
        "    # the gateway\n    {{ nkey: {}, permissions: {{ publish: {{ allow: [{}] }}, subscribe: {{ allow: [{}] }} }} }}\n",
        q(gateway),
        list(&gateway_pub),
        list(&gateway_sub)
    ));
    for (name, nkey) in provers {
        let c = cfg.consumer(name);
        let publish = vec![
            format!("$JS.API.CONSUMER.INFO.{tasks}.{c}"),
            format!("$JS.API.CONSUMER.MSG.NEXT.{tasks}.{c}"),
            format!("$JS.ACK.{tasks}.{c}.>"),
            format!("{p}.results.{name}.>"),
            cfg.alive_subject(name),
        ];
        let subscribe = vec![format!("{}.>", cfg.inbox(&Party::Prover(name.clone())))];
        out.push_str(&format!(
            "    # prover `{name}`\n    {{ nkey: {}, permissions: {{ publish: {{ allow: [{}] }}, subscribe: {{ allow: [{}] }} }} }}\n",
            q(nkey),
            list(&publish),
            list(&subscribe)
        ));
    }
    out.push_str("  ]\n}\n");
    out
}

/// What a prover sends back for a shard (inside a [`SignedResult`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardResult {
    /// The job's tag.
    pub job: String,
    /// The shard.
    pub shard: usize,
    /// The task's round it answers (0 first; one more each time the task
    /// went to another prover).
    pub attempt: u32,
    /// The prover's name (`worker` in an earlier release's results).
    #[serde(alias = "worker")]
    pub prover: String,
    /// The Groth16 proof, compressed, hex.
    pub proof: String,
    /// Seconds the prover spent proving.
    pub prove_s: f64,
    /// Seconds it spent getting the proving key first (0: it kept it).
    #[serde(default)]
    pub key_s: f64,
    /// The prover's peak resident memory so far, MiB.
    pub peak_rss_mb: f64,
    /// JetStream's delivery count of the task (2 and more: redelivered).
    pub delivered: u64,
}

/// A result as it travels: the [`ShardResult`]'s JSON, the public nkey of
/// its signer and the ed25519 signature of the JSON (with a domain tag).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignedResult {
    /// The result, JSON.
    pub body: String,
    /// The signer's nkey (`U...`).
    pub signer: String,
    /// The signature, hex.
    pub signature: String,
}

const RESULT_DOMAIN: &[u8] = b"zkgate.cluster.result.v1\0";

impl SignedResult {
    /// `result` signed with the nkey `seed`.
    pub fn sign(result: &ShardResult, seed: &str) -> Result<SignedResult> {
        let kp = key_pair(seed)?;
        let body = serde_json::to_string(result).expect("results serialize");
        let signature = kp
            .sign(&[RESULT_DOMAIN, body.as_bytes()].concat())
            .map_err(|e| Error::Config(format!("signing a result: {e}")))?;
        Ok(SignedResult {
            body,
            signer: kp.public_key(),
            signature: hex::encode(signature),
        })
    }

    /// The result and the registered prover who signed it, if one did.
    pub fn open<'m>(
        &self,
        members: &'m [Member],
    ) -> std::result::Result<(&'m Member, ShardResult), String> {
        let member = members
            .iter()
            .find(|m| m.nkey == self.signer)
            .ok_or_else(|| format!("signed by an unregistered key {}", self.signer))?;
        let sig = hex::decode(&self.signature).map_err(|_| "a signature not in hex")?;
        nkeys::KeyPair::from_public_key(&self.signer)
            .and_then(|k| k.verify(&[RESULT_DOMAIN, self.body.as_bytes()].concat(), &sig))
            .map_err(|_| format!("a bad signature under prover `{}`'s key", member.name))?;
        let result: ShardResult = serde_json::from_str(&self.body)
            .map_err(|e| format!("a signed result that does not parse: {e}"))?;
        if result.prover != member.name {
            return Err(format!(
                "prover `{}` signed a result naming `{}`",
                member.name, result.prover
            ));
        }
        Ok((member, result))
    }
}

/// Headers a task carries in clear (the body is the encrypted
/// [`ShardTask`]).
pub mod header {
    /// The job's tag.
    pub const JOB: &str = "Zkgate-Job";
    /// The shard.
    pub const SHARD: &str = "Zkgate-Shard";
    /// The round (0 first; one more each time the task goes to another
    /// prover).
    pub const ATTEMPT: &str = "Zkgate-Attempt";
}

fn nats_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Config(format!("NATS: {what}: {e}"))
}

/// A connection as `access`'s party: its nkey, its inbox prefix, TLS when
/// a CA is given.
pub async fn client(cfg: &ClusterConfig, access: &Access) -> Result<async_nats::Client> {
    let url = cfg
        .nats
        .as_deref()
        .ok_or_else(|| Error::Config("no [cluster] nats URL".into()))?;
    let mut opts = async_nats::ConnectOptions::with_nkey(access.seed.trim().to_string())
        .custom_inbox_prefix(cfg.inbox(&access.party))
        .name(match &access.party {
            Party::Gateway => "zkgate gateway".to_string(),
            Party::Prover(n) => format!("zkgate prover {n}"),
        });
    if let Some(ca) = &access.ca_cert {
        if !ca.exists() {
            return Err(Error::Config(format!(
                "[cluster] ca_cert {} does not exist",
                ca.display()
            )));
        }
        opts = opts.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let Some((cert, key)) = &access.client_cert {
        opts = opts.add_client_certificate(cert.clone(), key.clone());
    }
    opts.connect(url)
        .await
        .map_err(|e| nats_error(&format!("connecting to {url}"), e))
}

/// The gateway's connection: makes sure both streams exist (work-queue
/// tasks with a deduplication window, results kept a day).
pub async fn connect(cfg: &ClusterConfig, access: &Access) -> Result<jetstream::Context> {
    let js = jetstream::new(client(cfg, access).await?);
    js.get_or_create_stream(stream::Config {
        name: cfg.tasks_stream(),
        subjects: vec![format!("{}.shards.>", cfg.prefix)],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(600),
        ..Default::default()
    })
    .await
    .map_err(|e| nats_error("the tasks stream", e))?;
    // A stream from before tasks went to one prover each has the shared
    // consumer every prover pulled from: on a work queue it would overlap
    // every prover's own, which JetStream refuses.
    if let Ok(tasks) = js.get_stream_no_info(cfg.tasks_stream()).await {
        let _ = tasks.delete_consumer(LEGACY_CONSUMER).await;
    }
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
    Ok(js)
}

/// Makes sure `prover`'s consumer exists: it delivers that prover's
/// tasks, explicitly acknowledged.
pub async fn ensure_consumer(
    js: &jetstream::Context,
    cfg: &ClusterConfig,
    prover: &str,
) -> Result<()> {
    let tasks = js
        .get_stream_no_info(cfg.tasks_stream())
        .await
        .map_err(|e| nats_error("the tasks stream", e))?;
    let name = cfg.consumer(prover);
    tasks
        .get_or_create_consumer::<consumer::pull::Config>(
            &name,
            consumer::pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: format!("{}.shards.{prover}.>", cfg.prefix),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(cfg.ack_wait_s.max(1)),
                max_deliver: cfg.max_deliver,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| nats_error(&format!("prover `{prover}`'s consumer"), e))?;
    Ok(())
}

/// The job's name on the queue: a hash of its id keyed with the gateway's
/// nkey seed.
pub fn job_tag(seed: &str, job: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"zkgate.cluster.tag.v1\0");
    h.update(seed.trim().as_bytes());
    h.update([0]);
    h.update(job.as_bytes());
    hex::encode(&h.finalize()[..12])
}

/// Encrypts `plaintext` to every recipient (a task: to one).
pub fn seal(recipients: &[age::x25519::Recipient], plaintext: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    if recipients.is_empty() {
        return Err(Error::Config(
            "no prover is registered (zkgate provers add): shard tasks have nobody to be encrypted to".into(),
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

/// The gateway's side: a job's shards sent out, each to one prover, and
/// their proofs collected.
pub struct Dispatch {
    /// The runtime the gateway serves on (the pipeline runs on a blocking
    /// thread and waits on it).
    pub runtime: tokio::runtime::Handle,
    /// The configuration.
    pub config: ClusterConfig,
    /// The gateway's credentials.
    pub access: Access,
    /// The job's tag ([`job_tag`]).
    pub tag: String,
    /// The registered provers.
    pub members: Vec<Member>,
}

/// The dispatch of `job` through `gw`'s cluster; none when no queue is
/// configured. A prover registered without an nkey (before results were
/// signed) is left out, with a word in the log.
pub fn dispatch(gw: &crate::Gateway, job: &str) -> Result<Option<Dispatch>> {
    let cfg = &gw.config.cluster;
    if cfg.nats.is_none() {
        return Ok(None);
    }
    let seed = gateway_seed(&gw.paths.root)?;
    let mut members = vec![];
    for w in gw.store.provers()? {
        let Ok(recipient) = w.recipient.parse() else {
            continue;
        };
        if w.nkey.is_empty() {
            eprintln!(
                "zkgate: prover `{}` has no nkey: it gets no task until registered again (zkgate provers add --nkey)",
                w.name
            );
            continue;
        }
        members.push(Member {
            name: w.name,
            recipient,
            nkey: w.nkey,
        });
    }
    members.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Some(Dispatch {
        runtime: tokio::runtime::Handle::current(),
        config: cfg.clone(),
        access: Access::new(Party::Gateway, seed.clone(), cfg, &gw.paths.root)?,
        tag: job_tag(&seed, job),
        members,
    }))
}

/// Who holds an unproved shard's task.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// The member.
    prover: usize,
    /// How many times the task changed hands before.
    round: u32,
    /// Since when.
    since: Instant,
}

/// One job's run: its tasks, who holds each, who is alive and who struck.
struct Run<'a> {
    d: &'a Dispatch,
    js: &'a jetstream::Context,
    tasks: Vec<ShardTask>,
    /// `None` once the shard is proved.
    slots: Vec<Option<Slot>>,
    /// Wrong proofs per shard.
    wrong: Vec<u32>,
    /// Members who sent a wrong proof of this job.
    struck: Vec<bool>,
    alive: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Run<'_> {
    fn fresh(&self, prover: usize) -> bool {
        let window = Duration::from_secs(self.d.config.ack_wait_s.max(3));
        self.alive
            .lock()
            .expect("heartbeats")
            .get(&self.d.members[prover].name)
            .is_some_and(|t| t.elapsed() < window)
    }

    fn load(&self, prover: usize) -> usize {
        self.slots
            .iter()
            .flatten()
            .filter(|s| s.prover == prover)
            .count()
    }

    /// Who should take a task: a live prover that never sent a wrong proof
    /// of the job, the least loaded first (then by name); with none alive,
    /// any such prover (its consumer keeps the task until it comes).
    fn pick(&self, except: Option<usize>, live_only: bool) -> Option<usize> {
        let ok: Vec<usize> = (0..self.d.members.len())
            .filter(|&j| !self.struck[j] && Some(j) != except)
            .collect();
        let live: Vec<usize> = ok.iter().copied().filter(|&j| self.fresh(j)).collect();
        let from = if !live.is_empty() || live_only {
            live
        } else {
            ok
        };
        from.into_iter().min_by_key(|&j| self.load(j))
    }

    async fn publish(&mut self, shard: usize, prover: usize, round: u32) -> Result<()> {
        let d = self.d;
        let member = &d.members[prover];
        let task = &self.tasks[shard];
        let body = seal(
            std::slice::from_ref(&member.recipient),
            &serde_json::to_vec(task).expect("tasks serialize"),
        )?;
        let max = self.js.client().server_info().max_payload;
        if max > 0 && body.len() + 1024 > max {
            return Err(Error::Unprocessable(format!(
                "a shard task is {} bytes, over the NATS server's max_payload of {max}: lower limits.shard_rows or raise max_payload",
                body.len()
            )));
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::JOB, d.tag.as_str());
        headers.insert(header::SHARD, shard.to_string().as_str());
        headers.insert(header::ATTEMPT, round.to_string().as_str());
        // Sent again after a restart, the same task to the same prover is
        // dropped by the stream's deduplication.
        headers.insert(
            "Nats-Msg-Id",
            format!("{}.{shard}.{round}.{}", d.tag, member.name).as_str(),
        );
        self.js
            .publish_with_headers(
                d.config.task_subject(&member.name, &d.tag, shard),
                headers,
                body.into(),
            )
            .await
            .map_err(|e| nats_error("publishing a task", e))?
            .await
            .map_err(|e| nats_error("the stream did not take a task", e))?;
        self.slots[shard] = Some(Slot {
            prover,
            round,
            since: Instant::now(),
        });
        Ok(())
    }

    /// Gives an unproved shard's task to `to`: off its holder's queue,
    /// sealed again to the other.
    async fn hand_over(&mut self, shard: usize, to: usize) -> Result<()> {
        let Some(slot) = self.slots[shard] else {
            return Ok(());
        };
        let d = self.d;
        if let Ok(tasks) = self.js.get_stream_no_info(d.config.tasks_stream()).await {
            let _ = tasks
                .purge()
                .filter(
                    d.config
                        .task_subject(&d.members[slot.prover].name, &d.tag, shard),
                )
                .await;
        }
        eprintln!(
            "zkgate: job {}: shard {shard} goes from prover `{}` to `{}`",
            d.tag, d.members[slot.prover].name, d.members[to].name
        );
        self.publish(shard, to, slot.round + 1).await
    }

    /// Tasks of a silent prover go to a live one; an idle live prover
    /// takes the last task of one holding two or more.
    async fn rebalance(&mut self) -> Result<()> {
        let wait = Duration::from_secs(self.d.config.ack_wait_s.max(1));
        for i in 0..self.slots.len() {
            let Some(slot) = self.slots[i] else { continue };
            if !self.fresh(slot.prover) && slot.since.elapsed() > wait {
                if let Some(to) = self.pick(Some(slot.prover), true) {
                    self.hand_over(i, to).await?;
                }
            }
        }
        for v in 0..self.d.members.len() {
            if self.struck[v] || !self.fresh(v) || self.load(v) > 0 {
                continue;
            }
            let busiest = (0..self.d.members.len())
                .filter(|&w| w != v)
                .max_by_key(|&w| self.load(w))
                .filter(|&w| self.load(w) >= 2);
            if let Some(w) = busiest {
                let last = (0..self.slots.len())
                    .rev()
                    .find(|&i| self.slots[i].is_some_and(|s| s.prover == w));
                if let Some(i) = last {
                    self.hand_over(i, v).await?;
                }
            }
        }
        Ok(())
    }

    /// `prover` sent a wrong proof: it gets none of the job's tasks any
    /// more, and those it holds go to others.
    async fn strike(&mut self, prover: usize) -> Result<()> {
        self.struck[prover] = true;
        for i in 0..self.slots.len() {
            if self.slots[i].is_some_and(|s| s.prover == prover) {
                let Some(to) = self.pick(None, false) else {
                    return Err(Error::Unprocessable(format!(
                        "shard {i}: no prover left to prove it ({} sent wrong proofs)",
                        self.struck_names().join(", ")
                    )));
                };
                self.hand_over(i, to).await?;
            }
        }
        Ok(())
    }

    fn struck_names(&self) -> Vec<String> {
        (0..self.d.members.len())
            .filter(|&j| self.struck[j])
            .map(|j| format!("`{}`", self.d.members[j].name))
            .collect()
    }
}

impl Dispatch {
    async fn run(
        &self,
        js: &jetstream::Context,
        tasks: Vec<ShardTask>,
        keys: Vec<VerifyingKey>,
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<Proof>> {
        if self.members.is_empty() {
            return Err(Error::Config(
                "no prover is registered with an nkey (zkgate provers add): shard tasks have nobody to go to".into(),
            ));
        }
        for m in &self.members {
            ensure_consumer(js, &self.config, &m.name).await?;
        }
        // Who is alive: heartbeats, kept by a task of their own.
        let alive: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let mut beats = js
            .client()
            .subscribe(format!("{}.alive.*", self.config.prefix))
            .await
            .map_err(|e| nats_error("heartbeats", e))?;
        let listener = {
            let alive = alive.clone();
            tokio::spawn(async move {
                while let Some(m) = beats.next().await {
                    if let Some(name) = m.subject.as_str().rsplit('.').next() {
                        alive
                            .lock()
                            .expect("heartbeats")
                            .insert(name.to_string(), Instant::now());
                    }
                }
            })
        };
        let out = self.collect(js, tasks, keys, done, alive).await;
        listener.abort();
        out
    }

    async fn collect(
        &self,
        js: &jetstream::Context,
        mut tasks: Vec<ShardTask>,
        keys: Vec<VerifyingKey>,
        done: &mut dyn FnMut(usize),
        alive: Arc<Mutex<HashMap<String, Instant>>>,
    ) -> Result<Vec<Proof>> {
        let results = js
            .get_stream_no_info(self.config.results_stream())
            .await
            .map_err(|e| nats_error("the results stream", e))?;
        // A consumer of this job's results, from the first: results of a
        // run a restart interrupted count too (one left by that run, with
        // its acknowledgements, is replaced).
        let name = format!("gateway_{}", self.tag);
        let _ = results.delete_consumer(&name).await;
        let consumer: consumer::PullConsumer = results
            .get_or_create_consumer(
                &name,
                consumer::pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: format!("{}.results.*.{}.>", self.config.prefix, self.tag),
                    ack_policy: consumer::AckPolicy::Explicit,
                    deliver_policy: consumer::DeliverPolicy::All,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| nats_error("the results consumer", e))?;
        for t in tasks.iter_mut() {
            t.job = self.tag.clone();
        }
        let statements = tasks
            .iter()
            .map(|t| t.statement.statement())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let n = tasks.len();
        let mut run = Run {
            d: self,
            js,
            tasks,
            slots: vec![None; n],
            wrong: vec![0; n],
            struck: vec![false; self.members.len()],
            alive,
        };
        // Heartbeats of the provers up now, before choosing.
        tokio::time::sleep(HEARTBEAT + HEARTBEAT / 2).await;
        for i in 0..n {
            let to = run.pick(None, false).expect("a member");
            run.publish(i, to, 0).await?;
        }
        let mut proofs: Vec<Option<Proof>> = vec![None; n];
        let (mut count, mut last) = (0, Instant::now());
        let idle = Duration::from_secs(self.config.idle_timeout_s.max(1));
        while count < n {
            let batch = consumer
                .fetch()
                .max_messages(8)
                .expires(Duration::from_secs(1))
                .messages()
                .await
                .map_err(|e| nats_error("fetching results", e))?;
            let messages: Vec<_> = batch.collect().await;
            if messages.is_empty() && last.elapsed() > idle {
                let missing: Vec<String> = (0..n)
                    .filter(|&i| proofs[i].is_none())
                    .map(|i| i.to_string())
                    .collect();
                return Err(Error::Unprocessable(format!(
                    "no prover proved shard {} within {} s",
                    missing.join(", "),
                    idle.as_secs()
                )));
            }
            for m in messages {
                let m = m.map_err(|e| nats_error("reading a result", e))?;
                let _ = m.ack().await;
                // The subject names the prover the server let publish it.
                let sender = m.subject.as_str().split('.').nth(2).unwrap_or("");
                let opened = serde_json::from_slice::<SignedResult>(&m.payload)
                    .map_err(|e| format!("a result that does not parse: {e}"))
                    .and_then(|s| s.open(&self.members))
                    .and_then(|(member, r)| {
                        if member.name != sender {
                            Err(format!(
                                "prover `{}`'s result came on `{sender}`'s subject",
                                member.name
                            ))
                        } else {
                            Ok((member.name.clone(), r))
                        }
                    });
                let (signer, r) = match opened {
                    Ok(x) => x,
                    Err(why) => {
                        eprintln!("zkgate: job {}: a result ignored: {why}", self.tag);
                        continue;
                    }
                };
                let i = r.shard;
                if r.job != self.tag || i >= n || proofs[i].is_some() {
                    continue; // another job's, or a shard proved already
                }
                last = Instant::now();
                let proof = hex::decode(&r.proof)
                    .ok()
                    .and_then(|b| groth16::from_bytes::<Proof>(&b).ok());
                match proof {
                    Some(p) if proves(&keys[i], &statements[i], &p) => {
                        proofs[i] = Some(p);
                        run.slots[i] = None;
                        count += 1;
                        done(count);
                    }
                    _ => {
                        eprintln!(
                            "zkgate: job {}: prover `{signer}` sent a wrong proof of shard {i}: it gets no more of the job's tasks",
                            self.tag
                        );
                        run.wrong[i] += 1;
                        if run.wrong[i] > self.config.max_retries {
                            return Err(Error::Unprocessable(format!(
                                "shard {i}: {} wrong proofs",
                                run.wrong[i]
                            )));
                        }
                        let j = self
                            .members
                            .iter()
                            .position(|m| m.name == signer)
                            .expect("a member signed it");
                        run.strike(j).await?;
                    }
                }
            }
            if count < n {
                run.rebalance().await?;
            }
        }
        Ok(proofs.into_iter().map(|p| p.expect("all proved")).collect())
    }

    /// Forgets the job on the queue, however it ended: its tasks still
    /// waiting (a failed job's would be proved for nothing) and its
    /// results consumer.
    async fn clean_up(&self, js: &jetstream::Context) {
        if let Ok(tasks) = js.get_stream_no_info(self.config.tasks_stream()).await {
            let _ = tasks
                .purge()
                .filter(format!("{}.shards.*.{}.>", self.config.prefix, self.tag))
                .await;
        }
        if let Ok(results) = js.get_stream_no_info(self.config.results_stream()).await {
            let _ = results
                .delete_consumer(&format!("gateway_{}", self.tag))
                .await;
        }
    }
}

impl ShardProver for Dispatch {
    fn prove_all(
        &self,
        tasks: Vec<ShardTask>,
        keys: Vec<VerifyingKey>,
        done: &mut dyn FnMut(usize),
    ) -> zkgate_zkml::Result<Vec<Proof>> {
        self.runtime
            .block_on(async {
                let js = connect(&self.config, &self.access).await?;
                let out = self.run(&js, tasks, keys, done).await;
                self.clean_up(&js).await;
                out
            })
            .map_err(|e| zkgate_zkml::Error::Refused(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, seed: &str) -> Member {
        Member {
            name: name.into(),
            recipient: age::x25519::Identity::generate().to_public(),
            nkey: public_key(seed).unwrap(),
        }
    }

    fn result(prover: &str) -> ShardResult {
        ShardResult {
            job: "tag".into(),
            shard: 1,
            attempt: 0,
            prover: prover.into(),
            proof: "00".into(),
            prove_s: 1.0,
            key_s: 0.0,
            peak_rss_mb: 10.0,
            delivered: 1,
        }
    }

    #[test]
    fn a_result_opens_only_under_its_signers_registered_name() {
        let (a, b) = (new_seed(), new_seed());
        let members = [member("a", &a), member("b", &b)];
        let signed = SignedResult::sign(&result("a"), &a).unwrap();
        let (m, r) = signed.open(&members).unwrap();
        assert_eq!((m.name.as_str(), r), ("a", result("a")));

        // a names b: refused, whoever's key it claims.
        let forged = SignedResult::sign(&result("b"), &a).unwrap();
        assert!(forged.open(&members).unwrap_err().contains("naming `b`"));
        let mut claims_b = forged.clone();
        claims_b.signer = members[1].nkey.clone();
        assert!(claims_b
            .open(&members)
            .unwrap_err()
            .contains("bad signature"));
        // A changed body, a changed signature, a stranger's key.
        let mut body = signed.clone();
        body.body = body.body.replace("\"shard\":1", "\"shard\":2");
        assert!(body.open(&members).is_err());
        let mut sig = signed.clone();
        // Flip a bit of the last byte (replacing it with a constant would
        // leave it unchanged one time in 256).
        let mut raw = hex::decode(&sig.signature).unwrap();
        *raw.last_mut().unwrap() ^= 1;
        sig.signature = hex::encode(raw);
        assert!(sig.open(&members).is_err());
        let stranger = SignedResult::sign(&result("a"), &new_seed()).unwrap();
        assert!(stranger
            .open(&members)
            .unwrap_err()
            .contains("unregistered"));
        // The same bytes signed without the domain tag do not open.
        let kp = nkeys::KeyPair::from_seed(&a).unwrap();
        let mut bare = signed.clone();
        bare.signature = hex::encode(kp.sign(signed.body.as_bytes()).unwrap());
        assert!(bare.open(&members).is_err());
    }

    #[test]
    fn only_user_public_keys_register() {
        let seed = new_seed();
        assert!(check_public_key(&public_key(&seed).unwrap()).is_ok());
        assert!(check_public_key(&seed).is_err());
        assert!(check_public_key("Unope").is_err());
        let account = nkeys::KeyPair::new_account().public_key();
        assert!(check_public_key(&account).is_err());
    }

    #[test]
    fn the_server_config_gives_each_party_its_part_only() {
        let cfg = ClusterConfig::default();
        let conf = server_config(
            &cfg,
            "UGATEWAY",
            &[("w1".into(), "UW1".into()), ("w2".into(), "UW2".into())],
            Some(&ServerTls {
                cert: "/c.pem".into(),
                key: "/k.pem".into(),
                verify_ca: None,
            }),
        );
        assert!(conf.contains("cert_file: \"/c.pem\"") && !conf.contains("verify"));
        let line = |key: &str| {
            conf.lines()
                .find(|l| l.contains(key))
                .unwrap_or_else(|| panic!("{key}: {conf}"))
                .to_string()
        };
        let w1 = line("\"UW1\"");
        for own in [
            "$JS.API.CONSUMER.MSG.NEXT.ZKGATE_SHARDS.w_w1\"",
            "$JS.ACK.ZKGATE_SHARDS.w_w1.>",
            "zkgate.results.w1.>",
            "zkgate.alive.w1\"",
            "_INBOX_zkgate_w_w1.>",
        ] {
            assert!(w1.contains(own), "{own}: {w1}");
        }
        for other in [
            "w_w2",
            "results.w2",
            "$JS.API.>",
            "zkgate.shards",
            "_INBOX_zkgate_gateway",
        ] {
            assert!(!w1.contains(other), "{other}: {w1}");
        }
        let gw = line("\"UGATEWAY\"");
        assert!(gw.contains("zkgate.shards.>") && gw.contains("$JS.API.>"));
        assert!(
            !gw.contains("zkgate.results"),
            "the gateway reads results through JetStream only: {gw}"
        );
    }

    #[test]
    fn job_tags_are_keyed() {
        let (a, b) = (new_seed(), new_seed());
        assert_eq!(job_tag(&a, "job_1"), job_tag(&a, "job_1"));
        assert_ne!(job_tag(&a, "job_1"), job_tag(&a, "job_2"));
        assert_ne!(job_tag(&a, "job_1"), job_tag(&b, "job_1"));
        assert!(!job_tag(&a, "job_1").contains("job"));
    }
}
