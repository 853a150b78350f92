//! Throughput against threads for every design and workload, in fixed-time cells.
//!
//! ```text
//! cargo run --release -p bench --bin scaling -- [options]
//!   --designs a,b,...     designs (default: all; see bench::designs::ALL)
//!   --workloads a,b,...   churn, read-1k, read-1m, read-10m, read-N, read-hot, mixed
//!                         (default: all but read-10m; add it explicitly, its fill is slow)
//!   --threads 1,2,32      thread counts (default: 1, 2, 4 ... max, then 16 x cores)
//!   --max-threads N       largest power-of-two point of the default list (default: cores)
//!   --duration-ms N       length of one run of a cell (default 400)
//!   --repeats N           runs per cell; the best is kept (default 3): on a shared machine
//!                         other jobs only ever slow a run down
//!   --sample-ms N         background-load sample before each cell (default 100)
//!   --out PATH            TSV output (default bench/results/scaling.tsv)
//!   --svg PATH            SVG plot (default: the TSV path with .svg)
//!   --quick               smoke run: 1 run of 100 ms per cell, 20 ms samples, no read-1m
//!   --replot TSV          only redraw the SVG (to --svg, default TSV with .svg; --title T)
//! ```
//! Prints each cell as it finishes; writes the TSV and the SVG at the end.

use bench::designs::{ALL, Design};
use bench::workload::{Cell, Workload, drain, fill, run_cell};
use bench::{plot, sys, with_design};
use std::time::Duration;

const HELP: &str = "scaling [--designs a,b] [--workloads churn,read-1k,read-1m,read-10m,read-N,read-hot,mixed]
        [--threads 1,2,32] [--max-threads N] [--duration-ms 400] [--repeats 3] [--sample-ms 100]
        [--out bench/results/scaling.tsv] [--svg PATH] [--quick] | --replot TSV [--svg PATH] [--title T]
designs: handles, raw, mutex-hashmap, rwlock-hashmap, big-old-map, dashmap, sharded-slab, mutex-slotmap";

struct Options {
    designs: Vec<String>,
    workloads: Vec<Workload>,
    threads: Vec<usize>,
    duration: Duration,
    repeats: usize,
    sample: Duration,
    out: String,
    svg: Option<String>,
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
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
    let mut sample = Duration::from_millis(100);
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
            "--threads" => {
                threads = Some(
                    list(&val()?)
                        .iter()
                        .map(|t| t.parse().map_err(|_| format!("bad thread count {t}")))
                        .collect::<Result<Vec<usize>, _>>()?,
                )
            }
            "--max-threads" => max_threads = val()?.parse().map_err(|_| "bad --max-threads")?,
            "--duration-ms" => {
                duration = Duration::from_millis(val()?.parse().map_err(|_| "bad --duration-ms")?)
            }
            "--repeats" => repeats = val()?.parse().map_err(|_| "bad --repeats")?,
            "--sample-ms" => {
                sample = Duration::from_millis(val()?.parse().map_err(|_| "bad --sample-ms")?)
            }
            "--out" => out = val()?,
            "--svg" => svg = Some(val()?),
            "--replot" => return Err("--replot goes alone (with --svg)".into()),
            "--quick" => {
                duration = Duration::from_millis(100);
                repeats = 1;
                sample = Duration::from_millis(20);
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
    Ok(Options {
        designs,
        workloads,
        threads,
        duration,
        repeats,
        sample,
        out,
        svg,
    })
}

/// All cells of one design: one table per prefill size, filled once and reused.
fn run_design<D: Design>(o: &Options, cells: &mut Vec<Cell>) {
    let mut sizes: Vec<usize> = o.workloads.iter().map(|w| w.prefill()).collect();
    sizes.sort_unstable();
    sizes.dedup();
    for size in sizes {
        let table = Box::new(D::create());
        let t0 = std::time::Instant::now();
        let ids = fill(&*table, size);
        let fill_s = t0.elapsed().as_secs_f64();
        if size > 1000 {
            eprintln!("  [{}: filled {size} ids in {fill_s:.1} s]", D::NAME);
        }
        for &w in o.workloads.iter().filter(|w| w.prefill() == size) {
            for &t in &o.threads {
                let mut c = run_cell(&*table, &ids, w, t, o.duration, o.sample);
                for _ in 1..o.repeats {
                    let again = run_cell(&*table, &ids, w, t, o.duration, Duration::ZERO);
                    if again.mops() > c.mops() {
                        // Keep the load figures sampled before the first run.
                        c = Cell {
                            load1: c.load1,
                            background_cores: c.background_cores,
                            ..again
                        };
                    }
                }
                println!(
                    "{:<15} {:<9} {:>4} thr {:>9.2} Mops/s {:>8.2} ns/op/thr {:>8.2} cpu-ns/op  load {:.2} bg {:.2} cores",
                    c.design,
                    c.workload,
                    c.threads,
                    c.mops(),
                    c.ns_per_op_thread(),
                    c.cpu_ns_per_op(),
                    c.load1,
                    c.background_cores
                );
                cells.push(c);
            }
        }
        drain(&*table, &ids);
    }
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
        "scaling: {} cores, threads {:?}, cells: best of {} runs of {} ms",
        sys::cores(),
        o.threads,
        o.repeats,
        o.duration.as_millis()
    );
    let mut cells = Vec::new();
    for d in &o.designs {
        with_design!(d.as_str(), D => run_design::<D>(&o, &mut cells)).expect("checked name");
    }
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
        "throughput vs threads ({} cores; each point the best of {} runs of {} ms)",
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
