#!/usr/bin/env bash
# Diagnostics with the `debug-backtrace` feature: lints, the Rust diagnostics tests and the C API's
# diagnose unit test with insert/end backtraces. Only these run with the feature: it is a
# debugging aid and not fork-safe (tests/tests/fork.rs hangs children with it, by design).
# The default-feature diagnostics tests run in `cargo test --workspace` and scripts/c-tests.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
cargo clippy -p handles-tests -p ffi-handles-capi --all-targets \
  --features handles-tests/debug-backtrace,ffi-handles-capi/debug-backtrace -- -D warnings
cargo test -p handles-tests --features debug-backtrace --test it diagnostics::
cargo test -p ffi-handles-capi --features debug-backtrace --lib diag
