//! Spike files: `step,neuron` CSV (the format `snn simulate --raster` writes).

use std::path::Path;

use snn_types::Spike;

use crate::error::RunError;

/// Parses `step,neuron` lines (an optional `step,neuron` header, blank lines and `#` comments
/// allowed). `origin` names the source in errors.
pub fn parse_spike_csv(text: &str, origin: &str) -> Result<Vec<Spike>, RunError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || (i == 0 && l.eq_ignore_ascii_case("step,neuron")) {
            continue;
        }
        let err = |m: &str| RunError::SpikeFile {
            path: origin.to_string(),
            message: format!("line {}: {m}: '{l}'", i + 1),
        };
        let mut it = l.split(',').map(str::trim);
        let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) else {
            return Err(err("expected two fields `step,neuron`"));
        };
        let step = a
            .parse::<u64>()
            .map_err(|_| err("step is not a non-negative integer"))?;
        let neuron = b
            .parse::<u32>()
            .map_err(|_| err("neuron is not a non-negative integer"))?;
        out.push(Spike { step, neuron });
    }
    Ok(out)
}

/// Reads a spike CSV file.
pub fn read_spike_csv(path: &Path) -> Result<Vec<Spike>, RunError> {
    let text = snn_types::file::read_text(path).map_err(|e| RunError::SpikeFile {
        path: path.display().to_string(),
        message: e.reason(),
    })?;
    parse_spike_csv(&text, &path.display().to_string())
}
