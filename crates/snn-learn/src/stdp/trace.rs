//! Lazily decayed exponential spike traces.

use snn_types::Step;

use super::{StdpError, check_pos};

/// Decay factors `exp(-k dt / tau)` for whole numbers of steps `k`, tabulated for the first
/// steps (until the factor falls below 1e-50, far enough for `TripletStdp` to retire its targets from
/// the table; at most 65,536 entries) and computed beyond.
/// Every entry is computed directly as `exp(-(k as f64) * dt / tau)`, so a lookup is exactly the
/// value a direct evaluation would give.
#[derive(Clone, Debug)]
pub struct DecayTable {
    steps_per_tau_inv: f64,
    lut: Vec<f64>,
}

impl DecayTable {
    /// A table for time constant `tau_ms` at step `dt_ms`.
    pub fn new(tau_ms: f64, dt_ms: f64) -> Result<Self, StdpError> {
        check_pos("tau_ms", tau_ms)?;
        check_pos("dt_ms", dt_ms)?;
        let a = dt_ms / tau_ms;
        // exp(-x) < 1e-30 for x > 69.08.
        let n = ((115.0 / a).ceil() as usize).clamp(2, 1 << 16);
        let lut = (0..n).map(|k| (-(k as f64) * a).exp()).collect();
        Ok(Self {
            steps_per_tau_inv: a,
            lut,
        })
    }

    /// `exp(-k dt / tau)`.
    #[inline]
    pub fn factor(&self, k: u64) -> f64 {
        match self.lut.get(k as usize) {
            Some(&f) => f,
            None => {
                let x = k as f64 * self.steps_per_tau_inv;
                // Beyond 746 the factor is below half the smallest subnormal, so `exp` gives
                // exactly 0, but through libm's slow underflow path (2% of Diehl & Cook's
                // profile, for inputs that have not fired for a long time): same value, directly.
                if x > 746.0 { 0.0 } else { (-x).exp() }
            }
        }
    }

    /// Number of steps after which the factor is below `eps` (a horizon for pruning).
    pub fn horizon(&self, eps: f64) -> u64 {
        (-(eps.max(1e-300)).ln() / self.steps_per_tau_inv).ceil() as u64
    }
}

/// A vector of exponential traces `x_i(t)` (`dx/dt = -x/tau`, bumped on spikes), stored as the
/// value at the last spike and that spike's step, and decayed only when read or bumped. Each
/// trace's value and step sit side by side (one cache line for both: rules read the traces of
/// a row's or column's neurons in scattered order).
#[derive(Clone, Debug)]
pub struct Traces {
    cells: Vec<TraceCell>,
}

/// One trace: its value at its last update and that update's step.
#[derive(Clone, Copy, Debug, Default)]
struct TraceCell {
    value: f64,
    last: Step,
}

impl Traces {
    /// `n` traces at zero.
    pub fn new(n: usize) -> Self {
        Self {
            cells: vec![TraceCell::default(); n],
        }
    }

    /// Number of traces.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// True when there are no traces.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Grows to at least `n` traces (new ones at zero).
    pub fn ensure(&mut self, n: usize) {
        if n > self.cells.len() {
            self.cells.resize(n, TraceCell::default());
        }
    }

    /// `x_i(t)`: the trace decayed to step `t` (steps before the last update read as that
    /// update's value).
    #[inline]
    pub fn at(&self, i: usize, t: Step, d: &DecayTable) -> f64 {
        let c = self.cells[i];
        if c.value == 0.0 {
            return 0.0;
        }
        c.value * d.factor(t.saturating_sub(c.last))
    }

    /// [`at`](Self::at), or 0 for a trace beyond the end (one that was never bumped).
    #[inline]
    pub fn at_or_zero(&self, i: usize, t: Step, d: &DecayTable) -> f64 {
        if i < self.cells.len() {
            self.at(i, t, d)
        } else {
            0.0
        }
    }

    /// A spike at `t`: `x_i <- x_i(t) + 1` (all-to-all) or `x_i <- 1` (nearest spike).
    #[inline]
    pub fn bump(&mut self, i: usize, t: Step, d: &DecayTable, nearest: bool) {
        let value = if nearest { 1.0 } else { self.at(i, t, d) + 1.0 };
        self.cells[i] = TraceCell { value, last: t };
    }

    /// Adds `delta` at step `t`: `x_i <- x_i(t) + delta`.
    #[inline]
    pub fn add(&mut self, i: usize, t: Step, d: &DecayTable, delta: f64) {
        let value = self.at(i, t, d) + delta;
        self.cells[i] = TraceCell { value, last: t };
    }

    /// Step of the last bump of trace `i`.
    pub fn last_step(&self, i: usize) -> Step {
        self.cells[i].last
    }

    /// Copies traces `range` (clipped to `other`'s length) from `other`, growing to hold them:
    /// to take back the part of a replica that its thread owned.
    pub fn copy_range_from(&mut self, other: &Traces, range: std::ops::Range<usize>) {
        let hi = range.end.min(other.len());
        if range.start >= hi {
            return;
        }
        self.ensure(hi);
        self.cells[range.start..hi].copy_from_slice(&other.cells[range.start..hi]);
    }

    /// Whether neuron `i`'s trace was ever bumped since the last clear (its value is non-zero).
    #[inline]
    pub fn is_set(&self, i: usize) -> bool {
        self.cells.get(i).is_some_and(|c| c.value != 0.0)
    }

    /// All traces to zero.
    pub fn clear(&mut self) {
        self.cells.fill(TraceCell::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every factor, in the table and beyond it, is bit for bit `exp(-k dt / tau)` evaluated
    /// directly, including where `exp` underflows to 0 (the shortcut past 746).
    #[test]
    fn factors_are_the_direct_exp_everywhere() {
        for (tau, dt) in [(20.0, 0.5), (40.0, 0.5), (1.0, 0.1), (1e4, 1.0)] {
            let d = DecayTable::new(tau, dt).unwrap();
            let a = dt / tau;
            let edge = (746.0 / a) as u64;
            let ks = (0..5000u64)
                .chain([
                    d.lut.len() as u64 - 1,
                    d.lut.len() as u64,
                    d.lut.len() as u64 + 1,
                ])
                .chain(edge.saturating_sub(50)..edge + 50)
                .chain([edge * 2, u64::MAX / 4]);
            for k in ks {
                let want = (-(k as f64) * a).exp();
                assert_eq!(
                    d.factor(k).to_bits(),
                    want.to_bits(),
                    "tau {tau}, dt {dt}, k {k}"
                );
            }
            assert_eq!(d.factor(edge + 10), 0.0);
        }
    }
}
