//! The data owner's policy at work: the facts each decision is made on,
//! the decisions at submit time, after compiling, before release and on
//! receipt reads, each one written to the audit log, and reloads.

use crate::audit::Record;
use crate::error::{Error, Result};
use crate::store::{DatasetMeta, Job, Manifest, Researcher};
use crate::Gateway;
use std::sync::Arc;
use zkgate_policies::{
    Admission, DatasetFacts, Decision, Engine, JobFacts, ModelFacts, Release, ReleaseDecision,
};
use zkgate_statement::columns::Columns;
use zkgate_zkml::import::Imported;
use zkgate_zkml::spec::Evaluation;

/// Loads and validates the policy file named in the configuration.
pub fn load(path: &std::path::Path) -> Result<Engine> {
    Engine::load(path).map_err(|e| Error::Config(format!("invalid policy:\n{e}")))
}

/// Reads the policy file again. A valid file replaces the policy in force;
/// an invalid one is rejected with its errors and the old policy stays.
/// Both outcomes are audited. Returns the new rule names.
pub fn reload(gw: &Gateway) -> Result<Vec<String>> {
    let mut r = Record {
        who: "owner".into(),
        action: "policy_reload".into(),
        ..Record::default()
    };
    let outcome = load(&gw.paths.policy(&gw.config)).map(|engine| {
        let rules = engine.rules().to_vec();
        *gw.policy.write().expect("policy lock") = Arc::new(engine);
        rules
    });
    match &outcome {
        Ok(rules) => {
            r.decision = "ok".into();
            r.rules = rules.clone();
            r.message = format!("{} rules in force", rules.len());
        }
        Err(e) => {
            r.decision = "rejected".into();
            r.message = e.to_string();
        }
    }
    gw.audit.append(r)?;
    outcome
}

fn engine(gw: &Gateway) -> Arc<Engine> {
    gw.policy.read().expect("policy lock").clone()
}

/// Start of the UTC day containing `t` (Unix seconds).
fn day_start(t: u64) -> u64 {
    t - t % 86_400
}

/// Of `jobs`, those `who` submitted on the UTC day of `at`, before `at`,
/// other than `except`.
pub fn jobs_today(jobs: &[Job], who: &str, at: u64, except: Option<&str>) -> u64 {
    let from = day_start(at);
    jobs.iter()
        .filter(|j| {
            j.researcher == who
                && j.created >= from
                && j.created <= at
                && Some(j.id.as_str()) != except
        })
        .count() as u64
}

/// The facts of a job, at submit time (`constraints` unknown) or once
/// compiled: built by [`Facts::of`] alone.
#[derive(Clone)]
pub struct Facts<'a> {
    /// Who.
    pub researcher: &'a Researcher,
    /// The dataset.
    pub dataset: &'a DatasetMeta,
    /// The model.
    pub model: &'a Imported,
    /// The manifest.
    pub manifest: &'a Manifest,
    /// Jobs earlier today.
    pub jobs_today: u64,
    /// Circuit size, once compiled.
    pub constraints: Option<usize>,
    /// Estimated peak memory of proving, MiB, once compiled.
    pub memory_mb: Option<u64>,
    /// The researcher's privacy budget on the dataset: spent before this
    /// job, and left.
    pub epsilon: crate::store::Budget,
}

impl<'a> Facts<'a> {
    /// The facts of a submission (`job` None), or of the stored job `job`
    /// (itself not among the day's jobs, its own share of the budget
    /// counted back): what the researcher had when it was submitted.
    #[allow(clippy::too_many_arguments)]
    pub fn of(
        gw: &Gateway,
        researcher: &'a Researcher,
        dataset: &'a DatasetMeta,
        model: &'a Imported,
        manifest: &'a Manifest,
        jobs: &[Job],
        at: u64,
        job: Option<&str>,
    ) -> Result<Facts<'a>> {
        let mut epsilon = gw.store.budget(
            manifest.budget_holder(&researcher.name),
            &dataset.name,
            gw.config.privacy_budget,
        )?;
        if job.is_some() {
            epsilon.spent = (epsilon.spent - manifest.epsilon.unwrap_or(0.0)).max(0.0);
        }
        Ok(Facts {
            researcher,
            dataset,
            model,
            manifest,
            jobs_today: jobs_today(jobs, &researcher.name, at, job),
            constraints: None,
            memory_mb: None,
            epsilon,
        })
    }

    /// The same facts once the job is compiled: its constraints and its
    /// proving memory (bytes).
    pub fn compiled(mut self, constraints: usize, memory: u64) -> Facts<'a> {
        self.constraints = Some(constraints);
        self.memory_mb = Some(memory >> 20);
        self
    }

    fn admission(&self) -> Admission {
        let m = self.manifest;
        // The columns the job reads, by the rule compilation uses; a
        // manifest that does not resolve (refused before the policy is
        // asked) is judged by the names it gives.
        let names = self.dataset.columns();
        let columns = Columns::resolve(&names, m.columns.as_deref(), m.aggregate.label())
            .map(|c| c.names(&names))
            .unwrap_or_else(|_| {
                let mut names = m.columns.clone().unwrap_or_default();
                names.extend(m.aggregate.label().map(str::to_string));
                names
            });
        Admission {
            researcher: facts_of(self.researcher),
            dataset: DatasetFacts {
                name: self.dataset.name.clone(),
                rows: self.dataset.rows,
                columns: names.clone(),
            },
            model: model_facts(self.model, self.constraints, self.memory_mb),
            job: JobFacts {
                aggregate: m.aggregate.name().into(),
                rows: self.dataset.rows,
                columns,
                jobs_today: self.jobs_today,
                epsilon: m.epsilon.unwrap_or(0.0),
                epsilon_spent: self.epsilon.spent,
                epsilon_left: self.epsilon.left(),
                proof_system: m
                    .question
                    .as_ref()
                    .map_or("groth16", |q| q.proof_system.name())
                    .into(),
            },
        }
    }
}

/// What policies see of a model (and of its circuit, once compiled).
pub fn model_facts(
    model: &Imported,
    constraints: Option<usize>,
    memory_mb: Option<u64>,
) -> ModelFacts {
    ModelFacts {
        sha256: model.onnx_sha256.clone(),
        ops: model.onnx_ops.clone(),
        parameters: model.onnx_parameters,
        input_width: model.model.inputs as u64,
        output_width: model.model.outputs() as u64,
        echo: model.model.echoes_input(),
        constraints: constraints.map(|c| c as u64),
        memory_mb,
    }
}

fn facts_of(r: &Researcher) -> zkgate_policies::Researcher {
    zkgate_policies::Researcher {
        name: r.name.clone(),
        organisation: r.organisation.clone(),
        trust: r.trust,
    }
}

fn record(f: &Facts<'_>, action: &str, job: Option<&str>) -> Record {
    Record {
        who: f.researcher.name.clone(),
        action: action.into(),
        dataset: Some(f.dataset.name.clone()),
        job: job.map(str::to_string),
        model: Some(f.model.onnx_sha256.clone()),
        ..Record::default()
    }
}

/// What admission decided of a job that may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    /// It runs.
    Allow,
    /// It waits for the data owner: the rules that hold it, and why.
    Hold(zkgate_policies::Denial),
}

/// Records an admission-style decision, then turns a denial into the
/// researcher's error. A hold is recorded as such and returned, unless the
/// owner `approved` the job, which admits it (recorded as allowed over the
/// holding rules).
fn enforce(gw: &Gateway, mut r: Record, d: Decision, approved: bool) -> Result<Admitted> {
    match d {
        Decision::Allow(rules) => {
            r.decision = "allow".into();
            r.rules = rules;
            gw.audit.append(r)?;
            Ok(Admitted::Allow)
        }
        Decision::Hold(d) if approved => {
            r.decision = "allow".into();
            r.message = format!(
                "approved by the data owner over rule {}",
                d.rules.join(", ")
            );
            r.rules = d.rules;
            gw.audit.append(r)?;
            Ok(Admitted::Allow)
        }
        Decision::Hold(d) => {
            r.decision = "hold".into();
            r.rules = d.rules.clone();
            r.message = d.message.clone();
            gw.audit.append(r)?;
            Ok(Admitted::Hold(d))
        }
        Decision::Deny(d) => {
            r.decision = "deny".into();
            r.rules = d.rules.clone();
            r.message = d.message.clone();
            gw.audit.append(r)?;
            Err(denied(d))
        }
    }
}

fn denied(d: zkgate_policies::Denial) -> Error {
    Error::Denied {
        message: d.message,
        rules: d.rules,
    }
}

/// Admission: at submit time and again once the circuit is compiled
/// (constraints in the facts). `approved`: the owner approved the job
/// after a hold, so holding rules admit it.
pub fn admit(gw: &Gateway, f: &Facts<'_>, job: &str, approved: bool) -> Result<Admitted> {
    let d = engine(gw).admit(&f.admission());
    let action = if f.constraints.is_some() {
        "admit_compiled"
    } else {
        "submit"
    };
    enforce(gw, record(f, action, Some(job)), d, approved)
}

/// What admission would decide of a job, without recording anything (a
/// dry run: nothing is stored or queued).
pub fn would_admit(gw: &Gateway, f: &Facts<'_>) -> Decision {
    engine(gw).admit(&f.admission())
}

/// Release: on the outputs the job would publish. Returns the suppression
/// threshold the circuit must prove (0 for none).
pub fn release(gw: &Gateway, f: &Facts<'_>, job: &str, eval: &Evaluation) -> Result<u64> {
    let request = Release {
        admission: f.admission(),
        cells: f.manifest.aggregate.cells(f.dataset.rows, &eval.aggregates),
        contributors: eval.contributors,
    };
    let d = engine(gw).release(&request);
    let mut r = record(f, "release", Some(job));
    let out = match &d {
        ReleaseDecision::Allow(rules) => {
            r.decision = "allow".into();
            r.rules = rules.clone();
            Ok(0)
        }
        ReleaseDecision::Suppress { below, rules } => {
            r.decision = "suppress".into();
            r.rules = rules.clone();
            r.message = format!("cells below {below} suppressed");
            Ok(*below)
        }
        ReleaseDecision::Deny(d) => {
            r.decision = "deny".into();
            r.rules = d.rules.clone();
            r.message = d.message.clone();
            Err(denied(d.clone()))
        }
    };
    gw.audit.append(r)?;
    out
}

/// Whether `who` may fetch the receipt of `job` (`key`: its verifying
/// key, audited as `read_key`, so that a download of both reads as two
/// different entries).
pub fn read_receipt(gw: &Gateway, who: &Researcher, job: &Job, key: bool) -> Result<()> {
    let (rows, columns) = match gw.store.dataset(&job.manifest.dataset)? {
        Some(m) => (m.rows, m.columns()),
        None => (0, vec![]),
    };
    let researcher = facts_of(who);
    let facts = DatasetFacts {
        name: job.manifest.dataset.clone(),
        rows,
        columns,
    };
    let d = engine(gw).read_receipt(&researcher, &facts);
    let r = Record {
        who: who.name.clone(),
        action: if key { "read_key" } else { "read_receipt" }.into(),
        dataset: Some(job.manifest.dataset.clone()),
        job: Some(job.id.clone()),
        model: Some(job.model_sha256.clone()),
        ..Record::default()
    };
    match enforce(gw, r, d, false)? {
        Admitted::Allow => Ok(()),
        // Reads are never held (the engine holds admissions only).
        Admitted::Hold(d) => Err(denied(d)),
    }
}
