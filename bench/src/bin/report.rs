//! Writes BENCHMARKS.md from the result files `scripts/benchmarks.sh` leaves in a results
//! directory: machine.tsv, callgrind.tsv, criterion.tsv, scaling.tsv (+ scaling.svg),
//! memory.tsv, c_calls.tsv, seed004.tsv, barriers.tsv, reclaim_latency.tsv and the
//! hand-written texts bench/notes.md (notes on the verdicts) and bench/baselines.md (how each
//! baseline is used, the values, the build, the method).
//!
//! ```text
//! cargo run --release -p bench --bin report -- [--results DIR] [--out PATH] [--svg-link PATH]
//!     [--notes bench/notes.md] [--baselines bench/baselines.md]
//! ```
//! Missing files leave their section saying so; every verdict is computed from the data.

use std::fmt::Write as _;

/// A TSV file: header names and rows.
struct Tsv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Tsv {
    fn load(path: &str) -> Option<Tsv> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = lines.next()?.split('\t').map(str::to_string).collect();
        let rows = lines
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        Some(Tsv { header, rows })
    }
    fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }
    /// Value of column `name` in the first row whose columns match all `keys`.
    fn get(&self, keys: &[(&str, &str)], name: &str) -> Option<String> {
        let c = self.col(name)?;
        let idx: Vec<(usize, &str)> = keys
            .iter()
            .map(|(k, v)| Some((self.col(k)?, *v)))
            .collect::<Option<_>>()?;
        self.rows
            .iter()
            .find(|r| {
                idx.iter()
                    .all(|(i, v)| r.get(*i).map(String::as_str) == Some(*v))
            })
            .and_then(|r| r.get(c).cloned())
    }
    fn num(&self, keys: &[(&str, &str)], name: &str) -> Option<f64> {
        self.get(keys, name)?.parse().ok()
    }
    /// Distinct values of column `name`, in first-seen order.
    fn distinct(&self, name: &str) -> Vec<String> {
        let Some(c) = self.col(name) else {
            return vec![];
        };
        let mut out: Vec<String> = Vec::new();
        for r in &self.rows {
            if let Some(v) = r.get(c)
                && !out.contains(v)
            {
                out.push(v.clone());
            }
        }
        out
    }
    /// Markdown table of the whole file (header row as is).
    fn markdown(&self) -> String {
        let mut s = format!("| {} |\n|", self.header.join(" | "));
        for (i, _) in self.header.iter().enumerate() {
            s.push_str(if i == 0 { "---|" } else { "---:|" });
        }
        s.push('\n');
        for r in &self.rows {
            let _ = writeln!(s, "| {} |", r.join(" | "));
        }
        s
    }
}

/// Keys of one scaling cell.
fn cell_key<'a>(d: &'a str, w: &'a str, t: &'a str) -> [(&'static str, &'a str); 3] {
    [("design", d), ("workload", w), ("threads", t)]
}

/// One performance target and what the data says about it.
struct Verdict {
    target: String,
    figure: String,
    met: Option<bool>,
    /// Why a miss may not be the design's: the machine was busy with other jobs.
    busy: Option<String>,
}

fn verdict(target: &str, figure: String, met: Option<bool>) -> Verdict {
    Verdict {
        target: target.into(),
        figure,
        met,
        busy: None,
    }
}

/// Cores other jobs kept busy during the given scaling cell of handles (the most over its
/// runs), if 0.5 or more.
fn busy_note(s: &Tsv, w: &str, t: &str) -> Option<String> {
    let bg = s.num(&cell_key("handles", w, t), "background_cores")?;
    (bg >= 0.5).then(|| {
        format!("other jobs kept up to {bg:.1} cores busy during the {t}-thread cell's runs")
    })
}

const BASELINES: [&str; 6] = [
    "mutex-hashmap",
    "rwlock-hashmap",
    "big-old-map",
    "dashmap",
    "sharded-slab",
    "mutex-slotmap",
];

/// Best baseline (not raw, not handles) Mops/s at `threads` for `workload`: (name, Mops/s).
fn best_baseline(s: &Tsv, workload: &str, threads: &str) -> Option<(String, f64)> {
    BASELINES
        .iter()
        .filter_map(|d| {
            let m = s.num(
                &[("design", d), ("workload", workload), ("threads", threads)],
                "mops",
            )?;
            Some((d.to_string(), m))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Heavy barriers per 10^6 ended entries (`barriers.tsv`) and reclamation latency
/// (`reclaim_latency.tsv`).
fn reclamation_verdicts(barriers: Option<&Tsv>, latency: Option<&Tsv>, v: &mut Vec<Verdict>) {
    match barriers {
        Some(b) => {
            let per = |t: &str| b.num(&[("threads", t)], "per_million_ended");
            let threads = b.distinct("threads");
            let text = threads
                .iter()
                .filter_map(|t| Some(format!("{t} thr: {:.0}", per(t)?)))
                .collect::<Vec<_>>()
                .join(", ");
            let one = per("1");
            let worst = threads.iter().filter_map(|t| per(t)).fold(0.0f64, f64::max);
            v.push(verdict(
                "≤ 1,000 heavy barriers per 10^6 ended entries at 1 thread, and no more with more threads",
                format!("{text} (per 10^6 ended entries)"),
                one.map(|o| o <= 1000.0 && worst <= 1000f64.max(o)),
            ));
        }
        None => v.push(verdict(
            "heavy barriers per 10^6 ended entries",
            "not measured".into(),
            None,
        )),
    }
    match latency {
        Some(l) => {
            let get = |what: &str, policy: &str, col: &str| {
                l.num(&[("what", what), ("policy", policy)], col)
            };
            match get("revoke (2-thread churn)", "background", "p99.9_ns") {
                Some(p) => v.push(verdict(
                    "revoke p99.9 ≤ 5 µs under 2-thread churn (background policy)",
                    format!(
                        "{p:.0} ns (caller policy {:.0} ns, explicit {:.0} ns)",
                        get("revoke (2-thread churn)", "caller", "p99.9_ns").unwrap_or(f64::NAN),
                        get("revoke (2-thread churn)", "explicit", "p99.9_ns").unwrap_or(f64::NAN)
                    ),
                    Some(p <= 5000.0),
                )),
                None => v.push(verdict("revoke latency", "not measured".into(), None)),
            }
            match get("drop after end (idle)", "background", "max_ns") {
                Some(max) => v.push(verdict(
                    "an ended value is dropped ≤ 10 ms after its end with the program idle",
                    format!(
                        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (background policy)",
                        get("drop after end (idle)", "background", "p50_ns").unwrap_or(f64::NAN)
                            / 1e6,
                        get("drop after end (idle)", "background", "p99_ns").unwrap_or(f64::NAN)
                            / 1e6,
                        max / 1e6
                    ),
                    Some(max <= 10e6),
                )),
                None => v.push(verdict("idle drop latency", "not measured".into(), None)),
            }
        }
        None => v.push(verdict("reclamation latency", "not measured".into(), None)),
    }
}

fn scaling_verdicts(s: &Tsv, v: &mut Vec<Verdict>) {
    let mops = |d: &str, w: &str, t: &str| {
        s.num(&[("design", d), ("workload", w), ("threads", t)], "mops")
    };
    for (w, speedup, vs_best) in [
        ("read-1k", 1.8, 5.0),
        ("read-hot", 1.8, 5.0),
        ("churn", 1.7, 2.0),
    ] {
        let (one, two) = (mops("handles", w, "1"), mops("handles", w, "2"));
        let cpu = |d: &str, t: &str| s.num(&cell_key(d, w, t), "cpu_ns_per_op");
        match (one, two) {
            (Some(one), Some(two)) => {
                let r = two / one;
                let cpu_text = match (cpu("handles", "1"), cpu("handles", "2")) {
                    (Some(a), Some(b)) => format!("; CPU ns/op {a:.1} → {b:.1}"),
                    _ => String::new(),
                };
                let mut x = verdict(
                    &format!("{w}: ≥ {speedup}× from 1 to 2 threads"),
                    format!("{one:.1} → {two:.1} Mops/s = {r:.2}×{cpu_text}"),
                    Some(r >= speedup),
                );
                x.busy = busy_note(s, w, "2");
                v.push(x);
                if let Some((b, bm)) = best_baseline(s, w, "2") {
                    let r = two / bm;
                    let cpu_text = match (cpu("handles", "2"), cpu(&b, "2")) {
                        (Some(a), Some(c)) => {
                            format!("; CPU ns/op {a:.1} vs {c:.1} = {:.2}×", c / a)
                        }
                        _ => String::new(),
                    };
                    let mut x = verdict(
                        &format!("{w}: ≥ {vs_best}× the best baseline at 2 threads"),
                        format!("{two:.1} vs {b} {bm:.1} Mops/s = {r:.2}×{cpu_text}"),
                        Some(r >= vs_best),
                    );
                    x.busy = busy_note(s, w, "2");
                    v.push(x);
                }
            }
            _ => v.push(verdict(
                &format!("{w} scaling 1 → 2 threads"),
                "not measured".into(),
                None,
            )),
        }
    }
    // take-churn within 2× of churn, at 1 and 2 threads.
    let pairs: Vec<(String, f64)> = ["1", "2"]
        .iter()
        .filter_map(|t| {
            let (c, k) = (
                mops("handles", "churn", t)?,
                mops("handles", "take-churn", t)?,
            );
            Some((
                format!("{t} thr: {k:.1} vs {c:.1} Mops/s = {:.2}×", k / c),
                k / c,
            ))
        })
        .collect();
    if pairs.len() == 2 {
        let ok = pairs.iter().all(|(_, r)| *r >= 0.5);
        let text = pairs
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let mut x = verdict(
            "take-churn within 2× of churn at 1 and 2 threads",
            text,
            Some(ok),
        );
        x.busy = busy_note(s, "take-churn", "2");
        v.push(x);
    } else {
        v.push(verdict(
            "take-churn within 2× of churn",
            "not measured".into(),
            None,
        ));
    }
    // churn and mixed ≥ 2× sharded-slab at 2 threads (same values, interleaved runs).
    for w in ["churn", "mixed"] {
        let cpu = |d: &str| s.num(&cell_key(d, w, "2"), "cpu_ns_per_op");
        match (mops("handles", w, "2"), mops("sharded-slab", w, "2")) {
            (Some(h), Some(ss)) => {
                let cpu_text = match (cpu("handles"), cpu("sharded-slab")) {
                    (Some(a), Some(c)) => format!("; CPU ns/op {a:.1} vs {c:.1} = {:.2}×", c / a),
                    _ => String::new(),
                };
                let mut x = verdict(
                    &format!("{w}: ≥ 2× sharded-slab at 2 threads"),
                    format!("{h:.1} vs {ss:.1} Mops/s = {:.2}×{cpu_text}", h / ss),
                    Some(h / ss >= 2.0),
                );
                x.busy = busy_note(s, w, "2");
                v.push(x);
            }
            _ => v.push(verdict(
                &format!("{w} vs sharded-slab"),
                "not measured".into(),
                None,
            )),
        }
    }
    let ns = |d: &str| {
        s.num(
            &[("design", d), ("workload", "read-1m"), ("threads", "1")],
            "ns_per_op_thread",
        )
    };
    let cpu1m = |d: &str| s.num(&cell_key(d, "read-1m", "1"), "cpu_ns_per_op");
    match (ns("handles"), ns("raw")) {
        (Some(h), Some(r)) => {
            let cpu_text = match (cpu1m("handles"), cpu1m("raw")) {
                (Some(a), Some(b)) => format!("; CPU ns/op {a:.1} vs {b:.1} = {:.2}×", a / b),
                _ => String::new(),
            };
            v.push(verdict(
                "random lookups over 10^6 live handles ≤ 1.5× raw-pointer time",
                format!(
                    "{h:.1} ns vs raw {r:.1} ns = {:.2}× (1 thread){cpu_text}",
                    h / r
                ),
                Some(h / r <= 1.5),
            ))
        }
        _ => v.push(verdict(
            "random lookups over 10^6 ≤ 1.5× raw",
            "not measured".into(),
            None,
        )),
    }
    v.push(verdict(
        "16 cores: lookups ≥ 14×, churn ≥ 12×, ≥ 3× best baseline",
        "not measured: no 16-core machine was lent to this session".into(),
        None,
    ));
    // Oversubscription: the largest thread count against the all-cores point.
    let threads: Vec<usize> = s
        .distinct("threads")
        .iter()
        .filter_map(|t| t.parse().ok())
        .collect();
    let cores: usize = threads
        .iter()
        .copied()
        .filter(|&t| t > 1)
        .min()
        .unwrap_or(2);
    // 16 × cores where measured (the read workloads stop there; churn goes further).
    let over = if threads.contains(&(16 * cores)) {
        16 * cores
    } else {
        threads.iter().copied().max().unwrap_or(0)
    };
    if over > cores {
        let mut parts = vec![];
        let mut worst = f64::INFINITY;
        for w in ["read-1k", "read-hot", "churn"] {
            if let (Some(a), Some(o)) = (
                mops("handles", w, &cores.to_string()),
                mops("handles", w, &over.to_string()),
            ) {
                worst = worst.min(o / a);
                parts.push(format!("{w} {:.0}%", o / a * 100.0));
            }
        }
        if !parts.is_empty() {
            let mut x = verdict(
                "oversubscribed (16× cores) ≥ 90% of the all-cores figure",
                format!(
                    "{over} vs {cores} threads on {cores} cores (not 16): {}",
                    parts.join(", ")
                ),
                Some(worst >= 0.9),
            );
            x.busy = busy_note(s, "read-1k", &over.to_string());
            v.push(x);
        }
    }
}

/// Thread counts measured for workload `w`, in increasing order.
fn workload_threads(s: &Tsv, w: &str) -> Vec<String> {
    let (Some(wc), Some(tc)) = (s.col("workload"), s.col("threads")) else {
        return vec![];
    };
    let mut t: Vec<usize> = s
        .rows
        .iter()
        .filter(|r| r.get(wc).map(String::as_str) == Some(w))
        .filter_map(|r| r.get(tc)?.parse().ok())
        .collect();
    t.sort_unstable();
    t.dedup();
    t.iter().map(usize::to_string).collect()
}

/// One workload's table: Mops/s per design and thread count with the cell's background load,
/// the 1 → 2 thread ratio, CPU ns/op at 1 and 2 threads, and handles ÷ sharded-slab per thread
/// count.
fn scaling_table(s: &Tsv, w: &str, md: &mut String) {
    let threads = workload_threads(s, w);
    let value = s
        .get(&[("workload", w)], "value")
        .map_or(String::new(), |v| format!("values `{v}`; "));
    let _ = writeln!(
        md,
        "### {w} ({value}Mops/s; in brackets the most cores other processes kept busy during one of the cell's runs)\n"
    );
    let _ = write!(md, "| design |");
    for t in &threads {
        let _ = write!(md, " {t} thr |");
    }
    md.push_str(" 1 → 2 | CPU ns/op at 1 / 2 thr |\n|---|");
    for _ in &threads {
        md.push_str("---:|");
    }
    md.push_str("---:|---:|\n");
    let num = |d: &str, t: &str, col: &str| s.num(&cell_key(d, w, t), col);
    for d in s.distinct("design") {
        if threads.iter().all(|t| num(&d, t, "mops").is_none()) {
            continue;
        }
        let _ = write!(md, "| {d} |");
        for t in &threads {
            match (num(&d, t, "mops"), num(&d, t, "background_cores")) {
                (Some(m), Some(b)) => {
                    let _ = write!(md, " {m:.1} [{b:.1}] |");
                }
                (Some(m), None) => {
                    let _ = write!(md, " {m:.1} |");
                }
                _ => md.push_str(" — |"),
            }
        }
        match (num(&d, "1", "mops"), num(&d, "2", "mops")) {
            (Some(a), Some(b)) => {
                let _ = write!(md, " {:.2}× |", b / a);
            }
            _ => md.push_str(" — |"),
        }
        let cpu = |t| num(&d, t, "cpu_ns_per_op").map_or("—".to_string(), |c| format!("{c:.1}"));
        let _ = writeln!(md, " {} / {} |", cpu("1"), cpu("2"));
    }
    let ratios: Vec<Option<f64>> = threads
        .iter()
        .map(|t| Some(num("handles", t, "mops")? / num("sharded-slab", t, "mops")?))
        .collect();
    if ratios.iter().any(Option::is_some) {
        md.push_str("| *handles ÷ sharded-slab* |");
        for r in &ratios {
            match r {
                Some(r) => {
                    let _ = write!(md, " {r:.2}× |");
                }
                None => md.push_str(" — |"),
            }
        }
        let cpu = |t| match (
            num("sharded-slab", t, "cpu_ns_per_op"),
            num("handles", t, "cpu_ns_per_op"),
        ) {
            (Some(a), Some(b)) => format!("{:.2}×", a / b),
            _ => "—".to_string(),
        };
        let _ = writeln!(md, " | CPU: {} / {} |", cpu("1"), cpu("2"));
    }
    md.push('\n');
}

fn main() {
    let mut results = "bench/results".to_string();
    let mut out = "BENCHMARKS.md".to_string();
    let mut svg_link = None;
    let mut notes = "bench/notes.md".to_string();
    let mut baselines = "bench/baselines.md".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--results" => results = v,
            "--out" => out = v,
            "--svg-link" => svg_link = Some(v),
            "--notes" => notes = v,
            "--baselines" => baselines = v,
            other => {
                eprintln!("report: unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    let path = |f: &str| format!("{results}/{f}");
    let svg_link = svg_link.unwrap_or_else(|| path("scaling.svg"));
    let machine = Tsv::load(&path("machine.tsv"));
    let callgrind = Tsv::load(&path("callgrind.tsv"));
    let criterion = Tsv::load(&path("criterion.tsv"));
    let op_costs = Tsv::load(&path("op_costs.tsv"));
    let scaling = Tsv::load(&path("scaling.tsv"));
    let memory = Tsv::load(&path("memory.tsv"));
    let c_calls = Tsv::load(&path("c_calls.tsv"));
    let c_calls_ir = Tsv::load(&path("c_calls_ir.tsv"));
    let seed = Tsv::load(&path("seed004.tsv"));
    let barriers = Tsv::load(&path("barriers.tsv"));
    let latency = Tsv::load(&path("reclaim_latency.tsv"));
    let m = |k: &str| {
        machine
            .as_ref()
            .and_then(|t| t.get(&[("key", k)], "value"))
            .unwrap_or_else(|| "?".into())
    };

    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Benchmarks\n\n_Generated by `bash scripts/benchmarks.sh` (writer: `bench/src/bin/report.rs`) on {}; \
         do not edit by hand: edit `bench/notes.md` or the harness and regenerate._\n",
        m("date")
    );
    let _ = writeln!(
        md,
        "handles against the peer designs (listed below), side by side in one run. **All figures are from a \
         {}-core machine shared with other jobs** (its background load is recorded per scaling cell); no \
         16-core machine was lent to this session, so the 16-core targets are not measured.\n",
        m("cores")
    );

    // ---- verdicts
    let mut v: Vec<Verdict> = Vec::new();
    match &callgrind {
        Some(cg) => {
            for (op, col, direct_op, limit) in [
                ("scoped lookup", "lookup", "lookup", 25.0),
                ("insert", "insert", "insert", 40.0),
                ("remove", "remove", "remove", 30.0),
                ("retain+release", "retain_release", "retain-release", 30.0),
            ] {
                let direct = op_costs
                    .as_ref()
                    .and_then(|t| t.num(&[("operation", direct_op)], "Ir_per_op"));
                match cg.num(&[("design", "handles")], col) {
                    Some(ir) => v.push(verdict(
                        &format!("{op} ≤ {limit} instructions"),
                        match direct {
                            Some(d) => {
                                format!("{ir:.1} Ir/op through the harness, {d:.1} called directly")
                            }
                            None => format!("{ir:.1} Ir/op"),
                        },
                        Some(ir.min(direct.unwrap_or(ir)) <= limit),
                    )),
                    None => v.push(verdict(
                        &format!("{op} ≤ {limit} Ir"),
                        "not measured".into(),
                        None,
                    )),
                }
            }
        }
        None => v.push(verdict("instruction counts", "not measured".into(), None)),
    }
    if let Some(mem) = &memory {
        for n in mem.distinct("live_handles") {
            let k = [("design", "handles"), ("live_handles", n.as_str())];
            if let (Some(ovh), Some(worst)) = (
                mem.num(&k, "overhead_B_per_handle"),
                mem.num(&k, "worst_B_per_handle_during_fill"),
            ) {
                v.push(verdict(
                    &format!("≤ 16 B table overhead per live handle at {n}"),
                    format!("{ovh:.2} B"),
                    Some(ovh <= 16.0),
                ));
                let worst_ovh = worst - 8.0;
                v.push(verdict(
                    &format!("no transient peak above 16 B/handle while growing to {n}"),
                    format!("worst {worst_ovh:.2} B overhead ({worst:.2} B total) right after a page is added"),
                    Some(worst_ovh <= 16.0),
                ));
            }
        }
    }
    match &scaling {
        Some(s) => scaling_verdicts(s, &mut v),
        None => v.push(verdict("scaling targets", "not measured".into(), None)),
    }
    reclamation_verdicts(barriers.as_ref(), latency.as_ref(), &mut v);
    match c_calls
        .as_ref()
        .and_then(|c| c.num(&[("call", "scoped"), ("threads", "1")], "ns_vs_empty"))
    {
        Some(d) => v.push(verdict(
            "C → Rust entry with a scoped lookup ≤ 3 ns more than an empty entry",
            format!("+{d:.2} ns (1 thread, median of runs, static library)"),
            Some(d <= 3.0),
        )),
        None => v.push(verdict(
            "C scoped entry ≤ empty + 3 ns",
            "not measured".into(),
            None,
        )),
    }
    let entry_ir = |library: &str| {
        c_calls_ir
            .as_ref()?
            .num(&[("library", library), ("call", "scoped")], "Ir_vs_empty")
    };
    match (entry_ir("static"), entry_ir("cdylib")) {
        (Some(a), Some(b)) => v.push(verdict(
            "C → Rust entry with a scoped lookup ≤ 25 instructions more than an empty entry, static library and cdylib",
            format!("static +{a:.0} Ir, cdylib +{b:.0} Ir (callgrind)"),
            Some(a <= 25.0 && b <= 25.0),
        )),
        _ => v.push(verdict(
            "C scoped entry ≤ empty + 25 Ir",
            "not measured".into(),
            None,
        )),
    }
    let seed_ms = |p: &str| seed.as_ref().and_then(|s| s.num(&[("program", p)], "ms"));
    match (seed_ms("c-rust-handles"), seed_ms("c-go-cgo-handle")) {
        (Some(c), Some(g)) => {
            let tasks_c = seed
                .as_ref()
                .and_then(|s| s.num(&[("program", "c-rust-handles")], "tasks"));
            let tasks_g = seed
                .as_ref()
                .and_then(|s| s.num(&[("program", "c-go-cgo-handle")], "tasks"));
            // Compare per task (the Go half may run fewer tasks in quick mode).
            let (pc, pg) = (c / tasks_c.unwrap_or(1.0), g / tasks_g.unwrap_or(1.0));
            v.push(verdict(
                "seed-004 C→Rust callbacks ≥ 50× faster than Go cgo",
                format!(
                    "{:.1} vs {:.1} ns/task = {:.0}×",
                    pc * 1e6,
                    pg * 1e6,
                    pg / pc
                ),
                Some(pg / pc >= 50.0),
            ));
        }
        (Some(_), None) => v.push(verdict(
            "seed-004 ≥ 50× faster than Go cgo",
            "Go half not run (Go could not be installed)".into(),
            None,
        )),
        _ => v.push(verdict(
            "seed-004 ≥ 50× faster than Go cgo",
            "not measured".into(),
            None,
        )),
    }

    md.push_str(
        "## Verdicts against the targets\n\n| target | measured | verdict |\n|---|---|---|\n",
    );
    for x in &v {
        let verdict = match (x.met, &x.busy) {
            (Some(true), _) => "**met**".to_string(),
            (Some(false), None) => "**missed**".to_string(),
            (Some(false), Some(why)) => {
                format!("**missed as measured, inconclusive**: {why}")
            }
            (None, _) => "not measured".to_string(),
        };
        let _ = writeln!(md, "| {} | {} | {} |", x.target, x.figure, verdict);
    }
    md.push('\n');
    if let Ok(n) = std::fs::read_to_string(&notes) {
        md.push_str(&n);
        md.push('\n');
    }
    match std::fs::read_to_string(&baselines) {
        Ok(b) => {
            md.push_str(&b);
            md.push('\n');
        }
        Err(_) => {
            let _ = writeln!(
                md,
                "({baselines} missing: how each baseline is used is not stated)\n"
            );
        }
    }

    // ---- machine, method, commands
    md.push_str("## Machine\n\n");
    match &machine {
        Some(t) => md.push_str(&t.markdown()),
        None => md.push_str("(machine.tsv missing)\n"),
    }
    md.push_str(
        "\n## Method and commands\n\n\
         Everything above and below comes from one run of `bash scripts/benchmarks.sh` \
         (`--quick` for a CI smoke run that writes to target/bench-quick/ instead). The designs are \
         in `bench/src/designs.rs`, each behind the `Design` trait (insert → u64 id, scoped lookup with \
         a closure, counted lookup = retain + release, remove, take), every design storing the same value \
         type; its module doc says what each baseline does for each operation. The timed binaries (scaling, \
         memory, barriers, reclaim_latency) are built with the `bench-lto` profile (release with \
         `lto = \"fat\"`, `codegen-units = 1`); the instruction counts with release. Steps:\n\n\
         1. `bash scripts/bench-callgrind.sh` — instructions per operation, one thread, callgrind \
         `--toggle-collect` on `#[inline(never)]` loops of 100,000 operations (`bench/src/bin/opcount/main.rs`), \
         the empty loop's cost subtracted. Lookups cycle over 1,024 live ids; insert runs in steady state.\n\
         2. `cargo bench -p bench --bench ops` — criterion, single-operation wall times (one thread).\n\
         3. `cargo run --profile bench-lto -p bench --bin scaling -- --workloads churn,take-churn,read-1k,read-1m,read-10m,read-hot,mixed \
         --write-threads 1,2,8,32,64` — fixed-time cells: the read workloads at 1, 2 … cores threads and at \
         16× cores, churn, take-churn and mixed at 1, 2, 8, 32 and 64 threads. Every design's table is filled \
         first; then, per thread count, the worker threads are spawned once and run 3 rounds of one 400 ms \
         run per design (round robin: a burst of other jobs' load hits every design alike); a cell is the \
         best of its 3 runs (other jobs can only slow a run down). Per cell: Mops/s (all threads), wall ns \
         per op as one thread sees it, process CPU ns per op (getrusage), the 1-minute load average, and the \
         cores other processes kept busy *during* each run (machine busy time from /proc/stat, steal \
         included, less this process's CPU time): the highest over the cell's runs in brackets, the mean \
         in the TSV.\n\
         4. `cargo run --release -p bench --bin memory` — a counting global allocator; heap bytes per live \
         handle at 10^6 and 10^7 `u64` values, the peak during the fill, and the worst bytes/handle ratio \
         at any moment of the fill (from 65,536 handles on).\n\
         5. `bench/c/bench_threads.c` (pthreads, linked with libhdl.a built with the `testing` feature) — \
         C-side call costs.\n\
         6. `bench/seed004/seed004.c` (C + Rust) and `bench/seed004/go/` (C + Go cgo) — the seed-004 \
         callback workload.\n\
         7. `cargo run --release -p bench --bin report` — this file.\n\n",
    );

    // ---- instruction counts
    md.push_str("## Instructions per operation (callgrind)\n\n");
    match &callgrind {
        Some(t) => md.push_str(&t.markdown()),
        None => md.push_str("(not run)\n"),
    }
    md.push_str(
        "\nIr per operation, one thread, empty loop subtracted, each design called through the `Design` \
         trait from the bench crate (`bench/src/bin/opcount/main.rs`). `raw` insert/remove are malloc/free of \
         the `Arc`; map designs hash with SipHash (std's default).\n\n",
    );
    if let Some(t) = &op_costs {
        md.push_str(
            "handles called directly on a static table (`scripts/op-costs.sh`, \
             `bench/src/bin/opcount/direct.rs`); the difference to the row above is the `Design` \
             trait's layer: its `u64` → `Handle` conversion and different inlining:\n\n",
        );
        md.push_str(&t.markdown());
        md.push('\n');
    }
    if let Some(t) = &criterion {
        md.push_str("## Single-operation times (criterion, ns)\n\n");
        md.push_str(&t.markdown());
        md.push_str(
            "\nMedian estimates, one thread, on the shared machine: compare within a column, and \
                     prefer the instruction counts above for small differences.\n\n",
        );
    }

    // ---- scaling
    md.push_str("## Throughput against threads\n\n");
    match &scaling {
        Some(s) => {
            let _ = writeln!(md, "![throughput vs threads]({svg_link})\n");
            for w in s.distinct("workload") {
                scaling_table(s, &w, &mut md);
            }
            let _ = writeln!(
                md,
                "Raw per-cell data (ns/op per thread, load average, mean background load, ops): `{}`.\n",
                path("scaling.tsv")
            );
        }
        None => md.push_str("(not run)\n\n"),
    }

    // ---- memory
    md.push_str("## Memory per live handle\n\n");
    match &memory {
        Some(t) => {
            md.push_str(&t.markdown());
            md.push_str(
                "\nBytes from a counting global allocator (requested sizes; malloc's own headers not \
                 included), divided by the live handles. Overhead = total − the 8-byte value. `peak` is \
                 the highest live total during the fill divided by the final count; `worst` is the \
                 highest ratio of live bytes to handles inserted so far at any moment of the fill (from \
                 65,536 on), which for growable tables is right after they grow. Every design stores \
                 the `u64` inline; `raw` is one `Arc<u64>` box (24 B) per handle and nothing else.\n\n",
            );
        }
        None => md.push_str("(not run)\n\n"),
    }

    // ---- C
    md.push_str("## C-side call costs (pthreads, through the C API)\n\n");
    match &c_calls {
        Some(t) => {
            md.push_str(&t.markdown());
            md.push_str(
                "\n`empty`: an empty `extern \"C\"` Rust function; `c-call`: a noinline C function in \
                 the same program; `scoped`: a Rust entry doing `HandleTable::with` on its own static \
                 table (a Rust library exposing its objects to C); `lookup+release`: `hdl_lookup` \
                 + `hdl_release` on the registry (C code holding references). \
                 Every thread uses its own handle; ns per call as one thread sees it (median of runs).\n\n",
            );
        }
        None => md.push_str("(not run)\n\n"),
    }
    if let Some(t) = &c_calls_ir {
        md.push_str("Instructions per call (callgrind, one thread, `tests/c/bench_calls.c --one` linked with the static library and with the cdylib; loop included; `Ir_vs_empty` against the same library's empty entry):\n\n");
        md.push_str(&t.markdown());
        md.push('\n');
    }

    // ---- seed 004
    md.push_str("## Seed 004: parallel C → callback workload\n\n");
    match &seed {
        Some(t) => {
            md.push_str(&t.markdown());
            md.push_str(
                "\nN C worker threads (one per core) share the tasks, taking them 64 at a time from an \
                 atomic counter; each task calls a callback with a handle, and the callback copies the \
                 32-byte value behind the handle to the caller. `c-rust-handles`: `bench/seed004/seed004.c`, \
                 callback `seed004_get_value` in Rust (`HandleTable::with` on a static table). \
                 `c-go-cgo-handle`: `bench/seed004/go/`, the same C driver calling an exported Go function \
                 that resolves a `cgo.Handle`. Ratio = Go ns/task ÷ C+Rust ns/task.\n\n",
            );
        }
        None => md.push_str("(not run)\n\n"),
    }

    if let Err(e) = std::fs::write(&out, md) {
        eprintln!("report: cannot write {out}: {e}");
        std::process::exit(1);
    }
    println!("wrote {out}");
}
