#!/usr/bin/env bash
# Instructions per operation of handles called directly on a static table (callgrind, single
# thread; bench/src/bin/opcount/direct.rs), minus the empty loop's per-iteration cost.
# Repeatable: callgrind counts instructions, not time. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
require valgrind
cargo build -q --release -p bench --bin opcount
bin=target/release/opcount
n=100000
count() { callgrind_ir "opcount::direct::$2" "$bin" --direct "$1"; } # mode function
empty=$(count empty measure_empty)
printf '%-16s %8s\n' operation 'Ir/op'
printf '%-16s %8s   (loop overhead, subtracted below)\n' empty "$(ir_per_op "$empty" 0 "$n")"
for spec in lookup:measure_lookup lookup-hot:measure_lookup insert:measure_insert \
            remove:measure_revoke retain-release:measure_retain_release \
            callback:measure_callback; do
  mode=${spec%%:*}; fn=${spec#*:}
  ir=$(count "$mode" "$fn")
  printf '%-16s %8s\n' "$mode" "$(ir_per_op "$ir" "$empty" "$n")"
done
