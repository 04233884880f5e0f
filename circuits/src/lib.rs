//! R1CS gadgets over BN254 for zkgate.
//!
//! Every gadget works on [`Num`], a linear combination of constraint-system
//! variables together with its witness value (absent while generating keys).
//! Linear operations on `Num` are free; every gadget documents how many
//! constraints it adds, and its tests pin that count and check that a
//! tampered witness leaves the system unsatisfied.
#![forbid(unsafe_code)]

pub mod activation;
pub mod aggregate;
pub mod argmax;
pub mod bits;
pub mod commitment;
pub mod compare;
pub mod maxpool;
pub mod noise;
mod num;
pub mod onehot;
pub mod poseidon;
pub mod relu;
pub mod rescale;
pub mod shard;
pub mod suppress;
#[cfg(test)]
pub(crate) mod testing;
pub mod trees;
pub mod weights;

pub use num::{field_to_i128, i128_to_field, Num};

/// The scalar field of BN254, the field every circuit is written over.
pub type Fr = ark_bn254::Fr;

/// The constraint system handle used by every gadget.
pub type Cs = ark_relations::gr1cs::ConstraintSystemRef<Fr>;

/// Errors raised by gadgets while building constraints.
pub type Result<T> = core::result::Result<T, ark_relations::gr1cs::SynthesisError>;
