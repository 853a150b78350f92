//! Diagnostics: stats per table and per shard, misuse diagnosis (released, revoked or
//! taken), leak reports, the report at exit (`HANDLES_LEAK_REPORT=1`, in a child process), and
//! with `--features debug-backtrace` the backtraces of where entries were made and ended.
//!
//! Failure counters are process-wide, so their exact checks live alone in `stats.rs`.

use handles::{EndReason, Error, Handle, HandleTable};

#[test]
fn diagnose_says_released_revoked_or_taken() {
    test_support::not_alone();
    let table = HandleTable::new();
    let released = table.insert(String::from("a"));
    let revoked = table.insert(String::from("b"));
    let taken = table.insert(String::from("c"));
    let kept = table.insert(String::from("d"));

    let d = table.diagnose(kept);
    assert_eq!((d.error, d.ended, d.refs), (None, None, 1));
    table.retain(kept).unwrap();
    assert_eq!(table.diagnose(kept).refs, 2);
    assert!(
        table
            .diagnose(kept)
            .to_string()
            .contains("live, 2 reference(s)")
    );

    table.retain(revoked).unwrap();
    table.revoke(revoked).unwrap();
    let d = table.diagnose(revoked);
    assert_eq!(
        (d.error, d.ended, d.refs),
        (Some(Error::Stale), Some(EndReason::Revoked), 1)
    );
    assert!(d.to_string().contains("revoked; 1 reference(s)"), "{d}");
    // The last release of a revoked entry ends it; the reason stays "revoked".
    assert_eq!(table.release(revoked), Ok(true));
    assert_eq!(table.release(released), Ok(true));
    assert_eq!(table.take(taken).unwrap(), "c");

    for (h, why, text) in [
        (released, EndReason::Released, "stale: released"),
        (revoked, EndReason::Revoked, "stale: revoked"),
        (taken, EndReason::Taken, "stale: taken"),
    ] {
        // What the failing call returns is unchanged...
        assert_eq!(table.with(h, |_| ()), Err(Error::Stale));
        // ...and the diagnosis explains it, before and after the reclamation pass.
        let d = table.diagnose(h);
        assert_eq!(
            (d.error, d.ended, d.refs),
            (Some(Error::Stale), Some(why), 0)
        );
        assert!(d.to_string().contains(text), "{d}");
        table.flush();
        assert_eq!(table.diagnose(h).ended, Some(why));
    }

    // Once the slots are reused, how the old generations ended is no longer known.
    let fresh: Vec<Handle> = (0..3).map(|i| table.insert(i.to_string())).collect();
    for h in [released, revoked, taken] {
        let d = table.diagnose(h);
        assert_eq!((d.error, d.ended), (Some(Error::Stale), None));
        assert!(d.to_string().contains("no longer known"), "{d}");
    }
    for h in fresh {
        assert_eq!(table.diagnose(h).error, None);
    }
}

#[test]
fn diagnose_other_kinds_of_handle() {
    test_support::not_alone();
    let table = HandleTable::new();
    let other = HandleTable::new();
    let h = table.insert(1u8);
    let foreign = other.insert(2u8);
    let d = table.diagnose(foreign);
    assert_eq!((d.error, d.ended), (Some(Error::WrongTable), None));
    assert!(d.to_string().contains("another table"));
    // A generation the slot has not reached: never issued.
    let forged = Handle::from_raw(h.into_raw() ^ (1 << 62)).unwrap();
    let d = table.diagnose(forged);
    assert_eq!((d.error, d.ended), (Some(Error::Invalid), None));
    assert!(d.to_string().contains("never issued"));
    // A slot in a page that does not exist.
    let far = Handle::from_raw(h.into_raw() | 0x3F_FFFF).unwrap();
    assert_eq!(table.diagnose(far).error, Some(Error::Invalid));
    assert_eq!(table.diagnose(h).error, None);
}

#[test]
fn stats_per_table_and_per_shard() {
    test_support::not_alone();
    let table = HandleTable::new();
    let empty = table.stats();
    assert_eq!((empty.live, empty.pages, empty.slots), (0, 0, 0));
    assert_eq!(table.shard_stats().len(), handles::SHARDS);
    assert!(table.shard_stats().iter().all(|s| *s == Default::default()));

    // Inserts from several threads land in several home shards.
    let table_ref = &table;
    let handles: Vec<Handle> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let table = table_ref;
                s.spawn(move || {
                    (0..300)
                        .map(|i| table.insert(t * 1000 + i))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let stats = table.stats();
    let shards = table.shard_stats();
    assert_eq!(stats.live, 1200);
    assert_eq!(shards.iter().map(|s| s.live).sum::<usize>(), 1200);
    assert_eq!(shards.iter().map(|s| s.slots).sum::<usize>(), stats.slots);
    assert_eq!(shards.iter().map(|s| s.pages).sum::<usize>(), stats.pages);
    for (i, s) in shards.iter().enumerate() {
        let here = handles.iter().filter(|h| shard_of(**h) == i).count();
        assert_eq!(s.live, here, "shard {i}");
        assert!(s.slots >= s.live);
    }
    for h in &handles[..100] {
        table.revoke(*h).unwrap();
    }
    let pending: usize = table.shard_stats().iter().map(|s| s.pending_drops).sum();
    assert_eq!(pending, table.stats().pending_drops);
    assert_eq!(table.stats().live, 1100);
    table.flush();
    assert_eq!(
        table
            .shard_stats()
            .iter()
            .map(|s| s.pending_drops)
            .sum::<usize>(),
        0
    );
}

fn shard_of(h: Handle) -> usize {
    test_support::layout::shard(h.into_raw()) as usize
}

#[test]
fn leak_report_lists_live_and_revoked_entries() {
    test_support::not_alone();
    let table = HandleTable::new();
    let live = table.insert(vec![1u32]);
    let revoked = table.insert(vec![2u32]);
    table.retain(revoked).unwrap();
    table.revoke(revoked).unwrap();
    let gone = table.insert(vec![3u32]);
    table.revoke(gone).unwrap();

    let report = table.leak_report();
    assert_eq!(report.type_name, std::any::type_name::<Vec<u32>>());
    let mut entries: Vec<_> = report
        .entries
        .iter()
        .map(|e| (e.handle, e.refs, e.revoked))
        .collect();
    entries.sort();
    let mut want = vec![(live, 1, false), (revoked, 1, true)];
    want.sort();
    assert_eq!(entries, want);
    let text = report.to_string();
    assert!(
        text.contains("2 live handle(s) in HandleTable<alloc::vec::Vec<u32>>"),
        "{text}"
    );
    assert!(text.contains(&format!("{:#018x} refs=1 (revoked)", revoked.into_raw())));

    // The visitor sees the values, and may use the table.
    let mut sum = 0;
    table.visit_live(|e, v| {
        sum += v[0];
        assert_eq!(table.contains(e.handle), !e.revoked);
    });
    assert_eq!(sum, 3);

    table.release(revoked).unwrap();
    table.revoke(live).unwrap();
    assert!(table.leak_report().entries.is_empty());
}

/// The child half of `report_at_exit`: leaks one entry of a static table registered for the
/// report, then returns (the test harness exits, which runs the report).
#[cfg(unix)] // the report at exit is a C `atexit` hook, on Unix only
#[test]
#[ignore = "run by report_at_exit in a child process"]
fn report_at_exit_child() {
    test_support::not_alone();
    static TABLE: HandleTable<String> = HandleTable::new();
    TABLE.report_leaks_at_exit();
    let h = TABLE.insert(String::from("leaked"));
    println!("leaked handle {:#018x}", h.into_raw());
}

#[cfg(unix)]
fn run_child(report: &str) -> (String, String) {
    // The test's name in the harness: its path without the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let child = format!("{module}::report_at_exit_child");
    // HANDLES_TEST_RUNNER, if set, runs the child (an emulator for a cross-compiled binary,
    // as scripts/qemu-aarch64-tests.sh sets it).
    use std::process::Command;
    let runner = std::env::var("HANDLES_TEST_RUNNER").unwrap_or_default();
    let mut runner = runner.split_whitespace();
    let exe = std::env::current_exe().unwrap();
    let mut command = match runner.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(runner).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let out = command
        .args(["--ignored", "--exact", &child, "--nocapture"])
        .env("HANDLES_LEAK_REPORT", report)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(unix)] // the report at exit is a C `atexit` hook, on Unix only
#[test]
fn report_at_exit() {
    test_support::not_alone();
    let (stdout, stderr) = run_child("1");
    let handle = stdout
        .split("leaked handle ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("child printed its handle")
        .to_owned();
    assert!(
        stderr.contains("handles: 1 live handle(s) in HandleTable<alloc::string::String>"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{handle} refs=1")), "{stderr}");

    let (_, stderr) = run_child("0");
    assert!(!stderr.contains("live handle"), "{stderr}");
}

#[cfg(feature = "debug-backtrace")]
mod backtraces {
    use super::*;

    #[inline(never)]
    fn make_it(table: &HandleTable<u32>) -> Handle {
        table.insert(7)
    }

    #[inline(never)]
    fn revoke_it(table: &HandleTable<u32>, h: Handle) {
        table.revoke(h).unwrap();
    }

    #[inline(never)]
    fn release_it(table: &HandleTable<u32>, h: Handle) {
        table.release(h).unwrap();
    }

    #[test]
    fn diagnosis_says_where() {
        test_support::not_alone();
        let table = HandleTable::new();
        let h = make_it(&table);
        let d = table.diagnose(h);
        let created = d.created_at.expect("insert backtrace").to_string();
        assert!(created.contains("make_it"), "{created}");
        assert!(d.ended_at.is_none());

        // Revoked with a reference out, then released: "where" is the revoke.
        table.retain(h).unwrap();
        revoke_it(&table, h);
        release_it(&table, h);
        let d = table.diagnose(h);
        assert_eq!(d.ended, Some(EndReason::Revoked));
        let ended = d.ended_at.clone().expect("revoke backtrace").to_string();
        assert!(
            ended.contains("revoke_it") && !ended.contains("release_it"),
            "{ended}"
        );
        let text = d.to_string();
        assert!(
            text.contains("inserted at:") && text.contains("revoked at:"),
            "{text}"
        );

        // Released: "where" is the last release.
        let g = make_it(&table);
        release_it(&table, g);
        let ended = table.diagnose(g).ended_at.unwrap().to_string();
        assert!(ended.contains("release_it"), "{ended}");

        // Leak reports carry the insert backtrace; a reused slot's old handle gets none.
        let l = make_it(&table);
        let report = table.leak_report();
        assert_eq!(report.entries.len(), 1);
        assert!(
            report.entries[0]
                .created_at
                .as_ref()
                .unwrap()
                .to_string()
                .contains("make_it")
        );
        table.revoke(l).unwrap();
        table.flush();
        let _reuse: Vec<Handle> = (0..3).map(|_| table.insert(0)).collect();
        let d = table.diagnose(l);
        assert!(d.created_at.is_none() && d.ended_at.is_none() && d.ended.is_none());
    }
}
