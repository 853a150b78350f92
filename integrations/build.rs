//! Links the system's GLib (glib-2.0, gobject-2.0) and libuv with the flags `pkg-config` gives.
//! The FFI declarations are hand-written in `src/glib.rs` and `src/uv.rs`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    for (module, package) in [
        ("glib-2.0", "libglib2.0-dev"),
        ("gobject-2.0", "libglib2.0-dev"),
        ("libuv", "libuv1-dev"),
    ] {
        let out = Command::new("pkg-config")
            .args(["--libs", module])
            .output()
            .unwrap_or_else(|e| {
                panic!("pkg-config not runnable ({e}): apt-get install pkg-config")
            });
        if !out.status.success() {
            panic!(
                "pkg-config --libs {module} failed ({}): apt-get install {package}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        for flag in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Some(dir) = flag.strip_prefix("-L") {
                println!("cargo:rustc-link-search=native={dir}");
            } else if let Some(lib) = flag.strip_prefix("-l") {
                println!("cargo:rustc-link-lib={lib}");
            }
        }
    }
}
