//! `zkgate chain bounty ...` end to end on a data dir's embedded chain: a
//! sponsor opens a bounty on the tabular fixture's MSE; two researchers
//! enter with `zkgate submit --bounty` (a linear model and an MLP); the
//! gateway proves and settles each entry into the bounty; after the
//! deadline `finalize` ranks them by their proven scores and credits the
//! prize, which the winner withdraws.

use crate::common;

use common::{fixture, head, zkgate};

fn run(args: &[String]) -> (bool, String, String) {
    let v: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = zkgate(&v);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn ok(args: &[String]) -> serde_json::Value {
    let (success, out, err) = run(args);
    assert!(success, "{args:?}: {out}{err}");
    serde_json::from_str(&out).unwrap_or(serde_json::Value::Null)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_bounty_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gw");
    let d = dir.to_str().unwrap();
    let csv = tmp.path().join("tab.csv");
    head("data/tabular.csv", 12, &csv);
    let port = common::free_port();
    let addr = format!("127.0.0.1:{port}");
    ok(&strings(&["init", "--data-dir", d, "--listen", &addr]));
    std::fs::write(
        dir.join("policy.cedar"),
        "@id(\"everything\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
    ok(&strings(&[
        "dataset",
        "import",
        csv.to_str().unwrap(),
        "--name",
        "tab",
        "--data-dir",
        d,
    ]));
    let token = |name: &str| {
        String::from_utf8(zkgate(&["researcher", "add", name, "--data-dir", d]).stdout)
            .unwrap()
            .trim()
            .to_string()
    };
    let (alice, bob, sponsor) = (token("alice"), token("bob"), token("sponsor"));
    ok(&strings(&["chain", "deploy", "--data-dir", d]));
    // Priced per row: 100 wei a job plus 5 per row, 12 rows.
    let reg = ok(&strings(&[
        "chain",
        "register-dataset",
        "--data-dir",
        d,
        "--dataset",
        "tab",
        "--price-wei",
        "100",
        "--price-per-row-wei",
        "5",
    ]));
    assert_eq!(reg["job_price_wei"], "160");
    let mut server = common::serve(d, &addr);
    let gateway = format!("https://{addr}");
    let ca = dir.join("tls/cert.pem");
    let remote = |token: &str| {
        strings(&[
            "--gateway",
            &gateway,
            "--ca-cert",
            ca.to_str().unwrap(),
            "--token",
            token,
        ])
    };

    // Alice's linear model's MSE on `tab`, with `extra` flags.
    let linreg = |extra: &[&str]| {
        let mut v = strings(&["submit"]);
        v.extend(strings(extra));
        v.extend(strings(&[
            "--dataset",
            "tab",
            "--model",
            &fixture("models/linreg.onnx"),
            "--aggregate",
            "mse",
            "--label",
            "target",
            "--data-dir",
            d,
        ]));
        v.extend(remote(&alice));
        run(&v)
    };
    // A researcher sees the on-chain price before submitting.
    let (_, said, err) = linreg(&["--dry-run", "--chain-dataset", "1"]);
    assert!(said.contains("the job costs 160 wei"), "{said}{err}");

    // The sponsor (here development account 0) puts up 5,000 wei for the
    // lowest proven MSE of `target` from f0..f12; entries pay a job's price.
    let mut open = strings(&[
        "chain",
        "bounty",
        "open",
        "--data-dir",
        d,
        "--dev-account",
        "0",
        "--dataset",
        "tab",
        "--chain-dataset",
        "1",
        "--metric",
        "mse",
        "--aggregate",
        "mse",
        "--label",
        "target",
        "--prize-wei",
        "5000",
        "--closes-secs",
        "900",
        "--deadline-secs",
        "1800",
    ]);
    open.extend(remote(&sponsor));
    let mut wrong = open.clone();
    let metric = wrong.iter().position(|a| a == "mse").unwrap();
    wrong[metric] = "f1".into();
    let (success, _, err) = run(&wrong);
    assert!(!success && err.contains("not read from `mse`"), "{err}");
    // Entries pay at least a job's price: 160 wei, the default fee.
    let mut cheap = open.clone();
    cheap.extend(strings(&["--entry-fee-wei", "100"]));
    let (success, _, err) = run(&cheap);
    assert!(!success && err.contains("LowEscrow"), "{err}");
    let opened = ok(&open);
    assert_eq!(opened["bounty"], 1);
    assert_eq!(opened["entry_fee_wei"], "160");

    // Entries: each researcher registers the address that pays the fee.
    let out = tmp.path();
    let enter = |token: &str, account: &str, model: &str, aggregate: &str, epsilon: bool| {
        let mut v = strings(&["register-address", "--dev-account", account]);
        v.extend(remote(token));
        run(&v);
        let mut v = strings(&[
            "submit",
            "--bounty",
            "1",
            "--dataset",
            "tab",
            "--model",
            &fixture(&format!("models/{model}.onnx")),
            "--aggregate",
            aggregate,
            "--label",
            "target",
            "--data-dir",
            d,
            "--dev-account",
            account,
            "--out",
            out.join(format!("{model}.json")).to_str().unwrap(),
            "--vk-out",
            out.join(format!("{model}.vk")).to_str().unwrap(),
        ]);
        if epsilon {
            v.extend(strings(&["--epsilon", "1"]));
        }
        v.extend(remote(token));
        run(&v)
    };
    // Another aggregate is not the bounty's question; exact scores are
    // refused. Neither pays a fee.
    let (success, _, err) = enter(&alice, "1", "linreg", "mean", true);
    assert!(!success && err.contains("bounty 1 asks for"), "{err}");
    let (success, _, err) = enter(&alice, "1", "linreg", "mse", false);
    assert!(!success && err.contains("give --epsilon"), "{err}");
    for (token, account, model) in [(&alice, "1", "linreg"), (&bob, "2", "mlp")] {
        let (success, said, err) = enter(token, account, model, "mse", true);
        assert!(success, "{said}{err}");
        assert!(said.contains("entered bounty 1"), "{said}");
        assert!(said.contains("settled on chain"), "{said}");
    }

    // The gateway's own rule, for clients that skip the CLI's: an entry of
    // exact values (here of a second bounty, entered from Rust with a
    // question written without noise) is refused before any proving.
    let opened = ok(&open);
    assert_eq!(opened["bounty"], 2);
    let exact = out.join("exact.question.json");
    let (success, _, err) = linreg(&[
        "--chain-dataset",
        "1",
        "--value-wei",
        "1",
        "--question-out",
        exact.to_str().unwrap(),
    ]);
    assert!(!success && err.contains("LowEscrow"), "{err}");
    let q = zkgate_statement::Question::from_json(&std::fs::read(&exact).unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let contract = zkgate_chain::config::ChainConfig::load(&dir)
        .unwrap()
        .unwrap()
        .contract;
    let s = zkgate_chain::Settlement::at(
        zkgate_chain::Chain::embedded(&dir.join("chain/state.json")).unwrap(),
        contract,
    );
    let (job, _) = rt
        .block_on(s.enter_bounty(
            &zkgate_chain::Wallet::dev(1).unwrap(),
            2,
            zkgate_chain::alloy_primitives::B256::from(q.hash()),
            &zkgate_chain::settlement::circuits_of(&q).unwrap(),
            zkgate_chain::alloy_primitives::U256::from(160u64),
        ))
        .unwrap();
    let (success, _, err) = linreg(&[
        "--chain-job",
        &job.to_string(),
        "--question",
        exact.to_str().unwrap(),
    ]);
    assert!(
        !success && err.contains("an entry of bounty 2, whose scores are public"),
        "{err}"
    );
    let _ = server.kill();
    let _ = server.wait();

    let shown = ok(&strings(&["chain", "bounty", "show", "1", "--data-dir", d]));
    let entries = shown["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{shown}");
    let score = |i: usize| -> f64 { entries[i]["score"].as_str().unwrap().parse().unwrap() };
    assert!(entries.iter().all(|e| e["state"] == "settled"), "{shown}");
    let (alice_job, bob_job) = (
        entries[0]["job"].as_u64().unwrap(),
        entries[1]["job"].as_u64().unwrap(),
    );

    // Not before the deadline; then anyone finalizes it.
    let (success, _, err) = run(&strings(&[
        "chain",
        "bounty",
        "finalize",
        "1",
        "--data-dir",
        d,
    ]));
    assert!(!success && err.contains("BountyNotOver"), "{err}");
    let chain = zkgate_chain::Chain::embedded(&dir.join("chain/state.json")).unwrap();
    rt.block_on(chain.advance_time(2000)).unwrap();
    let f = ok(&strings(&[
        "chain",
        "bounty",
        "finalize",
        "1",
        "--data-dir",
        d,
        "--dev-account",
        "2",
    ]));
    let (winner, account) = if score(0) <= score(1) {
        (alice_job, "1")
    } else {
        (bob_job, "2")
    };
    assert_eq!(f["winner"], winner, "{f}");
    assert_eq!(f["withheld"], 0);
    assert_eq!(f["ranking"][0], winner);
    let w = ok(&strings(&[
        "chain",
        "withdraw",
        "--data-dir",
        d,
        "--dev-account",
        account,
    ]));
    assert_eq!(w["amount_wei"], "5000");
    // The owner's fees for the two proofs.
    let w = ok(&strings(&[
        "chain",
        "withdraw",
        "--data-dir",
        d,
        "--dev-account",
        "0",
    ]));
    assert_eq!(w["amount_wei"], "320");
}
