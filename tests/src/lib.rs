//! Cross-crate tests of `handles`; the tests live in `tests/tests/`. This library holds the
//! bindings the tests share: the example C thread pool (`examples/c/pool.c`, compiled by
//! `build.rs`) and SQLite (bundled by `libsqlite3-sys`).

pub mod pool;
pub mod sqlite;

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
