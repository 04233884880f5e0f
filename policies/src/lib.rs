//! zkgate's policies: the data owner's rules for what may run and what may
//! leave, written in [Cedar](https://www.cedarpolicy.com) and evaluated as
//! pure functions.
//!
//! * [`Engine::admit`] decides, before a job runs, whether this researcher
//!   may run this model on this dataset for this aggregate.
//! * [`Engine::release`] decides, before anything leaves, whether the
//!   outputs may be released: as they are, with small histogram cells
//!   suppressed (proved in the circuit), or not at all.
//! * [`Engine::read_receipt`] decides whether a receipt may be fetched.
//!
//! Why Cedar: it is a small, deterministic policy language with a typed
//! schema and a validator, so a policy file that names a missing attribute
//! or compares a string with a number is rejected when it is loaded, not
//! when a request happens to reach it; it has forbid-overrides-permit
//! semantics and default deny, and its policies can be analysed. The
//! vocabulary (entities, actions, the request context) is the schema in
//! `schema.cedarschema`, which the profiles in `policies/profiles/` use.
//!
//! Every policy carries an `@id("...")` annotation: it is the rule's name in
//! decisions, audit entries and the errors researchers see. `@reason("...")`
//! adds a sentence for the researcher, `@on_deny("suppress")` on a
//! `release_cell` rule turns a denial of a small cell into its suppression,
//! and `@on_deny("hold")` on a `submit` rule turns its denial into a hold:
//! the job waits for the data owner's approval instead of being refused
//! (only when every rule that denies it holds; any other denial still
//! refuses). Any evaluation error denies (fail closed).
#![forbid(unsafe_code)]

mod facts;

pub use facts::{Admission, DatasetFacts, JobFacts, ModelFacts, Release, Researcher};

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Effect, Entities, EntityUid, PolicySet,
    Request, Schema, ValidationMode, Validator,
};
use std::collections::BTreeSet;
use std::str::FromStr;

/// The schema every policy file is validated against.
pub const SCHEMA: &str = include_str!("schema.cedarschema");

/// The profiles shipped with zkgate: (name, Cedar source).
pub const PROFILES: [(&str, &str); 3] = [
    ("default", include_str!("../profiles/default.cedar")),
    ("hospital", include_str!("../profiles/hospital.cedar")),
    ("open", include_str!("../profiles/open.cedar")),
];

/// The Cedar source of a shipped profile.
pub fn profile_source(name: &str) -> Option<&'static str> {
    PROFILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, src)| *src)
}

/// `` `a`, `b` `` for rule names in messages.
fn quoted(rules: &[String]) -> String {
    rules
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Annotation keys a policy may carry.
const ANNOTATIONS: [&str; 3] = ["id", "reason", "on_deny"];

/// The rule name used when no policy permits a request.
pub const DEFAULT_DENY: &str = "default-deny";

/// A policy file that cannot be used, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.iter().map(|p| format!("{}:{p}", .origin)).collect::<Vec<_>>().join("\n"))]
pub struct PolicyError {
    /// The file (or other origin) of the source.
    pub origin: String,
    /// Each problem, as `line:column: message`.
    pub problems: Vec<String>,
}

/// Why a request was denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The action (`submit`, `release`, `release_cell`, `read_receipt`).
    pub action: String,
    /// The rules that denied it ([`DEFAULT_DENY`] when none permitted it).
    pub rules: Vec<String>,
    /// The researcher-facing explanation (rule names and reasons only; no
    /// data).
    pub message: String,
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// An admission (or receipt-read) decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Permitted; the permitting rules.
    Allow(Vec<String>),
    /// Denied only by `@on_deny("hold")` rules: the job waits for the data
    /// owner's approval (admission only; the rules and why, as a denial
    /// would say it).
    Hold(Denial),
    /// Denied.
    Deny(Denial),
}

/// A release decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseDecision {
    /// The outputs may leave as they are; the permitting rules.
    Allow(Vec<String>),
    /// The outputs may leave once every cell below `below` is suppressed
    /// (reported as zero, proved so by the circuit); the suppressing rules.
    Suppress {
        /// The threshold: cells with a count below it are suppressed.
        below: u64,
        /// The rules that asked for it.
        rules: Vec<String>,
    },
    /// Nothing may leave.
    Deny(Denial),
}

/// A loaded, validated policy set.
#[derive(Debug, Clone)]
pub struct Engine {
    policies: PolicySet,
    schema: Schema,
    rules: Vec<String>,
}

const NS: &str = "Zkgate";

fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_str(&format!("{NS}::{kind}::{}", serde_json::Value::from(id)))
        .expect("entity ids are quoted JSON strings")
}

fn long(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `line:column` of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// `line:column: message` for a diagnostic with source labels.
fn located(text: &str, d: &dyn miette::Diagnostic) -> String {
    let offset = d
        .labels()
        .and_then(|mut l| l.next())
        .map_or(0, |l| l.offset());
    let (line, col) = line_col(text, offset);
    let mut msg = d.to_string();
    if let Some(help) = d.help() {
        msg += &format!(" ({help})");
    }
    format!("{line}:{col}: {msg}")
}

fn schema() -> Schema {
    Schema::from_cedarschema_str(SCHEMA)
        .expect("the built-in schema is valid")
        .0
}

impl Engine {
    /// Parses and validates Cedar source. `origin` names it in errors.
    pub fn from_source(origin: &str, text: &str) -> Result<Engine, PolicyError> {
        let fail = |problems: Vec<String>| PolicyError {
            origin: origin.to_string(),
            problems,
        };
        let policies = PolicySet::from_str(text)
            .map_err(|errs| fail(errs.iter().map(|e| located(text, e)).collect()))?;
        if policies.templates().next().is_some() {
            return Err(fail(vec!["1:1: templates are not supported".into()]));
        }
        let schema = schema();
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        let mut problems: Vec<String> = result
            .validation_errors()
            .map(|e| located(text, e))
            .collect();

        // Annotations: a unique @id on every policy, known keys only.
        let mut rules = Vec::new();
        let mut seen = BTreeSet::new();
        // Policies are numbered in file order; find each one's text to
        // point errors at its line.
        let mut ordered: Vec<_> = policies.policies().collect();
        ordered.sort_by_key(|p| {
            let id: &str = p.id().as_ref();
            id.trim_start_matches("policy")
                .parse::<usize>()
                .unwrap_or(usize::MAX)
        });
        let mut cursor = 0;
        for p in ordered {
            let src: String = p.to_cedar().unwrap_or_default();
            let start = match text[cursor..].find(src.as_str()) {
                Some(i) => {
                    cursor += i + src.len();
                    cursor - src.len()
                }
                None => cursor,
            };
            let (line, col) = line_col(text, start);
            let at = format!("{line}:{col}");
            for (k, v) in p.annotations() {
                if !ANNOTATIONS.contains(&k) {
                    problems.push(format!(
                        "{}: unknown annotation @{k} (known: @id, @reason, @on_deny)",
                        at
                    ));
                }
                if k == "on_deny" && !matches!(v, "deny" | "suppress" | "hold") {
                    problems.push(format!(
                        "{}: @on_deny must be \"deny\", \"suppress\" or \"hold\", not {v:?}",
                        at
                    ));
                }
                if k == "on_deny" && v != "deny" && p.effect() != Effect::Forbid {
                    problems.push(format!(
                        "{}: @on_deny({v:?}) only makes sense on a forbid rule",
                        at
                    ));
                }
            }
            match p.annotation("id") {
                None | Some("") => problems.push(format!(
                    "{}: every policy needs an @id(\"...\") annotation naming the rule",
                    at
                )),
                Some(id) if id == DEFAULT_DENY => {
                    problems.push(format!("{at}: @id(\"{DEFAULT_DENY}\") is reserved"))
                }
                Some(id) => {
                    if !seen.insert(id.to_string()) {
                        problems.push(format!("{}: duplicate rule id {id:?}", at));
                    }
                    rules.push(id.to_string());
                }
            }
        }
        if policies.is_empty() {
            problems.push("1:1: no policies: every request would be denied".into());
        }
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        Ok(Engine {
            policies,
            schema,
            rules,
        })
    }

    /// Reads and validates a policy file.
    pub fn load(path: &std::path::Path) -> Result<Engine, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            origin: path.display().to_string(),
            problems: vec![format!("0:0: {e}")],
        })?;
        Engine::from_source(&path.display().to_string(), &text)
    }

    /// A shipped profile by name.
    pub fn profile(name: &str) -> Option<Engine> {
        profile_source(name)
            .map(|src| Engine::from_source(name, src).expect("shipped profiles are valid"))
    }

    /// The rule names, in file order.
    pub fn rules(&self) -> &[String] {
        &self.rules
    }

    /// Before a job runs: allowed, held for the owner (every rule that
    /// denies it is an `@on_deny("hold")` rule), or denied.
    pub fn admit(&self, a: &Admission) -> Decision {
        let context = serde_json::json!({ "model": model_json(&a.model), "job": job_json(&a.job) });
        match self.decide(&a.researcher, &a.dataset, "submit", context) {
            Decision::Deny(d) if self.all_annotated(&d.rules, "hold") => Decision::Hold(Denial {
                message: d.message.replacen(
                    "denied by rule",
                    "held for the data owner's approval by rule",
                    1,
                ),
                ..d
            }),
            other => other,
        }
    }

    /// Whether `rules` is not empty and every one carries
    /// `@on_deny(value)`.
    fn all_annotated(&self, rules: &[String], value: &str) -> bool {
        !rules.is_empty()
            && rules
                .iter()
                .all(|r| self.annotation(r, "on_deny") == Some(value))
    }

    /// Before a receipt is fetched.
    pub fn read_receipt(&self, researcher: &Researcher, dataset: &DatasetFacts) -> Decision {
        self.decide(researcher, dataset, "read_receipt", serde_json::json!({}))
    }

    /// Before outputs leave. Cells are judged one by one (`release_cell`),
    /// then the release as a whole (`release`), on the cells as they would
    /// leave. Cells denied only by `@on_deny("suppress")` rules are
    /// suppressed below a threshold found from the rules themselves (the
    /// smallest count they release, so it depends on the policy, never on
    /// the data), and the release is denied if the suppressed cells' total,
    /// which the public row count reveals, is itself too small to release.
    pub fn release(&self, r: &Release) -> ReleaseDecision {
        let a = &r.admission;
        let mut suppressing = BTreeSet::new();
        let mut allowed = Vec::with_capacity(r.cells.len());
        for &count in &r.cells {
            match self.cell(a, count) {
                Cell::Allow => allowed.push(true),
                Cell::Suppress(rules) => {
                    allowed.push(false);
                    suppressing.extend(rules);
                }
                Cell::Deny(d) => return ReleaseDecision::Deny(d),
            }
        }
        let mut released = r.cells.clone();
        let mut below = None;
        if !suppressing.is_empty() {
            let rules: Vec<String> = suppressing.into_iter().collect();
            let deny = |what: &str| {
                ReleaseDecision::Deny(Denial {
                    action: "release_cell".into(),
                    rules: rules.clone(),
                    message: format!("denied by rule {}: {what}", quoted(&rules)),
                })
            };
            let Some(k) = self.threshold(a) else {
                return deny("no cell count can be released");
            };
            // The rules must be a threshold on the count for suppression
            // below `k` to be what they ask.
            for (&c, &allowed) in r.cells.iter().zip(&allowed) {
                if c > 0 && (c >= k) != allowed {
                    return deny("the small-cell rules are not a threshold on the count, so cells cannot be suppressed");
                }
            }
            let hidden: u64 = r.cells.iter().filter(|&&c| c < k).sum();
            if hidden > 0 && !matches!(self.cell(a, hidden), Cell::Allow) {
                return deny(
                    "suppressing the small cells is not enough: their total follows from the row count and is itself too small",
                );
            }
            released.iter_mut().filter(|c| **c < k).for_each(|c| *c = 0);
            below = Some((k, rules));
        }
        let smallest = released
            .iter()
            .copied()
            .filter(|&c| c > 0)
            .min()
            .unwrap_or(a.job.rows);
        let context = serde_json::json!({
            "model": model_json(&a.model),
            "job": job_json(&a.job),
            "cells": long(released.len() as u64),
            "smallest_cell": long(smallest),
            "contributors": long(r.contributors),
        });
        match self.decide(&a.researcher, &a.dataset, "release", context) {
            Decision::Deny(d) | Decision::Hold(d) => ReleaseDecision::Deny(d),
            Decision::Allow(rules) => match below {
                None => ReleaseDecision::Allow(rules),
                Some((below, rules)) => ReleaseDecision::Suppress { below, rules },
            },
        }
    }

    /// The smallest count a cell may have to be released, if any.
    fn threshold(&self, a: &Admission) -> Option<u64> {
        let max = a.job.rows.max(1);
        let ok = |c: u64| matches!(self.cell(a, c), Cell::Allow);
        if !ok(max) {
            return None;
        }
        let (mut lo, mut hi) = (1, max);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if ok(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(lo)
    }

    fn cell(&self, a: &Admission, count: u64) -> Cell {
        let context = serde_json::json!({ "job": job_json(&a.job), "count": long(count) });
        match self.decide(&a.researcher, &a.dataset, "release_cell", context) {
            Decision::Allow(_) => Cell::Allow,
            Decision::Deny(d) if self.all_annotated(&d.rules, "suppress") => {
                Cell::Suppress(d.rules)
            }
            Decision::Deny(d) | Decision::Hold(d) => Cell::Deny(d),
        }
    }

    fn annotation(&self, rule: &str, key: &str) -> Option<&str> {
        self.policies
            .policies()
            .find(|p| p.annotation("id") == Some(rule))
            .and_then(|p| p.annotation(key))
    }

    fn decide(
        &self,
        researcher: &Researcher,
        dataset: &DatasetFacts,
        action: &str,
        context: serde_json::Value,
    ) -> Decision {
        let deny = |rules: Vec<String>, message: String| {
            Decision::Deny(Denial {
                action: action.into(),
                rules,
                message,
            })
        };
        let action_uid = uid("Action", action);
        let context = match Context::from_json_value(context, Some((&self.schema, &action_uid))) {
            Ok(c) => c,
            Err(e) => return deny(vec![DEFAULT_DENY.into()], format!("invalid request: {e}")),
        };
        let entities = match self.entities(researcher, dataset) {
            Ok(e) => e,
            Err(e) => return deny(vec![DEFAULT_DENY.into()], format!("invalid request: {e}")),
        };
        let request = match Request::new(
            uid("Researcher", &researcher.name),
            action_uid,
            uid("Dataset", &dataset.name),
            context,
            Some(&self.schema),
        ) {
            Ok(r) => r,
            Err(e) => return deny(vec![DEFAULT_DENY.into()], format!("invalid request: {e}")),
        };
        let response = Authorizer::new().is_authorized(&request, &self.policies, &entities);
        let name = |id: &cedar_policy::PolicyId| {
            self.policies
                .annotation(id, "id")
                .unwrap_or(id.as_ref())
                .to_string()
        };
        let errored: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|e| match e {
                cedar_policy::AuthorizationError::PolicyEvaluationError(e) => name(e.policy_id()),
            })
            .collect();
        if !errored.is_empty() {
            return deny(
                errored.clone(),
                format!("denied: rule {} could not be evaluated", quoted(&errored)),
            );
        }
        let mut rules: Vec<String> = response.diagnostics().reason().map(name).collect();
        rules.sort();
        match response.decision() {
            CedarDecision::Allow => Decision::Allow(rules),
            CedarDecision::Deny if rules.is_empty() => deny(
                vec![DEFAULT_DENY.into()],
                format!(
                    "denied by rule `{DEFAULT_DENY}`: no rule permits `{action}` for researcher `{}` on dataset `{}`",
                    researcher.name, dataset.name
                ),
            ),
            CedarDecision::Deny => {
                let parts: Vec<String> = rules
                    .iter()
                    .map(|r| match self.annotation(r, "reason") {
                        Some(why) => format!("`{r}` ({why})"),
                        None => format!("`{r}`"),
                    })
                    .collect();
                deny(rules, format!("denied by rule {}", parts.join(", ")))
            }
        }
    }

    fn entities(&self, r: &Researcher, dataset: &DatasetFacts) -> Result<Entities, String> {
        let mut list = vec![serde_json::json!({
            "uid": { "type": format!("{NS}::Dataset"), "id": dataset.name },
            "attrs": { "rows": long(dataset.rows), "columns": dataset.columns },
            "parents": [],
        })];
        let mut parents = vec![];
        if !r.organisation.is_empty() {
            let org =
                serde_json::json!({ "type": format!("{NS}::Organisation"), "id": r.organisation });
            list.push(serde_json::json!({ "uid": org, "attrs": {}, "parents": [] }));
            parents.push(org);
        }
        list.push(serde_json::json!({
            "uid": { "type": format!("{NS}::Researcher"), "id": r.name },
            "attrs": { "organisation": r.organisation, "trust": i64::from(r.trust) },
            "parents": parents,
        }));
        Entities::from_json_value(serde_json::Value::Array(list), Some(&self.schema))
            .map_err(|e| e.to_string())
    }
}

enum Cell {
    Allow,
    Suppress(Vec<String>),
    Deny(Denial),
}

fn model_json(m: &ModelFacts) -> serde_json::Value {
    let mut v = serde_json::json!({
        "sha256": m.sha256,
        "ops": m.ops,
        "parameters": long(m.parameters),
        "input_width": long(m.input_width),
        "output_width": long(m.output_width),
        "echo": m.echo,
    });
    if let Some(c) = m.constraints {
        v["constraints"] = long(c).into();
    }
    if let Some(c) = m.memory_mb {
        v["memory_mb"] = long(c).into();
    }
    v
}

fn job_json(j: &JobFacts) -> serde_json::Value {
    serde_json::json!({
        "aggregate": j.aggregate,
        "rows": long(j.rows),
        "columns": j.columns,
        "jobs_today": long(j.jobs_today),
        "epsilon": decimal(j.epsilon),
        "epsilon_spent": decimal(j.epsilon_spent),
        "epsilon_left": decimal(j.epsilon_left),
        "proof_system": j.proof_system,
    })
}

/// A non-negative number as a Cedar `decimal` (four places, rounded down,
/// so a fact never claims more budget than there is).
fn decimal(x: f64) -> serde_json::Value {
    let x = if x.is_finite() {
        x.clamp(0.0, 1e12)
    } else {
        0.0
    };
    let units = (x * 10_000.0).floor() as u64;
    serde_json::json!({ "__extn": { "fn": "decimal", "arg": format!("{}.{:04}", units / 10_000, units % 10_000) } })
}

#[cfg(test)]
mod tests;
