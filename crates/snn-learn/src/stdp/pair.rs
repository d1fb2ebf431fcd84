//! Pair-based STDP.

use serde::{Deserialize, Serialize};
use snn_core::Plasticity;
use snn_core::plasticity::{PREFETCH_AHEAD, Share, SharedWeights, downcast_replica};
use snn_types::Step;

use super::trace::{DecayTable, Traces};
use super::{StdpError, StdpRule, check_nonneg, check_pos};

/// How the weight change depends on the current weight `w` in `[w_min, w_max]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum WeightDependence {
    /// `f+(w) = f-(w) = 1`, then clipped to `[w_min, w_max]` (hard bounds; Song, Miller &
    /// Abbott 2000). Amplitudes are in weight units.
    Additive,
    /// Soft bounds: `f+(w) = w_max - w`, `f-(w) = w - w_min` (multiplicative, weight-dependent;
    /// van Rossum, Bi & Turrigiano 2000 for depression, Rubin, Lee & Sompolinsky 2001 for both).
    /// Amplitudes are rates per unit of weight.
    Multiplicative,
    /// `f+(w) = (w_max - w)^mu`, `f-(w) = (w - w_min)^mu` (Gütig et al. 2003): `mu = 0` is
    /// additive, `mu = 1` multiplicative.
    PowerLaw {
        /// The exponent, >= 0.
        mu: f64,
    },
}

/// Which spike pairs interact (Morrison, Diesmann & Gerstner 2008, section 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pairing {
    /// Every pre spike pairs with every earlier post spike and vice versa: a trace is bumped by
    /// 1 on each spike (`x <- x + 1`).
    AllToAll,
    /// Symmetric nearest-spike: each spike pairs only with the most recent spike of the other
    /// side: a trace is reset to 1 on each spike (`x <- 1`).
    Nearest,
}

/// Weight bounds `[w_min, w_max]`, in the units of the projection's weights.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Lower bound.
    pub w_min: f64,
    /// Upper bound.
    pub w_max: f64,
}

impl Bounds {
    pub(crate) fn check(&self) -> Result<(), StdpError> {
        if !(self.w_min.is_finite() && self.w_max.is_finite() && self.w_min < self.w_max) {
            return Err(StdpError::Param {
                name: "bounds",
                reason: format!(
                    "need finite w_min < w_max, got [{}, {}]",
                    self.w_min, self.w_max
                ),
            });
        }
        Ok(())
    }

    /// `f+(w)`, the potentiation factor of `dep`.
    #[inline]
    pub(crate) fn f_plus(&self, dep: WeightDependence, w: f64) -> f64 {
        match dep {
            WeightDependence::Additive => 1.0,
            WeightDependence::Multiplicative => (self.w_max - w).max(0.0),
            WeightDependence::PowerLaw { mu } => (self.w_max - w).max(0.0).powf(mu),
        }
    }

    /// `f-(w)`, the depression factor of `dep`.
    #[inline]
    pub(crate) fn f_minus(&self, dep: WeightDependence, w: f64) -> f64 {
        match dep {
            WeightDependence::Additive => 1.0,
            WeightDependence::Multiplicative => (w - self.w_min).max(0.0),
            WeightDependence::PowerLaw { mu } => (w - self.w_min).max(0.0).powf(mu),
        }
    }

    /// Clips to the bounds and rounds to f32 (the result never leaves the bounds).
    #[inline]
    pub fn clip(&self, w: f64) -> f32 {
        let lo = self.w_min as f32;
        let hi = self.w_max as f32;
        // Round first, then clamp in f32 so that rounding cannot push a weight out.
        let v = w as f32;
        if v.is_nan() { lo } else { v.clamp(lo, hi) }
    }
}

/// Parameters of [`PairStdp`].
///
/// With traces `x_j` (presynaptic, `tau_plus_ms`) and `y_i` (postsynaptic, `tau_minus_ms`),
/// each decaying as `dx/dt = -x/tau` and bumped on a spike (see [`Pairing`]):
///
/// ```text
/// on a pre spike of j at t:   w_ij <- w_ij - a_minus * f-(w_ij) * y_i(t);   then bump x_j
/// on a post spike of i at t:  w_ij <- w_ij + a_plus  * f+(w_ij) * x_j(t);   then bump y_i
/// ```
///
/// For one pair, `dt = t_post - t_pre >= 0` gives `a_plus f+ exp(-dt/tau_plus)` and `dt < 0`
/// gives `-a_minus f- exp(dt/tau_minus)`: the exponential STDP window of Bi & Poo (1998) in the
/// trace formulation of Song, Miller & Abbott (2000) and Morrison et al. (2008). A pre and a
/// post spike in the same step count as pre-before-post (`dt = 0`), the engine's order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairParams {
    /// Potentiation amplitude `A+` (weight units for additive, a rate for soft bounds).
    pub a_plus: f64,
    /// Depression amplitude `A-`.
    pub a_minus: f64,
    /// Time constant of the presynaptic trace, ms.
    pub tau_plus_ms: f64,
    /// Time constant of the postsynaptic trace, ms.
    pub tau_minus_ms: f64,
    /// Weight bounds.
    pub bounds: Bounds,
    /// Weight dependence.
    pub dependence: WeightDependence,
    /// Spike pairing scheme.
    pub pairing: Pairing,
}

impl Default for PairParams {
    /// Song, Miller & Abbott (2000): `tau+ = tau- = 20 ms`, `A- / A+ = 1.05`, additive with hard
    /// bounds `[0, 1]`, `A+ = 0.005` (in units of `w_max`), all-to-all.
    fn default() -> Self {
        Self {
            a_plus: 0.005,
            a_minus: 0.00525,
            tau_plus_ms: 20.0,
            tau_minus_ms: 20.0,
            bounds: Bounds {
                w_min: 0.0,
                w_max: 1.0,
            },
            dependence: WeightDependence::Additive,
            pairing: Pairing::AllToAll,
        }
    }
}

impl PairParams {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), StdpError> {
        check_nonneg("a_plus", self.a_plus)?;
        check_nonneg("a_minus", self.a_minus)?;
        check_pos("tau_plus_ms", self.tau_plus_ms)?;
        check_pos("tau_minus_ms", self.tau_minus_ms)?;
        self.bounds.check()?;
        if let WeightDependence::PowerLaw { mu } = self.dependence {
            check_nonneg("mu", mu)?;
        }
        Ok(())
    }
}

/// Pair-based STDP as a [`Plasticity`] rule for one projection (see [`PairParams`] for the
/// equations). Traces are per neuron and decayed lazily. Forks for multi-threaded runs (every
/// replica keeps the presynaptic traces, each thread the postsynaptic traces of its targets).
#[derive(Clone)]
pub struct PairStdp {
    p: PairParams,
    scale: f64,
    x: Traces,
    y: Traces,
    dx: DecayTable,
    dy: DecayTable,
}

impl PairStdp {
    /// A rule for a projection with `n_pre` sources and `n_post` targets at step `dt_ms`.
    pub fn new(p: PairParams, dt_ms: f64, n_pre: usize, n_post: usize) -> Result<Self, StdpError> {
        p.validate()?;
        let dx = DecayTable::new(p.tau_plus_ms, dt_ms)?;
        let dy = DecayTable::new(p.tau_minus_ms, dt_ms)?;
        Ok(Self {
            p,
            scale: 1.0,
            x: Traces::new(n_pre),
            y: Traces::new(n_post),
            dx,
            dy,
        })
    }

    /// The parameters.
    pub fn params(&self) -> &PairParams {
        &self.p
    }

    /// Presynaptic trace `x_j` at step `t`.
    pub fn pre_trace(&self, j: usize, t: Step) -> f64 {
        if j < self.x.len() {
            self.x.at(j, t, &self.dx)
        } else {
            0.0
        }
    }

    /// Postsynaptic trace `y_i` at step `t`.
    pub fn post_trace(&self, i: usize, t: Step) -> f64 {
        if i < self.y.len() {
            self.y.at(i, t, &self.dy)
        } else {
            0.0
        }
    }

    /// The weight after depression by post trace value `y`.
    #[inline]
    pub(crate) fn depress(&self, w: f32, y: f64) -> f32 {
        if y == 0.0 {
            return w;
        }
        let w = w as f64;
        let b = &self.p.bounds;
        b.clip(w - self.scale * self.p.a_minus * b.f_minus(self.p.dependence, w) * y)
    }

    /// The weight after potentiation by pre trace value `x`.
    #[inline]
    pub(crate) fn potentiate(&self, w: f32, x: f64) -> f32 {
        if x == 0.0 {
            return w;
        }
        let w = w as f64;
        let b = &self.p.bounds;
        b.clip(w + self.scale * self.p.a_plus * b.f_plus(self.p.dependence, w) * x)
    }

    fn nearest(&self) -> bool {
        self.p.pairing == Pairing::Nearest
    }
}

impl Plasticity for PairStdp {
    fn on_pre(
        &mut self,
        step: Step,
        pre: u32,
        _first_synapse: usize,
        targets: &[u32],
        weights: &mut [f32],
    ) {
        if let Some(&m) = targets.last() {
            // Targets are sorted (the trait's contract): the last is the largest.
            self.y.ensure(m as usize + 1);
        }
        self.x.ensure(pre as usize + 1);
        for (&i, w) in targets.iter().zip(weights.iter_mut()) {
            let y = self.y.at(i as usize, step, &self.dy);
            *w = self.depress(*w, y);
        }
        let nearest = self.nearest();
        self.x.bump(pre as usize, step, &self.dx, nearest);
    }

    /// The split parts in one go: [`Plasticity::post_factor`], then
    /// [`Plasticity::on_post_part`] over the whole column, then [`Plasticity::on_post_end`].
    fn on_post(
        &mut self,
        step: Step,
        post: u32,
        sources: &[u32],
        synapses: &[u32],
        weights: &mut [f32],
    ) {
        let f = Plasticity::post_factor(self, step, post);
        self.on_post_part(step, f, sources, synapses, &SharedWeights::new(weights));
        self.on_post_end(step, post);
    }

    fn fork(&self) -> Option<Box<dyn Plasticity>> {
        Some(Box::new(self.clone()))
    }

    /// Potentiation of a synapse needs only its `x` (presynaptic) and its weight: splittable
    /// (the factor is unused).
    fn splits_post(&self) -> bool {
        true
    }

    fn post_factor(&mut self, _step: Step, post: u32) -> f64 {
        self.y.ensure(post as usize + 1);
        1.0
    }

    fn on_post_part(
        &self,
        step: Step,
        _factor: f64,
        sources: &[u32],
        synapses: &[u32],
        weights: &SharedWeights<'_>,
    ) {
        for (k, (&j, &s)) in sources.iter().zip(synapses).enumerate() {
            if let Some(&ahead) = synapses.get(k + PREFETCH_AHEAD) {
                weights.prefetch(ahead as usize);
            }
            let Some(w) = weights.get(s as usize) else {
                continue;
            };
            let x = self.x.at_or_zero(j as usize, step, &self.dx);
            weights.set(s as usize, self.potentiate(w, x));
        }
    }

    fn on_post_end(&mut self, step: Step, post: u32) {
        self.y.ensure(post as usize + 1);
        let nearest = self.nearest();
        self.y.bump(post as usize, step, &self.dy, nearest);
    }

    fn join(&mut self, replica: Box<dyn Plasticity>, share: &Share<'_>) {
        let Some(r) = downcast_replica::<Self>(replica) else {
            return;
        };
        self.x = r.x.clone();
        let t = share.targets.start as usize..share.targets.end as usize;
        self.y.copy_range_from(&r.y, t);
    }
}

impl StdpRule for PairStdp {
    fn set_rate_scale(&mut self, scale: f64) {
        self.scale = scale;
    }
    fn reset_traces(&mut self) {
        self.x.clear();
        self.y.clear();
    }
}
