//! The integration tests that can share a process, as the modules of one test binary (one
//! link, one process, tests of every module running in parallel).
//!
//! Nothing here may depend on process-wide state that another module changes: each test uses
//! tables of its own (or the callback registry, where it counts only its own callbacks), and
//! bounds on process-wide counts (thread records) leave room for the other tests' threads.
//! Tests that need a process of their own are the other files of `tests/tests/`, each saying
//! why in its first line.
//!
//! Every test starts with `test_support::not_alone()`: a thread that is the only one using the
//! library drops ended values inside the ending call, so whether a value waits for a pass would
//! otherwise depend on which other tests happen to be running. With the parked thread it always
//! does; prompt drops have their own binary (`prompt.rs`) and the C tests.

mod barrier_mode;
mod callbacks;
mod diagnostics;
mod forged;
mod model;
mod pool;
mod reentrancy;
mod semantics;
mod sqlite;
mod threads;
