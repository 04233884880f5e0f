//! Helpers shared by the gadget tests: fresh constraint systems and witness
//! tampering.
//!
//! Every witness goes through [`crate::Num::witness`], which asks
//! [`tampered`] for the value to assign; a test can make one chosen witness
//! variable take a wrong value and check that the system is then unsatisfied.

use crate::{Cs, Fr, Num};
use ark_ff::Field;
use ark_relations::gr1cs::ConstraintSystem;
use std::cell::Cell;

thread_local! {
    static TAMPER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// A fresh constraint system in proving mode.
pub fn cs() -> Cs {
    ConstraintSystem::<Fr>::new_ref()
}

/// Whether every constraint holds.
pub fn satisfied(cs: &Cs) -> bool {
    cs.is_satisfied().expect("all witnesses assigned")
}

/// The value to assign to witness number `index`: `value + 1` if a test
/// asked to tamper with that witness, `value` otherwise.
pub fn tampered(index: usize, value: Option<Fr>) -> Option<Fr> {
    match TAMPER.with(Cell::get) {
        Some(i) if i == index => value.map(|v| v + Fr::ONE),
        _ => value,
    }
}

/// Most tampered rebuilds per gadget test.
const MAX_TAMPERS: usize = 400;

/// Builds the gadget once honestly (it must be satisfied), then once per
/// witness variable it allocated at or after `first_gadget_witness`, with
/// that variable changed by one. A tampered system must be unsatisfied, or
/// else (a free hint, such as the inverse of zero) produce exactly the honest
/// outputs: no tampering may change a gadget's result and still satisfy it.
/// Returns the honest system's constraint count and outputs.
pub fn assert_sound(
    first_gadget_witness: usize,
    build: impl Fn(&Cs) -> Vec<Num>,
) -> (usize, Vec<Fr>) {
    assert_sound_sampled(first_gadget_witness, MAX_TAMPERS, build)
}

/// [`assert_sound`] with at most about `tampers` rebuilds: the first eight
/// witnesses from `first_gadget_witness` (where a gadget's inputs and hints
/// usually are) always, the rest at an even sample.
pub fn assert_sound_sampled(
    first_gadget_witness: usize,
    tampers: usize,
    build: impl Fn(&Cs) -> Vec<Num>,
) -> (usize, Vec<Fr>) {
    let honest = cs();
    let want: Vec<Option<Fr>> = build(&honest).iter().map(Num::value).collect();
    assert!(satisfied(&honest), "honest witness must satisfy the gadget");
    let n = honest.num_witness_variables();
    let mut caught = 0;
    // Large gadgets are tampered at an even sample of their witnesses (the
    // first and last always included) to keep the quadratic cost bounded.
    let stride = (n - first_gadget_witness).div_ceil(tampers).max(1);
    let picks = (first_gadget_witness..n.min(first_gadget_witness + 8))
        .chain((first_gadget_witness..n).step_by(stride))
        .chain(n.checked_sub(1).filter(|l| *l >= first_gadget_witness));
    for i in picks {
        TAMPER.with(|t| t.set(Some(i)));
        let bad = cs();
        let got: Vec<Option<Fr>> = build(&bad).iter().map(Num::value).collect();
        TAMPER.with(|t| t.set(None));
        if satisfied(&bad) {
            assert_eq!(
                got, want,
                "tampering witness {i} of {n} changed the result and went unnoticed"
            );
        } else {
            caught += 1;
        }
    }
    assert!(
        caught > 0 || first_gadget_witness == n,
        "no tampering was caught"
    );
    (
        honest.num_constraints(),
        want.into_iter()
            .map(|v| v.expect("honest values"))
            .collect(),
    )
}
