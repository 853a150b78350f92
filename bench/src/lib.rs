//! Benchmark harness for `handles`: the peer designs, each behind one trait
//! ([`designs::Design`]), the scaling workloads ([`workload`]), process and machine load
//! probes ([`sys`]), the SVG plot ([`plot`]) and the seed-004 callback entry ([`seed004`]).
//!
//! Binaries: `scaling` (throughput against threads), `memory` (bytes per live handle),
//! `opcount` (loops for callgrind: every design through the trait, and handles called directly),
//! `criterion_tsv` (criterion's median estimates as a TSV), `report` (writes BENCHMARKS.md). Criterion benches:
//! `benches/ops.rs`. Everything is driven by `scripts/benchmarks.sh`.

pub mod designs;
pub mod plot;
pub mod seed004;
pub mod sys;
pub mod workload;
