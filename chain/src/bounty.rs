//! Evaluation bounties on the Settlement contract: a sponsor's prize for
//! the best proven score of a model on a registered dataset (see the
//! contract's `Bounty` and `zkgate_statement::bounty`).

use crate::abi::Settlement as S;
use crate::client::{TxReceipt, Wallet};
use crate::evm::fr_to_u256;
use crate::settlement::Settlement;
use crate::{Error, Result};
use alloy_primitives::{Address, B256, U256};
use zkgate_statement::bounty::{Metric, Template};
use zkgate_statement::Fr;

/// What a sponsor opens a bounty with.
#[derive(Clone, Debug)]
pub struct Terms {
    /// The registered dataset.
    pub dataset: u64,
    /// Its commitment, as the sponsor expects it.
    pub commitment: Fr,
    /// What entries are ranked by.
    pub metric: Metric,
    /// What every entry's circuit fixes.
    pub template: Template,
    /// Unix time after which no one may enter.
    pub closes: u64,
    /// Unix time by which entries must be settled; the bounty may be
    /// finalized after it.
    pub deadline: u64,
    /// Wei each entry escrows (at least the dataset's price).
    pub entry_fee: U256,
    /// Whether the prize goes back to the sponsor if the owner leaves an
    /// entry unsettled (otherwise the best settled entry still wins).
    pub void_if_withheld: bool,
    /// The prize, in wei.
    pub prize: U256,
}

/// A bounty as the contract holds it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BountyView {
    /// Who opened it and put up the prize.
    pub sponsor: Address,
    /// The registered dataset.
    pub dataset_id: u64,
    /// Unix time after which no one may enter.
    pub closes: u64,
    /// Unix time by which entries must be settled.
    pub deadline: u64,
    /// What entries are ranked by.
    pub metric: Option<Metric>,
    /// Whether withheld entries return the prize to the sponsor.
    pub void_if_withheld: bool,
    /// Finalized or cancelled.
    pub ended: bool,
    /// The circuit header format of its template.
    pub version: u32,
    /// Entries opened.
    pub entries: u32,
    /// Entries settled.
    pub settled: u32,
    /// The dataset commitment entries are proved against (in JSON: 32
    /// bytes of hex).
    #[serde(serialize_with = "crate::settlement::word_hex")]
    pub commitment: U256,
    /// The prize, in wei (in JSON: a decimal string).
    #[serde(serialize_with = "crate::settlement::decimal")]
    pub prize: U256,
    /// Each entry's fee, in wei (in JSON: a decimal string).
    #[serde(serialize_with = "crate::settlement::decimal")]
    pub entry_fee: U256,
}

/// How a bounty ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Finalized {
    /// The winning entry's job (0: none won).
    pub winner: u64,
    /// Who the prize is credited to (`withdraw` takes it).
    pub paid_to: Address,
    /// The prize, in wei.
    pub prize: U256,
    /// Entries the owner left unsettled.
    pub withheld: u32,
    /// The settled entries' jobs, best first (ties: earlier entry first).
    pub ranking: Vec<u64>,
    /// Their scores, fixed point with 27 decimals.
    pub scores: Vec<U256>,
    /// The transaction.
    pub tx: B256,
    /// Gas it used.
    pub gas_used: u64,
}

/// The contract's score of released `values` (field elements as words)
/// over `rows` rows, with `tail` the entry's header tail: the same
/// arithmetic, for checking and showing what the contract will compute.
pub fn score(metric: Metric, rows: u64, values: &[U256], tail: &[u8]) -> U256 {
    let r = fr_to_u256(&-Fr::from(1u64)) + U256::from(1u64);
    let max_value = U256::from(1u64) << 128;
    let scale = U256::from(10u64).pow(U256::from(zkgate_statement::bounty::SCALE_DECIMALS));
    let rows_w = U256::from(rows);
    let worst = if metric.lower_is_better() {
        U256::MAX
    } else {
        U256::ZERO
    };
    let x: Vec<U256> = values
        .iter()
        .map(|v| {
            if *v > r / U256::from(2u64) {
                U256::ZERO
            } else {
                (*v).min(max_value)
            }
        })
        .collect();
    let n = x.len();
    match metric {
        Metric::Mse | Metric::Mae => {
            let Some(e) = error_scale(tail).filter(|_| n == 1) else {
                return worst;
            };
            let bits = e.unsigned_abs() as usize * if metric == Metric::Mse { 2 } else { 1 };
            if bits > 128 {
                return worst;
            }
            if e >= 0 {
                x[0] * scale / (rows_w << bits)
            } else {
                (x[0] << bits) * scale / rows_w
            }
        }
        Metric::Accuracy if n == 1 => x[0].min(rows_w) * scale / rows_w,
        _ => {
            let mut k = (2..).find(|k| k * k >= n).expect("some k");
            // A matrix released by a circuit that takes a suppression
            // threshold follows it: a bounty scores exact cells only.
            let mut first = 0;
            if k * k != n {
                k -= 1;
                if k < 2 || k * k + 1 != n || !x[0].is_zero() {
                    return worst;
                }
                first = 1;
            }
            let cell = |l: usize, p: usize| x[first + l * k + p];
            match metric {
                Metric::Accuracy => {
                    let correct = (0..k).fold(U256::ZERO, |s, c| s + cell(c, c));
                    correct.min(rows_w) * scale / rows_w
                }
                Metric::F1 if k == 2 => {
                    let den = U256::from(2u64) * cell(1, 1) + cell(0, 1) + cell(1, 0);
                    if den.is_zero() {
                        U256::ZERO
                    } else {
                        U256::from(2u64) * cell(1, 1) * scale / den
                    }
                }
                Metric::F1 => worst,
                _ => {
                    let (mut sum, mut labels) = (U256::ZERO, 0u64);
                    for l in 0..k {
                        let total = (0..k).fold(U256::ZERO, |s, p| s + cell(l, p));
                        if !total.is_zero() {
                            sum += cell(l, l) * scale / total;
                            labels += 1;
                        }
                    }
                    if labels == 0 {
                        U256::ZERO
                    } else {
                        sum / U256::from(labels)
                    }
                }
            }
        }
    }
}

/// `params.error_scale` from a header's tail.
fn error_scale(tail: &[u8]) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct Params {
        error_scale: i64,
    }
    #[derive(serde::Deserialize)]
    struct Tail {
        params: Params,
    }
    let mut text = Vec::with_capacity(tail.len() + 1);
    text.push(b'{');
    text.extend_from_slice(tail);
    serde_json::from_slice::<Tail>(&text)
        .ok()
        .map(|t| t.params.error_scale)
}

/// A score as a decimal fraction (27 decimals, trailing zeros dropped).
pub fn score_text(s: U256) -> String {
    if s == U256::MAX {
        return "unscored".into();
    }
    let scale = U256::from(10u64).pow(U256::from(zkgate_statement::bounty::SCALE_DECIMALS));
    let frac = format!("{:027}", s % scale);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        (s / scale).to_string()
    } else {
        format!("{}.{frac}", s / scale)
    }
}

impl Settlement {
    /// Opens a bounty with `t.prize` wei; returns its id.
    pub async fn open_bounty(&self, from: &Wallet, t: &Terms) -> Result<(u64, TxReceipt)> {
        let call = S::openBountyCall {
            t: S::Terms {
                datasetId: t.dataset,
                commitment: fr_to_u256(&t.commitment),
                metric: t.metric.code(),
                version: zkgate_statement::VERSION,
                closes: t.closes,
                deadline: t.deadline,
                entryFee: t.entry_fee,
                voidIfWithheld: t.void_if_withheld,
            },
            template: t.template.to_bytes().into(),
        };
        let r = self.send(from, call, t.prize).await?;
        let e: S::BountyOpened = self.event(&r)?;
        Ok((e.id.to::<u64>(), r))
    }

    /// Bounty `id`.
    pub async fn bounty(&self, id: u64) -> Result<BountyView> {
        let b = self.view(S::bountyCall { id: U256::from(id) }).await?;
        if b.sponsor == Address::ZERO {
            return Err(Error::Reverted(format!("UnknownBounty({id})")));
        }
        Ok(BountyView {
            sponsor: b.sponsor,
            dataset_id: b.datasetId,
            closes: b.closes,
            deadline: b.deadline,
            metric: Metric::from_code(b.metric),
            void_if_withheld: b.voidIfWithheld,
            ended: b.ended,
            version: b.version,
            entries: b.entries,
            settled: b.settled,
            commitment: b.commitment,
            prize: b.prize,
            entry_fee: b.entryFee,
        })
    }

    /// Bounty `id`'s entries (their jobs), in entry order.
    pub async fn bounty_entries(&self, id: u64) -> Result<Vec<u64>> {
        let v = self
            .view(S::bountyEntriesCall { id: U256::from(id) })
            .await?;
        Ok(v.iter().map(|j| j.to::<u64>()).collect())
    }

    /// Bounty `id`'s template, read and checked.
    pub async fn bounty_template(&self, id: u64) -> Result<Template> {
        let b = self
            .view(S::bountyTemplateCall { id: U256::from(id) })
            .await?;
        Template::from_bytes(&b).map_err(|e| Error::Chain(format!("bounty {id}: {e}")))
    }

    /// The bounty job `job` is an entry of (0: none).
    pub async fn bounty_of(&self, job: u64) -> Result<u64> {
        let b = self
            .view(S::bountyOfCall {
                job: U256::from(job),
            })
            .await?;
        Ok(b.to::<u64>())
    }

    /// A settled entry's score (fixed point, 27 decimals).
    pub async fn score_of(&self, job: u64) -> Result<U256> {
        self.view(S::scoreOfCall {
            job: U256::from(job),
        })
        .await
    }

    /// Wei credited to `who` (`withdraw` takes it).
    pub async fn owed(&self, who: Address) -> Result<U256> {
        self.view(S::owedCall { who }).await
    }

    /// Takes what the sender is owed.
    pub async fn withdraw(&self, from: &Wallet) -> Result<TxReceipt> {
        self.send(from, S::withdrawCall {}, U256::ZERO).await
    }

    /// Enters bounty `bounty` with the question hashing to `question`,
    /// pinning `circuits`, paying `fee`; returns the entry's job.
    pub async fn enter_bounty(
        &self,
        from: &Wallet,
        bounty: u64,
        question: B256,
        circuits: &[Fr],
        fee: U256,
    ) -> Result<(u64, TxReceipt)> {
        let call = S::enterBountyCall {
            bountyId: U256::from(bounty),
            question,
            circuitIds: circuits.iter().map(fr_to_u256).collect(),
        };
        let r = self.send(from, call, fee).await?;
        let e: S::BountyEntered = self.event(&r)?;
        Ok((e.job.to::<u64>(), r))
    }

    /// Settles entry `id` with explicit values, shards and header tail
    /// (tests and tools; [`Settlement::settle`] does it from a receipt).
    #[allow(clippy::too_many_arguments)]
    pub async fn settle_entry_shards(
        &self,
        from: &Wallet,
        id: u64,
        verifier: B256,
        circuits: &[Fr],
        values: Vec<U256>,
        shards: Vec<S::Shard>,
        tail: Vec<u8>,
    ) -> Result<TxReceipt> {
        let call = S::settleEntryCall {
            id: U256::from(id),
            verifierId: verifier,
            circuitIds: circuits.iter().map(fr_to_u256).collect(),
            values,
            shards,
            tail: tail.into(),
        };
        self.send(from, call, U256::ZERO).await
    }

    /// Finalizes bounty `id` (anyone, after its deadline).
    pub async fn finalize_bounty(&self, from: &Wallet, id: u64) -> Result<Finalized> {
        let r = self
            .send(
                from,
                S::finalizeBountyCall {
                    bountyId: U256::from(id),
                },
                U256::ZERO,
            )
            .await?;
        let e: S::BountyFinalized = self.event(&r)?;
        Ok(Finalized {
            winner: e.winner.to::<u64>(),
            paid_to: e.paidTo,
            prize: e.prize,
            withheld: e.withheld,
            ranking: e.ranking.iter().map(|j| j.to::<u64>()).collect(),
            scores: e.scores,
            tx: r.hash,
            gas_used: r.gas_used,
        })
    }

    /// Cancels bounty `id` (its sponsor, while no entry is settled).
    pub async fn cancel_bounty(&self, from: &Wallet, id: u64) -> Result<TxReceipt> {
        let call = S::cancelBountyCall {
            bountyId: U256::from(id),
        };
        self.send(from, call, U256::ZERO).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(v: &[i64]) -> Vec<U256> {
        v.iter()
            .map(|x| fr_to_u256(&zkgate_statement::field::i128_to_field(i128::from(*x))))
            .collect()
    }

    fn ray(x: f64) -> U256 {
        U256::from((x * 1e9).round() as u64) * U256::from(10u64).pow(U256::from(18u64))
    }

    #[test]
    fn scores_read_the_released_values() {
        let none = b"\"params\":{}";
        // Accuracy from a count or a matrix's diagonal; noise below zero
        // reads as zero, above the rows as all of them.
        assert_eq!(score(Metric::Accuracy, 4, &w(&[3]), none), ray(0.75));
        assert_eq!(score(Metric::Accuracy, 4, &w(&[5]), none), ray(1.0));
        assert_eq!(score(Metric::Accuracy, 4, &w(&[-1]), none), U256::ZERO);
        assert_eq!(
            score(Metric::Accuracy, 10, &w(&[4, 1, 2, 3]), none),
            ray(0.7)
        );
        // Balanced accuracy: (4/5 + 3/5) / 2; a label with no rows is left
        // out.
        assert_eq!(
            score(Metric::BalancedAccuracy, 10, &w(&[4, 1, 2, 3]), none),
            ray(0.7)
        );
        assert_eq!(
            score(Metric::BalancedAccuracy, 5, &w(&[4, 1, 0, 0]), none),
            ray(0.8)
        );
        // F1 = 2*3 / (2*3 + 1 + 2).
        assert_eq!(
            score(Metric::F1, 10, &w(&[4, 1, 2, 3]), none),
            U256::from(6u64) * U256::from(10u64).pow(U256::from(27u64)) / U256::from(9u64)
        );
        assert_eq!(
            score(Metric::F1, 9, &w(&[1, 0, 0, 0, 1, 0, 0, 0, 7]), none),
            U256::ZERO
        );
        // Error sums at scale 2^e: 80 / (4 rows * 4^2) = 1.25.
        let tail = b"\"params\":{\"classes\":1,\"threshold_q\":0,\"bits\":20,\"error_scale\":2,\"output_shift\":0},\"outputs\":1}";
        // After a threshold of zero, the same; after any other, the worst.
        assert_eq!(
            score(Metric::F1, 10, &w(&[0, 4, 1, 2, 3]), none),
            score(Metric::F1, 10, &w(&[4, 1, 2, 3]), none)
        );
        assert_eq!(
            score(Metric::F1, 10, &w(&[2, 4, 1, 2, 3]), none),
            U256::ZERO
        );
        assert_eq!(score(Metric::Accuracy, 4, &w(&[0, 3]), none), U256::ZERO);
        assert_eq!(score(Metric::Mse, 4, &w(&[80]), tail), ray(1.25));
        assert_eq!(score(Metric::Mae, 4, &w(&[20]), tail), ray(1.25));
        // What cannot be read scores the worst.
        assert_eq!(score(Metric::Mse, 4, &w(&[80]), none), U256::MAX);
        assert_eq!(score(Metric::F1, 4, &w(&[1, 2, 3]), none), U256::ZERO);
        assert_eq!(score_text(ray(1.25)), "1.25");
        assert_eq!(score_text(U256::ZERO), "0");
    }
}
