//! The gateway as a process: killed with SIGKILL while proving, restarted,
//! the job completes and its receipt verifies; the same idempotency key
//! still names the same job.

use crate::common;

use common::{accuracy_on_bc, bin, fixture, head, run};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zkgate_client::Client;
use zkgate_gateway::store::JobState;
use zkgate_statement::{Receipt, Verdict};

fn serve(dir: &str, addr: &str) -> Child {
    Command::new(bin())
        .args(["serve", "--data-dir", dir, "--listen", addr])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A data dir under `tmp` made by the binary: the first `rows` rows of the
/// breast-cancer data as `bc`, researcher `alice`, the given policy
/// profile, listening on a free loopback port. Returns (dir, addr, token).
fn data_dir(tmp: &Path, rows: usize, profile: &str) -> (PathBuf, String, String) {
    let dir = tmp.join("gw");
    let dir_s = dir.to_str().unwrap();
    let port = crate::common::free_port();
    let addr = format!("127.0.0.1:{port}");
    run(&[
        "init",
        "--data-dir",
        dir_s,
        "--listen",
        &addr,
        "--profile",
        profile,
    ]);
    let csv = tmp.join("bc.csv");
    head("data/breast_cancer.csv", rows, &csv);
    run(&[
        "dataset",
        "import",
        csv.to_str().unwrap(),
        "--name",
        "bc",
        "--data-dir",
        dir_s,
    ]);
    let token = run(&["researcher", "add", "alice", "--data-dir", dir_s])
        .trim()
        .to_string();
    (dir, addr, token)
}

/// Starts `zkgate serve` and waits until it answers `token`'s requests.
async fn start(dir: &str, addr: &str, token: &str) -> (Child, Client) {
    let server = serve(dir, addr);
    let ca = std::fs::read(Path::new(dir).join("tls/cert.pem")).unwrap();
    let client = Client::new(&format!("https://{addr}"), token, Some(&ca)).unwrap();
    let t0 = Instant::now();
    while client.datasets().await.map(|a| a.is_err()).unwrap_or(true) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "gateway did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (server, client)
}

async fn wait_until(
    client: &Client,
    id: &str,
    done: impl Fn(JobState) -> bool,
    limit: Duration,
) -> JobState {
    let t0 = Instant::now();
    loop {
        if let Ok(Ok(j)) = client.job(id).await {
            if done(j.state) {
                return j.state;
            }
        }
        assert!(t0.elapsed() < limit, "timed out waiting for job {id}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_survives_sigkill_while_proving() {
    let tmp = tempfile::tempdir().unwrap();
    // Enough rows that proving takes a moment.
    let (dir, addr, token) = data_dir(tmp.path(), 240, "default");
    let dir_s = dir.to_str().unwrap();
    let (mut server, client) = start(dir_s, &addr, &token).await;
    let manifest = accuracy_on_bc(Some("crash-1"));
    let model = std::fs::read(fixture("models/breast_cancer.onnx")).unwrap();
    let job = client
        .submit(&manifest, model.clone())
        .await
        .unwrap()
        .unwrap();

    let state = wait_until(
        &client,
        &job.id,
        |s| matches!(s, JobState::Setup | JobState::Proving) || s.is_terminal(),
        Duration::from_secs(120),
    )
    .await;
    assert!(
        !state.is_terminal(),
        "the job finished before it could be interrupted"
    );
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();

    let mut server = serve(dir_s, &addr);
    let state = wait_until(
        &client,
        &job.id,
        JobState::is_terminal,
        Duration::from_secs(600),
    )
    .await;
    assert_eq!(state, JobState::Done);
    let j = client.job(&job.id).await.unwrap().unwrap();
    assert_eq!(j.attempts, 2, "run once, interrupted, run again");
    let receipt = Receipt::from_json(&client.receipt(&job.id).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        receipt
            .verify(&client.vk(&job.id).await.unwrap().unwrap())
            .unwrap(),
        Verdict::Valid
    );
    let again = client.submit(&manifest, model).await.unwrap().unwrap();
    assert_eq!(again.id, job.id);
    assert_eq!(
        client.jobs().await.unwrap().unwrap().len(),
        1,
        "no duplicate job"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// `zkgate policy check` and `zkgate policy reload` (through the owner
/// API) against the running binary: an invalid file is refused with its
/// line and the old policy stays in force; a valid one takes effect at
/// once; the audit log records both and its chain verifies.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_reload_while_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, addr, token) = data_dir(tmp.path(), 40, "open");
    let dir_s = dir.to_str().unwrap();
    // Offline check of a broken file names the file and the line.
    let bad = tmp.path().join("bad.cedar");
    std::fs::write(
        &bad,
        "@id(\"a\")\npermit (principal, action, resource);\nforbid (principal, action, resource) when { context.nope };\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["policy", "check", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.cedar:3:"), "{err}");

    let (mut server, client) = start(dir_s, &addr, &token).await;

    // Broken policy: reload refused, the open profile stays.
    std::fs::copy(&bad, dir.join("policy.cedar")).unwrap();
    let out = Command::new(bin())
        .args(["policy", "reload", "--data-dir", dir_s])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("policy.cedar:3:"), "{err}");
    let manifest = accuracy_on_bc(None);
    let model = std::fs::read(fixture("models/breast_cancer.onnx")).unwrap();
    let job = client
        .submit(&manifest, model.clone())
        .await
        .unwrap()
        .expect("the open profile admits it");
    client.cancel(&job.id).await.unwrap().unwrap();

    // A valid policy takes effect at once.
    std::fs::write(
        dir.join("policy.cedar"),
        "@id(\"all\")\npermit (principal, action, resource);\n@id(\"closed\")\n@reason(\"submissions are paused\")\nforbid (principal, action == Zkgate::Action::\"submit\", resource);\n",
    )
    .unwrap();
    let out = run(&["policy", "reload", "--data-dir", dir_s]);
    assert!(out.contains("policy reloaded"), "{out}");
    let e = client
        .submit(&manifest, model)
        .await
        .unwrap()
        .expect_err("paused");
    assert_eq!((e.status, e.code.as_str()), (403, "policy_denied"));
    assert_eq!(e.rules, ["closed"]);
    assert!(e.message.contains("submissions are paused"), "{e}");

    let log = run(&["audit", "--data-dir", dir_s]);
    assert!(
        log.contains("policy_reload") && log.contains("rejected"),
        "{log}"
    );
    assert!(log.contains("[closed]"), "{log}");
    assert!(run(&["audit", "--data-dir", dir_s, "--verify"]).contains("hash links intact"));
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn the_client_trusts_a_gateway_whose_ca_is_a_system_root() {
    // Without --ca-cert the client trusts the platform's roots; here the
    // gateway's CA is installed as the only system root (SSL_CERT_FILE,
    // which the platform verifier reads on Linux). With another root
    // store the same command fails cleanly.
    let tmp = tempfile::tempdir().unwrap();
    let (dir, addr, token) = data_dir(tmp.path(), 12, "open");
    let d = dir.to_str().unwrap();
    let mut server = serve(d, &addr);
    let gateway = format!("https://{addr}");
    let status = |roots: &Path| {
        Command::new(bin())
            .args(["status", "--gateway", &gateway, "--token", &token])
            .env("SSL_CERT_FILE", roots)
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap()
    };
    let t0 = Instant::now();
    let trusted = loop {
        let out = status(&dir.join("tls/cert.pem"));
        if out.status.success() || t0.elapsed() > Duration::from_secs(30) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let other = tempfile::tempdir().unwrap();
    let (other_dir, _, _) = data_dir(other.path(), 12, "open");
    let untrusted = status(&other_dir.join("tls/cert.pem"));
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    assert_eq!(untrusted.status.code(), Some(2));
    let err = String::from_utf8_lossy(&untrusted.stderr);
    assert!(
        !err.contains("panicked") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    // A person reads `status` as a table; `--json` keeps the API's lines.
    let shown = String::from_utf8_lossy(&trusted.stdout);
    assert_eq!(shown.trim(), "no jobs", "{shown}");
}

/// SIGTERM (a service manager's stop) ends `serve` as Ctrl-C does: it
/// says so, exits cleanly and removes `serving.json`, so the owner's
/// commands go to the data dir again.
#[test]
fn sigterm_stops_serve_and_removes_serving_json() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, addr, _) = data_dir(tmp.path(), 12, "open");
    let server = Command::new(bin())
        .args([
            "serve",
            "--data-dir",
            dir.to_str().unwrap(),
            "--listen",
            &addr,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !dir.join("serving.json").exists() {
        assert!(t0.elapsed() < Duration::from_secs(60), "never served");
        std::thread::sleep(Duration::from_millis(100));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = server.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("SIGTERM: stopping"), "{err}");
    assert!(!dir.join("serving.json").exists());
}

/// SIGKILL at random moments (seeded) across submissions, compilation, key
/// generation and proving, over many restarts: every submission is retried
/// with its idempotency key after the restart (the client cannot know
/// whether a request cut off by the kill was taken), and in the end each
/// key names exactly one job, every job has ended (done, or failed after
/// `MAX_ATTEMPTS` interrupted runs, never requeued forever), and no job
/// exists that no key names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sigkills_lose_and_duplicate_nothing() {
    use rand::{Rng, SeedableRng};
    let tmp = tempfile::tempdir().unwrap();
    let (dir, addr, token) = data_dir(tmp.path(), 100, "default");
    let dir_s = dir.to_str().unwrap();
    let config = dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "max_active_jobs_per_researcher = 4",
            "max_active_jobs_per_researcher = 64",
        ),
    )
    .unwrap();
    let model = std::fs::read(fixture("models/breast_cancer.onnx")).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let mut keys: Vec<String> = Vec::new();
    let rounds = 8;
    for round in 0..rounds {
        let (mut server, client) = start(dir_s, &addr, &token).await;
        // Earlier keys again (their answers may have been cut off), then
        // two new ones, while a kill comes at a random moment.
        keys.push(format!("crash-{round}-a"));
        keys.push(format!("crash-{round}-b"));
        let sends: Vec<_> = keys
            .iter()
            .map(|k| {
                let (c, m, model) = (client.clone(), accuracy_on_bc(Some(k)), model.clone());
                tokio::spawn(async move { c.submit(&m, model).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..2500))).await;
        server.kill().unwrap();
        server.wait().unwrap();
        for s in sends {
            let _ = s.await;
        }
    }
    // A last run with no kill: every key once more, then everything ends.
    let (mut server, client) = start(dir_s, &addr, &token).await;
    let mut ids = std::collections::BTreeMap::new();
    for k in &keys {
        let job = client
            .submit(&accuracy_on_bc(Some(k)), model.clone())
            .await
            .unwrap()
            .unwrap();
        ids.insert(k.clone(), job.id);
    }
    let mut failed = 0;
    for id in ids.values() {
        let state = wait_until(&client, id, JobState::is_terminal, Duration::from_secs(600)).await;
        if state != JobState::Done {
            let j = client.job(id).await.unwrap().unwrap();
            assert_eq!(state, JobState::Failed, "{j:?}");
            assert!(
                j.attempts >= 3,
                "a job failed without being interrupted: {j:?}"
            );
            failed += 1;
        }
    }
    let distinct: std::collections::BTreeSet<&String> = ids.values().collect();
    assert_eq!(distinct.len(), keys.len(), "two keys share a job");
    let jobs = client.jobs().await.unwrap().unwrap();
    assert_eq!(jobs.len(), keys.len(), "a job that no key names");
    assert!(failed < keys.len(), "every job was interrupted to death");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Runs the binary, expecting it to fail; returns its stderr.
fn fails(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

/// The owner's commands while the gateway serves go through its owner API
/// (no restart): a researcher added works at once and revoked stops at
/// once, a dataset imported is in the catalogue, a held job waits until
/// the owner approves (then proves) or denies it, each step audited by
/// the owner; once the gateway is stopped (killed: its serving.json left
/// behind), the same commands work on the data dir.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_commands_work_while_the_gateway_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, addr, token) = data_dir(tmp.path(), 40, "open");
    let dir_s = dir.to_str().unwrap();
    // Every submission of a researcher below trust 2 waits for the owner.
    std::fs::write(
        dir.join("policy.cedar"),
        "@id(\"all\")\npermit (principal, action, resource);\n\
         @id(\"review\")\n@reason(\"new researchers' jobs are reviewed\")\n@on_deny(\"hold\")\n\
         forbid (principal, action == Zkgate::Action::\"submit\", resource) when { principal.trust < 2 };\n",
    )
    .unwrap();
    let (mut server, alice) = start(dir_s, &addr, &token).await;
    let ca = std::fs::read(dir.join("tls/cert.pem")).unwrap();
    let url = format!("https://{addr}");

    // Researchers and datasets change while it serves.
    let bob_token = run(&[
        "researcher",
        "add",
        "bob",
        "--trust",
        "2",
        "--data-dir",
        dir_s,
    ])
    .trim()
    .to_string();
    let bob = Client::new(&url, &bob_token, Some(&ca)).unwrap();
    let csv = tmp.path().join("bc2.csv");
    head("data/breast_cancer.csv", 20, &csv);
    let out = run(&[
        "dataset",
        "import",
        csv.to_str().unwrap(),
        "--name",
        "bc2",
        "--data-dir",
        dir_s,
    ]);
    assert!(out.contains("the serving gateway"), "{out}");
    let names: Vec<String> = bob
        .datasets()
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["bc", "bc2"]);
    let listed = run(&["researcher", "list", "--data-dir", dir_s]);
    assert!(
        listed.contains("alice") && listed.contains("bob"),
        "{listed}"
    );

    // Alice's job is held, then approved: it runs to its receipt.
    let model = std::fs::read(fixture("models/breast_cancer.onnx")).unwrap();
    let held = alice
        .submit(&accuracy_on_bc(None), model.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.state, JobState::Held);
    let hold = held.hold.clone().expect("why it waits");
    assert_eq!(hold.rules, ["review"]);
    assert!(
        hold.message.contains("new researchers' jobs are reviewed"),
        "{}",
        hold.message
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        alice.job(&held.id).await.unwrap().unwrap().state,
        JobState::Held,
        "no worker takes a held job"
    );
    let queue = run(&["jobs", "list", "--state", "held", "--data-dir", dir_s]);
    assert!(
        queue.contains(&held.id) && queue.contains("held"),
        "{queue}"
    );
    let err = fails(&["jobs", "approve", "job_nope", "--data-dir", dir_s]);
    assert!(err.contains("not found"), "{err}");
    let out = run(&[
        "jobs",
        "approve",
        &held.id,
        "--note",
        "ethics board ok",
        "--data-dir",
        dir_s,
    ]);
    assert!(out.contains("approved") && out.contains("queued"), "{out}");
    let state = wait_until(
        &alice,
        &held.id,
        JobState::is_terminal,
        Duration::from_secs(300),
    )
    .await;
    assert_eq!(state, JobState::Done);
    let j = alice.job(&held.id).await.unwrap().unwrap();
    let review = j.review.expect("the owner's decision");
    assert_eq!(
        (review.decision.as_str(), review.note.as_str()),
        ("approved", "ethics board ok")
    );
    let p = j.progress.expect("its progress, last seen");
    assert_eq!((p.stage.as_str(), p.shard, p.shards), ("verify", 1, 1));
    let receipt = Receipt::from_json(&alice.receipt(&held.id).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        receipt
            .verify(&alice.vk(&held.id).await.unwrap().unwrap())
            .unwrap(),
        Verdict::Valid
    );
    // An approved job is not held twice, and a second approval is refused.
    let err = fails(&["jobs", "approve", &held.id, "--data-dir", dir_s]);
    assert!(err.contains("not held"), "{err}");

    // Another is denied: it fails with the owner's note.
    let second = alice
        .submit(&accuracy_on_bc(None), model.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.state, JobState::Held);
    run(&[
        "jobs",
        "deny",
        &second.id,
        "--note",
        "not this cohort",
        "--data-dir",
        dir_s,
    ]);
    let j = alice.job(&second.id).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Failed);
    let e = j.error.unwrap();
    assert_eq!(e.code, "policy_denied");
    assert!(e.message.contains("not this cohort"), "{}", e.message);
    // Bob's jobs are not held (trust 2).
    let m = accuracy_on_bc(None);
    let bobs = bob.submit(&m, model.clone()).await.unwrap().unwrap();
    assert_eq!(bobs.state, JobState::Queued);
    bob.cancel(&bobs.id).await.unwrap().unwrap();

    // Revoked, bob's next request is refused.
    let out = run(&["researcher", "revoke", "bob", "--data-dir", dir_s]);
    assert!(out.contains("revoked `bob`"), "{out}");
    let e = bob.datasets().await.unwrap().unwrap_err();
    assert_eq!(e.status, 401);
    // Bob's jobs and results are kept under his name: nobody new gets it.
    let said = fails(&["researcher", "add", "bob", "--data-dir", dir_s]);
    assert!(said.contains("belonged to a revoked researcher"), "{said}");
    // The researcher API does not take the owner's token, nor the owner
    // API a researcher's.
    let owner_token = std::fs::read_to_string(dir.join("owner.token")).unwrap();
    let as_owner = Client::new(&url, owner_token.trim(), Some(&ca)).unwrap();
    assert_eq!(as_owner.jobs().await.unwrap().unwrap_err().status, 401);
    let e = alice
        .get_json::<serde_json::Value>("/v1/owner/jobs")
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.status, 403);
    let all: Vec<serde_json::Value> = as_owner.get_json("/v1/owner/jobs").await.unwrap().unwrap();
    assert_eq!(all.len(), 3);

    // Every owner step is in the audit log, whose chain holds.
    let log = run(&["audit", "--data-dir", dir_s]);
    for action in [
        "researcher_add",
        "dataset_import",
        "approve",
        "deny",
        "researcher_revoke",
    ] {
        assert!(log.contains(&format!("owner {action}")), "{action}: {log}");
    }
    assert!(log.contains("hold [review]"), "{log}");
    assert!(run(&["audit", "--data-dir", dir_s, "--verify"]).contains("hash links intact"));

    // Stopped (killed: serving.json stays), the commands use the data dir.
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(dir.join("serving.json").exists());
    let out = run(&["researcher", "list", "--data-dir", dir_s]);
    assert!(out.contains("alice") && !out.contains("bob"), "{out}");
    run(&["researcher", "add", "carol", "--data-dir", dir_s]);
    let out = run(&["jobs", "list", "--data-dir", dir_s]);
    assert_eq!(out.lines().count(), 3, "{out}");
    let err = fails(&["policy", "reload", "--data-dir", dir_s]);
    assert!(err.contains("not running"), "{err}");
}
