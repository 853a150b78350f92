//! Cross-crate tests of `handles`; the tests live in `tests/tests/` (most of them in the one
//! binary `tests/tests/it/`). This library holds what the tests share on the C side: bindings to
//! the example C thread pool (`examples/c/pool.c`, compiled by `build.rs`) and to SQLite
//! (bundled by `libsqlite3-sys`), and the C half of the soak test (`c/soak.c`), which calls the
//! C API: naming `hdl` here links it after that C code. The Rust helpers they share with the
//! fuzz targets are in `test-support/`.

use hdl as _;

pub mod pool;
pub mod sqlite;

// The README's Rust examples run as doctests of the core crate, whose front page it is
// (handles/src/lib.rs), under the name users import it by (`ffi_handles`).
