#!/usr/bin/env bash
# The C install path as a user takes it: runs the code blocks of the README's "For C users"
# section as written (each marked `<!-- install-tests: NAME -->`), in a scratch HOME under
# target/install/: `cargo cinstall` into $HOME/.local, then C programs built only from that
# prefix's pkg-config file (shared with an rpath, static), the CMake and Meson snippets, and
# the Python ctypes example. Checks what was installed: the header is include/hdl.h byte for
# byte, the SONAME, no debug info, libhdl.so exports only hdl_ symbols, Libs.private is what
# scripts/c-tests.sh derives, and the static program needs no libhdl.so.
# Needs cargo-c ($CARGO_C_VERSION in scripts/lib.sh), gcc, pkg-config, binutils, cmake, meson,
# ninja and python3; says how to install any that is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
STEP_PREFIX="install: "
source scripts/lib.sh
require cc:gcc pkg-config readelf:binutils nm:binutils strip:binutils cmake meson ninja:ninja-build python3
if ! cargo cinstall --version 2>/dev/null | grep -q "^cargo-c $CARGO_C_VERSION"; then
  echo "$0: needs cargo-c $CARGO_C_VERSION, not found; install with:" \
    "cargo install cargo-c --version $CARGO_C_VERSION --locked" >&2
  exit 1
fi
start=$(date +%s)
repo=$PWD
work=$repo/target/install
rm -rf "$work"
mkdir -p "$work/home"

# The code block after the README line `<!-- install-tests: NAME -->`.
block() {
  local text
  text=$(awk -v name="$1" '
    $0 == "<!-- install-tests: " name " -->" { marked = 1; next }
    marked && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }' "$repo/README.md")
  if [ -z "$text" ]; then
    echo "$0: README.md has no block marked <!-- install-tests: $1 -->" >&2
    exit 1
  fi
  printf '%s\n' "$text"
}

# The blocks run with HOME in the scratch folder (cargo and rustup keep their own homes), in a
# project folder holding app.c, the C example.
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
export HOME=$work/home
unset PKG_CONFIG_PATH PREFIX
project() { # name: a fresh project folder with app.c
  mkdir -p "$work/$1"
  cp examples/c/example.c "$work/$1/app.c"
  echo "$work/$1"
}
run_sh() { # block-name folder: runs the sh block there, after the install block's exports
  (cd "$2" && bash -euo pipefail -c "$(block install | grep '^export '); $(block "$1")")
}

step "cargo cinstall (README block \"install\")"
(cd "$repo" && bash -euo pipefail -c "$(block install)")
prefix=$HOME/.local
lib=$prefix/lib
export PKG_CONFIG_PATH=$lib/pkgconfig
find "$prefix" -type f -o -type l | sed "s|^$prefix/||" | sort

step "installed files"
cmp include/hdl.h "$prefix/include/hdl.h"
echo "include/hdl.h: the checked-in header, byte for byte"
version=$(cargo pkgid -p ffi-handles-capi | sed 's/.*[@#]//')
soname=libhdl.so.${version%.*}
so=$lib/libhdl.so.$version
# (grep reads whole outputs here, not -q on a pipe: an early exit would fail the pipe.)
dynamic=$(readelf -d "$so")
grep -q "(SONAME).*\[$soname\]" <<<"$dynamic" || { echo "SONAME of $so is not $soname" >&2; exit 1; }
[ "$(readlink "$lib/$soname")" = "libhdl.so.$version" ] && [ -L "$lib/libhdl.so" ]
echo "SONAME $soname, links $soname and libhdl.so"
for f in "$so" "$lib/libhdl.a"; do
  if grep -q '\.debug_' <<<"$(readelf -S -W "$f")"; then
    echo "$f has debug info (the README's install block: --profile dist, strip --strip-debug)" >&2
    exit 1
  fi
  echo "$(basename "$f"): $(du -k "$f" | cut -f1) KiB, no debug info"
done
exports=$(nm -D --defined-only "$so" | awk '{print $NF}' | grep -v '^hdl_' || true)
if [ -n "$exports" ]; then
  echo "libhdl.so exports symbols outside hdl_:" $exports >&2
  exit 1
fi
echo "libhdl.so exports $(nm -D --defined-only "$so" | wc -l) symbols, all hdl_"
globals=$(nm -g --defined-only "$lib/libhdl.a" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u)
echo "libhdl.a: $(grep -c '^hdl_' <<<"$globals" || true) hdl_ globals, $(grep -vc '^hdl_' <<<"$globals" || true)" \
  "others (std, allocator shims, compiler-builtins: README, \"The static library's other globals\")"
bash scripts/c-tests.sh --build-only >/dev/null
derived=$(PKG_CONFIG_PATH=$repo/target/c/pkgconfig pkg-config --static --libs-only-l hdl)
installed=$(pkg-config --static --libs-only-l hdl)
if [ "$derived" != "$installed" ]; then
  echo "hdl.pc's libraries differ: cargo-c says '$installed', c-tests.sh derives '$derived'" >&2
  exit 1
fi
echo "Libs.private: $(pkg-config --static --libs-only-l hdl | sed 's/-lhdl //')"

step "shared: README block \"shared\" (pkg-config, rpath)"
dir=$(project shared)
run_sh shared "$dir"
dynamic=$(readelf -d "$dir/app")
grep -q "(NEEDED).*\[$soname\]" <<<"$dynamic"
grep -Eq "\((RPATH|RUNPATH)\).*\[$lib\]" <<<"$dynamic"
echo "app needs $soname, found through its rpath $lib"
# What the README says happens without an rpath, and that LD_LIBRARY_PATH is the other way.
(cd "$dir" && cc -std=c99 -pthread app.c $(pkg-config --cflags --libs hdl) -o app-no-rpath)
if err=$("$dir/app-no-rpath" 2>&1); then
  echo "app-no-rpath ran without an rpath: the README's run-time paragraph is wrong" >&2
  exit 1
fi
grep -q "$soname: cannot open shared object file" <<<"$err"
LD_LIBRARY_PATH=$lib "$dir/app-no-rpath" >/dev/null
echo "without an rpath: \"${err##*: }\" ($soname not found); with LD_LIBRARY_PATH=$lib: runs"

step "static: README block \"static\""
dir=$(project static)
run_sh static "$dir"
if grep -q "(NEEDED).*libhdl" <<<"$(readelf -d "$dir/app-static")"; then
  echo "app-static needs libhdl.so: it linked the shared library" >&2
  exit 1
fi
echo "app-static needs no libhdl.so"

step "CMake: README block \"cmake\" (pkg_check_modules IMPORTED_TARGET)"
dir=$(project cmake)
block cmake >"$dir/CMakeLists.txt"
(cd "$dir" && cmake -S . -B build >/dev/null && cmake --build build >/dev/null && ./build/app)

step "Meson: README block \"meson\""
dir=$(project meson)
block meson >"$dir/meson.build"
(cd "$dir" && meson setup build >/dev/null && meson compile -C build >/dev/null && ./build/app)

step "Python ctypes: README block \"python\""
dir=$(project python)
block python >"$dir/example.py"
(cd "$dir" && PREFIX=$prefix python3 example.py)

echo
echo "install tests passed in $(( $(date +%s) - start )) s"
