//! Receptive-field plots: the learned input weights of every neuron drawn as a grid of images
//! (PNG, or SVG embedding that PNG), as in Diehl & Cook (2015), Fig. 2.

use std::io::Write;
use std::path::Path;

use super::StdpError;
use super::diehl_cook::DiehlCook;

/// Grid geometry: each field `rows x cols` inputs, drawn `scale` pixels per input, one-pixel
/// gaps, fields laid out `grid_cols` across.
struct Layout {
    rows: usize,
    cols: usize,
    scale: usize,
    grid_cols: usize,
    grid_rows: usize,
}

impl Layout {
    fn width(&self) -> usize {
        self.grid_cols * (self.cols * self.scale + 1) + 1
    }
    fn height(&self) -> usize {
        self.grid_rows * (self.rows * self.scale + 1) + 1
    }
}

fn layout(m: &DiehlCook) -> Result<Layout, StdpError> {
    let (rows, cols) = m.shape();
    if rows * cols != m.n_inputs() || rows == 0 {
        return Err(StdpError::Data(format!(
            "cannot draw {} inputs as a {rows}x{cols} image",
            m.n_inputs()
        )));
    }
    let n = m.n_neurons();
    let grid_cols = (n as f64).sqrt().ceil() as usize;
    let grid_rows = n.div_ceil(grid_cols);
    let scale = (28 / rows.max(cols)).max(1);
    Ok(Layout {
        rows,
        cols,
        scale,
        grid_cols,
        grid_rows,
    })
}

/// Grayscale pixels (row-major, `width x height`) of the receptive-field grid: black is weight
/// 0, white the largest weight of the network; gaps are mid-grey.
pub fn receptive_field_pixels(m: &DiehlCook) -> Result<(usize, usize, Vec<u8>), StdpError> {
    let l = layout(m)?;
    let (w, h) = (l.width(), l.height());
    let mut px = vec![128u8; w * h];
    let max = m.weights().iter().cloned().fold(0f32, f32::max);
    let k = if max > 0.0 { 255.0 / max } else { 0.0 };
    for j in 0..m.n_neurons() {
        let field = m.receptive_field(j);
        let (gy, gx) = (j / l.grid_cols, j % l.grid_cols);
        let (y0, x0) = (
            1 + gy * (l.rows * l.scale + 1),
            1 + gx * (l.cols * l.scale + 1),
        );
        for r in 0..l.rows {
            for c in 0..l.cols {
                let v = (field[r * l.cols + c].max(0.0) * k).round().min(255.0) as u8;
                for dy in 0..l.scale {
                    let row = (y0 + r * l.scale + dy) * w;
                    for dx in 0..l.scale {
                        px[row + x0 + c * l.scale + dx] = v;
                    }
                }
            }
        }
    }
    Ok((w, h, px))
}

fn crc32(chunks: &[&[u8]]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for b in chunks.iter().flat_map(|s| s.iter()) {
        c ^= *b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Encodes 8-bit grayscale pixels as a PNG file.
pub fn encode_png(width: usize, height: usize, px: &[u8]) -> Result<Vec<u8>, StdpError> {
    if px.len() != width * height || width == 0 || height == 0 || width > u32::MAX as usize {
        return Err(StdpError::Data("bad image size".into()));
    }
    let mut raw = Vec::with_capacity((width + 1) * height);
    for row in px.chunks_exact(width) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let data = z
        .write_all(&raw)
        .and_then(|_| z.finish())
        .map_err(|e| StdpError::Data(format!("png: {e}")))?;
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8; 4], body: &[u8]| {
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out.extend_from_slice(&crc32(&[kind, body]).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grayscale
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &data);
    chunk(b"IEND", &[]);
    Ok(out)
}

fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                s.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// The receptive-field grid as a PNG file.
pub fn receptive_fields_png(m: &DiehlCook) -> Result<Vec<u8>, StdpError> {
    let (w, h, px) = receptive_field_pixels(m)?;
    encode_png(w, h, &px)
}

/// The receptive-field grid as an SVG document (the PNG embedded, drawn without smoothing,
/// at twice its size, with a caption).
pub fn receptive_fields_svg(m: &DiehlCook) -> Result<String, StdpError> {
    let (w, h, px) = receptive_field_pixels(m)?;
    let png = encode_png(w, h, &px)?;
    let (sw, sh) = (2 * w, 2 * h);
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{sw}\" height=\"{}\" viewBox=\"0 0 {sw} {}\">\n\
         <title>Receptive fields of {} neurons ({}x{} inputs)</title>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <image x=\"0\" y=\"0\" width=\"{sw}\" height=\"{sh}\" style=\"image-rendering:pixelated\" \
         href=\"data:image/png;base64,{}\"/>\n\
         <text x=\"4\" y=\"{}\" font-family=\"sans-serif\" font-size=\"14\">Diehl &amp; Cook: \
         input weights of {} neurons after {} epoch(s); black 0, white {:.3}</text>\n</svg>\n",
        sh + 24,
        sh + 24,
        m.n_neurons(),
        m.shape().0,
        m.shape().1,
        base64(&png),
        sh + 18,
        m.n_neurons(),
        m.epochs(),
        m.weights().iter().cloned().fold(0f32, f32::max),
    ))
}

/// Writes the receptive-field grid to `path` (atomically), as PNG for a `.png` extension and
/// SVG for `.svg`.
pub fn save_receptive_fields(m: &DiehlCook, path: &Path) -> Result<(), StdpError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let bytes = match ext.as_deref() {
        Some("png") => receptive_fields_png(m)?,
        Some("svg") => receptive_fields_svg(m)?.into_bytes(),
        _ => {
            return Err(StdpError::File {
                path: path.into(),
                reason: "weights plot must end in .svg or .png".into(),
            });
        }
    };
    Ok(snn_types::file::atomic_write(path, &bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_base64_known_values() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
    }
}
