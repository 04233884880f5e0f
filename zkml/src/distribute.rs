//! Shards proved by other processes: the task a shard becomes (everything
//! a prover needs and nothing else: the circuit's spec, the public
//! statement, the shard's rows only, the salt and the links' private side)
//! and the [`ShardProver`] a pipeline hands its shards to. Whoever proves,
//! the pipeline verifies every proof against its own key and statement
//! before a receipt is written, so a prover can waste a job's time, never
//! change its result.

use crate::circuit::{Links, Witness};
use crate::dataset::Secret;
use crate::error::{Error, Result};
use crate::prove::ProvingKey;
use crate::quantize::Plan;
use crate::spec::CircuitSpec;
use serde::{Deserialize, Serialize};
use zkgate_statement::field::{fr_from_hex, fr_to_hex};
use zkgate_statement::groth16::{Proof, VerifyingKey};
use zkgate_statement::{SpecHeader, Statement};

/// A shard's public statement in JSON (field elements in hex, values in
/// decimal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireStatement {
    /// The dataset commitment.
    pub commitment: String,
    /// Rows in the dataset.
    pub rows: u64,
    /// The job binding.
    pub nonce: String,
    /// The circuit id.
    pub circuit_id: String,
    /// The shard's first row.
    pub offset: u64,
    /// The shard's real rows.
    pub active: u64,
    /// The link before the shard.
    pub link_in: String,
    /// The link after it.
    pub link_out: String,
    /// The suppression threshold it publishes, for a circuit that takes
    /// one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress_below: Option<u64>,
    /// The values it publishes.
    pub aggregates: Vec<String>,
}

impl WireStatement {
    /// The wire form of `s`.
    pub fn of(s: &Statement) -> WireStatement {
        WireStatement {
            commitment: fr_to_hex(s.commitment),
            rows: s.rows,
            nonce: fr_to_hex(s.nonce),
            circuit_id: fr_to_hex(s.circuit_id),
            offset: s.offset,
            active: s.active,
            link_in: fr_to_hex(s.link_in),
            link_out: fr_to_hex(s.link_out),
            suppress_below: s.suppress_below,
            aggregates: s.aggregates.iter().map(i128::to_string).collect(),
        }
    }

    /// The statement.
    pub fn statement(&self) -> Result<Statement> {
        Ok(Statement {
            commitment: fr_from_hex(&self.commitment)?,
            rows: self.rows,
            nonce: fr_from_hex(&self.nonce)?,
            circuit_id: fr_from_hex(&self.circuit_id)?,
            offset: self.offset,
            active: self.active,
            link_in: fr_from_hex(&self.link_in)?,
            link_out: fr_from_hex(&self.link_out)?,
            suppress_below: self.suppress_below,
            aggregates: self
                .aggregates
                .iter()
                .map(|a| {
                    a.parse()
                        .map_err(|_| Error::Job(format!("task: `{a}` is not an integer")))
                })
                .collect::<Result<_>>()?,
        })
    }
}

/// One shard to prove. It holds the shard's rows and the dataset's salt:
/// it travels encrypted to the owner's provers only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardTask {
    /// The job (the dispatcher's name for it).
    pub job: String,
    /// The shard, from 0.
    pub shard: usize,
    /// Shards in the job.
    pub shards: usize,
    /// SHA-256 of the verifying key the proof must verify under (a prover
    /// checks the proving key it fetched against it).
    pub vk_sha256: String,
    /// The circuit's public header.
    pub header: SpecHeader,
    /// The quantized model.
    pub plan: Plan,
    /// What the proof states.
    pub statement: WireStatement,
    /// The shard's real rows, column-major (rows `offset..offset +
    /// active` of the dataset, nothing else: the prover pads).
    pub columns: Vec<Vec<i64>>,
    /// The dataset's salt, hex.
    pub secret: String,
    /// The commitment chain's value before the shard, hex.
    pub h_in: String,
    /// The job's totals before the shard.
    pub acc_in: Vec<String>,
}

impl ShardTask {
    /// The task of shard `shard` of `shards`: the rows of `statement`'s
    /// range are copied out of `columns` (the whole dataset).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        shard: usize,
        shards: usize,
        spec: &CircuitSpec,
        vk: &VerifyingKey,
        statement: &Statement,
        columns: &[Vec<i64>],
        secret: &Secret,
        links: Links<'_>,
    ) -> ShardTask {
        let start = statement.offset as usize;
        let end = start + statement.active as usize;
        ShardTask {
            job: String::new(),
            shard,
            shards,
            vk_sha256: zkgate_statement::groth16::vk_sha256(vk),
            header: spec.header().clone(),
            plan: spec.plan().clone(),
            statement: WireStatement::of(statement),
            columns: columns.iter().map(|c| c[start..end].to_vec()).collect(),
            secret: fr_to_hex(secret.0),
            h_in: fr_to_hex(links.h_in),
            acc_in: links.acc_in.iter().map(i128::to_string).collect(),
        }
    }

    /// The circuit's spec, checked against the statement's circuit id.
    pub fn spec(&self) -> Result<CircuitSpec> {
        let spec = CircuitSpec::new(self.header.clone(), self.plan.clone());
        if fr_to_hex(spec.id()) != self.statement.circuit_id {
            return Err(Error::Job(
                "task: the spec is not the statement's circuit".into(),
            ));
        }
        let rows = self.statement.active as usize;
        if self.columns.len() != spec.schema.columns.len()
            || self.columns.iter().any(|c| c.len() != rows)
            || rows == 0
            || rows as u64 > spec.shard_rows
        {
            return Err(Error::Job(format!(
                "task: expected {} columns of {rows} rows",
                spec.schema.columns.len()
            )));
        }
        Ok(spec)
    }

    /// Proves the shard with `pk` (the key of [`ShardTask::spec`]'s
    /// circuit).
    pub fn prove<R: rand::RngCore + rand::CryptoRng>(
        &self,
        pk: &ProvingKey,
        rng: &mut R,
    ) -> Result<Proof> {
        let spec = self.spec()?;
        let statement = self.statement.statement()?;
        let secret = Secret(fr_from_hex(&self.secret)?);
        let acc_in: Vec<i128> = self
            .acc_in
            .iter()
            .map(|a| {
                a.parse()
                    .map_err(|_| Error::Job(format!("task: `{a}` is not an integer")))
            })
            .collect::<Result<_>>()?;
        let witness = Witness {
            columns: &self.columns,
            row_base: statement.offset as usize,
            secret: &secret,
            statement: &statement,
            links: Links {
                h_in: fr_from_hex(&self.h_in)?,
                acc_in: &acc_in,
            },
        };
        crate::prove::prove(&spec, pk, witness, rng)
    }
}

/// Proves a job's shards somewhere else (a queue of the owner's provers).
/// It returns one proof per task, in order, each checked against the
/// task's key and statement; `done` is told how many are proved as they
/// come.
pub trait ShardProver {
    /// Proves every task; `keys[i]` is task `i`'s verifying key.
    fn prove_all(
        &self,
        tasks: Vec<ShardTask>,
        keys: Vec<VerifyingKey>,
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<Proof>>;
}

/// Whether `proof` proves `statement` under `vk` (a proof that cannot be
/// checked at all is not one).
pub fn proves(vk: &VerifyingKey, statement: &Statement, proof: &Proof) -> bool {
    zkgate_statement::groth16::verify(vk, statement, proof).unwrap_or(false)
}
