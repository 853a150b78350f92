#!/usr/bin/env bash
# Checks that the scoped-lookup path pays no full barrier on aarch64: cross-compiles the C API's
# cdylib and the core's demo example for aarch64-unknown-linux-gnu and reads the disassembly of
# the lookup entry points. Each must contain no `dmb`, no acquire RMW (an LSE `cas`/`swp`/`ld<op>`
# with acquire, or a call to the outline-atomics helpers `__aarch64_*`), and no RCsc acquire load
# (`ldar`, `ldaxr`) after a store-release (`stlr`) in the function's text: ARMv8 keeps an `ldar`
# behind every earlier `stlr`, which costs what a full store→load barrier costs. And each must
# contain an `ldapr` (the RCpc acquire load of the slot state), so a lookup that stopped being
# inlined into its entry point fails the check instead of passing it vacuously.
# Needs rustup's aarch64-unknown-linux-gnu target and Debian's gcc-aarch64-linux-gnu (linker and
# objdump); says how to install what is missing.
#   scripts/aarch64-lookup-asm.sh             build and check
#   scripts/aarch64-lookup-asm.sh --no-build  check the binaries of the last build
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
STEP_PREFIX="aarch64 asm: "
source scripts/lib.sh
require aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu aarch64-linux-gnu-objdump:binutils-aarch64-linux-gnu
TARGET=aarch64-unknown-linux-gnu
require_target "$TARGET"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
DIR=target/aarch64
BIN=$DIR/$TARGET/release

if [[ ${1:-} != --no-build ]]; then
  step "build (cdylib of ffi-handles-capi, example demo of handles)"
  cargo build --release --target $TARGET --target-dir $DIR -p ffi-handles-capi
  cargo build --release --target $TARGET --target-dir $DIR -p ffi-handles --example demo
fi

# mangled FILE NAME: the one symbol of FILE whose demangled name is NAME (a Rust path).
mangled() {
  paste <(aarch64-linux-gnu-nm --defined-only "$1") <(aarch64-linux-gnu-nm -C --defined-only "$1") |
    awk -F'\t' -v name="$2" '{ split($1, m, " "); split($2, d, " ") }
      substr($2, length(d[1]) + length(d[2]) + 3) == name { print m[3] }'
}

# verdict NAME < ASM: "ok ..." or "FAIL ..." for the instructions of one function (one a line,
# no addresses) against the rules above.
verdict() {
  awk -v sym="$1" '
      { op = $1 }
      op ~ /^dmb/ { bad = bad "\n  dmb at instruction " NR ": " $0 }
      op ~ /^(cas|casp|swp|ld(add|clr|eor|set|smax|smin|umax|umin))a/ {
        bad = bad "\n  acquire RMW at instruction " NR ": " $0 }
      # A call (or tail call) to an outline-atomics helper: the target, not an `adrp` whose
      # page objdump names after whichever symbol precedes it (`<__aarch64_cas8_acq_rel+0x20>`).
      (op == "bl" || op == "b") && /<__aarch64_[a-z0-9_]+>/ {
        bad = bad "\n  outline atomic at instruction " NR ": " $0 }
      op ~ /^(ldar|ldaxr|ldaxp)/ && stlr { bad = bad "\n  " op " at instruction " NR \
        " after " stlr }
      op ~ /^stlr/ { stlr = op " at instruction " NR }
      op ~ /^ldapr/ { rcpc++ }
      END {
        if (!rcpc) bad = bad "\n  no ldapr: the lookup is not inlined here (check its callee)"
        if (bad) { print "FAIL " sym " (" NR " instructions):" bad; exit }
        print "ok   " sym " (" NR " instructions, " rcpc " ldapr, no dmb, no ldar after stlr)"
      }'
}

# The rules themselves, on snippets each of which must fail (and one that must pass), so a
# check that stopped seeing a barrier fails here rather than passing vacuously.
self_test() {
  local snippet want got
  while IFS='|' read -r want snippet; do
    got=$(printf '%b\n' "$snippet" | verdict self-test)
    if [[ ${got%% *} != "$want" ]]; then
      echo "self-test: want $want, got: $got (snippet: $snippet)" >&2
      exit 1
    fi
  done <<'EOF_SNIPPETS'
ok|ldapr\tx8, [x9]\nstlr\tx0, [x1]\nldapr\tx2, [x3]
ok|adrp\tx9, 4e000 <__aarch64_cas8_acq_rel+0x20>\nldapr\tx8, [x9]
FAIL|ldapr\tx8, [x9]\ndmb\tish
FAIL|stlr\tx0, [x1]\nldar\tx2, [x3]\nldapr\tx4, [x5]
FAIL|ldapr\tx8, [x9]\nbl\t4e000 <__aarch64_cas8_acq_rel>
FAIL|ldapr\tx8, [x9]\ncasal\tx0, x1, [x2]
FAIL|ldr\tx8, [x9]
EOF_SNIPPETS
  echo "self-test: the rules reject dmb, ldar after stlr, outline and LSE acquire atomics, no ldapr"
}
self_test

# check FILE SYMBOL...: the disassembly of each SYMBOL in FILE against the rules above. A
# SYMBOL with `::` is a demangled Rust path (a lookup the entry point calls out of line).
failed=0
check() {
  local file=$1 sym
  shift
  for sym in "$@"; do
    local asm verdict name=$sym
    if [[ $sym == *::* ]]; then
      name=$(mangled "$file" "$sym")
      if [[ $(wc -w <<<"$name") -ne 1 ]]; then
        echo "FAIL $sym: $(wc -w <<<"$name") symbols of that name in $file (want 1)"
        failed=1
        continue
      fi
    fi
    asm=$(aarch64-linux-gnu-objdump -d --no-show-raw-insn --disassemble="$name" "$file" |
      awk '/^ *[0-9a-f]+:\t/ { sub(/^ *[0-9a-f]+:\t/, ""); print }')
    if [[ -z $asm ]]; then
      echo "FAIL $sym: not found in $file"
      failed=1
      continue
    fi
    verdict=$(verdict "$sym" <<<"$asm")
    echo "$verdict"
    [[ $verdict == ok* ]] || failed=1
  done
}

step "lookup entry points"
# C API (cdylib): the scoped lookups of the registry (the init guard's load, the page pointer,
# the hazard store, the state load, the hazard clear).
# hdl_callback_invoke does its lookup in the type-checked `hdl::rust_api::with`, out of line.
check "$BIN/libhdl.so" hdl_type_tag hdl_is_live hdl::rust_api::with
# Rust side: extern "C" entry points over a static HandleTable (HandleTable::with).
check "$BIN/examples/demo" widget_id widget_name_len
if [[ $failed -ne 0 ]]; then
  echo "the aarch64 lookup path has a full barrier (see above)" >&2
  exit 1
fi
