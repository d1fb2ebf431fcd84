//! Line and bar charts as SVG and PNG, drawn with `plotters`.
//!
//! Text goes through `ab_glyph` with DejaVu Sans embedded in the binary (assets/fonts, with its
//! licence), registered once as "sans-serif": charts render the same on a machine without any
//! system font.

use std::path::Path;
use std::sync::Once;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use snn_types::file::AtomicFile;

static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The embedded font is a valid TTF; a failure would only degrade text, never panic.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// One line of a line chart.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    series: &[Series<'_>],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .collect();
    let (x0, x1) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (x0, x1) = if x0 < x1 {
        (x0, x1)
    } else {
        (x0 - 1.0, x0 + 1.0)
    };
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    let colours = [BLUE, RED, GREEN, MAGENTA];
    for (i, s) in series.iter().enumerate() {
        let c = colours[i % colours.len()];
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    bars: &[(String, f64)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let top = bars.iter().map(|b| b.1).fold(0.0f64, f64::max).max(1e-12) * 1.1;
    let n = bars.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..top)
        .map_err(|e| anyhow!("{e}"))?;
    let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(y_label)
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            Rectangle::new(
                [(i as f64 - 0.35, 0.0), (i as f64 + 0.35, b.1)],
                BLUE.mix(0.7).filled(),
            )
        }))
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Lets `draw` write the file at a temporary path next to `path`, then moves it over `path`
/// atomically (plotters' backends insist on writing a path themselves).
fn write_chart(path: &Path, draw: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let f = AtomicFile::create(path)?;
    draw(f.temp_path()).with_context(|| format!("cannot draw {}", path.display()))?;
    Ok(f.commit()?)
}

/// Writes a line chart to `stem.svg` and `stem.png`.
pub fn line_chart(stem: &Path, title: &str, x_label: &str, series: &[Series<'_>]) -> Result<()> {
    register_font();
    write_chart(&stem.with_extension("svg"), |svg| {
        draw_lines(
            &SVGBackend::new(svg, (720, 420)).into_drawing_area(),
            title,
            x_label,
            series,
        )
    })?;
    write_chart(&stem.with_extension("png"), |png| {
        draw_lines(
            &BitMapBackend::new(png, (720, 420)).into_drawing_area(),
            title,
            x_label,
            series,
        )
    })
}

/// Writes a bar chart to `stem.svg` and `stem.png`.
pub fn bar_chart(stem: &Path, title: &str, y_label: &str, bars: &[(String, f64)]) -> Result<()> {
    register_font();
    write_chart(&stem.with_extension("svg"), |svg| {
        draw_bars(
            &SVGBackend::new(svg, (720, 420)).into_drawing_area(),
            title,
            y_label,
            bars,
        )
    })?;
    write_chart(&stem.with_extension("png"), |png| {
        draw_bars(
            &BitMapBackend::new(png, (720, 420)).into_drawing_area(),
            title,
            y_label,
            bars,
        )
    })
}
