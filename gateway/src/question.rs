//! The researcher's question on the gateway's side: a submission carrying
//! one ([`zkgate_statement::Question`]) is accepted only when the question
//! is about this dataset as published now, this model file and this
//! manifest, and the compiled circuit is checked against it again before
//! any key is made, so the gateway never proves what the researcher will
//! reject.

use crate::error::{Error, Result};
use crate::store::{DatasetMeta, Manifest};
use zkgate_statement::field::same_field;
use zkgate_statement::question::ChainPin;
use zkgate_statement::{Question, ShardPlan, SpecHeader};

/// The researcher's question for `manifest` over the dataset as published
/// (`meta`, as `GET /v1/datasets` serves it: schema, rows, commitment and
/// shard size; the rows themselves are never needed), compiled from the
/// ONNX file `model`, with the owner's `suppress_below_max`, settled on
/// `chain` if given, and the researcher's 32 random bytes `nonce`.
pub fn ask(
    meta: &DatasetMeta,
    manifest: &Manifest,
    model: &[u8],
    suppress_below_max: u64,
    chain: Option<ChainPin>,
    nonce: [u8; 32],
) -> Result<Question> {
    let published = zkgate_zkml::question::Published {
        name: &meta.name,
        commitment: &meta.commitment,
        schema: &meta.schema,
        rows: meta.rows,
        shard_rows: meta.shard_rows,
    };
    let request = crate::runner::request_of(manifest);
    match zkgate_zkml::question::ask(
        &published,
        &request,
        model,
        suppress_below_max,
        chain,
        nonce,
    ) {
        Err(zkgate_zkml::Error::Job(m)) => Err(Error::BadRequest(m)),
        r => Ok(r?),
    }
}

/// Rows per shard proof the gateway uses for `meta` with the configured
/// `limit` (`limits.shard_rows`, 0 for none): the pipeline's rule, so the
/// size a question pins is the size the job is proved in.
pub fn shard_rows(meta: &DatasetMeta, limit: u64) -> u64 {
    let shape = zkgate_statement::header::shape_of(&meta.schema, meta.rows);
    ShardPlan::new(shape, Some(limit).filter(|r| *r > 0)).size()
}

/// Refuses a submission whose question is not about `meta` as published,
/// the model whose ONNX hash is `model_sha256`, the manifest's own fields
/// (`columns`: the names the manifest selects, resolved) and the gateway's
/// shard size `shard_rows`.
pub fn check_submission(
    meta: &DatasetMeta,
    manifest: &Manifest,
    model_sha256: &str,
    columns: &[String],
    shard_rows: u64,
) -> Result<()> {
    let Some(q) = &manifest.question else {
        return Ok(());
    };
    q.check_self()
        .map_err(|e| Error::BadRequest(e.to_string()))?;
    match (manifest.chain_job, &q.chain) {
        (Some(_), None) => {
            return Err(Error::BadRequest(
                "an on-chain job's question names the settlement contract (`chain`): its nonce is the contract's".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(Error::BadRequest(
                "the question is for an on-chain job: give its id (`chain_job`)".into(),
            ))
        }
        _ => {}
    }
    if manifest.nonce.is_some() {
        return Err(Error::BadRequest(
            "a manifest with a question gives its nonce in the question only".into(),
        ));
    }
    let d = &q.dataset;
    let schema = hex::encode(meta.schema.sha256());
    if d.name != meta.name
        || !same_field(&d.commitment, &meta.commitment)
        || d.rows != meta.rows
        || d.schema_sha256 != schema
    {
        return Err(Error::Conflict(format!(
            "the question pins dataset `{}` with commitment {}, {} rows and schema {}; the gateway publishes `{}` with {}, {} rows and schema {schema}",
            d.name, d.commitment, d.rows, d.schema_sha256, meta.name, meta.commitment, meta.rows
        )));
    }
    let field = if q.model_sha256 != model_sha256 {
        Some("model file")
    } else if q.aggregate != manifest.aggregate {
        Some("aggregate")
    } else if q.quant != manifest.quant {
        Some("quantization")
    } else if q.epsilon != manifest.epsilon {
        Some("epsilon")
    } else if q.columns != columns {
        Some("columns")
    } else {
        None
    };
    if let Some(f) = field {
        return Err(Error::BadRequest(format!(
            "the manifest's {f} is not the question's"
        )));
    }
    if let Some(s) = q.owner.shard_rows {
        if s != shard_rows {
            return Err(Error::Conflict(format!(
                "the question pins shards of {s} rows; the gateway proves this dataset in shards of {shard_rows} rows now"
            )));
        }
    }
    Ok(())
}

/// Refuses to prove a compiled circuit (`header`, at the job's shard size,
/// with the suppression the release policy chose) that is not the
/// question's.
pub fn check_compiled(q: &Question, header: &SpecHeader) -> Result<()> {
    q.check_header(header).map_err(|m| {
        Error::Unprocessable(format!(
            "the gateway compiled another circuit than the question expects: {}: {}",
            m.field, m.detail
        ))
    })
}
