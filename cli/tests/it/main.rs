//! The integration tests of `cli`, one test program (each linked program
//! costs a link of every dependency).

mod bench;
mod bounty;
mod ceremony;
mod chain;
mod cli;
mod cluster;
mod common;
mod ezkl;
mod federation;
mod gateway;
mod inspect;
mod readme;
mod red_team;
