//! Homeostasis: adaptive thresholds, weight normalisation, learning-rate schedules.

use serde::{Deserialize, Serialize};
use snn_core::Projection;
use snn_types::Step;

use super::trace::{DecayTable, Traces};
use super::{StdpError, check_nonneg, check_pos};

/// Adaptive thresholds: each neuron's threshold is raised by `theta_plus_mv` on each of its
/// spikes and relaxes back with `tau_theta_ms`:
///
/// ```text
/// v_th,i(t) = v_th + theta_i(t),   d theta_i / dt = -theta_i / tau_theta,   spike: theta_i += theta_plus
/// ```
///
/// (Diehl & Cook 2015, after Zylberberg et al. 2011.) A neuron that fires a lot becomes harder
/// to fire, so every neuron of a winner-take-all layer gets its share. Lazily decayed.
///
/// With a rest offset ([`with_rest_offset`](Self::with_rest_offset)) the decay pulls `theta`
/// towards `-offset` instead of 0: `d theta_i / dt = -(theta_i + offset) / tau_theta`. This is
/// Diehl & Cook's published code, which starts `theta` at 20 mV, lets it decay to 0 and compares
/// `v` with `v_thresh - 20 mV + theta`: the threshold starts at `v_thresh` but the decay acts on
/// `theta + 20 mV`, a homeostatic pull far stronger than the decay of `theta` alone.
#[derive(Clone, Debug)]
pub struct AdaptiveThreshold {
    theta_plus_mv: f64,
    offset_mv: f64,
    /// `theta_i + offset` (what decays).
    theta: Traces,
    decay: DecayTable,
}

impl AdaptiveThreshold {
    /// `n` neurons at `theta = 0`.
    pub fn new(
        n: usize,
        theta_plus_mv: f64,
        tau_theta_ms: f64,
        dt_ms: f64,
    ) -> Result<Self, StdpError> {
        Self::with_rest_offset(n, theta_plus_mv, tau_theta_ms, dt_ms, 0.0)
    }

    /// `n` neurons at `theta = 0` whose `theta` decays towards `-offset_mv` (see the type's
    /// docs; Diehl & Cook's code: 20 mV).
    pub fn with_rest_offset(
        n: usize,
        theta_plus_mv: f64,
        tau_theta_ms: f64,
        dt_ms: f64,
        offset_mv: f64,
    ) -> Result<Self, StdpError> {
        check_nonneg("theta_plus_mv", theta_plus_mv)?;
        check_nonneg("offset_mv", offset_mv)?;
        let decay = DecayTable::new(tau_theta_ms, dt_ms)?;
        let mut theta = Traces::new(n);
        for i in 0..n {
            theta.add(i, 0, &decay, offset_mv);
        }
        Ok(Self {
            theta_plus_mv,
            offset_mv,
            theta,
            decay,
        })
    }

    /// `theta_i(t)`, mV.
    pub fn theta_mv(&self, i: usize, t: Step) -> f64 {
        self.theta.at(i, t, &self.decay) - self.offset_mv
    }

    /// A spike of neuron `i` at `t`.
    pub fn on_spike(&mut self, i: usize, t: Step) {
        self.theta.add(i, t, &self.decay, self.theta_plus_mv);
    }

    /// Sets `theta_i` to `v` mV at step `t`.
    pub fn set(&mut self, i: usize, t: Step, v: f64) {
        let cur = self.theta.at(i, t, &self.decay);
        self.theta.add(i, t, &self.decay, v + self.offset_mv - cur);
    }

    /// Number of neurons.
    pub fn len(&self) -> usize {
        self.theta.len()
    }

    /// True when there are no neurons.
    pub fn is_empty(&self) -> bool {
        self.theta.is_empty()
    }
}

/// Scales the incoming weights of every target to sum to `target_sum` (Diehl & Cook 2015;
/// Goodhill & Barrow 1994 call it divisive normalisation): `w_ij <- w_ij * target_sum / sum_j w_ij`.
/// `weights` is dense, row-major by source: `weights[j * n_post + i]` is source `j` to target
/// `i`. Targets whose incoming weights sum to zero are left alone.
pub fn normalise_incoming(
    weights: &mut [f32],
    n_post: usize,
    target_sum: f64,
) -> Result<(), StdpError> {
    check_pos("target_sum", target_sum)?;
    if n_post == 0 || !weights.len().is_multiple_of(n_post) {
        return Err(StdpError::Data(format!(
            "{} weights are not a whole number of rows of {n_post}",
            weights.len()
        )));
    }
    let mut sums = vec![0.0f64; n_post];
    for row in weights.chunks_exact(n_post) {
        for (s, &w) in sums.iter_mut().zip(row) {
            *s += w as f64;
        }
    }
    let f: Vec<f32> = sums
        .iter()
        .map(|&s| {
            if s > 0.0 {
                (target_sum / s) as f32
            } else {
                1.0
            }
        })
        .collect();
    for row in weights.chunks_exact_mut(n_post) {
        for (w, &k) in row.iter_mut().zip(&f) {
            *w *= k;
        }
    }
    Ok(())
}

/// Incoming-weight normalisation for a CSR [`Projection`] of the engine (see
/// [`normalise_incoming`] for the rule): holds the projection's transposed index.
pub struct IncomingNormaliser {
    col_ptr: Vec<usize>,
    col_syn: Vec<u32>,
}

impl IncomingNormaliser {
    /// Indexes `projection`'s synapses by target.
    pub fn new(projection: &Projection) -> Self {
        let (col_ptr, _src, col_syn) = projection.transpose_index();
        Self { col_ptr, col_syn }
    }

    /// Scales each target's incoming weights (in the projection's weight array) to sum to
    /// `target_sum`.
    pub fn apply(&self, weights: &mut [f32], target_sum: f64) -> Result<(), StdpError> {
        check_pos("target_sum", target_sum)?;
        if self.col_syn.iter().any(|&s| s as usize >= weights.len()) {
            return Err(StdpError::Data(format!(
                "{} weights do not match the indexed projection",
                weights.len()
            )));
        }
        for c in self.col_ptr.windows(2) {
            let syn = &self.col_syn[c[0]..c[1]];
            let s: f64 = syn.iter().map(|&k| weights[k as usize] as f64).sum();
            if s > 0.0 {
                let f = (target_sum / s) as f32;
                for &k in syn {
                    weights[k as usize] *= f;
                }
            }
        }
        Ok(())
    }
}

/// A learning-rate schedule: the factor applied to a rule's amplitudes (see
/// [`StdpRule::set_rate_scale`](super::StdpRule::set_rate_scale)) after `done` of `total`
/// training samples.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum LrSchedule {
    /// Always 1.
    Constant,
    /// `0.5^(done / half_life)`.
    Exponential {
        /// Samples over which the rate halves.
        half_life: f64,
    },
    /// From 1 linearly down to `final_factor` at `done = total`.
    Linear {
        /// Factor at the end of training.
        final_factor: f64,
    },
    /// `gamma^floor(done / every)`.
    Step {
        /// Samples between steps.
        every: u64,
        /// Factor per step.
        gamma: f64,
    },
}

impl LrSchedule {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), StdpError> {
        match *self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::Exponential { half_life } => check_pos("half_life", half_life),
            LrSchedule::Linear { final_factor } => check_nonneg("final_factor", final_factor),
            LrSchedule::Step { every, gamma } => {
                if every == 0 {
                    return Err(StdpError::Param {
                        name: "every",
                        reason: "must be >= 1".into(),
                    });
                }
                check_nonneg("gamma", gamma)
            }
        }
    }

    /// The factor after `done` of `total` samples.
    pub fn factor(&self, done: u64, total: u64) -> f64 {
        match *self {
            LrSchedule::Constant => 1.0,
            LrSchedule::Exponential { half_life } => 0.5f64.powf(done as f64 / half_life),
            LrSchedule::Linear { final_factor } => {
                let f = if total == 0 {
                    0.0
                } else {
                    (done as f64 / total as f64).min(1.0)
                };
                1.0 + (final_factor - 1.0) * f
            }
            LrSchedule::Step { every, gamma } => gamma.powf((done / every.max(1)) as f64),
        }
    }
}
