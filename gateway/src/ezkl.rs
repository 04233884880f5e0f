//! Jobs proved with ezkl (`proof_system: ezkl` in the researcher's
//! question), the gateway's side: the dataset's published ezkl hash, and
//! the job run through the owner's ezkl installation (`[backends.ezkl]`).
//!
//! An ezkl job is one proof over every row of the dataset. The gateway
//! still compiles the Groth16 circuit of the job from public facts alone:
//! the question is checked against it (model, columns, aggregate,
//! quantization), its constraint count sizes the job against
//! `max_constraints` and the policy, and the release policy judges the
//! aggregate it evaluates, before ezkl runs. A release policy that would
//! suppress small cells refuses the job: ezkl proves no suppression.

use crate::error::{Error, Result};
use crate::owner::setup::load_dataset;
use crate::store::{DatasetMeta, Job, Timings};
use crate::Gateway;
use zkgate_ezkl::Backend;
use zkgate_statement::ezkl::{binding_limbs, dataset_values, decode, GraphSpec, ProofSystem};
use zkgate_statement::field::fr_to_hex;
use zkgate_statement::{Question, Receipt};

/// The owner's ezkl installation, if `[backends.ezkl]` names one.
pub fn backend(gw: &Gateway) -> Option<Backend> {
    let c = gw.config.backends.ezkl.as_ref()?;
    Some(Backend {
        python: c.python.clone(),
        srs_dir: gw.paths.root.join(&c.srs_dir),
        timeout: std::time::Duration::from_secs(c.timeout_s),
        memory_mb: c.memory_mb,
        max_logrows: Some(c.max_logrows),
        make_srs: false,
    })
}

fn refuse(e: zkgate_ezkl::Error) -> Error {
    Error::Unprocessable(e.to_string())
}

/// A failure of ezkl over the job's rows: its detail (which may quote a
/// value computed from a row) goes to the owner's audit log, the job's
/// error reads without it.
fn refuse_over_rows(gw: &Gateway, job: &Job, e: zkgate_ezkl::Error) -> Error {
    if let zkgate_ezkl::Error::Rows { .. } = &e {
        let logged = gw.audit.append(crate::audit::Record {
            who: "owner".into(),
            action: "ezkl_error".into(),
            dataset: Some(job.manifest.dataset.clone()),
            job: Some(job.id.clone()),
            model: Some(job.model_sha256.clone()),
            decision: "failed".into(),
            message: e.for_owner(),
            ..Default::default()
        });
        if let Err(a) = logged {
            eprintln!("zkgate: ezkl: the audit log refused a record: {a}");
        }
    }
    refuse(e)
}

/// Publishes the ezkl hash of every dataset that has none yet (run when
/// the gateway starts and after an import). A dataset ezkl cannot hash is
/// left without one (its ezkl questions are refused) and named on the
/// owner's terminal: the gateway serves on. Returns how many it hashed.
pub fn publish_hashes(gw: &Gateway) -> Result<usize> {
    let Some(b) = backend(gw) else {
        return Ok(0);
    };
    let mut n = 0;
    for mut meta in gw.store.datasets()? {
        if meta.ezkl_hash.is_some() {
            continue;
        }
        let (dataset, secret) = load_dataset(&gw.paths, gw.vault(), &meta.name)?;
        match b.hash(&dataset_values(&dataset.values, secret.0)) {
            Ok(hash) => {
                meta.ezkl_hash = Some(hash);
                gw.store.put_dataset(&meta)?;
                n += 1;
            }
            Err(e) => eprintln!(
                "zkgate: ezkl: dataset `{}` has no ezkl hash: {}",
                meta.name,
                e.for_owner()
            ),
        }
    }
    Ok(n)
}

/// Refuses an ezkl question this gateway cannot answer.
pub fn check_question(gw: &Gateway, meta: &DatasetMeta, q: &Question) -> Result<()> {
    if q.proof_system != ProofSystem::Ezkl {
        return Ok(());
    }
    if backend(gw).is_none() {
        return Err(Error::Unprocessable(
            "this gateway has no ezkl backend ([backends.ezkl] in config.toml): ask with groth16"
                .into(),
        ));
    }
    if q.chain.is_some()
        && gw
            .config
            .backends
            .ezkl
            .as_ref()
            .and_then(|c| c.solc_js.as_ref())
            .is_none()
    {
        return Err(Error::Unprocessable(
            "this gateway settles no ezkl job on chain ([backends.ezkl] solc_js names no solc-js to compile its verifier contract)".into(),
        ));
    }
    if meta.ezkl_hash.as_deref().map(str::to_ascii_lowercase)
        != q.dataset.ezkl_hash.as_deref().map(str::to_ascii_lowercase)
    {
        return Err(Error::Conflict(format!(
            "the question pins the ezkl hash {:?}; the gateway publishes {:?} for `{}`",
            q.dataset.ezkl_hash, meta.ezkl_hash, meta.name
        )));
    }
    Ok(())
}

/// What the runner hands over: the job's facts as it checked them.
pub struct EzklJob<'a> {
    /// The job.
    pub job: &'a Job,
    /// Its question (asking for ezkl).
    pub question: &'a Question,
    /// The model, imported.
    pub model: &'a zkgate_zkml::import::Imported,
    /// The ONNX file.
    pub model_bytes: &'a [u8],
    /// The dataset, decrypted, and its salt.
    pub dataset: &'a zkgate_zkml::dataset::Dataset,
    /// The dataset's secret salt.
    pub secret: &'a zkgate_zkml::dataset::Secret,
    /// What the job computes.
    pub request: &'a zkgate_zkml::job::JobRequest,
    /// The dataset as published.
    pub meta: &'a DatasetMeta,
    /// The policy's facts of the job.
    pub facts: &'a crate::policy::Facts<'a>,
    /// The job nonce.
    pub nonce: zkgate_statement::Fr,
    /// The gateway's shard size for the dataset (the question pins it).
    pub shard_rows: u64,
}

/// Proves an ezkl job and stores its receipt.
pub fn prove(gw: &Gateway, j: EzklJob<'_>) -> Result<Timings> {
    let started = std::time::Instant::now();
    let b = backend(gw)
        .ok_or_else(|| Error::Unprocessable("the gateway no longer has an ezkl backend".into()))?;
    let cfg = gw.config.backends.ezkl.as_ref().expect("a backend");
    check_question(gw, j.meta, j.question)?;
    let spec = zkgate_zkml::job::compile_public(
        &j.model.model,
        &j.model.onnx_sha256,
        &j.dataset.schema,
        j.meta.rows,
        j.request,
    )?;
    let header = spec.header().with_shard_rows(j.shard_rows);
    crate::question::check_compiled(j.question, &header)?;
    let estimate = zkgate_zkml::cost::Estimate::of(&spec, j.meta.rows, None);
    if estimate.constraints > cfg.max_constraints {
        return Err(Error::Unprocessable(format!(
            "the job is {} constraints as a Groth16 circuit; this gateway gives ezkl jobs up to {} ([backends.ezkl] max_constraints: ezkl needs about 40 times the memory): ask with groth16",
            estimate.constraints, cfg.max_constraints
        )));
    }
    let eval = zkgate_zkml::spec::evaluate(&spec, &j.dataset.values)?;
    let facts = j
        .facts
        .clone()
        .compiled(estimate.constraints, estimate.memory);
    let below = crate::runner::judge(gw, j.job, &facts, &eval)?;
    if below > 0 && spec.aggregate.has_cells() {
        return Err(Error::Denied {
            rules: vec!["question-suppression".into()],
            message: format!(
                "the release policy suppresses cells below {below} rows, which ezkl cannot prove: ask with groth16"
            ),
        });
    }
    let graph =
        GraphSpec::new(&header, j.meta.rows).map_err(|e| Error::Unprocessable(e.to_string()))?;
    let dataset_hash = j.meta.ezkl_hash.clone().ok_or_else(|| {
        Error::Unprocessable(format!("dataset `{}` has no ezkl hash", j.meta.name))
    })?;
    let model_file = tempfile::NamedTempFile::new().map_err(|e| Error::io("model file", e))?;
    std::fs::write(model_file.path(), j.model_bytes).map_err(|e| Error::io("model file", e))?;
    let data = dataset_values(&j.dataset.values, j.secret.0);
    let binding = binding_limbs(j.nonce);
    let on_chain = j.job.manifest.chain_job.is_some();
    let proved = b
        .prove(
            &graph,
            model_file.path(),
            &data,
            &binding,
            &dataset_hash,
            on_chain,
        )
        .map_err(|e| refuse_over_rows(gw, j.job, e))?;
    // `prove` verified the proof, with the published dataset hash and this
    // job's binding as its instances, before the receipt is written.
    let creation = if on_chain {
        verifier_contract(gw, j.question, proved.solidity.as_deref())?
    } else {
        Vec::new()
    };
    let mut timings = proved.timings.clone();
    timings.insert("total_s".into(), started.elapsed().as_secs_f64());
    let rows = j.meta.rows;
    let receipt = Receipt {
        version: zkgate_statement::VERSION,
        result: decode(&header, rows, &proved.values, proved.proof.output_scale),
        commitment: j.meta.commitment.clone(),
        rows,
        nonce: fr_to_hex(j.nonce),
        values: proved.values.iter().map(i128::to_string).collect(),
        shards: Vec::new(),
        setup: format!(
            "ezkl: halo2 with KZG over the SRS kzg{}.srs (sha256 {}){}; a verifier verifies with its own copy of the SRS",
            proved.proof.logrows,
            proved.proof.srs_sha256,
            if proved.srs_insecure {
                ", INSECURE: made locally by `zkgate ezkl srs`, whoever made it can forge"
            } else {
                ""
            }
        ),
        agreement: None,
        quantization: serde_json::json!({
            "ezkl": proved.proof.settings.get("run_args").cloned().unwrap_or_default(),
            "peak_rss_mb": proved.peak_rss_mb,
            "pk_bytes": proved.pk_bytes,
        }),
        constraints: [("groth16_equivalent".to_string(), estimate.constraints)].into(),
        timings: timings.clone(),
        circuit: header,
        proof_system: ProofSystem::Ezkl,
        ezkl: Some(proved.proof),
    };
    // An on-chain job keeps its verifier contract's creation code where a
    // Groth16 job keeps its keys: the settlement deploys it.
    gw.store
        .put_receipt(&j.job.id, &receipt.to_json(), &creation)?;
    Ok(timings)
}

/// The creation code of the verifier contract ezkl rendered for the key
/// the job was proved with, compiled with the owner's solc-js: refused
/// unless its runtime code hashes to the verifier the question pins (the
/// researcher derived it from the question over their SRS; another SRS or
/// graph renders another contract, which the contract would refuse).
fn verifier_contract(gw: &Gateway, q: &Question, source: Option<&str>) -> Result<Vec<u8>> {
    let solc = gw
        .config
        .backends
        .ezkl
        .as_ref()
        .and_then(|c| c.solc_js.as_ref())
        .ok_or_else(|| Error::Unprocessable("[backends.ezkl] solc_js is gone".into()))?;
    let source =
        source.ok_or_else(|| Error::Unprocessable("ezkl rendered no verifier contract".into()))?;
    let v = zkgate_ezkl::compile_verifier(&gw.paths.root.join(solc), source).map_err(refuse)?;
    v.check_deployable().map_err(refuse)?;
    let ours = v.code_hash_hex();
    let pinned = q.ezkl_verifier.as_deref().unwrap_or_default();
    if !ours.eq_ignore_ascii_case(pinned) {
        return Err(Error::Unprocessable(format!(
            "the question pins the verifier contract {pinned}; the key proved with here, over this gateway's SRS, renders {ours} (another SRS, or another ezkl): the contract would refuse the settlement"
        )));
    }
    Ok(v.creation)
}
