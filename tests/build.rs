//! Compiles the example C thread pool (`examples/c/pool.c`) that the callback tests drive.

fn main() {
    println!("cargo:rerun-if-changed=../examples/c/pool.c");
    println!("cargo:rerun-if-changed=../examples/c/pool.h");
    cc::Build::new()
        .file("../examples/c/pool.c")
        .flag_if_supported("-pthread")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("handles_example_pool");
    println!("cargo:rustc-link-lib=pthread");
}
