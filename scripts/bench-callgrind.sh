#!/usr/bin/env bash
# Instructions per operation (callgrind, one thread) for handles and every baseline, minus the
# empty loop's per-iteration cost. Repeatable: callgrind counts instructions, not time.
#   scripts/bench-callgrind.sh [--out PATH] [design ...]     (default: all designs)
# Prints a table and writes a TSV (default bench/results/callgrind.tsv).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results/callgrind.tsv
if [[ ${1:-} == --out ]]; then out=$2; shift 2; fi
designs=("$@")
[[ ${#designs[@]} -gt 0 ]] || designs=(handles raw mutex-hashmap rwlock-hashmap big-old-map dashmap sharded-slab mutex-slotmap)
command -v valgrind >/dev/null 2>&1 && command -v bc >/dev/null 2>&1 || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind bc
}
cargo build -q --release -p bench --bin opcount
bin=target/release/opcount
n=100000
count() { # design op
  local f; f=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$f" --toggle-collect="*measure_${2//-/_}*" \
    "$bin" "$1" "$2" >/dev/null 2>&1
  local ir; ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
  rm -f "$f"
  echo "${ir:-0}"
}
per_op() { echo "scale=1; ($1 - $empty) / $n" | bc -l; }
empty=$(count handles empty)
mkdir -p "$(dirname "$out")"
printf 'design\tlookup\tretain_release\tinsert\tremove\n' > "$out"
printf '%-15s %8s %15s %8s %8s   (Ir/op; empty loop %.1f Ir/op subtracted)\n' \
  design lookup retain+release insert remove "$(echo "$empty / $n" | bc -l)"
for d in "${designs[@]}"; do
  row=()
  for op in lookup retain-release insert remove; do row+=("$(per_op "$(count "$d" "$op")")"); done
  printf '%-15s %8s %15s %8s %8s\n' "$d" "${row[@]}"
  printf '%s\t%s\t%s\t%s\t%s\n' "$d" "${row[@]}" >> "$out"
done
echo "wrote $out"
