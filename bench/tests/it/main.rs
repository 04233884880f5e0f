//! The integration tests of `bench`, one test program (each linked program
//! costs a link of every dependency).

mod load;
