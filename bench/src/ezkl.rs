//! The same job proved with ezkl (`zkgate bench --ezkl-python`): setup,
//! proof and verification times, the driver's peak memory, key and proof
//! bytes, and with `--solc-js` the gas of its on-chain settlement (the
//! verifier contract deployed and added, the dataset's ezkl hash
//! published, the job opened and settled) on a fresh embedded chain, next
//! to the Groth16 figures of the same case.

use anyhow::{Context, Result};
use std::path::Path;
use std::time::{Duration, Instant};
use zkgate_chain::alloy_primitives::{B256, U256};
use zkgate_chain::settlement::{ezkl_calldata, ezkl_circuits, OpenJob};
use zkgate_chain::Wallet;
use zkgate_statement::ezkl::{binding_limbs, dataset_values, felt_to_fr, GraphSpec};
use zkgate_zkml::dataset::{Dataset, Secret};

/// Where ezkl (and solc-js) are.
pub struct EzklBench<'a> {
    /// A Python with ezkl.
    pub python: &'a Path,
    /// The pinned solc-js, for the on-chain figures.
    pub solc_js: Option<&'a Path>,
    /// Only size the circuit (`size`).
    pub size_only: bool,
}

impl EzklBench<'_> {
    /// The backend over the SRS directory `srs`, making the SRS files it
    /// lacks with `make_srs`.
    fn backend(
        &self,
        srs: &Path,
        timeout: Duration,
        memory_mb: u64,
        make_srs: bool,
    ) -> zkgate_ezkl::Backend {
        zkgate_ezkl::Backend {
            python: self.python.to_path_buf(),
            srs_dir: srs.to_path_buf(),
            timeout,
            memory_mb,
            max_logrows: None,
            make_srs,
        }
    }
}

/// The chain side of the ezkl figures: a fresh embedded chain with the
/// dataset registered (`GasBench::open`) before proving, as the question's
/// hash fixes the job nonce the proof binds.
struct Chained(crate::gas::GasBench);

impl Chained {
    fn open(dataset: &Dataset, secret: &Secret) -> Result<Chained> {
        Ok(Chained(crate::gas::GasBench::open(dataset, secret)?))
    }

    /// Deploys the verifier, publishes the hash, opens and settles the job.
    fn settle(
        &self,
        verifier: &zkgate_ezkl::EvmVerifier,
        dataset_hash: zkgate_zkml::Fr,
        binding: zkgate_zkml::Fr,
        proof: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let owner = Wallet::dev(0)?;
        let code = B256::from(verifier.code_hash());
        let g = &self.0;
        g.rt.block_on(async {
            let s = &g.s;
            let r = s.publish_ezkl_hash(&owner, g.dataset, dataset_hash).await?;
            let publish = r.gas_used;
            let (_, _, deploy_and_add) = s
                .add_ezkl_verifier(&owner, &verifier.creation, code)
                .await?;
            let circuits = ezkl_circuits(code, dataset_hash, binding);
            let deadline = s.chain().now().await? + 86_400;
            let (job, r) = s
                .open_job(
                    &Wallet::dev(1)?,
                    &OpenJob {
                        dataset: g.dataset,
                        commitment: g.commitment,
                        question: g.question,
                        circuits: circuits.clone(),
                        verifier: B256::ZERO,
                        deadline,
                        value: U256::from(1u64),
                    },
                )
                .await?;
            let open = r.gas_used;
            let call = ezkl_calldata(proof)?;
            let calldata_bytes = call.len();
            let settled = s.settle_ezkl(&owner, job, &circuits, call).await?;
            anyhow::Ok(serde_json::json!({
                "verifier_runtime_bytes": verifier.runtime.len(),
                "gas": {
                    "publish_ezkl_hash": publish,
                    "deploy_and_add_verifier": deploy_and_add,
                    "open_job": open,
                    "settle": settled.gas_used,
                },
                "settle_calldata_bytes": calldata_bytes,
            }))
        })
    }
}

/// The case's job proved with ezkl: the graph of the same question, the
/// dataset hashed with its salt, bound to a job nonce.
pub fn run(
    e: &EzklBench<'_>,
    out: &zkgate_zkml::pipeline::Outcome,
    model: &Path,
    dataset: &Dataset,
    secret: &Secret,
) -> Result<serde_json::Value> {
    let srs = tempfile::Builder::new()
        .prefix("zkgate-ezkl-srs-")
        .tempdir()?;
    let backend = e.backend(srs.path(), Duration::from_secs(6 * 3600), 0, true);
    let rows = dataset.rows() as u64;
    let header = &out.receipt.circuit;
    let graph = GraphSpec::new(header, rows)?;
    let chained = match e.solc_js {
        Some(_) => Some(Chained::open(dataset, secret)?),
        None => None,
    };
    let nonce = chained.as_ref().map_or_else(
        || zkgate_statement::nonce_from(b"ezkl bench"),
        |c| c.0.nonce,
    );
    let data = dataset_values(&dataset.values, secret.0);
    let t = Instant::now();
    let hash = backend.hash(&data)?;
    let hash_s = t.elapsed().as_secs_f64();
    let binding = binding_limbs(nonce);
    let t = Instant::now();
    let proved = backend
        .prove(&graph, model, &data, &binding, &hash, e.solc_js.is_some())
        .map_err(|e| anyhow::anyhow!(e.for_owner()))?;
    let prove_wall_s = t.elapsed().as_secs_f64();
    let values: Vec<i128> = proved.values.clone();
    let t = Instant::now();
    let checked = backend.verify(&graph, model, &proved.proof, &hash, &binding, &values)?;
    let verify_s = t.elapsed().as_secs_f64();
    let result = zkgate_statement::ezkl::decode(header, rows, &values, proved.proof.output_scale);
    let proof_bytes = proved.proof.proof["hex_proof"]
        .as_str()
        .map_or(0, |h| h.trim_start_matches("0x").len() / 2);
    let chain = match (chained, e.solc_js, &proved.solidity) {
        (Some(c), Some(solc), Some(source)) => {
            let verifier = zkgate_ezkl::compile_verifier(solc, source)?;
            if verifier.deployable() {
                let binding_hash = proved.proof.proof["instances"][0][1]
                    .as_str()
                    .context("no binding instance")
                    .and_then(|f| felt_to_fr(f).map_err(anyhow::Error::from))?;
                Some(c.settle(
                    &verifier,
                    felt_to_fr(&hash)?,
                    binding_hash,
                    &proved.proof.proof,
                )?)
            } else {
                // Over EIP-170: no chain deploys it.
                Some(serde_json::json!({
                    "verifier_runtime_bytes": verifier.runtime.len(),
                    "deployable": false,
                }))
            }
        }
        _ => None,
    };
    Ok(serde_json::json!({
        "logrows": proved.proof.logrows,
        "timings": proved.timings,
        "setup_s": proved.timings.get("setup_s"),
        "prove_s": proved.timings.get("prove_s"),
        "prove_wall_s": prove_wall_s,
        "hash_dataset_s": hash_s,
        "verify_s": verify_s,
        "valid": matches!(checked, zkgate_ezkl::Checked::Valid { .. }),
        "peak_rss_mb": proved.peak_rss_mb,
        "pk_bytes": proved.pk_bytes,
        "proof_bytes": proof_bytes,
        "output_scale": proved.proof.output_scale,
        "result": result,
        "settlement": chain,
    }))
}

/// The size ezkl's calibration gives the case's job graph (no key made,
/// nothing proved): its power of two, and the calibration's time and
/// memory (`zkgate bench --ezkl-size`, for the limits table).
pub fn size(
    e: &EzklBench<'_>,
    header: &zkgate_statement::SpecHeader,
    model: &Path,
    rows: u64,
) -> Result<serde_json::Value> {
    let srs = tempfile::Builder::new()
        .prefix("zkgate-ezkl-srs-")
        .tempdir()?;
    let backend = e.backend(srs.path(), Duration::from_secs(900), 16 << 10, false);
    let graph = GraphSpec::new(header, rows)?;
    let (logrows, reply) = backend.size(&graph, model)?;
    Ok(serde_json::json!({
        "logrows": logrows,
        "num_rows": reply["num_rows"],
        "total_assignments": reply["total_assignments"],
        "timings": reply["timings"],
        "calibrate_peak_rss_mb": reply["peak_rss_mb"],
    }))
}
