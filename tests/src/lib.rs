//! Cross-crate tests of `handles`; the tests live in `tests/tests/`.
//!
//! The library itself only carries the C half of the soak test (`c/soak.c`, compiled by
//! `build.rs`), which calls the C API: naming `hdl` here links it after that C code.

use hdl as _;
