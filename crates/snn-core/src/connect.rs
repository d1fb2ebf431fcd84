//! Expanding connectivity rules into synapses, deterministically from the spec's seed.
//!
//! This is a building block shared by the engine and the chip model. The chip calls
//! [`expand_projection`] (explicit synapses for every rule); the engine calls
//! [`build_projection`], which is the same except that `conv2d` and `pool2d` projections keep
//! their kernel instead of per-synapse arrays — the same synapses, so the chip's synapses are the
//! engine's by construction.
//!
//! Each projection `j` draws its structure from stream `(seed, Connectivity, j)` and its weights
//! and delays from stream `(seed, WeightsDelays, j)`, so editing one projection's weights never
//! changes another projection's (or its own) synapses.

use rand::RngExt;
use rand::distr::uniform::SampleRange;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution as _, Normal};
use snn_types::{
    Connectivity, ConvGeometry, Distribution, NetworkSpec, PoolMode, ProjectionSpec, ValueSpec,
    delay_steps,
};

use crate::error::BuildError;
use crate::projection::{ConvTaps, Delays, Layout, Projection, Weights};
use crate::rng::{StreamKind, stream};

/// Draws one value of `v` (constant or random).
pub fn draw(v: &ValueSpec, rng: &mut Xoshiro256PlusPlus) -> f64 {
    match *v {
        ValueSpec::Constant(x) => x,
        // The same draw as `rng.random_range(low..high)` (same stream), without its panic on a
        // range whose width overflows (validation rejects those; this keeps `draw` total).
        ValueSpec::Random(Distribution::Uniform { low, high }) => {
            if high > low {
                (low..high).sample_single(rng).unwrap_or(low)
            } else {
                low
            }
        }
        ValueSpec::Random(Distribution::Normal { mean, std }) => {
            if std > 0.0 {
                Normal::new(mean, std)
                    .map(|n| n.sample(rng))
                    .unwrap_or(mean)
            } else {
                mean
            }
        }
        ValueSpec::Random(Distribution::TruncatedNormal {
            mean,
            std,
            low,
            high,
        }) => {
            let (lo, hi) = (
                low.unwrap_or(f64::NEG_INFINITY),
                high.unwrap_or(f64::INFINITY),
            );
            if let (true, Ok(n)) = (std > 0.0, Normal::new(mean, std)) {
                // Redraw until inside [lo, hi] (NEST's `redraw`); validation keeps the bounds
                // within a few standard deviations, so the cap is never reached in practice.
                for _ in 0..MAX_REDRAWS {
                    let x = n.sample(rng);
                    if (lo..=hi).contains(&x) {
                        return x;
                    }
                }
            }
            mean.clamp(lo.min(hi), hi.max(lo))
        }
    }
}

/// Redraws a truncated normal draw attempts before it falls back to the mean clamped into its
/// bounds (a spec that passed validation accepts a draw with probability above 2.8e-7 per
/// attempt, so the fallback needs more than a million rejections in a row).
pub const MAX_REDRAWS: u32 = 1 << 20;

/// Rows of target lists plus optional per-synapse weights/delays, restricted to the kept target
/// range, with what is needed to find each kept synapse's index in the projection's global CSR
/// order (so that per-synapse draws consume the same stream whichever range is kept).
struct Structure {
    row_ptr: Vec<usize>,
    targets: Vec<u32>,
    weights: Option<Vec<f32>>,
    delays_ms: Option<Vec<f64>>,
    /// Synapses of the whole projection (every range).
    n_global: u64,
    /// Per source row, the global CSR index of the row's first kept synapse minus
    /// `row_ptr[s]`; empty when every target is kept (the global index is then the local one).
    global_base: Vec<u64>,
}

/// Collects the synapses a rule emits, keeping those whose target lies in `lo..hi` (target
/// indices local to the target population). Every rank of a distributed build runs the same rule
/// on the same stream and keeps its own targets, so no rank ever holds the whole edge list; a
/// single process keeps `0..n_target`. Any rule that reports its synapses through
/// [`Collector::push`] is distributed correctly by construction.
struct Collector {
    lo: u32,
    hi: u32,
    /// Whether targets outside `lo..hi` exist (then global counts are kept per row).
    partial: bool,
    /// Whether the rule emits rows in source order with ascending targets (else kept synapses
    /// are sorted by (source, target), stably, at the end).
    ordered: bool,
    /// Whether the rule gives each synapse its own weight / delay (then every rank has them,
    /// even one that keeps no synapse, so no rank draws them from the stream).
    carries_weights: bool,
    carries_delays: bool,
    n_source: usize,
    /// Kept synapses per source row (ordered rules keeping a part of the targets).
    row_len: Vec<u32>,
    /// Row pointers built as the rows complete (ordered rules keeping every target: the
    /// single-process path, which then stores nothing but the CSR arrays) and the next row.
    row_ptr: Vec<usize>,
    next_row: usize,
    /// `ordered && !partial`.
    fast: bool,
    /// Source of each kept synapse (unordered rules).
    sources: Vec<u32>,
    targets: Vec<u32>,
    weights: Vec<f32>,
    delays_ms: Vec<f64>,
    /// Per source row: all synapses, and those with a target below `lo` (partial only).
    row_total: Vec<u32>,
    row_below: Vec<u32>,
    n_global: u64,
}

impl Collector {
    fn new(
        n_source: u32,
        n_target: u32,
        keep: std::ops::Range<u32>,
        ordered: bool,
        carries: (bool, bool),
    ) -> Self {
        let (lo, hi) = (keep.start.min(n_target), keep.end.min(n_target));
        let partial = lo > 0 || hi < n_target;
        let ns = n_source as usize;
        Self {
            lo,
            hi: hi.max(lo),
            partial,
            ordered,
            carries_weights: carries.0,
            carries_delays: carries.1,
            n_source: ns,
            row_len: if ordered && partial {
                vec![0; ns]
            } else {
                Vec::new()
            },
            row_ptr: if ordered && !partial {
                let mut v = Vec::with_capacity(ns + 1);
                v.push(0);
                v
            } else {
                Vec::new()
            },
            next_row: 0,
            fast: ordered && !partial,
            sources: Vec::new(),
            targets: Vec::new(),
            weights: Vec::new(),
            delays_ms: Vec::new(),
            row_total: if partial { vec![0; ns] } else { Vec::new() },
            row_below: if partial { vec![0; ns] } else { Vec::new() },
            n_global: 0,
        }
    }

    /// Reserves room for about `n` synapses of the whole projection (scaled to the kept range).
    fn reserve_global(&mut self, n: usize, n_target: u32) {
        let frac = if n_target == 0 {
            1.0
        } else {
            (self.hi - self.lo) as f64 / n_target as f64
        };
        self.targets.reserve((n as f64 * frac) as usize);
    }

    /// One synapse `(source, target)` (indices local to their populations) with its own weight
    /// and delay (ms) when the rule carries them; emitted in the rule's order.
    #[inline(always)]
    fn push(&mut self, s: u32, t: u32, w: Option<f64>, d_ms: Option<f64>) {
        let si = s as usize;
        if si >= self.n_source {
            return; // impossible for a validated spec
        }
        if self.fast {
            // Rows complete as the source advances: close those before `s` (once per row).
            if si != self.next_row {
                self.open_row(si);
            }
            self.targets.push(t);
            if let Some(w) = w {
                self.weights.push(w as f32);
            }
            if let Some(d) = d_ms {
                self.delays_ms.push(d);
            }
            return;
        }
        self.push_general(si, t, w, d_ms);
    }

    /// Closes the rows before `si` (fast path).
    #[cold]
    fn open_row(&mut self, si: usize) {
        while self.next_row < si {
            self.next_row += 1;
            self.row_ptr.push(self.targets.len());
        }
    }

    fn push_general(&mut self, si: usize, t: u32, w: Option<f64>, d_ms: Option<f64>) {
        let s = si as u32;
        self.n_global += 1;
        if self.partial {
            self.row_total[si] += 1;
            if t < self.lo {
                self.row_below[si] += 1;
                return;
            }
            if t >= self.hi {
                return;
            }
        }
        if self.ordered {
            self.row_len[si] += 1;
        } else {
            self.sources.push(s);
        }
        self.targets.push(t);
        if let Some(w) = w {
            self.weights.push(w as f32);
        }
        if let Some(d) = d_ms {
            self.delays_ms.push(d);
        }
    }

    fn finish(mut self) -> Structure {
        let n = self.targets.len();
        let weights = self.carries_weights.then_some(self.weights);
        let delays_ms = self.carries_delays.then_some(self.delays_ms);
        if !self.partial {
            self.n_global = n as u64;
        }
        let mut row_ptr = Vec::with_capacity(self.n_source + 1);
        row_ptr.push(0usize);
        let (targets, weights, delays_ms) = if self.ordered && !self.partial {
            row_ptr = std::mem::take(&mut self.row_ptr);
            while row_ptr.len() < self.n_source + 1 {
                row_ptr.push(n);
            }
            (self.targets, weights, delays_ms)
        } else if self.ordered {
            for &c in &self.row_len {
                row_ptr.push(row_ptr[row_ptr.len() - 1] + c as usize);
            }
            (self.targets, weights, delays_ms)
        } else {
            let mut order: Vec<u32> = (0..n as u32).collect();
            let (src, tgt) = (&self.sources, &self.targets);
            order.sort_by_key(|&i| (src[i as usize], tgt[i as usize]));
            let mut counts = vec![0usize; self.n_source];
            for &s in src {
                counts[s as usize] += 1;
            }
            for c in counts {
                row_ptr.push(row_ptr[row_ptr.len() - 1] + c);
            }
            self.sources = Vec::new();
            (
                order.iter().map(|&i| tgt[i as usize]).collect(),
                weights.map(|w| order.iter().map(|&i| w[i as usize]).collect()),
                delays_ms.map(|d| order.iter().map(|&i| d[i as usize]).collect()),
            )
        };
        let global_base = if self.partial {
            global_row_base(&self.row_below, &self.row_total, &row_ptr)
        } else {
            Vec::new()
        };
        Structure {
            row_ptr,
            targets,
            weights,
            delays_ms,
            n_global: self.n_global,
            global_base,
        }
    }
}

impl Structure {
    /// Draws one value per synapse of the whole projection in global CSR order from `rng`
    /// (consuming the stream exactly as a single process does) and keeps those of the kept
    /// synapses, in local CSR order.
    fn draw_kept<T>(
        &self,
        rng: &mut Xoshiro256PlusPlus,
        mut one: impl FnMut(&mut Xoshiro256PlusPlus) -> T,
    ) -> Vec<T> {
        let n = self.targets.len();
        let mut out = Vec::with_capacity(n);
        if self.global_base.is_empty() {
            for _ in 0..self.n_global {
                out.push(one(rng));
            }
            return out;
        }
        let mut next = 0u64;
        for s in 0..self.row_ptr.len() - 1 {
            for i in self.row_ptr[s]..self.row_ptr[s + 1] {
                let g = self.global_base[s] + i as u64;
                while next < g {
                    one(rng);
                    next += 1;
                }
                out.push(one(rng));
                next += 1;
            }
        }
        while next < self.n_global {
            one(rng);
            next += 1;
        }
        out
    }
}

/// `k` distinct indices from `0..n`, skipping `exclude`, sorted ascending.
fn distinct_sorted(rng: &mut Xoshiro256PlusPlus, n: u32, k: u32, exclude: Option<u32>) -> Vec<u32> {
    let pool = if exclude.is_some() { n - 1 } else { n };
    let mut v: Vec<u32> = rand::seq::index::sample(rng, pool as usize, k as usize)
        .into_iter()
        .map(|i| {
            let i = i as u32;
            match exclude {
                Some(x) if i >= x => i + 1,
                _ => i,
            }
        })
        .collect();
    v.sort_unstable();
    v
}

/// Whether a rule emits its synapses row by row (sources ascending, each row's targets
/// ascending); the others are sorted after collection.
fn emits_in_csr_order(c: &Connectivity) -> bool {
    !matches!(
        c,
        Connectivity::FixedIndegree { .. } | Connectivity::Explicit { .. }
    )
}

/// Whether a rule gives each synapse its own (weight, delay).
fn rule_carries(c: &Connectivity) -> (bool, bool) {
    match c {
        Connectivity::Explicit {
            weights, delays_ms, ..
        } => (weights.is_some(), delays_ms.is_some()),
        Connectivity::Dense { .. } => (true, false),
        _ => (false, false),
    }
}

/// Runs the connectivity rule of `pr` on `rng`, reporting every synapse (source, target, own
/// weight, own delay in ms) to `out` in the rule's order. This is the one place where rules
/// generate synapses: the collector decides what a rank keeps.
fn emit_rule(
    pr: &ProjectionSpec,
    ns: u32,
    nt: u32,
    same: bool,
    rng: &mut Xoshiro256PlusPlus,
    out: &mut Collector,
) {
    let no_self = same && !pr.allow_autapses;
    match &pr.connectivity {
        // Handled by `conv_projection` / `expand_projection_range` (needs the source's shape).
        Connectivity::Conv2d { .. } | Connectivity::Pool2d { .. } => {}
        Connectivity::AllToAll => {
            out.reserve_global(ns as usize * nt as usize, nt);
            for s in 0..ns {
                for t in 0..nt {
                    if !(no_self && t == s) {
                        out.push(s, t, None, None);
                    }
                }
            }
        }
        Connectivity::OneToOne => {
            if !no_self {
                for s in 0..ns {
                    out.push(s, s, None, None);
                }
            }
        }
        Connectivity::FixedProbability { p } => {
            let p = *p;
            out.reserve_global((ns as f64 * nt as f64 * p * 1.01) as usize + 16, nt);
            let log_q = (1.0 - p).ln();
            for s in 0..ns {
                if p >= 1.0 {
                    for t in 0..nt {
                        if !(no_self && t == s) {
                            out.push(s, t, None, None);
                        }
                    }
                } else if p > 0.0 {
                    // Geometric skipping: the gap to the next connected target is
                    // floor(ln(U) / ln(1 - p)), which visits each candidate with probability p.
                    let mut t: i64 = -1;
                    loop {
                        let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
                        let gap = (u.ln() / log_q).floor();
                        if !gap.is_finite() || t as f64 + gap + 1.0 >= nt as f64 {
                            break;
                        }
                        t += gap as i64 + 1;
                        if !(no_self && t as u32 == s) {
                            out.push(s, t as u32, None, None);
                        }
                    }
                }
            }
        }
        Connectivity::FixedIndegree { k } => {
            out.reserve_global(nt as usize * *k as usize, nt);
            for t in 0..nt {
                for s in distinct_sorted(rng, ns, *k, no_self.then_some(t)) {
                    out.push(s, t, None, None);
                }
            }
        }
        Connectivity::FixedOutdegree { k } => {
            out.reserve_global(ns as usize * *k as usize, nt);
            for s in 0..ns {
                for t in distinct_sorted(rng, nt, *k, no_self.then_some(s)) {
                    out.push(s, t, None, None);
                }
            }
        }
        // Built by `fixed_total_number` (two passes over the stream, no collector).
        Connectivity::FixedTotalNumber { .. } => {}
        Connectivity::Explicit {
            sources,
            targets,
            weights,
            delays_ms,
        } => {
            for i in 0..sources.len() {
                if no_self && sources[i] == targets[i] {
                    continue;
                }
                out.push(
                    sources[i],
                    targets[i],
                    weights.as_ref().and_then(|w| w.get(i).copied()),
                    delays_ms.as_ref().and_then(|d| d.get(i).copied()),
                );
            }
        }
        Connectivity::Dense { weights } => {
            for (s, row) in weights.iter().enumerate() {
                for (t, &x) in row.iter().enumerate() {
                    if x != 0.0 && !(no_self && t == s) {
                        out.push(s as u32, t as u32, Some(x), None);
                    }
                }
            }
        }
    }
}

/// `n` synapses, each `(source, target)` drawn uniformly (source first, then target; a pair with
/// `source == target` is redrawn when `no_self`), multapses kept, rows sorted by target. Two
/// passes over the same stream (count per row, then fill) so that nothing but the final arrays is
/// allocated.
fn fixed_total_number(
    rng: &mut Xoshiro256PlusPlus,
    ns: u32,
    nt: u32,
    n: u64,
    no_self: bool,
    keep: std::ops::Range<u32>,
) -> Structure {
    let (lo, hi) = (keep.start.min(nt), keep.end.min(nt));
    let hi = hi.max(lo);
    let partial = lo > 0 || hi < nt;
    let pairs = ns as u64 * nt as u64 - if no_self { ns.min(nt) as u64 } else { 0 };
    if n == 0 || pairs == 0 {
        return Structure {
            row_ptr: vec![0; ns as usize + 1],
            targets: Vec::new(),
            weights: None,
            delays_ms: None,
            n_global: 0,
            global_base: Vec::new(),
        };
    }
    let draw = |rng: &mut Xoshiro256PlusPlus| loop {
        let s = rng.random_range(0..ns);
        let t = rng.random_range(0..nt);
        if !(no_self && s == t) {
            break (s, t);
        }
    };
    // Pass 1 (a copy of the stream): kept synapses per source row, and for a partial range the
    // row's synapses in all and those with a target below the range (global CSR positions).
    let mut row_ptr = vec![0usize; ns as usize + 1];
    let mut row_total = if partial {
        vec![0u32; ns as usize]
    } else {
        Vec::new()
    };
    let mut row_below = if partial {
        vec![0u32; ns as usize]
    } else {
        Vec::new()
    };
    let mut count_rng = rng.clone();
    for _ in 0..n {
        let (s, t) = draw(&mut count_rng);
        if partial {
            row_total[s as usize] += 1;
            if t < lo {
                row_below[s as usize] += 1;
            }
        }
        if (lo..hi).contains(&t) {
            row_ptr[s as usize + 1] += 1;
        }
    }
    for i in 0..ns as usize {
        row_ptr[i + 1] += row_ptr[i];
    }
    // Pass 2 (the stream itself, so that it ends where a single pass would): fill the rows.
    let mut fill = row_ptr.clone();
    let mut targets = vec![0u32; row_ptr[ns as usize]];
    for _ in 0..n {
        let (s, t) = draw(rng);
        if (lo..hi).contains(&t) {
            targets[fill[s as usize]] = t;
            fill[s as usize] += 1;
        }
    }
    for w in row_ptr.windows(2) {
        targets[w[0]..w[1]].sort_unstable();
    }
    let global_base = if partial {
        global_row_base(&row_below, &row_total, &row_ptr)
    } else {
        Vec::new()
    };
    Structure {
        row_ptr,
        targets,
        weights: None,
        delays_ms: None,
        n_global: n,
        global_base,
    }
}

/// The kernel of a conv or pool projection (`weights` of a `conv2d`, the projection's constant
/// `weight` — divided by the window's area for `average` — for a `pool2d`), or why the spec's
/// shapes disagree.
fn conv_kernel(pr: &ProjectionSpec, g: &ConvGeometry, index: usize) -> Result<Weights, BuildError> {
    match &pr.connectivity {
        Connectivity::Conv2d { weights, .. } => {
            if weights.len() != g.kernel_len() {
                return Err(BuildError::Shape(format!(
                    "projections[{index}].connectivity.weights has {} values, the kernel {} ({:?} x {} x {:?})",
                    weights.len(),
                    g.kernel_len(),
                    g.out_shape()[0],
                    g.in_per_group(),
                    g.kernel()
                )));
            }
            Ok(Weights::PerSynapse(
                weights.iter().map(|&w| w as f32).collect(),
            ))
        }
        Connectivity::Pool2d { mode, kernel, .. } => {
            let w = pr.weight.as_constant().unwrap_or(0.0);
            let w = match mode {
                PoolMode::Sum => w,
                PoolMode::Average => w / (kernel[0] as f64 * kernel[1] as f64),
            };
            Ok(Weights::Uniform(w as f32))
        }
        _ => Err(BuildError::Shape(format!(
            "projections[{index}] is not a conv2d or pool2d projection"
        ))),
    }
}

/// Resolves the source and target populations of projection `index`.
fn endpoints(spec: &NetworkSpec, index: usize) -> Result<(usize, usize), BuildError> {
    if index >= spec.projections.len() {
        return Err(BuildError::Unknown(format!(
            "projections[{index}] (the spec has {})",
            spec.projections.len()
        )));
    }
    let pr = &spec.projections[index];
    let si = spec.population_index(&pr.source).ok_or_else(|| {
        BuildError::Unknown(format!("projections[{index}].source '{}'", pr.source))
    })?;
    let ti = spec.population_index(&pr.target).ok_or_else(|| {
        BuildError::Unknown(format!("projections[{index}].target '{}'", pr.target))
    })?;
    Ok((si, ti))
}

/// The compact form of a conv or pool projection with a constant delay: the kernel and the tap
/// tables. `Ok(None)` when the projection is not a conv or pool or its delay is random (then it
/// is expanded); [`BuildError::Shape`] when its shapes disagree with the populations.
fn conv_projection(spec: &NetworkSpec, index: usize) -> Result<Option<Projection>, BuildError> {
    let g = match spec.projection_geometry(index) {
        None => return Ok(None),
        Some(Ok(g)) => g,
        Some(Err(why)) => {
            return Err(BuildError::Shape(format!(
                "projections[{index}].connectivity: {why}"
            )));
        }
    };
    let (si, ti) = endpoints(spec, index)?;
    let pr = &spec.projections[index];
    let (ns, nt) = (spec.populations[si].size, spec.populations[ti].size);
    if g.n_source() != ns as usize || g.n_target() != nt as usize {
        return Err(BuildError::Shape(format!(
            "projections[{index}].connectivity: maps {:?} ({} neurons) onto {:?} ({} neurons), but '{}' has {ns} and '{}' has {nt}",
            g.in_shape(),
            g.n_source(),
            g.out_shape(),
            g.n_target(),
            pr.source,
            pr.target
        )));
    }
    let delays = match &pr.delay_ms {
        None => Delays::Uniform(1),
        Some(ValueSpec::Constant(d)) => Delays::Uniform(delay_steps(*d, spec.dt_ms)),
        Some(ValueSpec::Random(_)) => return Ok(None),
    };
    let weights = conv_kernel(pr, &g, index)?;
    Ok(Some(Projection {
        name: pr.display_name(),
        source_pop: si,
        target_pop: ti,
        receptor: pr.receptor,
        layout: Layout::Conv(Box::new(ConvTaps::new(g))),
        weights,
        delays,
        n_source: ns,
        n_target: nt,
    }))
}

/// Builds projection `index` of a validated spec as the engine stores it: a `conv2d` or `pool2d`
/// projection (with a constant delay) as its kernel and tap tables, with no per-synapse storage
/// ([`Projection::conv`]); every other rule as [`expand_projection`] does, with per-synapse
/// delays packed into the target words when they fit ([`Projection::pack_delays`]). A conv or
/// pool projection whose shapes disagree with its populations (a spec that skipped validation)
/// gives [`BuildError::Shape`].
pub fn build_projection(spec: &NetworkSpec, index: usize) -> Result<Projection, BuildError> {
    build_projection_for_targets(spec, index, 0..u32::MAX)
}

/// As [`build_projection`], keeping only the synapses whose target's *global* neuron index lies
/// in `targets` (the neurons one rank of a distributed run owns). The rule runs on the same
/// streams as in a single process and every synapse is filtered where it is emitted, so the kept
/// synapses, weights and delays are exactly those of the single-process projection whose targets
/// fall in the range, in the same order, and no global edge list is ever held; row pointers stay
/// one per source neuron. A conv or pool projection keeps its (small) kernel and clips its
/// delivery to the owned range.
pub fn build_projection_for_targets(
    spec: &NetworkSpec,
    index: usize,
    targets: std::ops::Range<u32>,
) -> Result<Projection, BuildError> {
    match conv_projection(spec, index)? {
        Some(p) => Ok(p),
        None => {
            let mut p = expand_projection_range(spec, index, targets)?;
            p.pack_delays();
            Ok(p)
        }
    }
}

/// Expands projection `index` of a validated spec into its synapses: CSR by source with each
/// row's targets ascending (every rule, `conv2d` and `pool2d` included, which get one weight per
/// synapse: see [`build_projection`] for their compact form). Structure comes from stream
/// `(seed, Connectivity, index)`, weights and delays from `(seed, WeightsDelays, index)`; delays
/// are in steps ([`snn_types::delay_steps`]).
pub fn expand_projection(spec: &NetworkSpec, index: usize) -> Result<Projection, BuildError> {
    expand_projection_range(spec, index, 0..u32::MAX)
}

/// The local target range `lo..hi` of the target population that a global range covers.
fn local_range(
    spec: &NetworkSpec,
    ti: usize,
    global: &std::ops::Range<u32>,
) -> std::ops::Range<u32> {
    let start = spec.population_offsets()[ti];
    let size = spec.populations[ti].size as u64;
    let lo = (global.start as u64).clamp(start, start + size) - start;
    let hi = (global.end as u64).clamp(start, start + size) - start;
    lo as u32..hi.max(lo) as u32
}

fn expand_projection_range(
    spec: &NetworkSpec,
    index: usize,
    keep_global: std::ops::Range<u32>,
) -> Result<Projection, BuildError> {
    let (si, ti) = endpoints(spec, index)?;
    let pr = &spec.projections[index];
    let ns = spec.populations[si].size;
    let nt = spec.populations[ti].size;
    let keep = local_range(spec, ti, &keep_global);
    let mut rng = stream(spec.seed, StreamKind::Connectivity, index as u64);
    let st = match spec.projection_geometry(index) {
        Some(Ok(g)) => {
            // The compact form's kernel and taps, expanded (same shapes check and weights).
            // (Only reached for the whole range: a distributed build keeps the compact form.)
            if let Some(p) = conv_projection(spec, index)? {
                return p.expanded();
            }
            // A random delay: the kernel's synapses, with per-synapse delays drawn below in CSR
            // order (shapes were checked by `conv_projection`).
            let taps = ConvTaps::new(g);
            if taps.n_expanded() > u32::MAX as u64 {
                return Err(BuildError::TooLarge(format!(
                    "projections[{index}] has {} synapses; the limit is {}",
                    taps.n_expanded(),
                    u32::MAX
                )));
            }
            let kernel = conv_kernel(pr, &g, index)?;
            let mut out = Collector::new(ns, nt, keep, true, (true, false));
            out.reserve_global(taps.n_expanded() as usize, nt);
            for s in 0..ns {
                taps.for_each_target(s, |t, k| {
                    out.push(s, t, Some(kernel.at(k as usize) as f64), None);
                });
            }
            out.finish()
        }
        Some(Err(why)) => {
            return Err(BuildError::Shape(format!(
                "projections[{index}].connectivity: {why}"
            )));
        }
        None => match pr.connectivity {
            Connectivity::FixedTotalNumber { n } => {
                fixed_total_number(&mut rng, ns, nt, n, si == ti && !pr.allow_autapses, keep)
            }
            _ => {
                let mut out = Collector::new(
                    ns,
                    nt,
                    keep,
                    emits_in_csr_order(&pr.connectivity),
                    rule_carries(&pr.connectivity),
                );
                emit_rule(pr, ns, nt, si == ti, &mut rng, &mut out);
                out.finish()
            }
        },
    };
    if st.n_global > u32::MAX as u64 {
        return Err(BuildError::TooLarge(format!(
            "projections[{index}] has {} synapses; the limit is {}",
            st.n_global,
            u32::MAX
        )));
    }
    let mut wrng = stream(spec.seed, StreamKind::WeightsDelays, index as u64);
    let weights = match (&st.weights, &pr.weight) {
        (Some(_), _) => None,
        (None, ValueSpec::Constant(w)) => Some(Weights::Uniform(*w as f32)),
        (None, v) => Some(Weights::PerSynapse(
            st.draw_kept(&mut wrng, |r| draw(v, r) as f32),
        )),
    };
    let dt = spec.dt_ms;
    let delays = match (&st.delays_ms, &pr.delay_ms) {
        (Some(d), _) => Delays::PerSynapse(d.iter().map(|&x| delay_steps(x, dt)).collect()),
        (None, None) => Delays::Uniform(1),
        (None, Some(ValueSpec::Constant(d))) => Delays::Uniform(delay_steps(*d, dt)),
        (None, Some(v)) => {
            Delays::PerSynapse(st.draw_kept(&mut wrng, |r| delay_steps(draw(v, r), dt)))
        }
    };
    let Structure {
        row_ptr,
        targets,
        weights: own_weights,
        ..
    } = st;
    let weights = match (weights, own_weights) {
        (Some(w), _) => w,
        (None, Some(w)) => Weights::PerSynapse(w),
        (None, None) => Weights::Uniform(0.0),
    };
    Ok(Projection {
        name: pr.display_name(),
        source_pop: si,
        target_pop: ti,
        receptor: pr.receptor,
        layout: Layout::Csr {
            row_ptr,
            targets,
            packed: None,
        },
        weights,
        delays,
        n_source: ns,
        n_target: nt,
    })
}

/// `spec` with every `conv2d` and `pool2d` projection rewritten as an `explicit` one with the
/// same synapses (each with its kernel weight; the delay is kept), for comparisons and for tools
/// that need explicit synapses in the spec itself. Projections whose geometry does not resolve
/// are left as they are. The rewritten spec simulates bit-identically to the original; it holds
/// every synapse (about 16 bytes each in the spec, 8 once built).
pub fn explicit_conv(spec: &NetworkSpec) -> NetworkSpec {
    let mut out = spec.clone();
    for (j, pr) in out.projections.iter_mut().enumerate() {
        let Some(Ok(g)) = spec.projection_geometry(j) else {
            continue;
        };
        let Ok(kernel) = conv_kernel(pr, &g, j) else {
            continue;
        };
        // The kernel's f32 values, widened exactly: converting back gives the same weights.
        let n = g.n_synapses() as usize;
        let (mut sources, mut targets, mut weights) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let taps = ConvTaps::new(g);
        for s in 0..g.n_source() as u32 {
            taps.for_each_target(s, |t, k| {
                sources.push(s);
                targets.push(t);
                weights.push(kernel.at(k as usize) as f64);
            });
        }
        pr.connectivity = Connectivity::Explicit {
            sources,
            targets,
            weights: Some(weights),
            delays_ms: None,
        };
        pr.weight = ValueSpec::Constant(1.0);
    }
    out
}

/// Per source row of a partial build, the global synapse index that the row's first kept
/// synapse would have minus its local index: a row's kept synapses follow its `below` synapses
/// (those with smaller targets) in the global, sorted row, and rows follow each other with
/// `total` synapses each.
fn global_row_base(row_below: &[u32], row_total: &[u32], row_ptr: &[usize]) -> Vec<u64> {
    let mut base = Vec::with_capacity(row_below.len());
    let mut start = 0u64;
    for ((&below, &total), &local) in row_below.iter().zip(row_total).zip(row_ptr) {
        base.push(start + below as u64 - local as u64);
        start += total as u64;
    }
    base
}
