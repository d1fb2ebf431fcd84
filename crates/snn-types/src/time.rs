//! Simulation time: integer steps of a fixed `dt_ms`.
//!
//! Inside every engine time is an integer [`Step`]; milliseconds appear only at the edges (specs,
//! reports). Conversions round to the nearest step so that `0.1 ms` at `dt = 0.1 ms` is exactly
//! one step despite binary floating point.

/// An integer simulation time step (step 0 is the first update).
pub type Step = u64;

/// Converts a duration in milliseconds to a whole number of steps of `dt_ms`, rounding to the
/// nearest step. Returns `None` when the inputs are not finite, `dt_ms <= 0`, `ms < 0`, or the
/// result does not fit a [`Step`].
///
/// ```
/// assert_eq!(snn_types::ms_to_steps(0.1, 0.1), Some(1));
/// assert_eq!(snn_types::ms_to_steps(1000.0, 0.1), Some(10_000));
/// assert_eq!(snn_types::ms_to_steps(-1.0, 0.1), None);
/// ```
pub fn ms_to_steps(ms: f64, dt_ms: f64) -> Option<Step> {
    if !ms.is_finite() || !dt_ms.is_finite() || dt_ms <= 0.0 || ms < 0.0 {
        return None;
    }
    let steps = (ms / dt_ms).round();
    if steps > u64::MAX as f64 / 2.0 {
        return None;
    }
    Some(steps as Step)
}

/// Converts a step count back to milliseconds.
pub fn steps_to_ms(steps: Step, dt_ms: f64) -> f64 {
    steps as f64 * dt_ms
}

/// Converts a synaptic delay in milliseconds to whole steps of `dt_ms` as every engine stores it:
/// rounded to the nearest step (through [`ms_to_steps`]) and clamped to `1..=u16::MAX`, since a
/// spike can arrive at the earliest one step after it was emitted. Validation rejects delays
/// shorter than `dt_ms` or longer than [`MAX_DELAY_STEPS`](crate::MAX_DELAY_STEPS) steps, so the
/// clamp only matters for specs that were not validated.
///
/// ```
/// assert_eq!(snn_types::delay_steps(1.5, 0.1), 15);
/// assert_eq!(snn_types::delay_steps(0.0, 0.1), 1);
/// ```
pub fn delay_steps(ms: f64, dt_ms: f64) -> u16 {
    ms_to_steps(ms, dt_ms).map_or(1, |s| s.clamp(1, u16::MAX as Step) as u16)
}
