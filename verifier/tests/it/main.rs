//! The integration tests of `verifier`, one test program (each linked program
//! costs a link of every dependency).

mod federation;
mod verify;
