//! Every picture of the `snn` command line, drawn with `plotters`: line and bar charts, spike
//! rasters and receptive-field grids, as SVG or PNG. The libraries only return data
//! ([`SpikeRaster`], [`ReceptiveFields`]); drawing lives here, at the top.
//!
//! Text goes through `ab_glyph` with DejaVu Sans embedded in the binary (assets/fonts, with its
//! licence), registered once as "sans-serif": charts render the same on a machine without any
//! system font. Pictures are rendered in memory and reach the file system through one function
//! ([`write_picture`]).

use std::path::Path;
use std::sync::Once;

use anyhow::{Context, Result, anyhow, bail};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use snn_learn::stdp::plot::ReceptiveFields;
use snn_types::SpikeRaster;

static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The embedded font is a valid TTF; a failure would only degrade text, never panic.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

/// A picture file format, chosen by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Scalable vector graphics (`.svg`).
    Svg,
    /// Portable network graphics, 8-bit RGB (`.png`).
    Png,
}

impl Format {
    /// The format named by `path`'s extension (`.svg` or `.png`, any case), if any.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "svg" => Some(Format::Svg),
            "png" => Some(Format::Png),
            _ => None,
        }
    }

    fn of_or_err(path: &Path) -> Result<Format> {
        match Format::of(path) {
            Some(f) => Ok(f),
            None => bail!("{}: a picture must end in .svg or .png", path.display()),
        }
    }
}

/// Something drawable on any plotters backend, at a fixed size in pixels.
trait Picture {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

/// Renders `p` in memory as the bytes of an SVG or PNG file.
fn render(p: &impl Picture, format: Format) -> Result<Vec<u8>> {
    register_font();
    let (w, h) = p.size();
    match format {
        Format::Svg => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
                p.draw(&root)?;
                root.present().map_err(err)?;
            }
            Ok(s.into_bytes())
        }
        Format::Png => {
            let mut rgb = vec![255u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
                p.draw(&root)?;
                root.present().map_err(err)?;
            }
            let mut out = Vec::new();
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut wr = enc.write_header().map_err(err)?;
            wr.write_image_data(&rgb).map_err(err)?;
            wr.finish().map_err(err)?;
            Ok(out)
        }
    }
}

/// Writes a finished picture atomically ([`snn_types::file::atomic_write`]: a unique temporary,
/// fsync, rename), so a failed write never leaves half a picture behind. Every picture file goes
/// through here.
pub fn write_picture(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(snn_types::file::atomic_write(path, bytes)?)
}

/// Renders `p` in the format of `path`'s extension and writes it.
fn save(p: &impl Picture, path: &Path) -> Result<()> {
    let bytes = render(p, Format::of_or_err(path)?)
        .with_context(|| format!("cannot draw {}", path.display()))?;
    write_picture(path, &bytes)
}

/// Renders `p` as `stem.svg` and `stem.png`.
fn save_both(p: &impl Picture, stem: &Path) -> Result<()> {
    save(p, &stem.with_extension("svg"))?;
    save(p, &stem.with_extension("png"))
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
    root.fill(&WHITE).map_err(err)?;
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
        .map_err(err)?;
    chart.configure_mesh().x_desc(x_label).draw().map_err(err)?;
    let colours = [BLUE, RED, GREEN, MAGENTA];
    for (i, s) in series.iter().enumerate() {
        let c = colours[i % colours.len()];
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
            .map_err(err)?
            .label(s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
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
    root.fill(&WHITE).map_err(err)?;
    let top = bars.iter().map(|b| b.1).fold(0.0f64, f64::max).max(1e-12) * 1.1;
    let n = bars.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..top)
        .map_err(err)?;
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
        .map_err(err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            Rectangle::new(
                [(i as f64 - 0.35, 0.0), (i as f64 + 0.35, b.1)],
                BLUE.mix(0.7).filled(),
            )
        }))
        .map_err(err)?;
    Ok(())
}

struct Lines<'a, 'b> {
    title: &'a str,
    x_label: &'a str,
    series: &'a [Series<'b>],
}

impl Picture for Lines<'_, '_> {
    fn size(&self) -> (u32, u32) {
        (720, 420)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        draw_lines(root, self.title, self.x_label, self.series)
    }
}

struct Bars<'a> {
    title: &'a str,
    y_label: &'a str,
    bars: &'a [(String, f64)],
}

impl Picture for Bars<'_> {
    fn size(&self) -> (u32, u32) {
        (720, 420)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        draw_bars(root, self.title, self.y_label, self.bars)
    }
}

/// Writes a line chart to `stem.svg` and `stem.png`.
pub fn line_chart(stem: &Path, title: &str, x_label: &str, series: &[Series<'_>]) -> Result<()> {
    save_both(
        &Lines {
            title,
            x_label,
            series,
        },
        stem,
    )
}

/// Writes a bar chart to `stem.svg` and `stem.png`.
pub fn bar_chart(stem: &Path, title: &str, y_label: &str, bars: &[(String, f64)]) -> Result<()> {
    save_both(
        &Bars {
            title,
            y_label,
            bars,
        },
        stem,
    )
}

/// At most this many spike marks are drawn; beyond, every k-th is kept and the picture says so.
pub const MAX_SPIKE_MARKS: usize = 200_000;

/// Fill colour of spike marks (dark blue; nothing else in a raster uses it).
const SPIKE: RGBColor = RGBColor(20, 20, 120);
/// Fill of every other population's band.
const BAND: RGBColor = RGBColor(232, 236, 246);

struct Raster<'a> {
    title: &'a str,
    raster: &'a SpikeRaster,
    dt_ms: f64,
    populations: &'a [(String, u32, u32)],
}

impl Raster<'_> {
    fn n_neurons(&self) -> u32 {
        let pops = self
            .populations
            .iter()
            .map(|p| p.1.saturating_add(p.2))
            .max()
            .unwrap_or(0);
        let spikes = self.raster.neurons().iter().max().map_or(0, |&n| n + 1);
        pops.max(spikes).max(1)
    }
}

impl Picture for Raster<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 540)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(err)?;
        let n_neurons = self.n_neurons();
        let n_steps = self.raster.n_steps().max(1);
        let t0 = self.raster.start_step() as f64 * self.dt_ms;
        let t1 = t0 + n_steps as f64 * self.dt_ms;
        let y1 = n_neurons as f64;
        let labels = !self.populations.is_empty();
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, ("sans-serif", 18))
            .margin(12)
            .margin_right(if labels { 140 } else { 16 })
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(t0..t1, 0f64..y1)
            .map_err(err)?;
        // Alternate populations get a shaded band, drawn under the grid and the spikes.
        chart
            .draw_series(
                self.populations
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % 2 == 1)
                    .map(|(_, p)| {
                        let top = (p.1 as f64 + p.2 as f64).min(y1);
                        Rectangle::new([(t0, p.1 as f64), (t1, top)], BAND.filled())
                    }),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("time (ms)")
            .y_desc("neuron")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(err)?;
        // Population boundaries.
        chart
            .draw_series(
                self.populations
                    .iter()
                    .filter(|p| p.1 > 0 && p.1 < n_neurons)
                    .map(|p| {
                        PathElement::new(
                            vec![(t0, p.1 as f64), (t1, p.1 as f64)],
                            RGBColor(150, 150, 170).stroke_width(1),
                        )
                    }),
            )
            .map_err(err)?;

        // Spikes, as pixel-aligned marks at least one pixel wide and high; marks falling on the
        // same pixel cell are drawn once.
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let (w, h) = (
            (xr.end - xr.start).max(1) as u64,
            (yr.end - yr.start).max(1) as u64,
        );
        let nn = n_neurons as u64;
        let mut seen = vec![false; (w * h) as usize];
        let mut marks: Vec<[(i32, i32); 2]> = Vec::new();
        for sp in self.raster.iter() {
            let s = sp.step - self.raster.start_step();
            let n = sp.neuron as u64;
            let xa = s * w / n_steps;
            let xb = ((s + 1) * w / n_steps).max(xa + 1);
            let yb = h - n * h / nn; // bottom edge (neuron 0 at the bottom)
            let ya = (h - (n + 1) * h / nn).min(yb.saturating_sub(1));
            let cell = (ya.min(h - 1) * w + xa.min(w - 1)) as usize;
            if std::mem::replace(&mut seen[cell], true) {
                continue;
            }
            marks.push([
                (xr.start + xa as i32, yr.start + ya as i32),
                (xr.start + xb as i32, yr.start + yb as i32),
            ]);
        }
        let every = marks.len().div_ceil(MAX_SPIKE_MARKS).max(1);
        for m in marks.iter().step_by(every) {
            root.draw(&Rectangle::new(*m, SPIKE.filled()))
                .map_err(err)?;
        }
        let small = ("sans-serif", 12).into_font().color(&BLACK);
        if every > 1 {
            root.draw_text(
                &format!(
                    "{} spikes; every {every}th of {} marks drawn",
                    self.raster.len(),
                    marks.len()
                ),
                &small.pos(Pos::new(HPos::Left, VPos::Bottom)),
                (4, self.size().1 as i32 - 4),
            )
            .map_err(err)?;
        }

        // Population names in the right margin, at the middle of their range, skipping a name
        // that would overlap the previous one.
        let mut last_y: Option<i32> = None;
        let label = small.pos(Pos::new(HPos::Left, VPos::Center));
        for (name, start, size) in self.populations {
            let mid = *start as f64 + *size as f64 / 2.0;
            let (_, y) = chart.backend_coord(&(t1, mid.min(y1)));
            if last_y.is_some_and(|l| (y - l).abs() < 14) {
                continue;
            }
            last_y = Some(y);
            let text: String = if name.chars().count() > 18 {
                name.chars().take(17).chain(['…']).collect()
            } else {
                name.clone()
            };
            root.draw_text(&text, &label, (xr.end + 8, y))
                .map_err(err)?;
        }
        Ok(())
    }
}

/// Draws a spike raster to `path` (SVG or PNG by its extension): time in ms (`steps x dt_ms`)
/// across, global neuron index up (neuron 0 at the bottom), one mark per spike, and a band and
/// name per population `(name, first neuron, size)` (alternate bands shaded, names in the right
/// margin). Marks sharing a pixel are drawn once; beyond [`MAX_SPIKE_MARKS`] marks every k-th is
/// drawn and the picture says so.
pub fn raster_chart(
    path: &Path,
    title: &str,
    raster: &SpikeRaster,
    dt_ms: f64,
    populations: &[(String, u32, u32)],
) -> Result<()> {
    if !(dt_ms.is_finite() && dt_ms > 0.0) {
        bail!(
            "cannot draw {}: dt must be positive, got {dt_ms} ms",
            path.display()
        );
    }
    save(
        &Raster {
            title,
            raster,
            dt_ms,
            populations,
        },
        path,
    )
}

/// 32 grey levels: fields are drawn in runs of equal level, so SVG files stay small.
const LEVELS: f32 = 31.0;

struct Fields<'a> {
    title: &'a str,
    f: &'a ReceptiveFields,
    /// Pixels per input.
    scale: u32,
}

const FIELD_GAP: u32 = 4;
const FIELDS_TOP: u32 = 40;
const FIELDS_BOTTOM: u32 = 30;
const FIELDS_SIDE: u32 = 10;

impl Fields<'_> {
    fn new<'a>(title: &'a str, f: &'a ReceptiveFields) -> Fields<'a> {
        let across = (f.grid_cols * (f.cols + 1)).max(1) as u32;
        let scale = (760 / across).clamp(1, 16);
        Fields { title, f, scale }
    }
    fn field_px(&self) -> (u32, u32) {
        (
            self.f.cols as u32 * self.scale,
            self.f.rows as u32 * self.scale,
        )
    }
}

impl Picture for Fields<'_> {
    fn size(&self) -> (u32, u32) {
        let (fw, fh) = self.field_px();
        let gw = self.f.grid_cols as u32 * (fw + FIELD_GAP) + FIELD_GAP;
        let gh = self.f.grid_rows as u32 * (fh + FIELD_GAP) + FIELD_GAP;
        (
            (gw + 2 * FIELDS_SIDE).max(420),
            gh + FIELDS_TOP + FIELDS_BOTTOM,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (w, h) = self.size();
        let f = self.f;
        let (fw, fh) = self.field_px();
        let gw = f.grid_cols as u32 * (fw + FIELD_GAP) + FIELD_GAP;
        let gh = f.grid_rows as u32 * (fh + FIELD_GAP) + FIELD_GAP;
        let (x0, y0) = (((w - gw) / 2) as i32, FIELDS_TOP as i32);
        root.fill(&WHITE).map_err(err)?;
        root.draw_text(
            self.title,
            &("sans-serif", 16)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Center)),
            (w as i32 / 2, FIELDS_TOP as i32 / 2),
        )
        .map_err(err)?;
        root.draw(&Rectangle::new(
            [(x0, y0), (x0 + gw as i32, y0 + gh as i32)],
            RGBColor(128, 128, 128).filled(),
        ))
        .map_err(err)?;
        let s = self.scale as i32;
        for (j, field) in f.fields.iter().enumerate() {
            let (gy, gx) = ((j / f.grid_cols) as i32, (j % f.grid_cols) as i32);
            let fx = x0 + FIELD_GAP as i32 + gx * (fw + FIELD_GAP) as i32;
            let fy = y0 + FIELD_GAP as i32 + gy * (fh + FIELD_GAP) as i32;
            root.draw(&Rectangle::new(
                [(fx, fy), (fx + fw as i32, fy + fh as i32)],
                BLACK.filled(),
            ))
            .map_err(err)?;
            for r in 0..f.rows {
                let row = field.get(r * f.cols..(r + 1) * f.cols).unwrap_or(&[]);
                let level = |v: f32| (v.clamp(0.0, 1.0) * LEVELS).round() as u8;
                let mut c = 0;
                while c < row.len() {
                    let q = level(row[c]);
                    let mut end = c + 1;
                    while end < row.len() && level(row[end]) == q {
                        end += 1;
                    }
                    if q > 0 {
                        let g = (q as f32 * 255.0 / LEVELS).round() as u8;
                        let (xa, ya) = (fx + c as i32 * s, fy + r as i32 * s);
                        root.draw(&Rectangle::new(
                            [(xa, ya), (fx + end as i32 * s, ya + s)],
                            RGBColor(g, g, g).filled(),
                        ))
                        .map_err(err)?;
                    }
                    c = end;
                }
            }
        }
        root.draw_text(
            &format!(
                "{} neurons, {}x{} inputs each; black 0, white {:.3}",
                f.fields.len(),
                f.rows,
                f.cols,
                f.max_weight
            ),
            &("sans-serif", 13)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
            (FIELDS_SIDE as i32, h as i32 - FIELDS_BOTTOM as i32 / 2),
        )
        .map_err(err)?;
        Ok(())
    }
}

/// Draws receptive fields (each neuron's input weights as a grey image, black 0, white the
/// largest weight) as a grid to `path`, SVG or PNG by its extension.
pub fn receptive_fields_chart(path: &Path, title: &str, fields: &ReceptiveFields) -> Result<()> {
    if fields.fields.is_empty() || fields.rows == 0 || fields.cols == 0 {
        bail!("cannot draw {}: no receptive fields", path.display());
    }
    save(&Fields::new(title, fields), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg(p: &impl Picture) -> String {
        String::from_utf8(render(p, Format::Svg).unwrap()).unwrap()
    }

    #[test]
    fn raster_svg_has_axis_label_population_names_and_one_mark_per_spike() {
        let mut r = SpikeRaster::new(0);
        r.push_step(&[0, 5]);
        r.push_step(&[]);
        r.push_step(&[12]);
        let pops = [
            ("input".to_string(), 0, 10),
            ("output & co".to_string(), 10, 4),
        ];
        let s = svg(&Raster {
            title: "a raster",
            raster: &r,
            dt_ms: 0.5,
            populations: &pops,
        });
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        for text in [
            "time (ms)",
            "neuron",
            "a raster",
            "\ninput\n",
            "output &amp; co",
        ] {
            assert!(s.contains(text), "{text} missing");
        }
        assert_eq!(
            s.matches("fill=\"#141478\"").count(),
            3,
            "one mark per spike"
        );
    }

    #[test]
    fn large_rasters_are_capped_with_a_note() {
        let mut r = SpikeRaster::new(0);
        let all: Vec<u32> = (0..1000).collect();
        for _ in 0..900 {
            r.push_step(&all);
        }
        let s = svg(&Raster {
            title: "big",
            raster: &r,
            dt_ms: 1.0,
            populations: &[],
        });
        assert!(s.matches("fill=\"#141478\"").count() <= MAX_SPIKE_MARKS);
        assert!(s.contains("marks drawn"));
    }

    #[test]
    fn png_is_a_png_and_formats_follow_the_extension() {
        let r = SpikeRaster::from_spikes(0, 4, &[snn_types::Spike { step: 1, neuron: 2 }]);
        let p = render(
            &Raster {
                title: "t",
                raster: &r,
                dt_ms: 1.0,
                populations: &[],
            },
            Format::Png,
        )
        .unwrap();
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(Format::of(Path::new("a/B.PNG")), Some(Format::Png));
        assert_eq!(Format::of(Path::new("b.svg")), Some(Format::Svg));
        assert_eq!(Format::of(Path::new("c.gif")), None);
        assert!(raster_chart(Path::new("x.svg"), "t", &r, 0.0, &[]).is_err());
        assert!(raster_chart(Path::new("x.gif"), "t", &r, 1.0, &[]).is_err());
    }

    #[test]
    fn receptive_fields_draw_runs_of_grey() {
        let f = ReceptiveFields {
            rows: 2,
            cols: 3,
            grid_cols: 2,
            grid_rows: 1,
            max_weight: 0.5,
            fields: vec![vec![0.0, 1.0, 1.0, 0.5, 0.0, 0.0], vec![0.0; 6]],
        };
        let s = svg(&Fields::new("fields", &f));
        assert!(s.contains("white 0.500") && s.contains("\nfields\n"));
        // Background, grid, two black fields, one white run and one grey run.
        assert_eq!(s.matches("<rect").count(), 6);
        let p = render(&Fields::new("fields", &f), Format::Png).unwrap();
        assert_eq!(&p[1..4], b"PNG");
    }
}
