//! Expanding connectivity rules into synapses, deterministically from the spec's seed.
//!
//! This is a building block shared by the engine and the chip model: both call
//! [`expand_projection`], so the chip's synapses are the engine's by construction.
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
use crate::projection::{Delays, Projection, Weights};
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
    }
}

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

/// The synapses of a conv or pool projection, row by row (targets ascending), with the kernel's
/// weight on each (the projection's `weight`, divided by the window area for `average`, for a
/// pool).
fn conv_structure(pr: &ProjectionSpec, g: &ConvGeometry) -> Structure {
    let n_syn = g.n_synapses() as usize;
    let mut row_ptr = Vec::with_capacity(g.n_source() + 1);
    row_ptr.push(0);
    let mut targets = Vec::with_capacity(n_syn);
    let mut weights = Vec::with_capacity(n_syn);
    let kernel: Vec<f32> = match &pr.connectivity {
        Connectivity::Conv2d { weights, .. } => weights.iter().map(|&w| w as f32).collect(),
        Connectivity::Pool2d { mode, kernel, .. } => {
            let w = pr.weight.as_constant().unwrap_or(0.0);
            let w = match mode {
                PoolMode::Sum => w,
                PoolMode::Average => w / (kernel[0] as f64 * kernel[1] as f64),
            };
            vec![w as f32; g.kernel_len()]
        }
        _ => Vec::new(),
    };
    for s in 0..g.n_source() as u32 {
        g.for_each_target(s, |t, k| {
            targets.push(t);
            weights.push(kernel[k as usize]);
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

fn structure(
    pr: &ProjectionSpec,
    ns: u32,
    nt: u32,
    same: bool,
    rng: &mut Xoshiro256PlusPlus,
) -> Structure {
    let no_self = same && !pr.allow_autapses;
    match &pr.connectivity {
        // Handled by `conv_structure` (needs the spec for the source's shape).
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

/// Expands projection `index` of a validated spec into its synapses: CSR by source with each
/// row's targets ascending. Structure comes from stream `(seed, Connectivity, index)`, weights and
/// delays from `(seed, WeightsDelays, index)`; delays are in steps ([`snn_types::delay_steps`]).
pub fn expand_projection(spec: &NetworkSpec, index: usize) -> Result<Projection, BuildError> {
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
    let ns = spec.populations[si].size;
    let nt = spec.populations[ti].size;
    let mut rng = stream(spec.seed, StreamKind::Connectivity, index as u64);
    let st = match spec.projection_geometry(index) {
        Some(Ok(g)) => conv_structure(pr, &g),
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
    let name = pr
        .name
        .clone()
        .unwrap_or_else(|| format!("{}->{}", pr.source, pr.target));
    Ok(Projection {
        name,
        source_pop: si,
        target_pop: ti,
        receptor: pr.receptor,
        row_ptr: st.row_ptr,
        targets: st.targets,
        weights,
        delays,
        n_target: nt,
    })
}
