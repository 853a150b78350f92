//! Bindings to the example C thread pool (`examples/c/pool.h`), a C library that runs
//! `void (*)(void *user_data)` tasks on threads it creates.

use core::ffi::{c_int, c_void};

#[repr(C)]
struct RawPool {
    _opaque: [u8; 0],
}

/// A task as the C pool takes it.
pub type Task = extern "C" fn(user_data: *mut c_void);

unsafe extern "C" {
    fn pool_new(threads: c_int) -> *mut RawPool;
    fn pool_submit(p: *mut RawPool, task: Task, user_data: *mut c_void) -> c_int;
    fn pool_wait(p: *mut RawPool);
    fn pool_completed(p: *mut RawPool) -> usize;
    fn pool_free(p: *mut RawPool);
}

/// An owned C pool: `pool_free` on drop (which first runs every queued task).
pub struct Pool(*mut RawPool);

// SAFETY: pool.h: any thread may submit, wait and read the counter; the pool synchronises
// internally with its mutex.
unsafe impl Send for Pool {}
// SAFETY: as above.
unsafe impl Sync for Pool {}

impl Pool {
    /// Starts a pool of `threads` C worker threads.
    pub fn new(threads: usize) -> Pool {
        let threads = c_int::try_from(threads).expect("thread count");
        // SAFETY: plain constructor; NULL is checked below.
        let p = unsafe { pool_new(threads) };
        assert!(!p.is_null(), "pool_new failed");
        Pool(p)
    }

    /// Queues `task(user_data)`. The pool treats `user_data` as opaque.
    ///
    /// # Safety
    /// `task` must accept `user_data` whenever a worker runs it (a callback trampoline with a
    /// callback handle does: it checks the handle).
    pub unsafe fn submit(&self, task: Task, user_data: *mut c_void) {
        // SAFETY: `self.0` is live until drop; the pool never dereferences `user_data`, and the
        // task accepts it (our caller's promise).
        let rc = unsafe { pool_submit(self.0, task, user_data) };
        assert_eq!(rc, 0, "pool_submit failed");
    }

    /// Waits until every queued task (including tasks queued by tasks) has run.
    pub fn wait(&self) {
        // SAFETY: live pool.
        unsafe { pool_wait(self.0) }
    }

    /// Tasks run so far.
    pub fn completed(&self) -> usize {
        // SAFETY: live pool.
        unsafe { pool_completed(self.0) }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // SAFETY: live pool, freed once; `&mut self` means no submitter is left.
        unsafe { pool_free(self.0) }
    }
}
