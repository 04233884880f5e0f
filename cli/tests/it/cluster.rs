//! Shards proved by `zkgate prover` processes over a real NATS JetStream
//! (Debian's `nats-server`, started here on a loopback port with the
//! configuration `zkgate provers nats-config` writes: nkey users, each
//! allowed its part only, and TLS): a client without credentials is
//! refused; a registered but hostile prover cannot read another prover's
//! task, cannot answer on another's subject, has its forged result under
//! another's name ignored, and its wrong proof strikes it alone; a prover
//! killed while it proves loses its tasks to a live one; the job ends with
//! the receipt an in-process run makes, every shard proved once.

use crate::common;

use common::{accuracy_on_bc, bin, fixture, head, wait_end_across_restarts};
use futures_util::StreamExt;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zkgate_client::Client;
use zkgate_gateway::cluster::{self, Access, ClusterConfig, Party, ShardResult, SignedResult};
use zkgate_gateway::config::{Config, Limits};
use zkgate_gateway::store::JobState;
use zkgate_gateway::Gateway;
use zkgate_statement::{Receipt, Verdict};

/// A JetStream-enabled nats-server on loopback port `port`, its store
/// under `dir`, with `config` (nats-server's configuration syntax); killed
/// on drop.
struct Nats(Child);

impl Nats {
    fn start(dir: &Path, port: u16, config: &str) -> Nats {
        let exe = std::env::var("NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
        std::fs::create_dir_all(dir).unwrap();
        let conf = dir.join("nats.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new(&exe)
            .arg("-c")
            .arg(&conf)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{exe}: {e} (install Debian's nats-server package: .ci/run does)")
            });
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nats(child)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child process killed when dropped (a failing test leaves none).
struct Proc(Child);

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `zkgate prover` with its stderr read line by line into a channel.
fn prover(
    dir: &Path,
    name: &str,
    token: &str,
    cluster: &ClusterConfig,
    gateway: &str,
    ca: &Path,
) -> (Proc, std::sync::mpsc::Receiver<String>) {
    let mut cmd = Command::new(bin());
    cmd.args(["prover", "--dir"])
        .arg(dir)
        .args([
            "--name",
            name,
            "--nats",
            cluster.nats.as_deref().unwrap(),
            "--gateway",
            gateway,
            "--ca-cert",
        ])
        .arg(ca);
    if let Some(nats_ca) = &cluster.ca_cert {
        cmd.arg("--nats-ca").arg(nats_ca);
    }
    let mut child = cmd
        .env("ZKGATE_PROVER_TOKEN", token)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("[prover] {line}");
            let _ = tx.send(line);
        }
    });
    (Proc(child), rx)
}

/// A registered prover's directory, name and token.
struct Registered {
    dir: PathBuf,
    name: String,
    token: String,
}

impl Registered {
    fn access(&self, cluster: &ClusterConfig) -> Access {
        zkgate_gateway::prover::access(&self.dir, &self.name, cluster).unwrap()
    }
}

/// A cluster: a data dir under `tmp` whose `[cluster]` is `cluster` with
/// a loopback NATS URL (`tls://` with `tls`: the gateway's own certificate
/// serves the NATS server too), listening on `listen` when given: the
/// first 66 breast-cancer rows as `bc`, proved in shards of 22, the `open`
/// profile, researcher alice, and `provers` made with `zkgate prover
/// --init` and registered; and the nats-server, started with what `zkgate
/// provers nats-config` prints (and `extra`). Returns the data dir, the
/// cluster configuration as the gateway has it, alice's token and the
/// provers.
fn cluster_gateway(
    tmp: &Path,
    cluster: &ClusterConfig,
    listen: Option<&str>,
    provers: &[&str],
    tls: bool,
    extra: &str,
) -> (PathBuf, ClusterConfig, Nats, String, Vec<Registered>) {
    let root = tmp.join("gw");
    let port = crate::common::free_port();
    let mut cluster = cluster.clone();
    let scheme = if tls { "tls" } else { "nats" };
    cluster.nats = Some(format!("{scheme}://127.0.0.1:{port}"));
    if tls {
        cluster.ca_cert = Some(PathBuf::from("tls/cert.pem"));
    }
    let mut config = Config {
        limits: Limits {
            shard_rows: 22,
            ..Limits::default()
        },
        cluster: cluster.clone(),
        ..Config::default()
    };
    if let Some(l) = listen {
        config.listen = l.into();
    }
    zkgate_gateway::owner::setup::init(&root, &config, None, "open").unwrap();
    let gw = Gateway::open(&root, None).unwrap();
    let csv = tmp.join("bc.csv");
    head("data/breast_cancer.csv", 66, &csv);
    let schema = zkgate_zkml::dataset::declared_schema(&csv).unwrap();
    zkgate_gateway::owner::setup::import_dataset(
        &gw.paths,
        &gw.store,
        gw.vault(),
        &csv,
        "bc",
        &schema,
        0,
    )
    .unwrap();
    let token =
        zkgate_gateway::owner::setup::add_researcher(&gw.store, "alice", "", 2, None).unwrap();
    let registered: Vec<Registered> = provers
        .iter()
        .map(|name| {
            let dir = tmp.join(name);
            let out = Command::new(bin())
                .args(["prover", "--init", "--dir"])
                .arg(&dir)
                .output()
                .unwrap();
            assert!(out.status.success());
            let text = String::from_utf8(out.stdout).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let (recipient, nkey) = (lines[0], lines[1]);
            assert!(recipient.starts_with("age1"), "{recipient}");
            assert!(nkey.starts_with('U'), "{nkey}");
            let token = zkgate_gateway::owner::add_prover(&gw, name, recipient, nkey).unwrap();
            Registered {
                dir,
                name: name.to_string(),
                token,
            }
        })
        .collect();
    drop(gw);
    // The server's configuration, as the owner gets it.
    let mut args = vec![
        "provers".to_string(),
        "nats-config".to_string(),
        "--data-dir".to_string(),
        root.display().to_string(),
    ];
    if tls {
        for (flag, file) in [("--tls-cert", "cert.pem"), ("--tls-key", "key.pem")] {
            args.push(flag.into());
            args.push(root.join("tls").join(file).display().to_string());
        }
    }
    let out = Command::new(bin()).args(&args).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let conf = String::from_utf8(out.stdout).unwrap();
    assert!(
        conf.contains("authorization") && conf.contains("w_"),
        "{conf}"
    );
    let nats = Nats::start(&tmp.join("js"), port, &format!("{conf}{extra}"));
    // The gateway resolves its TLS files against its data dir.
    let mut resolved = cluster.clone();
    resolved.ca_cert = cluster.ca_cert.as_ref().map(|p| root.join(p));
    (root, resolved, nats, token, registered)
}

/// A connection as the gateway (its credentials from its data dir).
async fn as_gateway(root: &Path, cluster: &ClusterConfig) -> async_nats::jetstream::Context {
    let seed = cluster::gateway_seed(root).unwrap();
    let access = Access::new(Party::Gateway, seed, cluster, root).unwrap();
    async_nats::jetstream::new(cluster::client(cluster, &access).await.unwrap())
}

/// Up to `n` messages `consumer` delivers within two seconds.
async fn fetch(
    consumer: &async_nats::jetstream::consumer::PullConsumer,
    n: usize,
) -> Vec<async_nats::jetstream::Message> {
    let batch = consumer
        .fetch()
        .max_messages(n)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .unwrap();
    batch.map(|m| m.unwrap()).collect().await
}

/// Every result on the results stream, opened as the gateway opens them
/// (an error: one that does not open), with the subject it came on.
async fn results(
    js: &async_nats::jetstream::Context,
    cluster: &ClusterConfig,
    members: &[cluster::Member],
) -> Vec<(String, Result<ShardResult, String>)> {
    let stream = js.get_stream(cluster.results_stream()).await.unwrap();
    let reader = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
            ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut seen = vec![];
    for m in fetch(&reader, 100).await {
        let signed: SignedResult = serde_json::from_slice(&m.payload).unwrap();
        seen.push((m.subject.to_string(), signed.open(members).map(|(_, r)| r)));
    }
    seen
}

/// The registered provers as the gateway deals with them.
fn members(gw: &Gateway) -> Vec<cluster::Member> {
    gw.store
        .provers()
        .unwrap()
        .into_iter()
        .map(|w| cluster::Member {
            name: w.name,
            recipient: w.recipient.parse().unwrap(),
            nkey: w.nkey,
        })
        .collect()
}

/// A wrong proof, as bytes in hex.
fn wrong_proof() -> String {
    use ark_ec::AffineRepr;
    let wrong = zkgate_statement::groth16::Proof {
        a: ark_bn254::G1Affine::generator(),
        b: ark_bn254::G2Affine::generator(),
        c: ark_bn254::G1Affine::generator(),
    };
    hex::encode(zkgate_statement::groth16::to_bytes(&wrong))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_are_proved_by_provers_over_an_authenticated_tls_nats() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, cluster, _nats, token, provers) = cluster_gateway(
        tmp.path(),
        &ClusterConfig {
            ack_wait_s: 3,
            ..Default::default()
        },
        None,
        &["rogue", "w1", "w2"],
        true,
        "",
    );
    let url = cluster.nats.clone().unwrap();
    let ca_path = root.join("tls/cert.pem");

    // No credentials, or a key the server does not know: refused.
    let tls_only = || {
        async_nats::ConnectOptions::new()
            .add_root_certificates(ca_path.clone())
            .require_tls(true)
    };
    assert!(tls_only().connect(url.as_str()).await.is_err());
    let stranger = cluster::new_seed();
    assert!(async_nats::ConnectOptions::with_nkey(stranger)
        .add_root_certificates(ca_path.clone())
        .require_tls(true)
        .connect(url.as_str())
        .await
        .is_err());
    // Without TLS: refused too.
    let plain = url.replace("tls://", "nats://");
    let rogue_access = provers[0].access(&cluster);
    assert!(
        async_nats::ConnectOptions::with_nkey(rogue_access.seed.clone())
            .connect(plain.as_str())
            .await
            .is_err()
    );

    let gw = Gateway::open(&root, None).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(zkgate_gateway::serve(gw.clone(), listener, async {
        let _ = stopped.await;
    }));
    let alice = Client::new(&base, &token, Some(&std::fs::read(&ca_path).unwrap())).unwrap();

    // A registered prover turned hostile, alive before the job comes: the
    // only live prover, it is given every task.
    let rogue = cluster::client(&cluster, &rogue_access).await.unwrap();
    let beating = {
        let (rogue, subject) = (rogue.clone(), cluster.alive_subject("rogue"));
        tokio::spawn(async move {
            loop {
                let _ = rogue.publish(subject.clone(), "".into()).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    // It listens to every task subject (the server does not let it).
    let mut snoop = rogue
        .subscribe(format!("{}.shards.>", cluster.prefix))
        .await
        .unwrap();
    let rjs = async_nats::jetstream::new(rogue.clone());
    let model = std::fs::read(fixture("models/breast_cancer.onnx")).unwrap();
    let job = alice
        .submit(&accuracy_on_bc(None), model)
        .await
        .unwrap()
        .unwrap();
    let t = Instant::now();
    let mine = loop {
        if let Ok(c) = rjs
            .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(
                cluster.consumer("rogue"),
                cluster.tasks_stream(),
            )
            .await
        {
            break c;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "no consumer");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Another prover's consumer is not its to read.
    assert!(rjs
        .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(
            cluster.consumer("w1"),
            cluster.tasks_stream(),
        )
        .await
        .is_err());
    let task = loop {
        if let Some(m) = fetch(&mine, 1).await.pop() {
            break m;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "no task");
    };
    // Encrypted to it alone, and named by a tag, not the job's id.
    assert!(task.payload.starts_with(b"age-encryption.org/v1"));
    assert!(!task.subject.contains(&job.id), "{}", task.subject);
    let identity: age::x25519::Identity =
        std::fs::read_to_string(provers[0].dir.join("identity.age"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    assert!(age::decrypt(&identity, &task.payload).is_ok());
    for other in &provers[1..] {
        let id: age::x25519::Identity = std::fs::read_to_string(other.dir.join("identity.age"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            age::decrypt(&id, &task.payload).is_err(),
            "sealed to {}",
            other.name
        );
    }
    let headers = task.headers.as_ref().unwrap();
    let tag = headers.get("Zkgate-Job").unwrap().as_str().to_string();
    let shard: usize = headers
        .get("Zkgate-Shard")
        .unwrap()
        .as_str()
        .parse()
        .unwrap();
    let result = |prover: &str| ShardResult {
        job: tag.clone(),
        shard,
        attempt: 0,
        prover: prover.into(),
        proof: wrong_proof(),
        prove_s: 0.0,
        key_s: 0.0,
        peak_rss_mb: 0.0,
        delivered: 1,
    };
    // On w1's subject: the server refuses it.
    let on_w1 = rjs
        .publish(
            cluster.result_subject("w1", &tag, shard),
            serde_json::to_vec(&SignedResult::sign(&result("w1"), &rogue_access.seed).unwrap())
                .unwrap()
                .into(),
        )
        .await;
    let refused = match on_w1 {
        Err(_) => true,
        Ok(ack) => ack.await.is_err(),
    };
    assert!(refused, "a prover answered on another's subject");
    // On its own subject, a wrong proof under w1's name (signed with its
    // own key, or claiming w1's key): ignored, w1 is not struck.
    let mut claims_w1 = SignedResult::sign(&result("w1"), &rogue_access.seed).unwrap();
    let forged = claims_w1.clone();
    claims_w1.signer = provers[1].access(&cluster).public_key().unwrap();
    for r in [forged, claims_w1] {
        rjs.publish(
            cluster.result_subject("rogue", &tag, shard),
            serde_json::to_vec(&r).unwrap().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    // Its own wrong proof, signed: it is struck, its tasks go to others.
    rjs.publish(
        cluster.result_subject("rogue", &tag, shard),
        serde_json::to_vec(&SignedResult::sign(&result("rogue"), &rogue_access.seed).unwrap())
            .unwrap()
            .into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    task.double_ack().await.unwrap();
    beating.abort();

    // w1 gets tasks (the forgery did not strike it); killed as soon as it
    // starts one. w2 then proves every shard.
    let ca = root.join("tls/cert.pem");
    let (mut w1, w1_log) = prover(
        &provers[1].dir,
        "w1",
        &provers[1].token,
        &cluster,
        &base,
        &ca,
    );
    let started = Instant::now();
    let killed_at = loop {
        match w1_log.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if line.contains("proving job") => {
                w1.kill().unwrap(); // SIGKILL
                w1.wait().unwrap();
                break line;
            }
            Ok(_) => {}
            Err(e) => panic!("w1 never started a shard: {e}"),
        }
    };
    eprintln!("killed w1 at: {killed_at} after {:?}", started.elapsed());
    let (mut w2, w2_log) = prover(
        &provers[2].dir,
        "w2",
        &provers[2].token,
        &cluster,
        &base,
        &ca,
    );

    let done = wait_end_across_restarts(&alice, &job.id, Duration::from_secs(600)).await;
    assert_eq!(done.state, JobState::Done, "{:?}", done.error);
    let receipt = Receipt::from_json(&alice.receipt(&job.id).await.unwrap().unwrap()).unwrap();
    let vk = alice.vk(&job.id).await.unwrap().unwrap();
    assert_eq!(receipt.verify(&vk).unwrap(), Verdict::Valid);
    assert_eq!(receipt.shards.len(), 3);
    assert_eq!(receipt.result["correct"], 65, "{}", receipt.result);

    // The rogue never saw a task on the subjects it listened to.
    let snooped = tokio::time::timeout(Duration::from_millis(500), snoop.next()).await;
    assert!(!matches!(snooped, Ok(Some(_))), "the rogue read a task");

    // The results stream: the rogue's three (two that do not open), and
    // one proof per shard from w2 (w1 died before publishing any).
    let js = as_gateway(&root, &cluster).await;
    let seen = results(&js, &cluster, &members(&gw)).await;
    let opened: Vec<&ShardResult> = seen.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
    assert_eq!(seen.len() - opened.len(), 2, "{seen:?}");
    let by = |w: &str| opened.iter().filter(|r| r.prover == w).collect::<Vec<_>>();
    assert_eq!(by("rogue").len(), 1, "{seen:?}");
    assert!(by("w1").is_empty(), "{seen:?}");
    let mut shards: Vec<usize> = by("w2").iter().map(|r| r.shard).collect();
    shards.sort();
    assert_eq!(shards, [0, 1, 2], "each shard proved once: {seen:?}");
    for (subject, r) in &seen {
        if let Ok(r) = r {
            assert!(
                subject.contains(&format!(".results.{}.", r.prover)),
                "{subject}"
            );
            if r.prover == "w2" {
                assert!(r.peak_rss_mb > 0.0 && r.prove_s > 0.0, "{r:?}");
                assert!(
                    r.attempt >= 1,
                    "every task went to w2 after a hand-over: {r:?}"
                );
            }
        }
    }
    let log: Vec<String> = w2_log.try_iter().collect();
    assert_eq!(
        log.iter().filter(|l| l.contains("proved in")).count(),
        3,
        "{log:?}"
    );

    w2.kill().unwrap();
    w2.wait().unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// The gateway killed with SIGKILL once its job's tasks are queued: its
/// prover proves them while the gateway is down; restarted, the gateway
/// queues the job again, its tasks are not sent twice (the stream's
/// deduplication), the proofs made meanwhile are taken from the results
/// stream, and no shard is proved again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_mid_job_takes_up_its_provers_proofs_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", crate::common::free_port());
    let cluster = ClusterConfig {
        ack_wait_s: 5,
        ..Default::default()
    };
    // Credentials without TLS (a server on the owner's own loopback).
    let (root, cluster, _nats, token, provers) =
        cluster_gateway(tmp.path(), &cluster, Some(&addr), &["w1"], false, "");
    let prover_token = provers[0].token.clone();
    // A queue left by a gateway from before tasks went to one prover
    // each: its tasks stream with the consumer every prover shared, which
    // would overlap each prover's own (JetStream refuses that on a work
    // queue). The gateway removes it.
    {
        use async_nats::jetstream::{consumer, stream};
        let legacy = as_gateway(&root, &cluster).await;
        let tasks = legacy
            .get_or_create_stream(stream::Config {
                name: cluster.tasks_stream(),
                subjects: vec![format!("{}.shards.>", cluster.prefix)],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(600),
                ..Default::default()
            })
            .await
            .unwrap();
        tasks
            .create_consumer(consumer::pull::Config {
                durable_name: Some("provers".into()),
                ack_policy: consumer::AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let dir = root.to_str().unwrap();
    let serve = || {
        Proc(
            Command::new(bin())
                .args(["serve", "--data-dir", dir])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let base = format!("https://{addr}");
    let ca = root.join("tls/cert.pem");
    let alice = Client::new(&base, &token, Some(&std::fs::read(&ca).unwrap())).unwrap();
    let mut server = serve();
    let t = Instant::now();
    while alice.datasets().await.map(|a| a.is_err()).unwrap_or(true) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "gateway did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let manifest = accuracy_on_bc(None);
    let model = std::fs::read(fixture("models/breast_cancer.onnx")).unwrap();
    // A first job through the prover: it fetches and keeps the keys (a
    // prover needs the gateway for a key it does not have).
    let w1_dir = tmp.path().join("w1");
    let (mut w1, _) = prover(&w1_dir, "w1", &prover_token, &cluster, &base, &ca);
    let first = alice
        .submit(&manifest, model.clone())
        .await
        .unwrap()
        .unwrap();
    let first = wait_end_across_restarts(&alice, &first.id, Duration::from_secs(300)).await;
    assert_eq!(first.state, JobState::Done, "{:?}", first.error);
    w1.kill().unwrap();
    w1.wait().unwrap();

    // The second job (same circuit): once its three tasks are in the
    // queue, the gateway dies.
    let job = alice.submit(&manifest, model).await.unwrap().unwrap();
    let js = as_gateway(&root, &cluster).await;
    let t = Instant::now();
    loop {
        if let Ok(mut s) = js.get_stream(cluster.tasks_stream()).await {
            if s.info().await.map(|i| i.state.messages).unwrap_or(0) >= 3 {
                break;
            }
        }
        assert!(t.elapsed() < Duration::from_secs(180), "no tasks queued");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    // The prover proves the queue, with the keys it kept, while the
    // gateway is down.
    let (mut w1, log) = prover(&w1_dir, "w1", &prover_token, &cluster, &base, &ca);
    let mut proved = 0;
    while proved < 3 {
        match log.recv_timeout(Duration::from_secs(180)) {
            Ok(line) if line.contains("proved in") => proved += 1,
            Ok(_) => {}
            Err(e) => panic!("the prover stopped: {e}"),
        }
    }
    let mut server = serve();
    let done = wait_end_across_restarts(&alice, &job.id, Duration::from_secs(300)).await;
    assert_eq!(done.state, JobState::Done, "{:?}", done.error);
    assert_eq!(done.attempts, 2, "run, killed, run again");
    let receipt = Receipt::from_json(&alice.receipt(&job.id).await.unwrap().unwrap()).unwrap();
    let vk = alice.vk(&job.id).await.unwrap().unwrap();
    assert_eq!(receipt.verify(&vk).unwrap(), Verdict::Valid);
    assert_eq!(receipt.shards.len(), 3);
    // Nothing was proved twice: the restarted run's tasks were duplicates.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let more = log.try_iter().filter(|l| l.contains("proved in")).count();
    assert_eq!(more, 0, "a shard was proved again");
    w1.kill().unwrap();
    w1.wait().unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
}

/// A shard task larger than the server's `max_payload` fails the job with
/// that reason, before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_over_the_servers_max_payload_fails_the_job_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _, _nats, token, _) = cluster_gateway(
        tmp.path(),
        &ClusterConfig::default(),
        None,
        &["w1"],
        false,
        "max_payload: 4096\n",
    );
    let gw = Gateway::open(&root, None).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(zkgate_gateway::serve(gw.clone(), listener, async {
        let _ = stopped.await;
    }));
    let ca = std::fs::read(gw.paths.tls_cert()).unwrap();
    let alice = Client::new(&base, &token, Some(&ca)).unwrap();
    let model = std::fs::read(fixture("models/breast_cancer.onnx")).unwrap();
    let job = alice
        .submit(&accuracy_on_bc(None), model)
        .await
        .unwrap()
        .unwrap();
    let end = wait_end_across_restarts(&alice, &job.id, Duration::from_secs(300)).await;
    assert_eq!(end.state, JobState::Failed);
    let e = end.error.unwrap();
    assert!(
        e.message.contains("max_payload of 4096") && e.message.contains("shard_rows"),
        "{e:?}"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
