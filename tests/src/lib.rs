//! Cross-crate tests of `handles`; the tests live in `tests/tests/`. This library holds what the
//! tests share: bindings to the example C thread pool (`examples/c/pool.c`, compiled by
//! `build.rs`) and to SQLite (bundled by `libsqlite3-sys`), and the C half of the soak test
//! (`c/soak.c`), which calls the C API: naming `hdl` here links it after that C code.

use hdl as _;

pub mod pool;
pub mod sqlite;

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
