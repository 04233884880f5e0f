//! Receipt verification for researchers and third parties: a receipt
//! checked against its verifying keys (offline), and optionally against the
//! settlement contract (the on-chain job settled with exactly this
//! receipt). Shared by `zkgate verify` and the small `zkgate-verify`
//! binary, which links neither the compiler (tract) nor a prover nor the
//! gateway.
#![forbid(unsafe_code)]

pub mod federation;

use anyhow::{bail, Context, Result};
use std::path::Path;
use zkgate_chain::Settlement;
use zkgate_statement::field::fr_to_hex;
use zkgate_statement::{nonce_from, Fr, Question, Receipt, Schema, Verdict};

/// What the verifier expects of a receipt beyond valid proofs: the
/// researcher's question, or (for receipts of local `zkgate prove` runs)
/// the dataset's declared schema and the job id.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// The researcher's question: the receipt must answer exactly it.
    pub question: Option<Question>,
    /// The dataset's declared schema.
    pub schema: Option<Schema>,
    /// The (off-chain) job id the proofs must be bound to.
    pub job_id: Option<String>,
    /// Only keys whose origin in a ceremony is shown: by the question's
    /// ceremony pin (the keys the researcher contributed to), or by a
    /// transcript the caller checks itself (`zkgate verify --transcript`).
    pub ceremony: bool,
    /// Powers-of-tau files (BLAKE2b hex) trusted besides the public ones,
    /// for a ceremony the question pins.
    pub trust_ptau: Vec<String>,
}

/// How a caller shows that a receipt's keys come from a ceremony.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CeremonyProof {
    /// Not asked for.
    None,
    /// Asked for, with only what this library can check (a question's pin).
    Required,
    /// Asked for, and the caller checks a transcript against the
    /// powers-of-tau file and a named contribution itself.
    Transcript,
}

/// What `--require-ceremony` needs, in words, for its error.
pub const CEREMONY_NEEDS: &str = "--require-ceremony needs proof of where the keys come from, not the receipt's word: a --question whose `ceremony` pins the keys you contributed to (zkgate submit --ceremony-key writes it), or with `zkgate verify` a --transcript, the --ptau file and the --contribution hash you trust, with --model";

impl Expect {
    /// Reads `--question FILE` and `--schema FILE`, takes `--job ID` as
    /// given; refuses `--require-ceremony` without anything to check it by.
    pub fn from_args(
        question: Option<&Path>,
        schema: Option<&Path>,
        job_id: Option<&str>,
        ceremony: CeremonyProof,
        trust_ptau: &[String],
    ) -> Result<Expect> {
        let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
        let question = match question {
            Some(p) => Some(
                Question::from_json(&read(p)?)
                    .with_context(|| format!("reading {}", p.display()))?,
            ),
            None => None,
        };
        let schema = match schema {
            Some(p) => Some(
                Schema::from_json(&read(p)?).with_context(|| format!("reading {}", p.display()))?,
            ),
            None => None,
        };
        let pinned = question.as_ref().is_some_and(|q| q.ceremony.is_some());
        if ceremony == CeremonyProof::Required && !pinned {
            bail!("{CEREMONY_NEEDS}");
        }
        Ok(Expect {
            question,
            schema,
            job_id: job_id.map(str::to_string),
            ceremony: ceremony != CeremonyProof::None,
            trust_ptau: trust_ptau.to_vec(),
        })
    }

    /// The nonce the question's proofs must carry: from the question's own
    /// hash off chain, the contract's derivation from it for an on-chain
    /// job.
    pub fn question_nonce(q: &Question) -> Result<Fr> {
        if let Some(c) = &q.chain {
            c.contract_bytes()?;
            c.researcher_bytes()?;
        }
        Ok(q.job_nonce())
    }

    /// Why `receipt` is not for the expected question, schema or job
    /// (`None`: it is).
    pub fn mismatch(&self, receipt: &Receipt) -> Result<Option<String>> {
        if let Some(q) = &self.question {
            if let Err(m) = q.check(receipt, Self::question_nonce(q)?) {
                return Ok(Some(m.to_string()));
            }
            // A ceremony shows nothing over a file whose tau is known.
            if let (true, Some(pin)) = (self.ceremony, &q.ceremony) {
                if let Err(why) = pin.ptau_trusted(&self.trust_ptau) {
                    return Ok(Some(why));
                }
            }
        }
        if let Some(want) = &self.schema {
            let got = &receipt.circuit.schema;
            if got != want {
                let detail = if got.value_bits != want.value_bits {
                    format!("{} stored bits, not {}", got.value_bits, want.value_bits)
                } else if got.names() != want.names() {
                    "its columns differ".to_string()
                } else {
                    let c = got
                        .columns
                        .iter()
                        .zip(&want.columns)
                        .find(|(a, b)| a != b)
                        .map_or("?", |(a, _)| a.name.as_str());
                    format!("column `{c}` is declared differently")
                };
                return Ok(Some(format!(
                    "the receipt is for another dataset schema: {detail}"
                )));
            }
        }
        if let Some(job) = &self.job_id {
            if receipt.nonce != fr_to_hex(nonce_from(job.as_bytes())) {
                return Ok(Some(format!(
                    "the receipt is bound to another job, not `{job}` (a receipt from `zkgate submit` answers a question: check it with --question)"
                )));
            }
        }
        Ok(None)
    }

    /// Why `receipt` is not valid under the verifying keys `vk` or not
    /// for what is expected (`None`: its proofs verify and it is).
    pub fn invalid(&self, receipt: &Receipt, vk: &[u8]) -> Result<Option<String>> {
        if let Verdict::Invalid(why) = receipt.verify(vk)? {
            return Ok(Some(why));
        }
        self.mismatch(receipt)
    }

    /// What this verification did not check, in words (empty: nothing
    /// left out).
    pub fn unchecked(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.question.is_none() {
            v.push("no question: the receipt's own header was taken as the question (columns, dataset, quantization, epsilon and nonce are the prover's word)");
        }
        if !self.ceremony {
            v.push("key origin not checked: the `setup` line is the prover's word");
        }
        v
    }
}

/// What verifying a receipt found.
pub struct Checked {
    /// The receipt.
    pub receipt: Receipt,
    /// Why it is not valid; `None` when it is.
    pub invalid: Option<String>,
    /// How it settled on chain, when that was checked and it did.
    pub settled: Option<String>,
    /// What was not checked ([`Expect::unchecked`]).
    pub unchecked: Vec<&'static str>,
}

impl Checked {
    /// Whether the receipt is valid (and settled, when asked).
    pub fn valid(&self) -> bool {
        self.invalid.is_none()
    }

    /// The verdict as `zkgate verify` prints it: one JSON object, or lines
    /// of text.
    pub fn report(&self, json: bool) -> String {
        let r = &self.receipt;
        if json {
            return serde_json::json!({
                "valid": self.valid(), "reason": self.invalid, "result": r.result,
                "commitment": r.commitment, "rows": r.rows,
                "noise": r.circuit.params.noise, "unchecked": self.unchecked,
            })
            .to_string();
        }
        match &self.invalid {
            None => {
                let mut out = String::new();
                if let Some(s) = &self.settled {
                    out.push_str(s);
                    out.push('\n');
                }
                out.push_str(&format!(
                    "valid: {} over {} rows of dataset {}\nkeys generated by (the receipt says): {}",
                    r.result, r.rows, r.commitment, r.setup
                ));
                out.push_str(&match &r.circuit.params.noise {
                    Some(n) => format!(
                        "\nreleased with {} noise drawn in the circuit: epsilon {} at sensitivity {} (standard deviation {:.3} in the values' units)",
                        n.mechanism,
                        n.epsilon,
                        n.sensitivity,
                        n.std_dev()
                    ),
                    None => "\nexact values (no differential-privacy noise)".into(),
                });
                for u in &self.unchecked {
                    out.push_str("\nnot checked: ");
                    out.push_str(u);
                }
                out
            }
            Some(why) => format!("INVALID: {why}"),
        }
    }
}

/// Verifies the receipt at `receipt` against the keys at `vk`, then that
/// it is for what `expect` names; with `chain`, also that the on-chain job
/// settled with it.
pub fn verify_files(
    receipt: &Path,
    vk: &Path,
    chain: Option<(Settlement, u64)>,
    expect: &Expect,
) -> Result<Checked> {
    let text = std::fs::read_to_string(receipt)
        .with_context(|| format!("reading {}", receipt.display()))?;
    let vk = std::fs::read(vk).with_context(|| format!("reading {}", vk.display()))?;
    verify(&text, &vk, chain, expect)
}

/// Verifies the receipt `receipt` (its JSON) against the verifying keys
/// `vk` (as `vk.bin` holds them), then that it is for what `expect`
/// names; with `chain`, also that the on-chain job settled with it.
pub fn verify(
    receipt: &str,
    vk: &[u8],
    chain: Option<(Settlement, u64)>,
    expect: &Expect,
) -> Result<Checked> {
    let receipt = Receipt::from_json(receipt)?;
    let mut checked = Checked {
        invalid: None,
        settled: None,
        unchecked: expect.unchecked(),
        receipt,
    };
    if let Some(why) = expect.invalid(&checked.receipt, vk)? {
        checked.invalid = Some(why);
        return Ok(checked);
    }
    if let Some((s, job)) = chain {
        let on_chain = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(
                s.check_settled(
                    job,
                    &checked.receipt,
                    vk,
                    expect
                        .question
                        .as_ref()
                        .map(|q| zkgate_chain::alloy_primitives::B256::from(q.hash())),
                ),
            )?;
        match on_chain {
            Ok((e, l)) => {
                checked.settled = Some(format!(
                    "settled on chain: job {job}, transaction {} in block {}, paid {} wei to {}",
                    l.tx, l.block, e.amount, e.payee
                ))
            }
            Err(why) => checked.invalid = Some(why),
        }
    }
    Ok(checked)
}
