//! Verification of a federated receipt: every part against its own
//! question, keys and commitment, the parts against the federation asked
//! (none missing, none repeated, none foreign), the questions against
//! each other (one question asked of every owner), and the pooled answer
//! recomputed from the parts' proved values.

use crate::Expect;
use anyhow::Result;
use std::collections::BTreeSet;
use zkgate_statement::federation::{
    pool, same_question, Federated, Federation, Outcome, PartName, Pooled,
};
use zkgate_statement::{Question, Receipt};

/// What verifying a federated receipt found.
pub struct FederatedChecked {
    /// The federated receipt.
    pub federated: Federated,
    /// Why it is not valid; `None` when it is.
    pub invalid: Option<String>,
}

impl FederatedChecked {
    /// Whether it is valid.
    pub fn valid(&self) -> bool {
        self.invalid.is_none()
    }

    /// The verdict as `zkgate verify --federated` prints it.
    pub fn report(&self, json: bool) -> String {
        let f = &self.federated;
        if json {
            return serde_json::json!({
                "valid": self.valid(), "reason": self.invalid,
                "pooled": f.pooled,
                "parts": f.parts.iter().map(|p| match &p.outcome {
                    Outcome::Answered { receipt, seconds, .. } => serde_json::json!({
                        "gateway": p.name.gateway, "dataset": p.name.dataset,
                        "rows": receipt.rows, "result": receipt.result, "seconds": seconds}),
                    Outcome::Refused { code, message } => serde_json::json!({
                        "gateway": p.name.gateway, "dataset": p.name.dataset,
                        "refused": code, "message": message}),
                }).collect::<Vec<_>>(),
            })
            .to_string();
        }
        if let Some(why) = &self.invalid {
            return format!("INVALID: {why}");
        }
        let mut out = Vec::new();
        for p in &f.parts {
            out.push(match &p.outcome {
                Outcome::Answered { receipt, .. } => format!(
                    "part {}: valid: {} over {} rows of dataset {}",
                    p.name, receipt.result, receipt.rows, receipt.commitment
                ),
                Outcome::Refused { code, message } => {
                    format!("part {}: refused ({code}): {message}", p.name)
                }
            });
        }
        match &f.pooled {
            Some(pooled) => out.push(pooled_line(pooled)),
            None => out.push("no pooled answer".into()),
        }
        out.join("\n")
    }
}

fn pooled_line(p: &Pooled) -> String {
    let mut s = format!(
        "pooled over {} part(s), {} rows: {}",
        p.parts, p.rows, p.result
    );
    if !p.suppressed_up_to.is_empty() {
        s.push_str(&format!(
            "\n  small cells suppressed by a part: each pooled value is short by at most {:?}",
            p.suppressed_up_to
        ));
    }
    if let Some(n) = &p.noise {
        s.push_str(&format!(
            "\n  noise: {} (standard deviation {:.3} per value; epsilons {:?}, each paid from its owner's budget)",
            n.distribution, n.std_dev, n.epsilons
        ));
    }
    s
}

/// Why one answered part does not verify against its own question.
fn check_part(
    name: &PartName,
    question: &Question,
    receipt: &Receipt,
    vk: &str,
) -> Result<Option<String>> {
    if question.dataset.name != name.dataset {
        return Ok(Some(format!(
            "its question is about dataset `{}`",
            question.dataset.name
        )));
    }
    let Ok(vk) = hex::decode(vk) else {
        return Ok(Some("its verifying keys are not hex".into()));
    };
    let expect = Expect {
        question: Some(question.clone()),
        ..Expect::default()
    };
    expect.invalid(receipt, &vk)
}

/// Verifies the federated receipt `text` against the federation
/// `expect` (default: the one it carries) and, for each answered part,
/// `model_check` (the model's circuit rebuilt, when the caller has the
/// model; `None`: it matches).
pub fn verify_federated(
    text: &str,
    expect: Option<&Federation>,
    model_check: impl Fn(&Question, &Receipt) -> Option<String>,
) -> Result<FederatedChecked> {
    let federated: Federated = serde_json::from_str(text)?;
    let invalid = find_invalid(&federated, expect, model_check)?;
    Ok(FederatedChecked { federated, invalid })
}

/// Why a federated receipt's parts did not settle on chain as it says
/// (`None`: every part asked on chain settled its job on `s`'s contract
/// with exactly its receipt, keys and question).
pub async fn check_settled(f: &Federated, s: &zkgate_chain::Settlement) -> Result<Option<String>> {
    for p in &f.parts {
        let Outcome::Answered {
            question,
            receipt,
            vk,
            chain_job: Some(job),
            ..
        } = &p.outcome
        else {
            continue;
        };
        let Some(pin) = &question.chain else {
            return Ok(Some(format!(
                "part {}: its question names no chain",
                p.name
            )));
        };
        if !pin.contract.eq_ignore_ascii_case(&s.address().to_string()) {
            return Ok(Some(format!(
                "part {}: its question is for contract {}, not {}",
                p.name,
                pin.contract,
                s.address()
            )));
        }
        let vk = hex::decode(vk)?;
        let hash = zkgate_chain::alloy_primitives::B256::from(question.hash());
        if let Err(why) = s.check_settled(*job, receipt, &vk, Some(hash)).await? {
            return Ok(Some(format!("part {}: {why}", p.name)));
        }
    }
    Ok(None)
}

fn find_invalid(
    f: &Federated,
    expect: Option<&Federation>,
    model_check: impl Fn(&Question, &Receipt) -> Option<String>,
) -> Result<Option<String>> {
    let asked = expect.unwrap_or(&f.federation);
    if expect.is_some_and(|e| *e != f.federation) {
        return Ok(Some(
            "the receipt is for another federation (other parts, or another all-or-nothing rule)"
                .into(),
        ));
    }
    let mut seen = BTreeSet::new();
    for p in &f.parts {
        if !asked.parts.contains(&p.name) {
            return Ok(Some(format!("part {} is not in the federation", p.name)));
        }
        if !seen.insert(&p.name) {
            return Ok(Some(format!("part {} is repeated", p.name)));
        }
    }
    if let Some(missing) = asked.parts.iter().find(|n| !seen.contains(n)) {
        return Ok(Some(format!("part {missing} is missing")));
    }
    let mut first: Option<&Question> = None;
    let (mut commitments, mut nonces) = (BTreeSet::new(), BTreeSet::new());
    let mut answered = Vec::new();
    for p in &f.parts {
        let (question, receipt, vk) = match &p.outcome {
            Outcome::Answered {
                question,
                receipt,
                vk,
                chain_job,
                ..
            } => {
                let pinned = question.chain.as_ref().map(|c| c.dataset_id);
                if pinned != p.name.chain_dataset || chain_job.is_some() != pinned.is_some() {
                    return Ok(Some(format!(
                        "part {}: its on-chain dataset and job are not the federation's (asked {:?}, its question pins {pinned:?}, job {chain_job:?})",
                        p.name, p.name.chain_dataset
                    )));
                }
                (question, receipt, vk)
            }
            Outcome::Refused { code, .. } => {
                if asked.all_or_nothing && f.pooled.is_some() {
                    return Ok(Some(format!(
                        "part {} refused ({code}) and the question is all-or-nothing, yet an answer is pooled",
                        p.name
                    )));
                }
                continue;
            }
        };
        if let Some(why) = check_part(&p.name, question, receipt, vk)? {
            return Ok(Some(format!("part {}: {why}", p.name)));
        }
        if let Some(why) = model_check(question, receipt) {
            return Ok(Some(format!("part {}: {why}", p.name)));
        }
        match first {
            None => first = Some(question),
            Some(q) => {
                if let Some(field) = same_question(q, question) {
                    return Ok(Some(format!(
                        "part {}: its question asks another {field} than the first part's",
                        p.name
                    )));
                }
            }
        }
        if !commitments.insert(receipt.commitment.to_lowercase()) {
            return Ok(Some(format!(
                "part {}: its dataset commitment is another part's (the same rows counted twice)",
                p.name
            )));
        }
        if !nonces.insert(question.nonce.clone()) {
            return Ok(Some(format!(
                "part {}: its question is another part's",
                p.name
            )));
        }
        answered.push((&p.name, receipt.as_ref()));
    }
    let refused = answered.len() < f.parts.len();
    let want = if answered.is_empty() || (asked.all_or_nothing && refused) {
        None
    } else {
        match pool(&answered) {
            Ok(p) => Some(p),
            Err(why) => return Ok(Some(why)),
        }
    };
    if want != f.pooled {
        return Ok(Some(
            "the pooled answer is not the parts' proved values pooled".into(),
        ));
    }
    Ok(None)
}
