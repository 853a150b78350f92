//! Running test code in a forked child: the child reports through a raw `write(2)` and
//! `_exit`s (it runs nothing of the parent's exit handling), and a watchdog alarm kills a child
//! that hangs. Shared by the core crate's unit tests (included by path, as this file uses
//! nothing but `std` and `libc`) and the integration tests.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Seconds a child may run before its alarm kills it.
pub const CHILD_ALARM_SECS: u32 = 30;

/// Writes to stderr with a raw `write(2)`: no locks, usable in a child.
pub fn raw_eprint(msg: &str) {
    // SAFETY: writes a valid buffer of the given length to fd 2.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
}

/// Forks; the child runs `child` and exits with status 0 if it returned, 1 if it panicked.
/// In the parent, returns what became of the child.
pub fn fork_run(child: impl FnOnce()) -> Result<(), String> {
    // SAFETY: fork has no preconditions; the child only runs `child` and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        run_child(child);
    }
    wait_child(pid)
}

/// The child's side of [`fork_run`] (for a caller that forks itself): runs `child` under the
/// alarm, then `_exit`s with 0, or 1 if it panicked. Never returns.
pub fn run_child(child: impl FnOnce()) -> ! {
    // SAFETY: alarm has no preconditions.
    unsafe { libc::alarm(CHILD_ALARM_SECS) };
    let code = match catch_unwind(AssertUnwindSafe(child)) {
        Ok(()) => 0,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("?");
            raw_eprint(&format!("fork child failed: {msg}\n"));
            1
        }
    };
    // SAFETY: ends the child at once, without running the parent's exit handlers.
    unsafe { libc::_exit(code) }
}

/// The parent's side of [`fork_run`]: waits for child `pid`; `Ok` if it exited with 0.
pub fn wait_child(pid: libc::pid_t) -> Result<(), String> {
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is a valid out-pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid, "waitpid failed");
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else if libc::WIFEXITED(status) {
        Err(format!(
            "child exited with status {}",
            libc::WEXITSTATUS(status)
        ))
    } else {
        Err(format!(
            "child killed by signal {} (hung?)",
            libc::WTERMSIG(status)
        ))
    }
}
