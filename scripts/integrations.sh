#!/usr/bin/env bash
# GLib and libuv as real clients of handles::callback (integrations/, its own cargo workspace):
# rustfmt and clippy, the tests natively (each binary runs itself under the three reclaim
# policies), then each test under valgrind once per policy at smaller sizes. Needs pkg-config,
# valgrind and the GLib and libuv development packages (Debian libglib2.0-dev, libuv1-dev);
# says how to install what is missing.
#   scripts/integrations.sh            everything
#   scripts/integrations.sh --native   lints and native runs only
# Sizes (environment): natively HANDLES_GLIB_ITEMS=250000 invokes per producer thread (4 threads,
# plus an idle source every 4th and a timeout every 256th), HANDLES_GLIB_EMITS=100000 signal
# emissions per thread (4 threads, 8 handlers), HANDLES_UV_ITEMS=1000000 work items and
# wake-ups from 4 threads; under valgrind VG_GLIB_ITEMS, VG_GLIB_EMITS and VG_UV_ITEMS below.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never RUST_BACKTRACE=1
mode=${1:-}
VG_GLIB_ITEMS=${VG_GLIB_ITEMS:-10000}
VG_GLIB_EMITS=${VG_GLIB_EMITS:-5000}
VG_UV_ITEMS=${VG_UV_ITEMS:-50000}

STEP_PREFIX="integrations: "
source scripts/lib.sh
require pkg-config
[[ $mode == --native ]] || require valgrind
require_pc glib-2.0:libglib2.0-dev gobject-2.0:libglib2.0-dev libuv:libuv1-dev
start=$(date +%s)
echo "GLib $(pkg-config --modversion glib-2.0), libuv $(pkg-config --modversion libuv)"

step "format and lints (integrations/)"
(cd integrations && cargo fmt --check && cargo clippy --release --all-targets -- -D warnings)

step "GLib and libuv tests, each under HANDLES_RECLAIM=caller, background, explicit"
(cd integrations && cargo test --release)
[[ $mode == --native ]] && { echo "integrations passed in $(( $(date +%s) - start )) s"; exit 0; }

step "under valgrind, once per policy (GLib: $VG_GLIB_ITEMS items, $VG_GLIB_EMITS emissions per thread; libuv: $VG_UV_ITEMS items)"
# GLib's own suppressions (shipped by libglib2.0-dev) and the allocator settings GLib asks for
# under valgrind; the repository's suppressions: the reclaimer thread's TLS block
# (tests/c/valgrind.supp) and the TLS blocks of joined threads in glibc's stack cache
# (integrations/valgrind.supp). Definite and possible leaks count.
glib_supp="$(pkg-config --variable=prefix glib-2.0)/share/glib-2.0/valgrind/glib.supp"
supps=(--suppressions=tests/c/valgrind.supp --suppressions=integrations/valgrind.supp)
if [ -f "$glib_supp" ]; then
  supps+=("--suppressions=$glib_supp")
else
  echo "($glib_supp not found: running without GLib's suppressions)"
fi
VG=(valgrind -q --fair-sched=yes --leak-check=full --show-leak-kinds=definite,possible
    --errors-for-leak-kinds=definite,possible --error-exitcode=1 "${supps[@]}")
bins=$(cd integrations && cargo test --release --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p')
glib=$(grep '/glib-' <<<"$bins")
libuv=$(grep '/libuv-' <<<"$bins")
[ -x "$glib" ] && [ -x "$libuv" ]
for policy in caller background explicit; do
  HANDLES_RECLAIM=$policy G_SLICE=always-malloc G_DEBUG=gc-friendly \
    HANDLES_GLIB_ITEMS=$VG_GLIB_ITEMS HANDLES_GLIB_EMITS=$VG_GLIB_EMITS "${VG[@]}" "$glib"
  HANDLES_RECLAIM=$policy HANDLES_UV_ITEMS=$VG_UV_ITEMS "${VG[@]}" "$libuv"
done

echo
echo "integrations passed in $(( $(date +%s) - start )) s"
