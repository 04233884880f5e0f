//! `zkgate chain bounty ...`: evaluation bounties on the settlement
//! contract. A sponsor opens one on a registered dataset with a prize;
//! researchers enter with `zkgate submit --bounty ID`; the owner's gateway
//! proves and settles each entry like any on-chain job; after the deadline
//! anyone finalizes it and the contract pays the best proven score.

use crate::chain::{print, ChainArgs};
use crate::researcher::{ok, Remote};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use zkgate_chain::alloy_primitives::U256;
use zkgate_chain::bounty::{score_text, BountyView, Terms};
use zkgate_chain::Settlement;
use zkgate_statement::bounty::{Metric, Template};
use zkgate_statement::field::fr_from_hex;

/// `zkgate chain bounty`.
#[derive(Subcommand)]
pub enum BountyCmd {
    /// Open a bounty with a prize (the sponsor): its question is the
    /// dataset's published schema, the columns and the aggregate given
    /// here; entries bring their own models.
    Open(Box<OpenArgs>),
    /// Show a bounty, its entries and their proven scores.
    Show(IdArgs),
    /// End a bounty after its deadline (anyone): the best proven score
    /// wins; prize and fees are credited (`zkgate chain withdraw`).
    Finalize(IdArgs),
    /// Take a bounty back (its sponsor), while no entry is settled.
    Cancel(IdArgs),
}

#[derive(Args)]
pub struct OpenArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The gateway that publishes the dataset (its schema and commitment).
    #[command(flatten)]
    remote: Remote,
    /// The dataset's name at the gateway.
    #[arg(long)]
    dataset: String,
    /// Its id in the contract's registry.
    #[arg(long)]
    chain_dataset: u64,
    /// What entries are ranked by: accuracy, balanced-accuracy, f1, mse or
    /// mae.
    #[arg(long)]
    metric: String,
    /// The aggregate every entry proves: accuracy or confusion (accuracy),
    /// confusion (balanced-accuracy, f1), mse, mae.
    #[arg(long)]
    aggregate: String,
    /// The label column.
    #[arg(long)]
    label: String,
    /// Columns feeding every model, comma-separated, in input order
    /// (default: every column but the label).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// The prize, in wei.
    #[arg(long)]
    prize_wei: u128,
    /// Each entry's fee, in wei (at least the dataset's price on chain,
    /// the default; it pays the owner for the entry's proof).
    #[arg(long)]
    entry_fee_wei: Option<u128>,
    /// Seconds from now until entries close.
    #[arg(long, default_value_t = 7 * 86_400)]
    closes_secs: u64,
    /// Seconds from now until entries must be settled (after that, anyone
    /// may finalize).
    #[arg(long, default_value_t = 8 * 86_400)]
    deadline_secs: u64,
    /// If the owner leaves an entry unsettled, give the prize back to the
    /// sponsor (default: the best settled entry still wins; either way the
    /// owner then forfeits every entry fee).
    #[arg(long)]
    void_if_withheld: bool,
}

#[derive(Args)]
pub struct IdArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The bounty's id.
    bounty: u64,
}

/// A bounty as an entrant reads it: its terms and its question.
pub struct Bounty {
    pub view: BountyView,
    pub template: Template,
}

/// Reads bounty `id` from the contract.
pub async fn read(s: &Settlement, id: u64) -> Result<Bounty> {
    Ok(Bounty {
        view: s.bounty(id).await.with_context(|| format!("bounty {id}"))?,
        template: s.bounty_template(id).await?,
    })
}

/// What an entry's question must ask, in words.
pub fn describe(t: &Template) -> String {
    format!(
        "{} of the model fed {}",
        serde_json::to_string(&t.aggregate).unwrap_or_default(),
        t.input_names().join(",")
    )
}

/// Runs a `chain bounty` command.
pub async fn run(cmd: BountyCmd) -> Result<()> {
    match cmd {
        BountyCmd::Open(a) => open(*a).await,
        BountyCmd::Show(a) => {
            let s = a.chain.target()?.settlement()?;
            let b = read(&s, a.bounty).await?;
            let mut entries = Vec::new();
            for job in s.bounty_entries(a.bounty).await? {
                let j = s.job(job).await?;
                let settled = j.status == zkgate_chain::abi::Status::Settled;
                let score = if settled {
                    Some(score_text(s.score_of(job).await?))
                } else {
                    None
                };
                entries.push(serde_json::json!({
                    "job": job, "researcher": j.researcher.to_string(), "state": j.status,
                    "score": score,
                }));
            }
            print(serde_json::json!({
                "bounty": a.bounty, "terms": b.view,
                "question": describe(&b.template),
                "now": s.chain().now().await?,
                "entries": entries,
            }));
            Ok(())
        }
        BountyCmd::Finalize(a) => {
            let target = a.chain.target()?;
            let s = target.settlement()?;
            let f = s.finalize_bounty(&target.wallet(1)?, a.bounty).await?;
            let scores: Vec<String> = f.scores.iter().map(|x| score_text(*x)).collect();
            print(serde_json::json!({
                "bounty": a.bounty, "winner": (f.winner != 0).then_some(f.winner),
                "prize_credited_to": f.paid_to.to_string(), "prize_wei": f.prize.to_string(),
                "withheld": f.withheld, "ranking": f.ranking, "scores": scores,
                "tx": f.tx.to_string(), "gas_used": f.gas_used,
            }));
            Ok(())
        }
        BountyCmd::Cancel(a) => {
            let target = a.chain.target()?;
            let s = target.settlement()?;
            let r = s.cancel_bounty(&target.wallet(1)?, a.bounty).await?;
            print(serde_json::json!({"bounty": a.bounty, "cancelled_in": r.hash.to_string()}));
            Ok(())
        }
    }
}

async fn open(a: OpenArgs) -> Result<()> {
    let metric = Metric::parse(&a.metric)?;
    let aggregate = zkgate_statement::Aggregate::parse(&a.aggregate, Some(&a.label), None)?;
    metric.check(&aggregate)?;
    let client = a.remote.client()?;
    let meta = ok(client.dataset(&a.dataset).await)?
        .ok_or_else(|| anyhow::anyhow!("the gateway publishes no dataset `{}`", a.dataset))?;
    let template = Template::new(
        &meta.schema,
        Default::default(),
        a.columns.as_deref(),
        aggregate,
    )?;
    let target = a.chain.target()?;
    let (s, sponsor) = (target.settlement()?, target.wallet(1)?);
    let registered = s.dataset(a.chain_dataset).await?;
    let commitment = fr_from_hex(&meta.commitment)?;
    if registered.commitment != zkgate_chain::evm::fr_to_u256(&commitment)
        || registered.rows != meta.rows
    {
        bail!(
            "on-chain dataset {} is not the gateway's `{}` (another commitment or row count)",
            a.chain_dataset,
            a.dataset
        );
    }
    let now = s.chain().now().await?;
    let entry_fee = match a.entry_fee_wei {
        Some(f) => U256::from(f),
        None => s.price_of(a.chain_dataset).await?,
    };
    let t = Terms {
        dataset: a.chain_dataset,
        commitment,
        metric,
        template: template.clone(),
        closes: now + a.closes_secs,
        deadline: now + a.deadline_secs,
        entry_fee,
        void_if_withheld: a.void_if_withheld,
        prize: U256::from(a.prize_wei),
    };
    let (id, r) = s.open_bounty(&sponsor, &t).await?;
    print(serde_json::json!({
        "bounty": id, "dataset": a.dataset, "chain_dataset": a.chain_dataset,
        "metric": metric.name(), "question": describe(&template),
        "closes": t.closes, "deadline": t.deadline,
        "prize_wei": a.prize_wei.to_string(), "entry_fee_wei": entry_fee.to_string(),
        "sponsor": sponsor.address().to_string(), "tx": r.hash.to_string(), "gas_used": r.gas_used,
    }));
    Ok(())
}
