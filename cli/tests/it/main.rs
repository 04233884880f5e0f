//! The integration tests of `cli`, one test program (each linked program
//! costs a link of every dependency).

mod common;
mod bench;
mod ceremony;
mod chain;
mod cli;
mod cluster;
mod gateway;
mod inspect;
