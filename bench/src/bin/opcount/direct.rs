//! handles called directly on a static `HandleTable<u64>`, without the `Design` trait: the
//! figures of `scripts/op-costs.sh`. Each loop is `opcount::direct::measure_<op>`.
//!
//! Modes: `empty`, `lookup` (1,024 live handles in a scrambled order), `lookup-hot` (one
//! handle), `insert` (steady state: pages exist and freed slots wait on the free list),
//! `remove` (`HandleTable::revoke` of `N` fresh handles), `retain-release`, `callback` (one
//! call through a callback trampoline: lookup, type check, closure).

use super::N;
use handles::{Handle, HandleTable};
use std::hint::black_box;

static TABLE: HandleTable<u64> = HandleTable::new();

#[inline(never)]
fn measure_empty(hs: &[Handle]) -> u64 {
    let mut sum = 0;
    for &h in hs {
        sum += black_box(h).into_raw() & 1;
    }
    sum
}

#[inline(never)]
fn measure_lookup(hs: &[Handle]) -> u64 {
    let mut sum = 0;
    for &h in hs {
        sum += TABLE.with(black_box(h), |v| *v).unwrap_or(0) & 1;
    }
    sum
}

#[inline(never)]
fn measure_retain_release(hs: &[Handle]) -> u64 {
    let mut sum = 0;
    for &h in hs {
        let h = black_box(h);
        TABLE.retain(h).unwrap();
        sum += TABLE.release(h).unwrap() as u64;
    }
    sum
}

#[inline(never)]
fn measure_insert(out: &mut Vec<Handle>) {
    for i in 0..N as u64 {
        out.push(TABLE.insert(black_box(i)));
    }
}

#[inline(never)]
fn measure_revoke(hs: &[Handle]) -> u64 {
    let mut sum = 0;
    for &h in hs {
        sum += TABLE.revoke(black_box(h)).is_ok() as u64;
    }
    sum
}

type Trampoline = extern "C" fn(*mut core::ffi::c_void, u64) -> u64;

#[inline(never)]
fn measure_callback(f: Trampoline, user_data: &[*mut core::ffi::c_void]) -> u64 {
    let mut sum = 0;
    for (i, &u) in user_data.iter().enumerate() {
        sum += f(black_box(u), i as u64) & 1;
    }
    sum
}

fn filled(n: usize) -> Vec<Handle> {
    (0..n as u64).map(|i| TABLE.insert(i)).collect()
}

/// Runs one mode's loop; `Err` for an unknown mode.
pub fn run(mode: &str) -> Result<(), String> {
    match mode {
        "empty" => {
            let hs = filled(1024);
            let hs: Vec<Handle> = (0..N).map(|i| hs[i & 1023]).collect();
            black_box(measure_empty(&hs));
        }
        "lookup" => {
            let hs = filled(1024);
            let hs: Vec<Handle> = (0..N).map(|i| hs[(i * 7) & 1023]).collect();
            black_box(measure_lookup(&hs));
        }
        "lookup-hot" => {
            let h = TABLE.insert(1);
            black_box(measure_lookup(&vec![h; N]));
        }
        "retain-release" => {
            let hs = filled(1024);
            let hs: Vec<Handle> = (0..N).map(|i| hs[(i * 7) & 1023]).collect();
            black_box(measure_retain_release(&hs));
        }
        "insert" => {
            let warm = filled(N);
            for h in warm {
                TABLE.revoke(h).unwrap();
            }
            TABLE.flush();
            let mut out = Vec::with_capacity(N);
            measure_insert(&mut out);
            black_box(out);
        }
        "remove" => {
            let hs = filled(N);
            black_box(measure_revoke(&hs));
            TABLE.flush();
        }
        "callback" => {
            let cb = handles::callback::Callback::new(|x: u64| x + 1);
            let user_data = vec![cb.user_data(); N];
            black_box(measure_callback(cb.trampoline1(), &user_data));
        }
        other => return Err(format!("unknown direct mode {other}")),
    }
    Ok(())
}
