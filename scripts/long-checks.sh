#!/usr/bin/env bash
# The long versions of the reliability checks: 10^9 forged handles and a 300 s soak (CI runs
# short slices of the same tests through `cargo test --workspace --release`):
#   - the forged-handle sweep through HandleTable (tests/tests/it/forged.rs, sweep_at_scale),
#   - the same sweep through the C API's hdl_lookup (tests/tests/forged_capi.rs),
#   - the soak test with Rust and C threads (tests/tests/soak.rs).
# Usage: scripts/long-checks.sh [forged-count] [c-forged-count] [soak-seconds]
#   defaults: 1000000000 forged values, 100000000 through the C API, a 300 s soak.
# Every test prints its figures (count, wall time, outcome classes; ops, drops, memory peaks).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
forged=${1:-1000000000}
c_forged=${2:-100000000}
soak=${3:-300}

cargo build --release -p handles-tests --tests
run() { # label, env assignment, test target, test filter
  local label=$1 env=$2 target=$3 filter=$4 start
  printf '\n=== %s (%s) ===\n' "$label" "$env"
  start=$(date +%s)
  env "$env" cargo test --release -q -p handles-tests --test "$target" "$filter" \
    -- --exact --nocapture 2>&1 | grep -E 'sweep|soak:|test result|panicked|FAILED|error'
  echo "$label: $(( $(date +%s) - start )) s wall, command: $env cargo test --release -p handles-tests --test $target $filter -- --exact --nocapture"
}
run "forged sweep, HandleTable" "HANDLES_FORGED_COUNT=$forged" it forged::sweep_at_scale
run "forged sweep, C API" "HANDLES_FORGED_COUNT=$c_forged" forged_capi forged_handles_through_the_c_api
run "soak" "HANDLES_SOAK_SECS=$soak" soak soak
