//! Every aggregate's gadget against its native evaluation: the per-row
//! shares summed in the circuit equal the native values, and a claimed
//! value off by one leaves the system unsatisfied.

use super::*;
use ark_relations::gr1cs::ConstraintSystem;
use zkgate_circuits::{argmax, i128_to_field};

/// Outputs of a 3-class model over 6 rows, with labels.
fn rows() -> (Vec<Vec<i128>>, Vec<i64>) {
    let outputs = vec![
        vec![5, -3, 2],
        vec![-1, 4, 0],
        vec![0, 0, 9],
        vec![7, 7, -2],
        vec![-6, -2, -4],
        vec![1, 3, 2],
    ];
    (outputs, vec![0, 1, 1, 0, 2, 1])
}

/// The labels' column, declared over exactly their range.
fn label_column(labels: &[i64]) -> crate::schema::Column {
    crate::schema::Column {
        name: "y".into(),
        kind: Kind::Integer,
        min: *labels.iter().min().unwrap() as f64,
        max: *labels.iter().max().unwrap() as f64,
        scale: Some(0),
        codes: None,
    }
}

fn cases() -> Vec<(Aggregate, bool)> {
    let label = || "y".to_string();
    vec![
        (Aggregate::Sum, false),
        (Aggregate::Mean, false),
        (Aggregate::ClassCounts, false),
        (Aggregate::Accuracy { label: label() }, false),
        (Aggregate::Confusion { label: label() }, false),
        (Aggregate::CountAtLeast { threshold: 0.5 }, true),
        (Aggregate::Mse { label: label() }, true),
        (Aggregate::Mae { label: label() }, true),
    ]
}

/// Builds the per-row gadgets over `outputs` and constrains their sums to
/// `claimed`; returns whether the system is satisfied.
fn prove(
    a: &Aggregate,
    p: &AggregateParams,
    outputs: &[Vec<i128>],
    labels: &[i64],
    claimed: &[i128],
) -> bool {
    let cs = ConstraintSystem::<Fr>::new_ref();
    let w = |v: i128| Num::witness(&cs, Some(i128_to_field(v))).unwrap();
    let mut totals: Vec<Num> = vec![Num::zero(); claimed.len()];
    for (y, l) in outputs.iter().zip(labels) {
        let y: Vec<Num> = y.iter().map(|v| w(*v)).collect();
        let label = w(i128::from(*l));
        let class = a
            .needs_classes()
            .then(|| argmax::argmax(&cs, &y, 8).unwrap());
        let row = RowVars {
            outputs: &y,
            class: class.as_deref(),
            label: a.label().map(|_| &label),
        };
        let part = a.gadget(&cs, &row, p).unwrap();
        assert_eq!(part.len(), claimed.len(), "{}", a.name());
        for (t, v) in totals.iter_mut().zip(&part) {
            *t = t.add(v);
        }
    }
    for (t, c) in totals.iter().zip(claimed) {
        zkgate_circuits::compare::assert_equal(&cs, t, &Num::constant(i128_to_field(*c))).unwrap();
    }
    cs.is_satisfied().unwrap()
}

#[test]
fn every_gadget_matches_its_native_evaluation_and_refuses_a_wrong_value() {
    let (all, labels) = rows();
    for (a, single) in cases() {
        let outputs: Vec<Vec<i128>> = if single {
            all.iter().map(|y| vec![y[0]]).collect()
        } else {
            all.clone()
        };
        let width = outputs[0].len();
        let label_column = label_column(&labels);
        a.check(width, a.label().map(|_| &label_column)).unwrap();
        let mut p = AggregateParams::new(width, 1);
        let y: Vec<i128> = outputs.iter().map(|o| o[0]).collect();
        a.fix_constants(
            &Bounds {
                output_scale: 1,
                output_range: (*y.iter().min().unwrap(), *y.iter().max().unwrap()),
                label: a.label().map(|_| &label_column),
                margin_bits: 0,
            },
            &mut p,
        )
        .unwrap();
        let classes: Vec<usize> = outputs.iter().map(|o| argmax::argmax_native(o)).collect();
        let native = a
            .native(
                &Rows {
                    first: 0,
                    outputs: &outputs,
                    classes: a.needs_classes().then_some(classes.as_slice()),
                    labels: Some(&labels),
                },
                &p,
            )
            .unwrap();
        assert_eq!(native.len(), a.values(width, &p), "{}", a.name());
        assert!(
            prove(&a, &p, &outputs, &labels, &native),
            "{} honest",
            a.name()
        );
        for k in 0..native.len() {
            let mut wrong = native.clone();
            wrong[k] += 1;
            assert!(
                !prove(&a, &p, &outputs, &labels, &wrong),
                "{} value {k} tampered",
                a.name()
            );
        }
    }
}

#[test]
fn known_values() {
    let (outputs, labels) = rows();
    let classes: Vec<usize> = outputs.iter().map(|o| argmax::argmax_native(o)).collect();
    assert_eq!(classes, [0, 1, 2, 0, 1, 1]);
    let r = Rows {
        first: 0,
        outputs: &outputs,
        classes: Some(&classes),
        labels: Some(&labels),
    };
    let p = AggregateParams::new(3, 0);
    let label = || "y".to_string();
    assert_eq!(Aggregate::ClassCounts.native(&r, &p).unwrap(), [2, 3, 1]);
    assert_eq!(
        Aggregate::Accuracy { label: label() }
            .native(&r, &p)
            .unwrap(),
        [4]
    );
    assert_eq!(
        Aggregate::Confusion { label: label() }
            .native(&r, &p)
            .unwrap(),
        [2, 0, 0, 0, 2, 1, 0, 1, 0]
    );
    assert_eq!(Aggregate::Sum.native(&r, &p).unwrap(), [6, 9, 7]);
    let bad = [0, 1, 1, 0, 3, 1];
    let e = Aggregate::Confusion { label: label() }
        .native(
            &Rows {
                labels: Some(&bad),
                first: 10,
                ..r
            },
            &p,
        )
        .unwrap_err();
    let e = e.to_string();
    assert!(e.contains("not one of the model's 3 classes"), "{e}");
    assert!(
        !e.contains('3') || !e.contains("row"),
        "no row or value: {e}"
    );
    assert_eq!(
        Aggregate::CountAtLeast { threshold: 1.0 }.cells(10, &[3]),
        [3, 7]
    );
    assert!(Aggregate::Mean.cells(10, &[3]).is_empty());
}

#[test]
fn names_parse_back_and_models_are_checked() {
    for name in Aggregate::NAMES {
        let a = Aggregate::parse(name, Some("y"), Some(1.0)).unwrap();
        assert_eq!(a.name(), name);
    }
    assert!(Aggregate::parse("accuracy", None, None).is_err());
    assert!(Aggregate::parse("count-at-least", None, None).is_err());
    assert!(Aggregate::parse("median", None, None).is_err());
    assert!(Aggregate::ClassCounts.check(1, None).is_err());
    assert!(Aggregate::Mse { label: "y".into() }.check(2, None).is_err());
    let real = crate::schema::Column {
        kind: Kind::Real,
        scale: Some(4),
        ..label_column(&[0, 2])
    };
    let e = Aggregate::Accuracy { label: "y".into() }
        .check(3, Some(&real))
        .unwrap_err();
    assert!(e.to_string().contains("integer class ids"));
    let wide = label_column(&[0, 3]);
    let e = Aggregate::Confusion { label: "y".into() }
        .check(3, Some(&wide))
        .unwrap_err();
    assert!(e.to_string().contains("declared [0, 3]"), "{e}");
    assert!(Aggregate::Confusion { label: "y".into() }
        .check(4, Some(&wide))
        .is_ok());
    assert!(Aggregate::Sum.check(5, None).is_ok());
}
