//! The handles demo (README's first command: `cargo run --release -p demo`).
//!
//! This binary is a Rust library plus the C program that uses it. The Rust side keeps
//! "sensors" in a typed static [`HandleTable`] and exports `extern "C"` entry points that take
//! their handles; it registers a closure as a callback whose handle travels as
//! `void *user_data`. The C side (`examples/c/demo.c`, compiled by `build.rs` together
//! with the C thread pool `examples/c/pool.c`) holds the handles, calls in from several
//! threads, runs the callback from its pool, and checks that misuse is a clean error (stale
//! and double-freed handles, a C object looked up with the wrong type tag). For comparison,
//! the same reads run through raw pointers and a "big old map".
//!
//! Options: `--threads N` (default: the number of cores), `--calls N` (per design, default
//! 20,000,000).

use core::ffi::{c_int, c_void};
use handles::callback::{self, Callback};
use handles::{HandleTable, ffi};
use hdl::HdlStatus;
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes a read copies (the seed-004 task: a callback that copies 32 bytes).
const READING: usize = 32;

/// A Rust object that C holds by handle.
pub struct Sensor {
    id: u32,
    reading: [u8; READING],
}

impl Sensor {
    fn new(id: u32) -> Sensor {
        let mut reading = [0u8; READING];
        for (k, b) in reading.iter_mut().enumerate() {
            *b = (id as usize * 31 + k * 7) as u8;
        }
        Sensor { id, reading }
    }
}

// ---- The Rust library's C entry points: handles ------------------------------------------

static SENSORS: HandleTable<Sensor> = HandleTable::new();

handles::entry_points! {
    table: SENSORS, status: HdlStatus;
    /// `uint64_t sensor_new(uint32_t id)`: a new sensor's handle, or 0 if the table is full.
    new sensor_new(id: u32) = Sensor::new(id);
    /// `hdl_status sensor_free(uint64_t sensor)`: revokes the handle.
    revoke sensor_free;
}

/// `hdl_status sensor_read(uint64_t sensor, uint8_t out[32])`: copies the sensor's reading.
/// A scoped lookup: no shared write, so every core can read at full speed.
#[unsafe(no_mangle)]
pub extern "C" fn sensor_read(sensor: u64, out: Option<&mut [u8; READING]>) -> HdlStatus {
    ffi::lookup_into(&SENSORS, sensor, out, |s| s.reading)
}

// ---- Baseline 1: raw pointers (the unchecked floor) --------------------------------------

/// `const void *sensor_raw_new(uint32_t id)`.
#[unsafe(no_mangle)]
pub extern "C" fn sensor_raw_new(id: u32) -> *const c_void {
    std::sync::Arc::into_raw(std::sync::Arc::new(Sensor::new(id))).cast()
}

/// `void sensor_raw_read(const void *sensor, uint8_t out[32])`: no check at all.
///
/// # Safety
/// `sensor` must come from `sensor_raw_new` and not be freed; `out` must have room for 32 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sensor_raw_read(sensor: *const c_void, out: *mut u8) {
    // SAFETY: the caller's promise (this is exactly the trust handles remove).
    unsafe {
        let s = &*sensor.cast::<Sensor>();
        core::ptr::copy_nonoverlapping(s.reading.as_ptr(), out, READING);
    }
}

/// `void sensor_raw_free(const void *sensor)`.
///
/// # Safety
/// `sensor` must come from `sensor_raw_new` and be freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sensor_raw_free(sensor: *const c_void) {
    // SAFETY: the caller's promise.
    drop(unsafe { std::sync::Arc::from_raw(sensor.cast::<Sensor>()) });
}

// ---- Baseline 2: the "big old map" (seed 002): 64 RwLock<HashMap> shards, one counter ----

const MAP_SHARDS: usize = 64;
static MAP: [RwLock<Option<HashMap<u64, Sensor>>>; MAP_SHARDS] =
    [const { RwLock::new(None) }; MAP_SHARDS];
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// `uint64_t sensor_map_new(uint32_t id)`.
#[unsafe(no_mangle)]
pub extern "C" fn sensor_map_new(id: u32) -> u64 {
    let key = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut shard = MAP[key as usize % MAP_SHARDS]
        .write()
        .unwrap_or_else(|e| e.into_inner());
    shard
        .get_or_insert_with(HashMap::new)
        .insert(key, Sensor::new(id));
    key
}

/// `hdl_status sensor_map_read(uint64_t id, uint8_t out[32])`.
///
/// # Safety
/// `out` must be valid for writing 32 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sensor_map_read(key: u64, out: *mut u8) -> HdlStatus {
    let shard = MAP[key as usize % MAP_SHARDS]
        .read()
        .unwrap_or_else(|e| e.into_inner());
    match shard.as_ref().and_then(|m| m.get(&key)) {
        Some(s) => {
            // SAFETY: the caller promises room for 32 bytes; `s` is alive under the read lock.
            unsafe { core::ptr::copy_nonoverlapping(s.reading.as_ptr(), out, READING) };
            HdlStatus::Ok
        }
        None => HdlStatus::Stale,
    }
}

/// `void sensor_map_free(uint64_t id)`.
#[unsafe(no_mangle)]
pub extern "C" fn sensor_map_free(key: u64) {
    let mut shard = MAP[key as usize % MAP_SHARDS]
        .write()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(m) = shard.as_mut() {
        m.remove(&key);
    }
}

// ---- The C program ------------------------------------------------------------------------

/// `struct demo_config` (examples/c/demo.h).
#[repr(C)]
struct DemoConfig {
    threads: c_int,
    calls: core::ffi::c_long,
    on_reading: extern "C" fn(*mut c_void, u64) -> i32,
    on_reading_data: *mut c_void,
    on_reading_destroy: extern "C" fn(*mut c_void),
}

unsafe extern "C" {
    /// The C program (examples/c/demo.c); 0 when every check passed.
    fn demo_main(config: *const DemoConfig) -> c_int;
}

fn parse_args() -> Result<(usize, u64), String> {
    let mut threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut calls = 20_000_000u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|&v| v > 0)
                .ok_or(format!("{name} needs a positive number"))
        };
        match arg.as_str() {
            "--threads" => threads = value("--threads")? as usize,
            "--calls" => calls = value("--calls")?,
            "-h" | "--help" => {
                return Err("usage: demo [--threads N] [--calls N-per-design]".into());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok((threads.min(1024), calls))
}

fn main() -> ExitCode {
    let (threads, calls) = match parse_args() {
        Ok(v) => v,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };

    // A Rust closure registered as a callback. C gets the trampoline, the handle as
    // user_data, and the destroy-notify; the closure looks the sensor up by handle in turn.
    let on_reading = Callback::new(|sensor: u64| -> i32 {
        ffi::with(&SENSORS, sensor, |s| s.id as i32).unwrap_or(-1)
    });
    let config = DemoConfig {
        threads: threads as c_int,
        calls: calls as core::ffi::c_long,
        on_reading: on_reading.trampoline1(),
        // The registration goes to C, which lets go of it through on_reading_destroy.
        on_reading_data: on_reading.into_user_data(),
        on_reading_destroy: callback::destroy_notify,
    };

    // SAFETY: `config` is a valid demo_config for the duration of the call; every function
    // pointer in it matches its C declaration in examples/c/demo.h.
    let status = unsafe { demo_main(&config) };

    // Everything C freed is dropped now; nothing is left in the tables.
    SENSORS.flush();
    callback::flush();
    let left = (SENSORS.len(), callback::registered());
    println!(
        "Rust side: {} sensors and {} callbacks left registered after the C program's cleanup.",
        left.0, left.1
    );
    if status == 0 && left == (0, 0) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
