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

/// Most steps one run may take (2^40, about 35 years of biological time at `dt = 1 ms`):
/// validation refuses a `duration_ms` (or a stimulus time) beyond it, so that every step count
/// derived from a validated spec fits comfortably in a [`Step`] and in `f64` without rounding.
pub const MAX_STEPS: Step = 1 << 40;

/// Smallest time step accepted (ms): 1e-6 ms, one nanosecond.
pub const MIN_DT_MS: f64 = 1e-6;

/// A number for an error message: Rust's shortest form when that is short (`0.1`, `-60`), else
/// scientific notation (`1e-300`, `1e300`), never hundreds of digits.
pub(crate) fn num(x: f64) -> String {
    let s = x.to_string();
    if s.len() > 20 { format!("{x:e}") } else { s }
}

/// Checks a time step: finite, positive and at least [`MIN_DT_MS`]. The error says what is
/// wrong, without naming the field (the caller does: `dt_ms`, a flag...).
pub fn check_dt(dt_ms: f64) -> Result<(), String> {
    if !dt_ms.is_finite() {
        Err(format!("must be a finite number, got {dt_ms}"))
    } else if dt_ms <= 0.0 {
        Err(format!("must be > 0, got {}", num(dt_ms)))
    } else if dt_ms < MIN_DT_MS {
        Err(format!(
            "{} ms is below the smallest step of {MIN_DT_MS} ms",
            num(dt_ms)
        ))
    } else {
        Ok(())
    }
}

/// Checks a duration (ms) against the time step: finite, positive, at least one step and at most
/// [`MAX_STEPS`] steps of `dt_ms`. A `dt_ms` that fails [`check_dt`] is not judged here (it is reported on its
/// own). The error says what is wrong, without naming the field.
pub fn check_duration(ms: f64, dt_ms: f64) -> Result<(), String> {
    if ms.is_finite() && ms <= 0.0 {
        return Err(format!("must be > 0, got {}", num(ms)));
    }
    check_time(ms, dt_ms)?;
    if ms_to_steps(ms, dt_ms) == Some(0) {
        return Err(format!(
            "{} ms rounds to 0 steps of dt = {} ms (durations are rounded to the nearest step; \
             at least half a step runs one)",
            num(ms),
            num(dt_ms)
        ));
    }
    Ok(())
}

/// Checks a point in time or a length of time (ms) that may be zero: finite, `>= 0`, and at most
/// [`MAX_STEPS`] steps of `dt_ms`.
pub fn check_time(ms: f64, dt_ms: f64) -> Result<(), String> {
    if !ms.is_finite() {
        return Err(format!("must be a finite number, got {ms}"));
    }
    if ms < 0.0 {
        return Err(format!("must be >= 0, got {}", num(ms)));
    }
    if check_dt(dt_ms).is_ok() && ms / dt_ms > MAX_STEPS as f64 {
        return Err(format!(
            "{ms:e} ms is {:.3e} steps of dt = {} ms, more than the maximum of 2^40 ({MAX_STEPS})",
            ms / dt_ms,
            num(dt_ms)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_checks_bound_every_value() {
        assert!(check_dt(0.1).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-9] {
            assert!(check_dt(bad).is_err(), "{bad}");
        }
        assert!(check_duration(1000.0, 0.1).is_ok());
        for bad in [0.0, -5.0, f64::NAN, f64::INFINITY, 1e300] {
            assert!(check_duration(bad, 0.1).is_err(), "{bad}");
        }
        // Exactly at the maximum passes, one step beyond fails.
        assert!(check_duration(MAX_STEPS as f64, 1.0).is_ok());
        assert!(check_duration(MAX_STEPS as f64 + 1.0, 1.0).is_err());
        assert!(check_time(0.0, 0.1).is_ok());
    }
}
