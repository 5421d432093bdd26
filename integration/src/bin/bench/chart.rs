//! The side-by-side figures as a chart: one bar per compared figure, how
//! many times better ractor_grpc is than ractor_cluster (log scale; right of
//! the line at 1 ractor_grpc is better, left of it worse), as SVG.

use std::path::Path;

use plotters::prelude::*;

use crate::{Result, report::Results};

/// Pixels per bar.
const ROW: u32 = 22;

/// The powers of two from `lo` to `hi` (the x axis's labels).
fn powers_of_two(lo: f64, hi: f64) -> Vec<f64> {
    (-10..=10)
        .map(|e| 2f64.powi(e))
        .filter(|x| (lo..=hi).contains(x))
        .collect()
}

/// Writes the chart of `results` to `path`; an error if no figure was
/// measured by both systems.
pub(crate) fn write_svg(results: &Results, path: &Path) -> Result<()> {
    // The table's order, top to bottom (segment 0 is at the bottom).
    let mut rows = crate::report::advantages(results);
    rows.reverse();
    if rows.is_empty() {
        return Err("no figure was measured by both systems: nothing to chart".into());
    }
    let n = rows.len();
    let (lo, hi) = rows.iter().fold((1.0_f64, 1.0_f64), |(lo, hi), (_, r)| {
        (lo.min(*r), hi.max(*r))
    });
    let height = 90 + ROW * u32::try_from(n).unwrap_or(u32::MAX / ROW);
    let root = SVGBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "ractor_grpc against ractor_cluster: times better (median, log scale)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(380)
        .build_cartesian_2d(
            (lo / 1.5..hi * 1.5)
                .log_scale()
                .with_key_points(powers_of_two(lo / 1.5, hi * 1.5)),
            (0..n).into_segmented(),
        )?;
    chart
        .configure_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => rows.get(*i).map_or(String::new(), |r| r.0.to_owned()),
            _ => String::new(),
        })
        .x_label_formatter(&|x| format!("{x}x"))
        .disable_y_mesh()
        .draw()?;
    let better = RGBColor(46, 139, 87);
    let worse = RGBColor(205, 92, 92);
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, ratio))| {
        let color = if *ratio >= 1.0 { better } else { worse };
        Rectangle::new(
            [
                (1.0, SegmentValue::Exact(i)),
                (*ratio, SegmentValue::Exact(i + 1)),
            ],
            color.filled(),
        )
    }))?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Exact(n))],
        BLACK.stroke_width(2),
    )))?;
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, ratio))| {
        Text::new(
            format!("{ratio:.2}x"),
            (ratio.max(1.0) * 1.03, SegmentValue::CenterOf(i)),
            ("sans-serif", 12),
        )
    }))?;
    root.present()?;
    Ok(())
}
