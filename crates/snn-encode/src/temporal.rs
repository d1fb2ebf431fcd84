//! Temporal codes: time to first spike (latency), phase and burst coding.

use snn_types::{SpikeRaster, Step};

use crate::decode::first_spike_steps;
use crate::error::{EncodeError, in_range, steps_at_least};
use crate::{Encoder, SampleRng, SpikeSink, unit};

/// The latency mapping of a [`TtfsEncoder`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TtfsMapping {
    /// `t(x) = round((1 - x) * (T - 1))`.
    Linear,
    /// `t(x) = round((T - 1) * ln(x) / ln(x_min))`: equal ratios of intensity get equal delays.
    Log,
}

/// Time-to-first-spike (latency) coding: each input fires at most once, brighter inputs earlier.
///
/// With `T` steps and `t_max = T - 1`, an input `x` in `[0, 1]` fires at step
///
/// * linear: `t(x) = round((1 - x) t_max)` if `x > 0` and `x >= threshold`;
/// * log: `t(x) = round(t_max ln(x) / ln(x_min))` if `x >= x_min` (the threshold), so `x = 1`
///   fires at 0 and `x = x_min` at `t_max`;
///
/// and never otherwise. Both are non-increasing in `x` (monotone).
///
/// Decoding maps a spike at `t` back to `x̂ = 1 - t / t_max` (linear) or
/// `x̂ = x_min^(t / t_max)` (log), and no spike to 0. Error bounds
/// ([`max_abs_error`](Self::max_abs_error)):
///
/// * linear: `|x̂ - x| <= 1 / (2 t_max)` for inputs that fire, `< threshold` for those that
///   do not;
/// * log: `|ln x̂ - ln x| <= |ln x_min| / (2 t_max)`, so `|x̂ - x| <= x_min^(-1/(2 t_max)) - 1`
///   for inputs that fire, `< x_min` for those that do not.
#[derive(Debug, Clone, PartialEq)]
pub struct TtfsEncoder {
    mapping: TtfsMapping,
    steps: usize,
    threshold: f32,
}

impl TtfsEncoder {
    /// Linear latency over `steps >= 2` steps; inputs below `threshold` (in `[0, 1)`) and zero
    /// inputs do not fire.
    pub fn linear(steps: usize, threshold: f32) -> Result<Self, EncodeError> {
        steps_at_least("steps", steps, 2)?;
        in_range("threshold", threshold as f64, 0.0, 1.0, false)?;
        Ok(Self {
            mapping: TtfsMapping::Linear,
            steps,
            threshold,
        })
    }

    /// Logarithmic latency over `steps >= 2` steps; `x_min` (in `(0, 1)`) is the faintest input
    /// that fires (at the last step).
    pub fn log(steps: usize, x_min: f32) -> Result<Self, EncodeError> {
        steps_at_least("steps", steps, 2)?;
        in_range("x_min", x_min as f64, 0.0, 1.0, false)?;
        if x_min <= 0.0 {
            return Err(EncodeError::param(
                "x_min",
                "must be above 0 for a logarithmic latency",
            ));
        }
        Ok(Self {
            mapping: TtfsMapping::Log,
            steps,
            threshold: x_min,
        })
    }

    /// The mapping.
    pub fn mapping(&self) -> TtfsMapping {
        self.mapping
    }

    /// The threshold (`x_min` for the log mapping).
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    fn t_max(&self) -> f64 {
        (self.steps - 1) as f64
    }

    /// The step at which a normalised input fires, or `None`.
    pub fn spike_step(&self, x: f32) -> Option<usize> {
        let x = unit(x);
        if x <= 0.0 || x < self.threshold {
            return None;
        }
        let t = match self.mapping {
            TtfsMapping::Linear => (1.0 - x as f64) * self.t_max(),
            TtfsMapping::Log => self.t_max() * (x as f64).ln() / (self.threshold as f64).ln(),
        };
        Some((t.round().max(0.0) as usize).min(self.steps - 1))
    }

    /// The intensity a first spike at step `t` stands for (`None`: no spike, 0).
    pub fn value_of(&self, t: Option<u64>) -> f32 {
        match t {
            None => 0.0,
            Some(t) => {
                let r = (t as f64 / self.t_max()).min(1.0);
                match self.mapping {
                    TtfsMapping::Linear => (1.0 - r) as f32,
                    TtfsMapping::Log => (self.threshold as f64).powf(r) as f32,
                }
            }
        }
    }

    /// Decodes each feature from its first spike (see the type's docs).
    pub fn decode(&self, raster: &SpikeRaster, n_features: usize) -> Vec<f32> {
        first_spike_steps(raster, n_features)
            .into_iter()
            .map(|t| self.value_of(t))
            .collect()
    }

    /// Worst-case `|x̂ - x|` over all inputs in `[0, 1]` (see the type's docs).
    pub fn max_abs_error(&self) -> f32 {
        let q = 0.5 / self.t_max();
        let firing = match self.mapping {
            TtfsMapping::Linear => q,
            TtfsMapping::Log => (self.threshold as f64).powf(-q) - 1.0,
        };
        firing.max(self.threshold as f64) as f32
    }
}

impl Encoder for TtfsEncoder {
    fn n_steps(&self) -> usize {
        self.steps
    }

    /// One spike at most.
    fn max_spikes_per_feature(&self) -> u64 {
        1
    }

    fn encode_normalized<S: SpikeSink>(&self, x: &[f32], _rng: &mut SampleRng, sink: &mut S) {
        for (f, &xf) in x.iter().enumerate() {
            if let Some(t) = self.spike_step(xf) {
                sink.on_step(t as Step, &[f as u32]);
            }
        }
    }
}

/// Phase coding (binary weighted): `x` is quantised to `K` bits, `q = round(x (2^K - 1))`, and
/// step `t` carries bit `K - 1 - (t mod K)` of `q` (most significant first), so the spike at
/// phase `k` weighs `2^-(k+1)`. The pattern repeats every `K` steps.
///
/// Decoding reads the first period: `x̂ = Σ_k s_k 2^(K-1-k) / (2^K - 1)`, within
/// `1 / (2 (2^K - 1))` of `x`.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseEncoder {
    bits: u32,
    steps: usize,
}

impl PhaseEncoder {
    /// `bits` in `1..=24` phases per period; `steps >= bits`.
    pub fn new(bits: u32, steps: usize) -> Result<Self, EncodeError> {
        if !(1..=24).contains(&bits) {
            return Err(EncodeError::param(
                "bits",
                format!("must be in 1..=24, got {bits}"),
            ));
        }
        steps_at_least("steps", steps, bits as usize)?;
        Ok(Self { bits, steps })
    }

    /// Bits per period.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    fn levels(&self) -> f64 {
        ((1u32 << self.bits) - 1) as f64
    }

    /// Decodes each feature from the spikes of the first period.
    pub fn decode(&self, raster: &SpikeRaster, n_features: usize) -> Vec<f32> {
        let mut q = vec![0u32; n_features];
        for k in 0..self.bits {
            for &n in raster.at(k as u64) {
                if let Some(v) = q.get_mut(n as usize) {
                    *v |= 1 << (self.bits - 1 - k);
                }
            }
        }
        q.into_iter()
            .map(|v| (v as f64 / self.levels()) as f32)
            .collect()
    }

    /// Worst-case `|x̂ - x|`: `1 / (2 (2^K - 1))`.
    pub fn max_abs_error(&self) -> f32 {
        (0.5 / self.levels()) as f32
    }
}

impl Encoder for PhaseEncoder {
    fn n_steps(&self) -> usize {
        self.steps
    }

    fn encode_normalized<S: SpikeSink>(&self, x: &[f32], _rng: &mut SampleRng, sink: &mut S) {
        let k = self.bits as usize;
        for (f, &xf) in x.iter().enumerate() {
            let q = (unit(xf) as f64 * self.levels()).round() as u32;
            if q == 0 {
                continue;
            }
            for t in 0..self.steps {
                if (q >> (k - 1 - t % k)) & 1 == 1 {
                    sink.on_step(t as Step, &[f as u32]);
                }
            }
        }
    }
}

/// Burst coding: a stronger input fires more spikes, closer together, starting at step 0.
///
/// `n(x) = round(x N_max)` spikes at steps `0, isi, 2 isi, ...` with
/// `isi(x) = round(isi_max - (isi_max - isi_min) x)`. Decoding counts spikes:
/// `x̂ = count / N_max`, within `1 / (2 N_max)` of `x`.
#[derive(Debug, Clone, PartialEq)]
pub struct BurstEncoder {
    max_spikes: u32,
    isi_min_steps: u32,
    isi_max_steps: u32,
    steps: usize,
}

impl BurstEncoder {
    /// Errors unless `max_spikes >= 1`, `1 <= isi_min_steps <= isi_max_steps` and the longest
    /// burst, `(max_spikes - 1) isi_max_steps + 1` steps, fits in `steps`.
    pub fn new(
        max_spikes: u32,
        isi_min_steps: u32,
        isi_max_steps: u32,
        steps: usize,
    ) -> Result<Self, EncodeError> {
        if max_spikes == 0 {
            return Err(EncodeError::param("max_spikes", "must be at least 1"));
        }
        if isi_min_steps == 0 || isi_min_steps > isi_max_steps {
            return Err(EncodeError::param(
                "isi_min_steps",
                format!("must be in 1..=isi_max_steps ({isi_max_steps}), got {isi_min_steps}"),
            ));
        }
        let need = (max_spikes as u64 - 1) * isi_max_steps as u64 + 1;
        steps_at_least("steps", steps, need.min(u32::MAX as u64 + 1) as usize)?;
        Ok(Self {
            max_spikes,
            isi_min_steps,
            isi_max_steps,
            steps,
        })
    }

    /// Spikes at full intensity.
    pub fn max_spikes(&self) -> u32 {
        self.max_spikes
    }

    /// `(n(x), isi(x))` for a normalised input.
    pub fn burst(&self, x: f32) -> (u32, u32) {
        let x = unit(x) as f64;
        let n = (x * self.max_spikes as f64).round() as u32;
        let span = (self.isi_max_steps - self.isi_min_steps) as f64;
        let isi = (self.isi_max_steps as f64 - span * x).round() as u32;
        (n, isi.max(1))
    }

    /// Decodes each feature from its spike count.
    pub fn decode(&self, raster: &SpikeRaster, n_features: usize) -> Vec<f32> {
        raster
            .counts(n_features)
            .into_iter()
            .map(|c| (c as f32 / self.max_spikes as f32).min(1.0))
            .collect()
    }

    /// Worst-case `|x̂ - x|`: `1 / (2 N_max)`.
    pub fn max_abs_error(&self) -> f32 {
        0.5 / self.max_spikes as f32
    }
}

impl Encoder for BurstEncoder {
    fn n_steps(&self) -> usize {
        self.steps
    }

    /// At most `max_spikes`.
    fn max_spikes_per_feature(&self) -> u64 {
        self.max_spikes as u64
    }

    fn encode_normalized<S: SpikeSink>(&self, x: &[f32], _rng: &mut SampleRng, sink: &mut S) {
        for (f, &xf) in x.iter().enumerate() {
            let (n, isi) = self.burst(xf);
            for k in 0..n as usize {
                let t = k * isi as usize;
                if t < self.steps {
                    sink.on_step(t as Step, &[f as u32]);
                }
            }
        }
    }
}
