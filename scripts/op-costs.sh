#!/usr/bin/env bash
# Instructions per operation (callgrind, single thread), minus the empty loop's per-iteration
# cost. Repeatable: callgrind counts instructions, not time.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p handles --example op_costs
bin=target/release/examples/op_costs
n=100000
count() { # mode function
  local out; out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="op_costs::$2" \
    "$bin" "$1" >/dev/null 2>&1
  local ir; ir=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
  rm -f "$out"
  echo "$ir"
}
empty=$(count empty measure_empty)
printf '%-16s %8s\n' operation 'Ir/op'
printf '%-16s %8.1f   (loop overhead, subtracted below)\n' empty "$(echo "$empty / $n" | bc -l)"
for spec in lookup:measure_lookup lookup-hot:measure_lookup insert:measure_insert \
            remove:measure_remove retain-release:measure_retain_release \
            callback:measure_callback; do
  mode=${spec%%:*}; fn=${spec#*:}
  ir=$(count "$mode" "$fn")
  printf '%-16s %8.1f\n' "$mode" "$(echo "($ir - $empty) / $n" | bc -l)"
done
