//! The web console in a real browser: Debian's headless Chromium, driven by
//! playwright-core (pinned in `tests/console/package-lock.json`) through
//! `tests/console/drive.mjs`. A researcher's sharded job is held by the
//! owner's policy; the researcher's page shows why; the owner approves it
//! from the approval queue in another browser context; the researcher's
//! page follows its progress (shard k of n) to the receipt, whose values
//! the page shows; the owner's audit view shows the approval in an intact
//! chain. The driver also checks the console's security: tokens never in
//! URLs, cookies or persistent storage, a researcher's token refused by
//! the owner API, the content security policy on the page. Screenshots
//! go to `$CARGO_TARGET_TMPDIR/console` (or `$ZKGATE_SCREENSHOTS`).

use crate::common;

use common::{fixture, head, import, init_permissive, Serving};
use std::path::{Path, PathBuf};
use std::process::Command;
use zkgate_client::Client;
use zkgate_gateway::store::JobState;
use zkgate_gateway::Gateway;
use zkgate_statement::{Aggregate, Receipt, Verdict};

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console")
}

/// The driver's dependencies, installed from the lockfile when missing.
fn driver_ready() {
    let dir = console_dir();
    if dir.join("node_modules/playwright-core").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .status()
        .expect("npm runs (Node.js 20 or later)");
    assert!(status.success(), "npm ci in {}", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_approves_a_held_job_in_the_browser_and_the_researcher_sees_its_receipt() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: install Debian's chromium package (.ci/run does), or set CHROMIUM"
    );
    driver_ready();

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("gw");
    // 66 rows in shards of 22: three proofs, so the page shows shard k
    // of 3.
    init_permissive(&root, &common::sharded(22));
    std::fs::write(
        root.join("policy.cedar"),
        common::hold_below_trust_2(
            "ethics-review",
            Some("models from new researchers are reviewed by the ethics board"),
        ),
    )
    .unwrap();
    let gw = Gateway::open(&root, None).unwrap();
    let csv = tmp.path().join("bc.csv");
    head("data/breast_cancer.csv", 66, &csv);
    import(&gw.paths, &gw.store, gw.vault(), &csv, "breast_cancer");
    let token =
        zkgate_gateway::owner::setup::add_researcher(&gw.store, "alice", "oncology", 1, None)
            .unwrap();
    let owner_token = std::fs::read_to_string(gw.paths.owner_token()).unwrap();
    let ca = std::fs::read(gw.paths.tls_cert()).unwrap();
    let serving = Serving::start(gw.clone());
    let alice = Client::new(&serving.base, &token, Some(&ca)).unwrap();
    let model = std::fs::read(fixture("models/breast_cancer.onnx")).unwrap();
    let job = alice
        .submit(
            &common::manifest(
                "breast_cancer",
                Aggregate::Accuracy {
                    label: "label".into(),
                },
            ),
            model,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.state, JobState::Held);

    let shots = std::env::var_os("ZKGATE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("console"));
    std::fs::create_dir_all(&shots).unwrap();
    let (base, id, shots_dir) = (serving.base.clone(), job.id.clone(), shots.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(console_dir().join("drive.mjs"))
            .env("BASE_URL", base)
            .env("OWNER_TOKEN", owner_token.trim())
            .env("RESEARCHER_TOKEN", token)
            .env("JOB_ID", id)
            .env("SHOTS_DIR", shots_dir)
            .env("CHROMIUM", chromium)
            .env("TIMEOUT_S", "300")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser scenario failed (screenshots in {}):\n{stdout}\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a report")).unwrap();
    assert_eq!(report["ok"], true, "{report}");

    // What the page showed is the receipt the gateway proved.
    let j = alice.job(&job.id).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Done);
    assert!(j.review.as_ref().is_some_and(|r| r.approved()), "{j:?}");
    let p = j.progress.expect("progress");
    assert_eq!((p.shard, p.shards), (3, 3));
    let receipt = Receipt::from_json(&alice.receipt(&job.id).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        receipt
            .verify(&alice.vk(&job.id).await.unwrap().unwrap())
            .unwrap(),
        Verdict::Valid
    );
    assert_eq!(receipt.shards.len(), 3);
    let shown = report["receipt_values"].as_str().unwrap();
    for v in &receipt.values {
        assert!(shown.contains(v.as_str()), "{v} not in {shown}");
    }
    for f in [
        "researcher-held.png",
        "owner-queue.png",
        "researcher-receipt.png",
        "owner-audit.png",
    ] {
        let bytes = std::fs::read(shots.join(f)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{f}");
    }
    // The audit log has the hold, the approval and the run.
    let log = std::fs::read_to_string(gw.paths.audit()).unwrap();
    assert!(log.contains("\"decision\":\"hold\""), "{log}");
    assert!(log.contains("\"action\":\"approve\""), "{log}");
    serving.stop().await;
}
