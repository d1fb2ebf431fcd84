//! Typed errors of the encoders and decoders.

use thiserror::Error;

/// Why an encoder could not be built or could not encode an input.
///
/// Every encoder validates its parameters when it is built and its input when it encodes: bad
/// values (`min >= max`, a NaN feature, zero steps, a negative rate) come back as one of these,
/// never as a panic.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EncodeError {
    /// A parameter is out of its valid range; `name` is the parameter as spelled in the API.
    #[error("{name}: {reason}")]
    InvalidParameter {
        /// The parameter, e.g. `max_rate_hz`.
        name: &'static str,
        /// What is wrong with it, with the value.
        reason: String,
    },
    /// An input value is NaN or infinite.
    #[error("input value {index} is not finite ({value})")]
    NonFinite {
        /// Flat index of the value in the input slice.
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// The input's length does not match the stated shape.
    #[error("input has {len} values, which is not a whole number of samples of {per_sample}")]
    Shape {
        /// Length of the input slice.
        len: usize,
        /// Values expected per sample (features, or channels for signals).
        per_sample: usize,
    },
    /// The input holds no value at all.
    #[error("input is empty")]
    Empty,
    /// The raster or tensor would need more memory than the budget allows (refused before
    /// allocating; see [`Encoder::raster_bytes`](crate::Encoder::raster_bytes)).
    #[error(transparent)]
    Memory(#[from] snn_types::budget::TooLarge),
}

impl EncodeError {
    pub(crate) fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}

/// Checks that `v` is finite and strictly positive.
pub(crate) fn positive(name: &'static str, v: f64) -> Result<f64, EncodeError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(EncodeError::param(
            name,
            format!("must be a finite number > 0, got {v}"),
        ))
    }
}

/// Checks that `v` is finite and in `[lo, hi)` (or `[lo, hi]` when `closed`).
pub(crate) fn in_range(
    name: &'static str,
    v: f64,
    lo: f64,
    hi: f64,
    closed: bool,
) -> Result<f64, EncodeError> {
    let ok = v.is_finite() && v >= lo && if closed { v <= hi } else { v < hi };
    if ok {
        Ok(v)
    } else {
        let close = if closed { ']' } else { ')' };
        Err(EncodeError::param(
            name,
            format!("must be in [{lo}, {hi}{close}, got {v}"),
        ))
    }
}

/// Checks a step count: at least `min`, and small enough for `u32` neuron/step arithmetic.
pub(crate) fn steps_at_least(
    name: &'static str,
    steps: usize,
    min: usize,
) -> Result<usize, EncodeError> {
    if steps < min {
        Err(EncodeError::param(
            name,
            format!("must be at least {min}, got {steps}"),
        ))
    } else if steps > u32::MAX as usize {
        Err(EncodeError::param(
            name,
            format!("must be at most {}, got {steps}", u32::MAX),
        ))
    } else {
        Ok(steps)
    }
}
