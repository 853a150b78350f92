//! A steady-state lookup loop for `scripts/store-trace.sh`, which runs it under valgrind's
//! lackey (`--trace-mem=yes`) and classifies every store the loop makes.
//!
//! `store_trace DESIGN N` fills a table of 1,024 entries, warms it up, prints the address of
//! its marker and the ranges the stores of a lookup may land in, then writes the marker,
//! performs N lookups over the 1,024 handles (round robin, reading the value under the lookup),
//! and writes the marker again. The script takes the stores between the two marker writes.
//! DESIGN: `handles` (`HandleTable::with`), `dashmap` (`DashMap::get`), `sharded-slab`
//! (`Slab::get`); the last two are the controls, whose lookups must store to shared memory.
//! Single-threaded on purpose: lackey's trace does not say which thread stored, so no other
//! thread may run during the loop.

use std::hint::black_box;
use std::ptr::addr_of_mut;

const ENTRIES: usize = 1024;

/// Written (volatile) just before and just after the loop.
static mut MARKER: u64 = 0;

fn mark(value: u64) {
    // SAFETY: single-threaded; a volatile write the trace can find by address.
    unsafe { addr_of_mut!(MARKER).write_volatile(value) };
}

/// Prints what the script needs: the marker address, the stack window of the loop and the
/// calling thread's own record (empty for the controls).
fn announce(record: std::ops::Range<usize>) {
    let frame = 0u64;
    let sp = std::ptr::from_ref(&frame).addr();
    println!("marker {:x}", addr_of_mut!(MARKER).addr());
    // The loop's frames lie below this one; 1 MiB below and 4 KiB above is generous.
    println!("stack {:x} {:x}", sp - (1 << 20), sp + 4096);
    println!("record {:x} {:x}", record.start, record.end);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let design = args.next().unwrap_or_default();
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let mut sum = 0u64;
    match design.as_str() {
        "handles" => {
            let table = handles::HandleTable::new();
            let hs: Vec<_> = (0..ENTRIES as u64).map(|i| table.insert(i)).collect();
            for h in &hs {
                sum += table.with(*h, |v| *v).unwrap();
            }
            let record = handles::thread_record_range().expect("registered");
            announce(record);
            mark(1);
            for i in 0..n {
                sum += table.with(hs[i % ENTRIES], |v| *black_box(v)).unwrap();
            }
            mark(2);
        }
        "dashmap" => {
            let map = dashmap::DashMap::new();
            for i in 0..ENTRIES as u64 {
                map.insert(i, i);
            }
            announce(0..0);
            mark(1);
            for i in 0..n {
                sum += *black_box(map.get(&((i % ENTRIES) as u64)).unwrap().value());
            }
            mark(2);
        }
        "sharded-slab" => {
            let slab = sharded_slab::Slab::new();
            let keys: Vec<usize> = (0..ENTRIES as u64)
                .map(|i| slab.insert(i).unwrap())
                .collect();
            announce(0..0);
            mark(1);
            for i in 0..n {
                sum += *black_box(&*slab.get(keys[i % ENTRIES]).unwrap());
            }
            mark(2);
        }
        _ => {
            eprintln!("usage: store_trace handles|dashmap|sharded-slab [N]");
            std::process::exit(2);
        }
    }
    println!("sum {sum}");
}
