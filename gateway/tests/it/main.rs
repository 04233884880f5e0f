//! The integration tests of `gateway`, one test program (each linked program
//! costs a link of every dependency).

mod admission;
mod ceremony;
mod common;
mod console;
mod e2e;
mod exports;
mod ezkl;
mod leaks;
mod owner;
mod policy;
mod settle;
