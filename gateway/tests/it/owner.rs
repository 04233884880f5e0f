//! Mock twins and dry runs against a serving gateway: a mock is the
//! declared schema's columns over synthetic rows (none of them a real
//! row); a dry run goes through the submission's admission, compilation
//! and policy, stores and proves nothing, and predicts the real job's
//! circuit exactly (its id and constraint count); the owner API refuses
//! researchers.

use crate::common;

use common::{fixture, head, import, init_permissive, manifest, wait_end, Serving};
use std::time::Duration;
use zkgate_client::Client;
use zkgate_gateway::store::JobState;
use zkgate_gateway::Gateway;
use zkgate_statement::field::fr_to_hex;
use zkgate_statement::{Aggregate, Receipt, Verdict};
use zkgate_zkml::dataset::Dataset;

fn accuracy() -> Aggregate {
    Aggregate::Accuracy {
        label: "label".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocks_are_synthetic_and_dry_runs_predict_the_job() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("gw");
    init_permissive(&root, &common::sharded(22));
    std::fs::write(
        root.join("policy.cedar"),
        common::hold_below_trust_2("review", None)
            + "@id(\"no-counts\")\n@reason(\"class counts do not leave\")\n\
               forbid (principal, action == Zkgate::Action::\"submit\", resource) when { context.job.aggregate == \"class_counts\" };\n",
    )
    .unwrap();
    let policy = std::fs::read_to_string(root.join("policy.cedar")).unwrap();
    let gw = Gateway::open(&root, None).unwrap();
    let csv = tmp.path().join("bc.csv");
    head("data/breast_cancer.csv", 66, &csv);
    import(&gw.paths, &gw.store, gw.vault(), &csv, "bc");
    let alice =
        zkgate_gateway::owner::setup::add_researcher(&gw.store, "alice", "", 1, None).unwrap();
    let bob = zkgate_gateway::owner::setup::add_researcher(&gw.store, "bob", "", 2, None).unwrap();
    let ca = std::fs::read(gw.paths.tls_cert()).unwrap();
    let serving = Serving::start(gw.clone());
    let alice = Client::new(&serving.base, &alice, Some(&ca)).unwrap();
    let bob = Client::new(&serving.base, &bob, Some(&ca)).unwrap();

    // The mock: the declared schema's columns and row count, rows drawn
    // from the declared ranges, none of them one of the dataset's.
    let mock = alice.mock("bc").await.unwrap().unwrap();
    let meta = gw.store.dataset("bc").unwrap().unwrap();
    let twin = Dataset::from_csv_reader(mock.as_slice(), &meta.schema).unwrap();
    assert_eq!(twin.rows(), 66);
    assert_eq!(twin.columns(), meta.columns());
    let real = Dataset::from_csv_path(&csv, &meta.schema).unwrap();
    let real_rows: std::collections::BTreeSet<Vec<i64>> =
        (0..real.rows()).map(|r| real.row(r)).collect();
    assert!((0..twin.rows()).all(|r| !real_rows.contains(&twin.row(r))));
    assert_eq!(alice.mock("bc").await.unwrap().unwrap(), mock, "fixed");
    let e = alice.mock("nope").await.unwrap().unwrap_err();
    assert_eq!(e.status, 404);
    let anonymous = Client::new(&serving.base, "zkg_wrong", Some(&ca)).unwrap();
    assert_eq!(anonymous.mock("bc").await.unwrap().unwrap_err().status, 401);

    // A dry run: allowed for bob, nothing stored, nothing queued.
    let model = std::fs::read(fixture("models/breast_cancer.onnx")).unwrap();
    let m = manifest("bc", accuracy());
    let d = bob.dry_run(&m, model.clone()).await.unwrap().unwrap();
    assert_eq!(
        (d.decision.as_str(), d.compiled_decision.as_str()),
        ("allow", "allow")
    );
    assert_eq!(d.shards, 3);
    assert!(d.estimated_s > 0.0 && d.memory_mb > 0, "{d:?}");
    assert!(
        gw.store.jobs().unwrap().is_empty(),
        "a dry run stores no job"
    );
    let constraints = d.constraints;

    // Held for alice, refused for class counts.
    let d = alice.dry_run(&m, model.clone()).await.unwrap().unwrap();
    assert_eq!(
        (d.decision.as_str(), d.rules.clone()),
        ("hold", vec!["review".to_string()])
    );
    let mut counts = manifest("bc", Aggregate::ClassCounts);
    counts.columns = Some(meta.columns()[..30].to_vec());
    let d = bob.dry_run(&counts, model.clone()).await.unwrap().unwrap();
    assert_eq!(d.decision, "deny");
    assert_eq!(d.rules, ["no-counts"]);
    assert!(
        d.message.contains("class counts do not leave"),
        "{}",
        d.message
    );
    // A rule on the circuit's size judges the compiled job only: with the
    // limit just under this job's count (reloaded through the owner API),
    // the dry run says it would be admitted, then refused once compiled.
    let owner_token = std::fs::read_to_string(gw.paths.owner_token()).unwrap();
    let owner = Client::new(&serving.base, owner_token.trim(), Some(&ca)).unwrap();
    // The metrics (who runs how many jobs, for how long) are the owner's
    // by default: without a token or with another's, 401.
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(zkgate_chain::rpc::tls_with_ca(&ca).unwrap())
        .build()
        .unwrap();
    for (token, want) in [
        (None, 401),
        (Some("zkg_wrong"), 401),
        (Some(owner_token.trim()), 200),
    ] {
        let mut req = http.get(format!("{}/metrics", serving.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        assert_eq!(
            req.send().await.unwrap().status().as_u16(),
            want,
            "{token:?}"
        );
    }
    let reload = |text: String| {
        std::fs::write(root.join("policy.cedar"), text).unwrap();
        let owner = owner.clone();
        async move {
            owner
                .post_json::<serde_json::Value>("/v1/owner/policy/reload", &serde_json::json!({}))
                .await
                .unwrap()
                .unwrap()
        }
    };
    reload(format!(
        "{policy}@id(\"small-circuits\")\n\
         forbid (principal, action == Zkgate::Action::\"submit\", resource) when {{ context.model has constraints && context.model.constraints >= {} }};\n",
        constraints
    ))
    .await;
    let d = bob.dry_run(&m, model.clone()).await.unwrap().unwrap();
    assert_eq!(
        (d.decision.as_str(), d.compiled_decision.as_str()),
        ("allow", "deny")
    );
    assert_eq!(d.compiled_rules, ["small-circuits"]);
    reload(policy.clone()).await;
    // What cannot run is refused as a submission would be.
    let e = bob
        .dry_run(&m, b"not onnx".to_vec())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "malformed_model"));
    let mut wrong = manifest("bc", accuracy());
    wrong.columns = Some(vec!["mean_radius".into()]);
    let e = bob
        .dry_run(&wrong, model.clone())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.status, 422);
    assert!(gw.store.jobs().unwrap().is_empty());

    // The real job proves the circuit the dry run described.
    let predicted = bob.dry_run(&m, model.clone()).await.unwrap().unwrap();
    let job = bob.submit(&m, model).await.unwrap().unwrap();
    let j = wait_end(&bob, &job.id, Duration::from_secs(300)).await;
    assert_eq!(j.state, JobState::Done, "{:?}", j.error);
    let r = Receipt::from_json(&bob.receipt(&job.id).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        r.verify(&bob.vk(&job.id).await.unwrap().unwrap()).unwrap(),
        Verdict::Valid
    );
    assert_eq!(r.constraints["total"] as u64, predicted.constraints);
    assert_eq!(fr_to_hex(r.circuit.id()), predicted.circuit_id);
    assert_eq!(r.shards.len() as u64, predicted.shards);

    // Dry runs are audited, as every policy decision is.
    let log = std::fs::read_to_string(gw.paths.audit()).unwrap();
    assert!(log.contains("\"action\":\"dry_run\""), "{log}");
    // The owner API is not the researchers'.
    let e = bob
        .get_json::<serde_json::Value>("/v1/owner/datasets")
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.status, 403);
    let e = anonymous
        .get_json::<serde_json::Value>("/v1/whoami")
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.status, 401);
    let me: serde_json::Value = bob.get_json("/v1/whoami").await.unwrap().unwrap();
    assert_eq!(me["role"], "researcher");
    assert_eq!(me["name"], "bob");

    // Proving keys go to registered provers only, by circuit id.
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let nkey = zkgate_gateway::cluster::public_key(&zkgate_gateway::cluster::new_seed()).unwrap();
    let added: serde_json::Value = owner
        .post_json(
            "/v1/owner/provers",
            &serde_json::json!({ "name": "w1", "recipient": recipient, "nkey": nkey }),
        )
        .await
        .unwrap()
        .unwrap();
    let w1 = Client::new(&serving.base, added["token"].as_str().unwrap(), Some(&ca)).unwrap();
    let id = &predicted.circuit_id;
    let key = w1.proving_key(id).await.unwrap().unwrap();
    let kept = std::fs::read(gw.proving_keys().file(id).unwrap()).unwrap();
    assert_eq!(key, kept);
    // An earlier release's paths still answer, as their successors do,
    // marked deprecated with a link to the new path.
    for (path, token, successor) in [
        ("/v1/admin/workers", owner_token.trim(), "/v1/owner/provers"),
        (
            "/v1/admin/datasets",
            owner_token.trim(),
            "/v1/owner/datasets",
        ),
        (
            &*format!("/v1/worker/keys/{id}"),
            added["token"].as_str().unwrap(),
            &*format!("/v1/prover/keys/{id}"),
        ),
    ] {
        let res = http
            .get(format!("{}{path}", serving.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
        assert_eq!(res.headers()["deprecation"], "true", "{path}");
        assert_eq!(
            res.headers()["link"].to_str().unwrap(),
            format!("<{successor}>; rel=\"successor-version\""),
        );
    }
    let old = http
        .get(format!("{}/v1/admin/researchers", serving.base))
        .bearer_auth("zkg_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(old.status().as_u16(), 401);
    assert_eq!(bob.proving_key(id).await.unwrap().unwrap_err().status, 401);
    assert_eq!(
        owner.proving_key(id).await.unwrap().unwrap_err().status,
        401
    );
    for bad in ["0x1234", "..%2F..%2Fconfig.toml", "nothex"] {
        let e = w1.proving_key(bad).await.unwrap().unwrap_err();
        assert_eq!(e.status, 404, "{bad}: {e}");
    }
    let other = zkgate_gateway::cluster::public_key(&zkgate_gateway::cluster::new_seed()).unwrap();
    // Not an age recipient; not an nkey; a seed where the public key goes
    // (a secret pasted by mistake); no nkey at all.
    for body in [
        serde_json::json!({ "name": "w2", "recipient": "age1nope", "nkey": other }),
        serde_json::json!({ "name": "w2", "recipient": recipient, "nkey": "Unope" }),
        serde_json::json!({ "name": "w2", "recipient": recipient, "nkey": zkgate_gateway::cluster::new_seed() }),
        serde_json::json!({ "name": "w2", "recipient": recipient }),
    ] {
        let e = owner
            .post_json::<serde_json::Value>("/v1/owner/provers", &body)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(e.status, 400, "{body}: {e}");
    }
    // Another prover's nkey: taken.
    let e = owner
        .post_json::<serde_json::Value>(
            "/v1/owner/provers",
            &serde_json::json!({ "name": "w2", "recipient": recipient, "nkey": nkey }),
        )
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.status, 409, "{e}");
    owner
        .delete_json::<serde_json::Value>("/v1/owner/provers/w1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w1.proving_key(id).await.unwrap().unwrap_err().status, 401);
    serving.stop().await;
}
