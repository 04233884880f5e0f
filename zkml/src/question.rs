//! The researcher's question on the researcher's side: compiled from the
//! dataset as the gateway publishes it and the model file (the rows are
//! never needed), and the check that a model is the one a question or a
//! receipt names. The CLI, the gateway and the Python package share these,
//! so a question is built and checked the same way everywhere.

use crate::error::{Error, Result};
use crate::import::Imported;
use crate::job::{compile_public, rebuild, JobRequest};
use crate::spec::CircuitSpec;
use zkgate_statement::question::{CeremonyPin, ChainPin, OwnerBounds};
use zkgate_statement::{Question, Receipt, Schema};

/// A dataset as the gateway publishes it (`GET /v1/datasets`).
#[derive(Clone, Copy, Debug)]
pub struct Published<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its commitment, hex.
    pub commitment: &'a str,
    /// Its declared schema.
    pub schema: &'a Schema,
    /// Its rows.
    pub rows: u64,
    /// Rows per shard proof the gateway uses for it now.
    pub shard_rows: Option<u64>,
}

/// The researcher's question for `request` over `dataset`, compiled from
/// the ONNX file `model`, allowing the owner's release policy to suppress
/// cells below at most `suppress_below_max` rows, settled on `chain` if
/// given, with the researcher's 32 random bytes `nonce`.
pub fn ask(
    dataset: &Published<'_>,
    request: &JobRequest,
    model: &[u8],
    suppress_below_max: u64,
    chain: Option<ChainPin>,
    nonce: [u8; 32],
) -> Result<Question> {
    let imported = crate::import::load_bytes(model)?;
    let spec = compile_public(
        &imported.model,
        &imported.onnx_sha256,
        dataset.schema,
        dataset.rows,
        request,
    )?;
    let mut q = Question::new(
        dataset.name,
        dataset.commitment,
        dataset.rows,
        spec.header().clone(),
        OwnerBounds {
            shard_rows: dataset.shard_rows,
            suppress_below_max,
        },
        nonce,
    );
    q.chain = chain;
    q.check_self().map_err(|e| Error::Job(e.to_string()))?;
    Ok(q)
}

/// Why `q` is not a question about `model` (`None`: its expected circuit
/// is what the model compiles to over the question's schema and rows).
pub fn model_mismatch(q: &Question, model: &Imported) -> Option<String> {
    let e = &q.expected_circuit;
    let request = JobRequest {
        aggregate: q.aggregate.clone(),
        input_columns: Some(q.columns.clone()),
        quant: q.quant,
        epsilon: q.epsilon,
    };
    match compile_public(
        &model.model,
        &model.onnx_sha256,
        &e.schema,
        q.dataset.rows,
        &request,
    ) {
        Err(err) => Some(format!(
            "the question does not compile with this model: {err}"
        )),
        Ok(spec) if spec.header().with_shard_rows(e.shard_rows) != *e => Some(
            "the question's expected circuit is not what this model compiles to over its schema"
                .into(),
        ),
        Ok(_) => None,
    }
}

/// The circuit of `receipt` rebuilt from `model`, or why `receipt` is not
/// `model`'s: with the `question` it answers, the question's circuit is
/// rebuilt from the model first; then the receipt's own circuit is, from
/// the model and the receipt's schema.
pub fn receipt_circuit(
    receipt: &Receipt,
    question: Option<&Question>,
    model: &Imported,
) -> std::result::Result<CircuitSpec, String> {
    if let Some(why) = question.and_then(|q| model_mismatch(q, model)) {
        return Err(why);
    }
    rebuild(&model.model, &model.onnx_sha256, &receipt.circuit)
}

/// The question's pin of ceremony keys (`.zkey` files, their transcripts
/// inside): each by its verifying key's SHA-256, with the contribution
/// hash of the last contribution to the first (the researcher's own),
/// and the BLAKE2b of the powers-of-tau file they were made over.
/// `None` for no keys.
pub fn ceremony_pin(zkeys: &[Vec<u8>], ptau_blake2b: Option<&str>) -> Result<Option<CeremonyPin>> {
    let mut pin: Option<CeremonyPin> = None;
    for (i, zkey) in zkeys.iter().enumerate() {
        let (key, transcript) = crate::ceremony::read(zkey)
            .map_err(|e| Error::Job(format!("reading ceremony key {}: {e}", i + 1)))?;
        let Some(mine) = transcript.contributions.last() else {
            return Err(Error::Job(format!(
                "ceremony key {} has no contribution: contribute to it first",
                i + 1
            )));
        };
        let vk = zkgate_statement::groth16::vk_sha256(&crate::prove::verifying_key(&key));
        pin.get_or_insert_with(|| CeremonyPin {
            contribution_hash: hex::encode(mine.hash()),
            vk_sha256: Vec::new(),
            ptau_blake2b: ptau_blake2b.map(str::to_ascii_lowercase),
        })
        .vk_sha256
        .push(vk);
    }
    Ok(pin)
}

/// Reads a ceremony key the gateway kept (`GET /v1/ceremony/keys/{vk}`)
/// and checks that its verifying key hashes to `vk`, the name it was
/// asked by.
pub fn kept_key(zkey: &[u8], vk: &str) -> Result<()> {
    let (key, _) = crate::ceremony::read(zkey)
        .map_err(|e| Error::Job(format!("reading kept key {vk}: {e}")))?;
    let got = zkgate_statement::groth16::vk_sha256(&crate::prove::verifying_key(&key));
    if !got.eq_ignore_ascii_case(vk) {
        return Err(Error::Job(format!(
            "the gateway's kept key {vk} has verifying key {got}"
        )));
    }
    Ok(())
}
