//! The witness alone: the circuit run in a mode that assigns values and
//! builds no constraint (no linear combination is stored, inlined or turned
//! into a matrix).

use crate::circuit::{JobCircuit, Tape, Witness};
use crate::compiled::Compiled;
use crate::error::{Error, Result};
use crate::spec::CircuitSpec;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode,
};
use zkgate_circuits::Fr;

/// The full assignment `z = (1, public inputs, witness)` of the circuit of
/// `spec` on `witness`, replaying the decisions `compiled` recorded, and
/// checked to have its shape.
pub fn assign(spec: &CircuitSpec, compiled: &Compiled, witness: Witness<'_>) -> Result<Vec<Fr>> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: false,
        generate_lc_assignments: false,
    });
    JobCircuit {
        spec,
        witness: Some(witness),
        counts: None,
        tape: Tape::Replay(compiled.decisions()),
    }
    .generate_constraints(cs.clone())?;
    let cs = cs
        .into_inner()
        .ok_or_else(|| Error::Proof("the constraint system is still shared".into()))?;
    let mut z = cs.instance_assignment()?.to_vec();
    z.extend_from_slice(cs.witness_assignment()?);
    compiled.check(&z)?;
    Ok(z)
}
