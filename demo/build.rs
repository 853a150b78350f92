//! Compiles the demo's C program (`examples/c/demo.c`) and the C thread pool it uses
//! (`examples/c/pool.c`) into a static library linked into the `demo` binary, with the header
//! from `include/`.

fn main() {
    for f in ["demo.c", "pool.c", "pool.h", "demo.h"] {
        println!("cargo:rerun-if-changed=../examples/c/{f}");
    }
    println!("cargo:rerun-if-changed=../include/hdl.h");
    cc::Build::new()
        .file("../examples/c/demo.c")
        .file("../examples/c/pool.c")
        .include("../include")
        .std("c11")
        .opt_level(2)
        .flag_if_supported("-pthread")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("handles_demo_c");
    println!("cargo:rustc-link-lib=pthread");
}
