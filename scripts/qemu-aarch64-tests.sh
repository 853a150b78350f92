#!/usr/bin/env bash
# The test suite on Linux aarch64, cross-compiled and run under qemu-user:
#   1. the README's test command (`cargo test --workspace --release`: every crate's unit tests,
#      the integration tests, the forged-handle, fork, soak and prompt-drop binaries) for
#      aarch64-unknown-linux-gnu, each test binary run by `qemu-aarch64`;
#   2. the C and C++ tests (tests/c/*), cross-compiled with Debian's aarch64 gcc and g++ against
#      the aarch64 `libhdl.a`, run under `qemu-aarch64` (without sanitizers or valgrind, which
#      the native run in scripts/c-tests.sh covers).
# qemu-user runs every guest thread on the host's cores but translates the guest's memory
# accesses into the host's, so it does not reproduce ARM's weak ordering: the loom models and
# scripts/aarch64-lookup-asm.sh (the disassembly of the lookup path) cover that. What this run
# shows is that the code builds, links and behaves on aarch64: the RCpc loads (`ldapr`, with
# the FEAT_LRCPC check: qemu's default CPU has it), membarrier, fork, thread-exit recycling
# and the C API's init guard, through the same tests as on x86_64.
#
# Differences from the native run, each forced by qemu-user, not by the library:
#   - HANDLES_CHURN_THREADS=10000 instead of 100,000: qemu-user keeps per-thread state that
#     10^5 short-lived threads exhaust (the binary is killed); 10,000 still runs the test's
#     100-wave bound checks.
#   - skipped: fork_tests::fork_with_the_background_reclaimer_running, which starts threads in
#     a forked child of a multi-threaded process (qemu-user aborts in its own vCPU set-up:
#     "qemu_plugin_vcpu_init_hook: assertion failed"; tests/fork.rs and the other fork tests,
#     which fork a multi-threaded process and use the tables in the child, run);
#   - HANDLES_TEST_RUNNER names qemu for the tests that re-execute their own binary as a child
#     (the leak report at exit, in Rust and in C): without binfmt_misc registered for aarch64
#     the kernel cannot run an aarch64 binary by itself.
# Needs rustup's aarch64-unknown-linux-gnu target and Debian's qemu-user, gcc-aarch64-linux-gnu
# and g++-aarch64-linux-gnu; says how to install what is missing.
#   scripts/qemu-aarch64-tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never RUST_BACKTRACE=0
STEP_PREFIX="aarch64 qemu: "
source scripts/lib.sh
require qemu-aarch64:qemu-user aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu \
  aarch64-linux-gnu-g++:g++-aarch64-linux-gnu
TARGET=aarch64-unknown-linux-gnu
require_target "$TARGET"
SYSROOT=/usr/aarch64-linux-gnu
QEMU=(qemu-aarch64 -L "$SYSROOT")
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="${QEMU[*]}"
# For the build scripts that compile C (bundled SQLite, the C pool of the integration tests).
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
DIR=target/aarch64
OUT=$DIR/c
start=$(date +%s)

step "Rust test suite (cargo test --workspace --release --target $TARGET, under ${QEMU[*]})"
export HANDLES_TEST_RUNNER="${QEMU[*]}"
HANDLES_CHURN_THREADS=10000 cargo test --locked --workspace --release --target $TARGET \
  --target-dir $DIR -- \
  --skip fork_tests::fork_with_the_background_reclaimer_running
rust_done=$(date +%s)

step "C and C++ tests (aarch64-linux-gnu-gcc/g++ against the aarch64 libhdl.a, under qemu)"
# Its own target dir (as scripts/c-tests.sh does natively): the `testing` build of libhdl must
# not replace the one scripts/aarch64-lookup-asm.sh checks in $DIR.
cargo build --locked --release --target $TARGET --target-dir $DIR/c-testing -p ffi-handles-capi \
  --features testing
mkdir -p "$OUT"
printf '' > "$OUT/empty.rs"
native=$(rustc --target $TARGET --crate-type staticlib --crate-name hdl_native_libs \
  --print native-static-libs -o "$OUT/libhdl_native_libs.a" "$OUT/empty.rs" 2>&1 |
  sed -n 's/^note: native-static-libs: //p')
[ -n "$native" ]
lib="$DIR/c-testing/$TARGET/release/libhdl.a $native"
WARN="-Wall -Wextra -Wpedantic -Werror"
for t in test_api test_threads test_callbacks test_diag test_typed test_layout; do
  # shellcheck disable=SC2086 # $lib is a list of linker arguments
  aarch64-linux-gnu-gcc -std=c11 $WARN -O1 -Iinclude -pthread "tests/c/$t.c" $lib -o "$OUT/$t"
done
# shellcheck disable=SC2086
aarch64-linux-gnu-g++ -std=c++17 $WARN -O1 -Iinclude -pthread tests/c/test_cpp.cpp $lib \
  -o "$OUT/test_cpp"
file "$OUT/test_api" | grep -q 'ARM aarch64'
for run in "test_api" "test_threads 50000 20" "test_callbacks 50000" "test_diag" "test_typed" \
           "test_layout" "test_cpp"; do
  read -r -a args <<<"$run"
  echo "--- ${args[*]}"
  "${QEMU[@]}" "$OUT/${args[0]}" "${args[@]:1}"
done
end=$(date +%s)
echo "aarch64 under qemu: Rust suite $((rust_done - start)) s, C tests $((end - rust_done)) s"
