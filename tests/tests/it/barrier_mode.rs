//! The barrier mode: asymmetric exactly where the OS has a heavy barrier, unless
//! `HANDLES_BARRIER=symmetric` forces the fallback; lookups and reclamation work in either.

use handles::HandleTable;

/// Whether the OS offers the heavy barrier the library uses (asked independently of it).
fn os_has_heavy_barrier() -> bool {
    #[cfg(target_os = "linux")]
    {
        const MEMBARRIER_CMD_QUERY: libc::c_long = 0;
        const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
        // SAFETY: membarrier's query takes two integer arguments and touches no memory.
        let cmds = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0) };
        cmds > 0 && cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED != 0
    }
    #[cfg(windows)]
    {
        true // FlushProcessWriteBuffers
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        false // the symmetric fallback (macOS and the rest)
    }
}

#[test]
fn mode_follows_the_os_and_the_switch() {
    test_support::not_alone();
    let forced = std::env::var_os("HANDLES_BARRIER").is_some_and(|v| v == "symmetric");
    let table = HandleTable::new();
    let h = table.insert(7u32);
    assert_eq!(table.with(h, |v| *v), Ok(7));
    let stats = handles::thread_stats();
    assert_eq!(
        stats.asymmetric_barrier,
        !forced && os_has_heavy_barrier(),
        "HANDLES_BARRIER={:?}",
        std::env::var_os("HANDLES_BARRIER")
    );
    // A pass behind the heavy barrier (a membarrier, or a fence in the fallback) still ends
    // the entry and drops the value once no lookup holds it.
    let before = stats.heavy_barriers;
    table.revoke(h).unwrap();
    assert_eq!(table.flush(), 0);
    assert_eq!(table.with(h, |v| *v), Err(handles::Error::Stale));
    let after = handles::thread_stats().heavy_barriers;
    if stats.asymmetric_barrier {
        assert!(
            after > before,
            "a pass that dropped a value ran no heavy barrier"
        );
    } else {
        assert_eq!(after, 0, "heavy barriers counted in the symmetric mode");
    }
}
