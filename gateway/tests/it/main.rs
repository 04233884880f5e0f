//! The integration tests of `gateway`, one test program (each linked program
//! costs a link of every dependency).

mod admission;
mod ceremony;
mod common;
mod console;
mod e2e;
mod ezkl;
mod exports;
mod leaks;
mod owner;
mod policy;
mod settle;
