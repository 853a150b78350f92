#!/usr/bin/env bash
# Publishability of the two library crates: `cargo publish --dry-run` for both (packaged and
# built from the packages, the C API crate against the packaged core), with no warning
# allowed (missing metadata, unversioned dependencies, ...), and the files each package must
# carry: both licenses and the README, and for the C API crate its header. (Its only warning,
# "aborting upload due to dry run", is the point of a dry run.)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
STEP_PREFIX="package: "
source scripts/lib.sh
crates=(ffi-handles ffi-handles-capi)

step "cargo publish --dry-run ${crates[*]}"
args=()
for c in "${crates[@]}"; do args+=(-p "$c"); done
log=$(cargo publish --dry-run --locked --allow-dirty "${args[@]}" 2>&1) || { echo "$log"; exit 1; }
echo "$log" | grep -E '^ *(Packag|Verif|Upload)' || true
if warnings=$(grep -E '^warning' <<<"$log" | grep -v 'aborting upload due to dry run'); then
  echo "$log"
  echo "cargo publish --dry-run warned:" >&2
  echo "$warnings" >&2
  exit 1
fi

step "files in the packages"
for c in "${crates[@]}"; do
  files=$(cargo package --list --locked --allow-dirty -p "$c")
  need=(Cargo.toml README.md LICENSE-MIT LICENSE-APACHE src/lib.rs)
  [[ $c == ffi-handles-capi ]] && need+=(include/hdl.h)
  for f in "${need[@]}"; do
    grep -qx "$f" <<<"$files" || { echo "the $c package lacks $f" >&2; exit 1; }
  done
  echo "$c: $(wc -l <<<"$files") files, with ${need[*]}"
done
