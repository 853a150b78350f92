# Shell helpers shared by scripts/*.sh and .ci/run; source it from the repository root:
#   STEP_PREFIX="c: "; source scripts/lib.sh
#
#   step TITLE...                   section header: "=== ${STEP_PREFIX}TITLE ==="
#   missing_packages TOOL[:PKG]...  the Debian packages (default: the tool's name) of the
#                                   tools not on PATH, space-separated
#   require TOOL[:PKG]...           exits, naming the apt-get command to run, when one is missing
#   missing_pc_packages MODULE:PKG...  the Debian packages of the pkg-config modules (C
#                                   libraries) that pkg-config does not find, space-separated
#   require_pc MODULE:PKG...        exits, naming the apt-get command to run, when one is missing
#   require_target TARGET           exits, naming the rustup command to run, when the target's
#                                   standard library is not installed
#   callgrind_ir PATTERN CMD...     instructions (Ir) CMD executes inside functions matching
#                                   PATTERN (callgrind --toggle-collect); fails if none
#   ir_per_op IR EMPTY N            (IR - EMPTY) / N with one decimal: IR of N operations, less
#                                   the Ir of N iterations of an empty loop
# Only .ci/run installs anything; the scripts check and say what to install.
#
# Pinned toolchains and tools, so that a green run stays green (.ci/run installs exactly these;
# the stable toolchain is rust-toolchain.toml's, cbindgen's version is in scripts/c-tests.sh):
#   NIGHTLY             dated nightly for Miri and cargo-fuzz (scripts/fuzz.sh)
#   CARGO_FUZZ_VERSION  cargo-fuzz (scripts/fuzz.sh)
#   CARGO_C_VERSION     cargo-c, for `cargo cinstall` (scripts/install-tests.sh)
#   MSRV                the libraries' rust-version, from Cargo.toml (scripts/msrv.sh)
#   CROSS_TARGETS       the standard libraries .ci/run adds for cross builds: aarch64 Linux
#                       (scripts/aarch64-lookup-asm.sh, scripts/qemu-aarch64-tests.sh), macOS
#                       and Windows (clippy; Windows also scripts/windows-tests.sh)
NIGHTLY=nightly-2026-05-20
CARGO_FUZZ_VERSION=0.13.2
CARGO_C_VERSION=0.10.24+cargo-0.98.0
CROSS_TARGETS="aarch64-unknown-linux-gnu aarch64-apple-darwin x86_64-apple-darwin x86_64-pc-windows-gnu"
MSRV=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)

step() { printf '\n=== %s%s ===\n' "${STEP_PREFIX:-}" "$*"; }

missing_packages() {
  local tool pkgs=()
  for tool in "$@"; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || pkgs+=("${tool#*:}")
  done
  echo "${pkgs[*]}"
}

require() {
  local tool tools=() pkgs sudo=
  pkgs=$(missing_packages "$@")
  [ -z "$pkgs" ] && return 0
  for tool in "$@"; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || tools+=("${tool%%:*}")
  done
  [ "$(id -u)" -eq 0 ] || sudo="sudo "
  echo "$0: needs ${tools[*]}, not found; install with: ${sudo}apt-get install -y $pkgs" >&2
  exit 1
}

missing_pc_packages() {
  local module pkgs=()
  for module in "$@"; do
    pkg-config --exists "${module%%:*}" 2>/dev/null || pkgs+=("${module#*:}")
  done
  echo "${pkgs[*]}" | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

require_pc() {
  local module modules=() pkgs sudo=
  pkgs=$(missing_pc_packages "$@")
  [ -z "$pkgs" ] && return 0
  for module in "$@"; do
    pkg-config --exists "${module%%:*}" 2>/dev/null || modules+=("${module%%:*}")
  done
  [ "$(id -u)" -eq 0 ] || sudo="sudo "
  echo "$0: needs the C libraries ${modules[*]}, not found by pkg-config; install with:" \
    "${sudo}apt-get install -y $pkgs" >&2
  exit 1
}

require_target() {
  if ! rustup target list --installed | grep -qx "$1"; then
    echo "$0: needs the $1 standard library; install with: rustup target add $1" >&2
    exit 1
  fi
}

callgrind_ir() {
  local pattern=$1 out ir
  shift
  out=$(mktemp)
  if ! valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="$pattern" \
      "$@" >/dev/null 2>&1; then
    rm -f "$out"
    echo "callgrind_ir: failed under valgrind: $*" >&2
    return 1
  fi
  ir=$(awk '/^summary:/ {print $2}' "$out")
  rm -f "$out"
  if [ -z "$ir" ] || [ "$ir" -eq 0 ]; then
    echo "callgrind_ir: no instructions counted in functions matching '$pattern': $*" >&2
    return 1
  fi
  echo "$ir"
}

ir_per_op() { awk -v ir="$1" -v e="$2" -v n="$3" 'BEGIN { printf "%.1f\n", (ir - e) / n }'; }
