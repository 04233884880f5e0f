//! The data owner's policies through the real gateway: attack models and
//! requests denied with the rule named, legitimate jobs under each shipped
//! profile, small cells denied or suppressed (and the suppression proved),
//! reloads that keep the old policy when the new one is invalid, and the
//! audit log of every decision.

use crate::common;

use common::{fixture, head, manifest, tabular, wait_end};
use std::path::Path;
use std::time::Duration;
use zkgate_client::{ApiError, Client};
use zkgate_gateway::config::{Config, Paths};
use zkgate_gateway::owner::setup;
use zkgate_gateway::store::{Job, JobState, Manifest, Store};
use zkgate_gateway::vault::Vault;
use zkgate_gateway::{audit, policy, Gateway};
use zkgate_statement::Aggregate;
use zkgate_statement::{Receipt, Verdict};
use zkgate_zkml::dataset::declared_schema;

/// How long a job may take before the test fails.
const LIMIT: Duration = Duration::from_secs(600);

fn model(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap()
}

/// Submits `model` (a fixture path) and expects the job to be accepted.
async fn accepted(c: &Client, m: &Manifest, model_path: &str) -> Job {
    c.submit(m, model(model_path))
        .await
        .expect("transport works")
        .expect("accepted")
}

/// Submits `model` (a fixture path) and expects a policy denial, each rule
/// named in the message.
async fn denied(c: &Client, m: &Manifest, model_path: &str) -> ApiError {
    let e = c
        .submit(m, model(model_path))
        .await
        .expect("transport works")
        .expect_err("a denial");
    assert_eq!((e.status, e.code.as_str()), (403, "policy_denied"), "{e}");
    for r in &e.rules {
        assert!(e.message.contains(r.as_str()), "{} names {r}", e.message);
    }
    e
}

fn label() -> Aggregate {
    Aggregate::Accuracy {
        label: "label".into(),
    }
}

fn confusion() -> Aggregate {
    Aggregate::Confusion {
        label: "label".into(),
    }
}

/// 15 rows of each class the breast-cancer model gets right and every row
/// it gets wrong (two benign tumours called malignant, one malignant called
/// benign, over the whole file): a confusion matrix [[15, 2], [1, 15]].
fn mixed_rows(out: &Path) {
    let m = zkgate_zkml::import::load(fixture("models/breast_cancer.onnx")).unwrap();
    let text = std::fs::read_to_string(fixture("data/breast_cancer.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let (mut right, mut wrong) = ([Vec::new(), Vec::new()], Vec::new());
    for line in lines {
        let v: Vec<f32> = line.split(',').map(|c| c.parse().unwrap()).collect();
        let (x, y) = v.split_at(30);
        let p = m.run_float(x).unwrap();
        let class = usize::from(p[1] > p[0]);
        if class == y[0] as usize {
            right[class].push(line);
        } else {
            wrong.push(line);
        }
    }
    assert_eq!(wrong.len(), 3, "the fixture model's three errors");
    let rows: Vec<&str> = right[0][..15]
        .iter()
        .chain(&right[1][..15])
        .chain(&wrong)
        .copied()
        .collect();
    std::fs::write(out, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
}

async fn verified(c: &Client, id: &str) -> Receipt {
    let r = Receipt::from_json(&c.receipt(id).await.unwrap().unwrap()).unwrap();
    let vk = c.vk(id).await.unwrap().unwrap();
    assert_eq!(r.verify(&vk).unwrap(), Verdict::Valid);
    r
}

fn use_policy(gw: &Gateway, root: &Path, text: &str) -> Vec<String> {
    std::fs::write(root.join("policy.cedar"), text).unwrap();
    policy::reload(gw).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_decide_what_runs_and_what_leaves() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("gw");
    setup::init(&root, &Config::default(), None, "default").unwrap();
    let paths = Paths::new(&root);
    let (alice_token, mallory_token) = {
        let store = Store::open(&paths.db()).unwrap();
        let vault = Vault::open(&paths, None).unwrap();
        let import = |file: &Path, name: &str| {
            setup::import_dataset(
                &paths,
                &store,
                &vault,
                file,
                name,
                &declared_schema(file).unwrap(),
                0,
            )
            .unwrap();
        };
        let csv = tmp.path().join("t.csv");
        head("data/tabular.csv", 64, &csv);
        import(&csv, "tabular");
        head("data/tabular.csv", 10, &csv);
        import(&csv, "tiny");
        head("data/breast_cancer.csv", 120, &csv);
        import(&csv, "breast_cancer");
        mixed_rows(&csv);
        import(&csv, "bc_mixed");
        (
            setup::add_researcher(&store, "alice", "oncology", 2, None).unwrap(),
            setup::add_researcher(&store, "mallory", "marketing", 3, None).unwrap(),
        )
    };
    let gw = Gateway::open(&root, None).unwrap();
    let serving = common::Serving::start(gw.clone());
    let base = serving.base.clone();
    let ca = std::fs::read(paths.tls_cert()).unwrap();
    let alice = Client::new(&base, &alice_token, Some(&ca)).unwrap();
    let mallory = Client::new(&base, &mallory_token, Some(&ca)).unwrap();

    // --- default profile: attack models and thin aggregates.
    let e = denied(
        &alice,
        &tabular("tabular", Aggregate::Mean),
        "attacks/echo.onnx",
    )
    .await;
    assert!(e.rules.contains(&"no-echo".to_string()), "{e}");
    let e = denied(
        &alice,
        &tabular("tabular", Aggregate::Sum),
        "attacks/wide.onnx",
    )
    .await;
    assert!(e.rules.contains(&"narrow-output".to_string()), "{e}");
    let e = denied(&alice, &tabular("tiny", Aggregate::Mean), "models/mlp.onnx").await;
    assert!(e.rules.contains(&"min-rows".to_string()), "{e}");
    assert!(e.message.contains("at least 20 rows"), "{}", e.message);
    // An exact mean leaves only with noise under this profile (a constant
    // offset defeats the cohort rule, differencing any per-job rule).
    let e = denied(
        &alice,
        &tabular("tabular", Aggregate::Mean),
        "models/mlp.onnx",
    )
    .await;
    assert_eq!(e.rules, ["noise-on-values"]);

    // A confusion matrix with cells of 2 and 1: suppressing them would
    // still reveal their total (3, below 5) through the row count, so the
    // job is refused at release, before any key or proof exists.
    let job = accepted(
        &alice,
        &manifest("bc_mixed", confusion()),
        "models/breast_cancer.onnx",
    )
    .await;
    let failed = wait_end(&alice, &job.id, LIMIT).await;
    assert_eq!(failed.state, JobState::Failed);
    let err = failed.error.unwrap();
    assert_eq!(err.code, "policy_denied", "{err:?}");
    assert!(err.message.contains("small-cells"), "{err:?}");
    // A failed job has no receipt.
    let e = alice.receipt(&job.id).await.unwrap().unwrap_err();
    assert_eq!(e.status, 409);

    // The legitimate job under the default profile runs to a receipt.
    let job = accepted(
        &alice,
        &manifest("bc_mixed", label()),
        "models/breast_cancer.onnx",
    )
    .await;
    assert_eq!(wait_end(&alice, &job.id, LIMIT).await.state, JobState::Done);
    let r = verified(&alice, &job.id).await;
    assert_eq!(r.result["correct"], 30);

    // --- open profile: the same confusion matrix leaves with the two small
    // cells suppressed, and the proof says so.
    let rules = use_policy(&gw, &root, zkgate_policies::profile_source("open").unwrap());
    assert!(rules.contains(&"small-cells".to_string()));
    let job = accepted(
        &alice,
        &manifest("bc_mixed", confusion()),
        "models/breast_cancer.onnx",
    )
    .await;
    let done = wait_end(&alice, &job.id, LIMIT).await;
    assert_eq!(done.state, JobState::Done, "{:?}", done.error);
    let r = verified(&alice, &job.id).await;
    assert_eq!(r.circuit.params.suppress_below, 3);
    assert_eq!(r.result["suppressed_below"], 3);
    assert_eq!(r.values, ["15", "0", "0", "15"]);
    assert_eq!(r.result["matrix"], serde_json::json!([[15, 0], [0, 15]]));
    assert!(r.result.get("accuracy").is_none(), "{}", r.result);
    assert_eq!(r.result["accuracy_at_least"], 30.0 / 33.0);

    // --- hospital profile: vetted models, organisations, cohorts.
    use_policy(
        &gw,
        &root,
        zkgate_policies::profile_source("hospital").unwrap(),
    );
    let e = denied(
        &alice,
        &tabular("tabular", Aggregate::Mean),
        "models/linreg.onnx",
    )
    .await;
    assert!(e.rules.contains(&"approved-models".to_string()), "{e}");
    let noised = |mut m: Manifest| {
        m.epsilon = Some(1.0);
        m.nonce = Some(hex::encode(rand::random::<[u8; 32]>()));
        m
    };
    let e = denied(
        &mallory,
        &noised(manifest("breast_cancer", label())),
        "models/breast_cancer.onnx",
    )
    .await;
    assert_eq!(e.rules, ["registry-access"]);
    let e = denied(
        &alice,
        &noised(manifest(
            "breast_cancer",
            Aggregate::Mse {
                label: "label".into(),
            },
        )),
        "models/breast_cancer.onnx",
    )
    .await;
    assert_eq!(e.rules, ["allowed-aggregates"]);
    // Exact values do not leave clinical data.
    let e = denied(
        &alice,
        &manifest("breast_cancer", label()),
        "models/breast_cancer.onnx",
    )
    .await;
    assert_eq!(e.rules, ["noise-required"]);
    // The legitimate hospital job is admitted (then cancelled: proving it
    // is the default profile's test above).
    let job = accepted(
        &alice,
        &noised(manifest("breast_cancer", label())),
        "models/breast_cancer.onnx",
    )
    .await;
    alice.cancel(&job.id).await.unwrap().unwrap();
    // A model that is not on the approved list (the same network with an
    // unknown protobuf field appended: another file, another hash) is held
    // for the owner's review instead of refused; with another rule refusing
    // it too, it is refused.
    let mut unlisted = model("models/breast_cancer.onnx");
    unlisted.extend_from_slice(&[0xC2, 0x3E, 0x01, 0x00]);
    let held = alice
        .submit(
            &noised(manifest("breast_cancer", label())),
            unlisted.clone(),
        )
        .await
        .unwrap()
        .expect("held, not refused");
    assert_eq!(held.state, JobState::Held);
    let hold = held.hold.clone().unwrap();
    assert_eq!(hold.rules, ["approved-models"]);
    assert!(
        hold.message.contains("the data owner reviews it"),
        "{}",
        hold.message
    );
    let e = alice
        .submit(&manifest("breast_cancer", label()), unlisted)
        .await
        .unwrap()
        .expect_err("no noise: refused");
    assert_eq!(e.rules, ["approved-models", "noise-required"]);
    // Denied by the owner, the job fails and its epsilon is given back.
    let before = gw
        .store
        .budget("alice", "breast_cancer", 10.0)
        .unwrap()
        .spent;
    let denied_job =
        zkgate_gateway::owner::review(&gw, &held.id, zkgate_gateway::owner::Verdict::Deny, "")
            .unwrap();
    assert_eq!(denied_job.state, JobState::Failed);
    let after = gw
        .store
        .budget("alice", "breast_cancer", 10.0)
        .unwrap()
        .spent;
    assert!((before - after - 1.0).abs() < 1e-9, "{before} -> {after}");

    // --- quotas count the researcher's jobs today.
    let quota = "@id(\"all\")\npermit (principal, action, resource);\n\n@id(\"quota-4\")\n@reason(\"4 jobs a day\")\nforbid (principal, action == Zkgate::Action::\"submit\", resource)\nwhen { context.job.jobs_today >= 4 };\n";
    use_policy(&gw, &root, quota);
    let e = denied(
        &alice,
        &manifest("bc_mixed", label()),
        "models/breast_cancer.onnx",
    )
    .await;
    assert_eq!(e.rules, ["quota-4"]);

    // --- an invalid file is rejected, pointing at its line, and the old
    // policy stays in force.
    std::fs::write(
        root.join("policy.cedar"),
        "@id(\"all\")\npermit (principal, action, resource);\n@id(\"x\")\nforbid (principal, action, resource)\nwhen { context.job.salary > 1 };\n",
    )
    .unwrap();
    let err = policy::reload(&gw).unwrap_err().to_string();
    assert!(err.contains("policy.cedar:5:"), "{err}");
    assert_eq!(
        denied(
            &alice,
            &manifest("bc_mixed", label()),
            "models/breast_cancer.onnx"
        )
        .await
        .rules,
        ["quota-4"]
    );

    // --- every decision is in the audit log, chained.
    let log = audit::read(&paths.audit()).unwrap();
    assert_eq!(audit::verify(&paths.audit()).unwrap().0, log.len() as u64);
    let has = |action: &str, decision: &str, rule: &str| {
        log.iter().map(|e| &e.record).any(|e| {
            e.action == action && e.decision == decision && e.rules.iter().any(|r| r == rule)
        })
    };
    assert!(has("submit", "deny", "no-echo"));
    assert!(has("submit", "deny", "registry-access"));
    assert!(has("submit", "deny", "noise-required"));
    assert!(has("release", "deny", "small-cells"));
    assert!(has("release", "suppress", "small-cells"));
    assert!(has("read_receipt", "allow", "open"));
    assert!(log
        .iter()
        .map(|e| &e.record)
        .any(|e| e.action == "policy_reload" && e.decision == "rejected"));
    assert!(log
        .iter()
        .map(|e| &e.record)
        .any(|e| e.action == "admit_compiled" && e.decision == "allow"));
    assert!(log
        .iter()
        .map(|e| &e.record)
        .all(|e| e.who != "mallory" || e.decision == "deny"));

    serving.stop().await;

    // --- an invalid policy stops the gateway from starting.
    let other = tmp.path().join("gw2");
    setup::init(&other, &Config::default(), None, "open").unwrap();
    std::fs::write(
        other.join("policy.cedar"),
        "@id(\"a\")\npermit (principal, action, resource)\n",
    )
    .unwrap();
    let err = Gateway::open(&other, None).unwrap_err().to_string();
    assert!(err.contains("policy.cedar:"), "{err}");
    assert!(setup::init(&tmp.path().join("gw3"), &Config::default(), None, "lax").is_err());
}

/// Rows of the breast-cancer file with the label of every row after the
/// first `keep` flipped: the model is right on at most `keep` + 3 of them.
fn flipped_labels(rows: usize, keep: usize, out: &Path) {
    head("data/breast_cancer.csv", rows, out);
    let text = std::fs::read_to_string(out).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for line in lines.iter_mut().skip(1 + keep) {
        let (x, y) = line.rsplit_once(',').unwrap();
        let flipped = if y.trim() == "0" { "1" } else { "0" };
        *line = format!("{x},{flipped}");
    }
    std::fs::write(out, lines.join("\n")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noised_releases_spend_a_durable_budget_and_thin_cohorts_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("gw");
    let config = Config {
        privacy_budget: 2.0,
        ..Config::default()
    };
    setup::init(&root, &config, None, "default").unwrap();
    let paths = Paths::new(&root);
    let (alice_token, bob_token) = {
        let store = Store::open(&paths.db()).unwrap();
        let vault = Vault::open(&paths, None).unwrap();
        let csv = tmp.path().join("t.csv");
        head("data/breast_cancer.csv", 40, &csv);
        common::import(&paths, &store, &vault, &csv, "bc");
        flipped_labels(40, 0, &csv);
        common::import(&paths, &store, &vault, &csv, "bc_flipped");
        (
            setup::add_researcher(&store, "alice", "oncology", 2, None).unwrap(),
            setup::add_researcher(&store, "bob", "oncology", 2, None).unwrap(),
        )
    };
    let start = || common::Serving::start(Gateway::open(&root, None).unwrap());
    let ca = std::fs::read(paths.tls_cert()).unwrap();
    let gw = start();
    let alice = Client::new(&gw.base, &alice_token, Some(&ca)).unwrap();
    let with_epsilon = |e: f64| {
        let mut m = manifest("bc", label());
        m.epsilon = Some(e);
        m.nonce = Some(hex::encode(rand::random::<[u8; 32]>()));
        m
    };

    // Noise seeded from anything the gateway picks could be chosen by the
    // owner: a noised job without the researcher's randomness is refused.
    let mut bare = with_epsilon(1.0);
    bare.nonce = None;
    let e = alice
        .submit(&bare, model("models/breast_cancer.onnx"))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.status, 400, "{e}");
    assert!(
        e.message.contains("needs the researcher's randomness"),
        "{e}"
    );

    // A noised accuracy runs to a receipt whose noise the verifier checks.
    let job = accepted(&alice, &with_epsilon(1.0), "models/breast_cancer.onnx").await;
    let done = wait_end(&alice, &job.id, LIMIT).await;
    assert_eq!(done.state, JobState::Done, "{:?}", done.error);
    let r = verified(&alice, &job.id).await;
    let noise = r.circuit.params.noise.clone().expect("noised");
    assert_eq!((noise.epsilon, noise.sensitivity), (1.0, 1));

    // The budget of 2 takes one more job of 1, then nothing: refused
    // before anything runs, with what is left.
    accepted(&alice, &with_epsilon(1.0), "models/breast_cancer.onnx").await;
    let e = alice
        .submit(&with_epsilon(0.5), model("models/breast_cancer.onnx"))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str()),
        (403, "budget_exhausted"),
        "{e}"
    );
    assert!(e.message.contains("privacy budget exhausted"), "{e}");
    assert!(e.message.contains("0.0000 of your 2"), "{e}");
    // Exact values do not touch the budget (the default profile allows
    // them), and another researcher has a budget of their own.
    accepted(
        &alice,
        &manifest("bc", label()),
        "models/breast_cancer.onnx",
    )
    .await;
    let bob = Client::new(&gw.base, &bob_token, Some(&ca)).unwrap();
    accepted(&bob, &with_epsilon(2.0), "models/breast_cancer.onnx").await;

    // A nonce of the researcher's binds the proofs (and would bind the
    // noise), so the gateway cannot pick a job id to its liking; it is
    // used once per dataset, and must be 32 bytes of hex.
    let mut m = manifest("bc", label());
    m.nonce = Some("ab".repeat(32));
    let job = accepted(&bob, &m, "models/breast_cancer.onnx").await;
    assert_eq!(wait_end(&bob, &job.id, LIMIT).await.state, JobState::Done);
    let r = verified(&bob, &job.id).await;
    assert_eq!(
        r.nonce,
        zkgate_statement::field::fr_to_hex(m.proof_nonce(&job.id))
    );
    assert_ne!(
        r.nonce,
        zkgate_statement::field::fr_to_hex(zkgate_statement::nonce_from(job.id.as_bytes()))
    );
    let e = bob
        .submit(&m, model("models/breast_cancer.onnx"))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.status, 409, "{e}");
    m.nonce = Some("not hex".into());
    let e = bob
        .submit(&m, model("models/breast_cancer.onnx"))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.status, 400, "{e}");

    // The budget is durable: after a restart it is still spent.
    gw.stop().await;
    let gw = start();
    let alice = Client::new(&gw.base, &alice_token, Some(&ca)).unwrap();
    let e = alice
        .submit(&with_epsilon(0.1), model("models/breast_cancer.onnx"))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.status, 403, "{e}");

    // A release drawn from fewer than 5 rows (the model is right on at
    // most three rows of `bc_flipped`) is refused at release, however
    // large the dataset.
    let job = accepted(
        &alice,
        &manifest("bc_flipped", label()),
        "models/breast_cancer.onnx",
    )
    .await;
    let failed = wait_end(&alice, &job.id, LIMIT).await;
    assert_eq!(failed.state, JobState::Failed);
    let err = failed.error.unwrap();
    assert!(err.message.contains("min-contributors"), "{err:?}");

    // The audit head a researcher keeps holds against the log; a history
    // rewritten by the owner does not.
    let anchor: audit::Anchor =
        serde_json::from_value(alice.audit_head().await.unwrap().unwrap()).unwrap();
    let signer = format!(
        "{:#x}",
        Vault::open(&paths, None).unwrap().signer().address()
    );
    audit::check_anchor(&paths.audit(), &anchor, Some(&signer)).unwrap();

    let log = audit::read(&paths.audit()).unwrap();
    let spends: Vec<&str> = log
        .iter()
        .map(|e| &e.record)
        .filter(|e| e.action == "privacy_budget")
        .map(|e| e.decision.as_str())
        .collect();
    assert_eq!(spends, ["allow", "allow", "deny", "allow", "deny"]);
    gw.stop().await;
    let text = std::fs::read_to_string(paths.audit()).unwrap();
    std::fs::write(paths.audit(), text.replacen("\"alice\"", "\"carol\"", 1)).unwrap();
    assert!(audit::check_anchor(&paths.audit(), &anchor, Some(&signer)).is_err());
}
