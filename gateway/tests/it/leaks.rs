//! Nothing computed from the rows reaches a researcher but a released
//! aggregate: every error a researcher can provoke (bad requests, models
//! that cannot run, settings out of range, policy denials, an exhausted
//! privacy budget, jobs refused at release), every listing and every job
//! record is searched for the dataset's values, its quantized values and
//! the model's per-row outputs, and none may appear.

use crate::common;

use common::{fixture, head, tabular as manifest};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};
use zkgate_client::{Answer, Client};
use zkgate_gateway::config::{Config, Paths};
use zkgate_gateway::owner::setup;
use zkgate_gateway::store::Store;
use zkgate_gateway::vault::Vault;
use zkgate_gateway::Gateway;
use zkgate_statement::quant::QuantConfig;
use zkgate_statement::{Aggregate, Receipt};
use zkgate_zkml::dataset::{declared_schema, Dataset};
use zkgate_zkml::job::{compile, JobRequest};

/// The secrets of `csv`: its cells written with a decimal point and four
/// or more characters, its quantized values and the regression model's
/// quantized per-row outputs of five digits or more.
fn secrets(csv: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut out: BTreeSet<String> = text
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|c| c.contains('.') && c.len() >= 4)
        .collect();
    let schema = declared_schema(csv).unwrap();
    let d = Dataset::from_csv_path(csv, &schema).unwrap();
    let big = |v: i128| (v.abs() >= 10_000).then(|| v.to_string());
    out.extend(
        d.values
            .iter()
            .flatten()
            .filter_map(|v| big(i128::from(*v))),
    );
    let m = zkgate_zkml::import::load(fixture("models/mlp.onnx")).unwrap();
    let request = JobRequest {
        aggregate: Aggregate::Sum,
        input_columns: Some((0..13).map(|i| format!("f{i}")).collect()),
        quant: QuantConfig::default(),
        epsilon: None,
    };
    let spec = compile(&m.model, &m.onnx_sha256, &d, &request).unwrap();
    let eval = zkgate_zkml::spec::evaluate(&spec, &d.values).unwrap();
    out.extend(eval.outputs.iter().flatten().filter_map(|v| big(*v)));
    // The declared bounds are public: a cell equal to one is no leak.
    for c in &schema.columns {
        for b in [c.min, c.max] {
            out.remove(&format!("{b}"));
            out.remove(&format!("{b:?}"));
        }
    }
    out
}

/// The numbers in `body`: runs of digits, points and minus signs between
/// other characters (so hex strings and ids are not read as numbers).
fn numbers(body: &str) -> BTreeSet<String> {
    body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .map(|t| t.trim_matches('.'))
        .filter(|t| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
        })
        .map(str::to_string)
        .collect()
}

fn show<T: std::fmt::Debug>(a: &Answer<T>) -> String {
    format!("{a:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_researcher_visible_answer_carries_a_row_value() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("gw");
    let mut config = Config {
        plain_http: true,
        privacy_budget: 2.0,
        ..Config::default()
    };
    config.limits.max_active_jobs_per_researcher = 16;
    setup::init(&root, &config, None, "default").unwrap();
    let paths = Paths::new(&root);
    let csv = tmp.path().join("t.csv");
    head("data/tabular.csv", 40, &csv);
    let secret = secrets(&csv);
    assert!(secret.len() > 300, "{} secrets", secret.len());
    let token = {
        let store = Store::open(&paths.db()).unwrap();
        let vault = Vault::open(&paths, None).unwrap();
        common::import(&paths, &store, &vault, &csv, "t");
        setup::add_researcher(&store, "eve", "", 1, None).unwrap()
    };
    let opened = Gateway::open(&root, None).unwrap();
    // The data dir is the owner's alone: directories 0700, files 0600 (as
    // the gateway leaves them when it opens).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut dirs = vec![root.clone()];
        while let Some(d) = dirs.pop() {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                    assert_eq!(mode, 0o600, "{}", p.display());
                }
            }
        }
    }
    let gw = common::Serving::start(opened);
    let eve = Client::new(&gw.base, &token, None).unwrap();
    let mlp = std::fs::read(fixture("models/mlp.onnx")).unwrap();
    let mut bodies: Vec<(String, String)> = Vec::new();

    bodies.push(("datasets".into(), show(&eve.datasets().await)));
    let mut accepted = Vec::new();
    let mut attempt = |what: &str, answer: Answer<zkgate_gateway::store::Job>| {
        if let Ok(Ok(job)) = &answer {
            accepted.push((what.to_string(), job.id.clone()));
        }
        bodies.push((what.to_string(), show(&answer)));
    };
    // Requests refused at once.
    let mut m = manifest("nope", Aggregate::Sum);
    attempt("unknown dataset", eve.submit(&m, mlp.clone()).await);
    m = manifest("t", Aggregate::Sum);
    m.columns = Some(vec!["f0".into(), "salary".into()]);
    attempt("unknown column", eve.submit(&m, mlp.clone()).await);
    m.columns = Some(vec!["f0".into(), "f1".into()]);
    attempt("column count", eve.submit(&m, mlp.clone()).await);
    attempt(
        "classes of a regressor",
        eve.submit(&manifest("t", Aggregate::ClassCounts), mlp.clone())
            .await,
    );
    attempt(
        "real label",
        eve.submit(
            &manifest(
                "t",
                Aggregate::Accuracy {
                    label: "target".into(),
                },
            ),
            mlp.clone(),
        )
        .await,
    );
    m = manifest("t", Aggregate::Sum);
    m.quant.margin_bits = 60;
    attempt("margin far out of range", eve.submit(&m, mlp.clone()).await);
    m = manifest("t", Aggregate::Sum);
    m.quant.act_bits = 40;
    attempt(
        "activation bits out of range",
        eve.submit(&m, mlp.clone()).await,
    );
    m = manifest("t", Aggregate::Sum);
    m.epsilon = Some(50.0);
    attempt("epsilon out of range", eve.submit(&m, mlp.clone()).await);
    attempt(
        "malformed model",
        eve.submit(&manifest("t", Aggregate::Sum), b"not onnx".to_vec())
            .await,
    );
    attempt(
        "echo model",
        eve.submit(
            &manifest("t", Aggregate::Mean),
            std::fs::read(fixture("attacks/echo.onnx")).unwrap(),
        )
        .await,
    );
    // Jobs that run, or fail in the worker: thresholds far outside and
    // inside the outputs, an error against the target, noised sums.
    for (what, aggregate) in [
        (
            "count far above",
            Aggregate::CountAtLeast { threshold: 1e6 },
        ),
        ("count inside", Aggregate::CountAtLeast { threshold: 3.0 }),
        (
            "mse",
            Aggregate::Mse {
                label: "target".into(),
            },
        ),
    ] {
        // Values (the error) leave only with noise under this profile.
        let mut m = manifest("t", aggregate);
        if m.aggregate.label().is_some() {
            m.epsilon = Some(1.0);
            m.nonce = Some(hex::encode(rand::random::<[u8; 32]>()));
        }
        attempt(what, eve.submit(&m, mlp.clone()).await);
    }
    m = manifest("t", Aggregate::Mean);
    m.epsilon = Some(1.0);
    m.nonce = Some(hex::encode(rand::random::<[u8; 32]>()));
    attempt("noised mean", eve.submit(&m, mlp.clone()).await);
    m.nonce = Some(hex::encode(rand::random::<[u8; 32]>()));
    attempt("budget spent", eve.submit(&m, mlp.clone()).await);

    // Every job to its end, its record and its receipt (or the refusal).
    let t = Instant::now();
    for (what, id) in &accepted {
        let job = loop {
            let j = eve.job(id).await.unwrap().unwrap();
            if j.state.is_terminal() {
                break j;
            }
            assert!(t.elapsed() < Duration::from_secs(600), "{what} stuck");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        bodies.push((format!("{what}: job"), format!("{job:?}")));
        match eve.receipt(id).await.unwrap() {
            // A receipt's values are the released aggregate; what else it
            // says must be public.
            Ok(text) => {
                let mut r = Receipt::from_json(&text).unwrap();
                assert!(r.agreement.is_none(), "{what}: the agreement is row data");
                r.values.clear();
                r.result = serde_json::Value::Null;
                bodies.push((format!("{what}: receipt"), r.to_json()));
            }
            Err(e) => bodies.push((format!("{what}: receipt"), format!("{e:?}"))),
        }
    }
    bodies.push(("jobs".into(), show(&eve.jobs().await)));
    assert!(accepted.len() >= 4, "{accepted:?}");
    assert!(
        bodies
            .iter()
            .any(|(_, b)| b.contains("privacy budget exhausted")),
        "the budget path was reached"
    );

    for (what, body) in &bodies {
        let found = numbers(body);
        let leaked: Vec<&String> = found.intersection(&secret).collect();
        assert!(
            leaked.is_empty(),
            "{what} carries row values {leaked:?}: {body}"
        );
    }
    gw.stop().await;
}
