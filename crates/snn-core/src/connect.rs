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

/// Rows of target lists plus optional per-synapse weights/delays (explicit and dense rules).
struct Structure {
    row_ptr: Vec<usize>,
    targets: Vec<u32>,
    weights: Option<Vec<f32>>,
    delays_ms: Option<Vec<f64>>,
}

fn from_rows(rows: Vec<Vec<u32>>) -> Structure {
    let mut row_ptr = Vec::with_capacity(rows.len() + 1);
    row_ptr.push(0);
    let total = rows.iter().map(Vec::len).sum();
    let mut targets = Vec::with_capacity(total);
    for r in rows {
        targets.extend_from_slice(&r);
        row_ptr.push(targets.len());
    }
    Structure {
        row_ptr,
        targets,
        weights: None,
        delays_ms: None,
    }
}

/// Builds a structure from unsorted `(source, target)` pairs, carrying per-pair payloads.
fn from_pairs(
    ns: usize,
    sources: &[u32],
    targets: &[u32],
    weights: Option<&[f64]>,
    delays: Option<&[f64]>,
) -> Structure {
    let mut order: Vec<u32> = (0..sources.len() as u32).collect();
    order.sort_by_key(|&i| (sources[i as usize], targets[i as usize]));
    let mut row_ptr = vec![0usize; ns + 1];
    for &s in sources {
        row_ptr[s as usize + 1] += 1;
    }
    for i in 0..ns {
        row_ptr[i + 1] += row_ptr[i];
    }
    Structure {
        row_ptr,
        targets: order.iter().map(|&i| targets[i as usize]).collect(),
        weights: weights.map(|w| order.iter().map(|&i| w[i as usize] as f32).collect()),
        delays_ms: delays.map(|d| order.iter().map(|&i| d[i as usize]).collect()),
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

fn structure(
    pr: &ProjectionSpec,
    ns: u32,
    nt: u32,
    same: bool,
    rng: &mut Xoshiro256PlusPlus,
) -> Structure {
    let no_self = same && !pr.allow_autapses;
    match &pr.connectivity {
        // Handled by `conv_projection` (needs the spec for the source's shape).
        Connectivity::Conv2d { .. } | Connectivity::Pool2d { .. } => from_rows(Vec::new()),
        Connectivity::AllToAll => from_rows(
            (0..ns)
                .map(|s| (0..nt).filter(|&t| !(no_self && t == s)).collect())
                .collect(),
        ),
        Connectivity::OneToOne => from_rows(
            (0..ns)
                .map(|s| if no_self { vec![] } else { vec![s] })
                .collect(),
        ),
        Connectivity::FixedProbability { p } => {
            let p = *p;
            // Filled in place (no per-row vectors): peak memory stays at the final CSR size.
            let mut row_ptr = Vec::with_capacity(ns as usize + 1);
            row_ptr.push(0);
            let expect = (ns as f64 * nt as f64 * p * 1.01) as usize + 16;
            let mut targets: Vec<u32> = Vec::with_capacity(expect);
            let log_q = (1.0 - p).ln();
            for s in 0..ns {
                if p >= 1.0 {
                    targets.extend((0..nt).filter(|&t| !(no_self && t == s)));
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
                            targets.push(t as u32);
                        }
                    }
                }
                row_ptr.push(targets.len());
            }
            targets.shrink_to_fit();
            Structure {
                row_ptr,
                targets,
                weights: None,
                delays_ms: None,
            }
        }
        Connectivity::FixedIndegree { k } => {
            let mut srcs = Vec::with_capacity(nt as usize * *k as usize);
            let mut tgts = Vec::with_capacity(srcs.capacity());
            for t in 0..nt {
                for s in distinct_sorted(rng, ns, *k, no_self.then_some(t)) {
                    srcs.push(s);
                    tgts.push(t);
                }
            }
            from_pairs(ns as usize, &srcs, &tgts, None, None)
        }
        Connectivity::FixedTotalNumber { n } => fixed_total_number(rng, ns, nt, *n, no_self),
        Connectivity::FixedOutdegree { k } => from_rows(
            (0..ns)
                .map(|s| distinct_sorted(rng, nt, *k, no_self.then_some(s)))
                .collect(),
        ),
        Connectivity::Explicit {
            sources,
            targets,
            weights,
            delays_ms,
        } => {
            let (mut s2, mut t2) = (Vec::new(), Vec::new());
            let mut w2 = weights.as_ref().map(|_| Vec::new());
            let mut d2 = delays_ms.as_ref().map(|_| Vec::new());
            for i in 0..sources.len() {
                if no_self && sources[i] == targets[i] {
                    continue;
                }
                s2.push(sources[i]);
                t2.push(targets[i]);
                if let (Some(w2), Some(w)) = (&mut w2, weights) {
                    w2.push(w[i]);
                }
                if let (Some(d2), Some(d)) = (&mut d2, delays_ms) {
                    d2.push(d[i]);
                }
            }
            from_pairs(ns as usize, &s2, &t2, w2.as_deref(), d2.as_deref())
        }
        Connectivity::Dense { weights } => {
            let mut row_ptr = vec![0usize];
            let mut targets = Vec::new();
            let mut w = Vec::new();
            for (s, row) in weights.iter().enumerate() {
                for (t, &x) in row.iter().enumerate() {
                    if x != 0.0 && !(no_self && t == s) {
                        targets.push(t as u32);
                        w.push(x as f32);
                    }
                }
                row_ptr.push(targets.len());
            }
            Structure {
                row_ptr,
                targets,
                weights: Some(w),
                delays_ms: None,
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
) -> Structure {
    let pairs = ns as u64 * nt as u64 - if no_self { ns.min(nt) as u64 } else { 0 };
    if n == 0 || pairs == 0 {
        return from_rows(vec![Vec::new(); ns as usize]);
    }
    let draw = |rng: &mut Xoshiro256PlusPlus| loop {
        let s = rng.random_range(0..ns);
        let t = rng.random_range(0..nt);
        if !(no_self && s == t) {
            break (s, t);
        }
    };
    let mut row_ptr = vec![0usize; ns as usize + 1];
    let mut count_rng = rng.clone();
    for _ in 0..n {
        let (s, _) = draw(&mut count_rng);
        row_ptr[s as usize + 1] += 1;
    }
    for i in 0..ns as usize {
        row_ptr[i + 1] += row_ptr[i];
    }
    let mut fill = row_ptr.clone();
    let mut targets = vec![0u32; n as usize];
    for _ in 0..n {
        let (s, t) = draw(rng);
        targets[fill[s as usize]] = t;
        fill[s as usize] += 1;
    }
    for w in row_ptr.windows(2) {
        targets[w[0]..w[1]].sort_unstable();
    }
    Structure {
        row_ptr,
        targets,
        weights: None,
        delays_ms: None,
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

fn display_name(pr: &ProjectionSpec) -> String {
    pr.name
        .clone()
        .unwrap_or_else(|| format!("{}->{}", pr.source, pr.target))
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
        name: display_name(pr),
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
    match conv_projection(spec, index)? {
        Some(p) => Ok(p),
        None => {
            let mut p = expand_projection(spec, index)?;
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
    let (si, ti) = endpoints(spec, index)?;
    let pr = &spec.projections[index];
    let ns = spec.populations[si].size;
    let nt = spec.populations[ti].size;
    let mut rng = stream(spec.seed, StreamKind::Connectivity, index as u64);
    let st = match spec.projection_geometry(index) {
        Some(Ok(g)) => {
            // The compact form's kernel and taps, expanded (same shapes check and weights).
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
            let n = taps.n_expanded() as usize;
            let mut row_ptr = Vec::with_capacity(ns as usize + 1);
            let mut targets = Vec::with_capacity(n);
            let mut weights = Vec::with_capacity(n);
            row_ptr.push(0);
            for s in 0..ns {
                taps.for_each_target(s, |t, k| {
                    targets.push(t);
                    weights.push(kernel.at(k as usize));
                });
                row_ptr.push(targets.len());
            }
            Structure {
                row_ptr,
                targets,
                weights: Some(weights),
                delays_ms: None,
            }
        }
        Some(Err(why)) => {
            return Err(BuildError::Shape(format!(
                "projections[{index}].connectivity: {why}"
            )));
        }
        None => structure(pr, ns, nt, si == ti, &mut rng),
    };
    if st.targets.len() > u32::MAX as usize {
        return Err(BuildError::TooLarge(format!(
            "projections[{index}] has {} synapses; the limit is {}",
            st.targets.len(),
            u32::MAX
        )));
    }
    let n_syn = st.targets.len();
    let mut wrng = stream(spec.seed, StreamKind::WeightsDelays, index as u64);
    let weights = match (st.weights, &pr.weight) {
        (Some(w), _) => Weights::PerSynapse(w),
        (None, ValueSpec::Constant(w)) => Weights::Uniform(*w as f32),
        (None, v) => Weights::PerSynapse((0..n_syn).map(|_| draw(v, &mut wrng) as f32).collect()),
    };
    let dt = spec.dt_ms;
    let delays = match (st.delays_ms, &pr.delay_ms) {
        (Some(d), _) => Delays::PerSynapse(d.iter().map(|&x| delay_steps(x, dt)).collect()),
        (None, None) => Delays::Uniform(1),
        (None, Some(ValueSpec::Constant(d))) => Delays::Uniform(delay_steps(*d, dt)),
        (None, Some(v)) => Delays::PerSynapse(
            (0..n_syn)
                .map(|_| delay_steps(draw(v, &mut wrng), dt))
                .collect(),
        ),
    };
    Ok(Projection {
        name: display_name(pr),
        source_pop: si,
        target_pop: ti,
        receptor: pr.receptor,
        layout: Layout::Csr {
            row_ptr: st.row_ptr,
            targets: st.targets,
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
