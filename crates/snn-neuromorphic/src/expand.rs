//! Expanding a spec's connectivity rules into synapse lists.
//!
//! The chip must run the same synapses the engine (`snn-core`) builds for the same spec, so this
//! module draws them from the same seeded streams with the same algorithms: structure from stream
//! `(seed, connectivity, j)`, weights and delays from stream `(seed, weights_delays, j)`, counter-
//! based draws for Poisson inputs. A test compares the result with `snn-core`'s projections for
//! every rule; if the engine's streams ever change, that test fails.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution as _, Normal};
use snn_types::{Connectivity, Distribution, NetworkSpec, ProjectionSpec, ValueSpec};

/// SplitMix64's finaliser (the mixer of the engine's seed derivation).
#[inline(always)]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) const KIND_CONNECTIVITY: u64 = 1;
pub(crate) const KIND_WEIGHTS: u64 = 2;
pub(crate) const KIND_INITIAL: u64 = 3;
pub(crate) const KIND_STIMULUS: u64 = 4;

/// The sequential stream `(seed, kind, index)`.
pub(crate) fn stream(seed: u64, kind: u64, index: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(mix64(mix64(mix64(seed) ^ kind) ^ index))
}

/// Key of a counter-based stream.
pub(crate) fn counter_key(seed: u64, kind: u64, index: u64) -> u64 {
    mix64(mix64(mix64(seed ^ 0xA5A5_A5A5_5A5A_5A5A) ^ kind) ^ index)
}

/// Uniform `[0, 1)` as a pure function of `(key, step, neuron)`.
#[inline(always)]
pub(crate) fn uniform_at(key: u64, step: u64, neuron: u32) -> f64 {
    let h = mix64(mix64(key ^ step) ^ neuron as u64);
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// One value of `v`.
pub(crate) fn draw(v: &ValueSpec, rng: &mut Xoshiro256PlusPlus) -> f64 {
    match *v {
        ValueSpec::Constant(x) => x,
        ValueSpec::Random(Distribution::Uniform { low, high }) => {
            if high > low {
                rng.random_range(low..high)
            } else {
                low
            }
        }
        ValueSpec::Random(Distribution::Normal { mean, std }) => {
            if std > 0.0 {
                Normal::new(mean, std).map_or(mean, |n| n.sample(rng))
            } else {
                mean
            }
        }
    }
}

/// A projection's synapses, CSR by source with each row's targets ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Expanded {
    /// Source population index.
    pub source_pop: usize,
    /// Target population index.
    pub target_pop: usize,
    /// `row_ptr[s]..row_ptr[s+1]`: synapses of source neuron `s`.
    pub row_ptr: Vec<usize>,
    /// Local target of each synapse.
    pub targets: Vec<u32>,
    /// Weight of each synapse (the engine stores `f32`), or one for all.
    pub weights: Per<f32>,
    /// Delay of each synapse in steps (>= 1), or one for all.
    pub delays: Per<u16>,
}

/// A per-synapse array or one value shared by all synapses.
#[derive(Debug, Clone, PartialEq)]
pub enum Per<T> {
    /// The same for every synapse.
    Uniform(T),
    /// One per synapse, CSR order.
    Each(Vec<T>),
}

impl<T: Copy> Per<T> {
    /// Value of synapse `i`.
    #[inline(always)]
    pub fn at(&self, i: usize) -> T {
        match self {
            Per::Uniform(x) => *x,
            Per::Each(v) => v[i],
        }
    }
}

impl Expanded {
    /// Number of synapses.
    pub fn n_synapses(&self) -> usize {
        self.targets.len()
    }
}

struct Structure {
    row_ptr: Vec<usize>,
    targets: Vec<u32>,
    weights: Option<Vec<f32>>,
    delays_ms: Option<Vec<f64>>,
}

fn rows(ns: u32, mut f: impl FnMut(u32, &mut Vec<u32>)) -> Structure {
    let mut row_ptr = Vec::with_capacity(ns as usize + 1);
    row_ptr.push(0);
    let mut targets = Vec::new();
    for s in 0..ns {
        f(s, &mut targets);
        row_ptr.push(targets.len());
    }
    Structure {
        row_ptr,
        targets,
        weights: None,
        delays_ms: None,
    }
}

fn pairs(ns: usize, src: &[u32], tgt: &[u32], w: Option<&[f64]>, d: Option<&[f64]>) -> Structure {
    let mut order: Vec<u32> = (0..src.len() as u32).collect();
    order.sort_by_key(|&i| (src[i as usize], tgt[i as usize]));
    let mut row_ptr = vec![0usize; ns + 1];
    for &s in src {
        row_ptr[s as usize + 1] += 1;
    }
    for i in 0..ns {
        row_ptr[i + 1] += row_ptr[i];
    }
    Structure {
        row_ptr,
        targets: order.iter().map(|&i| tgt[i as usize]).collect(),
        weights: w.map(|w| order.iter().map(|&i| w[i as usize] as f32).collect()),
        delays_ms: d.map(|d| order.iter().map(|&i| d[i as usize]).collect()),
    }
}

fn sample_sorted(rng: &mut Xoshiro256PlusPlus, n: u32, k: u32, skip: Option<u32>) -> Vec<u32> {
    let pool = n - skip.is_some() as u32;
    let mut v: Vec<u32> = rand::seq::index::sample(rng, pool as usize, k as usize)
        .into_iter()
        .map(|i| match skip {
            Some(x) if i as u32 >= x => i as u32 + 1,
            _ => i as u32,
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
        Connectivity::AllToAll => rows(ns, |s, out| {
            out.extend((0..nt).filter(|&t| !(no_self && t == s)));
        }),
        Connectivity::OneToOne => rows(ns, |s, out| {
            if !no_self {
                out.push(s);
            }
        }),
        Connectivity::FixedProbability { p } => {
            let p = *p;
            let log_q = (1.0 - p).ln();
            rows(ns, |s, out| {
                if p >= 1.0 {
                    out.extend((0..nt).filter(|&t| !(no_self && t == s)));
                } else if p > 0.0 {
                    let mut t: i64 = -1;
                    loop {
                        let u: f64 = 1.0 - rng.random::<f64>();
                        let gap = (u.ln() / log_q).floor();
                        if !gap.is_finite() || t as f64 + gap + 1.0 >= nt as f64 {
                            break;
                        }
                        t += gap as i64 + 1;
                        if !(no_self && t as u32 == s) {
                            out.push(t as u32);
                        }
                    }
                }
            })
        }
        Connectivity::FixedIndegree { k } => {
            let mut src = Vec::with_capacity(nt as usize * *k as usize);
            let mut tgt = Vec::with_capacity(src.capacity());
            for t in 0..nt {
                for s in sample_sorted(rng, ns, *k, no_self.then_some(t)) {
                    src.push(s);
                    tgt.push(t);
                }
            }
            pairs(ns as usize, &src, &tgt, None, None)
        }
        Connectivity::FixedOutdegree { k } => rows(ns, |s, out| {
            out.extend(sample_sorted(rng, nt, *k, no_self.then_some(s)));
        }),
        Connectivity::Explicit {
            sources,
            targets,
            weights,
            delays_ms,
        } => {
            let keep: Vec<usize> = (0..sources.len())
                .filter(|&i| !(no_self && sources[i] == targets[i]))
                .collect();
            let s2: Vec<u32> = keep.iter().map(|&i| sources[i]).collect();
            let t2: Vec<u32> = keep.iter().map(|&i| targets[i]).collect();
            let w2: Option<Vec<f64>> = weights
                .as_ref()
                .map(|w| keep.iter().map(|&i| w[i]).collect());
            let d2: Option<Vec<f64>> = delays_ms
                .as_ref()
                .map(|d| keep.iter().map(|&i| d[i]).collect());
            pairs(ns as usize, &s2, &t2, w2.as_deref(), d2.as_deref())
        }
        Connectivity::Dense { weights } => {
            let mut row_ptr = vec![0usize];
            let (mut targets, mut w) = (Vec::new(), Vec::new());
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

fn steps(ms: f64, dt: f64) -> u16 {
    (ms / dt).round().clamp(1.0, u16::MAX as f64) as u16
}

/// Expands projection `j` of a validated spec.
pub fn expand_projection(spec: &NetworkSpec, j: usize) -> Expanded {
    let pr = &spec.projections[j];
    let si = spec.population_index(&pr.source).unwrap_or(0);
    let ti = spec.population_index(&pr.target).unwrap_or(0);
    let (ns, nt) = (spec.populations[si].size, spec.populations[ti].size);
    let mut rng = stream(spec.seed, KIND_CONNECTIVITY, j as u64);
    let st = structure(pr, ns, nt, si == ti, &mut rng);
    let n = st.targets.len();
    let mut wrng = stream(spec.seed, KIND_WEIGHTS, j as u64);
    let weights = match (st.weights, &pr.weight) {
        (Some(w), _) => Per::Each(w),
        (None, ValueSpec::Constant(w)) => Per::Uniform(*w as f32),
        (None, v) => Per::Each((0..n).map(|_| draw(v, &mut wrng) as f32).collect()),
    };
    let dt = spec.dt_ms;
    let delays = match (st.delays_ms, &pr.delay_ms) {
        (Some(d), _) => Per::Each(d.iter().map(|&x| steps(x, dt)).collect()),
        (None, None) => Per::Uniform(1),
        (None, Some(ValueSpec::Constant(d))) => Per::Uniform(steps(*d, dt)),
        (None, Some(v)) => Per::Each((0..n).map(|_| steps(draw(v, &mut wrng), dt)).collect()),
    };
    Expanded {
        source_pop: si,
        target_pop: ti,
        row_ptr: st.row_ptr,
        targets: st.targets,
        weights,
        delays,
    }
}

/// Initial membrane values of population `i` (the engine's stream and rule).
pub(crate) fn initial_v(spec: &NetworkSpec, i: usize) -> Vec<f64> {
    let p = &spec.populations[i];
    match &p.v_init {
        None => vec![p.neuron.resting_v(); p.size as usize],
        Some(v) => {
            let mut rng = stream(spec.seed, KIND_INITIAL, i as u64);
            (0..p.size).map(|_| draw(v, &mut rng)).collect()
        }
    }
}
