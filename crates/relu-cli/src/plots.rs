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

/// Epochs 1..=n with some room on both sides, so the first and last points (and a kept-epoch
/// line on them) stay clear of the axes.
fn epoch_range(n: usize) -> std::ops::Range<f64> {
    if n <= 1 { 0.5..1.5 } else { 0.75..n as f64 + 0.25 }
}

/// Distinct colours that stay readable on white (plotters' palette starts with a pale yellow).
fn color(i: usize) -> RGBAColor {
    const COLORS: [(u8, u8, u8); 8] =
        [(214, 39, 40), (31, 119, 180), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75), (23, 190, 207), (127, 127, 127)];
    let (r, g, b) = COLORS[i % COLORS.len()];
    RGBColor(r, g, b).to_rgba()
}

type Series = (String, Vec<(f64, f64)>);

/// Each series as a line in its own colour ([`color`]`(index)`) with a dot of `radius` at every
/// point (none for 0); [`line_entries`] is its legend.
fn draw_lines<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
    series: &[Series],
    radius: u32,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    for (i, (_, points)) in series.iter().enumerate() {
        let color = color(i);
        chart.draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2))).map_err(err)?;
        if radius > 0 {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, radius, color.filled()))).map_err(err)?;
        }
    }
    Ok(())
}

/// The width of the band right of a chart that holds its legend, so no legend covers data.
const LEGEND_WIDTH: u32 = 180;

/// How a legend entry is drawn: a line, a dot, or both.
#[derive(Clone, Copy)]
enum Mark {
    Line,
    Dot,
    LineAndDot,
}

/// The legend of `entries` drawn in its own band (see [`LEGEND_WIDTH`]), from `top` down.
fn legend_band<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    top: i32,
    entries: &[(String, RGBAColor, Mark)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    for (i, (name, color, mark)) in entries.iter().enumerate() {
        let y = top + 20 * i as i32;
        if matches!(mark, Mark::Line | Mark::LineAndDot) {
            area.draw(&PathElement::new(vec![(6, y), (30, y)], color.stroke_width(2))).map_err(err)?;
        }
        if matches!(mark, Mark::Dot | Mark::LineAndDot) {
            area.draw(&Circle::new((18, y), 4, color.filled())).map_err(err)?;
        }
        area.draw(&Text::new(name.clone(), (38, y - 7), (FONT, 13))).map_err(err)?;
    }
    Ok(())
}

/// `area` split into the chart's part and its legend band.
fn split_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> (DrawingArea<DB, plotters::coord::Shift>, DrawingArea<DB, plotters::coord::Shift>) {
    let width = area.dim_in_pixel().0;
    area.split_horizontally(width.saturating_sub(LEGEND_WIDTH))
}

/// Legend entries for lines drawn with [`draw_lines`].
fn line_entries(series: &[Series]) -> Vec<(String, RGBAColor, Mark)> {
    series.iter().enumerate().map(|(i, (name, _))| (name.clone(), color(i), Mark::LineAndDot)).collect()
}

/// Decimals that give distinct percentage tick labels over a range of fractions (a narrow
/// range such as 45.8–46.3 % would otherwise read "46%" at every tick).
fn percent_decimals((lo, hi): (f64, f64)) -> usize {
    let span = 100.0 * (hi - lo);
    if span >= 20.0 {
        0
    } else if span >= 2.0 {
        1
    } else if span >= 0.2 {
        2
    } else {
        3
    }
}

/// The kept-epoch line: dark grey at 60 % opacity, behind the series.
fn kept_color() -> RGBAColor {
    RGBColor(60, 60, 60).mix(0.6)
}

/// One panel of lines (with a dot at every point, so a single epoch still shows); `kept` marks
/// the epoch whose parameters were kept with a vertical line. The legend goes right of the chart.
fn line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_desc: &str,
    x: std::ops::Range<f64>,
    series: &[Series],
    percent: bool,
    kept: Option<usize>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (y0, y1) = padded(series.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y)), true);
    let x_end = x.end;
    let (area, band) = split_legend(area);
    let mut chart = ChartBuilder::on(&area)
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
    let mut entries = line_entries(series);
    if let Some(k) = kept {
        let at = k as f64;
        chart.draw_series(std::iter::once(PathElement::new(vec![(at, y0), (at, y1)], kept_color().stroke_width(2)))).map_err(err)?;
        entries.push((format!("kept: epoch {k}"), kept_color(), Mark::Line));
    }
    draw_lines(&mut chart, series, 3)?;
    legend_band(&band, 50, &entries)
}

/// Learning curves on `data` (a dataset name for the titles): training and validation loss
/// (top), training and validation error (bottom), per epoch, with the `kept` epoch marked.
pub fn learning_curves(history: &[EpochMetrics], data: &str, kept: Option<usize>) -> Result<String> {
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
        line_panel(&top, &format!("Loss on {data} (data term, without the L1 penalty)"), "loss", x.clone(), &losses, false, kept)?;
        let mut errors: Vec<Series> = Vec::new();
        if history.iter().all(|m| m.train_error.is_some()) {
            errors.push(("train error".into(), history.iter().filter_map(|m| Some((e(m), m.train_error?))).collect()));
        }
        if history.iter().all(|m| m.valid.as_ref().and_then(|v| v.error).is_some()) {
            errors.push(("valid error".into(), history.iter().filter_map(|m| Some((e(m), m.valid.as_ref()?.error?))).collect()));
        }
        line_panel(&bottom, &format!("Classification error on {data}"), "error", x, &errors, true, kept)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Per-layer sparsity (fraction of exact zeros in the training batches) across epochs.
pub fn sparsity_curves(history: &[EpochMetrics], data: &str) -> Result<String> {
    let title = format!("Sparsity per hidden layer on {data} (fraction of exact zeros)");
    layer_curves(history, &title, "sparsity", true, |m, l| m.sparsity.get(l).copied())
}

/// Each hidden layer's L1 weight λ across epochs (as log₁₀ λ), moved by `--target-sparsity`.
pub fn l1_curves(history: &[EpochMetrics], data: &str) -> Result<String> {
    let title = format!("L1 weight per hidden layer on {data}, set by the target-sparsity controller");
    layer_curves(history, &title, "log10 of the L1 weight", false, |m, l| m.l1.get(l).map(|&v| f64::from(v.max(1e-12)).log10()))
}

/// One line per hidden layer of `value(epoch metrics, layer)` across epochs, in one panel.
fn layer_curves(
    history: &[EpochMetrics],
    title: &str,
    y_desc: &str,
    percent: bool,
    value: impl Fn(&EpochMetrics, usize) -> Option<f64>,
) -> Result<String> {
    let layers = history.first().map_or(0, |m| m.sparsity.len());
    let series: Vec<Series> = (0..layers)
        .map(|l| (format!("layer {}", l + 1), history.iter().filter_map(|m| Some((m.epoch as f64, value(m, l)?))).collect()))
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 450)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        line_panel(&root, title, y_desc, epoch_range(history.len()), &series, percent, None)?;
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
            // The axis covers the counts that occur (a sparse layer's examples use a small part
            // of its units), with 40 bins over that range.
            let most = counts.iter().copied().max().unwrap_or(0).min(total);
            let span = (most + most / 10 + 1).min(total);
            let bins = 40u32.min(span.max(1));
            let width = span.div_ceil(bins).max(1);
            let mut hist = vec![0u32; (span / width + 1) as usize];
            for &c in counts {
                hist[(c.min(span) / width) as usize] += 1;
            }
            let top = hist.iter().copied().max().unwrap_or(1).max(1);
            let mean = if counts.is_empty() { 0.0 } else { counts.iter().map(|&c| c as f64).sum::<f64>() / counts.len() as f64 };
            let mut chart = ChartBuilder::on(area)
                .caption(format!("Layer {}: active units per example (mean {mean:.0} of {total})", l + 1), (FONT, 18))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(60)
                .build_cartesian_2d(0u32..(span + width), 0u32..(top + top / 10 + 1))
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
        let (area, band) = split_legend(&root);
        let mut chart = ChartBuilder::on(&area)
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
        legend_band(&band, 50, &line_entries(&lines))?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The first `count` rows of `weight` (one per hidden unit, `input` columns) drawn as images of
/// `shape` (`[h, w]`, or `[c, h, w]` with 3 channels shown in colour and other channel counts
/// showing the first channel), each scaled to its own largest absolute weight: mid-grey is 0,
/// white positive, black negative. `step` picks every `step`-th row (maxout pieces). Above the
/// grid: `title` and the grey scale.
///
/// # Errors
/// If `shape` does not match the weight matrix.
pub fn filter_grid(weight: &DMatrix<f32>, shape: &[usize], count: usize, step: usize, title: &str) -> Result<String> {
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
    // A header with the title and the grey scale, then the grid drawn `scale` times larger.
    const HEADER: usize = 62;
    let (grid_w, grid_h) = (total_w * scale, total_h * scale);
    let width = grid_w.max(460);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{}" viewBox="0 0 {width} {}">"#,
        grid_h + HEADER,
        grid_h + HEADER
    );
    let title = xml_escape(title);
    let _ = writeln!(svg, r##"<title>{title}</title><rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(svg, r#"<text x="8" y="20" font-family="{FONT}" font-size="15">{title}</text>"#);
    // The scale: black = −max, mid-grey = 0, white = +max, where max is each filter's own
    // largest absolute weight.
    let (bar_x, bar_y, cell) = (8usize, 28usize, 6usize);
    let levels = 33usize;
    for i in 0..levels {
        let g = level(-1.0 + 2.0 * i as f32 / (levels - 1) as f32, 1.0);
        let _ = writeln!(svg, r##"<rect x="{}" y="{bar_y}" width="{cell}" height="10" fill="#{g:02x}{g:02x}{g:02x}"/>"##, bar_x + i * cell);
    }
    let bar_end = bar_x + levels * cell;
    let _ = writeln!(
        svg,
        r##"<rect x="{bar_x}" y="{bar_y}" width="{}" height="10" fill="none" stroke="#000000" stroke-width="0.5"/>"##,
        levels * cell
    );
    let label_y = bar_y + 24;
    let _ = writeln!(
        svg,
        r#"<text x="{bar_x}" y="{label_y}" font-family="{FONT}" font-size="11">−max</text><text x="{}" y="{label_y}" font-family="{FONT}" font-size="11" text-anchor="middle">0</text><text x="{bar_end}" y="{label_y}" font-family="{FONT}" font-size="11" text-anchor="end">+max</text>"#,
        (bar_x + bar_end) / 2
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" font-family="{FONT}" font-size="11">max: each filter's largest |weight| ({} filters, {h}×{w})</text>"#,
        bar_end + 12,
        bar_y + 9,
        rows.len()
    );
    let _ = writeln!(
        svg,
        r##"<g transform="translate(0 {HEADER}) scale({scale})" shape-rendering="crispEdges"><rect width="{total_w}" height="{total_h}" fill="#3050a0"/>"##
    );
    for (fill, d) in paths {
        let _ = writeln!(svg, r#"<path fill="{fill}" d="{d}"/>"#);
    }
    svg.push_str("</g>\n</svg>\n");
    Ok(svg)
}

/// `text` with XML's special characters escaped.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

type XyChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>;

/// An SVG chart over `x` × `y` with both axes labelled as percentages (with as many decimals as
/// the ranges need); `draw` adds the series, and `legend` goes in the band right of the chart.
fn percent_chart(
    title: &str,
    (x_desc, y_desc): (&str, &str),
    (x, y): ((f64, f64), (f64, f64)),
    legend: &[(String, RGBAColor, Mark)],
    draw: impl FnOnce(&mut XyChart<'_, '_>) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 550)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (area, band) = split_legend(&root);
        let (x_decimals, y_decimals) = (percent_decimals(x), percent_decimals(y));
        let mut chart = ChartBuilder::on(&area)
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
            .x_label_formatter(&|v| format!("{:.*}%", x_decimals, v * 100.0))
            .y_label_formatter(&|v| format!("{:.*}%", y_decimals, v * 100.0))
            .draw()
            .map_err(err)?;
        draw(&mut chart)?;
        legend_band(&band, 50, legend)?;
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
    let (dots, line) = (color(1), color(0));
    let mut legend = vec![("network".to_owned(), dots, Mark::Dot)];
    if fit.is_some() {
        legend.push(("quadratic fit".to_owned(), line, Mark::Line));
    }
    percent_chart(title, (x_desc, y_desc), (x, y), &legend, |chart| {
        chart
            .draw_series(points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()).map(|&p| Circle::new(p, 4, dots.filled())))
            .map_err(err)?;
        if let Some([a, b, c]) = fit {
            let (lo, hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(p.0), h.max(p.0)));
            let curve = (0..=100).map(|i| lo + (hi - lo) * f64::from(i) / 100.0).map(|x| (x, a + b * x + c * x * x));
            chart.draw_series(LineSeries::new(curve, line.stroke_width(2))).map_err(err)?;
        }
        Ok(())
    })
}

/// How often each hidden unit is active: per layer, the fraction of `examples` on which each
/// unit is non-zero (`active[layer][unit]` counts them), units sorted from most to least often
/// active and spread over the layer's width, so layers of any size share the x axis. Dead units
/// are where a line reaches 0%; units active on every example sit at 100%.
///
/// # Errors
/// If plotters fails to draw.
pub fn unit_usage(title: &str, active: &[Vec<u32>], examples: usize) -> Result<String> {
    let series: Vec<Series> = active
        .iter()
        .enumerate()
        .map(|(l, counts)| {
            let mut f: Vec<f64> = counts.iter().map(|&c| f64::from(c) / examples.max(1) as f64).collect();
            f.sort_by(|a, b| b.total_cmp(a));
            let n = f.len().max(1) as f64;
            let dead = f.iter().filter(|&&v| v == 0.0).count();
            (format!("layer {} ({dead} dead)", l + 1), f.into_iter().enumerate().map(|(i, v)| ((i as f64 + 0.5) / n, v)).collect())
        })
        .collect();
    let x_desc = "units, most often active first (fraction of the layer)";
    percent_chart(title, (x_desc, "examples on which the unit is active"), ((0.0, 1.0), (0.0, 1.02)), &line_entries(&series), |chart| {
        draw_lines(chart, &series, 0)
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
    percent_chart(title, (x_desc, y_desc), (x, y), &line_entries(series), |chart| draw_lines(chart, series, 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_grid_draws_every_pixel_once() {
        let w = DMatrix::from_fn(4, 6, |i, j| (i as f32 - j as f32) * 0.1);
        let svg = filter_grid(&w, &[2, 3], 4, 1, "t").unwrap();
        let pixels: usize = svg.matches('M').count();
        assert!((4 * 2..=4 * 6).contains(&pixels), "{svg}");
        assert!(filter_grid(&w, &[3, 3], 4, 1, "t").is_err());
    }

    #[test]
    fn percentage_ticks_get_the_decimals_a_narrow_range_needs() {
        // A short fig3 run: every network between 45.8 % and 46.3 % zeros.
        let d = percent_decimals((0.458, 0.463));
        let labels: Vec<String> = (0..=5).map(|i| format!("{:.*}%", d, 100.0 * (0.458 + 0.001 * f64::from(i)))).collect();
        assert!(labels.windows(2).all(|w| w[0] != w[1]), "{labels:?}");
        assert_eq!(percent_decimals((0.0, 1.0)), 0);
    }

    #[test]
    fn padded_ranges_are_never_empty() {
        assert!(padded([2.0, 2.0].into_iter(), false).0 < 2.0);
        assert_eq!(padded(std::iter::empty(), true), (0.0, 1.0));
    }
}
