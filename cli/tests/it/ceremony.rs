//! A phase-2 ceremony end to end over a powers-of-tau file made by snarkjs
//! (pinned in `contracts/package.json`; `npm ci --prefix contracts`
//! installs it): the owner starts from the public facts, the researcher
//! checks and contributes with `zkgate` alone, anyone verifies the
//! transcript (with `zkgate` or `snarkjs zkey verify`), a second party
//! contributes with `snarkjs zkey contribute`, the owner proves with the
//! result, and the receipt names the setup and verifies against the
//! transcript. Damaged and uncontributed keys are refused before proving.
//! snarkjs also verifies the proofs, exported as its JSON.

use crate::common;

use common::{fixture, head, zkgate};
use std::path::{Path, PathBuf};
use std::process::Command;
use zkgate_testkit::snarkjs;

/// Runs snarkjs in `dir`: whether it succeeded, and what it printed.
fn snark(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(snarkjs())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// A prepared powers-of-tau file of power 12 made by snarkjs, as a
/// ceremony would publish it (one contribution, then `prepare phase2`:
/// `fixtures/ceremony/make.sh`), copied into `dir`.
fn ptau(dir: &Path) -> PathBuf {
    let path = dir.join("final.ptau");
    std::fs::copy(fixture("ceremony/snarkjs12.ptau"), &path).unwrap();
    path
}

#[test]
fn a_ceremony_key_proves_and_every_party_checks_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ptau = ptau(d);
    let ptau = ptau.to_str().unwrap();
    let csv = d.join("t.csv").display().to_string();
    head("data/tabular.csv", 1, Path::new(&csv));
    let schema = fixture("data/tabular.schema.json");
    let columns = (0..13)
        .map(|i| format!("f{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let p = |name: &str| d.join(name).display().to_string();
    let circuit = |cmd: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        v.extend(
            [
                "--model",
                &fixture("models/linreg.onnx"),
                "--schema",
                &schema,
                "--rows",
                "1",
                "--aggregate",
                "mean",
                "--columns",
                &columns,
                "--ptau",
                ptau,
            ]
            .map(String::from),
        );
        v
    };
    let run = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        zkgate(&a)
    };
    let ok = |args: Vec<String>| {
        let out = run(args.clone());
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };

    // The owner (or anyone) starts from the public facts.
    let mut init = circuit(&["ceremony", "init"]);
    init.extend(["--key-out", &p("k0")].map(String::from));
    let said: serde_json::Value = serde_json::from_str(ok(init).trim()).unwrap();
    assert!(said["constraints"].as_u64().unwrap() > 100, "{said}");
    // The same circuit as snarkjs reads it.
    let mut export = circuit(&["ceremony", "export-r1cs"]);
    export.extend(["--out", &p("c.r1cs")].map(String::from));
    ok(export);
    let (_, info) = snark(d, &["r1cs", "info", "c.r1cs"]);
    assert!(
        info.contains(&format!("# of Constraints: {}", said["constraints"])),
        "{info}"
    );
    // The researcher checks it against the circuit they rebuilt, and
    // contributes.
    let mut contribute = circuit(&["ceremony", "contribute"]);
    contribute.extend(
        [
            "--key",
            &p("k0"),
            "--name",
            "researcher",
            "--key-out",
            &p("k1"),
        ]
        .map(String::from),
    );
    let said: serde_json::Value = serde_json::from_str(ok(contribute).trim()).unwrap();
    let mine = said["contribution_hash"].as_str().unwrap().to_string();
    assert_eq!(mine.len(), 128, "{said}");
    // Anyone checks the transcript, with zkgate or snarkjs; a key whose
    // points do not match its transcript is invalid.
    let mut verify = circuit(&["ceremony", "verify"]);
    verify.extend(["--key", &p("k1"), "--transcript-out", &p("t1.json")].map(String::from));
    assert!(ok(verify).contains("by researcher"));
    let snark = |args: &[&str]| snark(d, args);
    let (accepted, said) = snark(&["zkey", "verify", "c.r1cs", "final.ptau", &p("k1")]);
    assert!(accepted && said.contains("ZKey Ok!"), "{said}");
    // snarkjs names the researcher's contribution by the same hash.
    let flat: String = said.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    assert!(flat.contains(&mine), "{said}");
    let mut bytes = std::fs::read(p("k1")).unwrap();
    let k0 = std::fs::read(p("k0")).unwrap();
    // k1's transcript on k0's points (section 10 is the last).
    let mut mixed = k0[..section(&k0, 10) - 12].to_vec();
    mixed.extend_from_slice(&bytes[section(&bytes, 10) - 12..]);
    std::fs::write(p("mixed"), &mixed).unwrap();
    let mut mismatched = circuit(&["ceremony", "verify"]);
    mismatched.extend(["--key", &p("mixed")].map(String::from));
    assert_eq!(run(mismatched).status.code(), Some(1));

    // A second contributor uses snarkjs on the researcher's key.
    let (contributed, said) = snark(&[
        "zkey",
        "contribute",
        &p("k1"),
        &p("k2"),
        "--name=auditor",
        "-e=auditor entropy",
    ]);
    assert!(contributed, "{said}");

    // The owner proves with the contributed key; the receipt says so and
    // verifies.
    let prove = |key: &str| {
        run([
            "prove",
            "--model",
            &fixture("models/linreg.onnx"),
            "--data",
            &csv,
            "--aggregate",
            "mean",
            "--columns",
            &columns,
            "--ceremony-key",
            &p(key),
            "--ptau",
            ptau,
            "--out",
            &p("r.json"),
            "--vk-out",
            &p("vk.bin"),
            "--json",
        ]
        .map(String::from)
        .to_vec())
    };
    let out = prove("k2");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let receipt: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("r.json")).unwrap()).unwrap();
    let setup = receipt["setup"].as_str().unwrap();
    assert!(
        setup.starts_with("ceremony:") && setup.contains("by researcher, auditor"),
        "{setup}"
    );
    assert_eq!(
        zkgate(&["verify", &p("r.json"), "--vk", &p("vk.bin")])
            .status
            .code(),
        Some(0)
    );
    // Its verifier checks the keys are the ones the transcript made (from
    // the .zkey or the JSON of another key's transcript: refused), over a
    // file it trusts: this test's file is not a public one, so it must be
    // named (`ceremony ptau-info` prints its BLAKE2b).
    let info: serde_json::Value =
        serde_json::from_str(&run_ok(&["ceremony", "ptau-info", "--ptau", ptau])).unwrap();
    assert_eq!(info["public"], serde_json::Value::Null, "{info}");
    assert_eq!(info["power"], 12);
    let b2 = info["blake2b"].as_str().unwrap().to_string();
    let against_over = |transcript: &str, contribution: &str, trust: Option<&str>| {
        let mut args = vec![
            "verify",
            &p("r.json"),
            "--vk",
            &p("vk.bin"),
            "--require-ceremony",
            "--model",
            &fixture("models/linreg.onnx"),
            "--transcript",
            &p(transcript),
            "--ptau",
            ptau,
            "--contribution",
            contribution,
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        if let Some(t) = trust {
            args.extend(["--trust-ptau".to_string(), t.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        zkgate(&args)
    };
    let against =
        |transcript: &str, contribution: &str| against_over(transcript, contribution, Some(&b2));
    // Over a file that is not public and not trusted: refused, and said.
    let out = against_over("k2", &mine, None);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("NOT a public one") && said.contains("--trust-ptau"),
        "{said}"
    );
    let out = against_over("k2", &mine, Some(&"cd".repeat(64)));
    assert_eq!(out.status.code(), Some(1));
    let out = against("k2", &mine);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The researcher's own transcript (before the auditor's) did not make
    // the receipt's key.
    let out = against("t1.json", &mine);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("delta is not the transcript's last"));
    // A contribution the transcript does not hold is named.
    let out = against("k2", &"ab".repeat(64));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("holds no contribution"));
    // `--require-ceremony` with nothing to check the keys by is an error,
    // never a pass, whatever the receipt's `setup` line says.
    let mut edited: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("r.json")).unwrap()).unwrap();
    edited["setup"] = "ceremony: made up by alice".into();
    std::fs::write(p("edited.json"), edited.to_string()).unwrap();
    for args in [
        vec![
            "verify",
            &p("edited.json"),
            "--vk",
            &p("vk.bin"),
            "--require-ceremony",
        ],
        vec![
            "verify",
            &p("r.json"),
            "--vk",
            &p("vk.bin"),
            "--require-ceremony",
        ],
    ] {
        let out = zkgate(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--require-ceremony needs"));
    }

    // Refused before proving: the uncontributed key (delta 1), and a key
    // with one point changed.
    let out = prove("k0");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no contribution"));
    // A byte of the first H-query point's x-coordinate (section 9 follows
    // the header, the coefficients and the inputs).
    let h = section(&bytes, 9);
    bytes[h + 3] ^= 0x40;
    std::fs::write(p("k3"), bytes).unwrap();
    let out = prove("k3");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("zkey: a G1 point is not on the curve") && !err.contains("panicked"),
        "{err}"
    );

    // On chain: the researcher registers the key's verifying key, opens a
    // job naming it, and submits with the key; the gateway proves with it
    // and the job settles under it.
    on_chain(d, ptau, &csv, &circuit(&[]), &p("k1"));
}

/// `zkgate ARGS`'s standard output, the command required to succeed.
fn run_ok(args: &[&str]) -> String {
    let out = zkgate(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Where section `kind` of a snarkjs container file starts.
fn section(b: &[u8], kind: u32) -> usize {
    let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let mut at = 12;
    loop {
        let size = u64::from_le_bytes(b[at + 4..at + 12].try_into().unwrap()) as usize;
        if u32_at(at) == kind {
            return at + 12;
        }
        at += 12 + size;
    }
}

fn on_chain(d: &Path, ptau: &str, csv: &str, circuit: &[String], key: &str) {
    let gw = d.join("gw");
    let g = gw.to_str().unwrap();
    let port = crate::common::free_port();
    let addr = format!("127.0.0.1:{port}");
    let run = |args: &[&str]| -> String {
        let out = zkgate(args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    run(&["init", "--data-dir", g, "--listen", &addr]);
    std::fs::write(
        gw.join("policy.cedar"),
        "@id(\"everything\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
    std::fs::copy(ptau, gw.join("pot.ptau")).unwrap();
    let config = std::fs::read_to_string(gw.join("config.toml")).unwrap();
    std::fs::write(
        gw.join("config.toml"),
        format!("ptau = \"pot.ptau\"\n{config}"),
    )
    .unwrap();
    run(&["dataset", "import", csv, "--name", "tab", "--data-dir", g]);
    let token = run(&["researcher", "add", "alice", "--data-dir", g])
        .trim()
        .to_string();
    run(&["chain", "deploy", "--data-dir", g]);
    run(&[
        "chain",
        "register-dataset",
        "--data-dir",
        g,
        "--dataset",
        "tab",
        "--price-wei",
        "100",
    ]);
    let mut register = vec!["ceremony", "register"];
    register.extend(circuit.iter().map(String::as_str));
    register.extend(["--key", key, "--data-dir", g]);
    let registered: serde_json::Value = serde_json::from_str(run(&register).trim()).unwrap();
    let verifier = registered["verifier"].as_str().unwrap().to_string();
    let mut server = common::serve(g, &addr);
    let gateway = format!("https://{addr}");
    let ca = gw.join("tls/cert.pem");
    let ca = ca.to_str().unwrap();
    let remote = ["--gateway", &gateway, "--ca-cert", ca, "--token", &token];
    let mut reg = vec!["register-address"];
    reg.extend(remote);
    reg.extend(["--dev-account", "1"]);
    let columns = (0..13)
        .map(|i| format!("f{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let out_r = d.join("chain-r.json");
    let out_v = d.join("chain-vk.bin");
    let model = fixture("models/linreg.onnx");
    let mut submit = vec!["submit"];
    submit.extend(remote);
    submit.extend([
        "--dataset",
        "tab",
        "--model",
        &model,
        "--aggregate",
        "mean",
        "--columns",
        &columns,
        "--ceremony-key",
        key,
    ]);
    // Off chain with the same key: `submit` writes the question, which
    // pins the key the researcher contributed to, and checks the receipt
    // against it before it reports success.
    let (off_r, off_v) = (d.join("off-r.json"), d.join("off-vk.bin"));
    let mut off = submit.clone();
    off.extend([
        "--out",
        off_r.to_str().unwrap(),
        "--vk-out",
        off_v.to_str().unwrap(),
        // The file the key was made over: the gateway's, so it passes.
        "--ptau",
        ptau,
    ]);
    // A key made over another file than the gateway's is refused before
    // anything is sent.
    let other_ptau = d.join("other.ptau");
    run_ok(&[
        "ceremony",
        "local-ptau",
        "--power",
        "8",
        "--out",
        other_ptau.to_str().unwrap(),
    ]);
    let mut other = off.clone();
    *other.last_mut().unwrap() = other_ptau.to_str().unwrap();
    // On chain: the job is opened for the question, naming the bundle of
    // the contributed keys.
    submit.extend([
        "--chain-dataset",
        "1",
        "--value-wei",
        "100",
        "--verifier",
        &verifier,
        "--data-dir",
        g,
        "--out",
        out_r.to_str().unwrap(),
        "--vk-out",
        out_v.to_str().unwrap(),
    ]);
    let refused = zkgate(&other);
    let offchain = zkgate(&off);
    let registered = zkgate(&reg);
    let submitted = zkgate(&submit);
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        offchain.status.success(),
        "{}{}",
        String::from_utf8_lossy(&offchain.stdout),
        String::from_utf8_lossy(&offchain.stderr)
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("is not the gateway's powers-of-tau file"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let question = d.join("off-r.question.json");
    let q: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&question).unwrap()).unwrap();
    assert_eq!(
        q["ceremony"]["vk_sha256"].as_array().unwrap().len(),
        1,
        "{q}"
    );
    let verify_off = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            off_r.to_str().unwrap(),
            "--vk",
            off_v.to_str().unwrap(),
            "--question",
            question.to_str().unwrap(),
        ];
        args.extend(extra);
        zkgate(&args)
    };
    // The question pins the file the keys were made over; it is not a
    // public one, so a ceremony over it shows nothing until it is trusted
    // by name.
    let info: serde_json::Value =
        serde_json::from_str(&run_ok(&["ceremony", "ptau-info", "--ptau", ptau])).unwrap();
    let b2 = info["blake2b"].as_str().unwrap().to_string();
    assert_eq!(q["ceremony"]["ptau_blake2b"], b2.as_str(), "{q}");
    let out = verify_off(&["--require-ceremony"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not a public one"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = verify_off(&["--require-ceremony", "--trust-ptau", &b2]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The question's circuit, rebuilt from the model file, and the
    // transcript checked for the researcher's contribution named in it.
    let out = verify_off(&[
        "--model",
        &model,
        "--transcript",
        key,
        "--ptau",
        ptau,
        "--trust-ptau",
        &b2,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        registered.status.success(),
        "{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    let said = String::from_utf8_lossy(&submitted.stdout).to_string();
    assert!(
        submitted.status.success() && said.contains("settled on chain: job 1"),
        "{said}{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let shown: serde_json::Value =
        serde_json::from_str(&run(&["chain", "job", "1", "--data-dir", g])).unwrap();
    assert_eq!(shown["state"]["status"], "settled");
    assert_eq!(shown["state"]["verifier"], verifier.as_str());
    // The registered bundle is listed under the question's circuit, for
    // the next job on it; another circuit lists nothing.
    let q: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&question).unwrap()).unwrap();
    let circuit = q["circuit_ids"][0].as_str().unwrap();
    let listed: serde_json::Value = serde_json::from_str(&run(&[
        "chain",
        "verifiers",
        "--data-dir",
        g,
        "--circuit",
        circuit,
    ]))
    .unwrap();
    let listed = listed["verifiers"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], verifier.as_str());
    assert_eq!(listed[0]["circuits"][0], circuit);
    let other = format!("0x{}01", "00".repeat(31));
    let none: serde_json::Value = serde_json::from_str(&run(&[
        "chain",
        "verifiers",
        "--data-dir",
        g,
        "--circuit",
        &other,
    ]))
    .unwrap();
    assert_eq!(none["verifiers"], serde_json::json!([]));
}
