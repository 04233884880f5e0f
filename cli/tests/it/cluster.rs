//! Shards proved by `zkgate worker` processes over a real NATS JetStream
//! (Debian's `nats-server`, started here on a loopback port): a hostile
//! participant takes the first task and answers with a wrong proof, two
//! workers start, one is killed with SIGKILL while it proves; the gateway
//! catches the wrong proof and sends the shard out again, JetStream hands
//! the killed worker's shard to the other after `ack_wait`, and the job
//! ends with the same receipt an in-process run makes, every shard proved
//! once by a worker. Tasks travel encrypted.

use crate::common;

use common::{accuracy_on_bc, bin, fixture, head, wait_end};
use futures_util::StreamExt;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zkgate_client::Client;
use zkgate_gateway::cluster::{ClusterConfig, ShardResult};
use zkgate_gateway::config::{Config, Limits};
use zkgate_gateway::store::JobState;
use zkgate_gateway::Gateway;
use zkgate_statement::{Receipt, Verdict};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A JetStream-enabled nats-server on a free loopback port, its store
/// under `dir`; killed on drop.
struct Nats(Child, u16);

impl Nats {
    fn start(dir: &Path) -> Nats {
        Nats::start_with(dir, "")
    }

    /// With `config` (nats-server's configuration syntax) as well.
    fn start_with(dir: &Path, config: &str) -> Nats {
        let exe = std::env::var("NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
        let port = free_port();
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
        Nats(child, port)
    }
    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.1)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `zkgate worker` with its stderr read line by line into a channel.
fn worker(
    dir: &Path,
    name: &str,
    token: &str,
    nats: &str,
    gateway: &str,
    ca: &Path,
) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(bin())
        .args(["worker", "--dir"])
        .arg(dir)
        .args([
            "--name",
            name,
            "--nats",
            nats,
            "--gateway",
            gateway,
            "--ca-cert",
        ])
        .arg(ca)
        .env("ZKGATE_WORKER_TOKEN", token)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("[worker] {line}");
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// A data dir under `tmp` whose `[cluster]` is `cluster` (listening on
/// `listen` when given): the first 66 breast-cancer rows as `bc`, proved
/// in shards of 22, the `open` profile, researcher alice, and `workers`
/// made with `zkgate worker --init` (directories under `tmp`) and
/// registered. Returns the data dir, alice's token and the workers'.
fn cluster_gateway(
    tmp: &Path,
    cluster: &ClusterConfig,
    listen: Option<&str>,
    workers: &[&str],
) -> (PathBuf, String, Vec<String>) {
    let root = tmp.join("gw");
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
    zkgate_gateway::admin::init(&root, &config, None, "open").unwrap();
    let gw = Gateway::open(&root, None).unwrap();
    let csv = tmp.join("bc.csv");
    head("data/breast_cancer.csv", 66, &csv);
    let schema = zkgate_zkml::dataset::declared_schema(&csv).unwrap();
    zkgate_gateway::admin::import_dataset(&gw.paths, &gw.store, gw.vault(), &csv, "bc", &schema, 0)
        .unwrap();
    let token = zkgate_gateway::admin::add_researcher(&gw.store, "alice", "", 2, None).unwrap();
    let tokens = workers
        .iter()
        .map(|name| {
            let out = Command::new(bin())
                .args(["worker", "--init", "--dir"])
                .arg(tmp.join(name))
                .output()
                .unwrap();
            assert!(out.status.success());
            let recipient = String::from_utf8(out.stdout).unwrap().trim().to_string();
            assert!(recipient.starts_with("age1"), "{recipient}");
            zkgate_gateway::owner::add_worker(&gw, name, &recipient).unwrap()
        })
        .collect();
    (root, token, tokens)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_are_proved_by_workers_over_nats_jetstream() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("js"));
    let cluster = ClusterConfig {
        nats: Some(nats.url()),
        ack_wait_s: 3,
        ..Default::default()
    };
    let (root, token, tokens) = cluster_gateway(tmp.path(), &cluster, None, &["w1", "w2"]);
    let gw = Gateway::open(&root, None).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(zkgate_gateway::serve(gw.clone(), listener, async {
        let _ = stopped.await;
    }));
    let ca = gw.paths.tls_cert();
    let alice = Client::new(&base, &token, Some(&std::fs::read(&ca).unwrap())).unwrap();
    let model = std::fs::read(fixture("models/breast_cancer.onnx")).unwrap();
    let manifest = accuracy_on_bc(None);
    let job = alice.submit(&manifest, model).await.unwrap().unwrap();

    // A hostile participant on the queue takes the first task: it cannot
    // read it (encrypted to the workers), and answers a wrong proof.
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let t = Instant::now();
    let consumer = loop {
        if let Ok(s) = js.get_stream(cluster.tasks_stream()).await {
            if let Ok(c) = s
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
                    ClusterConfig::WORKERS,
                )
                .await
            {
                break c;
            }
        }
        assert!(t.elapsed() < Duration::from_secs(120), "no task stream");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let task = loop {
        let mut batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .unwrap();
        if let Some(m) = batch.next().await {
            break m.unwrap();
        }
        assert!(t.elapsed() < Duration::from_secs(120), "no task");
    };
    assert!(task.payload.starts_with(b"age-encryption.org/v1"));
    let text = String::from_utf8_lossy(&task.payload);
    assert!(!text.contains("columns") && !text.contains("secret"));
    let shard: usize = task
        .headers
        .as_ref()
        .unwrap()
        .get("Zkgate-Shard")
        .unwrap()
        .as_str()
        .parse()
        .unwrap();
    use ark_ec::AffineRepr;
    let wrong = zkgate_statement::groth16::Proof {
        a: ark_bn254::G1Affine::generator(),
        b: ark_bn254::G2Affine::generator(),
        c: ark_bn254::G1Affine::generator(),
    };
    let result = ShardResult {
        job: job.id.clone(),
        shard,
        attempt: 0,
        worker: "rogue".into(),
        proof: hex::encode(zkgate_statement::groth16::to_bytes(&wrong)),
        prove_s: 0.0,
        key_s: 0.0,
        peak_rss_mb: 0.0,
        delivered: 1,
    };
    js.publish(
        cluster.result_subject(&job.id, shard),
        serde_json::to_vec(&result).unwrap().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    task.double_ack().await.unwrap();

    // Two workers; the first is killed as soon as it starts a shard.
    let (w1_dir, w2_dir) = (tmp.path().join("w1"), tmp.path().join("w2"));
    let (mut w1, w1_log) = worker(&w1_dir, "w1", &tokens[0], &nats.url(), &base, &ca);
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
    let (mut w2, w2_log) = worker(&w2_dir, "w2", &tokens[1], &nats.url(), &base, &ca);

    let done = wait_end(&alice, &job.id, Duration::from_secs(600)).await;
    assert_eq!(done.state, JobState::Done, "{:?}", done.error);
    let receipt = Receipt::from_json(&alice.receipt(&job.id).await.unwrap().unwrap()).unwrap();
    let vk = alice.vk(&job.id).await.unwrap().unwrap();
    assert_eq!(receipt.verify(&vk).unwrap(), Verdict::Valid);
    assert_eq!(receipt.shards.len(), 3);
    assert_eq!(receipt.result["correct"], 65, "{}", receipt.result);

    // The results stream: the rogue's wrong proof, and one proof per shard
    // from w2 (w1 died before publishing any), one of them of a task
    // delivered again.
    let results = js.get_stream(cluster.results_stream()).await.unwrap();
    let reader = results
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
            ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut seen: Vec<ShardResult> = vec![];
    let mut batch = reader
        .fetch()
        .max_messages(100)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .unwrap();
    while let Some(m) = batch.next().await {
        seen.push(serde_json::from_slice(&m.unwrap().payload).unwrap());
    }
    let by = |w: &str| seen.iter().filter(|r| r.worker == w).collect::<Vec<_>>();
    assert_eq!(by("rogue").len(), 1);
    assert!(by("w1").is_empty(), "{seen:?}");
    let mut shards: Vec<usize> = by("w2").iter().map(|r| r.shard).collect();
    shards.sort();
    assert_eq!(shards, [0, 1, 2], "each shard proved once: {seen:?}");
    assert!(
        by("w2").iter().any(|r| r.delivered >= 2),
        "w1's shard was delivered again: {seen:?}"
    );
    assert!(
        by("w2").iter().any(|r| r.shard == shard && r.attempt == 1),
        "the rogue's shard went out again: {seen:?}"
    );
    for r in by("w2") {
        assert!(r.peak_rss_mb > 0.0 && r.prove_s > 0.0, "{r:?}");
    }
    // The worker logged every shard it proved, and fetched each key once.
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
/// worker proves them while the gateway is down; restarted, the gateway
/// queues the job again, its tasks are not sent twice (the stream's
/// deduplication), the proofs made meanwhile are taken from the results
/// stream, and no shard is proved again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_mid_job_takes_up_its_workers_proofs_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("js"));
    let addr = format!("127.0.0.1:{}", free_port());
    let cluster = ClusterConfig {
        nats: Some(nats.url()),
        ack_wait_s: 5,
        ..Default::default()
    };
    let (root, token, tokens) = cluster_gateway(tmp.path(), &cluster, Some(&addr), &["w1"]);
    let worker_token = tokens[0].clone();
    let dir = root.to_str().unwrap();
    let serve = || {
        Command::new(bin())
            .args(["serve", "--data-dir", dir])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
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
    // A first job through the worker: it fetches and keeps the keys (a
    // worker needs the gateway for a key it does not have).
    let w1_dir = tmp.path().join("w1");
    let (mut w1, _) = worker(&w1_dir, "w1", &worker_token, &nats.url(), &base, &ca);
    let first = alice
        .submit(&manifest, model.clone())
        .await
        .unwrap()
        .unwrap();
    wait_end(&alice, &first.id, Duration::from_secs(300)).await;
    w1.kill().unwrap();
    w1.wait().unwrap();

    // The second job (same circuit): once its three tasks are in the
    // queue, the gateway dies.
    let job = alice.submit(&manifest, model).await.unwrap().unwrap();
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let t = Instant::now();
    loop {
        if let Ok(mut s) = js.get_stream(ClusterConfig::default().tasks_stream()).await {
            if s.info().await.map(|i| i.state.messages).unwrap_or(0) >= 3 {
                break;
            }
        }
        assert!(t.elapsed() < Duration::from_secs(180), "no tasks queued");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    // The worker proves the queue, with the keys it kept, while the
    // gateway is down.
    let (mut w1, log) = worker(&w1_dir, "w1", &worker_token, &nats.url(), &base, &ca);
    let mut proved = 0;
    while proved < 3 {
        match log.recv_timeout(Duration::from_secs(180)) {
            Ok(line) if line.contains("proved in") => proved += 1,
            Ok(_) => {}
            Err(e) => panic!("the worker stopped: {e}"),
        }
    }
    let mut server = serve();
    let done = wait_end(&alice, &job.id, Duration::from_secs(300)).await;
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
    let nats = Nats::start_with(&tmp.path().join("js"), "max_payload: 4096\n");
    let cluster = ClusterConfig {
        nats: Some(nats.url()),
        ..Default::default()
    };
    let (root, token, _) = cluster_gateway(tmp.path(), &cluster, None, &["w1"]);
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
    let end = wait_end(&alice, &job.id, Duration::from_secs(300)).await;
    assert_eq!(end.state, JobState::Failed);
    let e = end.error.unwrap();
    assert!(
        e.message.contains("max_payload of 4096") && e.message.contains("shard_rows"),
        "{e:?}"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
