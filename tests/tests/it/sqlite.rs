//! SQLite as a real client of the callback registry: Rust scalar and aggregate functions registered on one
//! connection per thread, with a callback handle as `pApp` and a destroy-notify as `xDestroy`.
//!
//! Sizes: `HANDLES_SQLITE_ROUNDS` queries per thread (default 3) over `HANDLES_SQLITE_ROWS`
//! rows (default 100,000); each row makes two Rust calls (scalar + aggregate step). The
//! defaults make 2.4 million calls from 4 threads. `scripts/c-tests.sh` runs a small size
//! under valgrind.

use handles::callback::{self, Callback};
use handles_tests::sqlite::{Aggregate, Connection, DESTROYS};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const THREADS: usize = 4;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The two tests count SQLite's `xDestroy` calls in one global: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// `rsumsq(x)`: sum of squares, counting its calls.
struct SumOfSquares {
    steps: AtomicUsize,
    _drops: DropCount,
}

impl Aggregate for SumOfSquares {
    fn step(&self, state: &mut i64, args: &[i64]) {
        self.steps.fetch_add(1, Ordering::Relaxed);
        *state += args[0] * args[0];
    }

    fn finish(&self, state: i64) -> i64 {
        state
    }
}

fn query(rows: usize) -> String {
    format!(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT {rows}) \
         SELECT sum(rmul(x, 3)), rsumsq(x % 1000) FROM c"
    )
}

fn expected(rows: usize) -> Vec<Vec<i64>> {
    let n = rows as i64;
    let sum_sq: i64 = (1..=n).map(|x| (x % 1000) * (x % 1000)).sum();
    vec![vec![3 * n * (n + 1) / 2, sum_sq]]
}

/// The scalar function's closure type (boxed, so the struct below can name it).
type Scalar = Box<dyn Fn(&[i64]) -> i64 + Send + Sync>;

struct Registered {
    scalar: Callback<Scalar>,
    aggregate: Callback<SumOfSquares>,
    scalar_calls: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
}

fn register() -> Registered {
    let scalar_calls = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (calls, token) = (scalar_calls.clone(), DropCount(drops.clone()));
    let scalar: Scalar = Box::new(move |args: &[i64]| {
        let _keep = &token;
        calls.fetch_add(1, Ordering::Relaxed);
        args[0] * args[1]
    });
    Registered {
        scalar: Callback::new(scalar),
        aggregate: Callback::new(SumOfSquares {
            steps: AtomicUsize::new(0),
            _drops: DropCount(drops.clone()),
        }),
        scalar_calls,
        drops,
    }
}

fn connect(r: &Registered) -> Connection {
    let db = Connection::open_in_memory();
    db.create_scalar(c"rmul", 2, &r.scalar);
    db.create_aggregate(c"rsumsq", 1, &r.aggregate);
    db
}

#[test]
fn functions_serve_queries_from_many_threads() {
    test_support::not_alone();
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rounds = env("HANDLES_SQLITE_ROUNDS", 3);
    let rows = env("HANDLES_SQLITE_ROWS", 100_000);
    let destroys_before = DESTROYS.load(Ordering::SeqCst);
    let r = register();
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            let r = &r;
            s.spawn(move || {
                let db = connect(r);
                for _ in 0..rounds {
                    assert_eq!(db.query(&query(rows)), Ok(expected(rows)));
                }
            });
        }
    });
    // Every connection closed: one xDestroy per registration.
    assert_eq!(
        DESTROYS.load(Ordering::SeqCst) - destroys_before,
        2 * THREADS
    );
    let calls = THREADS * rounds * rows;
    assert_eq!(r.scalar_calls.load(Ordering::Relaxed), calls);
    // Read the aggregate's counter through the registry (a scoped lookup).
    let steps = callback::invoke(r.aggregate.user_data(), |a: &SumOfSquares| {
        a.steps.load(Ordering::Relaxed)
    });
    assert_eq!(steps, Ok(calls));
    println!("{} Rust calls from SQLite on {THREADS} threads", 2 * calls);

    let drops = r.drops.clone();
    drop(r);
    callback::flush();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "each closure dropped exactly once"
    );
}

#[test]
fn revoking_a_function_mid_query_is_a_clean_sql_error() {
    test_support::not_alone();
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rows = env("HANDLES_SQLITE_ROWS", 100_000).min(20_000);
    let destroys_before = DESTROYS.load(Ordering::SeqCst);
    let r = register();
    let started = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (ok, failed) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let (r, started, stop) = (&r, &started, &stop);
                s.spawn(move || {
                    let db = connect(r);
                    let (mut ok, mut failed, mut after_stop) = (0, 0, 0);
                    started.fetch_add(1, Ordering::SeqCst);
                    // Query until revoked, then a few more times: the error must persist.
                    while failed < 3 {
                        match db.query(&query(rows)) {
                            Ok(result) => {
                                assert_eq!(failed, 0, "a query succeeded after the revoke");
                                assert_eq!(result, expected(rows));
                                ok += 1;
                            }
                            Err(message) => {
                                assert!(
                                    message.starts_with("handles: callback not callable: stale"),
                                    "unexpected error: {message}"
                                );
                                failed += 1;
                            }
                        }
                        // The revoke happens before `stop` is set, so every query that starts
                        // after this thread sees `stop` must fail.
                        if stop.load(Ordering::SeqCst) {
                            after_stop += 1;
                            assert!(after_stop <= 4, "revoke never took effect");
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        while started.load(Ordering::SeqCst) < THREADS {
            std::thread::yield_now();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        // Revoke both functions while queries run on every connection.
        let drops = r.drops.clone();
        let Registered {
            scalar, aggregate, ..
        } = &r;
        callback::revoke(scalar.handle()).unwrap();
        callback::revoke(aggregate.handle()).unwrap();
        stop.store(true, Ordering::SeqCst);
        let totals = workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
        callback::flush();
        // The connections were closed at the end of each worker: xDestroy released SQLite's
        // references, and the revoke released ours, so both closures are gone.
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        totals
    });
    assert_eq!(
        DESTROYS.load(Ordering::SeqCst) - destroys_before,
        2 * THREADS
    );
    assert_eq!(failed, 3 * THREADS);
    println!("{ok} queries before the revoke, {failed} clean SQL errors after it");
    // Dropping the (already revoked) registrations is a no-op.
    drop(r);
    callback::flush();
}
