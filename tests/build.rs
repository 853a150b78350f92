//! Compiles the C code the tests link with: the example C thread pool (`examples/c/pool.c`) that
//! the callback tests drive, and the C half of the soak test (`c/soak.c`: pthreads created by C
//! that call the C API).

fn main() {
    for f in [
        "../examples/c/pool.c",
        "../examples/c/pool.h",
        "c/soak.c",
        "../include/hdl.h",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    cc::Build::new()
        .file("../examples/c/pool.c")
        .flag_if_supported("-pthread")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("handles_example_pool");
    cc::Build::new()
        .file("c/soak.c")
        .include("../include")
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("handles_soak_c");
}
