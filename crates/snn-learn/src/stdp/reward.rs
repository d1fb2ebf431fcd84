//! Reward-modulated (three-factor) STDP.

use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use snn_core::plasticity::{Share, SharedWeights, downcast_replica};
use snn_core::{Plasticity, Projection};
use snn_types::Step;

use super::pair::{Bounds, Pairing};
use super::trace::{DecayTable, Traces};
use super::{StdpError, StdpRule, check_nonneg, check_pos};

/// Parameters of [`RewardStdp`].
///
/// Pair STDP (traces `x_j`, `y_i` as in [`PairParams`](super::PairParams)) does not change the
/// weight but charges a per-synapse eligibility trace `c_ij` that decays with `tau_c_ms`:
///
/// ```text
/// pre spike of j at t:   c_ij <- c_ij(t) - a_minus y_i(t);   then bump x_j
/// post spike of i at t:  c_ij <- c_ij(t) + a_plus  x_j(t);   then bump y_i
/// reward r at t:         w_ij <- clip(w_ij + learning_rate * r * c_ij(t))   for every synapse
/// ```
///
/// This is the three-factor rule `dw/dt = c(t) d(t)` of Izhikevich (2007, Cereb. Cortex 17:2443)
/// and Florian (2007) with the neuromodulator `d(t)` a train of impulses `sum r_k delta(t-t_k)`
/// (Frémaux & Gerstner 2016, Front. Neural Circuits 9:85); a dopamine level with its own time
/// constant is a sum of such impulses spread over time (call `apply_reward` every few steps).
/// Without reward the weights never change; the sign of the reward sets the sign of the change
/// for a given eligibility.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewardParams {
    /// Eligibility charge of a causal pair.
    pub a_plus: f64,
    /// Eligibility discharge of an anti-causal pair.
    pub a_minus: f64,
    /// Presynaptic trace time constant, ms.
    pub tau_plus_ms: f64,
    /// Postsynaptic trace time constant, ms.
    pub tau_minus_ms: f64,
    /// Eligibility trace time constant, ms (Izhikevich 2007: 1000 ms).
    pub tau_c_ms: f64,
    /// Learning rate: weight change per unit reward per unit eligibility.
    pub learning_rate: f64,
    /// Weight bounds (hard).
    pub bounds: Bounds,
    /// Pairing of the STDP part.
    pub pairing: Pairing,
}

impl Default for RewardParams {
    /// Izhikevich (2007): `tau+ = tau- = 20 ms`, `A+ = 1`, `A- = 1.5`, `tau_c = 1 s`, weights in
    /// `[0, 4]`; learning rate 1.
    fn default() -> Self {
        Self {
            a_plus: 1.0,
            a_minus: 1.5,
            tau_plus_ms: 20.0,
            tau_minus_ms: 20.0,
            tau_c_ms: 1000.0,
            learning_rate: 1.0,
            bounds: Bounds {
                w_min: 0.0,
                w_max: 4.0,
            },
            pairing: Pairing::AllToAll,
        }
    }
}

impl RewardParams {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), StdpError> {
        check_nonneg("a_plus", self.a_plus)?;
        check_nonneg("a_minus", self.a_minus)?;
        check_pos("tau_plus_ms", self.tau_plus_ms)?;
        check_pos("tau_minus_ms", self.tau_minus_ms)?;
        check_pos("tau_c_ms", self.tau_c_ms)?;
        if !self.learning_rate.is_finite() {
            return Err(StdpError::Param {
                name: "learning_rate",
                reason: "must be finite".into(),
            });
        }
        Ok(self.bounds.check()?)
    }
}

/// Reward-modulated STDP for one projection (see [`RewardParams`]). It keeps one eligibility
/// trace per synapse, indexed like the projection's weight array, so it is built from the
/// [`Projection`] it will be attached to. To deliver rewards while it is attached to a
/// [`Network`](snn_core::Network), wrap it in [`Shared`]. Forks for multi-threaded runs (every
/// replica keeps the presynaptic traces, each thread the postsynaptic traces of its targets and
/// the eligibility of its synapses).
#[derive(Clone)]
pub struct RewardStdp {
    p: RewardParams,
    scale: f64,
    row_ptr: Vec<usize>,
    x: Traces,
    y: Traces,
    c: Traces,
    dx: DecayTable,
    dy: DecayTable,
    dc: DecayTable,
}

impl RewardStdp {
    /// A rule for `projection` (its CSR layout fixes the synapse indices) at step `dt_ms`.
    pub fn for_projection(
        p: RewardParams,
        dt_ms: f64,
        projection: &Projection,
    ) -> Result<Self, StdpError> {
        Self::from_layout(
            p,
            dt_ms,
            projection.row_ptr().to_vec(),
            projection.n_target(),
        )
    }

    /// A rule for a CSR layout given by `row_ptr` (length `n_pre + 1`, non-decreasing, synapse
    /// indices of source `j` are `row_ptr[j]..row_ptr[j+1]`) and `n_post` targets.
    pub fn from_layout(
        p: RewardParams,
        dt_ms: f64,
        row_ptr: Vec<usize>,
        n_post: usize,
    ) -> Result<Self, StdpError> {
        p.validate()?;
        if row_ptr.is_empty() || row_ptr.windows(2).any(|w| w[0] > w[1]) || row_ptr[0] != 0 {
            return Err(StdpError::Param {
                name: "row_ptr",
                reason: "must start at 0 and be non-decreasing".into(),
            });
        }
        let n_syn = *row_ptr.last().unwrap_or(&0);
        Ok(Self {
            dx: DecayTable::new(p.tau_plus_ms, dt_ms)?,
            dy: DecayTable::new(p.tau_minus_ms, dt_ms)?,
            dc: DecayTable::new(p.tau_c_ms, dt_ms)?,
            p,
            scale: 1.0,
            x: Traces::new(row_ptr.len() - 1),
            y: Traces::new(n_post),
            c: Traces::new(n_syn),
            row_ptr,
        })
    }

    /// Number of synapses (length of the eligibility vector).
    pub fn n_synapses(&self) -> usize {
        self.c.len()
    }

    /// Eligibility of synapse `s` at step `t` (0 for an unknown synapse).
    pub fn eligibility(&self, s: usize, t: Step) -> f64 {
        if s < self.c.len() {
            self.c.at(s, t, &self.dc)
        } else {
            0.0
        }
    }

    /// Delivers reward `reward` at step `t`: `w_s <- clip(w_s + rate * reward * c_s(t))` for
    /// every synapse. `weights` is the projection's whole weight array (e.g.
    /// [`Network::projection_weights_mut`](snn_core::Network::projection_weights_mut)). Costs
    /// one pass over the synapses, so call it per trial or every few steps, not per spike.
    pub fn apply_reward(
        &mut self,
        t: Step,
        reward: f64,
        weights: &mut [f32],
    ) -> Result<(), StdpError> {
        if weights.len() != self.c.len() {
            return Err(StdpError::Data(format!(
                "reward: {} weights for a rule built for {} synapses",
                weights.len(),
                self.c.len()
            )));
        }
        if !reward.is_finite() {
            return Err(StdpError::Param {
                name: "reward",
                reason: format!("must be finite, got {reward}"),
            });
        }
        if reward == 0.0 {
            return Ok(());
        }
        let k = self.scale * self.p.learning_rate * reward;
        for (s, w) in weights.iter_mut().enumerate() {
            let c = self.c.at(s, t, &self.dc);
            if c != 0.0 {
                *w = self.p.bounds.clip(*w as f64 + k * c);
            }
        }
        Ok(())
    }

    fn nearest(&self) -> bool {
        self.p.pairing == Pairing::Nearest
    }
}

impl Plasticity for RewardStdp {
    fn on_pre(
        &mut self,
        step: Step,
        pre: u32,
        first_synapse: usize,
        targets: &[u32],
        _weights: &mut [f32],
    ) {
        let j = pre as usize;
        if j + 1 >= self.row_ptr.len() || first_synapse < self.row_ptr[j] {
            return; // not the layout this rule was built for
        }
        let base = first_synapse;
        if let Some(&m) = targets.last() {
            // Targets are sorted (the trait's contract): the last is the largest.
            self.y.ensure(m as usize + 1);
        }
        for (k, &i) in targets.iter().enumerate() {
            let s = base + k;
            if s >= self.c.len() {
                break;
            }
            let y = self.y.at(i as usize, step, &self.dy);
            if y != 0.0 {
                self.c.add(s, step, &self.dc, -self.p.a_minus * y);
            }
        }
        let n = self.nearest();
        self.x.bump(j, step, &self.dx, n);
    }

    fn on_post(
        &mut self,
        step: Step,
        post: u32,
        sources: &[u32],
        synapses: &[u32],
        _weights: &mut [f32],
    ) {
        self.y.ensure(post as usize + 1);
        for (&j, &s) in sources.iter().zip(synapses) {
            if (j as usize) >= self.x.len() || (s as usize) >= self.c.len() {
                continue;
            }
            let x = self.x.at(j as usize, step, &self.dx);
            if x != 0.0 {
                self.c.add(s as usize, step, &self.dc, self.p.a_plus * x);
            }
        }
        let n = self.nearest();
        self.y.bump(post as usize, step, &self.dy, n);
    }

    fn fork(&self) -> Option<Box<dyn Plasticity>> {
        Some(Box::new(self.clone()))
    }

    fn join(&mut self, replica: Box<dyn Plasticity>, share: &Share<'_>) {
        let Some(r) = downcast_replica::<Self>(replica) else {
            return;
        };
        self.x = r.x.clone();
        let t = share.targets.start as usize..share.targets.end as usize;
        self.y.copy_range_from(&r.y, t);
        for s in share.synapses {
            self.c.copy_range_from(&r.c, s.clone());
        }
    }
}

impl StdpRule for RewardStdp {
    fn set_rate_scale(&mut self, scale: f64) {
        self.scale = scale;
    }
    fn reset_traces(&mut self) {
        self.x.clear();
        self.y.clear();
        self.c.clear();
    }
}

/// A rule shared between a [`Network`](snn_core::Network) and its owner: attach a clone with
/// `set_plasticity(j, Box::new(shared.clone()))` and keep the other to inspect the rule or call
/// its methods (e.g. [`RewardStdp::apply_reward`]) between runs. The lock is uncontended: on one
/// thread the engine calls the rule from that thread; on several it forks the inner rule into
/// unshared replicas and joins them back into the shared rule at the end of each run.
pub struct Shared<R>(Arc<Mutex<R>>);

impl<R> Clone for Shared<R> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<R> Shared<R> {
    /// Wraps `rule`.
    pub fn new(rule: R) -> Self {
        Self(Arc::new(Mutex::new(rule)))
    }

    /// Locks the rule (a poisoned lock is recovered: the rule holds no invariants a panic in
    /// another holder could break halfway).
    pub fn lock(&self) -> MutexGuard<'_, R> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<R: Plasticity> Plasticity for Shared<R> {
    fn on_pre(
        &mut self,
        step: Step,
        pre: u32,
        first_synapse: usize,
        targets: &[u32],
        weights: &mut [f32],
    ) {
        self.lock()
            .on_pre(step, pre, first_synapse, targets, weights)
    }
    fn set_strict_rows(&mut self, strict: bool) {
        self.lock().set_strict_rows(strict)
    }
    fn on_post(
        &mut self,
        step: Step,
        post: u32,
        sources: &[u32],
        synapses: &[u32],
        weights: &mut [f32],
    ) {
        self.lock().on_post(step, post, sources, synapses, weights)
    }

    fn splits_post(&self) -> bool {
        self.lock().splits_post()
    }

    fn post_factor(&mut self, step: Step, post: u32) -> f64 {
        self.lock().post_factor(step, post)
    }

    fn on_post_part(
        &self,
        step: Step,
        factor: f64,
        sources: &[u32],
        synapses: &[u32],
        weights: &SharedWeights<'_>,
    ) {
        self.lock()
            .on_post_part(step, factor, sources, synapses, weights)
    }

    fn on_post_end(&mut self, step: Step, post: u32) {
        self.lock().on_post_end(step, post)
    }

    /// A replica of the inner rule, wrapped in a new (unshared) lock.
    fn fork(&self) -> Option<Box<dyn Plasticity>> {
        let inner = self.lock().fork()?;
        let inner = downcast_replica::<R>(inner)?;
        Some(Box::new(Shared::new(*inner)))
    }

    /// Joins the replica's inner rule into the shared one (visible to every clone).
    fn join(&mut self, replica: Box<dyn Plasticity>, share: &Share<'_>) {
        let Some(r) = downcast_replica::<Self>(replica) else {
            return;
        };
        let Ok(m) = Arc::try_unwrap(r.0) else {
            return; // a replica is never shared
        };
        let inner = m.into_inner().unwrap_or_else(|e| e.into_inner());
        self.lock().join(Box::new(inner), share);
    }
}
