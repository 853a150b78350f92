//! GLib and libuv as real clients of [`handles::callback`]: hand-written declarations of the
//! few C functions the tests call ([`glib`], [`uv`]; linked by `build.rs` with `pkg-config`),
//! and what both test binaries share: running a scenario under every [`ReclaimPolicy`],
//! counts from the environment, and checks made inside callbacks (which must not panic: a
//! trampoline would catch the panic and the test would never see it).
//!
//! `tests/glib.rs` and `tests/libuv.rs` are plain `main`s. With `HANDLES_RECLAIM` unset, each
//! runs itself once per policy (`caller`, `background`, `explicit`) in a child process; with it
//! set, it runs once under that policy (what `scripts/integrations.sh` does under valgrind).

pub mod glib;
pub mod uv;

use handles::ReclaimPolicy;
use handles::callback;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The policies, with the names `HANDLES_RECLAIM` takes.
pub const POLICIES: [(&str, ReclaimPolicy); 3] = [
    ("caller", ReclaimPolicy::Caller),
    ("background", ReclaimPolicy::Background),
    ("explicit", ReclaimPolicy::Explicit),
];

/// Runs `scenario` under the policy `HANDLES_RECLAIM` names, after setting it on the callback
/// registry; with `HANDLES_RECLAIM` unset, runs this executable once per policy instead and
/// exits non-zero if any run failed. `scenario` gets the policy, to set it on its own tables.
pub fn under_every_policy(scenario: impl FnOnce(ReclaimPolicy)) {
    let Some(name) = std::env::var_os("HANDLES_RECLAIM") else {
        let exe = std::env::current_exe().expect("current_exe");
        let mut failed = Vec::new();
        for (name, _) in POLICIES {
            println!("--- HANDLES_RECLAIM={name}");
            let status = Command::new(&exe)
                .args(std::env::args_os().skip(1))
                .env("HANDLES_RECLAIM", name)
                .status()
                .expect("run the test under a policy");
            if !status.success() {
                failed.push(name);
            }
        }
        if !failed.is_empty() {
            eprintln!("failed under HANDLES_RECLAIM={}", failed.join(", "));
            std::process::exit(1);
        }
        return;
    };
    let policy = POLICIES
        .iter()
        .find(|(n, _)| name.to_str() == Some(n))
        .unwrap_or_else(|| panic!("HANDLES_RECLAIM={name:?}: not caller, background or explicit"))
        .1;
    callback::set_reclaim_policy(policy);
    scenario(policy);
}

/// The count in environment variable `var`, or `default`.
pub fn count(var: &str, default: usize) -> usize {
    match std::env::var(var) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{var}={v}: not a count")),
        Err(_) => default,
    }
}

static VIOLATIONS: AtomicUsize = AtomicUsize::new(0);
static FIRST_VIOLATION: Mutex<Option<String>> = Mutex::new(None);

/// Records a failed check made where a panic would be caught (inside a callback or a `Drop`).
pub fn violation(what: String) {
    if VIOLATIONS.fetch_add(1, Ordering::SeqCst) == 0 {
        *FIRST_VIOLATION.lock().unwrap_or_else(|e| e.into_inner()) = Some(what);
    }
}

/// Records a violation unless `ok`.
pub fn check(ok: bool, what: impl FnOnce() -> String) {
    if !ok {
        violation(what());
    }
}

/// Panics if any [`violation`] was recorded.
pub fn assert_no_violations() {
    let n = VIOLATIONS.load(Ordering::SeqCst);
    let first = FIRST_VIOLATION
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert_eq!(n, 0, "{n} failed checks in callbacks; first: {first:?}");
}

/// Waits (sleeping 1 ms at a time) until `done()`; panics after `limit`, naming `what`.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Drops every unregistered closure: [`callback::flush`] until no closure waits for a call in
/// flight (under `Explicit` nothing else ever drops them).
pub fn flush_callbacks() {
    wait_until(
        "callback::flush() to drop everything",
        Duration::from_secs(60),
        || callback::flush() == 0,
    );
}

/// A timeout generous enough for valgrind on a loaded machine.
pub const LIMIT: Duration = Duration::from_secs(600);

thread_local! {
    static TOKEN: u8 = const { 0 };
}

/// This thread's token: the address of one of its thread-locals, distinct among live threads.
/// Callbacks compare it with the token of the thread they must run on.
pub fn thread_token() -> usize {
    TOKEN.with(|t| t as *const u8 as usize)
}
