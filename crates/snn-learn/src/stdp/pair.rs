//! Pair-based STDP.

use snn_core::Plasticity;
use snn_core::plasticity::{PREFETCH_AHEAD, Share, SharedWeights, downcast_replica};
use snn_types::Step;
pub use snn_types::plasticity::{Bounds, PairParams, Pairing, WeightDependence};

use super::trace::{DecayTable, Traces};
use super::{StdpError, StdpRule};

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
