//! Raster plots without dependencies: SVG (vector, labelled) and PNG (2-bit greyscale, with
//! tick numbers drawn from a built-in 3x5 digit font).
//!
//! Neuron 0 is at the bottom, time runs to the right; each spike is a small dark mark.
//!
//! ```
//! use snn_encode::SpikeRaster;
//! use snn_encode::plot::{PlotOptions, raster_png, raster_svg};
//!
//! let mut r = SpikeRaster::new(0);
//! r.push_step(&[0, 2]);
//! r.push_step(&[1]);
//! let svg = raster_svg(&r, 3, &PlotOptions::default());
//! assert!(svg.starts_with("<svg") && svg.contains("<rect"));
//! let png = raster_png(&r, 3, &PlotOptions::default());
//! assert_eq!(&png[1..4], b"PNG");
//! ```

use std::fmt::Write as _;

use snn_types::SpikeRaster;

/// Size and title of a plot.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotOptions {
    /// Image width in pixels (at least 160 is used).
    pub width_px: u32,
    /// Image height in pixels (at least 120 is used).
    pub height_px: u32,
    /// Title above the plot (SVG only).
    pub title: String,
}

impl Default for PlotOptions {
    fn default() -> Self {
        Self {
            width_px: 800,
            height_px: 500,
            title: String::new(),
        }
    }
}

const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 48.0;

struct Frame {
    w: f64,
    h: f64,
    n_steps: f64,
    n_neurons: f64,
}

impl Frame {
    fn new(raster: &SpikeRaster, n_neurons: usize, o: &PlotOptions) -> Self {
        Self {
            w: o.width_px.max(160) as f64,
            h: o.height_px.max(120) as f64,
            n_steps: raster.n_steps().max(1) as f64,
            n_neurons: n_neurons.max(1) as f64,
        }
    }
    fn plot_w(&self) -> f64 {
        self.w - LEFT - RIGHT
    }
    fn plot_h(&self) -> f64 {
        self.h - TOP - BOTTOM
    }
    fn x(&self, step: f64) -> f64 {
        LEFT + step / self.n_steps * self.plot_w()
    }
    /// Top edge of neuron row `n` (neuron 0 at the bottom).
    fn y(&self, neuron: f64) -> f64 {
        TOP + (1.0 - (neuron + 1.0) / self.n_neurons) * self.plot_h()
    }
    fn cell(&self) -> (f64, f64) {
        (
            (self.plot_w() / self.n_steps).max(1.0),
            (self.plot_h() / self.n_neurons).max(1.0),
        )
    }
}

/// About five "nice" tick values (1, 2 or 5 × 10^k apart) in `[0, max]`.
fn ticks(max: f64) -> Vec<u64> {
    if max <= 0.0 {
        return vec![0];
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
        .max(1.0)
        .round() as u64;
    (0..)
        .map(|i| i * step)
        .take_while(|&v| v as f64 <= max)
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An SVG raster plot of the neurons below `n_neurons`, with axes, ticks and labels.
pub fn raster_svg(raster: &SpikeRaster, n_neurons: usize, opts: &PlotOptions) -> String {
    let f = Frame::new(raster, n_neurons, opts);
    let (cw, ch) = f.cell();
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#,
        w = f.w,
        h = f.h
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    if !opts.title.is_empty() {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
            f.w / 2.0,
            escape(&opts.title)
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#444"/>"##,
        f.plot_w(),
        f.plot_h()
    );
    let bottom = TOP + f.plot_h();
    for t in ticks(f.n_steps) {
        let x = f.x(t as f64);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.2}" y1="{bottom}" x2="{x:.2}" y2="{}" stroke="#444"/><text x="{x:.2}" y="{}" text-anchor="middle">{t}</text>"##,
            bottom + 5.0,
            bottom + 18.0
        );
    }
    for n in ticks(f.n_neurons) {
        let y = f.y(n as f64 - 1.0).min(bottom);
        let _ = writeln!(
            s,
            r##"<line x1="{}" y1="{y:.2}" x2="{LEFT}" y2="{y:.2}" stroke="#444"/><text x="{}" y="{:.2}" text-anchor="end">{n}</text>"##,
            LEFT - 5.0,
            LEFT - 8.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">step</text>"#,
        LEFT + f.plot_w() / 2.0,
        f.h - 10.0
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{y}" text-anchor="middle" transform="rotate(-90 16 {y})">neuron</text>"#,
        y = TOP + f.plot_h() / 2.0
    );
    let _ = writeln!(s, r#"<g fill="black">"#);
    for sp in raster.iter() {
        if (sp.neuron as usize) < n_neurons {
            let rel = (sp.step - raster.start_step()) as f64;
            let _ = writeln!(
                s,
                r#"<rect x="{:.2}" y="{:.2}" width="{cw:.2}" height="{ch:.2}"/>"#,
                f.x(rel),
                f.y(sp.neuron as f64)
            );
        }
    }
    s.push_str("</g>\n</svg>\n");
    s
}

/// 3x5 glyphs of the digits 0-9, rows top to bottom, 3 bits per row (MSB left).
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn fill(&mut self, x0: f64, y0: f64, w: f64, h: f64, v: u8) {
        let xa = x0.floor().max(0.0) as usize;
        let ya = y0.floor().max(0.0) as usize;
        let xb = ((x0 + w).ceil().max(0.0) as usize).min(self.w);
        let yb = ((y0 + h).ceil().max(0.0) as usize).min(self.h);
        for y in ya..yb {
            for x in xa..xb {
                self.px[y * self.w + x] = v;
            }
        }
    }

    /// Draws a number with its centre at `cx` (or its right edge at `cx` when `right`), top at
    /// `y`, with 2x2-pixel font dots.
    fn number(&mut self, n: u64, cx: f64, y: f64, right: bool) {
        let text = n.to_string();
        let width = text.len() as f64 * 8.0 - 2.0;
        let mut x = if right { cx - width } else { cx - width / 2.0 };
        for ch in text.bytes() {
            let g = DIGITS[(ch - b'0') as usize];
            for (r, bits) in g.iter().enumerate() {
                for c in 0..3 {
                    if bits >> (2 - c) & 1 == 1 {
                        self.fill(x + c as f64 * 2.0, y + r as f64 * 2.0, 2.0, 2.0, 0);
                    }
                }
            }
            x += 8.0;
        }
    }
}

/// A PNG raster plot (2-bit greyscale, uncompressed deflate blocks) of the neurons below
/// `n_neurons`, with a frame and numbered ticks. The title is not drawn.
pub fn raster_png(raster: &SpikeRaster, n_neurons: usize, opts: &PlotOptions) -> Vec<u8> {
    let f = Frame::new(raster, n_neurons, opts);
    let (w, h) = (f.w as usize, f.h as usize);
    let mut c = Canvas {
        w,
        h,
        px: vec![255; w * h],
    };
    let (pw, ph) = (f.plot_w(), f.plot_h());
    let bottom = TOP + ph;
    // Frame.
    c.fill(LEFT, TOP, pw, 1.0, 85);
    c.fill(LEFT, bottom, pw + 1.0, 1.0, 85);
    c.fill(LEFT, TOP, 1.0, ph, 85);
    c.fill(LEFT + pw, TOP, 1.0, ph, 85);
    for t in ticks(f.n_steps) {
        let x = f.x(t as f64);
        c.fill(x, bottom, 1.0, 5.0, 85);
        c.number(t, x, bottom + 9.0, false);
    }
    for n in ticks(f.n_neurons) {
        let y = f.y(n as f64 - 1.0).min(bottom);
        c.fill(LEFT - 5.0, y, 5.0, 1.0, 85);
        c.number(n, LEFT - 9.0, y - 5.0, true);
    }
    let (cw, ch) = f.cell();
    for sp in raster.iter() {
        if (sp.neuron as usize) < n_neurons {
            let rel = (sp.step - raster.start_step()) as f64;
            c.fill(f.x(rel), f.y(sp.neuron as f64), cw, ch, 0);
        }
    }
    encode_png_gray2(w, h, &c.px)
}

fn crc32(data: &[&[u8]]) -> u32 {
    let mut table = [0u32; 256];
    for (i, e) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *e = c;
    }
    let mut crc = 0xFFFF_FFFFu32;
    for part in data {
        for &b in *part {
            crc = table[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
}

/// Encodes 8-bit grey pixels as a 2-bit greyscale PNG (values quantised to 0, 85, 170, 255).
fn encode_png_gray2(w: usize, h: usize, px: &[u8]) -> Vec<u8> {
    let row_bytes = w.div_ceil(4);
    let mut raw = Vec::with_capacity(h * (row_bytes + 1));
    for y in 0..h {
        raw.push(0); // filter: none
        for xb in 0..row_bytes {
            let mut byte = 0u8;
            for k in 0..4 {
                let x = xb * 4 + k;
                let v = if x < w { px[y * w + x] >> 6 } else { 0 };
                byte |= v << (6 - 2 * k);
            }
            raw.push(byte);
        }
    }
    // zlib stream of stored (uncompressed) deflate blocks.
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, b) in blocks.iter().enumerate() {
        z.push((i + 1 == blocks.len()) as u8);
        z.extend_from_slice(&(b.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(b.len() as u16)).to_le_bytes());
        z.extend_from_slice(b);
    }
    let (mut a, mut bsum) = (1u32, 0u32);
    for &v in &raw {
        a = (a + v as u32) % 65_521;
        bsum = (bsum + a) % 65_521;
    }
    z.extend_from_slice(&((bsum << 16) | a).to_be_bytes());
    let mut out = vec![0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n'];
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[2, 0, 0, 0, 0]); // bit depth 2, greyscale, deflate, no filter, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_iend_is_the_known_constant() {
        assert_eq!(crc32(&[b"IEND"]), 0xAE42_6082);
    }

    #[test]
    fn ticks_are_nice() {
        assert_eq!(ticks(100.0), vec![0, 20, 40, 60, 80, 100]);
        assert_eq!(ticks(64.0), vec![0, 20, 40, 60]);
        assert_eq!(ticks(3.0), vec![0, 1, 2, 3]);
    }
}
