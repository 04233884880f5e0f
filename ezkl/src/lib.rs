//! zkgate's second proof system: ezkl (halo2 with KZG over a universal
//! SRS), run on a job's whole graph.
//!
//! ezkl is an optional component the owner installs from PyPI into a
//! Python environment ([`Backend::python`]); this crate runs zkgate's
//! driver (`driver/zkgate_ezkl.py`, carried inside the binary and written
//! to a fresh work directory for each call) with that Python as a
//! subprocess, under a time limit (the process is killed past it) and a
//! memory limit (the driver's own address-space limit), and reads one JSON
//! object back. What the graph is, which tensors it hashes and how a
//! receipt's values read are `zkgate_statement::ezkl`'s.
#![forbid(unsafe_code)]

use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use zkgate_statement::ezkl::{binding_limbs, decode, EzklProof, GraphSpec};
use zkgate_statement::{Question, Receipt};

/// The driver, as shipped.
pub const DRIVER: &str = include_str!("../driver/zkgate_ezkl.py");
/// The script that compiles a rendered verifier contract with solc-js.
pub const COMPILER: &str = include_str!("../driver/compile_verifier.js");

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Python could not be started.
    #[error("ezkl backend: cannot run `{python}`: {why}")]
    Start {
        /// The configured Python.
        python: String,
        /// Why.
        why: String,
    },
    /// The driver ran past its time limit and was stopped.
    #[error("ezkl backend: `{command}` ran past its limit of {seconds} s and was stopped")]
    Timeout {
        /// The driver's command.
        command: String,
        /// The limit.
        seconds: u64,
    },
    /// The driver reported an error (ezkl missing, calibration failed, no
    /// SRS of the size needed, the memory limit...).
    #[error("ezkl backend: {0}")]
    Driver(String),
    /// The driver failed while reading the dataset's rows: `detail` (ezkl's
    /// message, or the crashed process's last lines) may quote a value
    /// computed from a row, so it is for the data owner only; the error
    /// reads as `public`.
    #[error("ezkl backend: {public}")]
    Rows {
        /// What may be shown to whoever asked.
        public: String,
        /// For the data owner only.
        detail: String,
    },
    /// A local file could not be written or read.
    #[error("ezkl backend: {0}")]
    Io(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;

/// The owner's ezkl installation.
#[derive(Clone, Debug)]
pub struct Backend {
    /// A Python with `ezkl` and `onnx` installed (a venv's `bin/python`).
    pub python: PathBuf,
    /// The directory of SRS files, ezkl's naming (`kzg{logrows}.srs`).
    pub srs_dir: PathBuf,
    /// Longest a call may run.
    pub timeout: Duration,
    /// Largest address space the driver may map, MiB (0: no limit).
    pub memory_mb: u64,
    /// Largest circuit proved, as a power of two of its rows (none: no
    /// limit): past it a job is refused with the size it needs.
    pub max_logrows: Option<u32>,
    /// Benchmarks only: make a local (insecure) SRS when the directory has
    /// none of the size a circuit needs.
    pub make_srs: bool,
}

/// What `prove` returns.
#[derive(Clone, Debug)]
pub struct Proved {
    /// The receipt's ezkl part.
    pub proof: EzklProof,
    /// The graph's output values (ezkl's integers at `proof.output_scale`).
    pub values: Vec<i128>,
    /// Seconds per ezkl step (settings, calibrate, compile, setup, witness,
    /// prove).
    pub timings: std::collections::BTreeMap<String, f64>,
    /// Peak resident memory of the driver, MiB.
    pub peak_rss_mb: f64,
    /// Size of the proving key, bytes.
    pub pk_bytes: u64,
    /// The verifier contract's Solidity source, when asked for.
    pub solidity: Option<String>,
    /// Whether the SRS proved over was made locally (`zkgate ezkl srs`
    /// marks its files): insecure.
    pub srs_insecure: bool,
}

/// A verifier contract ezkl rendered, compiled.
#[derive(Clone, Debug)]
pub struct EvmVerifier {
    /// The solc-js version that compiled it.
    pub compiler: String,
    /// Its creation code.
    pub creation: Vec<u8>,
    /// Its runtime code.
    pub runtime: Vec<u8>,
}

/// EIP-170's limit on a contract's runtime code, bytes.
pub const MAX_CODE: usize = 24_576;

impl EvmVerifier {
    /// Whether it can be deployed (its runtime code within EIP-170).
    pub fn deployable(&self) -> bool {
        self.runtime.len() <= MAX_CODE
    }

    /// Refuses a verifier that cannot be deployed, saying why.
    pub fn check_deployable(&self) -> Result<()> {
        if self.deployable() {
            return Ok(());
        }
        Err(Error::Driver(format!(
            "the job's ezkl verifier contract is {} bytes of code, over EIP-170's {MAX_CODE}: no chain would deploy it; settle this job with groth16, or prove it with ezkl off chain",
            self.runtime.len()
        )))
    }

    /// keccak-256 of its runtime code (what `EXTCODEHASH` reads, and what
    /// an on-chain ezkl job pins).
    pub fn code_hash(&self) -> [u8; 32] {
        use sha3::{Digest, Keccak256};
        Keccak256::digest(&self.runtime).into()
    }

    /// The code hash as questions write it (`0x` and 64 hex digits).
    pub fn code_hash_hex(&self) -> String {
        format!("0x{}", hex::encode(self.code_hash()))
    }
}

/// Compiles a rendered verifier contract's `source` with the solc-js
/// package at `solc_js` (the pinned one: `contracts/node_modules/solc`)
/// run by `node`.
pub fn compile_verifier(solc_js: &Path, source: &str) -> Result<EvmVerifier> {
    let work = tempfile::Builder::new()
        .prefix("zkgate-solc-")
        .tempdir()
        .map_err(|e| Error::Io(format!("work directory: {e}")))?;
    let script = work.path().join("compile_verifier.js");
    let sol = work.path().join("Verifier.sol");
    std::fs::write(&script, COMPILER).map_err(|e| Error::Io(format!("{e}")))?;
    std::fs::write(&sol, source).map_err(|e| Error::Io(format!("{e}")))?;
    let solc_js = std::path::absolute(solc_js).map_err(|e| Error::Io(format!("{e}")))?;
    if !solc_js.join("package.json").exists() {
        return Err(Error::Driver(format!(
            "{} is not the solc-js package (npm ci --prefix contracts installs the pinned one)",
            solc_js.display()
        )));
    }
    let out = Command::new("node")
        .arg(&script)
        .arg(&solc_js)
        .arg(&sol)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Start {
            python: "node".into(),
            why: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| {
            Error::Driver(format!(
                "solc-js gave no reply: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or_default()
            ))
        })?;
    if let Some(e) = v["error"].as_str() {
        return Err(Error::Driver(format!("solc-js: {e}")));
    }
    let code = |k: &str| {
        v[k].as_str()
            .and_then(|h| hex::decode(h).ok())
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Error::Driver(format!("solc-js gave no {k} code")))
    };
    Ok(EvmVerifier {
        compiler: v["compiler"].as_str().unwrap_or_default().to_string(),
        creation: code("creation")?,
        runtime: code("runtime")?,
    })
}

/// What `verify` concludes.
#[derive(Clone, Debug, PartialEq)]
pub enum Checked {
    /// The proof verifies for the question's graph and instances; the
    /// values' scale and the SHA-256 of the SRS file verified with.
    Valid {
        /// ezkl's output scale.
        output_scale: i32,
        /// SHA-256 of the SRS file used.
        srs_sha256: String,
    },
    /// Why not.
    Invalid(String),
}

#[derive(Deserialize)]
struct ProveOut {
    proof: Value,
    settings: Value,
    outputs: Vec<i128>,
    output_scale: i32,
    logrows: u32,
    srs_sha256: String,
    timings: std::collections::BTreeMap<String, f64>,
    pk_bytes: u64,
    peak_rss_mb: f64,
    #[serde(default)]
    solidity: Option<String>,
    #[serde(default)]
    srs_insecure: bool,
}

impl Error {
    /// The whole message, for the data owner: with [`Error::Rows`]'s
    /// detail.
    pub fn for_owner(&self) -> String {
        match self {
            Error::Rows { public, detail } => format!("ezkl backend: {public}: {detail}"),
            e => e.to_string(),
        }
    }
}

impl Backend {
    /// Runs the driver's `command` on `request` in a fresh work directory.
    /// `rows`: the request carries the dataset's rows, so what the driver
    /// says of them beyond its own error line is kept apart
    /// ([`Error::Rows`]).
    fn run(&self, command: &str, mut request: Value, rows: bool) -> Result<Value> {
        let work = tempfile::Builder::new()
            .prefix("zkgate-ezkl-")
            .tempdir()
            .map_err(|e| Error::Io(format!("work directory: {e}")))?;
        let driver = work.path().join("zkgate_ezkl.py");
        std::fs::write(&driver, DRIVER).map_err(|e| Error::Io(format!("{e}")))?;
        request["work"] = json!(work.path());
        // The driver runs in its work directory: paths are made absolute.
        for key in ["srs_dir", "model"] {
            if let Some(p) = request[key].as_str().map(PathBuf::from) {
                let p = std::path::absolute(&p).map_err(|e| Error::Io(format!("{e}")))?;
                request[key] = json!(p);
            }
        }
        let req = work.path().join("request.json");
        std::fs::write(&req, request.to_string()).map_err(|e| Error::Io(format!("{e}")))?;
        let out_path = work.path().join("stdout");
        let out = std::fs::File::create(&out_path).map_err(|e| Error::Io(format!("{e}")))?;
        let err_path = work.path().join("stderr");
        let err = std::fs::File::create(&err_path).map_err(|e| Error::Io(format!("{e}")))?;
        let mut child = Command::new(&self.python)
            .arg(&driver)
            .arg(command)
            .arg(&req)
            .current_dir(work.path())
            .env("ZKGATE_EZKL_MEMORY_MB", self.memory_mb.to_string())
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| Error::Start {
                python: self.python.display().to_string(),
                why: e.to_string(),
            })?;
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if start.elapsed() > self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Timeout {
                        command: command.into(),
                        seconds: self.timeout.as_secs(),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => return Err(Error::Io(format!("waiting for the driver: {e}"))),
            }
        }
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        let last = stdout.lines().rev().find(|l| l.starts_with('{'));
        let reply: Option<Value> = last.and_then(|l| serde_json::from_str(l).ok());
        match reply {
            Some(v) => match (v.get("error").and_then(Value::as_str), v.get("detail")) {
                (Some(e), Some(d)) => Err(Error::Rows {
                    public: e.to_string(),
                    detail: d.as_str().unwrap_or_default().to_string(),
                }),
                (Some(e), None) => Err(Error::Driver(e.to_string())),
                (None, _) => Ok(v),
            },
            None => {
                let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
                let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
                let tail = tail.into_iter().rev().collect::<Vec<_>>().join(" / ");
                if rows {
                    Err(Error::Rows {
                        public: format!("`{command}` ended without a reply (the data owner's audit log has its last lines)"),
                        detail: tail,
                    })
                } else {
                    Err(Error::Driver(format!(
                        "`{command}` ended without a reply ({tail})"
                    )))
                }
            }
        }
    }

    /// ezkl's Poseidon hash of `values` (as field elements), its string
    /// form (little-endian hex): a dataset's published ezkl hash over
    /// `zkgate_statement::ezkl::dataset_values`.
    pub fn hash(&self, values: &[i64]) -> Result<String> {
        let v = self.run("hash", json!({ "values": values }), true)?;
        v["hash"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Driver("no hash in the reply".into()))
    }

    /// ezkl's hash of the job nonce's limbs: the binding instance of a
    /// job's proof (and the last circuit id an on-chain ezkl job pins).
    pub fn binding_hash(&self, nonce: zkgate_statement::Fr) -> Result<zkgate_statement::Fr> {
        let h = self.hash(&binding_limbs(nonce))?;
        zkgate_statement::ezkl::felt_to_fr(&h).map_err(|e| Error::Driver(e.to_string()))
    }

    /// The Solidity verifier contract of the job graph `spec` of `model`
    /// over this backend's SRS (its key made as the prover makes it), and
    /// the circuit's logrows: what a researcher derives from a question to
    /// pin an on-chain ezkl job.
    pub fn verifier_source(&self, spec: &GraphSpec, model: &Path) -> Result<(String, u32)> {
        let v = self.run(
            "verifier",
            json!({
                "spec": spec,
                "model": model,
                "srs_dir": self.srs_dir,
                "max_logrows": self.max_logrows,
                "make_srs": self.make_srs,
            }),
            false,
        )?;
        let source = v["solidity"]
            .as_str()
            .ok_or_else(|| Error::Driver("no verifier in the reply".into()))?;
        Ok((
            source.to_string(),
            v["logrows"].as_u64().unwrap_or_default() as u32,
        ))
    }

    /// The circuit size of the job graph `spec` of `model` as calibration
    /// sets it, a power of two (no key is made), and the driver's reply
    /// (its timings and peak memory).
    pub fn size(&self, spec: &GraphSpec, model: &Path) -> Result<(u32, Value)> {
        let v = self.run(
            "size",
            json!({ "spec": spec, "model": model, "srs_dir": self.srs_dir, "max_logrows": self.max_logrows }),
            false,
        )?;
        Ok((v["logrows"].as_u64().unwrap_or_default() as u32, v))
    }

    /// Writes a local SRS of `2^logrows` points into the SRS directory
    /// (insecure: this process drew its secret). Returns its path and
    /// SHA-256.
    pub fn make_srs(&self, logrows: u32) -> Result<(PathBuf, String)> {
        let v = self.run(
            "srs",
            json!({ "srs_dir": self.srs_dir, "logrows": logrows }),
            false,
        )?;
        Ok((
            PathBuf::from(v["path"].as_str().unwrap_or_default()),
            v["srs_sha256"].as_str().unwrap_or_default().to_string(),
        ))
    }

    /// Proves the job graph `spec` of the model `model` over `data` (the
    /// dataset tensor) bound to `binding`, and checks the proof with the key
    /// just made: it must verify, with `dataset_hash` (the published one)
    /// and the hash of `binding` as its first instances. `evm`: also render
    /// the verifier contract of the key.
    pub fn prove(
        &self,
        spec: &GraphSpec,
        model: &Path,
        data: &[i64],
        binding: &[i64],
        dataset_hash: &str,
        evm: bool,
    ) -> Result<Proved> {
        let v = self.run(
            "prove",
            json!({
                "spec": spec,
                "model": model,
                "srs_dir": self.srs_dir,
                "data": data,
                "binding": binding,
                "dataset_hash": dataset_hash,
                "evm": evm,
                "max_logrows": self.max_logrows,
                "make_srs": self.make_srs,
            }),
            true,
        )?;
        let o: ProveOut = serde_json::from_value(v)
            .map_err(|e| Error::Driver(format!("a malformed reply to `prove`: {e}")))?;
        Ok(Proved {
            proof: EzklProof {
                proof: o.proof,
                settings: o.settings,
                logrows: o.logrows,
                srs_sha256: o.srs_sha256,
                dataset_hash: dataset_hash.to_string(),
                output_scale: o.output_scale,
            },
            values: o.outputs,
            timings: o.timings,
            peak_rss_mb: o.peak_rss_mb,
            pk_bytes: o.pk_bytes,
            solidity: o.solidity,
            srs_insecure: o.srs_insecure,
        })
    }

    /// Verifies `proof` as an answer to the graph `spec` of `model`: the
    /// circuit and its verifying key are rebuilt from the spec (never
    /// taken from the receipt), and the proof's public instances must be
    /// `dataset_hash`, the hash of `binding` and `values`.
    pub fn verify(
        &self,
        spec: &GraphSpec,
        model: &Path,
        proof: &EzklProof,
        dataset_hash: &str,
        binding: &[i64],
        values: &[i128],
    ) -> Result<Checked> {
        let v = self.run(
            "verify",
            json!({
                "spec": spec,
                "model": model,
                "srs_dir": self.srs_dir,
                "settings": proof.settings,
                "proof": proof.proof,
                "dataset_hash": dataset_hash,
                "binding": binding,
                "values": values.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            }),
            false,
        )?;
        if v["valid"].as_bool() == Some(true) {
            Ok(Checked::Valid {
                output_scale: v["output_scale"].as_i64().unwrap_or_default() as i32,
                srs_sha256: v["srs_sha256"].as_str().unwrap_or_default().into(),
            })
        } else {
            Ok(Checked::Invalid(
                v["why"].as_str().unwrap_or("ezkl refuses the proof").into(),
            ))
        }
    }
}

/// Checks an ezkl receipt against the researcher's question: every field
/// of the question ([`Question::check`]), the model file against the
/// question's hash, then the proof through ezkl's verifier with a circuit
/// and key rebuilt from the question's graph, the question's dataset hash
/// and job nonce as its instances; the result is recomputed from the
/// proved values. `Ok(Err(why))`: the receipt is not valid.
pub fn verify_receipt(
    backend: &Backend,
    question: &Question,
    receipt: &Receipt,
    model: &Path,
) -> Result<std::result::Result<Checked, String>> {
    use sha2::{Digest, Sha256};
    let nonce = question.job_nonce();
    if let Err(m) = question.check(receipt, nonce) {
        return Ok(Err(m.to_string()));
    }
    let Some(proof) = &receipt.ezkl else {
        return Ok(Err("the receipt carries no ezkl proof".into()));
    };
    let bytes = std::fs::read(model).map_err(|e| Error::Io(format!("{}: {e}", model.display())))?;
    if hex::encode(Sha256::digest(&bytes)) != question.model_sha256 {
        return Ok(Err(format!(
            "{} is not the question's model (its SHA-256 differs)",
            model.display()
        )));
    }
    let Some(dataset_hash) = &question.dataset.ezkl_hash else {
        return Ok(Err("the question names no ezkl hash".into()));
    };
    let graph = match GraphSpec::new(&question.expected_circuit, question.dataset.rows) {
        Ok(g) => g,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let values: Vec<i128> = match receipt.values.iter().map(|v| v.parse()).collect() {
        Ok(v) => v,
        Err(_) => return Ok(Err("the receipt's values are not integers".into())),
    };
    if values.len() != graph.values {
        return Ok(Err("wrong number of aggregate values".into()));
    }
    let checked = backend.verify(
        &graph,
        model,
        proof,
        dataset_hash,
        &binding_limbs(nonce),
        &values,
    )?;
    if let Checked::Valid { output_scale, .. } = &checked {
        if *output_scale != proof.output_scale {
            return Ok(Err(
                "the receipt names another output scale than its circuit's".into(),
            ));
        }
        let result = decode(&receipt.circuit, receipt.rows, &values, *output_scale);
        if result != receipt.result {
            return Ok(Err(
                "the reported result does not match the proved values".into()
            ));
        }
    }
    Ok(match checked {
        Checked::Invalid(why) => Err(why),
        valid => Ok(valid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(python: &str) -> Backend {
        Backend {
            python: python.into(),
            srs_dir: std::env::temp_dir(),
            timeout: Duration::from_secs(5),
            memory_mb: 0,
            max_logrows: None,
            make_srs: false,
        }
    }

    #[test]
    fn a_missing_python_is_named() {
        let e = backend("/nonexistent/python").hash(&[1]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/python"), "{e}");
    }

    #[test]
    fn a_driver_past_its_limit_is_stopped() {
        // A "Python" that never answers.
        let mut b = backend("sh");
        b.timeout = Duration::from_millis(200);
        let t = Instant::now();
        let e = b.run_for_test("sleep 30", false);
        assert!(matches!(e, Err(Error::Timeout { .. })), "{e:?}");
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn what_the_driver_says_of_the_rows_is_for_the_owner_only() {
        let e = backend("sh")
            .run_for_test(
                "echo '{\"error\": \"could not prove\", \"detail\": \"value 1234 out of range\"}'",
                true,
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "ezkl backend: could not prove");
        assert!(e.for_owner().contains("value 1234"), "{}", e.for_owner());
        // A driver that dies over the rows: its last lines are the owner's.
        let e = backend("sh")
            .run_for_test("echo 'panicked: value 1234' >&2; exit 3", true)
            .unwrap_err();
        assert!(!e.to_string().contains("1234"), "{e}");
        assert!(e.for_owner().contains("value 1234"), "{}", e.for_owner());
        // Not over rows: the last lines are shown.
        let e = backend("sh")
            .run_for_test("echo 'no module named ezkl' >&2; exit 3", false)
            .unwrap_err();
        assert!(e.to_string().contains("no module named ezkl"), "{e}");
    }

    #[test]
    fn a_driver_error_is_passed_on() {
        let e = backend("sh")
            .run_for_test("echo '{\"error\": \"no SRS of 2^15 points\"}'", false)
            .unwrap_err();
        assert_eq!(e.to_string(), "ezkl backend: no SRS of 2^15 points");
    }

    impl Backend {
        /// Runs `script` with `sh -c` through the same reply and limit
        /// handling (the driver is not involved).
        fn run_for_test(&self, script: &str, rows: bool) -> Result<Value> {
            let dir = tempfile::tempdir().unwrap();
            let sh = dir.path().join("python");
            std::fs::write(&sh, format!("#!/bin/sh\n{script}\n")).unwrap();
            let mut perms = std::fs::metadata(&sh).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
            std::fs::set_permissions(&sh, perms).unwrap();
            Backend {
                python: sh,
                ..self.clone()
            }
            .run("hash", json!({}), rows)
        }
    }
}
