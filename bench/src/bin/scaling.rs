//! Throughput against threads for every design and workload, in fixed-time cells.
//!
//! ```text
//! cargo run --profile bench-lto -p bench --bin scaling -- [options]
//!   --designs a,b,...     designs (default: all; see bench::designs::ALL)
//!   --workloads a,b,...   churn, take-churn, read-1k, read-1m, read-10m, read-N, read-hot, mixed
//!                         (default: all but read-10m; add it explicitly, its fill is slow)
//!   --threads 1,2,32      thread counts (default: 1, 2, 4 ... max, then 16 x cores)
//!   --write-threads LIST  thread counts for churn, take-churn and mixed (default: --threads)
//!   --max-threads N       largest power-of-two point of the default list (default: cores)
//!   --duration-ms N       length of one run of a cell (default 400)
//!   --repeats N           runs per cell; the best is kept (default 3): on a shared machine
//!                         other jobs only ever slow a run down
//!   --out PATH            TSV output (default bench/results/scaling.tsv)
//!   --svg PATH            SVG plot (default: the TSV path with .svg)
//!   --values auto|u64|arc value type of every design: auto (default) stores Arc<u64> in
//!                         churn, take-churn and mixed and u64 in the read workloads; u64 or
//!                         arc store that type in every workload (to compare the two)
//!   --quick               smoke run: 1 run of 100 ms per cell, no read-1m
//!   --replot TSV          only redraw the SVG (to --svg, default TSV with .svg; --title T)
//! ```
//! Every design's table of a workload is filled before its cells; then, per thread count, the
//! worker threads are spawned once and run the repeats round robin across designs (A run 1,
//! B run 1, ..., A run 2, ...), so a burst of background load hits every design alike. Each run
//! samples the cores other processes kept busy during it; a cell reports the highest and the
//! mean over its runs. Prints each thread count's cells as they finish; writes the TSV and the
//! SVG at the end.

use bench::designs::{ALL, Design, Value};
use bench::workload::{Cell, Prepared, Subject, Workload, run_point};
use bench::{plot, sys, with_design};
use std::sync::Arc;
use std::time::Duration;

const HELP: &str = "scaling [--designs a,b] [--workloads churn,take-churn,read-1k,read-1m,read-10m,read-N,read-hot,mixed]
        [--threads 1,2,32] [--write-threads 1,2,8,32,64] [--max-threads N] [--duration-ms 400]
        [--repeats 3] [--values auto|u64|arc] [--out bench/results/scaling.tsv] [--svg PATH] [--quick]
        | --replot TSV [--svg PATH] [--title T]
designs: handles, raw, mutex-hashmap, rwlock-hashmap, big-old-map, dashmap, sharded-slab, mutex-slotmap";

struct Options {
    designs: Vec<String>,
    workloads: Vec<Workload>,
    threads: Vec<usize>,
    write_threads: Vec<usize>,
    /// `Some(true)`: `Arc<u64>` everywhere; `Some(false)`: `u64` everywhere; `None`: by workload.
    arc_values: Option<bool>,
    duration: Duration,
    repeats: usize,
    out: String,
    svg: Option<String>,
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn counts(v: &str) -> Result<Vec<usize>, String> {
    list(v)
        .iter()
        .map(|t| t.parse().map_err(|_| format!("bad thread count {t}")))
        .collect()
}

fn options() -> Result<Options, String> {
    let cores = sys::cores();
    let mut designs: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    let mut workloads: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| *w != Workload::ReadUniform(10_000_000))
        .collect();
    let mut threads = None;
    let mut max_threads = cores;
    let mut duration = Duration::from_millis(400);
    let mut repeats = 3;
    let mut write_threads = None;
    let mut arc_values = None;
    let mut out = "bench/results/scaling.tsv".to_string();
    let mut svg = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--designs" => designs = list(&val()?),
            "--workloads" => {
                workloads = list(&val()?)
                    .iter()
                    .map(|w| Workload::parse(w).ok_or(format!("unknown workload {w}")))
                    .collect::<Result<_, _>>()?
            }
            "--threads" => threads = Some(counts(&val()?)?),
            "--write-threads" => write_threads = Some(counts(&val()?)?),
            "--values" => {
                arc_values = match val()?.as_str() {
                    "auto" => None,
                    "u64" => Some(false),
                    "arc" => Some(true),
                    v => return Err(format!("unknown --values {v}: auto, u64 or arc")),
                }
            }
            "--max-threads" => max_threads = val()?.parse().map_err(|_| "bad --max-threads")?,
            "--duration-ms" => {
                duration = Duration::from_millis(val()?.parse().map_err(|_| "bad --duration-ms")?)
            }
            "--repeats" => repeats = val()?.parse().map_err(|_| "bad --repeats")?,
            "--out" => out = val()?,
            "--svg" => svg = Some(val()?),
            "--replot" => return Err("--replot goes alone (with --svg)".into()),
            "--quick" => {
                duration = Duration::from_millis(100);
                repeats = 1;
                workloads.retain(|w| !matches!(w, Workload::ReadUniform(p) if *p > 1000));
            }
            "-h" | "--help" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    for d in &designs {
        if !ALL.contains(&d.as_str()) {
            return Err(format!("unknown design {d}; known: {}", ALL.join(",")));
        }
    }
    let threads = threads.unwrap_or_else(|| {
        let mut t = vec![];
        let mut n = 1;
        while n < max_threads {
            t.push(n);
            n *= 2;
        }
        t.push(max_threads);
        t.push(16 * cores);
        t.dedup();
        t
    });
    if repeats == 0 {
        return Err("--repeats must be at least 1".into());
    }
    let write_threads = write_threads.unwrap_or_else(|| threads.clone());
    if threads.contains(&0) || write_threads.contains(&0) {
        return Err("thread counts must be at least 1".into());
    }
    Ok(Options {
        designs,
        workloads,
        threads,
        write_threads,
        arc_values,
        duration,
        repeats,
        out,
        svg,
    })
}

/// A table of design `name` filled with `n` ids, storing `Arc<u64>` or `u64`.
fn prepare(name: &str, n: usize, arc: bool) -> Box<dyn Subject> {
    fn boxed<V: Value, D: Design<V>>(n: usize) -> Box<dyn Subject> {
        Box::new(Prepared::<V, D>::new(n))
    }
    let table = if arc {
        with_design!(name, Arc<u64>, D => boxed::<Arc<u64>, D>(n))
    } else {
        with_design!(name, u64, D => boxed::<u64, D>(n))
    };
    table.expect("checked name")
}

/// All cells of the workloads that share one prefill size and value type (`Arc<u64>` if `arc`):
/// every design's table is filled first, then each thread count runs round robin across the
/// designs.
fn run_group(o: &Options, arc: bool, size: usize, workloads: &[Workload], cells: &mut Vec<Cell>) {
    let t0 = std::time::Instant::now();
    let subjects: Vec<Box<dyn Subject>> = o.designs.iter().map(|d| prepare(d, size, arc)).collect();
    if size > 1000 {
        eprintln!(
            "  [{} designs: filled {size} ids each in {:.1} s]",
            subjects.len(),
            t0.elapsed().as_secs_f64()
        );
    }
    let refs: Vec<&dyn Subject> = subjects.iter().map(|s| &**s).collect();
    for &w in workloads {
        let threads = if w.writes() {
            &o.write_threads
        } else {
            &o.threads
        };
        for &t in threads {
            for c in run_point(&refs, w, t, o.duration, o.repeats) {
                println!(
                    "{:<15} {:<10} {:>4} thr {:>9.2} Mops/s {:>8.2} ns/op/thr {:>8.2} cpu-ns/op  load {:.2} bg max {:.2} mean {:.2} cores",
                    c.design,
                    c.workload,
                    c.threads,
                    c.mops(),
                    c.ns_per_op_thread(),
                    c.cpu_ns_per_op(),
                    c.load1,
                    c.background_cores,
                    c.background_cores_mean
                );
                cells.push(c);
            }
        }
    }
}

/// Runs every workload of `o`, grouped by prefill size and value type, and returns the cells
/// in the order of `o.workloads`, then `o.designs`, then thread count.
fn run_all(o: &Options) -> Vec<Cell> {
    let arc = |w: &Workload| o.arc_values.unwrap_or(w.writes());
    let mut groups: Vec<(bool, usize)> =
        o.workloads.iter().map(|w| (arc(w), w.prefill())).collect();
    groups.sort_unstable();
    groups.dedup();
    let mut cells = Vec::new();
    for (arc_group, size) in groups {
        let ws: Vec<Workload> = o
            .workloads
            .iter()
            .copied()
            .filter(|w| (arc(w), w.prefill()) == (arc_group, size))
            .collect();
        run_group(o, arc_group, size, &ws, &mut cells);
    }
    let pos = |c: &Cell| {
        let w = o.workloads.iter().position(|w| w.name() == c.workload);
        let d = o.designs.iter().position(|d| *d == c.design);
        (w, d, c.threads)
    };
    cells.sort_by_key(pos);
    cells
}

/// Redraws the SVG of a TSV written earlier (`--title` sets its title).
fn replot(tsv: &str, svg: &str, args: &[String]) -> Result<(), String> {
    let text = std::fs::read_to_string(tsv).map_err(|e| format!("{tsv}: {e}"))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty TSV")?.split('\t').collect();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| *h == n)
            .ok_or(format!("no column {n}"))
    };
    let (d, w, t, m) = (
        col("design")?,
        col("workload")?,
        col("threads")?,
        col("mops")?,
    );
    let mut points = Vec::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = l.split('\t').collect();
        let threads = f.get(t).and_then(|x| x.parse().ok()).ok_or("bad threads")?;
        let mops = f.get(m).and_then(|x| x.parse().ok()).ok_or("bad mops")?;
        points.push((f[d].to_string(), f[w].to_string(), threads, mops));
    }
    let title = match args.iter().position(|a| a == "--title") {
        Some(j) => args.get(j + 1).cloned().unwrap_or_default(),
        None => format!("throughput vs threads ({} cores)", sys::cores()),
    };
    plot::throughput_svg(&points, &title, svg)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--replot") {
        let tsv = args.get(i + 1).cloned().unwrap_or_default();
        let svg = match args.iter().position(|a| a == "--svg") {
            Some(j) => args.get(j + 1).cloned().unwrap_or_default(),
            None => tsv.trim_end_matches(".tsv").to_string() + ".svg",
        };
        if let Err(e) = replot(&tsv, &svg, &args) {
            eprintln!("scaling: {e}");
            std::process::exit(1);
        }
        println!("wrote {svg}");
        return;
    }
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("scaling: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "scaling: {} cores, threads {:?} (churn, take-churn, mixed: {:?}), cells: best of {} runs of {} ms, round robin across designs",
        sys::cores(),
        o.threads,
        o.write_threads,
        o.repeats,
        o.duration.as_millis()
    );
    let cells = run_all(&o);
    if let Some(dir) = std::path::Path::new(&o.out).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut tsv = String::from(Cell::TSV_HEADER);
    tsv.push('\n');
    for c in &cells {
        tsv.push_str(&c.tsv());
        tsv.push('\n');
    }
    std::fs::write(&o.out, tsv).expect("write TSV");
    let svg = o
        .svg
        .clone()
        .unwrap_or_else(|| o.out.trim_end_matches(".tsv").to_string() + ".svg");
    let points: Vec<plot::Point> = cells
        .iter()
        .map(|c| (c.design.clone(), c.workload.clone(), c.threads, c.mops()))
        .collect();
    let title = format!(
        "throughput vs threads ({} cores; each point the best of {} interleaved runs of {} ms)",
        sys::cores(),
        o.repeats,
        o.duration.as_millis()
    );
    match plot::throughput_svg(&points, &title, &svg) {
        Ok(()) => println!("wrote {} and {svg}", o.out),
        Err(e) => {
            eprintln!("scaling: plot failed: {e}");
            std::process::exit(1);
        }
    }
}
