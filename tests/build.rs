//! Compiles the C half of the soak test (`c/soak.c`: pthreads created by C that call the C API)
//! into a static library linked with this crate; `tests/soak.rs` drives it.

fn main() {
    println!("cargo:rerun-if-changed=c/soak.c");
    println!("cargo:rerun-if-changed=../include/hdl.h");
    cc::Build::new()
        .file("c/soak.c")
        .include("../include")
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("handles_soak_c");
}
