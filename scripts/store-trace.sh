#!/usr/bin/env bash
# Lookups write no memory shared with other threads, checked by a tool: runs a steady-state
# lookup loop (bench's store_trace binary: 1,024 entries, N lookups round robin) under
# valgrind's lackey with --trace-mem=yes, and classifies every store between the loop's two
# marker writes (scripts/store-trace.py): the loop's stack, the calling thread's own record
# (its hazard cell), or anything else. handles must show only the first two; DashMap and
# sharded-slab, the controls, must show shared stores (their read locks and reference counts).
# Needs valgrind and python3; says how to install them.
#   scripts/store-trace.sh [N]   N lookups per design (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
STEP_PREFIX="store trace: "
source scripts/lib.sh
require valgrind python3
n=${1:-20000}
out=target/store-trace
mkdir -p "$out"

step "build (bench's store_trace binary)"
cargo build --release -p bench --bin store_trace
bin=target/release/store_trace

step "trace every store of $n lookups per design (valgrind --tool=lackey --trace-mem=yes)"
for design in handles dashmap sharded-slab; do
  valgrind -q --tool=lackey --trace-mem=yes --log-file="$out/$design.trace" \
    "$bin" "$design" "$n" >"$out/$design.out"
  python3 scripts/store-trace.py "$design" "$n" "$out/$design.out" "$out/$design.trace"
  rm -f "$out/$design.trace"
done
