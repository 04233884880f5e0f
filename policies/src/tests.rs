use super::*;

fn researcher(name: &str, org: &str, trust: u8) -> Researcher {
    Researcher {
        name: name.into(),
        organisation: org.into(),
        trust,
    }
}

const CANCER_MODEL: &str = "8f6953de577f15307d889678ed85f7ebbe8260d756a53180f4eef85e5e2a22d8";

/// A legitimate job: the shipped breast-cancer classifier's accuracy over
/// the whole registry, by a vetted oncologist.
fn legit() -> Admission {
    Admission {
        researcher: researcher("alice", "oncology", 2),
        dataset: DatasetFacts {
            name: "breast_cancer".into(),
            rows: 569,
            columns: (0..31).map(|i| format!("c{i}")).collect(),
        },
        model: ModelFacts {
            sha256: CANCER_MODEL.into(),
            ops: ["Gemm", "Relu", "Softmax"].map(String::from).into(),
            parameters: 530,
            input_width: 30,
            output_width: 2,
            echo: false,
            constraints: None,
            memory_mb: None,
        },
        job: JobFacts {
            aggregate: "accuracy".into(),
            rows: 569,
            columns: (0..31).map(|i| format!("c{i}")).collect(),
            jobs_today: 0,
            epsilon: 1.0,
            epsilon_spent: 0.0,
            epsilon_left: 10.0,
            proof_system: "groth16".into(),
        },
    }
}

fn engine(name: &str) -> Engine {
    Engine::profile(name).expect("shipped profile")
}

fn denied_by(d: Decision) -> Vec<String> {
    match d {
        Decision::Deny(d) => {
            for r in &d.rules {
                assert!(d.message.contains(r), "{} should name {r}", d.message);
            }
            d.rules
        }
        Decision::Allow(r) => panic!("expected a denial, allowed by {r:?}"),
        Decision::Hold(d) => panic!("expected a denial, held by {:?}", d.rules),
    }
}

fn held_by(d: Decision) -> Vec<String> {
    match d {
        Decision::Hold(d) => {
            assert!(d.message.contains("held"), "{}", d.message);
            d.rules
        }
        other => panic!("expected a hold, got {other:?}"),
    }
}

fn released(e: &Engine, cells: &[u64]) -> ReleaseDecision {
    e.release(&Release {
        admission: legit(),
        cells: cells.to_vec(),
        contributors: 569,
    })
}

#[test]
fn shipped_profiles_load_and_admit_a_legitimate_job() {
    for (name, _) in PROFILES {
        let e = engine(name);
        assert!(!e.rules().is_empty());
        assert!(
            matches!(e.admit(&legit()), Decision::Allow(_)),
            "{name}: {:?}",
            e.admit(&legit())
        );
        assert!(matches!(
            e.read_receipt(&legit().researcher, &legit().dataset),
            Decision::Allow(_)
        ));
        assert!(matches!(
            released(&e, &[210, 359]),
            ReleaseDecision::Allow(_)
        ));
    }
}

/// A researcher's goal: the rows themselves, through a model that passes an
/// input column through unchanged (every output is one row's value).
/// Denied under `default` and `hospital` (`no-echo`).
#[test]
fn red_team_echo_model_is_denied() {
    let mut a = legit();
    a.model.echo = true;
    a.model.output_width = 1;
    for name in ["default", "hospital"] {
        assert!(denied_by(engine(name).admit(&a)).contains(&"no-echo".to_string()));
    }
}

#[test]
fn model_as_wide_as_its_input_is_denied() {
    let mut a = legit();
    a.model.output_width = 30;
    assert_eq!(denied_by(engine("default").admit(&a)), ["narrow-output"]);
    assert_eq!(denied_by(engine("hospital").admit(&a)), ["output-size"]);
}

#[test]
fn too_few_rows_are_denied() {
    let mut a = legit();
    a.job.rows = 19;
    assert_eq!(denied_by(engine("default").admit(&a)), ["min-rows"]);
    a.job.rows = 99;
    assert_eq!(denied_by(engine("hospital").admit(&a)), ["min-cohort"]);
    a.job.rows = 150;
    a.job.aggregate = "confusion".into();
    assert_eq!(
        denied_by(engine("hospital").admit(&a)),
        ["min-cohort-confusion"]
    );
}

#[test]
fn small_cells_deny_or_suppress_per_profile() {
    // Strict: a cell of 7 patients denies the release.
    match released(&engine("hospital"), &[7, 300, 262]) {
        ReleaseDecision::Deny(d) => assert_eq!(d.rules, ["min-cell"]),
        other => panic!("{other:?}"),
    }
    // Default: cells of 3 and 4 are suppressed below the rule's threshold
    // of 5 (found from the rule, not from the data); together they are 7,
    // enough to release.
    assert_eq!(
        released(&engine("default"), &[3, 4, 300, 262]),
        ReleaseDecision::Suppress {
            below: 5,
            rules: vec!["small-cells".into()]
        }
    );
    // One suppressed cell would follow from the row count: denied.
    match released(&engine("default"), &[3, 300, 266]) {
        ReleaseDecision::Deny(d) => {
            assert_eq!(d.rules, ["small-cells"]);
            assert!(d.message.contains("total"), "{}", d.message);
        }
        other => panic!("{other:?}"),
    }
    // Zero cells are no disclosure under the shipped rules.
    assert!(matches!(
        released(&engine("hospital"), &[0, 569]),
        ReleaseDecision::Allow(_)
    ));
    // Sums and means have no cells.
    assert!(matches!(
        released(&engine("hospital"), &[]),
        ReleaseDecision::Allow(_)
    ));
}

#[test]
fn unlisted_model_hash_is_held_for_the_owner() {
    let mut a = legit();
    a.model.sha256 = "00".repeat(32);
    assert_eq!(held_by(engine("hospital").admit(&a)), ["approved-models"]);
    assert!(matches!(engine("default").admit(&a), Decision::Allow(_)));
    // A hold never overrides a refusal: with another rule denying too, the
    // job is refused, both rules named.
    a.job.rows = 50;
    assert_eq!(
        denied_by(engine("hospital").admit(&a)),
        ["approved-models", "min-cohort"]
    );
}

#[test]
fn hold_rules_hold_admission_only() {
    let src = "@id(\"all\")\npermit (principal, action, resource);\n\
        @id(\"review\")\n@reason(\"new models are reviewed\")\n@on_deny(\"hold\")\n\
        forbid (principal, action, resource) when { principal.trust < 2 };\n";
    let e = Engine::from_source("hold.cedar", src).unwrap();
    let mut a = legit();
    assert!(matches!(e.admit(&a), Decision::Allow(_)));
    a.researcher.trust = 1;
    let Decision::Hold(d) = e.admit(&a) else {
        panic!("{:?}", e.admit(&a))
    };
    assert_eq!(d.rules, ["review"]);
    assert!(
        d.message.contains("new models are reviewed") && d.message.contains("approval"),
        "{}",
        d.message
    );
    // A receipt read or a release is never held: what a hold rule forbids
    // there is refused.
    assert_eq!(
        denied_by(e.read_receipt(&a.researcher, &a.dataset)),
        ["review"]
    );
    let r = e.release(&Release {
        admission: a,
        cells: vec![210, 359],
        contributors: 569,
    });
    assert!(matches!(r, ReleaseDecision::Deny(_)), "{r:?}");
    // `hold` is a forbid rule's annotation, and no other value is taken.
    let p = problems("@id(\"a\")\n@on_deny(\"hold\")\npermit (principal, action, resource);\n");
    assert!(p[0].contains("forbid"), "{p:?}");
    let p = problems("@id(\"a\")\n@on_deny(\"later\")\nforbid (principal, action, resource);\n");
    assert!(p[0].contains("\"hold\""), "{p:?}");
}

#[test]
fn denied_op_kind_is_denied() {
    let mut a = legit();
    a.model.ops.insert("Identity".into());
    assert_eq!(denied_by(engine("hospital").admit(&a)), ["denied-ops"]);
}

#[test]
fn researcher_over_quota_is_denied() {
    let mut a = legit();
    a.job.jobs_today = 10;
    assert_eq!(denied_by(engine("hospital").admit(&a)), ["daily-quota"]);
    a.job.jobs_today = 49;
    assert!(matches!(engine("default").admit(&a), Decision::Allow(_)));
    a.job.jobs_today = 50;
    assert_eq!(denied_by(engine("default").admit(&a)), ["daily-quota"]);
}

#[test]
fn researcher_not_allowed_on_dataset_is_denied() {
    let mut a = legit();
    a.researcher = researcher("mallory", "marketing", 3);
    assert_eq!(denied_by(engine("hospital").admit(&a)), ["registry-access"]);
    // Low trust: no rule permits anything.
    a.researcher = researcher("bob", "oncology", 1);
    assert_eq!(denied_by(engine("hospital").admit(&a)), [DEFAULT_DENY]);
    assert_eq!(
        denied_by(engine("hospital").read_receipt(&a.researcher, &a.dataset)),
        [DEFAULT_DENY]
    );
}

#[test]
fn disallowed_aggregate_is_denied() {
    let mut a = legit();
    a.job.aggregate = "sum".into();
    assert_eq!(
        denied_by(engine("hospital").admit(&a)),
        ["allowed-aggregates"]
    );
}

#[test]
fn constraints_rule_applies_once_known() {
    let mut a = legit();
    a.model.constraints = Some(5_000_000);
    assert_eq!(denied_by(engine("default").admit(&a)), ["max-constraints"]);
    a.model.constraints = Some(600_000);
    assert!(matches!(engine("default").admit(&a), Decision::Allow(_)));
}

#[test]
fn denial_names_rule_and_reason_only() {
    let mut a = legit();
    a.job.rows = 3;
    let Decision::Deny(d) = engine("default").admit(&a) else {
        panic!()
    };
    assert_eq!(
        d.message,
        "denied by rule `min-rows` (aggregates must cover at least 20 rows)"
    );
}

fn problems(src: &str) -> Vec<String> {
    Engine::from_source("test.cedar", src).unwrap_err().problems
}

#[test]
fn syntax_error_points_at_its_line() {
    let src = "@id(\"a\")\npermit (principal, action, resource);\n\n@id(\"b\")\nforbid (principal action, resource);\n";
    let p = problems(src);
    assert!(p[0].starts_with("5:"), "{p:?}");
    let msg = Engine::from_source("test.cedar", src)
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("test.cedar:5:"), "{msg}");
}

#[test]
fn schema_violations_point_at_their_line() {
    // An attribute the schema does not have.
    let p = problems(
        "@id(\"a\")\npermit (principal, action, resource);\n@id(\"b\")\nforbid (principal, action, resource)\nwhen { context.job.salary > 3 };\n",
    );
    assert!(p.iter().any(|p| p.starts_with("5:")), "{p:?}");
    // A type error: a string compared with a number.
    let p = problems(
        "@id(\"a\")\npermit (principal, action == Zkgate::Action::\"submit\", resource)\nwhen { context.job.aggregate > 3 };\n",
    );
    assert!(p.iter().any(|p| p.starts_with("3:")), "{p:?}");
}

#[test]
fn annotations_are_checked() {
    let p = problems("permit (principal, action, resource);\n");
    assert!(p[0].starts_with("1:1:") && p[0].contains("@id"), "{p:?}");
    let p = problems(
        "@id(\"a\")\npermit (principal, action, resource);\n\n@id(\"a\")\nforbid (principal, action, resource) when { principal.trust < 1 };\n",
    );
    assert!(
        p[0].starts_with("4:1:") && p[0].contains("duplicate"),
        "{p:?}"
    );
    let p = problems("@id(\"a\")\n@on_deny(\"suppress\")\npermit (principal, action, resource);\n");
    assert!(p[0].contains("forbid"), "{p:?}");
    let p = problems("@id(\"a\")\n@colour(\"red\")\npermit (principal, action, resource);\n");
    assert!(p[0].contains("@colour"), "{p:?}");
    assert!(problems("").iter().any(|p| p.contains("no policies")));
}

#[test]
fn non_threshold_cell_rules_cannot_suppress() {
    // Suppressing "odd counts" is not a threshold: the engine refuses
    // rather than suppress something the circuit cannot express.
    let e = Engine::from_source(
        "odd.cedar",
        "@id(\"all\")\npermit (principal, action, resource);\n@id(\"odd\")\n@on_deny(\"suppress\")\nforbid (principal, action == Zkgate::Action::\"release_cell\", resource)\nwhen { context.count == 7 };\n",
    )
    .unwrap();
    match released(&e, &[7, 300, 262]) {
        ReleaseDecision::Deny(d) => assert!(d.message.contains("threshold"), "{}", d.message),
        other => panic!("{other:?}"),
    }
}

#[test]
fn epsilon_is_required_or_capped_per_profile_and_aggregate() {
    let with = |aggregate: &str, epsilon: f64| {
        let mut a = legit();
        a.job.aggregate = aggregate.into();
        a.job.epsilon = epsilon;
        a
    };
    // The hospital profile releases noised values only: at most 1 per job,
    // 0.5 for means.
    let h = engine("hospital");
    assert_eq!(
        denied_by(h.admit(&with("accuracy", 0.0))),
        ["noise-required"]
    );
    assert_eq!(
        denied_by(h.admit(&with("accuracy", 1.5))),
        ["noise-required"]
    );
    assert_eq!(denied_by(h.admit(&with("mean", 0.8))), ["noise-required"]);
    assert!(matches!(h.admit(&with("mean", 0.5)), Decision::Allow(_)));
    assert!(matches!(
        h.admit(&with("confusion", 1.0)),
        Decision::Allow(_)
    ));
    // The default profile lets the researcher choose, within caps.
    let d = engine("default");
    assert!(matches!(
        d.admit(&with("accuracy", 0.0)),
        Decision::Allow(_)
    ));
    assert!(matches!(
        d.admit(&with("accuracy", 2.0)),
        Decision::Allow(_)
    ));
    assert_eq!(
        denied_by(d.admit(&with("accuracy", 2.5))),
        ["epsilon-per-job"]
    );
    assert_eq!(denied_by(d.admit(&with("mean", 1.5))), ["epsilon-per-job"]);
    assert!(matches!(d.admit(&with("mean", 1.0)), Decision::Allow(_)));
}

#[test]
fn budget_facts_reach_the_policy() {
    // An owner's own rule on the budget facts.
    let src = r#"
        @id("all") permit (principal, action, resource);
        @id("keep-some")
        @reason("keep one unit of budget in reserve")
        forbid (principal, action == Zkgate::Action::"submit", resource)
        when { context.job.epsilon_left.lessThan(decimal("1.0")) ||
               context.job.epsilon_spent.greaterThan(decimal("9.0")) };
    "#;
    let e = Engine::from_source("budget.cedar", src).unwrap();
    let mut a = legit();
    assert!(matches!(e.admit(&a), Decision::Allow(_)));
    a.job.epsilon_left = 0.5;
    assert_eq!(denied_by(e.admit(&a)), ["keep-some"]);
    a.job.epsilon_left = 5.0;
    a.job.epsilon_spent = 9.25;
    assert_eq!(denied_by(e.admit(&a)), ["keep-some"]);
}

#[test]
fn a_release_drawn_from_a_few_rows_is_denied() {
    // A selector model: every row's share zero but one. Exact releases are
    // denied; noised ones are not judged on the count (its denial would be
    // an exact bit about the rows that the noise does not cover).
    for (name, k) in [("default", 5u64), ("hospital", 10), ("open", 2)] {
        let e = engine(name);
        let release = |contributors, epsilon| {
            let mut admission = legit();
            admission.job.epsilon = epsilon;
            e.release(&Release {
                admission,
                cells: vec![],
                contributors,
            })
        };
        assert!(
            matches!(release(k - 1, 0.0), ReleaseDecision::Deny(d) if d.rules == ["min-contributors"]),
            "{name}"
        );
        assert!(
            matches!(release(k, 0.0), ReleaseDecision::Allow(_)),
            "{name}"
        );
        assert!(
            matches!(release(1, 1.0), ReleaseDecision::Allow(_)),
            "{name}: a noised release is not judged on its exact cohort"
        );
    }
}

/// A researcher's goal: one person's exact value from a sum, mean or
/// error. A constant offset (`1 + f0 * [row is Bob]`, scaled, shifted, or
/// selecting two rows) makes every row's share non-zero, so the
/// `min-contributors` count cannot see it, and two jobs that differ by a
/// selector (`sum(f1)`, then `sum(f1 + f0 * [row is Bob])`) difference away
/// any per-job cohort. Under `default` and `hospital` no such release
/// leaves exact: the submission is refused unless it asks for noise; the
/// `open` profile admits it (it is documented as exact on purpose).
#[test]
fn red_team_offset_selector_and_differencing_need_noise() {
    for aggregate in ["sum", "mean", "mse", "mae"] {
        let mut a = legit();
        a.job.aggregate = aggregate.into();
        a.model.output_width = 1;
        a.job.epsilon = 0.0;
        // What the release facts would say for the offset selector: every
        // row contributes.
        for name in ["default", "hospital"] {
            let d = denied_by(engine(name).admit(&a));
            assert!(
                d.contains(&"noise-on-values".to_string())
                    || d.contains(&"noise-required".to_string()),
                "{name} {aggregate}: {d:?}"
            );
        }
        assert!(
            matches!(engine("open").admit(&a), Decision::Allow(_)),
            "open {aggregate}"
        );
        // With noise (within the caps) the same job is admitted (of these,
        // `hospital` allows means only).
        a.job.epsilon = 0.5;
        assert!(
            matches!(engine("default").admit(&a), Decision::Allow(_)),
            "default {aggregate} noised"
        );
        assert_eq!(
            matches!(engine("hospital").admit(&a), Decision::Allow(_)),
            aggregate == "mean",
            "hospital {aggregate} noised"
        );
    }
    // Counts and accuracy may still be exact under `default`: one row
    // moves them by at most one (see `red_team_threshold_search`).
    for aggregate in ["accuracy", "class_counts", "confusion", "count_at_least"] {
        let mut a = legit();
        a.job.aggregate = aggregate.into();
        a.job.epsilon = 0.0;
        assert!(
            matches!(engine("default").admit(&a), Decision::Allow(_)),
            "{aggregate}"
        );
    }
}

/// A researcher's goal: one person's value, by searching thresholds with
/// exact `count-at-least` jobs over a model that isolates them (the count
/// moves by one when the threshold passes their value). Each exact count
/// gives at most one bit per job: `hospital` noises counts and refuses the
/// exact search; `default` admits exact counts (a documented exposure,
/// bounded by the owner's allow-lists and quotas, not by noise).
#[test]
fn red_team_threshold_search() {
    let mut a = legit();
    a.job.aggregate = "count_at_least".into();
    a.job.epsilon = 0.0;
    assert!(!matches!(engine("hospital").admit(&a), Decision::Allow(_)));
    assert!(matches!(engine("default").admit(&a), Decision::Allow(_)));
}

#[test]
fn the_hospital_profile_refuses_ezkl_and_the_default_admits_it() {
    let mut a = legit();
    a.job.proof_system = "ezkl".into();
    assert_eq!(denied_by(engine("hospital").admit(&a)), ["groth16-only"]);
    assert!(matches!(engine("default").admit(&a), Decision::Allow(_)));
    a.job.proof_system = "groth16".into();
    assert!(!matches!(engine("hospital").admit(&a), Decision::Deny(_)));
}
