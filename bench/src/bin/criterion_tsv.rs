//! Single-operation times from criterion's own results: the median point estimate (ns) of each
//! `OP/DESIGN` bench of `benches/ops.rs`, read from
//! `CRITERION_DIR/OP/DESIGN/new/estimates.json`, as a TSV with a row per design (in
//! `designs::ALL` order; designs without any estimate are left out, a missing operation is an
//! empty cell).
//!
//! ```text
//! criterion_tsv [--criterion target/criterion] [--out bench/results/criterion.tsv]
//! ```

use bench::designs::ALL;

/// The operations of `benches/ops.rs`, in column order.
const OPS: [&str; 4] = ["lookup", "retain-release", "insert", "remove"];

/// The median's point estimate in an `estimates.json`: criterion writes
/// `{"mean":{…},"median":{"confidence_interval":{…},"point_estimate":X,…},"median_abs_dev":…}`,
/// and the median's object holds the first `point_estimate` after its key.
fn median_point_estimate(json: &str) -> Option<f64> {
    let median = &json[json.find("\"median\"")? + "\"median\"".len()..];
    let key = "\"point_estimate\"";
    let value = median[median.find(key)? + key.len()..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let end = value
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(value.len());
    value[..end].parse().ok()
}

fn main() {
    let mut dir = "target/criterion".to_string();
    let mut out = "bench/results/criterion.tsv".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--criterion" => dir = v,
            "--out" => out = v,
            other => {
                eprintln!("criterion_tsv: unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    let mut tsv = format!("design\t{}\n", OPS.join("\t"));
    for design in ALL {
        let cells: Vec<String> = OPS
            .iter()
            .map(|op| {
                let path = format!("{dir}/{op}/{design}/new/estimates.json");
                let Ok(json) = std::fs::read_to_string(&path) else {
                    return String::new();
                };
                match median_point_estimate(&json) {
                    Some(ns) => format!("{ns:.2}"),
                    None => {
                        eprintln!("criterion_tsv: no median point estimate in {path}");
                        std::process::exit(1);
                    }
                }
            })
            .collect();
        if cells.iter().any(|c| !c.is_empty()) {
            tsv.push_str(&format!("{design}\t{}\n", cells.join("\t")));
        }
    }
    if let Some(parent) = std::path::Path::new(&out).parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&out, &tsv).expect("write TSV");
    print!("{tsv}");
}

#[cfg(test)]
mod tests {
    use super::median_point_estimate;

    #[test]
    fn reads_the_median_not_the_mean_or_the_mad() {
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":4.1,"upper_bound":4.9},"point_estimate":4.5,"standard_error":0.2},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":4.3,"upper_bound":4.4},"point_estimate":4.4375,"standard_error":0.01},"median_abs_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":0.01,"upper_bound":0.02},"point_estimate":0.015,"standard_error":0.001},"slope":null,"std_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":0.1,"upper_bound":0.3},"point_estimate":0.2,"standard_error":0.05}}"#;
        assert_eq!(median_point_estimate(json), Some(4.4375));
        assert_eq!(
            median_point_estimate(r#"{"median": {"point_estimate" : 1.5e1}}"#),
            Some(15.0)
        );
        assert_eq!(
            median_point_estimate(r#"{"mean":{"point_estimate":1.0}}"#),
            None
        );
    }
}
