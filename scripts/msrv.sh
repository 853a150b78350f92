#!/usr/bin/env bash
# The libraries at their minimum supported Rust version (`rust-version` in Cargo.toml, $MSRV):
# builds and tests handles and ffi-handles-capi (unit tests and doctests) with that toolchain, in
# release mode as users build them. Older compilers fail: 1.85 to 1.87 abort in LLVM on a
# release build of handles ("Broken module found"). Needs the $MSRV toolchain; says how to
# install it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
source scripts/lib.sh
if ! rustup toolchain list | grep -q "^$MSRV-"; then
  echo "$0: needs the Rust $MSRV toolchain, not found; install with:" \
    "rustup toolchain install $MSRV --profile minimal" >&2
  exit 1
fi
step "libraries with Rust $MSRV (rust-version)"
cargo "+$MSRV" test --locked -p ffi-handles -p ffi-handles-capi --release --target-dir target/msrv
