//! `snn encode`: turn a digits image or a CSV row into spikes, write the raster (CSV) and a raster
//! plot (SVG/PNG), and report how well the scheme's decoder recovers the input.
//!
//! Examples:
//!   snn encode                                        # digit 0, Poisson rate code, 100 steps
//!   snn encode --scheme ttfs --digit-index 7 --out r.csv --plot r.svg
//!   snn encode --scheme population --neurons-per-feature 10 --json
//!   snn encode --scheme delta --csv signal.csv --row 3 --min -1 --max 1 --threshold 0.05

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use snn_encode::{
    DeltaEncoder, EncodeError, Encoder, Normalize, PopulationEncoder, RateEncoder, SpikeRaster,
    TtfsEncoder,
};

use crate::usage::usage;

/// An encoder constructor's refusal as a usage error naming the flag the parameter came from.
fn flag_error(e: EncodeError) -> anyhow::Error {
    match e {
        EncodeError::InvalidParameter { name, reason } => {
            let flag = match name {
                "max_rate_hz" => "--max-rate-hz",
                "dt_ms" => "--dt-ms",
                "steps" => "--steps",
                "threshold" | "x_min" => "--threshold",
                "beta" => "--beta",
                "neurons_per_feature" => "--neurons-per-feature",
                "min/max" => "--min/--max",
                other => other,
            };
            usage(format!("{flag}: {reason}"))
        }
        other => anyhow::Error::new(other),
    }
}

/// The bundled 8x8 digits (64 pixels 0..16, then the label, per line).
const DIGITS_CSV: &str = include_str!("../../../data/digits/digits.csv");

/// Encoding scheme of `snn encode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheme {
    /// Rate code: Poisson (Bernoulli per step, p = x * max_rate_hz * dt_ms / 1000), or evenly
    /// spaced spikes with --deterministic.
    Rate,
    /// Time to first spike: one spike per feature at most, brighter = earlier.
    Ttfs,
    /// Send-on-delta: the row is a signal over time (one value per step); neuron 0 = ON, 1 = OFF.
    Delta,
    /// Gaussian receptive fields: --neurons-per-feature neurons per feature, latency coded.
    Population,
}

/// Latency mapping of `--scheme ttfs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TtfsMap {
    /// t = round((1 - x) (steps - 1)).
    Linear,
    /// t = round((steps - 1) ln x / ln x_min), x_min = --threshold (default 0.01).
    Log,
}

/// Arguments of `snn encode`.
///
/// Input: the bundled digits image `--digit-index N` (default: image 0), or row `--row N` of a
/// CSV file `--csv FILE`. Features are normalised to [0, 1] with `--min`/`--max` (defaults
/// 0..16, the digits' pixel range).
#[derive(clap::Args, Debug)]
pub struct EncodeArgs {
    /// Encoding scheme.
    #[arg(long, value_enum, default_value_t = Scheme::Rate)]
    scheme: Scheme,
    /// Image of the bundled 8x8 digits set to encode (0..=1796; default 0 when no --csv).
    #[arg(long, value_name = "N", conflicts_with = "csv")]
    digit_index: Option<usize>,
    /// CSV file of comma-separated numbers, one sample per line (blank lines and lines starting
    /// with '#' are skipped).
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Row of --csv to encode (0-based, counting data rows only).
    #[arg(long, value_name = "N", default_value_t = 0, requires = "csv")]
    row: usize,
    /// The last column of the CSV is a label, not a feature.
    #[arg(long, requires = "csv")]
    label_column: bool,
    /// Raw value mapped to intensity 0.
    #[arg(
        long,
        value_name = "X",
        default_value_t = 0.0,
        allow_negative_numbers = true,
        value_parser = crate::usage::parse_f32
    )]
    min: f32,
    /// Raw value mapped to intensity 1.
    #[arg(
        long,
        value_name = "X",
        default_value_t = 16.0,
        allow_negative_numbers = true,
        value_parser = crate::usage::parse_f32
    )]
    max: f32,
    /// Time steps to encode over (default 100; delta uses one step per input value instead).
    #[arg(long, value_name = "T")]
    steps: Option<usize>,
    /// Step length in ms (rate code).
    #[arg(long, value_name = "MS", default_value_t = 1.0)]
    dt_ms: f64,
    /// Firing rate at full intensity in Hz (rate code only; default 200).
    #[arg(long, value_name = "HZ")]
    max_rate_hz: Option<f64>,
    /// Rate code with evenly spaced spikes instead of Poisson draws.
    #[arg(long)]
    deterministic: bool,
    /// Latency mapping of the ttfs scheme.
    #[arg(long, value_enum, value_name = "MAP")]
    ttfs_mapping: Option<TtfsMap>,
    /// ttfs: intensity below which a feature does not fire (linear default 0, log default 0.01);
    /// delta: change of the normalised signal per event (default 0.05); population: activation
    /// below which a field does not fire (default 0.1).
    #[arg(long, value_name = "X")]
    threshold: Option<f64>,
    /// Receptive fields per feature (population code only; default 8).
    #[arg(long, value_name = "N")]
    neurons_per_feature: Option<usize>,
    /// Receptive field width factor: sigma = spacing / beta (population code only; default 1.5).
    #[arg(long, value_name = "B")]
    beta: Option<f64>,
    /// Seed of the random streams (Poisson rate code).
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Write the raster as CSV (`step,neuron` per line after a header, sorted).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Draw a raster plot; the format follows the extension: .svg or .png.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Memory budget (e.g. 512M, 8G; default: the memory available): an encoding whose raster
    /// would exceed it is refused before allocating.
    #[arg(long, value_name = "SIZE", value_parser = crate::budget::parse_max_memory)]
    max_memory: Option<u64>,
}

/// Where the features came from.
struct Input {
    description: String,
    label: Option<String>,
    values: Vec<f32>,
}

fn parse_row(line: &str, what: &str) -> Result<Vec<f32>> {
    line.split(',')
        .enumerate()
        .map(|(i, cell)| {
            let cell = cell.trim();
            match crate::usage::f32_of(cell) {
                Ok(v) if v.is_finite() => Ok(v),
                Err(why) if why == crate::usage::BEYOND_F32 => {
                    anyhow::bail!("{what}, column {}: '{cell}' {why}", i + 1)
                }
                _ => anyhow::bail!("{what}, column {}: '{cell}' is not a finite number", i + 1),
            }
        })
        .collect()
}

fn load_input(a: &EncodeArgs) -> Result<Input> {
    if let Some(path) = &a.csv {
        let text = snn_types::file::read_text(path)
            .map_err(|e| anyhow::anyhow!("cannot read --csv {}: {}", path.display(), e.reason()))?;
        let rows: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .collect();
        let Some(&(line_no, line)) = rows.get(a.row) else {
            return Err(usage(format!(
                "--row {}: {} has {} data row(s)",
                a.row,
                path.display(),
                rows.len()
            )));
        };
        let what = format!("{} line {}", path.display(), line_no + 1);
        let mut values = parse_row(line, &what)?;
        let label = if a.label_column {
            let l = values
                .pop()
                .with_context(|| format!("{what}: no label column"))?;
            Some(format!("{l}"))
        } else {
            None
        };
        if values.is_empty() {
            bail!("{what}: no features");
        }
        return Ok(Input {
            description: format!("{} row {}", path.display(), a.row),
            label,
            values,
        });
    }
    let index = a.digit_index.unwrap_or(0);
    let n = DIGITS_CSV.lines().count();
    let Some(line) = DIGITS_CSV.lines().nth(index) else {
        return Err(usage(format!(
            "--digit-index {index}: the bundled digits set has {n} images (0..={})",
            n - 1
        )));
    };
    let mut values = parse_row(line, "bundled digits")?;
    let label = values.pop().map(|l| format!("{l}"));
    Ok(Input {
        description: format!("digit #{index}"),
        label,
        values,
    })
}

fn plot_format(path: &Path) -> Result<crate::charts::Format> {
    match crate::charts::Format::of(path) {
        Some(f) => Ok(f),
        None => Err(usage(format!(
            "--plot {}: unsupported format; supported: .svg, .png",
            path.display()
        ))),
    }
}

/// Writes `bytes` to `path` atomically (see [`snn_types::file::atomic_write`]).
fn write_atomic(path: &Path, flag: &str, bytes: &[u8]) -> Result<()> {
    // The error names the path and the reason; the context adds only the flag.
    snn_types::file::atomic_write(path, bytes).context(flag.to_string())
}

fn raster_csv(r: &SpikeRaster) -> String {
    let mut s = String::with_capacity(16 + r.len() * 8);
    s.push_str("step,neuron\n");
    for sp in r.iter() {
        s.push_str(&format!("{},{}\n", sp.step, sp.neuron));
    }
    s
}

/// The result of one encoding, for the summary.
struct Encoded {
    scheme: String,
    raster: SpikeRaster,
    neurons: usize,
    /// Decoded values (normalised units) and the stated bound (None: statistical only).
    decoded: Vec<f32>,
    bound: Option<f64>,
}

fn encode(a: &EncodeArgs, x: &[f32], norm: Normalize) -> Result<Encoded> {
    let n = x.len();
    let steps = match (a.scheme, a.steps) {
        (Scheme::Delta, Some(_)) => {
            return Err(usage(
                "--steps does not apply to --scheme delta (one step per input value)",
            ));
        }
        (_, s) => s.unwrap_or(100),
    };
    if a.deterministic && a.scheme != Scheme::Rate {
        return Err(usage("--deterministic applies only to --scheme rate"));
    }
    if a.ttfs_mapping.is_some() && a.scheme != Scheme::Ttfs {
        return Err(usage("--ttfs-mapping applies only to --scheme ttfs"));
    }
    // Given to another scheme, these were silently ignored (they have defaults of their own).
    if a.max_rate_hz.is_some() && a.scheme != Scheme::Rate {
        return Err(usage("--max-rate-hz applies only to --scheme rate"));
    }
    for (flag, given) in [
        ("--neurons-per-feature", a.neurons_per_feature.is_some()),
        ("--beta", a.beta.is_some()),
    ] {
        if given && a.scheme != Scheme::Population {
            return Err(usage(format!("{flag} applies only to --scheme population")));
        }
    }
    let max_rate_hz = a.max_rate_hz.unwrap_or(200.0);
    let neurons_per_feature = a.neurons_per_feature.unwrap_or(8);
    let beta = a.beta.unwrap_or(1.5);
    if a.threshold.is_some() && a.scheme == Scheme::Rate {
        return Err(usage("--threshold does not apply to --scheme rate"));
    }
    // The threshold reaches ttfs as an f32: refuse what f32 cannot hold rather than round it.
    if let Some(t) = a.threshold
        && a.scheme == Scheme::Ttfs
        && !(t as f32).is_finite()
    {
        return Err(usage(format!(
            "--threshold: must be a finite number, got {t}"
        )));
    }
    let mut u = vec![0.0; n];
    norm.normalize_into(x, &mut u).context("input")?;
    let budget = crate::budget::budget(a.max_memory);
    Ok(match a.scheme {
        Scheme::Rate => {
            let enc = if a.deterministic {
                RateEncoder::regular(max_rate_hz, a.dt_ms, steps)
            } else {
                RateEncoder::poisson(max_rate_hz, a.dt_ms, steps)
            }
            .map_err(flag_error)?;
            enc.check_raster_memory(n, &budget)?;
            let raster = enc.encode(x, norm, a.seed)?;
            Encoded {
                scheme: format!(
                    "rate ({}, max {} Hz, dt {} ms)",
                    if a.deterministic {
                        "regular"
                    } else {
                        "poisson"
                    },
                    max_rate_hz,
                    a.dt_ms
                ),
                decoded: enc.decode(&raster, n),
                neurons: n,
                raster,
                bound: a.deterministic.then(|| enc.max_abs_error() as f64),
            }
        }
        Scheme::Ttfs => {
            let map = a.ttfs_mapping.unwrap_or(TtfsMap::Linear);
            let enc = match map {
                TtfsMap::Linear => TtfsEncoder::linear(steps, a.threshold.unwrap_or(0.0) as f32),
                TtfsMap::Log => TtfsEncoder::log(steps, a.threshold.unwrap_or(0.01) as f32),
            }
            .map_err(flag_error)?;
            enc.check_raster_memory(n, &budget)?;
            let raster = enc.encode(x, norm, a.seed)?;
            Encoded {
                scheme: format!(
                    "ttfs ({}, threshold {})",
                    if map == TtfsMap::Linear {
                        "linear"
                    } else {
                        "log"
                    },
                    enc.threshold()
                ),
                decoded: enc.decode(&raster, n),
                neurons: n,
                raster,
                bound: Some(enc.max_abs_error() as f64),
            }
        }
        Scheme::Population => {
            let enc = PopulationEncoder::new(
                neurons_per_feature,
                beta,
                steps,
                a.threshold.unwrap_or(0.1),
            )
            .map_err(flag_error)?;
            enc.check_raster_memory(n, &budget)?;
            let raster = enc.encode(x, norm, a.seed)?;
            let bound = enc.max_abs_error() as f64;
            Encoded {
                scheme: format!(
                    "population ({} fields per feature, beta {})",
                    neurons_per_feature, beta
                ),
                decoded: enc.decode(&raster, n),
                neurons: n * neurons_per_feature,
                raster,
                bound: bound.is_finite().then_some(bound),
            }
        }
        Scheme::Delta => {
            let theta = a.threshold.unwrap_or(0.05);
            let enc = DeltaEncoder::send_on_delta(theta).map_err(flag_error)?;
            let raster = enc.encode(&u, 1)?;
            Encoded {
                scheme: format!("delta (send-on-delta, threshold {theta})"),
                decoded: enc.decode(&raster, &u[..1]),
                neurons: 2,
                raster,
                bound: Some(theta),
            }
        }
    })
}

/// Runs `snn encode`.
pub fn run(a: EncodeArgs) -> Result<()> {
    crate::outputs::check(
        &[("--out", a.out.as_deref()), ("--plot", a.plot.as_deref())],
        &[crate::outputs::Input::new(a.csv.as_deref())],
    )?;
    a.plot.as_deref().map(plot_format).transpose()?;
    let norm = Normalize::new(a.min, a.max).map_err(flag_error)?;
    let input = load_input(&a)?;
    let x = &input.values;
    let e = encode(&a, x, norm)?;

    if let Some(path) = &a.out {
        write_atomic(path, "--out", raster_csv(&e.raster).as_bytes())?;
    }
    if let Some(path) = &a.plot {
        crate::charts::raster_chart(
            path,
            &format!("snn encode: {}, {}", input.description, e.scheme),
            &e.raster,
            a.dt_ms,
            &[("encoded input".to_string(), 0, e.neurons as u32)],
        )
        .context("--plot")?;
    }

    let u: Vec<f32> = x.iter().map(|&v| norm.apply(v)).collect();
    let max_err = u
        .iter()
        .zip(&e.decoded)
        .map(|(a, b)| (a - b).abs() as f64)
        .fold(0.0, f64::max);
    let steps = e.raster.n_steps();
    let spikes = e.raster.len();
    let active = e
        .raster
        .counts(e.neurons)
        .iter()
        .filter(|&&c| c > 0)
        .count();
    let per_feature = spikes as f64 / x.len() as f64;
    if a.json {
        let j = serde_json::json!({
            "scheme": e.scheme,
            "input": input.description,
            "label": input.label,
            "features": x.len(),
            "min": a.min,
            "max": a.max,
            "steps": steps,
            "neurons": e.neurons,
            "spikes": spikes,
            "active_neurons": active,
            "spikes_per_feature": per_feature,
            "seed": a.seed,
            "decode_max_abs_error": max_err,
            "error_bound": e.bound,
            "out": a.out.as_ref().map(|p| p.display().to_string()),
            "plot": a.plot.as_ref().map(|p| p.display().to_string()),
        });
        outln!("{j}");
    } else {
        outln!("scheme           {}", e.scheme);
        match &input.label {
            Some(l) => outln!("input            {} (label {l})", input.description),
            None => outln!("input            {}", input.description),
        }
        outln!(
            "features         {} (normalised from {}..{})",
            x.len(),
            a.min,
            a.max
        );
        outln!("steps            {steps}");
        outln!("neurons          {} ({active} fired)", e.neurons);
        outln!("spikes           {spikes} ({per_feature:.2} per feature)");
        match e.bound {
            Some(b) => {
                outln!("decoded          max |x - x̂| = {max_err:.4} (stated bound {b:.4})")
            }
            None => {
                outln!("decoded          max |x - x̂| = {max_err:.4} (Poisson: statistical error)")
            }
        }
        if let Some(p) = &a.out {
            outln!("raster           {}", p.display());
        }
        if let Some(p) = &a.plot {
            outln!("plot             {}", p.display());
        }
    }
    Ok(())
}
