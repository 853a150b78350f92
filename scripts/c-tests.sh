#!/usr/bin/env bash
# C side of CI: builds libhdl (.so, .a) and its pkg-config file, checks include/hdl.h against
# cbindgen, compiles the header as C99/C11/C++17, checks the layout of every header type against
# Rust's (as C11 and C++17, with and without -fshort-enums), checks that typed handles
# (include/hdl_typed.h) reject misuse at compile time, runs the C and C++ (include/hdl.hpp, as
# C++17 and C++20) tests under ASan+UBSan and then under valgrind,
# runs cbindgen over examples/rust-ffi (a Rust library written with handles::entry_points!) and
# a C program against the header it generates,
# and builds the C example with pkg-config flags. Needs gcc, g++, pkg-config, valgrind,
# cbindgen (the pinned version below) and a nightly toolchain; says how to install any missing.
#   scripts/c-tests.sh               everything
#   scripts/c-tests.sh --bless       regenerate include/hdl.h instead of failing on drift
#   scripts/c-tests.sh --build-only  libraries + target/c/pkgconfig/hdl.pc only
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never RUST_BACKTRACE=0
CBINDGEN_VERSION=0.29.2
OUT=target/c
WARN="-Wall -Wextra -Wpedantic -Werror"
mode=${1:-}

STEP_PREFIX="c: "
source scripts/lib.sh
require pkg-config
if [[ $mode != --build-only ]]; then
  require gcc g++ valgrind
  if ! cbindgen --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
    echo "$0: needs cbindgen $CBINDGEN_VERSION, not found; install with:" \
      "cargo install cbindgen --version $CBINDGEN_VERSION --locked" >&2
    exit 1
  fi
  # cbindgen's macro expansion (the entry_points! example) runs rustc -Zunpretty=expanded.
  if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "$0: needs a nightly toolchain, not found; install with:" \
      "rustup toolchain install nightly --profile minimal" >&2
    exit 1
  fi
fi
start=$(date +%s)
mkdir -p "$OUT/pkgconfig" "$OUT/bin"

step "libraries (cargo build --release -p ffi-handles-capi)"
cargo build --release -p ffi-handles-capi
version=$(cargo pkgid -p ffi-handles-capi | sed 's/.*[@#]//')
# Libs.private: the system libraries a Rust staticlib needs, as rustc prints them for an empty
# one (handles and ffi-handles-capi link no native library of their own; scripts/install-tests.sh
# checks that cargo-c's hdl.pc, derived from the real build, says the same).
printf '' > "$OUT/empty.rs"
native=$(rustc --crate-type staticlib --crate-name hdl_native_libs --print native-static-libs \
  -o "$OUT/libhdl_native_libs.a" "$OUT/empty.rs" 2>&1 | sed -n 's/^note: native-static-libs: //p')
[ -n "$native" ]
sed -e "s|@PREFIX@|$PWD|" -e "s|@LIBDIR@|$PWD/target/release|" \
    -e "s|@INCLUDEDIR@|$PWD/include|" -e "s|@VERSION@|$version|" \
    -e "s|@LIBS_PRIVATE@|$native|" c-api/hdl.pc.in > "$OUT/pkgconfig/hdl.pc"
export PKG_CONFIG_PATH="$PWD/$OUT/pkgconfig"
ls target/release/libhdl.so target/release/libhdl.a
echo "pkg-config --cflags --libs hdl: $(pkg-config --cflags --libs hdl)"
[[ $mode == --build-only ]] && exit 0

step "header drift (include/hdl.h and its copy in the crate, c-api/include/hdl.h, vs cbindgen $CBINDGEN_VERSION)"
cbindgen -q --config c-api/cbindgen.toml --crate ffi-handles-capi --output "$OUT/hdl.h" c-api
for header in include/hdl.h c-api/include/hdl.h; do
  if [[ $mode == --bless ]]; then
    cp "$OUT/hdl.h" "$header"
  elif ! diff -u "$header" "$OUT/hdl.h"; then
    echo "$header differs from cbindgen's output: run scripts/c-tests.sh --bless" >&2
    exit 1
  fi
done

step "header compiles as C99, C11, C++17 ($WARN)"
printf '#include "hdl.h"\nint main(void) { return hdl_version() == HDL_VERSION ? 0 : 1; }\n' \
  > "$OUT/header_check.c"
for std in c99 c11; do
  gcc -std=$std $WARN -Iinclude "$OUT/header_check.c" target/release/libhdl.a \
    $(pkg-config --static --libs-only-l hdl | sed 's/-lhdl//') -o "$OUT/bin/header_$std"
  "$OUT/bin/header_$std"
done
g++ -std=c++17 $WARN -Iinclude -x c++ "$OUT/header_check.c" -x none target/release/libhdl.a \
  $(pkg-config --static --libs-only-l hdl | sed 's/-lhdl//') -o "$OUT/bin/header_cxx17"
"$OUT/bin/header_cxx17"
echo "ok"

step "hdl_typed.h as C99, C11, C++17; hdl.hpp as C++17, C++20 and without exceptions ($WARN)"
printf '#include "hdl_typed.h"\nstruct w;\nHDL_DEFINE_HANDLE(w, 1u);\nint main(void) { w_handle h = {0}; return w_is_live(h); }\n' \
  > "$OUT/typed_check.c"
for std in c99 c11; do gcc -std=$std $WARN -Iinclude -fsyntax-only "$OUT/typed_check.c"; done
g++ -std=c++17 $WARN -Iinclude -fsyntax-only -x c++ "$OUT/typed_check.c"
printf '#include "hdl.hpp"\nstruct t {};\nint main() {\n  std::error_code ec;\n  auto o = hdl::owner<t, 7>::insert(nullptr, nullptr, ec);\n  return ec == HDL_STATUS_NULL_POINTER && !o ? 0 : 1;\n}\n' \
  > "$OUT/hpp_check.cpp"
for flags in "-std=c++17" "-std=c++20" "-std=c++17 -fno-exceptions"; do
  # shellcheck disable=SC2086 # flags is a list
  g++ $flags $WARN -Iinclude "$OUT/hpp_check.cpp" target/release/libhdl.a \
    $(pkg-config --static --libs-only-l hdl | sed 's/-lhdl//') -o "$OUT/bin/hpp_check"
  "$OUT/bin/hpp_check"
done
echo "ok"

step "typed handles: misuse does not compile (tests/c/typed_misuse.c)"
# The file compiles and runs without MISUSE, so each case below fails for its type error alone.
gcc -std=c11 $WARN -Iinclude tests/c/typed_misuse.c target/release/libhdl.a \
  $(pkg-config --static --libs-only-l hdl | sed 's/-lhdl//') -o "$OUT/bin/typed_misuse"
"$OUT/bin/typed_misuse"
for n in 1 2 3 4 5; do
  if gcc -std=c11 $WARN -Iinclude -DMISUSE=$n -fsyntax-only tests/c/typed_misuse.c \
      2>"$OUT/typed_misuse_$n.err"; then
    echo "tests/c/typed_misuse.c compiled with MISUSE=$n: typed handles must reject it" >&2
    exit 1
  fi
  if ! grep -q "incompatible" "$OUT/typed_misuse_$n.err"; then
    echo "MISUSE=$n failed to compile, but not for a type mismatch:" >&2
    cat "$OUT/typed_misuse_$n.err" >&2
    exit 1
  fi
  echo "MISUSE=$n: $(grep -m1 error "$OUT/typed_misuse_$n.err" | sed 's/^[^ ]* //')"
done

step "test library (feature testing)"
cargo build --release -p ffi-handles-capi --features testing --target-dir target/c-testing
testlib="target/c-testing/release/libhdl.a $(pkg-config --static --libs-only-l hdl | sed 's/-lhdl//')"
build() { # name extra-flags...
  local name=$1; shift
  gcc -std=c11 $WARN -g -Iinclude -pthread "$@" "tests/c/$name.c" $testlib -o "$OUT/bin/$name"
}
build_cxx() { # name std extra-flags...: tests/c/NAME.cpp as $OUT/bin/NAME_STD
  local name=$1 std=$2; shift 2
  g++ -std="$std" $WARN -g -Iinclude -pthread "$@" "tests/c/$name.cpp" $testlib \
    -o "$OUT/bin/${name}_${std/++/xx}"
}

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

step "layout of the header's types vs Rust's (C11, C++17; with and without -fshort-enums)"
# test_layout must cover every type of the header: each typedef'd struct or enum, each
# fixed-width integer typedef (the enumerations) and each function-pointer typedef.
types=$(sed -n -e 's/^} \(hdl_[a-z0-9_]*\);$/\1/p' \
  -e 's/^typedef [a-z0-9_]* \(hdl_[a-z0-9_]*\);$/\1/p' \
  -e 's/^typedef .*(\*\(hdl_[a-z0-9_]*\))(.*$/\1/p' include/hdl.h)
[ -n "$types" ]
for t in $types; do
  if ! grep -Eq "(TYPE|STRUCT)\($t\)" tests/c/test_layout.c; then
    echo "tests/c/test_layout.c does not check $t (a type of include/hdl.h)" >&2
    exit 1
  fi
done
echo "header types:" $types
for lang in c11 c++17; do
  for enums in int short; do
    flags=()
    [[ $enums == short ]] && flags=(-fshort-enums -DHDL_TEST_SHORT_ENUMS)
    if [[ $lang == c11 ]]; then cc=(gcc -std=c11); else cc=(g++ -std=c++17 -x c++); fi
    bin="$OUT/bin/test_layout_${lang/++/xx}_${enums}_asan"
    "${cc[@]}" $WARN -g -O1 $SAN -Iinclude "${flags[@]}" tests/c/test_layout.c -x none $testlib \
      -o "$bin"
    "$bin"
  done
done

step "C and C++ tests under ASan + UBSan"
for t in test_api test_threads test_callbacks test_diag test_typed; do
  build "$t" -O1 $SAN
  mv "$OUT/bin/$t" "$OUT/bin/${t}_asan"
done
for std in c++17 c++20; do
  build_cxx test_cpp $std -O1 $SAN
  "$OUT/bin/test_cpp_${std/++/xx}"
done
"$OUT/bin/test_typed_asan"
"$OUT/bin/test_api_asan"
"$OUT/bin/test_threads_asan" 200000 60
"$OUT/bin/test_callbacks_asan" 200000
"$OUT/bin/test_diag_asan"

step "C and C++ tests under valgrind"
VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,possible --error-exitcode=1 --suppressions=tests/c/valgrind.supp"
build test_layout -O1 -fshort-enums -DHDL_TEST_SHORT_ENUMS
mv "$OUT/bin/test_layout" "$OUT/bin/test_layout_short"
for t in test_api test_threads test_callbacks test_diag test_layout test_typed; do build "$t" -O1; done
build_cxx test_cpp c++17 -O1
$VG "$OUT/bin/test_typed"
$VG "$OUT/bin/test_cpp_cxx17"
$VG "$OUT/bin/test_layout"
$VG "$OUT/bin/test_layout_short"
$VG "$OUT/bin/test_api"
$VG "$OUT/bin/test_threads" 10000 30
$VG "$OUT/bin/test_callbacks" 20000
$VG "$OUT/bin/test_diag"

step "Rust clients of C libraries under valgrind (SQLite, the C thread pool; small sizes)"
# The Rust test harness keeps a thread-local of the main thread alive at exit (std's mpmc
# context), which valgrind calls "possibly lost": only definite leaks count here. Fair
# scheduling: with valgrind's default lock, the SQLite workers starve the thread that revokes.
VG_RUST="valgrind -q --fair-sched=yes --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1"
clients=$(cargo test --release -p handles-tests --test it --no-run \
  --message-format=json 2>/dev/null | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p')
[ -n "$clients" ]
for bin in $clients; do
  HANDLES_SQLITE_ROUNDS=1 HANDLES_SQLITE_ROWS=2000 $VG_RUST "$bin" --test-threads=1 -q sqlite:: pool::
done

step "cbindgen over a Rust library written with handles::entry_points! (examples/rust-ffi)"
RUSTUP_TOOLCHAIN=nightly CARGO_EXPAND_TARGET_DIR="$PWD/target/rust-ffi-expand" \
  cbindgen -q --config examples/rust-ffi/cbindgen.toml --crate widgets-ffi \
  --output "$OUT/widgets_ffi.h" examples/rust-ffi
for proto in 'uint64_t widget_new(uint32_t size);' \
    'uint32_t widget_create(uint32_t size, uint64_t \*out_handle);' \
    'uint32_t widget_free(uint64_t handle);' 'uint32_t widget_retain(uint64_t handle);' \
    'uint32_t widget_release(uint64_t handle);' \
    'uint32_t widget_size(uint64_t widget, uint32_t \*out);' 'size_t widget_count(void);'; do
  if ! grep -qx "$proto" "$OUT/widgets_ffi.h"; then
    echo "cbindgen's $OUT/widgets_ffi.h lacks the prototype: $proto" >&2
    exit 1
  fi
done
echo "the 7 prototypes are in $OUT/widgets_ffi.h"
cargo build --release --manifest-path examples/rust-ffi/Cargo.toml --target-dir target/rust-ffi
gcc -std=c11 $WARN -g -O1 $SAN -Iinclude -I"$OUT" tests/c/test_widgets_ffi.c \
  target/rust-ffi/release/libwidgets_ffi.a $(pkg-config --static --libs-only-l hdl | sed 's/-lhdl//') \
  -o "$OUT/bin/test_widgets_ffi_asan"
"$OUT/bin/test_widgets_ffi_asan" 2>"$OUT/test_widgets_ffi.err" \
  || { cat "$OUT/test_widgets_ffi.err" >&2; exit 1; }
grep -q "widget_size panics for size 666" "$OUT/test_widgets_ffi.err" # the panic was caught

step "call-cost bench (smoke run; quiet-machine figures need more iterations)"
build bench_calls -O2
"$OUT/bin/bench_calls" 2000000 3

step "examples/c with pkg-config flags"
gcc -std=c99 $WARN -pthread examples/c/example.c $(pkg-config --cflags --libs hdl) \
  -o "$OUT/bin/example"
LD_LIBRARY_PATH="$(pkg-config --variable=libdir hdl)" "$OUT/bin/example"

echo
echo "C tests passed in $(( $(date +%s) - start )) s"
