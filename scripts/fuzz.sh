#!/usr/bin/env bash
# Runs every cargo-fuzz target under fuzz/ for a bounded time each (nightly + libFuzzer with
# ASan, cargo-fuzz's defaults). Needs g++, the pinned nightly toolchain and cargo-fuzz
# ($NIGHTLY and $CARGO_FUZZ_VERSION in scripts/lib.sh); says how to install any that is missing.
#   scripts/fuzz.sh [seconds-per-target] [target...]     default: 60 s, every target
# The checked-in seed corpora fuzz/corpus/<target> are read; new inputs go to
# fuzz/corpus-new/<target> (ignored by git; merge them in with `cargo fuzz cmin` when worth it).
# Crashes are written to fuzz/artifacts/<target> and fail the script. Each target's run count
# and last libFuzzer status line (coverage, corpus) are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
secs=${1:-60}
shift || true

source scripts/lib.sh
# libfuzzer-sys compiles libFuzzer (C++) with the `cc` crate.
require g++
if ! rustup toolchain list | grep -q "^$NIGHTLY"; then
  echo "$0: needs the $NIGHTLY toolchain, not found; install with:" \
    "rustup toolchain install $NIGHTLY --profile minimal" >&2
  exit 1
fi
if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
  echo "$0: needs cargo-fuzz $CARGO_FUZZ_VERSION, not found; install with:" \
    "cargo install cargo-fuzz --version $CARGO_FUZZ_VERSION --locked" >&2
  exit 1
fi

cd fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo "+$NIGHTLY" fuzz list)
fi
# No LeakSanitizer suppressions: the C registry lives until exit, and its pages stay
# reachable through their link slots (handles/src/page.rs).
summary=()
for t in "${targets[@]}"; do
  step "fuzz $t for $secs s"
  mkdir -p "corpus/$t" "corpus-new/$t" "artifacts/$t"
  log="artifacts/$t/last-run.log"
  start=$(date +%s)
  if ! cargo "+$NIGHTLY" fuzz run "$t" "corpus-new/$t" "corpus/$t" -- -max_total_time="$secs" -print_final_stats=1 \
      >"$log" 2>&1; then
    tail -n 80 "$log"
    echo "fuzz target $t failed; the input is in fuzz/artifacts/$t" >&2
    exit 1
  fi
  took=$(( $(date +%s) - start ))
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  summary+=("$t: $runs runs in ${took} s; $last")
  echo "${summary[-1]}"
done
step "fuzz summary"
printf '%s\n' "${summary[@]}"
