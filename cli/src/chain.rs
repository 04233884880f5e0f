//! `zkgate chain ...`: the settlement contract from the command line, on
//! the embedded chain of a data dir or on any JSON-RPC node.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use zkgate_chain::abi::Status;
use zkgate_chain::alloy_primitives::{Address, B256, U256};
use zkgate_chain::config::{ChainConfig, Endpoint};
use zkgate_chain::{Chain, Settlement, Wallet};
use zkgate_gateway::config::Paths;
use zkgate_statement::field::fr_from_hex;

/// Where the contract is and who signs.
#[derive(Args, Clone)]
pub struct ChainArgs {
    /// The gateway's data dir: its embedded chain and `chain.json`.
    #[arg(long, default_value = "zkgate-data")]
    data_dir: PathBuf,
    /// A JSON-RPC node instead of the data dir's embedded chain.
    #[arg(long)]
    chain_rpc: Option<String>,
    /// The Settlement contract (default: the data dir's `chain.json`).
    #[arg(long)]
    contract: Option<Address>,
    /// CA certificate (PEM) of an `https://` node.
    #[arg(long)]
    chain_ca: Option<PathBuf>,
    /// The signer's private key file (hex).
    #[arg(long)]
    chain_key: Option<PathBuf>,
    /// Or a development account of a local chain (0, 1, 2).
    #[arg(long)]
    dev_account: Option<usize>,
}

impl ChainArgs {
    fn paths(&self) -> Paths {
        Paths::new(&self.data_dir)
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint {
            rpc: self.chain_rpc.clone(),
            contract: self.contract,
            ca_file: self.chain_ca.clone(),
            key_file: self.chain_key.clone(),
            dev_account: self.dev_account,
        }
    }

    /// The `chain.json` these flags give for `contract` on chain
    /// `chain_id` (paths made absolute; the development account 0 unless a
    /// key file is named).
    fn config(&self, contract: Address, chain_id: u64) -> Result<ChainConfig> {
        Ok(ChainConfig {
            contract,
            chain_id,
            rpc: self.chain_rpc.clone(),
            key_file: self
                .chain_key
                .clone()
                .map(std::path::absolute)
                .transpose()?,
            ca_file: self.chain_ca.clone().map(std::path::absolute).transpose()?,
            dev_account: if self.chain_key.is_none() {
                Some(self.dev_account.unwrap_or(0))
            } else {
                None
            },
        })
    }

    /// Whether a JSON-RPC node was named (`--chain-rpc`).
    pub fn rpc_given(&self) -> bool {
        self.chain_rpc.is_some()
    }

    /// The flags over the data dir's `chain.json`, read once.
    pub fn target(&self) -> Result<Target> {
        Ok(self.target_over(ChainConfig::load(&self.data_dir)?))
    }

    /// The same, with an unreadable `chain.json` counting as none (what
    /// `deploy` replaces).
    fn target_lenient(&self) -> Target {
        self.target_over(ChainConfig::load(&self.data_dir).ok().flatten())
    }

    fn target_over(&self, conf: Option<ChainConfig>) -> Target {
        Target {
            data_dir: self.data_dir.clone(),
            endpoint: self.endpoint(),
            conf,
        }
    }
}

/// A command's chain: the flags over the data dir's configuration.
pub struct Target {
    data_dir: PathBuf,
    endpoint: Endpoint,
    conf: Option<ChainConfig>,
}

impl Target {
    fn chain(&self) -> Result<Chain> {
        Ok(self
            .endpoint
            .chain_over(&self.data_dir, self.conf.as_ref())?)
    }

    /// The signer (never the public development key on a JSON-RPC chain
    /// unless `--dev-account` asks for it).
    pub(crate) fn wallet(&self, default_dev: usize) -> Result<Wallet> {
        Ok(self.endpoint.wallet(default_dev, self.conf.as_ref())?)
    }

    /// The contract, as the flags or else `chain.json` name it.
    pub fn settlement(&self) -> Result<Settlement> {
        match self
            .endpoint
            .settlement_over(&self.data_dir, self.conf.as_ref())?
        {
            Some(s) => Ok(s),
            None => bail!(
                "no contract: pass --contract or run `zkgate chain deploy --data-dir {}`",
                self.data_dir.display()
            ),
        }
    }
}

/// `zkgate chain`.
#[derive(Subcommand)]
pub enum ChainCmd {
    /// Deploy the Settlement contract and make the data dir settle on it.
    Deploy(ChainArgs),
    /// Make the data dir settle on a contract already deployed on a
    /// JSON-RPC chain (a chain shared by several owners, as a federation
    /// settles on): `chain.json` names it, the chain and this owner's key.
    Use(ChainArgs),
    /// Register a dataset's commitment (the data owner; gateway stopped).
    RegisterDataset(RegisterArgs),
    /// Open a job with escrow (the researcher).
    OpenJob(OpenArgs),
    /// Show an on-chain job and its settled values.
    Job(JobArgs),
    /// List the key bundles registered with the contract, with each key's
    /// circuit id: a ceremony's keys, once registered, serve every later
    /// job on their circuit (`chain open-job --verifier ID`).
    Verifiers(VerifiersArgs),
    /// Refund a job past its deadline to its researcher.
    Refund(JobArgs),
    /// Evaluation bounties: a prize for the best proven score.
    #[command(subcommand)]
    Bounty(crate::bounty::BountyCmd),
    /// Take what the contract credits the signer (a bounty's prize, fees,
    /// refunds, payments a contract refused).
    Withdraw(WithdrawArgs),
}

#[derive(Args)]
pub struct VerifiersArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// Only the bundles holding a key of this circuit (its id, hex, as a
    /// question's `circuit_ids` lists it).
    #[arg(long)]
    circuit: Option<String>,
}

#[derive(Args)]
pub struct WithdrawArgs {
    #[command(flatten)]
    chain: ChainArgs,
}

#[derive(Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The dataset's name in the gateway.
    #[arg(long)]
    dataset: String,
    /// Price of a job, in wei (default: the price the gateway publishes
    /// for the dataset).
    #[arg(long)]
    price_wei: Option<u128>,
    /// Price per row proved, in wei, on top of --price-wei: a job costs
    /// `price + rows * price per row`, charged exactly at settlement.
    #[arg(long)]
    price_per_row_wei: Option<u128>,
}

#[derive(Args)]
pub struct OpenArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The researcher's question (`zkgate submit --chain-dataset` writes
    /// one and opens its job itself): the job is opened for its hash, on
    /// the dataset and the commitment it pins, with the circuits it allows.
    #[arg(long)]
    question: PathBuf,
    /// Escrow, in wei (default: the dataset's price on chain, `priceOf`;
    /// anything above it is refunded at settlement).
    #[arg(long)]
    value_wei: Option<u128>,
    /// Seconds from now until the job can only be refunded.
    #[arg(long, default_value_t = 86_400)]
    deadline_secs: u64,
    /// The key bundle proofs must verify under (default: the data owner
    /// names a bundle of the question's circuits at settlement).
    #[arg(long)]
    verifier: Option<B256>,
    /// For an ezkl question: your ezkl, which hashes the job's nonce into
    /// the binding the job pins.
    #[command(flatten)]
    ezkl: crate::ezkl::EzklArgs,
}

#[derive(Args)]
pub struct JobArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The on-chain job id.
    job: u64,
}

pub(crate) fn print(v: serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(&v).expect("JSON prints"));
}

/// Runs a `chain` command.
pub fn run(cmd: ChainCmd) -> Result<()> {
    tokio::runtime::Runtime::new()?.block_on(async move {
        match cmd {
            ChainCmd::Deploy(a) => {
                let target = a.target_lenient();
                let owner = target.wallet(0)?;
                let chain = target.chain()?;
                let chain_id = chain.chain_id().await?;
                let (s, r) = Settlement::deploy(chain, &owner).await?;
                a.config(s.address(), chain_id)?.save(&a.data_dir)?;
                print(serde_json::json!({
                    "contract": s.address().to_string(), "chain_id": chain_id,
                    "owner": owner.address().to_string(), "tx": r.hash.to_string(),
                    "gas_used": r.gas_used,
                    "config": a.paths().chain_config().display().to_string(),
                }));
            }
            ChainCmd::Use(a) => {
                let (Some(_), Some(contract)) = (&a.chain_rpc, a.contract) else {
                    bail!("which contract? --chain-rpc URL and --contract ADDRESS (a contract on the data dir's embedded chain is `chain deploy`'s)");
                };
                let target = a.target_lenient();
                let chain_id = target.chain()?.chain_id().await?;
                let owner = target.wallet(0)?;
                a.config(contract, chain_id)?.save(&a.data_dir)?;
                print(serde_json::json!({
                    "contract": contract.to_string(), "chain_id": chain_id,
                    "owner": owner.address().to_string(),
                    "config": a.paths().chain_config().display().to_string(),
                }));
            }
            ChainCmd::RegisterDataset(a) => {
                let meta = zkgate_gateway::owner::setup::published_dataset(&a.chain.paths(), &a.dataset)
                    .context("opening the store (is the gateway running?)")?
                    .with_context(|| format!("no dataset `{}`", a.dataset))?;
                let schema_hash = B256::from(meta.schema.sha256());
                let price = a.price_wei.unwrap_or(u128::from(meta.price));
                if price != u128::from(meta.price) {
                    eprintln!(
                        "zkgate: dataset `{}` is priced {} wei at the gateway and {price} wei on chain: on-chain jobs pay the chain's price",
                        meta.name, meta.price
                    );
                }
                let target = a.chain.target()?;
                let (s, owner) = (target.settlement()?, target.wallet(0)?);
                let (id, r) = s
                    .register_dataset(
                        &owner,
                        fr_from_hex(&meta.commitment)?,
                        meta.rows,
                        schema_hash,
                        U256::from(price),
                    )
                    .await?;
                if let Some(per_row) = a.price_per_row_wei {
                    s.set_row_price(&owner, id, U256::from(per_row)).await?;
                }
                print(serde_json::json!({
                    "dataset_id": id, "dataset": meta.name, "commitment": meta.commitment,
                    "rows": meta.rows, "schema_sha256": schema_hash.to_string(),
                    "price_wei": price.to_string(),
                    "price_per_row_wei": a.price_per_row_wei.unwrap_or(0).to_string(),
                    "job_price_wei": s.price_of(id).await?.to_string(),
                    "tx": r.hash.to_string(), "gas_used": r.gas_used,
                }));
            }
            ChainCmd::OpenJob(a) => {
                let text = std::fs::read(&a.question)
                    .with_context(|| format!("reading {}", a.question.display()))?;
                let q = zkgate_statement::Question::from_json(&text)?;
                let Some(pin) = &q.chain else {
                    bail!("the question names no settlement contract: write it with `zkgate submit --chain-dataset`");
                };
                let target = a.chain.target()?;
                let (s, researcher) = (target.settlement()?, target.wallet(1)?);
                if pin.contract_bytes()? != s.address().0 .0
                    || pin.chain_id != s.chain().chain_id().await?
                {
                    bail!(
                        "the question is for contract {} on chain {}, not {}",
                        pin.contract,
                        pin.chain_id,
                        s.address()
                    );
                }
                if pin.researcher_bytes()? != researcher.address().0 .0 {
                    bail!(
                        "the question is opened by {}, not by this key's address {}",
                        pin.researcher,
                        researcher.address()
                    );
                }
                let deadline = s.chain().now().await? + a.deadline_secs;
                let value = match a.value_wei {
                    Some(v) => U256::from(v),
                    None => s.price_of(pin.dataset_id).await?,
                };
                let o = if q.proof_system == zkgate_statement::ezkl::ProofSystem::Ezkl {
                    let binding = a.ezkl.backend()?.binding_hash(q.job_nonce())?;
                    zkgate_chain::settlement::OpenJob::for_ezkl_question(
                        &q,
                        binding,
                        pin.dataset_id,
                        deadline,
                        value,
                    )?
                } else {
                    zkgate_chain::settlement::OpenJob {
                        verifier: a.verifier.unwrap_or(B256::ZERO),
                        ..zkgate_chain::settlement::OpenJob::for_question(
                            &q,
                            pin.dataset_id,
                            deadline,
                            value,
                        )?
                    }
                };
                let (id, r) = s.open_job(&researcher, &o).await?;
                print(serde_json::json!({
                    "job": id, "dataset_id": pin.dataset_id, "deadline": deadline,
                    "question_sha256": hex::encode(q.hash()),
                    "escrow_wei": value.to_string(), "researcher": researcher.address().to_string(),
                    "tx": r.hash.to_string(), "gas_used": r.gas_used,
                }));
            }
            ChainCmd::Job(a) => {
                let s = a.chain.target()?.settlement()?;
                let job = s.job(a.job).await?;
                if job.status == Status::None {
                    bail!("no on-chain job {}", a.job);
                }
                let event = s.settled_event(a.job).await?;
                print(serde_json::json!({
                    "job": a.job, "state": job, "values": s.result(a.job).await?
                        .iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                    "settled_in": event.map(|(_, l)| serde_json::json!({"tx": l.tx.to_string(), "block": l.block})),
                }));
            }
            ChainCmd::Verifiers(a) => {
                let s = a.chain.target()?.settlement()?;
                let want = a
                    .circuit
                    .as_deref()
                    .map(zkgate_statement::field::fr_from_hex)
                    .transpose()?;
                let listed: Vec<_> = s
                    .verifiers()
                    .await?
                    .into_iter()
                    .filter(|v| {
                        want.is_none_or(|w| {
                            v.circuits
                                .iter()
                                .any(|c| zkgate_statement::field::fr_from_hex(c).ok() == Some(w))
                        })
                    })
                    .collect();
                print(serde_json::json!({ "verifiers": listed }));
            }
            ChainCmd::Bounty(c) => crate::bounty::run(c).await?,
            ChainCmd::Withdraw(a) => {
                let target = a.chain.target()?;
                let (s, who) = (target.settlement()?, target.wallet(1)?);
                let owed = s.owed(who.address()).await?;
                if owed.is_zero() {
                    bail!("nothing is owed to {}", who.address());
                }
                let r = s.withdraw(&who).await?;
                print(serde_json::json!({
                    "to": who.address().to_string(), "amount_wei": owed.to_string(),
                    "tx": r.hash.to_string(),
                }));
            }
            ChainCmd::Refund(a) => {
                let target = a.chain.target()?;
                let s = target.settlement()?;
                let r = s.refund(&target.wallet(1)?, a.job).await?;
                print(serde_json::json!({"job": a.job, "refunded_in": r.hash.to_string()}));
            }
        }
        Ok(())
    })
}
