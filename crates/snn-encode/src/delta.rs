//! Threshold-crossing codes for signals over time: send-on-delta and step-forward.

use snn_types::SpikeRaster;

use crate::error::{EncodeError, positive};

/// How a [`DeltaEncoder`] tracks its signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaMode {
    /// Send-on-delta (event-camera / cochlea style): at every step, as many ON (OFF) events as
    /// whole thresholds the signal has risen above (fallen below) the reference, each moving the
    /// reference by `±θ`. Tracks any signal within `θ`.
    SendOnDelta,
    /// Step-forward (Petro et al. 2020): at most one event per channel per step: ON if
    /// `x > r + θ` (then `r += θ`), OFF if `x < r - θ` (then `r -= θ`). Tracks the signal
    /// within `θ` only while it changes by less than `θ` per step.
    StepForward,
}

/// Upper bound on the events one encoding may emit (guards against tiny thresholds).
const MAX_EVENTS: u64 = 1 << 28;

/// Whole thresholds in `d >= θ`: `floor(d / θ)`, fixed up for rounding so that
/// `0 <= d - k θ < θ`; an error once the running total would pass [`MAX_EVENTS`].
fn crossings(d: f64, theta: f64, total: u64) -> Result<f64, EncodeError> {
    let mut k = (d / theta).floor();
    if k + total as f64 > MAX_EVENTS as f64 {
        return Err(EncodeError::param(
            "threshold",
            format!("{theta} is too small for this signal: more than {MAX_EVENTS} events"),
        ));
    }
    for _ in 0..4 {
        if k > 1.0 && d - k * theta < 0.0 {
            k -= 1.0;
        } else if d - (k + 1.0) * theta >= 0.0 {
            k += 1.0;
        } else {
            break;
        }
    }
    Ok(k.max(1.0))
}

/// Delta (threshold-crossing) coding of multi-channel signals with ON and OFF neurons.
///
/// The input is `[steps][channels]`. Channel `c`'s reference starts at `r = x[0][c]` (no event
/// at step 0); ON events go to neuron `2c`, OFF events to neuron `2c + 1`.
///
/// Send-on-delta: at step `t >= 1`, `k = floor((x_t - r) / θ)` ON events if positive
/// (`r += k θ`), else `k = floor((r - x_t) / θ)` OFF events (`r -= k θ`). Afterwards
/// `|x_t - r| < θ`, so [`DeltaEncoder::decode`] (`r_t = x_0 + θ (ON_≤t - OFF_≤t)`) reconstructs
/// every sample within `θ`. Several events of one neuron in one step appear as repeated entries
/// in the raster.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaEncoder {
    threshold: f64,
    mode: DeltaMode,
}

impl DeltaEncoder {
    /// An encoder with threshold `θ > 0` (in the signal's units).
    pub fn new(threshold: f64, mode: DeltaMode) -> Result<Self, EncodeError> {
        positive("threshold", threshold)?;
        Ok(Self { threshold, mode })
    }

    /// Send-on-delta with threshold `θ`.
    pub fn send_on_delta(threshold: f64) -> Result<Self, EncodeError> {
        Self::new(threshold, DeltaMode::SendOnDelta)
    }

    /// Step-forward with threshold `θ`.
    pub fn step_forward(threshold: f64) -> Result<Self, EncodeError> {
        Self::new(threshold, DeltaMode::StepForward)
    }

    /// The threshold `θ`.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The mode.
    pub fn mode(&self) -> DeltaMode {
        self.mode
    }

    /// Encodes `signal` (`[steps][n_channels]`, row-major) into a raster of `signal.len() /
    /// n_channels` steps and `2 n_channels` neurons. Errors on an empty or ragged input, a
    /// non-finite sample, or more than 2^28 events in all.
    pub fn encode(&self, signal: &[f32], n_channels: usize) -> Result<SpikeRaster, EncodeError> {
        if signal.is_empty() || n_channels == 0 {
            return Err(EncodeError::Empty);
        }
        if !signal.len().is_multiple_of(n_channels) {
            return Err(EncodeError::Shape {
                len: signal.len(),
                per_sample: n_channels,
            });
        }
        if let Some((index, &value)) = signal.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(EncodeError::NonFinite { index, value });
        }
        let theta = self.threshold;
        let mut r: Vec<f64> = signal[..n_channels].iter().map(|&v| v as f64).collect();
        let mut raster = SpikeRaster::new(0);
        let mut buf: Vec<u32> = Vec::new();
        let mut total = 0u64;
        raster.push_step(&[]);
        for row in signal.chunks_exact(n_channels).skip(1) {
            buf.clear();
            for (c, (&x, rc)) in row.iter().zip(r.iter_mut()).enumerate() {
                let x = x as f64;
                let (neuron, k) = match self.mode {
                    DeltaMode::SendOnDelta => {
                        if x - *rc >= theta {
                            let k = crossings(x - *rc, theta, total)?;
                            *rc += k * theta;
                            (2 * c, k)
                        } else if *rc - x >= theta {
                            let k = crossings(*rc - x, theta, total)?;
                            *rc -= k * theta;
                            (2 * c + 1, k)
                        } else {
                            (0, 0.0)
                        }
                    }
                    DeltaMode::StepForward => {
                        if x > *rc + theta {
                            *rc += theta;
                            (2 * c, 1.0)
                        } else if x < *rc - theta {
                            *rc -= theta;
                            (2 * c + 1, 1.0)
                        } else {
                            (0, 0.0)
                        }
                    }
                };
                if k >= 1.0 {
                    total += k as u64;
                    buf.extend(std::iter::repeat_n(neuron as u32, k as usize));
                }
            }
            raster.push_step(&buf);
        }
        Ok(raster)
    }

    /// Reconstructs `[steps][n_channels]` from the events and each channel's initial value:
    /// `r_t = x_0 + θ (ON_≤t - OFF_≤t)`.
    pub fn decode(&self, raster: &SpikeRaster, initial: &[f32]) -> Vec<f32> {
        let n = initial.len();
        let mut r: Vec<f64> = initial.iter().map(|&v| v as f64).collect();
        let mut out = Vec::with_capacity(raster.n_steps() as usize * n);
        for t in 0..raster.n_steps() {
            for &neuron in raster.at(t) {
                let c = neuron as usize / 2;
                if let Some(rc) = r.get_mut(c) {
                    if neuron % 2 == 0 {
                        *rc += self.threshold;
                    } else {
                        *rc -= self.threshold;
                    }
                }
            }
            out.extend(r.iter().map(|&v| v as f32));
        }
        out
    }

    /// Worst-case `|r_t - x_t|` for send-on-delta: `θ` (strictly less, up to rounding).
    pub fn max_abs_error(&self) -> f64 {
        self.threshold
    }
}
