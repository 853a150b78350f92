//! SVG plot of throughput against threads, one panel per workload (plotters, SVG backend only).

use plotters::prelude::*;

/// One point: design, workload, threads, Mops/s.
pub type Point = (String, String, usize, f64);

/// Colour of the `i`-th design's line.
fn colour(i: usize) -> RGBColor {
    const C: [RGBColor; 8] = [
        RGBColor(214, 39, 40),
        RGBColor(90, 90, 90),
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
    ];
    C[i % C.len()]
}

/// Writes `path`: one panel per workload (in first-seen order), log-log axes, one line per
/// design (in first-seen order). `title` goes above the panels.
pub fn throughput_svg(points: &[Point], title: &str, path: &str) -> Result<(), String> {
    let mut workloads: Vec<&str> = Vec::new();
    let mut designs: Vec<&str> = Vec::new();
    for (d, w, _, _) in points {
        if !workloads.contains(&w.as_str()) {
            workloads.push(w);
        }
        if !designs.contains(&d.as_str()) {
            designs.push(d);
        }
    }
    if workloads.is_empty() {
        return Err("no points to plot".into());
    }
    let cols = workloads.len().min(3);
    let rows = workloads.len().div_ceil(cols);
    let root =
        SVGBackend::new(path, (480 * cols as u32, 360 * rows as u32 + 40)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (top, body) = root.split_vertically(40);
    top.titled(title, ("sans-serif", 20))
        .map_err(|e| e.to_string())?;
    let panels = body.split_evenly((rows, cols));
    let max_threads = points.iter().map(|p| p.2).max().unwrap_or(1).max(2);
    for (panel, w) in panels.iter().zip(&workloads) {
        let mine: Vec<&Point> = points.iter().filter(|p| p.1 == *w).collect();
        let ymax = mine.iter().map(|p| p.3).fold(1.0f64, f64::max) * 2.0;
        let ymin = mine
            .iter()
            .map(|p| p.3)
            .filter(|&m| m > 0.0)
            .fold(ymax, f64::min)
            / 2.0;
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{w}: Mops/s vs threads"), ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(
                (1u32..(max_threads as u32 * 3 / 2)).log_scale(),
                (ymin.max(1e-3)..ymax).log_scale(),
            )
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.12))
            .x_desc("threads")
            .y_desc("Mops/s")
            .x_label_formatter(&|t| t.to_string())
            .y_label_formatter(&|m| {
                if *m >= 10.0 {
                    format!("{m:.0}")
                } else {
                    format!("{m:.1}")
                }
            })
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, d) in designs.iter().enumerate() {
            let mut line: Vec<(u32, f64)> = mine
                .iter()
                .filter(|p| p.0 == *d)
                .map(|p| (p.2 as u32, p.3))
                .collect();
            if line.is_empty() {
                continue;
            }
            line.sort_by_key(|p| p.0);
            let c = colour(i);
            let width = if i == 0 { 3 } else { 1 };
            chart
                .draw_series(LineSeries::new(line.clone(), c.stroke_width(width)))
                .map_err(|e| e.to_string())?
                .label(d.to_string())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(|e| e.to_string())?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 11))
            .position(SeriesLabelPosition::LowerLeft)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}
