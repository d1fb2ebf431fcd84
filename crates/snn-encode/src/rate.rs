//! Rate codes: Poisson (Bernoulli per step) and deterministic regular spike trains.

use snn_types::{SpikeRaster, Step};

use crate::error::{EncodeError, positive, steps_at_least};
use crate::{Encoder, SampleRng, SpikeSink, unit};

/// How a [`RateEncoder`] places its spikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateMode {
    /// One independent Bernoulli draw per step with probability `p` (a discrete Poisson process).
    Poisson,
    /// Evenly spaced spikes, no randomness: the spike count up to and including step `t` is
    /// `floor((t + 1) * p + 1/2)`.
    Regular,
}

/// Rate coding: intensity `x` in `[0, 1]` becomes a spike probability per step
///
/// `p(x) = min(1, x * max_rate_hz * dt_ms / 1000)`
///
/// * [`RateMode::Poisson`]: each step spikes independently with probability `p`, so the count
///   over `T` steps is Binomial(`T`, `p`): mean `T p`, variance `T p (1 - p)`. The draw compares
///   32 random bits with `round(p * 2^32)`, so `p` is exact to `2^-33`; `p = 0` never spikes and
///   `p = 1` spikes every step.
/// * [`RateMode::Regular`]: the count up to step `t` is `floor((t + 1) p + 1/2)`, so the total
///   count is `round(T p)` and [`decode`](Self::decode) recovers `x` within
///   [`max_abs_error`](Self::max_abs_error) `= 1 / (2 T p_max)` (for `x` whose rate is not
///   clamped).
///
/// Decoding is `x̂ = count / (T * p_max)`, clamped to `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RateEncoder {
    mode: RateMode,
    max_rate_hz: f64,
    dt_ms: f64,
    steps: usize,
    p_max: f64,
}

/// A number for a message: plain when moderate, in scientific notation when very large or
/// small (`1e308`, not 309 digits).
fn short(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-4..1e9).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

impl RateEncoder {
    /// A rate encoder. Errors unless `max_rate_hz > 0`, `dt_ms > 0` (both finite),
    /// `steps >= 1`, and the per-step spike probability at full intensity,
    /// `max_rate_hz * dt_ms / 1000`, is at most 1 (a neuron fires at most once per step).
    pub fn new(
        mode: RateMode,
        max_rate_hz: f64,
        dt_ms: f64,
        steps: usize,
    ) -> Result<Self, EncodeError> {
        positive("max_rate_hz", max_rate_hz)?;
        positive("dt_ms", dt_ms)?;
        steps_at_least("steps", steps, 1)?;
        let p = max_rate_hz * dt_ms / 1000.0;
        if p > 1.0 {
            return Err(EncodeError::param(
                "max_rate_hz",
                format!(
                    "{} Hz at dt = {} ms is a spike probability of {} per step, above 1 (at most {} Hz at this dt, or a shorter dt)",
                    short(max_rate_hz),
                    short(dt_ms),
                    short(p),
                    short(1000.0 / dt_ms)
                ),
            ));
        }
        Ok(Self {
            mode,
            max_rate_hz,
            dt_ms,
            steps,
            p_max: (max_rate_hz * dt_ms / 1000.0).min(1.0),
        })
    }

    /// A Poisson (Bernoulli per step) encoder.
    pub fn poisson(max_rate_hz: f64, dt_ms: f64, steps: usize) -> Result<Self, EncodeError> {
        Self::new(RateMode::Poisson, max_rate_hz, dt_ms, steps)
    }

    /// A deterministic regular-rate encoder.
    pub fn regular(max_rate_hz: f64, dt_ms: f64, steps: usize) -> Result<Self, EncodeError> {
        Self::new(RateMode::Regular, max_rate_hz, dt_ms, steps)
    }

    /// The mode.
    pub fn mode(&self) -> RateMode {
        self.mode
    }

    /// Rate at full intensity, in Hz.
    pub fn max_rate_hz(&self) -> f64 {
        self.max_rate_hz
    }

    /// Step length in ms.
    pub fn dt_ms(&self) -> f64 {
        self.dt_ms
    }

    /// Spike probability per step at full intensity, `min(1, max_rate_hz * dt_ms / 1000)`.
    pub fn p_max(&self) -> f64 {
        self.p_max
    }

    /// Spike probability per step of a normalised intensity `x`: `p = x * p_max`.
    pub fn probability(&self, x: f32) -> f64 {
        unit(x) as f64 * self.p_max
    }

    /// Decodes per-feature intensities from spike counts: `x̂ = count / (T p_max)`, clamped to
    /// `[0, 1]`.
    pub fn decode(&self, raster: &SpikeRaster, n_features: usize) -> Vec<f32> {
        let scale = 1.0 / (self.steps as f64 * self.p_max);
        raster
            .counts(n_features)
            .into_iter()
            .map(|c| ((c as f64 * scale) as f32).clamp(0.0, 1.0))
            .collect()
    }

    /// Worst-case `|x̂ - x|` of [`decode`](Self::decode) for [`RateMode::Regular`]:
    /// `1 / (2 T p_max)`. For [`RateMode::Poisson`] the error is statistical; its standard
    /// deviation is `sqrt(p (1 - p) / T) / p_max`.
    pub fn max_abs_error(&self) -> f32 {
        (0.5 / (self.steps as f64 * self.p_max)) as f32
    }
}

impl Encoder for RateEncoder {
    fn n_steps(&self) -> usize {
        self.steps
    }

    /// Regular: `round(T p_max)`; Poisson: the mean `T p_max` plus six standard deviations (a
    /// Binomial count beyond it has probability below 1e-9), at most `T`.
    fn max_spikes_per_feature(&self) -> u64 {
        let t = self.steps as f64;
        let p = self.p_max;
        let bound = match self.mode {
            RateMode::Regular => (t * p).round() + 1.0,
            RateMode::Poisson => (t * p + 6.0 * (t * p * (1.0 - p)).sqrt()).ceil() + 1.0,
        };
        (bound.min(t)) as u64
    }

    fn encode_normalized<S: SpikeSink>(&self, x: &[f32], rng: &mut SampleRng, sink: &mut S) {
        let steps = self.steps;
        match self.mode {
            RateMode::Poisson => {
                // Feature-major: a feature with p = 0 draws nothing. Each 64-bit draw serves two
                // steps (two 32-bit comparisons against round(p * 2^32)).
                for (f, &xf) in x.iter().enumerate() {
                    let p = self.probability(xf);
                    let thr = (p * 4_294_967_296.0).round() as u64;
                    if thr == 0 {
                        continue;
                    }
                    let f = f as u32;
                    let mut t = 0;
                    while t + 1 < steps {
                        let r = rng.next_u64();
                        if (r & 0xFFFF_FFFF) < thr {
                            sink.on_step(t as Step, &[f]);
                        }
                        if (r >> 32) < thr {
                            sink.on_step((t + 1) as Step, &[f]);
                        }
                        t += 2;
                    }
                    if t < steps && (rng.next_u64() >> 32) < thr {
                        sink.on_step(t as Step, &[f]);
                    }
                }
            }
            RateMode::Regular => {
                for (f, &xf) in x.iter().enumerate() {
                    let p = self.probability(xf);
                    if p <= 0.0 {
                        continue;
                    }
                    let mut prev = 0u64; // floor(0 * p + 1/2)
                    for t in 0..steps {
                        let c = ((t + 1) as f64 * p + 0.5).floor() as u64;
                        if c > prev {
                            sink.on_step(t as Step, &[f as u32]);
                        }
                        prev = c;
                    }
                }
            }
        }
    }
}
