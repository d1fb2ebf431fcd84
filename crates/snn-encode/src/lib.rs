//! # snn-encode
//!
//! Data to spikes and spikes back to numbers, for any caller: the trainer, the simulator's
//! stimuli, the chip model's inputs and users' own code. Depends on `snn-types` only.
//!
//! * **Rate** ([`RateEncoder`]): Poisson (a Bernoulli draw per step with
//!   `p = x * max_rate_hz * dt_ms / 1000`, clamped to 1) or deterministic regular spikes.
//! * **Temporal** ([`TtfsEncoder`], [`PhaseEncoder`], [`BurstEncoder`]): time-to-first-spike with
//!   linear or logarithmic latency (brighter = earlier, at most one spike), phase (binary
//!   weighted) and burst codes.
//! * **Signals** ([`DeltaEncoder`]): send-on-delta and step-forward threshold crossing with ON
//!   and OFF channels.
//! * **Population** ([`PopulationEncoder`]): Gaussian receptive fields spreading one scalar over
//!   `n` neurons, decoded by Gaussian peak interpolation.
//! * **Decoders** ([`decode`]): spike counts and rates, first-spike times, population vectors and
//!   membrane-potential readout; every encoder also has a `decode` that inverts it, with its
//!   quantisation error bound stated (and tested) on the encoder.
//! * **Event data** ([`aer`]): a documented binary address-event layout, reader, writer, and
//!   binning into frames and rasters. Malformed files are typed errors, never panics.
//!
//! Every encoder is deterministic given a seed. Sample `i` of a batch draws from its own stream,
//! derived from `(seed, first_index + i)`, so a sample's spikes do not depend on the batch size,
//! the batch composition or how a data set is split across threads.
//!
//! Inputs are raw `f32` features normalised by an explicit [`Normalize`] (`u = (x - min) /
//! (max - min)`, clamped to `[0, 1]`). Outputs are a [`SpikeRaster`] per sample or a dense
//! [`SpikeTensor`] `[steps][batch][neurons]` for trainers.
//!
//! ```
//! use snn_encode::{Encoder, Normalize, RateEncoder, TtfsEncoder};
//!
//! let pixels = [0.0f32, 4.0, 8.0, 16.0];
//! let norm = Normalize::new(0.0, 16.0).unwrap();
//!
//! // Poisson rate code: 100 steps of 1 ms, 200 Hz at full intensity.
//! let rate = RateEncoder::poisson(200.0, 1.0, 100).unwrap();
//! let raster = rate.encode(&pixels, norm, 42).unwrap();
//! assert_eq!(raster.n_steps(), 100);
//! assert_eq!(raster.counts(4)[0], 0); // zero intensity never spikes
//! assert_eq!(raster, rate.encode(&pixels, norm, 42).unwrap()); // deterministic
//!
//! // Time to first spike: brighter is earlier, one spike per input at most.
//! let ttfs = TtfsEncoder::linear(50, 0.0).unwrap();
//! let r = ttfs.encode(&pixels, norm, 0).unwrap();
//! let decoded = ttfs.decode(&r, 4);
//! for (x, d) in pixels.iter().zip(&decoded) {
//!     assert!((x / 16.0 - d).abs() <= ttfs.max_abs_error() + 1e-6);
//! }
//!
//! // A batch of two samples as a dense [steps][batch][neurons] tensor.
//! let batch = [0.0f32, 16.0, 16.0, 0.0];
//! let t = ttfs.encode_batch(&batch, 2, norm, 0, 0).unwrap();
//! assert_eq!(t.shape(), [50, 2, 2]);
//! assert_eq!(t.get(0, 0, 1), 1.0); // sample 0, feature 1 (full intensity) fires at step 0
//! ```
#![warn(missing_docs)]

pub mod aer;
pub mod decode;
mod delta;
mod error;
mod population;
mod rate;
mod temporal;

pub use delta::{DeltaEncoder, DeltaMode};
pub use error::EncodeError;
pub use population::PopulationEncoder;
pub use rate::{RateEncoder, RateMode};
/// Where an encoder writes its spikes: the toolkit's one sink trait, re-exported from
/// `snn-types`. Encoders report spikes feature by feature, so steps arrive in any order (which
/// the trait's contract allows), with `step < n_steps` and
/// `neuron < n_features * outputs_per_feature`.
pub use snn_types::SpikeSink;
pub use snn_types::{Spike, SpikeRaster, Step};
pub use temporal::{BurstEncoder, PhaseEncoder, TtfsEncoder, TtfsMapping};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

use snn_types::budget::MemoryBudget;
use snn_types::seed::mix64;

/// The random stream of one sample: a `Xoshiro256PlusPlus` seeded from a fixed mixing of
/// `(seed, sample index)`, so that sample `i`'s spikes are a pure function of its features, the
/// seed and `i`.
#[derive(Debug, Clone)]
pub struct SampleRng(Xoshiro256PlusPlus);

impl SampleRng {
    /// The stream of sample `index` under `seed`.
    pub fn new(seed: u64, index: u64) -> Self {
        let key = mix64(mix64(seed ^ 0x736E_6E2D_656E_636F) ^ index);
        Self(Xoshiro256PlusPlus::seed_from_u64(key))
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A uniform draw in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Writes one sample's spikes into a dense `[steps][batch][neurons]` buffer.
struct DenseSink<'a> {
    data: &'a mut [f32],
    stride: usize,
    offset: usize,
}

impl SpikeSink for DenseSink<'_> {
    #[inline]
    fn on_step(&mut self, step: Step, neurons: &[u32]) {
        let base = step as usize * self.stride + self.offset;
        for &n in neurons {
            self.data[base + n as usize] += 1.0;
        }
    }
}

/// Linear normalisation of raw features to `[0, 1]`: `u = clamp((x - min) / (max - min), 0, 1)`.
///
/// ```
/// let n = snn_encode::Normalize::new(0.0, 16.0).unwrap();
/// assert_eq!(n.apply(4.0), 0.25);
/// assert_eq!(n.apply(99.0), 1.0); // clamped
/// assert!(snn_encode::Normalize::new(1.0, 1.0).is_err()); // min >= max
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalize {
    min: f32,
    max: f32,
    inv_range: f32,
}

impl Normalize {
    /// Features already in `[0, 1]`.
    pub const UNIT: Normalize = Normalize {
        min: 0.0,
        max: 1.0,
        inv_range: 1.0,
    };

    /// Maps `[min, max]` onto `[0, 1]`. Errors unless both are finite and `min < max`.
    pub fn new(min: f32, max: f32) -> Result<Self, EncodeError> {
        if !min.is_finite() || !max.is_finite() {
            return Err(EncodeError::param(
                "min/max",
                format!("must be finite, got {min}..{max}"),
            ));
        }
        if min >= max {
            return Err(EncodeError::param(
                "min/max",
                format!("min must be below max, got {min} >= {max}"),
            ));
        }
        let inv_range = 1.0 / (max - min);
        if !inv_range.is_finite() {
            return Err(EncodeError::param("min/max", "range too small"));
        }
        Ok(Self {
            min,
            max,
            inv_range,
        })
    }

    /// The raw value mapped to 0.
    pub fn min(&self) -> f32 {
        self.min
    }

    /// The raw value mapped to 1.
    pub fn max(&self) -> f32 {
        self.max
    }

    /// Normalises one value (NaN maps to 0).
    #[inline]
    pub fn apply(&self, x: f32) -> f32 {
        unit((x - self.min) * self.inv_range)
    }

    /// Maps a normalised value back to the raw range: `x = min + u * (max - min)`.
    pub fn denormalize(&self, u: f32) -> f32 {
        self.min + u * (self.max - self.min)
    }

    /// Normalises `src` into `dst` (same length); a NaN or infinite value is an error naming its
    /// index.
    pub fn normalize_into(&self, src: &[f32], dst: &mut [f32]) -> Result<(), EncodeError> {
        if src.len() != dst.len() {
            return Err(EncodeError::Shape {
                len: src.len(),
                per_sample: dst.len(),
            });
        }
        for (i, (&x, d)) in src.iter().zip(dst.iter_mut()).enumerate() {
            if !x.is_finite() {
                return Err(EncodeError::NonFinite { index: i, value: x });
            }
            *d = self.apply(x);
        }
        Ok(())
    }
}

/// Clamps to `[0, 1]`, mapping NaN to 0, so encoders never misbehave on out-of-range input.
#[inline]
pub(crate) fn unit(x: f32) -> f32 {
    if x > 0.0 { x.min(1.0) } else { 0.0 }
}

/// A dense spike tensor `[steps][batch][neurons]` in one flat `f32` vector (row-major: neuron
/// fastest). Values are spike counts per step: 0 or 1 for every encoder here.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeTensor {
    steps: usize,
    batch: usize,
    neurons: usize,
    data: Vec<f32>,
}

impl SpikeTensor {
    /// An all-zero tensor.
    pub fn zeros(steps: usize, batch: usize, neurons: usize) -> Self {
        Self {
            steps,
            batch,
            neurons,
            data: vec![0.0; steps * batch * neurons],
        }
    }

    /// `[steps, batch, neurons]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.steps, self.batch, self.neurons]
    }

    /// The value at `(step, sample, neuron)`; 0 out of range.
    pub fn get(&self, step: usize, sample: usize, neuron: usize) -> f32 {
        if step >= self.steps || sample >= self.batch || neuron >= self.neurons {
            return 0.0;
        }
        self.data[(step * self.batch + sample) * self.neurons + neuron]
    }

    /// The flat data, `[steps][batch][neurons]` row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The `[batch][neurons]` slab of one step (empty out of range).
    pub fn step(&self, step: usize) -> &[f32] {
        let w = self.batch * self.neurons;
        self.data.get(step * w..(step + 1) * w).unwrap_or(&[])
    }

    /// Consumes the tensor, returning the flat data.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Total number of spikes (sum of all values).
    pub fn total_spikes(&self) -> f64 {
        self.data.iter().map(|&v| v as f64).sum()
    }

    /// One sample's spikes as a raster (empty beyond the batch).
    pub fn sample_raster(&self, sample: usize) -> SpikeRaster {
        let mut r = SpikeRaster::new(0);
        let mut buf = Vec::new();
        for t in 0..self.steps {
            buf.clear();
            if sample < self.batch {
                let row = &self.data[(t * self.batch + sample) * self.neurons..][..self.neurons];
                for (n, &v) in row.iter().enumerate() {
                    for _ in 0..v as u32 {
                        buf.push(n as u32);
                    }
                }
            }
            r.push_step(&buf);
        }
        r
    }
}

/// An encoder of static feature vectors into spike trains over a fixed number of steps.
///
/// Implementors provide [`encode_normalized`](Encoder::encode_normalized); the provided methods
/// normalise raw input (rejecting NaN), derive each sample's random stream and build rasters or
/// dense tensors.
pub trait Encoder {
    /// Steps of every encoded sample.
    fn n_steps(&self) -> usize;

    /// Output neurons per input feature (1 except for population codes). Feature `f` drives
    /// neurons `f * k .. (f + 1) * k`.
    fn outputs_per_feature(&self) -> usize {
        1
    }

    /// The most spikes one feature can produce in one sample, over all its output neurons
    /// (default: every output neuron at every step). Encoders override it with their bound.
    fn max_spikes_per_feature(&self) -> u64 {
        (self.n_steps() as u64).saturating_mul(self.outputs_per_feature() as u64)
    }

    /// Estimated bytes of encoding one sample of `n_features` features into a raster
    /// ([`encode`](Encoder::encode)): the spikes as collected (16 bytes each) plus the raster
    /// ([`SpikeRaster::estimated_bytes`]: 8 bytes per step, 4 per spike), at the spike bound
    /// [`max_spikes_per_feature`](Encoder::max_spikes_per_feature). Saturating.
    fn raster_bytes(&self, n_features: usize) -> u64 {
        let spikes = self
            .max_spikes_per_feature()
            .saturating_mul(n_features as u64);
        spikes
            .saturating_mul(std::mem::size_of::<Spike>() as u64)
            .saturating_add(SpikeRaster::estimated_bytes(self.n_steps() as u64, spikes))
    }

    /// Bytes of the dense tensor of [`encode_batch`](Encoder::encode_batch):
    /// `steps x batch x n_features x outputs_per_feature x 4`. Saturating.
    fn tensor_bytes(&self, batch: usize, n_features: usize) -> u64 {
        (self.n_steps() as u64)
            .saturating_mul(batch as u64)
            .saturating_mul(n_features as u64)
            .saturating_mul(self.outputs_per_feature() as u64)
            .saturating_mul(4)
    }

    /// Checks [`raster_bytes`](Encoder::raster_bytes) against `budget`, naming the request.
    fn check_raster_memory(
        &self,
        n_features: usize,
        budget: &MemoryBudget,
    ) -> Result<(), EncodeError> {
        budget.check_parts(
            format!(
                "encoding {n_features} features over {} steps",
                self.n_steps()
            ),
            self.raster_bytes(n_features),
            "spike raster",
        )?;
        Ok(())
    }

    /// Encodes one sample of features in `[0, 1]` (values outside are clamped, NaN counts as 0)
    /// into `sink`, drawing randomness (if any) from `rng`. Spikes may be reported in any step
    /// order (the [`SpikeSink`] contract).
    fn encode_normalized<S: SpikeSink>(&self, x: &[f32], rng: &mut SampleRng, sink: &mut S);

    /// Encodes one raw sample (sample index 0 of `seed`'s streams) into a raster.
    fn encode(&self, x: &[f32], norm: Normalize, seed: u64) -> Result<SpikeRaster, EncodeError>
    where
        Self: Sized,
    {
        self.encode_sample(x, norm, seed, 0)
    }

    /// Encodes one raw sample with the stream of sample `index` into a raster; the same spikes as
    /// that sample gets inside any batch. A raster whose estimate
    /// ([`raster_bytes`](Encoder::raster_bytes)) exceeds the machine's available memory is
    /// refused with [`EncodeError::Memory`] before allocating.
    fn encode_sample(
        &self,
        x: &[f32],
        norm: Normalize,
        seed: u64,
        index: u64,
    ) -> Result<SpikeRaster, EncodeError>
    where
        Self: Sized,
    {
        if x.is_empty() {
            return Err(EncodeError::Empty);
        }
        MemoryBudget::check_system(
            format!(
                "encoding {} features over {} steps",
                x.len(),
                self.n_steps()
            ),
            self.raster_bytes(x.len()),
        )?;
        let mut u = vec![0.0; x.len()];
        norm.normalize_into(x, &mut u)?;
        let mut spikes = Vec::new();
        self.encode_normalized(&u, &mut SampleRng::new(seed, index), &mut spikes);
        Ok(SpikeRaster::from_spikes(0, self.n_steps() as u64, &spikes))
    }

    /// Encodes a batch `[batch][n_features]` of raw samples into a dense `[steps][batch][neurons]`
    /// tensor (refused with [`EncodeError::Memory`] before allocating when
    /// [`tensor_bytes`](Encoder::tensor_bytes) exceeds the machine's available memory). Sample `i` uses the stream of index `first_index + i`, so a data set split into
    /// batches in any way gives the same spikes as long as `first_index` is the sample's position.
    fn encode_batch(
        &self,
        xs: &[f32],
        n_features: usize,
        norm: Normalize,
        seed: u64,
        first_index: u64,
    ) -> Result<SpikeTensor, EncodeError>
    where
        Self: Sized,
    {
        if xs.is_empty() || n_features == 0 {
            return Err(EncodeError::Empty);
        }
        if !xs.len().is_multiple_of(n_features) {
            return Err(EncodeError::Shape {
                len: xs.len(),
                per_sample: n_features,
            });
        }
        let batch = xs.len() / n_features;
        MemoryBudget::check_system(
            format!(
                "a spike tensor of {} steps x {batch} samples x {} neurons",
                self.n_steps(),
                n_features as u64 * self.outputs_per_feature() as u64
            ),
            self.tensor_bytes(batch, n_features),
        )?;
        let neurons = n_features * self.outputs_per_feature();
        let mut t = SpikeTensor::zeros(self.n_steps(), batch, neurons);
        let mut u = vec![0.0; n_features];
        for (b, x) in xs.chunks_exact(n_features).enumerate() {
            norm.normalize_into(x, &mut u).map_err(|e| match e {
                EncodeError::NonFinite { index, value } => EncodeError::NonFinite {
                    index: b * n_features + index,
                    value,
                },
                e => e,
            })?;
            let mut sink = DenseSink {
                data: &mut t.data,
                stride: batch * neurons,
                offset: b * neurons,
            };
            let mut rng = SampleRng::new(seed, first_index + b as u64);
            self.encode_normalized(&u, &mut rng, &mut sink);
        }
        Ok(t)
    }
}
