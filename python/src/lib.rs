//! `zkgate._native`: the workspace's researcher client (`zkgate-client`),
//! question compiler (`zkgate-zkml`) and verifier (`zkgate-verifier`) as a
//! Python extension module. Values cross as JSON text and bytes; the
//! Python package (`python/zkgate`) gives them types. Every error is the
//! one exception `NativeError(json)`, whose JSON carries the gateway's
//! status and stable code (status 0 for an error found here), which the
//! package turns into its exception classes. Nothing here panics on bad
//! input; the GIL is released while a request or a compilation runs.
#![forbid(unsafe_code)]

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::json;
use zkgate_client::api::Manifest;
use zkgate_client::{Answer, Client};
use zkgate_statement::{Question, Schema};
use zkgate_zkml::job::JobRequest;

create_exception!(
    _native,
    NativeError,
    PyException,
    "An error as JSON: status (0: found locally), code, message, rules, and op and node for an unsupported op."
);

/// The exception for an error of the gateway's API.
fn api(e: zkgate_client::ApiError) -> PyErr {
    NativeError::new_err(
        json!({"status": e.status, "code": e.code, "message": e.message, "rules": e.rules})
            .to_string(),
    )
}

/// The exception for an error found here, with a stable code.
fn local(code: &str, message: impl std::fmt::Display) -> PyErr {
    NativeError::new_err(
        json!({"status": 0, "code": code, "message": message.to_string(), "rules": []}).to_string(),
    )
}

/// The exception for a compiler error, coded as the gateway codes it.
fn zkml(e: zkgate_zkml::Error) -> PyErr {
    use zkgate_zkml::Error as Z;
    let code = match &e {
        Z::MalformedModel(_) => "malformed_model",
        Z::UnsupportedOp { op, node, .. } => {
            return NativeError::new_err(
                json!({"status": 0, "code": "unsupported_op", "message": e.to_string(),
                       "rules": [], "op": op, "node": node})
                .to_string(),
            )
        }
        Z::Structure(_) => "unsupported_model",
        Z::OverLimit { .. } => "model_over_limit",
        Z::Csv { .. } => "bad_csv",
        Z::Overflow(_) => "overflow",
        Z::Job(_) => "invalid_job",
        _ => "internal",
    };
    local(code, e)
}

/// A transport failure, or the gateway's error answer.
fn answer<T>(a: Answer<T>) -> PyResult<T> {
    match a {
        Err(e) => Err(local("connection", e)),
        Ok(Err(e)) => Err(api(e)),
        Ok(Ok(v)) => Ok(v),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> PyResult<String> {
    serde_json::to_string(v).map_err(|e| local("internal", e))
}

fn manifest(text: &str) -> PyResult<Manifest> {
    serde_json::from_str(text).map_err(|e| local("bad_request", format!("the manifest: {e}")))
}

fn question(text: &str) -> PyResult<Question> {
    Question::from_json(text.as_bytes())
        .map_err(|e| local("bad_request", format!("the question: {e}")))
}

/// A gateway client: the researcher's side of its HTTPS API.
#[pyclass(frozen, module = "zkgate._native")]
struct GatewayClient {
    client: Client,
    rt: tokio::runtime::Runtime,
}

impl GatewayClient {
    /// Runs a request with the GIL released.
    fn run<T: Send, F>(&self, py: Python<'_>, f: impl FnOnce(Client) -> F + Send) -> PyResult<T>
    where
        F: std::future::Future<Output = Answer<T>>,
    {
        let client = self.client.clone();
        py.detach(|| answer(self.rt.block_on(f(client))))
    }
}

#[pymethods]
impl GatewayClient {
    /// A client for the gateway at `url` with the bearer `token`,
    /// trusting the CA certificate `ca_pem` (PEM bytes) when given, else
    /// the platform's roots.
    #[new]
    #[pyo3(signature = (url, token, ca_pem=None))]
    fn new(url: &str, token: &str, ca_pem: Option<&[u8]>) -> PyResult<Self> {
        let client = Client::new(url, token, ca_pem).map_err(|e| local("config", e))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| local("internal", e))?;
        Ok(GatewayClient { client, rt })
    }

    /// The datasets the gateway publishes, as JSON.
    fn datasets(&self, py: Python<'_>) -> PyResult<String> {
        let d = self.run(py, |c| async move { c.datasets().await })?;
        to_json(&d)
    }

    /// The mock twin of dataset `name` (CSV bytes).
    fn mock<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyBytes>> {
        let csv = self.run(py, |c| async move { c.mock(&name).await })?;
        Ok(PyBytes::new(py, &csv))
    }

    /// The researcher's question for `manifest` (JSON) and the ONNX
    /// `model`, compiled here from the dataset as the gateway publishes
    /// it, with fresh randomness; pinning the ceremony keys `zkeys`
    /// (`.zkey` bytes) and the kept keys `kept` (verifying-key hashes,
    /// read back from the gateway and checked); with `ezkl`, asking for
    /// an ezkl proof over the dataset's published ezkl hash (no
    /// suppression bound). Returns the question's JSON.
    #[pyo3(signature = (manifest_json, model, allow_suppression, zkeys=Vec::new(), kept=Vec::new(), ezkl=false))]
    #[allow(clippy::too_many_arguments)]
    fn question(
        &self,
        py: Python<'_>,
        manifest_json: &str,
        model: Vec<u8>,
        allow_suppression: u64,
        zkeys: Vec<Vec<u8>>,
        kept: Vec<String>,
        ezkl: bool,
    ) -> PyResult<String> {
        let m = manifest(manifest_json)?;
        let name = m.dataset.clone();
        let meta = self
            .run(py, |c| async move { c.dataset(&name).await })?
            .ok_or_else(|| {
                local(
                    "not_found",
                    format!("the gateway publishes no dataset `{}`", m.dataset),
                )
            })?;
        let mut pinned = zkeys;
        for vk in &kept {
            let name = vk.clone();
            let z = self.run(py, |c| async move { c.kept_ceremony_key(&name).await })?;
            zkgate_zkml::question::kept_key(&z, vk).map_err(zkml)?;
            pinned.push(z);
        }
        // The file the keys are checked against, as the gateway names it.
        let ptau = if pinned.is_empty() {
            None
        } else {
            let file = self.run(py, |c| async move { c.ceremony_file().await })?;
            file["ptau_blake2b"].as_str().map(str::to_string)
        };
        py.detach(|| {
            let published = zkgate_zkml::question::Published {
                name: &meta.name,
                commitment: &meta.commitment,
                schema: &meta.schema,
                rows: meta.rows,
                shard_rows: meta.shard_rows,
            };
            let request = JobRequest {
                aggregate: m.aggregate.clone(),
                input_columns: m.columns.clone(),
                quant: m.quant,
                epsilon: m.epsilon,
            };
            let mut q = zkgate_zkml::question::ask(
                &published,
                &request,
                &model,
                if ezkl { 0 } else { allow_suppression },
                None,
                rand::random(),
            )
            .map_err(zkml)?;
            q.ceremony =
                zkgate_zkml::question::ceremony_pin(&pinned, ptau.as_deref()).map_err(zkml)?;
            if ezkl {
                let hash = meta.ezkl_hash.as_deref().ok_or_else(|| {
                    local(
                        "unprocessable",
                        format!(
                            "the gateway publishes no ezkl hash for `{}`: it has no ezkl backend",
                            meta.name
                        ),
                    )
                })?;
                q = q.with_ezkl(hash);
                q.check_self()
                    .map_err(|e| local("bad_request", e.to_string()))?;
            }
            Ok(q.to_json())
        })
    }

    /// Submits `manifest` (JSON, its question inside) with the ONNX
    /// `model`, the ceremony keys `zkeys` and the kept keys `kept`;
    /// returns the job as JSON.
    #[pyo3(signature = (manifest_json, model, zkeys=Vec::new(), kept=Vec::new()))]
    fn submit(
        &self,
        py: Python<'_>,
        manifest_json: &str,
        model: Vec<u8>,
        zkeys: Vec<Vec<u8>>,
        kept: Vec<String>,
    ) -> PyResult<String> {
        let m = manifest(manifest_json)?;
        let job = self.run(py, |c| async move {
            c.submit_with_keys(&m, model, zkeys, kept).await
        })?;
        to_json(&job)
    }

    /// What the gateway would do with `manifest` and `model`, as JSON;
    /// nothing is stored or proved.
    fn dry_run(&self, py: Python<'_>, manifest_json: &str, model: Vec<u8>) -> PyResult<String> {
        let m = manifest(manifest_json)?;
        let d = self.run(py, |c| async move { c.dry_run(&m, model).await })?;
        to_json(&d)
    }

    /// Job `id`, as JSON.
    fn job(&self, py: Python<'_>, id: String) -> PyResult<String> {
        let j = self.run(py, |c| async move { c.job(&id).await })?;
        to_json(&j)
    }

    /// The caller's jobs, as JSON.
    fn jobs(&self, py: Python<'_>) -> PyResult<String> {
        let j = self.run(py, |c| async move { c.jobs().await })?;
        to_json(&j)
    }

    /// Cancels job `id`; the job as JSON.
    fn cancel(&self, py: Python<'_>, id: String) -> PyResult<String> {
        let j = self.run(py, |c| async move { c.cancel(&id).await })?;
        to_json(&j)
    }

    /// Job `id`'s receipt (JSON text).
    fn receipt(&self, py: Python<'_>, id: String) -> PyResult<String> {
        self.run(py, |c| async move { c.receipt(&id).await })
    }

    /// Job `id`'s verifying keys (`vk.bin` bytes).
    fn vk<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyBytes>> {
        let vk = self.run(py, |c| async move { c.vk(&id).await })?;
        Ok(PyBytes::new(py, &vk))
    }

    /// The gateway's powers-of-tau file, as JSON.
    fn ceremony_file(&self, py: Python<'_>) -> PyResult<String> {
        let f = self.run(py, |c| async move { c.ceremony_file().await })?;
        to_json(&f)
    }
}

/// Verifies `receipt` (JSON text) against the verifying keys `vk`: its
/// proofs, then that it answers `question` (JSON) field by field and, with
/// `model` (ONNX bytes), that the question's and the receipt's circuits
/// are that model's; with `schema` (JSON), that it is over that declared
/// schema. Returns the verdict as JSON: `valid`, `reason`, `result`,
/// `commitment`, `rows`, `noise`, `checked` and `unchecked`.
#[pyfunction]
#[pyo3(signature = (receipt, vk, question_json=None, model=None, schema_json=None, require_ceremony=false, trust_ptau=Vec::new()))]
// Python's keyword arguments, one by one.
#[allow(clippy::too_many_arguments)]
fn verify(
    py: Python<'_>,
    receipt: &str,
    vk: Vec<u8>,
    question_json: Option<&str>,
    model: Option<Vec<u8>>,
    schema_json: Option<&str>,
    require_ceremony: bool,
    trust_ptau: Vec<String>,
) -> PyResult<String> {
    use zkgate_verifier::{Expect, CEREMONY_NEEDS};
    let question = question_json.map(question).transpose()?;
    let schema = schema_json
        .map(|s| {
            Schema::from_json(s.as_bytes())
                .map_err(|e| local("bad_request", format!("the schema: {e}")))
        })
        .transpose()?;
    if require_ceremony && question.as_ref().is_none_or(|q| q.ceremony.is_none()) {
        return Err(local(
            "bad_request",
            format!("require_ceremony: {CEREMONY_NEEDS}"),
        ));
    }
    let expect = Expect {
        question,
        schema,
        job_id: None,
        ceremony: require_ceremony,
        trust_ptau,
    };
    py.detach(|| {
        let mut checked = zkgate_verifier::verify(receipt, &vk, None, &expect)
            .map_err(|e| local("bad_receipt", format!("{e:#}")))?;
        let mut done = vec!["proofs: every shard's Groth16 proof under the verifying keys"];
        if expect.question.is_some() {
            done.push("question: every field, the nonce from its hash");
        }
        if expect.schema.is_some() {
            done.push("schema: the declared schema given");
        }
        if let (true, Some(m)) = (checked.valid(), &model) {
            let imported = zkgate_zkml::import::load_bytes(m).map_err(zkml)?;
            checked.invalid = zkgate_zkml::question::receipt_circuit(
                &checked.receipt,
                expect.question.as_ref(),
                &imported,
            )
            .err();
            done.push("model: the circuit rebuilt from the ONNX file and compared");
        }
        let mut v: serde_json::Value =
            serde_json::from_str(&checked.report(true)).map_err(|e| local("internal", e))?;
        v["checked"] = json!(done);
        v["setup"] = json!(checked.receipt.setup);
        Ok(v.to_string())
    })
}

/// Verifies an ezkl `receipt` (JSON text) against the `question` (JSON)
/// it answers and the ONNX `model`, through ezkl's verifier run by
/// `python` (a Python with ezkl) over the SRS files in `srs_dir`: the
/// graph and key rebuilt from the question, never from the receipt.
/// Returns the verdict as JSON, as `verify` does.
#[pyfunction]
#[pyo3(signature = (receipt, question_json, model, python, srs_dir, timeout_s=3600))]
fn verify_ezkl(
    py: Python<'_>,
    receipt: &str,
    question_json: &str,
    model: Vec<u8>,
    python: std::path::PathBuf,
    srs_dir: std::path::PathBuf,
    timeout_s: u64,
) -> PyResult<String> {
    let q = question(question_json)?;
    let r = zkgate_statement::Receipt::from_json(receipt)
        .map_err(|e| local("bad_receipt", e.to_string()))?;
    py.detach(|| {
        let backend = zkgate_ezkl::Backend {
            python,
            srs_dir,
            timeout: std::time::Duration::from_secs(timeout_s),
            memory_mb: 0,
            max_logrows: None,
            make_srs: false,
        };
        let file = tempfile::NamedTempFile::new().map_err(|e| local("internal", e))?;
        std::fs::write(file.path(), &model).map_err(|e| local("internal", e))?;
        let outcome = zkgate_ezkl::verify_receipt(&backend, &q, &r, file.path())
            .map_err(|e| local("ezkl", e.to_string()))?;
        let srs = match &outcome {
            Ok(zkgate_ezkl::Checked::Valid { srs_sha256, .. }) => Some(srs_sha256.clone()),
            _ => None,
        };
        Ok(json!({
            "valid": outcome.is_ok(),
            "reason": outcome.as_ref().err(),
            "result": r.result,
            "rows": r.rows,
            "commitment": r.commitment,
            "setup": r.setup,
            "srs_sha256": srs,
            "checked": [
                "question: every field, the nonce from its hash",
                "model: the file's hash, and the graph and key rebuilt from the question",
                "proof: ezkl's verifier, its instances the question's dataset hash, binding and the values",
            ],
            "unchecked": [
                "the SRS: verified with your own SRS file; sound only if nobody knows its secret (a public ceremony's file)",
                "ezkl quantizes on its own: the values are ezkl's, at its output scale",
            ],
        })
        .to_string())
    })
}

/// The float outputs of the ONNX `model` on each row of `rows`, as the
/// gateway's importer reads the model (tract): the output it proves.
#[pyfunction]
fn run_float(py: Python<'_>, model: Vec<u8>, rows: Vec<Vec<f32>>) -> PyResult<Vec<Vec<f32>>> {
    py.detach(|| {
        let imported = zkgate_zkml::import::load_bytes(&model).map_err(zkml)?;
        rows.iter()
            .map(|r| imported.run_float(r).map_err(zkml))
            .collect()
    })
}

/// The manifest (JSON) of a job on `dataset` computing `aggregate`
/// (`accuracy`, `confusion`, `class_counts`, `sum`, `mean`, `mse`, `mae`,
/// `count_at_least`), with its `label` column or `threshold` where it
/// needs one, the model's `columns`, and noise at `epsilon`.
#[pyfunction]
#[pyo3(signature = (dataset, aggregate, label=None, threshold=None, columns=None, epsilon=None, idempotency_key=None, family=None))]
#[allow(clippy::too_many_arguments)]
fn manifest_json(
    dataset: String,
    aggregate: &str,
    label: Option<&str>,
    threshold: Option<f64>,
    columns: Option<Vec<String>>,
    epsilon: Option<f64>,
    idempotency_key: Option<String>,
    family: Option<&str>,
) -> PyResult<String> {
    let aggregate = zkgate_statement::Aggregate::parse(aggregate, label, threshold)
        .map_err(|e| local("bad_request", e))?;
    let family = family
        .map(zkgate_statement::quant::Family::parse)
        .transpose()
        .map_err(|e| local("bad_request", e))?;
    to_json(&Manifest {
        dataset,
        columns,
        aggregate,
        idempotency_key,
        quant: zkgate_statement::quant::QuantConfig {
            family,
            ..Default::default()
        },
        chain_job: None,
        epsilon,
        nonce: None,
        question: None,
    })
}

/// A question's hash (hex) and the nonce its proofs carry (hex).
#[pyfunction]
fn question_info(question_json: &str) -> PyResult<(String, String)> {
    let q = question(question_json)?;
    let nonce = zkgate_verifier::Expect::question_nonce(&q)
        .map_err(|e| local("bad_request", format!("{e:#}")))?;
    Ok((
        hex::encode(q.hash()),
        zkgate_statement::field::fr_to_hex(nonce),
    ))
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add_class::<GatewayClient>()?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(verify_ezkl, m)?)?;
    m.add_function(wrap_pyfunction!(run_float, m)?)?;
    m.add_function(wrap_pyfunction!(question_info, m)?)?;
    m.add_function(wrap_pyfunction!(manifest_json, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
