#!/usr/bin/env bash
# Instructions per operation (callgrind, one thread) for handles and every baseline, minus the
# empty loop's per-iteration cost. Repeatable: callgrind counts instructions, not time.
#   scripts/bench-callgrind.sh [--out PATH] [design ...]     (default: all designs)
# Prints a table and writes a TSV (default bench/results/callgrind.tsv). Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
out=bench/results/callgrind.tsv
if [[ ${1:-} == --out ]]; then out=$2; shift 2; fi
designs=("$@")
[[ ${#designs[@]} -gt 0 ]] || designs=(handles raw mutex-hashmap rwlock-hashmap big-old-map dashmap sharded-slab mutex-slotmap)
require valgrind
cargo build -q --release -p bench --bin opcount
bin=target/release/opcount
n=100000
count() { callgrind_ir "*measure_${2//-/_}*" "$bin" "$1" "$2"; } # design op
empty=$(count handles empty)
mkdir -p "$(dirname "$out")"
printf 'design\tlookup\tretain_release\tinsert\tremove\n' > "$out"
printf '%-15s %8s %15s %8s %8s   (Ir/op; empty loop %s Ir/op subtracted)\n' \
  design lookup retain+release insert remove "$(ir_per_op "$empty" 0 "$n")"
for d in "${designs[@]}"; do
  row=()
  for op in lookup retain-release insert remove; do
    ir=$(count "$d" "$op")
    row+=("$(ir_per_op "$ir" "$empty" "$n")")
  done
  printf '%-15s %8s %15s %8s %8s\n' "$d" "${row[@]}"
  printf '%s\t%s\t%s\t%s\t%s\n' "$d" "${row[@]}" >> "$out"
done
echo "wrote $out"
