//! Decoders that read numbers out of spikes and membrane traces, independent of any encoder.
//!
//! Each encoder also has a `decode` method that inverts it exactly up to its stated quantisation
//! error; the functions here are the building blocks and the output-layer readouts.
//!
//! ```
//! use snn_encode::SpikeRaster;
//! use snn_encode::decode::{Readout, argmax, first_spike_steps, membrane_readout, rates_hz};
//!
//! let mut r = SpikeRaster::new(0);
//! r.push_step(&[1]);
//! r.push_step(&[0, 1]);
//! assert_eq!(first_spike_steps(&r, 3), vec![Some(1), Some(0), None]);
//! assert_eq!(rates_hz(&r, 2, 1.0), vec![500.0, 1000.0]); // 1 and 2 spikes in 2 ms
//!
//! // Membrane trace [steps][neurons] of 2 output neurons over 3 steps.
//! let v = [0.1, 0.5, 0.9, 0.2, 0.3, 0.4];
//! assert_eq!(membrane_readout(&v, 2, Readout::Max).unwrap(), vec![0.9, 0.5]);
//! assert_eq!(membrane_readout(&v, 2, Readout::Last).unwrap(), vec![0.3, 0.4]);
//! assert_eq!(argmax(&[0.9, 0.5]), Some(0));
//! ```

use snn_types::SpikeRaster;

use crate::error::EncodeError;

/// Spike count of each of `n_neurons` neurons (larger indices ignored).
pub fn spike_counts(raster: &SpikeRaster, n_neurons: usize) -> Vec<u32> {
    raster.counts(n_neurons)
}

/// Mean firing rate of each neuron in Hz: `count / (n_steps * dt_ms / 1000)` (0 for an empty
/// raster or a non-positive `dt_ms`).
pub fn rates_hz(raster: &SpikeRaster, n_neurons: usize, dt_ms: f64) -> Vec<f64> {
    let secs = raster.n_steps() as f64 * dt_ms / 1000.0;
    raster
        .counts(n_neurons)
        .into_iter()
        .map(|c| if secs > 0.0 { c as f64 / secs } else { 0.0 })
        .collect()
}

/// The first step (relative to the raster's start) at which each neuron fired, or `None`.
pub fn first_spike_steps(raster: &SpikeRaster, n_neurons: usize) -> Vec<Option<u64>> {
    let mut first = vec![None; n_neurons];
    for t in 0..raster.n_steps() {
        for &n in raster.at(t) {
            if let Some(slot @ None) = first.get_mut(n as usize) {
                *slot = Some(t);
            }
        }
    }
    first
}

/// Population vector (centre of mass): `Σ_i w_i c_i / Σ_i w_i` of activities `w` over preferred
/// values `c`; `None` when the lengths differ or the total activity is not positive. Biased
/// towards the middle near the edges of the range; the population encoder's own
/// [`decode`](crate::PopulationEncoder::decode) interpolates the peak instead.
pub fn population_vector(activity: &[f32], centres: &[f32]) -> Option<f32> {
    if activity.len() != centres.len() {
        return None;
    }
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (&w, &c) in activity.iter().zip(centres) {
        num += w as f64 * c as f64;
        den += w as f64;
    }
    (den > 0.0 && num.is_finite()).then(|| (num / den) as f32)
}

/// How [`membrane_readout`] reduces a membrane trace over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readout {
    /// The maximum over all steps.
    Max,
    /// The value at the last step.
    Last,
    /// The mean over all steps.
    Mean,
}

/// Reads out the output layer from a membrane trace `[steps][n_neurons]` (row-major), one value
/// per neuron. Errors on an empty or ragged trace.
pub fn membrane_readout(
    trace: &[f32],
    n_neurons: usize,
    readout: Readout,
) -> Result<Vec<f32>, EncodeError> {
    if trace.is_empty() || n_neurons == 0 {
        return Err(EncodeError::Empty);
    }
    if !trace.len().is_multiple_of(n_neurons) {
        return Err(EncodeError::Shape {
            len: trace.len(),
            per_sample: n_neurons,
        });
    }
    let steps = trace.len() / n_neurons;
    let rows = trace.chunks_exact(n_neurons);
    Ok(match readout {
        Readout::Last => trace[(steps - 1) * n_neurons..].to_vec(),
        Readout::Max => rows.fold(vec![f32::NEG_INFINITY; n_neurons], |mut m, row| {
            for (a, &b) in m.iter_mut().zip(row) {
                *a = a.max(b);
            }
            m
        }),
        Readout::Mean => {
            let mut s = vec![0.0f64; n_neurons];
            for row in rows {
                for (a, &b) in s.iter_mut().zip(row) {
                    *a += b as f64;
                }
            }
            s.into_iter().map(|v| (v / steps as f64) as f32).collect()
        }
    })
}

/// Index of the largest value (the first on ties; NaNs ignored), `None` if there is none.
pub fn argmax(values: &[f32]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &v) in values.iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        if best.is_none_or(|b| v > values[b]) {
            best = Some(i);
        }
    }
    best
}
