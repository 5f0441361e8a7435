//! SVG plots: learning curves, per-layer sparsity across epochs, the distribution of active units
//! per example, first-layer filters as an image grid, and inspect's per-layer summary.
//!
//! Charts are drawn with plotters' SVG backend without its font feature: text goes into the SVG
//! as `<text>` elements laid out with plotters' built-in metrics, so no font file or system
//! library is needed and any SVG viewer renders the labels with its own sans-serif font. The
//! filter grid is written directly (one `<path>` per grey level) because thousands of pixel
//! rectangles would make a chart library's SVG needlessly large.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Result, anyhow};
use nalgebra::DMatrix;
use plotters::prelude::*;
use relu_nn::EpochMetrics;

const WIDTH: u32 = 900;
const FONT: &str = "sans-serif";

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw plot: {e:?}")
}

/// A range containing every value, padded, never empty.
fn padded(values: impl Iterator<Item = f64>, floor_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if floor_zero {
        lo = lo.min(0.0);
    }
    if hi - lo < 1e-9 {
        hi = lo + 1.0;
    }
    let pad = 0.05 * (hi - lo);
    (if floor_zero && lo >= 0.0 { lo } else { lo - pad }, hi + pad)
}

fn epoch_range(n: usize) -> std::ops::Range<f64> {
    if n <= 1 { 0.5..1.5 } else { 1.0..n as f64 }
}

/// Distinct colours that stay readable on white (plotters' palette starts with a pale yellow).
fn color(i: usize) -> RGBAColor {
    const COLORS: [(u8, u8, u8); 8] =
        [(214, 39, 40), (31, 119, 180), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75), (23, 190, 207), (127, 127, 127)];
    let (r, g, b) = COLORS[i % COLORS.len()];
    RGBColor(r, g, b).to_rgba()
}

type Series = (String, Vec<(f64, f64)>);

/// Each series as a line in its own colour with a dot of `radius` at every point and a legend
/// entry.
fn draw_lines<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
    series: &[Series],
    radius: u32,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    for (i, (name, points)) in series.iter().enumerate() {
        let color = color(i);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, radius, color.filled()))).map_err(err)?;
    }
    Ok(())
}

/// One panel of lines (with a dot at every point, so a single epoch still shows).
fn line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_desc: &str,
    x: std::ops::Range<f64>,
    series: &[Series],
    percent: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (y0, y1) = padded(series.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y)), true);
    let x_end = x.end;
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y0..y1)
        .map_err(err)?;
    let fmt_y = |v: &f64| if percent { format!("{:.1}%", v * 100.0) } else { format!("{v:.3}") };
    // Epochs are integers: ask for at most one label per epoch and leave fractional ones blank.
    let epochs = x_end.round().max(1.0) as usize;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .x_labels(epochs.clamp(2, 11))
        .y_label_formatter(&fmt_y)
        .x_label_formatter(&|v| if (v - v.round()).abs() < 1e-6 { format!("{v:.0}") } else { String::new() })
        .draw()
        .map_err(err)?;
    draw_lines(&mut chart, series, 3)?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Learning curves: training and validation loss (top), training and validation error or
/// validation RMSE (bottom), per epoch.
pub fn learning_curves(history: &[EpochMetrics]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 700)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (top, bottom) = root.split_vertically(350);
        let x = epoch_range(history.len());
        let e = |m: &EpochMetrics| m.epoch as f64;
        let mut losses: Vec<Series> = vec![("train loss".into(), history.iter().map(|m| (e(m), m.train_loss)).collect())];
        if history.iter().all(|m| m.valid.is_some()) {
            losses.push(("valid loss".into(), history.iter().filter_map(|m| Some((e(m), m.valid.as_ref()?.loss))).collect()));
        }
        line_panel(&top, "Loss (data term, without the L1 penalty)", "loss", x.clone(), &losses, false)?;
        let mut errors: Vec<Series> = Vec::new();
        if history.iter().all(|m| m.train_error.is_some()) {
            errors.push(("train error".into(), history.iter().filter_map(|m| Some((e(m), m.train_error?))).collect()));
        }
        if history.iter().all(|m| m.valid.as_ref().and_then(|v| v.error).is_some()) {
            errors.push(("valid error".into(), history.iter().filter_map(|m| Some((e(m), m.valid.as_ref()?.error?))).collect()));
        }
        line_panel(&bottom, "Classification error", "error", x, &errors, true)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Per-layer sparsity (fraction of exact zeros in the training batches) across epochs.
pub fn sparsity_curves(history: &[EpochMetrics]) -> Result<String> {
    let layers = history.first().map_or(0, |m| m.sparsity.len());
    let series: Vec<Series> = (0..layers)
        .map(|l| {
            (format!("layer {}", l + 1), history.iter().map(|m| (m.epoch as f64, m.sparsity.get(l).copied().unwrap_or(0.0))).collect())
        })
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 450)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        line_panel(&root, "Sparsity per hidden layer (fraction of exact zeros)", "sparsity", epoch_range(history.len()), &series, true)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Histograms of the number of active units per example, one panel per hidden layer (the paper's
/// "variable dimensionality": each example uses a different, small number of units).
pub fn active_units(per_layer: &[Vec<u32>], units: &[usize]) -> Result<String> {
    let n = per_layer.len().max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 260 * n as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let panels = root.split_evenly((n, 1));
        for (l, (counts, area)) in per_layer.iter().zip(&panels).enumerate() {
            let total = units.get(l).copied().unwrap_or(1).max(1) as u32;
            let bins = 40u32.min(total);
            let width = total.div_ceil(bins).max(1);
            let mut hist = vec![0u32; (total / width + 1) as usize];
            for &c in counts {
                hist[(c.min(total) / width) as usize] += 1;
            }
            let top = hist.iter().copied().max().unwrap_or(1).max(1);
            let mean = if counts.is_empty() { 0.0 } else { counts.iter().map(|&c| c as f64).sum::<f64>() / counts.len() as f64 };
            let mut chart = ChartBuilder::on(area)
                .caption(format!("Layer {}: active units per example (mean {mean:.0} of {total})", l + 1), (FONT, 18))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(60)
                .build_cartesian_2d(0u32..(total + width), 0u32..(top + top / 10 + 1))
                .map_err(err)?;
            chart.configure_mesh().x_desc("active units").y_desc("examples").draw().map_err(err)?;
            let color = color(l);
            chart
                .draw_series(hist.iter().enumerate().filter(|&(_, &h)| h > 0).map(|(b, &h)| {
                    let x0 = b as u32 * width;
                    Rectangle::new([(x0, 0), (x0 + width, h)], color.filled())
                }))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Per-layer values (e.g. probe accuracy, Jaccard similarity) as lines over the layer index;
/// each series holds `(layer, value)` pairs with fractions shown as percentages. Layer 0 is the
/// input.
pub fn per_layer(title: &str, series: &[(String, Vec<(usize, f64)>)]) -> Result<String> {
    let layers = series.iter().flat_map(|(_, v)| v.iter().map(|&(l, _)| l + 1)).max().unwrap_or(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 450)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.25f64..(layers as f64 - 0.75), 0.0f64..1.05)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("layer (0 = input)")
            .x_labels(layers.max(2))
            .x_label_formatter(&|v| if (v - v.round()).abs() < 1e-6 { format!("{v:.0}") } else { String::new() })
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .draw()
            .map_err(err)?;
        let lines: Vec<Series> =
            series.iter().map(|(name, values)| (name.clone(), values.iter().map(|&(l, v)| (l as f64, v)).collect())).collect();
        draw_lines(&mut chart, &lines, 4)?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The first `count` rows of `weight` (one per hidden unit, `input` columns) drawn as images of
/// `shape` (`[h, w]`, or `[c, h, w]` with 3 channels shown in colour and other channel counts
/// showing the first channel), each scaled to its own largest absolute weight: mid-grey is 0,
/// white positive, black negative. `step` picks every `step`-th row (maxout pieces).
///
/// # Errors
/// If `shape` does not match the weight matrix.
pub fn filter_grid(weight: &DMatrix<f32>, shape: &[usize], count: usize, step: usize) -> Result<String> {
    let (channels, h, w) = match *shape {
        [h, w] => (1, h, w),
        [c, h, w] => (c, h, w),
        _ => return Err(anyhow!("filters: image shape {shape:?} is not [h, w] or [c, h, w]")),
    };
    if channels * h * w != weight.ncols() || h == 0 || w == 0 {
        return Err(anyhow!("filters: image shape {shape:?} does not match {} inputs", weight.ncols()));
    }
    let rows: Vec<usize> = (0..weight.nrows()).step_by(step.max(1)).take(count).collect();
    let cols = (rows.len() as f64).sqrt().ceil().max(1.0) as usize;
    let grid_rows = rows.len().div_ceil(cols).max(1);
    let (pad, scale) = (2usize, 3usize);
    let (cell_w, cell_h) = (w + pad, h + pad);
    let (total_w, total_h) = (cols * cell_w + pad, grid_rows * cell_h + pad);
    let colour = channels == 3;
    // Quantised fill → path data of every pixel with that fill (horizontal runs merged).
    let mut paths: BTreeMap<String, String> = BTreeMap::new();
    let level = |v: f32, max: f32| -> u8 {
        let t = if max > 0.0 { 0.5 + 0.5 * (v / max).clamp(-1.0, 1.0) } else { 0.5 };
        // 32 grey levels (8 per channel in colour) keep the file small and look smooth.
        let steps = if colour { 7.0 } else { 31.0 };
        ((t * steps).round() / steps * 255.0).round() as u8
    };
    for (i, &r) in rows.iter().enumerate() {
        let row = weight.row(r);
        let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let (ox, oy) = (pad + (i % cols) * cell_w, pad + (i / cols) * cell_h);
        for y in 0..h {
            let mut x = 0;
            while x < w {
                let fill = |x: usize| -> String {
                    let px = |c: usize| level(row[c * h * w + y * w + x], max);
                    if colour {
                        format!("#{:02x}{:02x}{:02x}", px(0), px(1), px(2))
                    } else {
                        let g = px(0);
                        format!("#{g:02x}{g:02x}{g:02x}")
                    }
                };
                let f = fill(x);
                let mut run = 1;
                while x + run < w && fill(x + run) == f {
                    run += 1;
                }
                let d = paths.entry(f).or_default();
                let _ = write!(d, "M{} {}h{run}v1h-{run}z", ox + x, oy + y);
                x += run;
            }
        }
    }
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {total_w} {total_h}" shape-rendering="crispEdges">"#,
        total_w * scale,
        total_h * scale
    );
    let _ =
        writeln!(svg, r##"<title>First-layer filters ({} units)</title><rect width="100%" height="100%" fill="#3050a0"/>"##, rows.len());
    for (fill, d) in paths {
        let _ = writeln!(svg, r#"<path fill="{fill}" d="{d}"/>"#);
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

type XyChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>;

/// An SVG chart over `x` × `y` with both axes labelled as percentages; `draw` adds the series,
/// then the legend goes to `legend`.
fn percent_chart(
    title: &str,
    (x_desc, y_desc): (&str, &str),
    (x, y): ((f64, f64), (f64, f64)),
    y_decimals: usize,
    legend: SeriesLabelPosition,
    draw: impl FnOnce(&mut XyChart<'_, '_>) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 550)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .y_label_formatter(&|v| format!("{:.*}%", y_decimals, v * 100.0))
            .draw()
            .map_err(err)?;
        draw(&mut chart)?;
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).position(legend).draw().map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A scatter of `(x, y)` fractions (shown as percentages) with the quadratic `a + b·x + c·x²`
/// drawn over the points' x range.
///
/// # Errors
/// If plotters fails to draw.
pub fn scatter_with_fit(title: &str, x_desc: &str, y_desc: &str, points: &[(f64, f64)], fit: Option<[f64; 3]>) -> Result<String> {
    let x = padded(points.iter().map(|p| p.0), false);
    let y = padded(points.iter().map(|p| p.1), true);
    percent_chart(title, (x_desc, y_desc), (x, y), 2, SeriesLabelPosition::UpperLeft, |chart| {
        let dots = color(1);
        chart
            .draw_series(points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()).map(|&p| Circle::new(p, 4, dots.filled())))
            .map_err(err)?
            .label("network")
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, dots.filled()));
        if let Some([a, b, c]) = fit {
            let (lo, hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(p.0), h.max(p.0)));
            let line = color(0);
            let curve = (0..=100).map(|i| lo + (hi - lo) * f64::from(i) / 100.0).map(|x| (x, a + b * x + c * x * x));
            chart
                .draw_series(LineSeries::new(curve, line.stroke_width(2)))
                .map_err(err)?
                .label("quadratic fit")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line.stroke_width(2)));
        }
        Ok(())
    })
}

/// Lines of `(x, y)` fractions, both shown as percentages (e.g. test error against the labeled
/// fraction).
///
/// # Errors
/// If plotters fails to draw.
pub fn curves(title: &str, x_desc: &str, y_desc: &str, series: &[Series]) -> Result<String> {
    let x = padded(series.iter().flat_map(|(_, p)| p.iter().map(|&(x, _)| x)), true);
    let y = padded(series.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y)), true);
    percent_chart(title, (x_desc, y_desc), (x, y), 1, SeriesLabelPosition::UpperRight, |chart| draw_lines(chart, series, 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_grid_draws_every_pixel_once() {
        let w = DMatrix::from_fn(4, 6, |i, j| (i as f32 - j as f32) * 0.1);
        let svg = filter_grid(&w, &[2, 3], 4, 1).unwrap();
        let pixels: usize = svg.matches('M').count();
        assert!((4 * 2..=4 * 6).contains(&pixels), "{svg}");
        assert!(filter_grid(&w, &[3, 3], 4, 1).is_err());
    }

    #[test]
    fn padded_ranges_are_never_empty() {
        assert!(padded([2.0, 2.0].into_iter(), false).0 < 2.0);
        assert_eq!(padded(std::iter::empty(), true), (0.0, 1.0));
    }
}
