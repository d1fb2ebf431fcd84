//! Population coding with Gaussian receptive fields.

use snn_types::{SpikeRaster, Step};

use crate::decode::first_spike_steps;
use crate::error::{EncodeError, in_range, positive, steps_at_least};
use crate::{Encoder, SampleRng, SpikeSink, unit};

/// Population coding: each feature `x` in `[0, 1]` drives `n` neurons with Gaussian receptive
/// fields, and each neuron fires once with a latency set by its activation.
///
/// * Centres `μ_i = i / (n - 1)`, spacing `Δ = 1 / (n - 1)`, width `σ = Δ / β`.
/// * Activation `a_i(x) = exp(-(x - μ_i)^2 / (2 σ^2))`.
/// * Neuron `i` fires at `t_i = round((1 - a_i) t_max)` (with `t_max = T - 1`) if
///   `a_i >= threshold`, else not at all. Output neuron of feature `f`, field `i`: `f n + i`.
///
/// Decoding (Gaussian peak interpolation): activations are read back as `â = 1 - t / t_max`
/// (`|â - a| <= q = 1 / (2 t_max)`); with `k` the most active neuron and `j` its more active
/// neighbour, the log-ratio of two equal-width Gaussians is linear in `x`, so
///
/// `x̂ = (μ_k + μ_j) / 2 + σ^2 (ln â_j - ln â_k) / (μ_j - μ_k)`, clamped to `[0, 1]`,
///
/// which is exact for exact activations. Quantisation gives ([`max_abs_error`](Self::max_abs_error))
///
/// `|x̂ - x| <= (Δ / β^2) (-ln(1 - q / A_k) - ln(1 - q / A_j))`
///
/// with `A_k = exp(-β^2 / 8) - 2q` (the peak neuron is within `Δ/2` of `x`) and
/// `A_j = exp(-β^2 / 2) - 2q` (the neighbour on `x`'s side is within `Δ`), valid when
/// `threshold <= exp(-β^2 / 2)`, `A_j > q` and `2q <= exp(-β^2/8) - exp(-β^2/2)`; otherwise
/// the bound is infinite. [`activations_into`](Self::activations_into) exposes the
/// activations for use with another spike code (e.g. a [`RateEncoder`](crate::RateEncoder)).
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationEncoder {
    neurons: usize,
    beta: f64,
    steps: usize,
    threshold: f64,
    sigma: f64,
}

impl PopulationEncoder {
    /// `neurons_per_feature` in `2..=4096`, width factor `beta > 0` (1.5 is usual),
    /// `steps >= 2`, activation `threshold` in `(0, 1]`.
    pub fn new(
        neurons_per_feature: usize,
        beta: f64,
        steps: usize,
        threshold: f64,
    ) -> Result<Self, EncodeError> {
        if !(2..=4096).contains(&neurons_per_feature) {
            return Err(EncodeError::param(
                "neurons_per_feature",
                format!("must be in 2..=4096, got {neurons_per_feature}"),
            ));
        }
        positive("beta", beta)?;
        steps_at_least("steps", steps, 2)?;
        in_range("threshold", threshold, 0.0, 1.0, true)?;
        if threshold <= 0.0 {
            return Err(EncodeError::param("threshold", "must be above 0"));
        }
        let delta = 1.0 / (neurons_per_feature - 1) as f64;
        Ok(Self {
            neurons: neurons_per_feature,
            beta,
            steps,
            threshold,
            sigma: delta / beta,
        })
    }

    /// Neurons per feature.
    pub fn neurons_per_feature(&self) -> usize {
        self.neurons
    }

    fn delta(&self) -> f64 {
        1.0 / (self.neurons - 1) as f64
    }

    fn t_max(&self) -> f64 {
        (self.steps - 1) as f64
    }

    /// Centre of field `i`.
    pub fn centre(&self, i: usize) -> f64 {
        i as f64 * self.delta()
    }

    /// The activation of field `i` for a normalised input.
    #[inline]
    pub fn activation(&self, x: f32, i: usize) -> f64 {
        let d = unit(x) as f64 - self.centre(i);
        (-d * d / (2.0 * self.sigma * self.sigma)).exp()
    }

    /// Writes the activations of every field of every feature (`out.len()` must be
    /// `x.len() * neurons_per_feature`).
    pub fn activations_into(&self, x: &[f32], out: &mut [f32]) -> Result<(), EncodeError> {
        if out.len() != x.len() * self.neurons {
            return Err(EncodeError::Shape {
                len: out.len(),
                per_sample: x.len() * self.neurons,
            });
        }
        for (f, &xf) in x.iter().enumerate() {
            for i in 0..self.neurons {
                out[f * self.neurons + i] = self.activation(xf, i) as f32;
            }
        }
        Ok(())
    }

    /// Decodes each of `n_features` features from the first spikes of its fields (see the
    /// type's docs). A feature none of whose fields fired decodes as NaN.
    pub fn decode(&self, raster: &SpikeRaster, n_features: usize) -> Vec<f32> {
        let first = first_spike_steps(raster, n_features * self.neurons);
        let mut a = vec![0.0f64; self.neurons];
        (0..n_features)
            .map(|f| {
                for (i, ai) in a.iter_mut().enumerate() {
                    *ai = match first[f * self.neurons + i] {
                        Some(t) => (1.0 - t as f64 / self.t_max()).max(0.0),
                        None => 0.0,
                    };
                }
                self.decode_activations(&a)
            })
            .collect()
    }

    /// Decodes one feature from its `neurons_per_feature` activations (NaN if all are zero).
    pub fn decode_activations(&self, a: &[f64]) -> f32 {
        let mut k = 0;
        for i in 1..a.len() {
            if a[i] > a[k] {
                k = i;
            }
        }
        if a.get(k).is_none_or(|&v| v <= 0.0) {
            return f32::NAN;
        }
        let left = if k > 0 { a[k - 1] } else { 0.0 };
        let right = a.get(k + 1).copied().unwrap_or(0.0);
        let j = if right >= left {
            k + 1
        } else {
            k.wrapping_sub(1)
        };
        let aj = a.get(j).copied().unwrap_or(0.0);
        if aj <= 0.0 {
            return self.centre(k) as f32;
        }
        let (mk, mj) = (self.centre(k), self.centre(j));
        let x = 0.5 * (mk + mj) + self.sigma * self.sigma * (aj.ln() - a[k].ln()) / (mj - mk);
        x.clamp(0.0, 1.0) as f32
    }

    /// The worst-case decoding error (see the type's docs; infinite where the bound does not
    /// hold).
    pub fn max_abs_error(&self) -> f32 {
        let q = 0.5 / self.t_max();
        let b2 = self.beta * self.beta;
        let peak = (-b2 / 8.0).exp();
        let side = (-b2 / 2.0).exp();
        let (ak, aj) = (peak - 2.0 * q, side - 2.0 * q);
        if self.threshold > side || aj <= q || 2.0 * q > peak - side {
            return f32::INFINITY;
        }
        let e = (self.delta() / b2) * (-(1.0 - q / ak).ln() - (1.0 - q / aj).ln());
        e as f32
    }
}

impl Encoder for PopulationEncoder {
    fn n_steps(&self) -> usize {
        self.steps
    }

    fn outputs_per_feature(&self) -> usize {
        self.neurons
    }

    /// One spike at most per receptive field.
    fn max_spikes_per_feature(&self) -> u64 {
        self.neurons as u64
    }

    fn encode_normalized<S: SpikeSink>(&self, x: &[f32], _rng: &mut SampleRng, sink: &mut S) {
        let t_max = self.t_max();
        for (f, &xf) in x.iter().enumerate() {
            for i in 0..self.neurons {
                let a = self.activation(xf, i);
                if a >= self.threshold {
                    let t = ((1.0 - a) * t_max).round() as usize;
                    sink.on_step(
                        t.min(self.steps - 1) as Step,
                        &[(f * self.neurons + i) as u32],
                    );
                }
            }
        }
    }
}
