//! Triplet STDP (Pfister & Gerstner 2006).

use snn_core::Plasticity;
use snn_core::plasticity::{PREFETCH_AHEAD, Share, SharedWeights, downcast_replica};
use snn_types::Step;

use super::trace::{DecayTable, Traces};
use super::{StdpError, StdpRule};
pub use snn_types::plasticity::TripletParams;
use snn_types::plasticity::{Bounds, Pairing};

/// Steps after a target's last spike during which a [`TripletStdp`] with parameters `p`
/// can still change its incoming weights by depression, at step `dt_ms` with rate scales at
/// most `scale_max`: the rule retires a target once `o1 * F < 2^-152` (see
/// [`TripletStdp`]), and here `F <= scale_max (A2- + A3- r2_max)` and `o1 <= o1_max` (1
/// with nearest pairing, the trace of a spike every step with all-to-all pairing). One step
/// more for safety. Used to renormalise only the neurons whose weights may have changed.
pub fn depression_horizon_steps(p: &TripletParams, dt_ms: f64, scale_max: f64) -> u64 {
    let max_trace = |tau: f64| match p.pairing {
        Pairing::Nearest => 1.0,
        Pairing::AllToAll => 1.0 / -(-dt_ms / tau).exp_m1(),
    };
    let f = scale_max * (p.a2_minus + p.a3_minus * max_trace(p.tau_x_ms));
    let x = max_trace(p.tau_minus_ms) * f / NEGLIGIBLE;
    if x <= 1.0 {
        return 1;
    }
    (x.ln() * p.tau_minus_ms / dt_ms).ceil() as u64 + 1
}

/// Triplet STDP as a [`Plasticity`] rule (see [`TripletParams`] for the equations). Forks for
/// multi-threaded runs (every replica keeps the presynaptic traces, each thread the
/// postsynaptic traces of its targets).
///
/// **Cost.** A pre spike depresses only the synapses onto *active* targets: those whose `o1`
/// trace can still change a weight. The rule keeps the list of targets that fired, computes
/// their `o1` once per step (at the first pre spike of the step), and retires a target once
/// `o1 * F < 2^-152`, where `F` bounds every future depression factor (`scale_max (A2- + A3-)`
/// for nearest-spike pairing or `A3- = 0`; all-to-all pairing with `A3- > 0` keeps a target
/// until its `o1` is exactly 0): the update it would have received, `w - f o1` rounded to `f32`,
/// is then `w` for every weight inside the bounds, so skipping it changes nothing. A pre spike
/// thus costs work per recently active target, not per synapse of its row (Diehl & Cook's
/// 784 x N input: a handful instead of N).
#[derive(Clone)]
pub struct TripletStdp {
    p: TripletParams,
    scale: f64,
    /// The largest rate scale set so far (bounds the depression factor for retiring).
    scale_max: f64,
    r1: Traces,
    r2: Traces,
    o1: Traces,
    o2: Traces,
    pub(crate) d_r1: DecayTable,
    d_r2: DecayTable,
    pub(crate) d_o1: DecayTable,
    d_o2: DecayTable,
    /// Targets whose `o1` may still matter, and a membership flag per target.
    active: Vec<u32>,
    is_active: Vec<bool>,
    /// `(target, o1(cache_step))` of the active targets with `o1 != 0`.
    cache: Vec<(u32, f64)>,
    /// The same values by target (0 elsewhere), for rows that take the dense path
    /// ([`dense_row_depression`]); filled with the cache when `dense_step` differs.
    dense: Vec<f64>,
    /// The targets `dense` holds a value for (zeroed at the next fill).
    dense_set: Vec<u32>,
    dense_step: Option<Step>,
    cache_step: Option<Step>,
    /// The engine's word that every row is strictly increasing
    /// ([`Plasticity::set_strict_rows`]): a row spanning `len` targets is then contiguous.
    strict_rows: bool,
}

/// A pre spike depresses its row densely (one straight pass over the row, which vectorises)
/// instead of target by target from the cache when the row is contiguous and the active targets
/// (of the whole projection) outnumber `1 / DENSE_ABOVE` of the row's length. Both paths compute
/// the same values.
const DENSE_ABOVE: usize = 8;

/// Whether `targets` are `first, first + 1, ...` (a contiguous, strictly increasing row): one
/// pass of integer ORs, which vectorises, and no wrap past `u32::MAX`. (The rule itself takes
/// the engine's word, [`Plasticity::set_strict_rows`], and reads only the ends; this checks
/// that word in debug builds.)
fn is_contiguous(targets: &[u32]) -> bool {
    let (Some(&first), Some(&last)) = (targets.first(), targets.last()) else {
        return true;
    };
    last.checked_sub(first) == Some(targets.len() as u32 - 1)
        && targets
            .iter()
            .zip(targets.iter().skip(1))
            .fold(0u32, |acc, (&a, &b)| acc | (b.wrapping_sub(a) ^ 1))
            == 0
}

/// Depression of a contiguous row: every weight whose target has `o1 != 0` (`dense`, the row's
/// slice) becomes `clip(w - f o1)`, the others are left as they are. The same values as the
/// target-by-target loop over the cache, in one straight pass.
#[inline]
fn dense_row_depression(bounds: &Bounds, f: f64, dense: &[f64], weights: &mut [f32]) {
    let n = weights.len();
    let dense = &dense[..n];
    for (w, &o1) in weights.iter_mut().zip(dense) {
        let c = bounds.clip(*w as f64 - f * o1);
        *w = if o1 != 0.0 { c } else { *w };
    }
}

/// Below this, `f * o1` cannot move an `f32` weight: `2^-152`, a quarter of the smallest
/// subnormal `f32`.
const NEGLIGIBLE: f64 = 1.0 / (1u128 << 100) as f64 / (1u64 << 52) as f64;

impl TripletStdp {
    /// A rule for a projection with `n_pre` sources and `n_post` targets at step `dt_ms`.
    pub fn new(
        p: TripletParams,
        dt_ms: f64,
        n_pre: usize,
        n_post: usize,
    ) -> Result<Self, StdpError> {
        p.validate()?;
        Ok(Self {
            d_r1: DecayTable::new(p.tau_plus_ms, dt_ms)?,
            d_r2: DecayTable::new(p.tau_x_ms, dt_ms)?,
            d_o1: DecayTable::new(p.tau_minus_ms, dt_ms)?,
            d_o2: DecayTable::new(p.tau_y_ms, dt_ms)?,
            p,
            scale: 1.0,
            scale_max: 1.0,
            r1: Traces::new(n_pre),
            r2: Traces::new(n_pre),
            o1: Traces::new(n_post),
            o2: Traces::new(n_post),
            active: Vec::new(),
            is_active: vec![false; n_post],
            cache: Vec::new(),
            dense: Vec::new(),
            dense_set: Vec::new(),
            dense_step: None,
            cache_step: None,
            strict_rows: false,
        })
    }

    /// The bound on every future depression factor used to retire targets, or `None` when the
    /// factor is unbounded (all-to-all pairing with `A3- > 0`).
    fn depression_bound(&self) -> Option<f64> {
        if self.p.a3_minus == 0.0 || self.nearest() {
            Some(self.scale_max * (self.p.a2_minus + self.p.a3_minus))
        } else {
            None
        }
    }

    /// Recomputes the active list from the traces (after a join, a clear or a larger scale).
    fn rebuild_active(&mut self) {
        self.active.clear();
        self.is_active.iter_mut().for_each(|a| *a = false);
        self.is_active.resize(self.o1.len(), false);
        for i in 0..self.o1.len() {
            if self.o1.is_set(i) {
                self.active.push(i as u32);
                self.is_active[i] = true;
            }
        }
        self.cache_step = None;
    }

    /// Fills the cache with the active targets' `o1` at `step`, retiring negligible ones.
    fn refresh_cache(&mut self, step: Step) {
        let bound = self.depression_bound();
        self.cache.clear();
        let mut k = 0;
        while k < self.active.len() {
            let i = self.active[k];
            let o1 = self.o1(i as usize, step);
            let retire = match bound {
                Some(f) => o1 * f < NEGLIGIBLE,
                None => o1 == 0.0,
            };
            if retire {
                self.is_active[i as usize] = false;
                self.active.swap_remove(k);
                continue;
            }
            if o1 != 0.0 {
                self.cache.push((i, o1));
            }
            k += 1;
        }
        self.cache_step = Some(step);
        self.dense_step = None;
    }

    /// Depression of a row by a pre spike with factor `f`, target by target from the cache
    /// (refreshed at this step): every synapse onto a cached target `i` (a row may repeat a
    /// target) becomes `clip(w - f o1_i)`.
    fn depress_sparse(&self, f: f64, targets: &[u32], weights: &mut [f32]) {
        let first = targets[0];
        for &(i, o1) in &self.cache {
            // Contiguous rows: the synapse sits at `i - first`; otherwise a binary search.
            let guess = i.wrapping_sub(first) as usize;
            let (lo, hi) = if targets.get(guess) == Some(&i)
                && (guess == 0 || targets[guess - 1] != i)
                && targets.get(guess + 1) != Some(&i)
            {
                (guess, guess + 1)
            } else {
                let lo = targets.partition_point(|&t| t < i);
                (lo, lo + targets[lo..].partition_point(|&t| t == i))
            };
            for w in &mut weights[lo..hi] {
                *w = self.p.bounds.clip(*w as f64 - f * o1);
            }
        }
    }

    /// [`depress_sparse`](Self::depress_sparse) for a contiguous row `first, first + 1, ...`
    /// ([`is_contiguous`]), target by target from the cache without reading the targets.
    fn depress_contiguous(&self, f: f64, first: u32, weights: &mut [f32]) {
        for &(i, o1) in &self.cache {
            if let Some(w) = weights.get_mut(i.wrapping_sub(first) as usize) {
                *w = self.p.bounds.clip(*w as f64 - f * o1);
            }
        }
    }

    /// [`depress_sparse`](Self::depress_sparse) for a contiguous row `first, first + 1, ...`
    /// ([`is_contiguous`]): the cache by target ([`fill_dense`](Self::fill_dense), once per step)
    /// and one straight pass over the row ([`dense_row_depression`]). The same values.
    fn depress_dense(&mut self, step: Step, f: f64, first: u32, weights: &mut [f32]) {
        let end = first as usize + weights.len();
        if self.dense_step != Some(step) {
            self.fill_dense(step);
        }
        if self.dense.len() < end {
            self.dense.resize(end, 0.0);
        }
        dense_row_depression(&self.p.bounds, f, &self.dense[first as usize..end], weights);
    }

    /// Writes the cache (refreshed at `step`) into `dense` by target, every other entry 0.
    /// Work proportional to the cache, not to the targets: the entries of the previous fill are
    /// zeroed first (`dense_set`).
    fn fill_dense(&mut self, step: Step) {
        if self.dense.len() < self.o1.len() {
            self.dense.resize(self.o1.len(), 0.0);
        }
        for &i in &self.dense_set {
            self.dense[i as usize] = 0.0;
        }
        self.dense_set.clear();
        for &(i, o1) in &self.cache {
            self.dense[i as usize] = o1;
            self.dense_set.push(i);
        }
        self.dense_step = Some(step);
    }

    /// The parameters.
    pub fn params(&self) -> &TripletParams {
        &self.p
    }

    fn nearest(&self) -> bool {
        self.p.pairing == Pairing::Nearest
    }

    /// `o1_i(t)`, the fast postsynaptic trace.
    #[inline]
    pub(crate) fn o1(&self, i: usize, t: Step) -> f64 {
        self.o1.at(i, t, &self.d_o1)
    }

    /// `r1_j(t)`, the fast presynaptic trace (0 for a source never seen).
    #[inline]
    pub(crate) fn r1(&self, j: usize, t: Step) -> f64 {
        self.r1.at_or_zero(j, t, &self.d_r1)
    }

    /// `r2_j(t)` before bumping.
    #[inline]
    pub(crate) fn r2(&self, j: usize, t: Step) -> f64 {
        self.r2.at(j, t, &self.d_r2)
    }

    /// `o2_i(t)` before bumping.
    #[inline]
    pub(crate) fn o2(&self, i: usize, t: Step) -> f64 {
        self.o2.at(i, t, &self.d_o2)
    }

    /// Depression factor of a pre spike whose own slow trace was `r2`: `A2- + A3- r2`, scaled.
    #[inline]
    pub(crate) fn pre_factor(&self, r2: f64) -> f64 {
        self.scale * (self.p.a2_minus + self.p.a3_minus * r2)
    }

    /// Potentiation factor of a post spike whose own slow trace was `o2`: `A2+ + A3+ o2`, scaled.
    #[inline]
    pub(crate) fn post_factor(&self, o2: f64) -> f64 {
        self.scale * (self.p.a2_plus + self.p.a3_plus * o2)
    }

    /// Clip to the bounds.
    #[inline]
    pub(crate) fn clip(&self, w: f64) -> f32 {
        self.p.bounds.clip(w)
    }

    /// Records a pre spike of `j` at `t` in the traces (after its weight updates).
    #[inline]
    pub(crate) fn bump_pre(&mut self, j: usize, t: Step) {
        let n = self.nearest();
        self.r1.bump(j, t, &self.d_r1, n);
        self.r2.bump(j, t, &self.d_r2, n);
    }

    /// Records a post spike of `i` at `t` in the traces (after its weight updates).
    #[inline]
    pub(crate) fn bump_post(&mut self, i: usize, t: Step) {
        let n = self.nearest();
        self.o1.bump(i, t, &self.d_o1, n);
        self.o2.bump(i, t, &self.d_o2, n);
        if self.is_active.len() <= i {
            self.is_active.resize(i + 1, false);
        }
        if !self.is_active[i] {
            self.is_active[i] = true;
            self.active.push(i as u32);
        }
        self.cache_step = None;
    }
}

impl Plasticity for TripletStdp {
    fn on_pre(
        &mut self,
        step: Step,
        pre: u32,
        _first_synapse: usize,
        targets: &[u32],
        weights: &mut [f32],
    ) {
        if let Some(&m) = targets.last() {
            // Rows are sorted: the last target is the largest.
            self.o1.ensure(m as usize + 1);
            self.o2.ensure(m as usize + 1);
        }
        self.r1.ensure(pre as usize + 1);
        self.r2.ensure(pre as usize + 1);
        let f = self.pre_factor(self.r2(pre as usize, step));
        if f != 0.0 && !targets.is_empty() {
            if self.cache_step != Some(step) {
                self.refresh_cache(step);
            }
            let (first, n) = (targets[0], targets.len());
            // Strict rows spanning `n` targets are contiguous: the synapse onto `i` sits at
            // `i - first`, and the targets need not be read (a cache miss per target on large
            // projections such as Diehl & Cook's 784 x N input).
            let contiguous =
                self.strict_rows && targets[n - 1].checked_sub(first) == Some(n as u32 - 1);
            debug_assert!(!contiguous || is_contiguous(targets));
            if !contiguous {
                self.depress_sparse(f, targets, weights);
            } else if self.cache.len() * DENSE_ABOVE > n {
                self.depress_dense(step, f, first, weights);
            } else {
                self.depress_contiguous(f, first, weights);
            }
        }
        self.bump_pre(pre as usize, step);
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

    fn set_strict_rows(&mut self, strict: bool) {
        self.strict_rows = strict;
    }

    /// Potentiation of a synapse needs its `r1` (presynaptic), its weight and the factor of
    /// the post spike's `o2` before the spike: splittable.
    fn splits_post(&self) -> bool {
        true
    }

    fn post_factor(&mut self, step: Step, post: u32) -> f64 {
        self.o1.ensure(post as usize + 1);
        self.o2.ensure(post as usize + 1);
        TripletStdp::post_factor(self, self.o2(post as usize, step))
    }

    fn on_post_part(
        &self,
        step: Step,
        factor: f64,
        sources: &[u32],
        synapses: &[u32],
        weights: &SharedWeights<'_>,
    ) {
        if factor == 0.0 {
            return;
        }
        for (k, (&j, &s)) in sources.iter().zip(synapses).enumerate() {
            if let Some(&ahead) = synapses.get(k + PREFETCH_AHEAD) {
                weights.prefetch(ahead as usize);
            }
            let Some(w) = weights.get(s as usize) else {
                continue;
            };
            let r1 = self.r1(j as usize, step);
            if r1 != 0.0 {
                weights.set(s as usize, self.clip(w as f64 + factor * r1));
            }
        }
    }

    fn on_post_end(&mut self, step: Step, post: u32) {
        self.o1.ensure(post as usize + 1);
        self.o2.ensure(post as usize + 1);
        self.bump_post(post as usize, step);
    }

    fn join(&mut self, replica: Box<dyn Plasticity>, share: &Share<'_>) {
        let Some(r) = downcast_replica::<Self>(replica) else {
            return;
        };
        self.r1 = r.r1.clone();
        self.r2 = r.r2.clone();
        let t = share.targets.start as usize..share.targets.end as usize;
        self.o1.copy_range_from(&r.o1, t.clone());
        self.o2.copy_range_from(&r.o2, t);
        self.rebuild_active();
    }
}

impl StdpRule for TripletStdp {
    fn set_rate_scale(&mut self, scale: f64) {
        self.scale = scale;
        if scale.abs() > self.scale_max {
            // Targets retired under the smaller bound may matter again.
            self.scale_max = scale.abs();
            self.rebuild_active();
        }
    }
    fn reset_traces(&mut self) {
        self.r1.clear();
        self.r2.clear();
        self.o1.clear();
        self.o2.clear();
        self.rebuild_active();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_rows_are_recognised() {
        assert!(is_contiguous(&[]));
        assert!(is_contiguous(&[7]));
        assert!(is_contiguous(&[3, 4, 5, 6]));
        assert!(!is_contiguous(&[3, 4, 6]));
        assert!(!is_contiguous(&[3, 3, 4]));
        assert!(!is_contiguous(&[u32::MAX, 0]));
    }

    /// A contiguous row's dense and contiguous depressions give the target-by-target weights bit
    /// for bit, whatever the targets' traces (several ages, some never fired) and the weights (0,
    /// -0, subnormal, at the bounds, NaN), for rows that start anywhere.
    #[test]
    fn dense_depression_gives_the_sparse_weights() {
        let n = 40;
        let mut rule = TripletStdp::new(TripletParams::diehl_cook(), 0.5, 3, n).unwrap();
        let mut column = [0.5f32; 3];
        for (k, &i) in [3u32, 7, 8, 20, 39, 0, 21].iter().enumerate() {
            rule.on_post(30 * k as Step, i, &[0, 1, 2], &[0, 1, 2], &mut column);
        }
        let step = 400;
        rule.refresh_cache(step);
        assert!(rule.cache.len() >= 5, "several targets active");
        let specials = [
            0.0f32,
            -0.0,
            1e-40,
            1e-30,
            1.0,
            0.3,
            f32::NAN,
            2e-8,
            0.5,
            1e-4,
        ];
        for f in [1e-4, 0.37, 1e-30, -0.2] {
            for (first, len) in [(0u32, 40usize), (5, 30), (20, 1), (39, 1), (0, 21)] {
                let targets: Vec<u32> = (first..first + len as u32).collect();
                let w: Vec<f32> = (0..len)
                    .map(|k| specials[(k * 7 + first as usize) % specials.len()])
                    .collect();
                let (mut a, mut b, mut c) = (w.clone(), w.clone(), w);
                rule.depress_sparse(f, &targets, &mut a);
                rule.depress_dense(step, f, first, &mut b);
                rule.depress_contiguous(f, first, &mut c);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&b), "dense: f {f}, row {first}..+{len}");
                assert_eq!(bits(&a), bits(&c), "contiguous: f {f}, row {first}..+{len}");
            }
        }
    }
}
