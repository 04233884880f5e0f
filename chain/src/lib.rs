//! zkgate's settlement side: what a Groth16 receipt looks like to an EVM
//! contract that verifies it with the BN254 precompiles (EIP-196 ecAdd and
//! ecMul, EIP-197 pairing check), and what that verification costs in gas.
#![forbid(unsafe_code)]

pub mod evm;
