#!/usr/bin/env bash
# Runs every benchmark and regenerates BENCHMARKS.md from the results:
#   callgrind Ir/op, criterion single-op times, thread scaling (TSV + SVG), memory per handle,
#   the C-side call bench (pthreads) and the seed-004 workload in C+Rust and in C+Go (cgo).
#
#   bash scripts/benchmarks.sh           full run: bench/results/*, BENCHMARKS.md (~10 min)
#   bash scripts/benchmarks.sh --quick   CI smoke run: short cells, small sizes, writes only
#                                        under target/bench-quick/ (committed results untouched)
#
# Needs gcc and valgrind (says how to install them when missing); Go is optional: without it the
# Go half of seed 004 is skipped, with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
quick=0
[[ ${1:-} == --quick ]] && quick=1
if ((quick)); then R=target/bench-quick; OUT_MD=$R/BENCHMARKS.md; else R=bench/results; OUT_MD=BENCHMARKS.md; fi
mkdir -p "$R" target/bench-bin
STEP_PREFIX="bench: "
source scripts/lib.sh
require gcc valgrind
start=$(date +%s)

step "machine"
{
  printf 'key\tvalue\n'
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'cpu\t%s\n' "$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
  printf 'cores\t%s\n' "$(nproc)"
  printf 'memory\t%s\n' "$(free -h 2>/dev/null | awk '/^Mem:/ {print $2}')"
  printf 'kernel\t%s\n' "$(uname -sr)"
  printf 'rustc\t%s\n' "$(rustc --version)"
  printf 'gcc\t%s\n' "$(gcc --version | head -1)"
  printf 'go\t%s\n' "$(go version 2>/dev/null || echo 'not installed')"
  printf 'load average at start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf 'mode\t%s\n' "$( ((quick)) && echo quick || echo full)"
  printf 'build\t%s\n' "timed binaries: profile bench-lto (release + lto = fat, codegen-units = 1); callgrind: release"
} > "$R/machine.tsv"
cat "$R/machine.tsv"

step "build (release; the timed binaries with LTO: profile bench-lto)"
cargo build --release -p bench --bins --lib
# Throughput, memory and latency are measured as a shipped binary is usually built: fat LTO,
# one codegen unit (Cargo.toml's [profile.bench-lto]). Instruction counts stay on release.
cargo build --profile bench-lto -p bench --bin scaling --bin memory --bin barriers --bin reclaim_latency
L=target/bench-lto
cargo build --release -p ffi-handles-capi --features testing --target-dir target/c-testing

step "instructions per operation (callgrind)"
if ((quick)); then
  bash scripts/bench-callgrind.sh --out "$R/callgrind.tsv" handles big-old-map
else
  bash scripts/bench-callgrind.sh --out "$R/callgrind.tsv"
fi

step "instructions per operation, handles called directly (scripts/op-costs.sh)"
bash scripts/op-costs.sh | tee target/bench-bin/op-costs.out
awk 'BEGIN {print "operation\tIr_per_op"} NR > 1 {print $1 "\t" $2}' target/bench-bin/op-costs.out \
  > "$R/op_costs.tsv"

if ((!quick)); then
  step "single-operation times (criterion)"
  cargo bench -p bench --bench ops -- --warm-up-time 0.5 --measurement-time 1 --noplot
  # Each bench's median point estimate, from criterion's target/criterion/OP/DESIGN/new/estimates.json.
  target/release/criterion_tsv --criterion target/criterion --out "$R/criterion.tsv"
fi

step "thread scaling (designs round robin per cell, background load sampled per run)"
write_threads=1,2,8,32,64
if ((quick)); then
  $L/scaling --quick --write-threads "$write_threads" --out "$R/scaling.tsv"
else
  $L/scaling --workloads churn,take-churn,read-1k,read-1m,read-10m,read-hot,mixed \
    --write-threads "$write_threads" --out "$R/scaling.tsv"
fi

step "reclamation: heavy barriers per 10^6 ended entries, end and drop latency"
if ((quick)); then
  $L/barriers 100000 1 2 8 | tee "$R/barriers.tsv"
  $L/reclaim_latency 100 20 | tee "$R/reclaim_latency.tsv"
else
  $L/barriers 2000000 1 2 8 32 64 | tee "$R/barriers.tsv"
  $L/reclaim_latency 1000 200 | tee "$R/reclaim_latency.tsv"
fi

step "memory per live handle"
if ((quick)); then
  $L/memory --sizes 100000 --out "$R/memory.tsv"
else
  $L/memory --out "$R/memory.tsv"
fi

step "C-side call costs (pthreads)"
testlib="target/c-testing/release/libhdl.a -lpthread -ldl -lm"
gcc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -Iinclude -pthread bench/c/bench_threads.c \
  $testlib -o target/bench-bin/bench_threads
threads=1; n=2; while ((n <= $(nproc))); do threads="$threads,$n"; n=$((n * 2)); done
if ((quick)); then
  HDL_BENCH_TSV="$R/c_calls.tsv" target/bench-bin/bench_threads 1000000 3 "$threads"
else
  HDL_BENCH_TSV="$R/c_calls.tsv" target/bench-bin/bench_threads 20000000 7 "$threads"
fi

# Instruction counts of the same calls (one thread, repeatable), with tests/c/bench_calls.c,
# linked with the static library and with the cdylib (position-independent code, where a
# `thread_local!` would go through __tls_get_addr). Each library's empty entry is its own
# baseline.
gcc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -Iinclude -pthread tests/c/bench_calls.c \
  $testlib -o target/bench-bin/bench_calls
gcc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -Iinclude -pthread tests/c/bench_calls.c \
  -Ltarget/c-testing/release -lhdl -Wl,-rpath,"$PWD/target/c-testing/release" \
  -o target/bench-bin/bench_calls_cdylib
printf 'library\tcall\tIr_per_call\tIr_vs_empty\n' > "$R/c_calls_ir.tsv"
for library in static cdylib; do
  bin=target/bench-bin/bench_calls
  [[ $library == cdylib ]] && bin=target/bench-bin/bench_calls_cdylib
  empty_ir=
  for spec in empty:loop_empty scoped:loop_scoped lookup+release:loop_lookup_release; do
    name=${spec%%:*}; fn=${spec#*:}
    ir=$(callgrind_ir "$fn" "$bin" --one "$name" 1000000)
    empty_ir=${empty_ir:-$ir}
    printf '%s\t%s\t%s\t%s\n' "$library" "$name" "$(ir_per_op "$ir" 0 1000000)" \
      "$(ir_per_op "$ir" "$empty_ir" 1000000)" >> "$R/c_calls_ir.tsv"
  done
done
cat "$R/c_calls_ir.tsv"

step "seed 004: C threads, a callback per task through a handle"
workers=$(nproc)
if ((quick)); then tasks=1000000; go_tasks=100000; else tasks=10000000; go_tasks=10000000; fi
gcc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -pthread bench/seed004/seed004.c \
  target/release/libbench.a -ldl -lm -o target/bench-bin/seed004
printf 'program\tworkers\ttasks\tms\tns_per_task\n' > "$R/seed004.tsv"
record() { # program output
  awk -v p="$1" '/^workers/ {w = $3} /^tasks/ {t = $3} /^took/ {ms = $2}
    END { printf "%s\t%s\t%s\t%s\t%.2f\n", p, w, t, ms, ms * 1e6 / t }' <<<"$2" >> "$R/seed004.tsv"
}
out=$(target/bench-bin/seed004 "$workers" "$tasks"); echo "$out"; record c-rust-handles "$out"
if command -v go >/dev/null 2>&1; then
  (cd bench/seed004/go && GOFLAGS=-mod=mod go build -o ../../../target/bench-bin/seed004-go .)
  out=$(target/bench-bin/seed004-go "$workers" "$go_tasks"); echo "$out"; record c-go-cgo-handle "$out"
else
  echo "bench: SKIPPED the Go half of seed 004: Go is not installed (Debian: apt-get install -y golang-go)"
fi
cat "$R/seed004.tsv"

step "report"
if ((quick)); then
  target/release/report --results "$R" --out "$OUT_MD" --svg-link scaling.svg
else
  target/release/report --results "$R" --out "$OUT_MD"
fi
echo "benchmarks done in $(( $(date +%s) - start )) s: $OUT_MD"
