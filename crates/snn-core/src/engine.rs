//! The network and its step loop.
//!
//! Each step, in this order:
//! 1. external currents are refreshed if a current stimulus switches at this step; spike-array
//!    and Poisson stimuli add their events to this step's input slot (or make input neurons fire);
//! 2. every population updates (one kernel call per population range), reading and clearing its
//!    slot of the input ring buffers and flagging spikes;
//! 3. spikes are gathered in global neuron order and recorded;
//! 4. plasticity rules see the spikes (`on_pre`, then `on_post`);
//! 5. spikes are delivered through the projections into the ring-buffer slot `delay` steps
//!    ahead: a CSR row, or for a conv or pool projection the kernel scattered through the
//!    per-axis tap tables ([`ConvTaps::scatter`](crate::projection::ConvTaps::scatter)).
//!
//! **Threads.** Neurons are split into contiguous ranges, one per thread. A thread owns its
//! range's state, input ring buffers and stimuli, updates them, and delivers *every* spike of the
//! step but only to the targets inside its range (rows are sorted, so each row is cut once into
//! per-thread sub-ranges; a conv projection clips its loops over output channels and rows to the
//! range). No two threads ever write the same memory, so the hot loops take no
//! lock and no atomic; one barrier per step (or per pair of paired `lif_exp` steps) separates
//! update from delivery. Every target receives
//! its inputs in the same order whatever the split, so spikes are bit-identical for any thread
//! count. Plasticity runs in the thread that owns the targets, on a replica of the rule and a
//! per-thread copy of the weights, gathered at the end of each run; a rule that splits post
//! spikes (`Plasticity::splits_post`) works on the projection's own weights (see
//! [`crate::plasticity`]). Attaching a rule to a fresh network cuts the threads anew by
//! estimated work, a plastic synapse counting as several static ones
//! ([`Network::thread_neurons`]); each thread then updates the whole columns of its own post
//! spikes. A network that ran or was given inputs before keeps its equal cut, and the columns of
//! a splitting rule's post spikes are then shared between all threads.

use std::sync::{OnceLock, RwLock};

use crate::barrier::{StartGate, StepBarrier, spawn_worker};
use crate::comm::{CommError, Communicator};

use snn_types::budget::MemoryBudget;
use snn_types::{
    AdaptiveThreshold, NetworkSpec, NeuronModel, Receptor, SpikeRaster, StateVar, Step, ValueSpec,
};

use crate::connect::build_projection_for_targets;
use crate::error::BuildError;
use crate::init::{initial_v, to_integer_v};
use crate::memory::NetworkMemory;
use crate::neuron::{
    AdexCoef, CondQuiet, IzhikevichCoef, LifBetaCoef, LifCondExpCoef, LifDeltaCoef, LifExpCoef,
    LoihiCoef, ThetaCoef, lif_exp_take_arrivals, step_lif_cond_exp, update_adex, update_izhikevich,
    update_lif_beta, update_lif_delta, update_lif_exp, update_lif_exp_pair, update_lif_exp_theta,
    update_loihi,
};
use crate::plasticity::{Plasticity, Share, SharedWeights, prefetch_ptr};
use crate::projection::{Delays, Layout, Projection, Weights, target_mask};
use crate::record::{Recordings, SpikeSink, Trace};
use crate::stimulus::{PoissonSource, PoissonTable, StimulusPlan};

/// A population as built: name, model and global index range.
#[derive(Debug, Clone)]
pub struct PopulationInfo {
    /// Name from the spec.
    pub name: String,
    /// Neuron model.
    pub model: NeuronModel,
    /// Global index of the first neuron.
    pub start: u32,
    /// Number of neurons.
    pub size: u32,
}

#[derive(Debug, Clone)]
enum SegState {
    LifExp {
        k: LifExpCoef,
        v: Vec<f64>,
        i_ex: Vec<f64>,
        i_in: Vec<f64>,
        refr: Vec<f64>,
        /// Adaptive threshold, when the model has one.
        theta: Option<ThetaState>,
    },
    LifDelta {
        k: LifDeltaCoef,
        v: Vec<f64>,
        refr: Vec<f64>,
    },
    /// `lif_cond_exp`: `v` in absolute mV, conductances in nS.
    LifCondExp {
        k: LifCondExpCoef,
        v: Vec<f64>,
        g_ex: Vec<f64>,
        g_in: Vec<f64>,
        refr: Vec<f64>,
        /// Adaptive threshold, when the model has one.
        theta: Option<ThetaState>,
        /// Scratch of the quiet-block path.
        quiet: CondQuiet,
    },
    LifBeta {
        k: LifBetaCoef,
        v: Vec<f32>,
    },
    Loihi {
        k: LoihiCoef,
        u: Vec<i32>,
        v: Vec<i32>,
    },
    /// `v` (mV) and the recovery variable `u`, both absolute.
    Izhikevich {
        k: IzhikevichCoef,
        v: Vec<f64>,
        u: Vec<f64>,
    },
    /// `V` (mV, absolute), adaptation `w` (pA), conductances (nS) and refractory steps.
    Adex {
        k: AdexCoef,
        v: Vec<f64>,
        w: Vec<f64>,
        g_ex: Vec<f64>,
        g_in: Vec<f64>,
        refr: Vec<f64>,
    },
    Input,
}

/// The adaptive threshold of a segment: its coefficients (`k`, frozen ones while
/// [`Network::freeze_theta`] holds) and `theta` (mV) per neuron.
#[derive(Debug, Clone)]
struct ThetaState {
    k: ThetaCoef,
    /// The spec's coefficients, restored when the threshold is unfrozen.
    spec_k: ThetaCoef,
    theta: Vec<f64>,
}

fn theta_state(a: Option<&AdaptiveThreshold>, dt: f64, n: usize) -> Option<ThetaState> {
    a.map(|a| {
        let k = ThetaCoef::new(a, dt);
        ThetaState {
            k,
            spec_k: k,
            theta: vec![k.init; n],
        }
    })
}

/// The part of one population that lies in one partition.
#[derive(Debug, Clone)]
struct Segment {
    pop: usize,
    /// Offset of the segment's first neuron within the partition.
    off: usize,
    len: usize,
    state: SegState,
}

impl Segment {
    /// The adaptive threshold state, when the segment's model has one.
    fn theta_mut(&mut self) -> Option<&mut ThetaState> {
        match &mut self.state {
            SegState::LifExp { theta, .. } | SegState::LifCondExp { theta, .. } => theta.as_mut(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum EventKind {
    /// Add a weight to the excitatory / inhibitory input of this step.
    Input { weight: f32, inhibitory: bool },
    /// Make an input neuron fire.
    Fire,
}

/// A scheduled external event for one neuron of the partition.
#[derive(Debug, Clone, Copy)]
struct Event {
    step: Step,
    off: u32,
    kind: EventKind,
}

/// The part of a Poisson source inside one partition.
#[derive(Debug, Clone)]
struct PoissonPart {
    src: PoissonSource,
    /// The CDF table of `src.lambda` (exactly the counts of [`PoissonSource::count`]).
    table: PoissonTable,
    inhibitory: bool,
    /// Partition offsets covered and the global index of the first.
    off_lo: usize,
    off_hi: usize,
    global0: u32,
}

#[derive(Debug, Clone)]
struct CurrentPart {
    offs: Vec<u32>,
    /// `(step, amplitude from that step on)`, ascending.
    schedule: Vec<(Step, f32)>,
}

impl CurrentPart {
    fn amplitude(&self, t: Step) -> f32 {
        let i = self.schedule.partition_point(|&(s, _)| s <= t);
        if i == 0 { 0.0 } else { self.schedule[i - 1].1 }
    }
}

#[derive(Debug, Clone)]
struct Probe {
    trace: usize,
    seg: usize,
    idx: usize,
    var: StateVar,
    values: Vec<f32>,
}

/// A contiguous range of global neurons owned by one thread. Aligned to two cache lines so that
/// the fields one thread writes every step (its spike list, event cursor) never share a line
/// with a neighbouring partition's.
#[derive(Debug)]
#[repr(align(128))]
struct Partition {
    lo: u32,
    len: usize,
    segs: Vec<Segment>,
    ring_ex: Vec<f32>,
    ring_in: Vec<f32>,
    i_ext: Vec<f32>,
    /// Per-neuron currents set at run time ([`Network::set_input_current`]).
    i_runtime: Vec<f32>,
    /// Every `i_ext` is 0 (kept by `refresh_currents`): kernels that can skip the current do.
    no_i_ext: bool,
    flags: Vec<u8>,
    spikes: Vec<u32>,
    /// The second step's spikes of a paired update ([`Partition::update_pair`]).
    spikes2: Vec<u32>,
    /// After a paired update: the step whose arrivals the `lif_exp` currents have not yet
    /// taken ([`Partition::take_lagging`]).
    lag: Option<Step>,
    /// While paired updates run: each neuron's last refractory step (the `lif_exp` refractory
    /// counters are stale until [`Partition::take_lagging`] writes them back).
    ref_until: Vec<f64>,
    events: Vec<Event>,
    spec_events: Vec<Event>,
    ev_cursor: usize,
    poisson: Vec<PoissonPart>,
    currents: Vec<CurrentPart>,
    probes: Vec<Probe>,
    /// Replicas of forkable plasticity rules with this thread's copy of their projection's
    /// weights (only during a multi-threaded run; empty otherwise).
    plastic: Vec<ThreadPlastic>,
    /// Per-slot event buckets for projections with per-synapse (packed) delays.
    buckets: Buckets,
    /// Offsets of the `input` neurons that stimuli make fire in the current step (their flags
    /// are not used: [`Partition::gather`] takes them from here instead of scanning them).
    fired: Vec<u32>,
}

/// Events of projections with per-synapse delays, sorted by destination before they are applied.
///
/// A row with per-synapse delays writes all over the ring buffers (every slot of every receptor,
/// about 35 MB for the full microcircuit), so each event would be a cache miss. Delivery instead
/// appends each event `(offset, weight)` to the bucket of its destination (receptor, slot): a
/// counting sort by slot, written as about `2 x slots` sequential streams. A bucket is applied to
/// its slot's row of the ring buffer (one 4-byte word per neuron of the partition, which stays in
/// the core's cache) when it is full and at the end of the delivery call. Every input of one ring
/// cell comes from the same bucket (the cell fixes receptor and slot) in the order the events
/// were generated, so every cell sums its inputs in the same order as a direct write:
/// bit-identical results.
#[derive(Debug, Clone, Default)]
struct Buckets {
    /// Events per bucket (`2 * slots` buckets: excitatory slots, then inhibitory).
    n: Vec<u32>,
    /// [`BUCKET_CAP`] events `(partition offset, weight)` per bucket, one 8-byte store each.
    ev: Vec<(u32, f32)>,
}

/// Events one bucket holds before it is applied (8 bytes each).
const BUCKET_CAP: usize = 1024;

impl Buckets {
    /// Allocates the buckets for `slots` ring slots (called by the thread that uses them, so that
    /// their pages are first touched there), once.
    fn ensure(&mut self, slots: usize) {
        if self.n.len() != 2 * slots {
            self.n = vec![0; 2 * slots];
            self.ev = vec![(0, 0.0); 2 * slots * BUCKET_CAP];
        }
    }

    /// Appends an event to bucket `key`, applying the bucket first when it is full.
    #[inline(always)]
    fn push(&mut self, key: usize, off: u32, w: f32, rings: (&mut [f32], &mut [f32]), len: usize) {
        let mut n = self.n[key] as usize;
        if n == BUCKET_CAP {
            self.apply(key, rings, len);
            n = 0;
        }
        self.ev[key * BUCKET_CAP + n] = (off, w);
        self.n[key] = n as u32 + 1;
    }

    /// Adds bucket `key`'s events to its ring slot (in the order they came) and empties it.
    fn apply(&mut self, key: usize, (ring_ex, ring_in): (&mut [f32], &mut [f32]), len: usize) {
        let slots = self.n.len() / 2;
        let n = std::mem::take(&mut self.n[key]) as usize;
        let (ring, s) = if key < slots {
            (ring_ex, key)
        } else {
            (ring_in, key - slots)
        };
        let buf = &mut ring[s * len..(s + 1) * len];
        let a = key * BUCKET_CAP;
        for &(o, w) in &self.ev[a..a + n] {
            buf[o as usize] += w;
        }
    }

    /// Applies every non-empty bucket.
    fn apply_all(&mut self, ring_ex: &mut [f32], ring_in: &mut [f32], len: usize) {
        for key in 0..self.n.len() {
            if self.n[key] != 0 {
                self.apply(key, (&mut *ring_ex, &mut *ring_in), len);
            }
        }
    }
}

/// Incoming synapses of each target of a plastic projection: target `c`'s are
/// `col_src[col_ptr[c]..col_ptr[c + 1]]` (sources) and `col_syn[..]` (synapse indices).
struct ColIndex {
    col_ptr: Vec<usize>,
    col_src: Vec<u32>,
    col_syn: Vec<u32>,
}

/// One thread's replica of a forkable rule during a multi-threaded run.
struct ThreadPlastic {
    /// The projection.
    proj: usize,
    rule: Box<dyn Plasticity>,
    /// The thread's copy of the projection's weights: current for every synapse whose target the
    /// thread owns (the only ones it reads or writes, except the shares of other threads' post
    /// spikes when the rule [splits them](Plasticity::splits_post)).
    weights: Vec<f32>,
    /// `weights` as a raw pointer, set once the copy is made (the buffer is not touched through
    /// the `Vec` again until the run ends), so segments can be borrowed while other threads
    /// write other elements.
    raw: RawWeights,
    /// The rule splits post spikes between the threads.
    split: bool,
    /// A split rule whose post spikes are not shared out: the thread owning a post spike updates
    /// its whole column (partitions cut by cost, [`Network::cut_by_cost`]).
    whole: bool,
    /// Per source neuron: fired in the current step (split rules shared out only; cleared after
    /// use).
    spiked: Vec<bool>,
    /// The sources marked in `spiked`.
    fired: Vec<u32>,
}

/// A thread's weight copy as a raw pointer and length.
#[derive(Debug, Clone, Copy)]
struct RawWeights {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: the pointer is only dereferenced under the run's phase rules (see `thread_plasticity`):
// no element is written by one thread while another reads or writes it.
unsafe impl Send for RawWeights {}
// SAFETY: as above.
unsafe impl Sync for RawWeights {}

impl RawWeights {
    const NONE: RawWeights = RawWeights {
        ptr: std::ptr::null_mut(),
        len: 0,
    };

    fn of(w: &mut [f32]) -> Self {
        Self {
            ptr: w.as_mut_ptr(),
            len: w.len(),
        }
    }

    /// Weights `a..b`.
    ///
    /// # Safety
    /// The buffer is alive and no other thread writes `a..b` while the slice lives.
    unsafe fn seg<'a>(self, a: usize, b: usize) -> &'a [f32] {
        assert!(a <= b && b <= self.len, "weight segment in range");
        // SAFETY: in bounds (checked); the caller's contract.
        unsafe { std::slice::from_raw_parts(self.ptr.add(a), b - a) }
    }

    /// Weights `a..b`, mutably.
    ///
    /// # Safety
    /// The buffer is alive and no other thread reads or writes `a..b` while the slice lives.
    unsafe fn seg_mut<'a>(self, a: usize, b: usize) -> &'a mut [f32] {
        assert!(a <= b && b <= self.len, "weight segment in range");
        // SAFETY: in bounds (checked); the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(a), b - a) }
    }

    /// The whole buffer as a view several threads may write (different elements).
    ///
    /// # Safety
    /// The buffer is alive, and while the view lives its elements are accessed through plain
    /// references only where no view writes them.
    unsafe fn shared<'a>(self) -> SharedWeights<'a> {
        // SAFETY: the caller's contract.
        unsafe { SharedWeights::from_raw(self.ptr, self.len) }
    }
}

/// A post spike of a split rule's target, published by its owning thread with its factor.
#[derive(Debug, Clone, Copy)]
struct PostFactor {
    /// Index of the rule in every partition's `plastic` list.
    slot: u32,
    /// Local target index.
    post: u32,
    factor: f64,
}

impl std::fmt::Debug for ThreadPlastic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPlastic")
            .field("proj", &self.proj)
            .field("weights", &self.weights.len())
            .finish()
    }
}

/// Weight snapshots requested for one projection.
struct WeightRecorder {
    proj: usize,
    /// Steps still to snapshot, descending (the next one last).
    pending: Vec<Step>,
    history: crate::record::WeightHistory,
}

/// Statistics of one [`Network::run`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Steps simulated.
    pub steps: u64,
    /// Spikes emitted by all populations (recorded or not).
    pub spikes: u64,
    /// Synaptic events: spikes times their out-degree, summed over projections.
    pub syn_events: u64,
}

/// A network built from a [`NetworkSpec`], ready to simulate.
///
/// ```
/// use snn_core::{Network, models};
/// use snn_types::SpikeRaster;
///
/// let spec = models::cuba(400, 1); // the CUBA benchmark, scaled down
/// let mut net = Network::build(&spec).unwrap();
/// let mut raster = SpikeRaster::new(0);
/// let stats = net.run(1000, &mut raster); // 100 ms at dt = 0.1 ms
/// assert_eq!(stats.steps, 1000);
/// assert_eq!(stats.spikes as usize, raster.len());
/// ```
pub struct Network {
    dt_ms: f64,
    seed: u64,
    pops: Vec<PopulationInfo>,
    v_init: Vec<Option<ValueSpec>>,
    projections: Vec<Projection>,
    by_source: Vec<Vec<usize>>,
    /// Synapses leaving each neuron over all its projections (global id), so that a step's
    /// synaptic events are one look-up per spike ([`fan_out_events`]).
    fan_out: Vec<u32>,
    slots: usize,
    parts: Vec<Partition>,
    /// Per projection, per source row, the cut points of the row for each partition
    /// (`n_parts + 1` entries per row); empty with one partition.
    splits: Vec<Vec<u32>>,
    /// Per projection, its plasticity rule (if any).
    plastic: Vec<Option<Box<dyn Plasticity>>>,
    /// Per projection, the column index of a plastic projection.
    plastic_cols: Vec<Option<ColIndex>>,
    /// Per projection: no row holds a target twice (rows are sorted, so a row whose last and
    /// first targets differ by its length minus one is then a contiguous range, delivered as a
    /// vector add).
    strict_rows: Vec<bool>,
    weight_recorders: Vec<WeightRecorder>,
    switch_steps: Vec<Step>,
    /// The spec's stimuli in steps (cut into the partitions by `partition`).
    stimuli: StimulusPlan,
    step: Step,
    record_pop: Vec<bool>,
    rate_pops: Vec<usize>,
    rates: Vec<Vec<u32>>,
    trace_meta: Vec<(usize, u32, StateVar)>,
    scratch: Vec<u32>,
    all_spikes: Vec<u32>,
    /// Weight buffers of forked plastic projections kept from the last multi-threaded run, reused
    /// by the next one so that its copies do not fault in fresh pages.
    weight_spares: Vec<Vec<f32>>,
    /// The global neurons this network owns and simulates (`0..n` in a single process; one
    /// rank's block in a distributed run).
    owned: std::ops::Range<u32>,
    /// This rank and the number of ranks (0 and 1 in a single process).
    rank: usize,
    ranks: usize,
    /// Runs that went on in the calling thread alone because the system refused a worker thread.
    threads_refused: u64,
    /// The partitions hold only what the spec gives (nothing injected, set or simulated since
    /// they were cut or reset): cutting them anew loses nothing.
    fresh: bool,
    /// The partitions were cut by estimated work with the plastic projections counted
    /// ([`partition_costs`]): each thread then updates the whole columns of its own post spikes
    /// for rules that split them, instead of a share of every column.
    cut_by_cost: bool,
    /// Steps advanced two at a time ([`Partition::update_pair`]), for tests.
    paired_steps: u64,
    /// Never advance two steps at a time (tests compare both ways).
    pairs_off: bool,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("neurons", &self.n_neurons())
            .field("synapses", &self.n_synapses())
            .field("threads", &self.parts.len())
            .field("step", &self.step)
            .finish()
    }
}

/// How many static synapses one plastic synapse costs in a step, for the partition cut: a
/// plastic synapse is read and written by the rule's `on_pre` when its source fires and visited
/// again by `on_post` when its target fires (both in the thread owning the target), beside being
/// delivered. Chosen by measurement on the plastic CUBA network (pair STDP on `exc -> exc`, 40,000
/// neurons, 2 threads, `plastic_threads` in `benches`): 3 and 4 gave the shortest runs, 1 (equal
/// neuron counts) and 5 to 7 runs 4-8% longer; after whole-row delivery, 2 to 6 were within
/// noise of each other (0.164-0.178 s) and 3 steadily at 0.166 s.
const PLASTIC_SYNAPSE_COST: f64 = 3.0;

/// Estimated work of each owned neuron in a step, in units of a neuron update: 1 for the
/// update, 1 for delivering its static input (taken as the network's mean, which it is on
/// average), and `PLASTIC_SYNAPSE_COST - 1` more per plastic input synapse, relative to the
/// network's mean number of input synapses (so a neuron whose whole input is plastic costs
/// `1 + PLASTIC_SYNAPSE_COST`).
fn partition_costs(
    n: usize,
    first: u32,
    pops: &[PopulationInfo],
    projections: &[Projection],
    plastic_cols: &[Option<ColIndex>],
) -> Vec<f64> {
    let mut costs = vec![2.0; n];
    let synapses: usize = projections.iter().map(Projection::n_synapses).sum();
    let mean_in = (synapses as f64 / n.max(1) as f64).max(1.0);
    let extra = (PLASTIC_SYNAPSE_COST - 1.0) / mean_in;
    for (pr, cols) in projections.iter().zip(plastic_cols) {
        let Some(c) = cols else { continue };
        let start = pops[pr.target_pop].start;
        for (t, w) in c.col_ptr.windows(2).enumerate() {
            let g = (start + t as u32).wrapping_sub(first) as usize;
            if let Some(cost) = costs.get_mut(g) {
                *cost += extra * (w[1] - w[0]) as f64;
            }
        }
    }
    costs
}

/// Cuts `costs` (one per neuron, from global neuron `first`) into `k` (1 to `costs.len()`)
/// consecutive non-empty ranges of about equal sum; returns the `k + 1` global bounds.
fn cut_by_cost(costs: &[f64], k: usize, first: usize) -> Vec<usize> {
    let n = costs.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0);
    let mut acc = 0.0;
    for &c in costs {
        acc += c;
        prefix.push(acc);
    }
    let mut bounds = Vec::with_capacity(k + 1);
    bounds.push(0);
    for part in 1..k {
        let goal = acc * part as f64 / k as f64;
        // The first cut whose prefix reaches the goal, at least one neuron after the previous
        // cut and leaving one neuron for each range after this one.
        let lo = bounds[part - 1] + 1;
        let hi = n - (k - part);
        let at = prefix.partition_point(|&p| p < goal).clamp(lo, hi);
        bounds.push(at);
    }
    bounds.push(n);
    bounds.iter().map(|b| b + first).collect()
}

fn seg_state(model: &NeuronModel, dt: f64, v0: Vec<f64>) -> SegState {
    let n = v0.len();
    match model {
        NeuronModel::LifExp(p) => {
            let k = LifExpCoef::new(p, dt);
            let v = v0.iter().map(|&x| x - k.e_l).collect();
            SegState::LifExp {
                k,
                v,
                i_ex: vec![0.0; n],
                i_in: vec![0.0; n],
                refr: vec![0.0; n],
                theta: theta_state(p.adaptive_threshold.as_ref(), dt, n),
            }
        }
        NeuronModel::LifDelta(p) => {
            let k = LifDeltaCoef::new(p, dt);
            let v = v0.iter().map(|&x| x - k.e_l).collect();
            SegState::LifDelta {
                k,
                v,
                refr: vec![0.0; n],
            }
        }
        NeuronModel::LifCondExp(p) => SegState::LifCondExp {
            k: LifCondExpCoef::new(p, dt),
            v: v0,
            g_ex: vec![0.0; n],
            g_in: vec![0.0; n],
            refr: vec![0.0; n],
            theta: theta_state(p.adaptive_threshold.as_ref(), dt, n),
            quiet: CondQuiet::default(),
        },
        NeuronModel::LifBeta(p) => SegState::LifBeta {
            k: LifBetaCoef::new(p),
            v: v0.iter().map(|&x| x as f32).collect(),
        },
        NeuronModel::LoihiLif(p) => SegState::Loihi {
            k: LoihiCoef::new(p),
            u: vec![0; n],
            v: v0.iter().map(|&x| to_integer_v(x)).collect(),
        },
        NeuronModel::Izhikevich(p) => {
            let k = IzhikevichCoef::new(p, dt);
            let v: Vec<f64> = v0.iter().map(|&x| k.clamp_v(x)).collect();
            let u = v.iter().map(|&x| k.u0(x)).collect();
            SegState::Izhikevich { k, v, u }
        }
        NeuronModel::Adex(p) => {
            let k = AdexCoef::new(p, dt);
            SegState::Adex {
                k,
                v: v0.iter().map(|&x| k.clamp_v(x)).collect(),
                w: vec![0.0; n],
                g_ex: vec![0.0; n],
                g_in: vec![0.0; n],
                refr: vec![0.0; n],
            }
        }
        NeuronModel::Input => SegState::Input,
    }
}

impl Network {
    /// Validates the spec and builds the network for one thread, refusing (with
    /// [`BuildError::Memory`]) a network whose estimated memory exceeds what the machine has
    /// ([`MemoryBudget::system`]).
    pub fn build(spec: &NetworkSpec) -> Result<Self, BuildError> {
        Self::build_with_budget(spec, 1, &MemoryBudget::system())
    }

    /// Validates and builds over `threads` threads (at least 1), first checking the memory
    /// estimate ([`NetworkMemory`]) against `budget`: a network too large is refused with
    /// [`BuildError::Memory`] before anything is allocated, and a projection with more synapses
    /// than the `u32` index allows with [`BuildError::TooLarge`]. Spikes are identical for every
    /// thread count.
    pub fn build_with_budget(
        spec: &NetworkSpec,
        threads: usize,
        budget: &MemoryBudget,
    ) -> Result<Self, BuildError> {
        spec.validate()?;
        let estimate = NetworkMemory::estimate(spec, threads);
        estimate.check_build(budget)?;
        if let Some((j, n)) = estimate.stored_over_index_limit() {
            return Err(BuildError::TooLarge(format!(
                "projections[{j}] has {n} synapses; the limit is {}",
                u32::MAX
            )));
        }
        let n = spec.population_offsets().last().copied().unwrap_or(0) as u32;
        let mut net = Self::assemble(spec, 0..n, 0, 1)?;
        net.partition(threads.max(1));
        Ok(net)
    }

    /// Everything but the partitions (which [`partition`](Self::partition) creates), keeping
    /// only the neurons `owned` and the synapses that target them.
    fn assemble(
        spec: &NetworkSpec,
        owned: std::ops::Range<u32>,
        rank: usize,
        ranks: usize,
    ) -> Result<Self, BuildError> {
        let dt = spec.dt_ms;
        let offsets = spec.population_offsets();
        let pops: Vec<PopulationInfo> = spec
            .populations
            .iter()
            .enumerate()
            .map(|(i, p)| PopulationInfo {
                name: p.name.clone(),
                model: p.neuron.clone(),
                start: offsets[i] as u32,
                size: p.size,
            })
            .collect();
        let projections = (0..spec.projections.len())
            .map(|j| build_projection_for_targets(spec, j, owned.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut by_source = vec![Vec::new(); pops.len()];
        for (j, p) in projections.iter().enumerate() {
            by_source[p.source_pop].push(j);
        }
        let fan_out = fan_out_table(&pops, &projections);
        let max_delay = crate::projection::longest_delay_steps(&projections);
        let plan = StimulusPlan::from_spec(spec);
        let switch_steps = plan.switch_steps.clone();
        let record_pop = match &spec.recording.spikes {
            None => vec![true; pops.len()],
            Some(names) => pops.iter().map(|p| names.contains(&p.name)).collect(),
        };
        let rate_pops: Vec<usize> = spec
            .recording
            .rates
            .iter()
            .filter_map(|n| spec.population_index(n))
            .collect();
        let mut trace_meta = Vec::new();
        for t in &spec.recording.state {
            if let Some(pi) = spec.population_index(&t.population) {
                for &n in &t.neurons {
                    trace_meta.push((pi, n, t.variable));
                }
            }
        }
        let n_proj = projections.len();
        let strict_rows = projections.iter().map(rows_are_strict).collect();
        let mut net = Network {
            dt_ms: dt,
            seed: spec.seed,
            pops,
            v_init: spec.populations.iter().map(|p| p.v_init).collect(),
            projections,
            by_source,
            fan_out,
            slots: max_delay as usize + 1,
            parts: Vec::new(),
            splits: vec![Vec::new(); n_proj],
            plastic: (0..n_proj).map(|_| None).collect(),
            plastic_cols: (0..n_proj).map(|_| None).collect(),
            strict_rows,
            weight_recorders: Vec::new(),
            switch_steps,
            stimuli: StimulusPlan::default(),
            step: 0,
            record_pop,
            rates: vec![Vec::new(); rate_pops.len()],
            rate_pops,
            trace_meta,
            scratch: Vec::new(),
            all_spikes: Vec::new(),
            weight_spares: Vec::new(),
            owned,
            rank,
            ranks,
            threads_refused: 0,
            fresh: false,
            cut_by_cost: false,
            paired_steps: 0,
            pairs_off: false,
        };
        net.stimuli = plan;
        Ok(net)
    }

    /// Validates and builds the network split over `threads` threads (at least 1), with the
    /// machine's memory budget (see [`build_with_budget`](Self::build_with_budget)). Spikes are
    /// identical for every thread count.
    pub fn build_with_threads(spec: &NetworkSpec, threads: usize) -> Result<Self, BuildError> {
        Self::build_with_budget(spec, threads, &MemoryBudget::system())
    }

    /// (Re)creates `threads` partitions of equal neuron counts and their state from the spec:
    /// initial state, stimuli, probes.
    fn partition(&mut self, threads: usize) {
        let (first, n) = (
            self.owned.start as usize,
            (self.owned.end - self.owned.start) as usize,
        );
        let k = threads.clamp(1, n.max(1));
        let bounds: Vec<usize> = (0..=k).map(|i| first + i * n / k).collect();
        self.partition_at(&bounds);
        self.cut_by_cost = false;
    }

    /// Cuts the partitions anew, `threads` of them with about equal estimated work when
    /// projections are plastic ([`partition_costs`]): plasticity runs in the thread that owns
    /// the targets, and a plastic synapse costs several times a static one, so equal neuron counts
    /// would leave the thread holding a plastic population with most of the work (62% of it
    /// on two threads of the plastic CUBA network, whose `exc -> exc` targets are the first 80%
    /// of the neurons). Only called on fresh partitions (`self.fresh`).
    fn partition_by_cost(&mut self, threads: usize) {
        let n = (self.owned.end - self.owned.start) as usize;
        let k = threads.clamp(1, n.max(1));
        let costs = partition_costs(
            n,
            self.owned.start,
            &self.pops,
            &self.projections,
            &self.plastic_cols,
        );
        let bounds = cut_by_cost(&costs, k, self.owned.start as usize);
        self.partition_at(&bounds);
        self.cut_by_cost = true;
    }

    /// (Re)creates the partitions between consecutive global neuron `bounds` (strictly
    /// increasing, from the first owned neuron to the end) and their state from the spec.
    fn partition_at(&mut self, bounds: &[usize]) {
        let v0 = self.initial_v();
        let mut parts = Vec::with_capacity(bounds.len() - 1);
        for w in bounds.windows(2) {
            let (lo, hi) = (w[0] as u32, w[1] as u32);
            let mut segs = Vec::new();
            for (pi, p) in self.pops.iter().enumerate() {
                let a = p.start.max(lo);
                let b = (p.start + p.size).min(hi);
                if a < b {
                    segs.push(Segment {
                        pop: pi,
                        off: (a - lo) as usize,
                        len: (b - a) as usize,
                        state: seg_state(&p.model, self.dt_ms, v0[a as usize..b as usize].to_vec()),
                    });
                }
            }
            let len = (hi - lo) as usize;
            parts.push(Partition {
                lo,
                len,
                segs,
                ring_ex: vec![0.0; self.slots * len],
                ring_in: vec![0.0; self.slots * len],
                i_ext: vec![0.0; len],
                i_runtime: vec![0.0; len],
                no_i_ext: true,
                flags: vec![0; len],
                spikes: Vec::with_capacity(len),
                spikes2: Vec::new(),
                lag: None,
                ref_until: Vec::new(),
                events: Vec::new(),
                spec_events: Vec::new(),
                ev_cursor: 0,
                poisson: Vec::new(),
                currents: Vec::new(),
                probes: Vec::new(),
                plastic: Vec::new(),
                buckets: Buckets::default(),
                fired: Vec::new(),
            });
        }
        self.parts = parts;
        self.compile_stimuli();
        for (ti, &(pi, neuron, var)) in self.trace_meta.iter().enumerate() {
            let g = self.pops[pi].start + neuron;
            for part in &mut self.parts {
                if g >= part.lo && ((g - part.lo) as usize) < part.len {
                    let off = (g - part.lo) as usize;
                    let seg = part
                        .segs
                        .iter()
                        .position(|s| off >= s.off && off < s.off + s.len)
                        .unwrap_or(0);
                    let idx = off - part.segs[seg].off;
                    part.probes.push(Probe {
                        trace: ti,
                        seg,
                        idx,
                        var,
                        values: Vec::new(),
                    });
                }
            }
        }
        for p in &mut self.parts {
            p.refresh_currents(0);
        }
        self.step = 0;
        self.fresh = true;
        self.compute_splits();
    }

    /// Initial membrane values of the whole network, population by population
    /// ([`crate::init::initial_v`]).
    fn initial_v(&self) -> Vec<f64> {
        let mut v0 = Vec::with_capacity(self.n_neurons() as usize);
        for (i, p) in self.pops.iter().enumerate() {
            v0.extend(initial_v(
                self.seed,
                i,
                &p.model,
                p.size,
                self.v_init[i].as_ref(),
            ));
        }
        v0
    }

    /// Cuts the stimulus plan into the partitions' ranges.
    fn compile_stimuli(&mut self) {
        let plan = &self.stimuli;
        for part in &mut self.parts {
            let (lo, hi) = (part.lo, part.lo + part.len as u32);
            let is_lif_exp = |g: u32| {
                let pi = pop_of(&self.pops, g);
                has_inhibitory_receptor(&self.pops[pi].model)
            };
            for src in &plan.poisson {
                let (a, b) = (src.lo.max(lo), src.hi.min(hi));
                if a >= b {
                    continue;
                }
                part.poisson.push(PoissonPart {
                    src: *src,
                    table: PoissonTable::new(src.lambda, src.exp_neg_lambda),
                    inhibitory: src.receptor == Receptor::Inhibitory && is_lif_exp(a),
                    off_lo: (a - lo) as usize,
                    off_hi: (b - lo) as usize,
                    global0: a,
                });
            }
            for c in &plan.currents {
                let offs: Vec<u32> = c
                    .neurons
                    .iter()
                    .filter(|&&g| g >= lo && g < hi)
                    .map(|&g| g - lo)
                    .collect();
                if !offs.is_empty() {
                    part.currents.push(CurrentPart {
                        offs,
                        schedule: c.schedule.clone(),
                    });
                }
            }
            part.spec_events = plan
                .events
                .iter()
                .filter(|e| e.neuron >= lo && e.neuron < hi)
                .map(|e| Event {
                    step: e.step,
                    off: e.neuron - lo,
                    kind: if e.fire {
                        EventKind::Fire
                    } else {
                        EventKind::Input {
                            weight: e.weight,
                            inhibitory: e.receptor == Receptor::Inhibitory,
                        }
                    },
                })
                .collect();
            part.events = part.spec_events.clone();
            part.ev_cursor = 0;
        }
    }

    fn compute_splits(&mut self) {
        let k = self.parts.len();
        for (j, pr) in self.projections.iter().enumerate() {
            if k == 1 {
                self.splits[j] = Vec::new();
                continue;
            }
            // A conv projection clips its target loop to the partition instead.
            let Layout::Csr {
                row_ptr,
                targets,
                packed,
            } = &pr.layout
            else {
                self.splits[j] = Vec::new();
                continue;
            };
            let mask = packed.map_or(u32::MAX, target_mask);
            let tstart = self.pops[pr.target_pop].start;
            let mut cuts = Vec::with_capacity(pr.n_source() * (k + 1));
            for s in 0..pr.n_source() {
                let row = &targets[row_ptr[s]..row_ptr[s + 1]];
                cuts.push(0u32);
                for part in &self.parts[1..] {
                    // First synapse whose global target is at or beyond this partition's start.
                    let local_lo = part.lo.saturating_sub(tstart);
                    cuts.push(row.partition_point(|&t| t & mask < local_lo) as u32);
                }
                cuts.push(row.len() as u32);
            }
            self.splits[j] = cuts;
        }
    }

    /// Number of threads the network is split over.
    pub fn threads(&self) -> usize {
        self.parts.len()
    }

    /// The global neurons each thread simulates, in thread order (consecutive ranges covering
    /// the neurons this network owns). Equal counts after a build; by estimated work after
    /// [`set_plasticity`](Self::set_plasticity) on a fresh network.
    pub fn thread_neurons(&self) -> Vec<std::ops::Range<u32>> {
        self.parts
            .iter()
            .map(|p| p.lo..p.lo + p.len as u32)
            .collect()
    }

    /// How many [`run`](Self::run)s went on in the calling thread alone because the system
    /// refused to start a worker thread (a limit on threads or memory): each such run simulates
    /// every partition in turn, with the same result as with the threads, only slower. 0 when
    /// every run had its threads.
    pub fn threads_refused(&self) -> u64 {
        self.threads_refused
    }

    /// Integration step (ms).
    pub fn dt_ms(&self) -> f64 {
        self.dt_ms
    }

    /// The next step to be simulated (steps simulated so far).
    pub fn current_step(&self) -> Step {
        self.step
    }

    /// Total neurons.
    pub fn n_neurons(&self) -> u64 {
        self.pops.iter().map(|p| p.size as u64).sum()
    }

    /// Total synapses; a conv or pool projection counts the (source, target) pairs it represents
    /// (its expanded form), not what it stores (see
    /// [`synapse_memory_bytes`](Self::synapse_memory_bytes)).
    pub fn n_synapses(&self) -> u64 {
        self.projections.iter().map(|p| p.n_synapses() as u64).sum()
    }

    /// Bytes held by the synapse arrays of all projections (for a conv or pool projection, its
    /// kernel and tap tables: [`Projection::memory_bytes`]).
    pub fn synapse_memory_bytes(&self) -> usize {
        self.projections.iter().map(Projection::memory_bytes).sum()
    }

    /// The populations.
    pub fn populations(&self) -> &[PopulationInfo] {
        &self.pops
    }

    /// The projections, in spec order.
    pub fn projections(&self) -> &[Projection] {
        &self.projections
    }

    /// Mutable access to a projection's weights (e.g. to load learned weights). Materialises
    /// per-synapse storage. For a conv or pool projection these are the kernel's weights
    /// (row-major `[C_out][C_in/groups][kh][kw]`; a pool's window weight materialised per kernel
    /// entry).
    pub fn projection_weights_mut(&mut self, j: usize) -> Option<&mut [f32]> {
        self.projections.get_mut(j).map(|p| p.weights_mut())
    }

    /// Attaches a plasticity rule to projection `j` (replacing any previous one); the projection's
    /// weights become per-synapse. On a network split over several threads that has not yet run
    /// or been given inputs, thresholds or currents (or was [`reset`](Self::reset) since), the
    /// neurons are shared out again between the threads by estimated work, a plastic synapse
    /// counting several static ones (plasticity runs in the thread owning its targets); spikes
    /// and weights are the same for every cut. Attach rules first to get this balance. Refused with [`BuildError::Request`] for a conv or pool
    /// projection, whose synapses share the kernel's weights, and on a network built for one
    /// rank of a distributed run ([`build_rank`](Self::build_rank) with more than one rank).
    pub fn set_plasticity(
        &mut self,
        j: usize,
        mut rule: Box<dyn Plasticity>,
    ) -> Result<(), BuildError> {
        if self.ranks > 1 {
            return Err(BuildError::Request(format!(
                "plasticity is not supported on a network built for rank {} of {} (distributed runs keep only the synapses onto each rank's neurons; learn on one process)",
                self.rank, self.ranks
            )));
        }
        let pr = self
            .projections
            .get_mut(j)
            .ok_or_else(|| BuildError::Request(format!("no projection {j}")))?;
        if pr.conv().is_some() {
            return Err(BuildError::Request(format!(
                "projection '{}' is a conv2d/pool2d projection, stored as a shared kernel: plasticity needs per-synapse weights (rewrite it as an explicit projection to learn on it)",
                pr.name
            )));
        }
        pr.materialise_weights();
        // Rules see plain target indices.
        pr.unpack_delays();
        let (col_ptr, col_src, col_syn) = pr.transpose_index();
        rule.set_strict_rows(rows_are_strict(pr));
        self.plastic[j] = Some(rule);
        self.plastic_cols[j] = Some(ColIndex {
            col_ptr,
            col_src,
            col_syn,
        });
        if self.fresh && self.parts.len() > 1 {
            self.partition_by_cost(self.parts.len());
        }
        Ok(())
    }

    /// Asks for snapshots of projection `j`'s weights after `steps` (each: the weights at the
    /// start of that step, i.e. after that many steps, learning included), taken during later
    /// [`run`](Self::run)s and collected with [`take_weight_history`](Self::take_weight_history).
    /// Steps are sorted and deduplicated; asking again for the same projection adds steps.
    /// Refused with [`BuildError::Request`] for an unknown projection, a conv or pool projection
    /// (no per-synapse weights), a step already simulated, or a network built for one rank of a
    /// distributed run.
    pub fn record_weights(&mut self, j: usize, steps: &[Step]) -> Result<(), BuildError> {
        if self.ranks > 1 {
            return Err(BuildError::Request(format!(
                "weight snapshots are not supported on a network built for rank {} of {}",
                self.rank, self.ranks
            )));
        }
        let pr = self
            .projections
            .get(j)
            .ok_or_else(|| BuildError::Request(format!("no projection {j}")))?;
        if pr.conv().is_some() {
            return Err(BuildError::Request(format!(
                "projection '{}' is a conv2d/pool2d projection: its weights are a shared kernel, not per synapse, so they cannot be recorded as a weight history",
                pr.name
            )));
        }
        if let Some(&s) = steps.iter().find(|&&s| s < self.step) {
            return Err(BuildError::Request(format!(
                "weight snapshot of projection '{}' at step {s}: the network has already simulated {} steps",
                pr.name, self.step
            )));
        }
        let idx = match self.weight_recorders.iter().position(|r| r.proj == j) {
            Some(i) => i,
            None => {
                self.weight_recorders.push(WeightRecorder {
                    proj: j,
                    pending: Vec::new(),
                    history: crate::record::WeightHistory::for_projection(pr),
                });
                self.weight_recorders.len() - 1
            }
        };
        let r = &mut self.weight_recorders[idx];
        r.pending.extend_from_slice(steps);
        // Descending: the next one is at the end, taken in O(1).
        r.pending.sort_unstable_by(|a, b| b.cmp(a));
        r.pending.dedup();
        Ok(())
    }

    /// Takes the weight snapshots of projection `j` recorded so far (see
    /// [`record_weights`](Self::record_weights)), leaving none requested. Refused with
    /// [`BuildError::Request`] when nothing was requested for `j`, or when requested steps lie
    /// beyond the steps simulated (naming them): run further first.
    pub fn take_weight_history(
        &mut self,
        j: usize,
    ) -> Result<crate::record::WeightHistory, BuildError> {
        let i = self
            .weight_recorders
            .iter()
            .position(|r| r.proj == j)
            .ok_or_else(|| {
                BuildError::Request(format!(
                    "no weight snapshots were requested for projection {j} (call record_weights first)"
                ))
            })?;
        if let Some(&first) = self.weight_recorders[i].pending.last() {
            let r = &self.weight_recorders[i];
            return Err(BuildError::Request(format!(
                "weight snapshots of projection '{}' requested at {} step(s) from step {first} on, but only {} steps were simulated",
                r.history.projection,
                r.pending.len(),
                self.step
            )));
        }
        Ok(self.weight_recorders.swap_remove(i).history)
    }

    /// Takes the snapshots due at the current step.
    fn snapshot_weights(&mut self) {
        let now = self.step;
        for r in &mut self.weight_recorders {
            while r.pending.last() == Some(&now) {
                r.pending.pop();
                let pr = &self.projections[r.proj];
                let w: Vec<f32> = (0..pr.n_synapses()).map(|i| pr.weight(i)).collect();
                r.history.steps.push(now);
                r.history.weights.push(w);
            }
        }
    }

    /// The next step (at or after the current one, at most `end`) at which a snapshot is due.
    fn next_snapshot(&self, end: Step) -> Option<Step> {
        self.weight_recorders
            .iter()
            .filter_map(|r| r.pending.last().copied())
            .filter(|&s| s <= end)
            .min()
    }

    /// Projection `j`'s plasticity rule, to change its settings between runs (downcast it to its
    /// type through [`std::any::Any`]); `None` when it has none.
    pub fn plasticity_mut(&mut self, j: usize) -> Option<&mut dyn Plasticity> {
        self.plastic.get_mut(j).and_then(|p| p.as_deref_mut())
    }

    /// Detaches and returns projection `j`'s plasticity rule.
    pub fn take_plasticity(&mut self, j: usize) -> Option<Box<dyn Plasticity>> {
        if let Some(c) = self.plastic_cols.get_mut(j) {
            *c = None;
        }
        self.plastic.get_mut(j).and_then(Option::take)
    }

    /// Makes neurons of input population `pop` fire: `raster` step 0 is simulated step
    /// `self.current_step() + raster.start_step()`, and its neuron indices are local to the
    /// population. Cleared by [`reset`](Self::reset).
    pub fn inject_input(&mut self, pop: usize, raster: &SpikeRaster) -> Result<(), BuildError> {
        let info = self
            .pops
            .get(pop)
            .ok_or_else(|| BuildError::Request(format!("no population {pop}")))?
            .clone();
        if !matches!(info.model, NeuronModel::Input) {
            return Err(BuildError::Request(format!(
                "population '{}' is not an input population",
                info.name
            )));
        }
        let base = self.step;
        for s in raster.iter() {
            if s.neuron >= info.size {
                return Err(BuildError::Request(format!(
                    "input neuron {} out of range for '{}' ({} neurons)",
                    s.neuron, info.name, info.size
                )));
            }
        }
        self.fresh = false;
        for part in &mut self.parts {
            // Events before the cursor are in the past: drop them, so that a network fed
            // image after image (Diehl & Cook inject every presentation) does not keep every
            // input spike it was ever given (24 bytes each: gigabytes over an MNIST epoch).
            if part.ev_cursor > 0 {
                part.events.drain(..part.ev_cursor);
                part.ev_cursor = 0;
            }
            let mut added = false;
            for s in raster.iter() {
                let g = info.start + s.neuron;
                if g >= part.lo && ((g - part.lo) as usize) < part.len {
                    part.events.push(Event {
                        step: base + s.step,
                        off: g - part.lo,
                        kind: EventKind::Fire,
                    });
                    added = true;
                }
            }
            if added {
                let done = part.ev_cursor;
                part.events[done..].sort_by_key(|e| e.step);
            }
        }
        Ok(())
    }

    /// Sets a constant external current for every neuron of population `pop` (in the model's
    /// current unit), replacing any previous run-time current; it adds to the current stimuli of
    /// the spec and lasts until changed or [`reset`](Self::reset). Used to drive the first layer
    /// of a trained network with an analog input (`W x` computed outside the engine).
    pub fn set_input_current(&mut self, pop: usize, current: &[f32]) -> Result<(), BuildError> {
        let info = self
            .pops
            .get(pop)
            .ok_or_else(|| BuildError::Request(format!("no population {pop}")))?
            .clone();
        if current.len() != info.size as usize {
            return Err(BuildError::Request(format!(
                "{} currents given for population '{}' of {} neurons",
                current.len(),
                info.name,
                info.size
            )));
        }
        if matches!(info.model, NeuronModel::Input) {
            return Err(BuildError::Request(format!(
                "population '{}' is an input population",
                info.name
            )));
        }
        let t = self.step;
        self.fresh = false;
        for part in &mut self.parts {
            let lo = info.start.max(part.lo);
            let hi = (info.start + info.size).min(part.lo + part.len as u32);
            if lo >= hi {
                continue;
            }
            for g in lo..hi {
                part.i_runtime[(g - part.lo) as usize] = current[(g - info.start) as usize];
            }
            part.refresh_currents(t);
        }
        Ok(())
    }

    /// Restores the initial state (same initial values, empty buffers, step 0, recordings and
    /// injected inputs cleared). Connectivity and weights are kept.
    pub fn reset(&mut self) {
        let v0 = self.initial_v();
        for part in &mut self.parts {
            for seg in &mut part.segs {
                let model = &self.pops[seg.pop].model;
                let g0 = part.lo as usize + seg.off;
                seg.state = seg_state(model, self.dt_ms, v0[g0..g0 + seg.len].to_vec());
            }
            part.ring_ex.fill(0.0);
            part.ring_in.fill(0.0);
            part.lag = None;
            part.events = part.spec_events.clone();
            part.ev_cursor = 0;
            for p in &mut part.probes {
                p.values.clear();
            }
            part.i_runtime.fill(0.0);
            part.refresh_currents(0);
        }
        for r in &mut self.rates {
            r.clear();
        }
        self.step = 0;
        self.fresh = true;
    }

    /// The membrane value of every neuron of population `pop`, in the model's unit.
    pub fn membrane(&self, pop: usize) -> Vec<f32> {
        let mut out = Vec::new();
        for part in &self.parts {
            for seg in part.segs.iter().filter(|s| s.pop == pop) {
                match &seg.state {
                    SegState::LifExp { k, v, .. } => {
                        out.extend(v.iter().map(|x| (x + k.e_l) as f32))
                    }
                    SegState::LifDelta { k, v, .. } => {
                        out.extend(v.iter().map(|x| (x + k.e_l) as f32))
                    }
                    SegState::LifCondExp { v, .. } => out.extend(v.iter().map(|&x| x as f32)),
                    SegState::LifBeta { v, .. } => out.extend_from_slice(v),
                    SegState::Loihi { v, .. } => out.extend(v.iter().map(|&x| x as f32)),
                    SegState::Izhikevich { v, .. } => out.extend(v.iter().map(|&x| x as f32)),
                    SegState::Adex { v, .. } => out.extend(v.iter().map(|&x| x as f32)),
                    SegState::Input => out.extend(std::iter::repeat_n(0.0, seg.len)),
                }
            }
        }
        out
    }

    /// The adaptive threshold `theta` (mV, full `f64` precision) of every neuron of population
    /// `pop`, or `None` when its model has no `adaptive_threshold` block.
    pub fn theta(&self, pop: usize) -> Option<Vec<f64>> {
        let mut out = Vec::new();
        let mut any = false;
        for part in &self.parts {
            for seg in part.segs.iter().filter(|s| s.pop == pop) {
                match &seg.state {
                    SegState::LifExp { theta: Some(t), .. }
                    | SegState::LifCondExp { theta: Some(t), .. } => {
                        any = true;
                        out.extend_from_slice(&t.theta);
                    }
                    _ => return None,
                }
            }
        }
        any.then_some(out)
    }

    /// Sets the adaptive threshold `theta` (mV) of every neuron of population `pop` (e.g. to
    /// restore learned thresholds). Refused for a population without an `adaptive_threshold`
    /// block, a wrong length or a non-finite value. Kept until changed or [`reset`](Self::reset).
    pub fn set_theta(&mut self, pop: usize, theta_mv: &[f64]) -> Result<(), BuildError> {
        let info = self.theta_pop(pop)?;
        if theta_mv.len() != info.size as usize {
            return Err(BuildError::Request(format!(
                "{} theta values given for population '{}' of {} neurons",
                theta_mv.len(),
                info.name,
                info.size
            )));
        }
        if let Some(i) = theta_mv.iter().position(|t| !t.is_finite()) {
            return Err(BuildError::Request(format!(
                "theta of neuron {i} of population '{}' is not finite ({})",
                info.name, theta_mv[i]
            )));
        }
        self.fresh = false;
        for part in &mut self.parts {
            for seg in part.segs.iter_mut().filter(|s| s.pop == pop) {
                let g0 = part.lo as usize + seg.off - info.start as usize;
                let len = seg.len;
                if let Some(ts) = seg.theta_mut() {
                    ts.theta.copy_from_slice(&theta_mv[g0..g0 + len]);
                }
            }
        }
        Ok(())
    }

    /// Freezes (`true`) or releases (`false`) the adaptive threshold of population `pop`: while
    /// frozen, `theta` neither decays nor grows with spikes (the neurons keep their current
    /// thresholds), as in the test phase of Diehl & Cook. Survives [`reset`](Self::reset)
    /// only as the spec's coefficients: a reset releases it.
    pub fn freeze_theta(&mut self, pop: usize, frozen: bool) -> Result<(), BuildError> {
        self.theta_pop(pop)?;
        self.fresh = false;
        for part in &mut self.parts {
            for seg in part.segs.iter_mut().filter(|s| s.pop == pop) {
                if let Some(ts) = seg.theta_mut() {
                    ts.k = if frozen {
                        ts.spec_k.frozen()
                    } else {
                        ts.spec_k
                    };
                }
            }
        }
        Ok(())
    }

    fn theta_pop(&self, pop: usize) -> Result<PopulationInfo, BuildError> {
        let info = self
            .pops
            .get(pop)
            .ok_or_else(|| BuildError::Request(format!("no population {pop}")))?;
        if info.model.adaptive_threshold().is_none() {
            return Err(BuildError::Request(format!(
                "population '{}' has no adaptive threshold (add an `adaptive_threshold` block to its model)",
                info.name
            )));
        }
        Ok(info.clone())
    }

    /// Advances `steps` steps in closed form when nothing can happen in them, and returns
    /// whether it did; `false` leaves the network untouched (simulate those steps with
    /// [`run`](Self::run)). Used for rest periods, e.g. between the presentations of Diehl &
    /// Cook (`snn-learn`), where simulating every silent step would dominate the cost.
    ///
    /// It advances only when every population is `input` or `lif_cond_exp`, no synaptic input
    /// is pending in the ring buffers, no stimulus event, Poisson stimulus, current switch or
    /// weight snapshot falls inside the window, nothing is recorded per step (state traces,
    /// rates), the network runs in one process, and no neuron can fire: `V` relaxes
    /// monotonically toward `V_inf = (g_L E_L + I_e + I_ext) / g_L`, which with its starting
    /// value stays below `V_th` plus the lowest `theta` the window reaches, and the
    /// conductances left can move `V` by less than
    /// [`QUIET_TOLERANCE_MV`](crate::neuron::QUIET_TOLERANCE_MV) (1e-3 mV: their remaining
    /// charge times the largest driving force, over `C_m`). Then each neuron's `V` relaxes by the scheme's
    /// per-step factor raised to the number of its non-refractory steps, conductances and
    /// `theta` decay by theirs raised to `steps`, refractory counters count down, and the clock
    /// moves on. The result equals step-by-step simulation up to rounding and that bounded
    /// conductance term; plasticity traces, kept as (value, step), decay by the clock. The
    /// sink of the next `run` sees no call for the skipped steps.
    pub fn advance_quiet(&mut self, steps: u64) -> bool {
        if steps == 0 {
            return true;
        }
        let t0 = self.step;
        // Leave the clock far from overflow (later runs add to it).
        let Some(t1) = t0.checked_add(steps).filter(|&t| t < 1 << 62) else {
            return false;
        };
        let quiet_elsewhere = self.ranks == 1
            && self.trace_meta.is_empty()
            && self.rate_pops.is_empty()
            && !self
                .weight_recorders
                .iter()
                .any(|r| r.pending.iter().any(|&s| s > t0 && s < t1))
            && !self.switch_steps.iter().any(|&s| s > t0 && s < t1);
        if !quiet_elsewhere {
            return false;
        }
        for part in &self.parts {
            if !part.probes.is_empty()
                || part.ring_ex.iter().any(|&x| x != 0.0)
                || part.ring_in.iter().any(|&x| x != 0.0)
                || part.events[part.ev_cursor..].iter().any(|e| e.step < t1)
                || part
                    .poisson
                    .iter()
                    .any(|p| p.src.start < t1 && p.src.stop > t0 && p.src.lambda > 0.0)
            {
                return false;
            }
            for seg in &part.segs {
                match &seg.state {
                    SegState::Input => {}
                    SegState::LifCondExp {
                        k,
                        v,
                        g_ex,
                        g_in,
                        theta,
                        ..
                    } => {
                        let decay_n = theta.as_ref().map(|t| t.k.decay_over(steps));
                        for i in 0..seg.len {
                            let theta_lo = theta
                                .as_ref()
                                .zip(decay_n)
                                .map_or(0.0, |(t, d)| t.k.lowest(d, t.theta[i]));
                            let i_ext = part.i_ext[seg.off + i] as f64;
                            if !k.can_relax(v[i], g_ex[i], g_in[i], i_ext, theta_lo) {
                                return false;
                            }
                        }
                    }
                    _ => return false,
                }
            }
        }
        for part in &mut self.parts {
            for seg in &mut part.segs {
                if let SegState::LifCondExp {
                    k,
                    v,
                    g_ex,
                    g_in,
                    refr,
                    theta,
                    ..
                } = &mut seg.state
                {
                    let f = k.relax_factors(steps);
                    for i in 0..seg.len {
                        let i_ext = part.i_ext[seg.off + i] as f64;
                        k.relax(
                            &f,
                            &mut v[i],
                            &mut g_ex[i],
                            &mut g_in[i],
                            &mut refr[i],
                            i_ext,
                        );
                    }
                    if let Some(t) = theta {
                        let d = t.k.decay_over(steps);
                        for th in &mut t.theta {
                            *th = t.k.relax(d, *th);
                        }
                    }
                }
            }
            part.flags.fill(0);
        }
        self.fresh = false;
        self.step = t1;
        true
    }

    /// Takes the recordings made so far (traces and rates), leaving them empty.
    pub fn take_recordings(&mut self) -> Recordings {
        let mut traces: Vec<Trace> = self
            .trace_meta
            .iter()
            .map(|&(population, neuron, variable)| Trace {
                population,
                neuron,
                variable,
                values: Vec::new(),
            })
            .collect();
        for part in &mut self.parts {
            for p in &mut part.probes {
                traces[p.trace].values = std::mem::take(&mut p.values);
            }
        }
        let rates = self
            .rate_pops
            .iter()
            .zip(self.rates.iter_mut())
            .map(|(&p, r)| (p, std::mem::take(r)))
            .collect();
        Recordings { traces, rates }
    }

    /// Simulates `n_steps` steps, handing each step's recorded spikes to `sink`.
    pub fn run(&mut self, n_steps: u64, sink: &mut dyn SpikeSink) -> RunStats {
        self.run_with_progress(n_steps, sink, &mut |_| {})
    }

    /// As [`run`](Self::run), calling `progress(steps_done)` about every 1% of the run (from the
    /// coordinating thread) for progress bars.
    pub fn run_with_progress(
        &mut self,
        n_steps: u64,
        sink: &mut dyn SpikeSink,
        progress: &mut dyn FnMut(u64),
    ) -> RunStats {
        self.fresh = false;
        if self.weight_recorders.is_empty() {
            return self.run_segment(n_steps, sink, progress);
        }
        // Runs in segments that end at the requested snapshot steps.
        let end = self.step + n_steps;
        let start = self.step;
        let mut stats = RunStats::default();
        loop {
            self.snapshot_weights();
            if self.step >= end {
                break;
            }
            let stop = self.next_snapshot(end).unwrap_or(end).max(self.step + 1);
            let done = self.step - start;
            let s = self.run_segment(stop - self.step, sink, &mut |d| progress(done + d));
            stats.steps += s.steps;
            stats.spikes += s.spikes;
            stats.syn_events += s.syn_events;
        }
        stats
    }

    fn run_segment(
        &mut self,
        n_steps: u64,
        sink: &mut dyn SpikeSink,
        progress: &mut dyn FnMut(u64),
    ) -> RunStats {
        if self.parts.len() == 1 {
            self.run_single(n_steps, sink, progress)
        } else {
            self.run_parallel(n_steps, sink, progress)
        }
    }

    fn run_single(
        &mut self,
        n_steps: u64,
        sink: &mut dyn SpikeSink,
        progress: &mut dyn FnMut(u64),
    ) -> RunStats {
        let mut stats = RunStats::default();
        let every = (n_steps / 100).max(1);
        let mut spikes = std::mem::take(&mut self.all_spikes);
        let pairs = self.pairs_allowed();
        let mut i = 0;
        while i < n_steps {
            let t = self.step;
            // One step, or two in one pass over the neurons; then each step's recording and
            // delivery in order.
            let m = phase_steps(pairs, i, n_steps, t, &self.switch_steps);
            self.parts[0].update_phase(t, m, self.slots, &self.switch_steps);
            for second in 0..m {
                let tt = t + second;
                spikes.clear();
                let part = &self.parts[0];
                spikes.extend_from_slice(if second == 1 {
                    &part.spikes2
                } else {
                    &part.spikes
                });
                self.after_update(tt, &spikes, sink, &mut stats);
                deliver(
                    &mut self.parts[0],
                    0,
                    1,
                    &self.pops,
                    &self.projections,
                    &self.strict_rows,
                    &self.by_source,
                    &self.splits,
                    &spikes,
                    tt,
                    self.slots,
                );
                self.step += 1;
                stats.steps += 1;
                i += 1;
                if i % every == 0 {
                    progress(i);
                }
            }
            if m == 2 {
                self.paired_steps += 2;
            }
        }
        self.parts[0].take_lagging(self.slots);
        self.all_spikes = spikes;
        stats
    }

    /// Whether a run may advance two steps per pass ([`Partition::update_pair`]): partitions of
    /// `lif_exp` neurons with fixed thresholds, in one process, with nothing that looks at or
    /// changes the state between the two steps (no plasticity rule, no state recording; current
    /// switches are handled by the caller, Poisson and scheduled inputs by the pair).
    fn pairs_allowed(&self) -> bool {
        !self.pairs_off
            && self.ranks == 1
            && self.trace_meta.is_empty()
            && self.plastic.iter().all(Option::is_none)
            && self.parts.iter().all(Partition::can_pair)
    }

    /// Recording, statistics and plasticity for one step's gathered spikes (coordinator only).
    fn after_update(
        &mut self,
        t: Step,
        spikes: &[u32],
        sink: &mut dyn SpikeSink,
        stats: &mut RunStats,
    ) {
        stats.spikes += spikes.len() as u64;
        stats.syn_events += fan_out_events(&self.fan_out, spikes);
        debug_assert_eq!(
            fan_out_events(&self.fan_out, spikes),
            out_events(&self.pops, &self.projections, &self.by_source, spikes)
        );
        record_step(
            &self.pops,
            &mut self.rates,
            &self.rate_pops,
            &self.record_pop,
            &mut self.scratch,
            sink,
            t,
            spikes,
        );
        if self.plastic.iter().any(Option::is_some) {
            apply_plasticity(
                &self.pops,
                &mut self.projections,
                &mut self.plastic,
                &self.plastic_cols,
                &[],
                spikes,
                t,
            );
        }
    }

    fn run_parallel(
        &mut self,
        n_steps: u64,
        sink: &mut dyn SpikeSink,
        progress: &mut dyn FnMut(u64),
    ) -> RunStats {
        let k = self.parts.len();
        let start_step = self.step;
        let barrier = StepBarrier::new(k);
        // Rules that fork run in the threads owning their targets; the others on the coordinator.
        let forked = self.fork_plasticity();
        let has_plasticity = self
            .plastic
            .iter()
            .zip(&forked)
            .any(|(e, &f)| e.is_some() && !f);
        // Spike lists, four per partition: step t writes buffer t % 4. A phase (one step, or two
        // paired ones) writes the buffers of its steps while a slower thread may still deliver
        // the previous phase's (at most two steps back), so four never collide.
        let shared: Vec<[RwLock<Vec<u32>>; 4]> = (0..k)
            .map(|_| std::array::from_fn(|_| RwLock::new(Vec::new())))
            .collect();
        // Two steps per phase where every partition can pair (no plasticity, state probe,
        // stimulus writing the rings; `phase_len`), as in a one-thread run.
        let pairs = self.pairs_allowed();
        let switch_steps_all = &self.switch_steps;
        let phase_len = |i: u64| phase_steps(pairs, i, n_steps, start_step + i, switch_steps_all);
        // Factors of the post spikes of rules that split them, and every thread's weight copies.
        let factors: Vec<[RwLock<Vec<PostFactor>>; 2]> = (0..k)
            .map(|_| [RwLock::new(Vec::new()), RwLock::new(Vec::new())])
            .collect();
        let n_slots = self.parts.first().map_or(0, |p| p.plastic.len());
        let table: Vec<OnceLock<RawWeights>> = (0..n_slots * k).map(|_| OnceLock::new()).collect();
        let any_split = self
            .parts
            .first()
            .is_some_and(|p| p.plastic.iter().any(|tp| tp.split));
        let projections = RwLock::new(std::mem::take(&mut self.projections));
        let mut parts = std::mem::take(&mut self.parts);
        let start = self.step;
        let slots = self.slots;
        let every = (n_steps / 100).max(1);
        let mut stats = RunStats::default();
        {
            let pops = &self.pops;
            let by_source = &self.by_source;
            let strict_rows = &self.strict_rows;
            let splits = &self.splits;
            let switch_steps = &self.switch_steps;
            let cols: Vec<Option<&ColIndex>> =
                self.plastic_cols.iter().map(Option::as_ref).collect();
            let cols = &cols;
            let (first, rest) = parts.split_first_mut().expect("at least one partition");
            // Without a rule on the coordinator nothing writes the projections during the run:
            // each thread then holds one read guard for the whole run instead of taking the lock
            // several times per step.
            let hold =
                || (!has_plasticity).then(|| projections.read().unwrap_or_else(|e| e.into_inner()));
            macro_rules! prj {
                ($held:expr, $g:ident) => {
                    match &$held {
                        Some(h) => &h[..],
                        None => {
                            $g = projections.read().unwrap_or_else(|e| e.into_inner());
                            &$g[..]
                        }
                    }
                };
            }
            let ctx = PhaseCtx {
                k,
                pops,
                by_source,
                fan_out: &self.fan_out,
                strict_rows,
                splits,
                switch_steps,
                cols,
                shared: &shared,
                factors: &factors,
                table: &table,
                slots,
                any_split,
            };
            let ctx = &ctx;
            let worker = |pi: usize, part: &mut Partition| {
                copy_thread_weights(part, pi, k, &projections, &table);
                let held = hold();
                let mut i = 0;
                while i < n_steps {
                    let t = start + i;
                    let m = phase_len(i);
                    {
                        let g;
                        ctx.update(part, pi, prj!(held, g), t, m);
                    }
                    barrier.wait();
                    if has_plasticity {
                        barrier.wait(); // the coordinator applies plasticity in between
                    }
                    let g;
                    ctx.learn_and_deliver(part, pi, prj!(held, g), t, m);
                    i += m;
                }
                part.take_lagging(slots);
            };
            let gate = StartGate::default();
            let refused = std::thread::scope(|scope| {
                // Every worker waits at the gate until all have started: if the system refuses
                // one, the others return without running and the run continues on this thread.
                let mut refused = None;
                for (i, part) in rest.iter_mut().enumerate() {
                    let (w, gate) = (&worker, &gate);
                    let started = spawn_worker(scope, i + 1, move || {
                        if gate.wait() {
                            w(i + 1, part)
                        }
                    });
                    if let Err(e) = started {
                        refused = Some(e);
                        break;
                    }
                }
                gate.open(refused.is_none());
                if refused.is_some() {
                    return refused;
                }
                // The calling thread runs partition 0 and coordinates.
                let mut all = std::mem::take(&mut self.all_spikes);
                copy_thread_weights(first, 0, k, &projections, &table);
                let held = hold();
                let mut i = 0;
                while i < n_steps {
                    let t = start + i;
                    let m = phase_len(i);
                    {
                        let g;
                        ctx.update(first, 0, prj!(held, g), t, m);
                    }
                    barrier.wait();
                    {
                        let g;
                        let prj = prj!(held, g);
                        let mut rec = Recording {
                            rates: &mut self.rates,
                            rate_pops: &self.rate_pops,
                            record_pop: &self.record_pop,
                            scratch: &mut self.scratch,
                        };
                        ctx.gather_and_record(prj, t, m, &mut all, &mut stats, &mut rec, sink);
                    }
                    if has_plasticity {
                        let mut prj = projections.write().unwrap_or_else(|e| e.into_inner());
                        apply_plasticity(
                            pops,
                            &mut prj,
                            &mut self.plastic,
                            &self.plastic_cols,
                            &forked,
                            &all,
                            t,
                        );
                        drop(prj);
                        barrier.wait();
                    }
                    {
                        let g;
                        ctx.learn_and_deliver(first, 0, prj!(held, g), t, m);
                    }
                    phase_done(&mut stats, &mut self.paired_steps, i, m, every, progress);
                    i += m;
                }
                first.take_lagging(slots);
                self.all_spikes = all;
                None
            });
            if refused.is_some() {
                // The system would not start a worker thread (a limit on threads or memory):
                // this thread runs every partition in turn, each part of a phase in partition
                // order. Between two barriers the partitions touch disjoint data, so the order
                // does not change the result: the same spikes and weights as with the threads.
                self.threads_refused += 1;
                let mut all = std::mem::take(&mut self.all_spikes);
                let mut ps: Vec<&mut Partition> =
                    std::iter::once(first).chain(rest.iter_mut()).collect();
                for (pi, p) in ps.iter_mut().enumerate() {
                    copy_thread_weights(p, pi, k, &projections, &table);
                }
                let mut i = 0;
                while i < n_steps {
                    let t = start + i;
                    let m = phase_len(i);
                    {
                        let prj = projections.read().unwrap_or_else(|e| e.into_inner());
                        for (pi, p) in ps.iter_mut().enumerate() {
                            ctx.update(p, pi, &prj, t, m);
                        }
                        let mut rec = Recording {
                            rates: &mut self.rates,
                            rate_pops: &self.rate_pops,
                            record_pop: &self.record_pop,
                            scratch: &mut self.scratch,
                        };
                        ctx.gather_and_record(&prj, t, m, &mut all, &mut stats, &mut rec, sink);
                    }
                    if has_plasticity {
                        let mut prj = projections.write().unwrap_or_else(|e| e.into_inner());
                        apply_plasticity(
                            pops,
                            &mut prj,
                            &mut self.plastic,
                            &self.plastic_cols,
                            &forked,
                            &all,
                            t,
                        );
                    }
                    let prj = projections.read().unwrap_or_else(|e| e.into_inner());
                    for (pi, p) in ps.iter_mut().enumerate() {
                        ctx.learn_and_deliver(p, pi, &prj, t, m);
                    }
                    phase_done(&mut stats, &mut self.paired_steps, i, m, every, progress);
                    i += m;
                }
                for p in ps {
                    p.take_lagging(slots);
                }
                self.all_spikes = all;
            }
        }
        self.parts = parts;
        self.projections = projections.into_inner().unwrap_or_else(|e| e.into_inner());
        self.step = start + n_steps;
        self.join_plasticity();
        stats
    }

    /// Gives every thread a replica of each forkable rule and a copy of its projection's
    /// weights; returns, per projection, whether its rule was forked.
    fn fork_plasticity(&mut self) -> Vec<bool> {
        let k = self.parts.len();
        let mut forked = vec![false; self.plastic.len()];
        // Spares no rule of this run needs are released.
        let mut need: Vec<usize> = self
            .plastic
            .iter()
            .zip(&self.projections)
            .filter(|(r, _)| r.as_ref().is_some_and(|r| !r.splits_post()))
            .flat_map(|(_, p)| match &p.weights {
                Weights::PerSynapse(w) => vec![w.len(); k],
                Weights::Uniform(_) => Vec::new(),
            })
            .collect();
        need.sort_unstable();
        self.weight_spares.sort_unstable_by_key(Vec::capacity);
        let mut keep = Vec::new();
        for b in std::mem::take(&mut self.weight_spares) {
            if let Some(i) = need.iter().position(|&n| n <= b.capacity()) {
                need.remove(i);
                keep.push(b);
            }
        }
        self.weight_spares = keep;
        for (j, rule) in self.plastic.iter().enumerate() {
            let Some(rule) = rule else { continue };
            let replicas: Option<Vec<Box<dyn Plasticity>>> = (0..k).map(|_| rule.fork()).collect();
            let Some(replicas) = replicas else { continue };
            let n_source = self.projections[j].n_source();
            let Weights::PerSynapse(w) = &mut self.projections[j].weights else {
                continue; // set_plasticity materialised them
            };
            // Rules that split post spikes work on the projection's own weights, shared by the
            // threads (no copies). For the others the weights are copied by each thread at the
            // start of the run (in parallel), into a buffer of the previous run where one is
            // large enough.
            let n = w.len();
            let shared_w = RawWeights::of(w);
            let whole = self.cut_by_cost;
            for (part, r) in self.parts.iter_mut().zip(replicas) {
                let split = r.splits_post();
                let weights = match self.weight_spares.iter().position(|b| b.capacity() >= n) {
                    Some(i) if !split => self.weight_spares.swap_remove(i),
                    _ => Vec::new(),
                };
                part.plastic.push(ThreadPlastic {
                    proj: j,
                    rule: r,
                    weights,
                    raw: if split { shared_w } else { RawWeights::NONE },
                    split,
                    whole: split && whole,
                    spiked: if split && !whole {
                        vec![false; n_source]
                    } else {
                        Vec::new()
                    },
                    fired: Vec::new(),
                });
            }
            forked[j] = true;
        }
        forked
    }

    /// Gathers every thread's synapses of the forked rules back into the projections and joins
    /// the replicas into their rules, in thread order.
    fn join_plasticity(&mut self) {
        let k = self.parts.len();
        let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
        for pi in 0..k {
            let replicas = std::mem::take(&mut self.parts[pi].plastic);
            let (lo, hi) = (
                self.parts[pi].lo,
                self.parts[pi].lo + self.parts[pi].len as u32,
            );
            for mut tp in replicas {
                let j = tp.proj;
                let pr = &mut self.projections[j];
                let tpop = &self.pops[pr.target_pop];
                let Layout::Csr { row_ptr, .. } = &pr.layout else {
                    continue;
                };
                let split = &self.splits[j];
                ranges.clear();
                for r in 0..pr.n_source() {
                    let row0 = row_ptr[r];
                    let c = &split[r * (k + 1)..];
                    ranges.push(row0 + c[pi] as usize..row0 + c[pi + 1] as usize);
                }
                if tp.split {
                    // Updated in place (shared by the threads).
                } else if let Weights::PerSynapse(w) = &mut pr.weights {
                    if pi == 0 && tp.weights.len() == w.len() {
                        // Thread 0's copy is current for its synapses and unchanged (as at the
                        // start of the run) for the others, which the later threads copy in.
                        std::mem::swap(w, &mut tp.weights);
                    } else {
                        for rg in &ranges {
                            w[rg.clone()].copy_from_slice(&tp.weights[rg.clone()]);
                        }
                    }
                }
                let t_lo = lo.saturating_sub(tpop.start).min(tpop.size);
                let t_hi = hi.saturating_sub(tpop.start).min(tpop.size);
                let share = Share {
                    targets: t_lo..t_hi,
                    synapses: &ranges,
                };
                if let Some(rule) = &mut self.plastic[j] {
                    rule.join(tp.rule, &share);
                }
                if !tp.split {
                    self.weight_spares.push(tp.weights);
                }
            }
        }
    }
}

/// Fills a thread's copies of its forked projections' weights (left empty by `fork_plasticity`):
/// every thread copies its own at the start of a multi-threaded run, before its first barrier,
/// so the copies run in parallel and end before anything can write the projections.
/// Each thread publishes its copies' addresses in `table` (`slot * k + pi`) for the rules that
/// split post spikes.
fn copy_thread_weights(
    part: &mut Partition,
    pi: usize,
    k: usize,
    projections: &RwLock<Vec<Projection>>,
    table: &[OnceLock<RawWeights>],
) {
    if part.plastic.is_empty() {
        return;
    }
    let prj = projections.read().unwrap_or_else(|e| e.into_inner());
    for (slot, tp) in part.plastic.iter_mut().enumerate() {
        if !tp.split {
            if let Weights::PerSynapse(w) = &prj[tp.proj].weights {
                tp.weights.clear();
                tp.weights.extend_from_slice(w);
            }
            tp.raw = RawWeights::of(&mut tp.weights);
        }
        if let Some(cell) = table.get(slot * k + pi) {
            let _ = cell.set(tp.raw);
        }
    }
}

/// Publishes the factors of this thread's post spikes for the rules that split them (right after
/// the neuron update of step `t`, before the step's barrier).
fn publish_post_factors(
    part: &mut Partition,
    pops: &[PopulationInfo],
    prj: &[Projection],
    t: Step,
    out: &RwLock<Vec<PostFactor>>,
) {
    let mut out = out.write().unwrap_or_else(|e| e.into_inner());
    out.clear();
    let own = &part.spikes;
    for (slot, tp) in part.plastic.iter_mut().enumerate() {
        if !tp.split {
            continue;
        }
        let tpop = &pops[prj[tp.proj].target_pop];
        let lo = own.partition_point(|&g| g < tpop.start);
        let hi = own.partition_point(|&g| g < tpop.start + tpop.size);
        for &g in &own[lo..hi] {
            let post = g - tpop.start;
            let factor = tp.rule.post_factor(t, post);
            out.push(PostFactor {
                slot: slot as u32,
                post,
                factor,
            });
        }
    }
}

/// Plasticity of the forked rules in thread `pi` of `k` for step `t`: `on_pre` for every source
/// spike of the step (all partitions' lists in `shared`, in global order) with the part of its
/// row this thread owns, then `on_post` for this thread's own target spikes.
#[allow(clippy::too_many_arguments)]
fn thread_plasticity(
    part: &mut Partition,
    pi: usize,
    k: usize,
    pops: &[PopulationInfo],
    prj: &[Projection],
    cols: &[Option<&ColIndex>],
    splits: &[Vec<u32>],
    shared: &[[RwLock<Vec<u32>>; 4]],
    factors: &[[RwLock<Vec<PostFactor>>; 2]],
    table: &[OnceLock<RawWeights>],
    t: Step,
) {
    let buf = (t % 2) as usize;
    let sbuf = (t % 4) as usize;
    let own = &part.spikes;
    for (slot, tp) in part.plastic.iter_mut().enumerate() {
        let pr = &prj[tp.proj];
        let Some(c) = cols[tp.proj] else { continue };
        let Layout::Csr {
            row_ptr, targets, ..
        } = &pr.layout
        else {
            continue;
        };
        let (sp, tpop) = (&pops[pr.source_pop], &pops[pr.target_pop]);
        let split = &splits[tp.proj];
        for b in shared {
            let l = b[sbuf].read().unwrap_or_else(|e| e.into_inner());
            let lo = l.partition_point(|&g| g < sp.start);
            let hi = l.partition_point(|&g| g < sp.start + sp.size);
            for &g in &l[lo..hi] {
                let r = (g - sp.start) as usize;
                let row0 = row_ptr[r];
                let cut = &split[r * (k + 1)..];
                let (a, e) = (row0 + cut[pi] as usize, row0 + cut[pi + 1] as usize);
                // SAFETY: the synapses of this row onto this thread's targets: no other thread
                // reads or writes them in this step (others write only synapses of sources that
                // did not fire, and only through `SharedWeights`).
                let w = unsafe { tp.raw.seg_mut(a, e) };
                tp.rule.on_pre(t, g - sp.start, a, &targets[a..e], w);
                if tp.split && !tp.whole && !tp.spiked[r] {
                    tp.spiked[r] = true;
                    tp.fired.push(r as u32);
                }
            }
        }
        let lo = own.partition_point(|&g| g < tpop.start);
        let hi = own.partition_point(|&g| g < tpop.start + tpop.size);
        if !tp.split {
            for &g in &own[lo..hi] {
                let ci = (g - tpop.start) as usize;
                let (a, e) = (c.col_ptr[ci], c.col_ptr[ci + 1]);
                tp.rule.on_post(
                    t,
                    g - tpop.start,
                    &c.col_src[a..e],
                    &c.col_syn[a..e],
                    &mut tp.weights,
                );
            }
            continue;
        }
        // Split post spikes: every thread updates its share of each post spike's column (the
        // synapses whose source did not fire this step) in the owner's copy; the owner also
        // takes the synapses whose source fired (after its `on_pre` above, so pre-before-post
        // holds), then records its own spikes.
        let rule = &*tp.rule;
        let spiked = &tp.spiked;
        let fired = &tp.fired;
        let part_of = |w: &SharedWeights<'_>, f: f64, x0: usize, x1: usize| {
            rule.on_post_part(t, f, &c.col_src[x0..x1], &c.col_syn[x0..x1], w);
        };
        if tp.whole {
            // This thread's post spikes, whole columns: every synapse onto its own targets, which
            // no other thread reads or writes in this step; after its `on_pre` above, so
            // pre-before-post holds for sources that fired in the same step.
            let fl = factors[pi][buf].read().unwrap_or_else(|e| e.into_inner());
            // SAFETY: the writes of this view are to synapses onto this thread's targets only
            // (the columns of its own post spikes); other threads touch only synapses onto
            // theirs, and this thread's `on_pre` segments are no longer borrowed.
            let w = unsafe { tp.raw.shared() };
            for pf in fl.iter().filter(|p| p.slot as usize == slot) {
                let ci = pf.post as usize;
                part_of(&w, pf.factor, c.col_ptr[ci], c.col_ptr[ci + 1]);
            }
        } else {
            for (q, fl) in factors.iter().enumerate() {
                let fl = fl[buf].read().unwrap_or_else(|e| e.into_inner());
                let Some(raw) = table.get(slot * k + q).and_then(|c| c.get()) else {
                    continue;
                };
                // SAFETY: thread q's copy lives until the run ends; during this phase its elements
                // are written only through such views, each by one thread (shares are disjoint),
                // and the plain references of thread q (its `on_pre` rows, its deliveries) cover
                // only synapses of sources that fired, which no view writes.
                let w = unsafe { raw.shared() };
                for pf in fl.iter().filter(|p| p.slot as usize == slot) {
                    let ci = pf.post as usize;
                    let (a, e) = (c.col_ptr[ci], c.col_ptr[ci + 1]);
                    let n = e - a;
                    let (ca, ce) = (a + n * pi / k, a + n * (pi + 1) / k);
                    let mut run = ca;
                    for x in ca..ce {
                        if spiked[c.col_src[x] as usize] {
                            if run < x {
                                part_of(&w, pf.factor, run, x);
                            }
                            run = x + 1;
                        }
                    }
                    if run < ce {
                        part_of(&w, pf.factor, run, ce);
                    }
                    if q == pi {
                        // The synapses onto this post neuron from sources that fired: found in the
                        // sources' rows (each a few targets long here, and just walked by `on_pre`,
                        // so in cache) rather than by scanning the whole column again. Sources
                        // ascending, then synapses ascending: the column's order.
                        for &r in fired.iter() {
                            let row0 = row_ptr[r as usize];
                            let cut = &split[r as usize * (k + 1)..];
                            let (ra, re) = (row0 + cut[pi] as usize, row0 + cut[pi + 1] as usize);
                            let seg = &targets[ra..re];
                            let p0 = seg.partition_point(|&x| x < pf.post);
                            for (o, _) in
                                seg[p0..].iter().take_while(|&&x| x == pf.post).enumerate()
                            {
                                let syn = (ra + p0 + o) as u32;
                                rule.on_post_part(t, pf.factor, &[r], &[syn], &w);
                            }
                        }
                    }
                }
            }
        }
        for &g in &own[lo..hi] {
            tp.rule.on_post_end(t, g - tpop.start);
        }
        for &r in &tp.fired {
            tp.spiked[r as usize] = false;
        }
        tp.fired.clear();
    }
}

/// Records one step's gathered spikes: population rates, then the recorded populations' spikes to
/// the sink (filtered through `scratch` unless every population is recorded).
#[allow(clippy::too_many_arguments)]
fn record_step(
    pops: &[PopulationInfo],
    rates: &mut [Vec<u32>],
    rate_pops: &[usize],
    record_pop: &[bool],
    scratch: &mut Vec<u32>,
    sink: &mut dyn SpikeSink,
    t: Step,
    spikes: &[u32],
) {
    for (r, &p) in rates.iter_mut().zip(rate_pops) {
        let info = &pops[p];
        r.push(count_in(spikes, info.start, info.start + info.size));
    }
    record_own(pops, record_pop, scratch, sink, t, spikes);
}

/// Index of the population holding global neuron `g`.
fn pop_of(pops: &[PopulationInfo], g: u32) -> usize {
    pops.partition_point(|p| p.start + p.size <= g)
}

fn count_in(sorted: &[u32], lo: u32, hi: u32) -> u32 {
    (sorted.partition_point(|&g| g < hi) - sorted.partition_point(|&g| g < lo)) as u32
}

/// [`Network::fan_out`]: each neuron's synapses over all the projections leaving it (a conv
/// projection's from its kernel and the neuron's position), saturating at `u32::MAX`.
fn fan_out_table(pops: &[PopulationInfo], prj: &[Projection]) -> Vec<u32> {
    let n = pops.last().map_or(0, |p| (p.start + p.size) as usize);
    let mut f = vec![0u32; n];
    for pr in prj {
        let sp = &pops[pr.source_pop];
        for r in 0..sp.size {
            let c = match &pr.layout {
                Layout::Csr { row_ptr: rp, .. } => (rp[r as usize + 1] - rp[r as usize]) as u64,
                Layout::Conv(c) => c.fan_out(r),
            };
            let x = &mut f[(sp.start + r) as usize];
            *x = (*x as u64 + c).min(u32::MAX as u64) as u32;
        }
    }
    f
}

/// Synaptic events of a step's `spikes` (global ids): the sum of their fan-outs
/// ([`fan_out_table`]); the same as [`out_events`], which walks the projections.
fn fan_out_events(fan_out: &[u32], spikes: &[u32]) -> u64 {
    spikes.iter().map(|&g| fan_out[g as usize] as u64).sum()
}

fn out_events(
    pops: &[PopulationInfo],
    prj: &[Projection],
    by_source: &[Vec<usize>],
    spikes: &[u32],
) -> u64 {
    let mut n = 0u64;
    let mut rest = spikes;
    for (pi, p) in pops.iter().enumerate() {
        let end = rest.partition_point(|&g| g < p.start + p.size);
        let (mine, tail) = rest.split_at(end);
        rest = tail;
        for &j in &by_source[pi] {
            match &prj[j].layout {
                Layout::Csr { row_ptr: rp, .. } => {
                    for &g in mine {
                        let r = (g - p.start) as usize;
                        n += (rp[r + 1] - rp[r]) as u64;
                    }
                }
                Layout::Conv(c) => {
                    for &g in mine {
                        n += c.fan_out(g - p.start);
                    }
                }
            }
        }
    }
    n
}

/// Plasticity on the coordinating thread: every rule not in `forked` (true: it runs in the
/// threads), projection by projection, `on_pre` for the source spikes then `on_post` for the
/// target spikes.
fn apply_plasticity(
    pops: &[PopulationInfo],
    prj: &mut [Projection],
    plastic: &mut [Option<Box<dyn Plasticity>>],
    cols: &[Option<ColIndex>],
    forked: &[bool],
    spikes: &[u32],
    t: Step,
) {
    for (j, entry) in plastic.iter_mut().enumerate() {
        let (Some(rule), Some(c)) = (entry, &cols[j]) else {
            continue;
        };
        if forked.get(j).copied().unwrap_or(false) {
            continue;
        }
        let pr = &mut prj[j];
        let (sp, tp) = (&pops[pr.source_pop], &pops[pr.target_pop]);
        let (s_lo, s_hi) = (
            spikes.partition_point(|&g| g < sp.start),
            spikes.partition_point(|&g| g < sp.start + sp.size),
        );
        let (t_lo, t_hi) = (
            spikes.partition_point(|&g| g < tp.start),
            spikes.partition_point(|&g| g < tp.start + tp.size),
        );
        let Layout::Csr {
            row_ptr, targets, ..
        } = &pr.layout
        else {
            continue; // refused by `set_plasticity`
        };
        let Weights::PerSynapse(w) = &mut pr.weights else {
            continue;
        };
        for &g in &spikes[s_lo..s_hi] {
            let r = (g - sp.start) as usize;
            let (a, b) = (row_ptr[r], row_ptr[r + 1]);
            rule.on_pre(t, g - sp.start, a, &targets[a..b], &mut w[a..b]);
        }
        for &g in &spikes[t_lo..t_hi] {
            let ci = (g - tp.start) as usize;
            let (a, b) = (c.col_ptr[ci], c.col_ptr[ci + 1]);
            rule.on_post(t, g - tp.start, &c.col_src[a..b], &c.col_syn[a..b], w);
        }
    }
}

/// Delivers `spikes` (sorted global ids, one partition's share of the step) to the targets inside
/// partition `pi` of `k`.
#[allow(clippy::too_many_arguments)]
fn deliver(
    part: &mut Partition,
    pi: usize,
    k: usize,
    pops: &[PopulationInfo],
    prj: &[Projection],
    strict_rows: &[bool],
    by_source: &[Vec<usize>],
    splits: &[Vec<u32>],
    spikes: &[u32],
    t: Step,
    slots: usize,
) {
    if spikes.is_empty() {
        return;
    }
    let len = part.len;
    let part_hi = part.lo + len as u32;
    let mut rest = spikes;
    for (si, sp) in pops.iter().enumerate() {
        let end = rest.partition_point(|&g| g < sp.start + sp.size);
        let (mine, tail) = rest.split_at(end);
        rest = tail;
        if mine.is_empty() {
            continue;
        }
        for &j in &by_source[si] {
            let pr = &prj[j];
            let tp = &pops[pr.target_pop];
            if tp.start >= part_hi || tp.start + tp.size <= part.lo {
                continue;
            }
            // Partition offset of target local index l is l - shift (wrapping arithmetic keeps
            // it exact for every target inside the partition).
            let shift = part.lo.wrapping_sub(tp.start);
            let lif_exp_in =
                has_inhibitory_receptor(&tp.model) && pr.receptor == Receptor::Inhibitory;
            let (row_ptr, targets, packed) = match &pr.layout {
                Layout::Csr {
                    row_ptr,
                    targets,
                    packed,
                } => (row_ptr, targets, *packed),
                Layout::Conv(c) => {
                    // Local targets inside this partition: lo..hi.
                    let lo = part.lo.saturating_sub(tp.start);
                    let hi = (part_hi - tp.start).min(tp.size);
                    let Delays::Uniform(d) = pr.delays else {
                        continue; // conv projections are built with a uniform delay
                    };
                    let s = (t as usize + d as usize) % slots;
                    let ring = if lif_exp_in {
                        &mut part.ring_in
                    } else {
                        &mut part.ring_ex
                    };
                    let buf = &mut ring[s * len..(s + 1) * len];
                    for &g in mine {
                        c.scatter(g - sp.start, &pr.weights, lo, hi, shift, buf);
                    }
                    continue;
                }
            };
            let split = &splits[j];
            let now = t as usize % slots;
            // A forked plastic projection: this thread's copy of the weights.
            let own_w: Option<RawWeights> =
                part.plastic.iter().find(|tp| tp.proj == j).map(|tp| tp.raw);
            // This thread's part of source `g`'s row: all of it when the target population lies
            // inside this partition (no look-up of the row's cut, a cache miss per row).
            let whole = k == 1 || (tp.start >= part.lo && tp.start + tp.size <= part_hi);
            let seg = |g: u32| {
                let r = (g - sp.start) as usize;
                let row0 = row_ptr[r];
                if whole {
                    (row0, row_ptr[r + 1])
                } else {
                    let c = &split[r * (k + 1)..];
                    (row0 + c[pi] as usize, row0 + c[pi + 1] as usize)
                }
            };
            if mine.len() > 1 && targets.len() > PREFETCH_ROWS_ABOVE {
                // Rows are cache misses in a large projection: ask for the start of each first,
                // so that the misses of the different rows overlap.
                for &g in mine {
                    let (a, _) = seg(g);
                    prefetch_ptr(targets.as_ptr().wrapping_add(a));
                }
            }
            for &g in mine {
                let (a, b) = seg(g);
                let tg = &targets[a..b];
                if let Some(bits) = packed {
                    // Delay in the high bits of each word, target in the low ones; each event
                    // goes to the bucket of its (receptor, slot), applied below.
                    let mask = target_mask(bits);
                    let key0 = if lif_exp_in { slots } else { 0 };
                    let dest = |word: u32| {
                        let mut s = now + (word >> bits) as usize;
                        if s >= slots {
                            s -= slots;
                        }
                        (key0 + s, (word & mask).wrapping_sub(shift))
                    };
                    let bk = &mut part.buckets;
                    bk.ensure(slots);
                    let rings = (&mut part.ring_ex, &mut part.ring_in);
                    match &pr.weights {
                        Weights::Uniform(w) => {
                            for &word in tg {
                                let (key, off) = dest(word);
                                bk.push(key, off, *w, (&mut *rings.0, &mut *rings.1), len);
                            }
                        }
                        Weights::PerSynapse(ws) => {
                            for (&word, &w) in tg.iter().zip(&ws[a..b]) {
                                let (key, off) = dest(word);
                                bk.push(key, off, w, (&mut *rings.0, &mut *rings.1), len);
                            }
                        }
                    }
                    continue;
                }
                let ring = if lif_exp_in {
                    &mut part.ring_in
                } else {
                    &mut part.ring_ex
                };
                match (&pr.weights, &pr.delays) {
                    (Weights::Uniform(w), Delays::Uniform(d)) => {
                        let s = (t as usize + *d as usize) % slots;
                        let buf = &mut ring[s * len..(s + 1) * len];
                        let n = tg.len();
                        if n > 1 && strict_rows[j] && (tg[n - 1] - tg[0]) as usize == n - 1 {
                            let o = tg[0].wrapping_sub(shift) as usize;
                            for x in &mut buf[o..o + n] {
                                *x += *w;
                            }
                        } else {
                            for &l in tg {
                                buf[l.wrapping_sub(shift) as usize] += *w;
                            }
                        }
                    }
                    (Weights::PerSynapse(ws), Delays::Uniform(d)) => {
                        let ws: &[f32] = match own_w {
                            // SAFETY: this thread's synapses of a source that fired: no other
                            // thread writes them in this step (`thread_plasticity`).
                            Some(raw) => unsafe { raw.seg(a, b) },
                            None => &ws[a..b],
                        };
                        let s = (t as usize + *d as usize) % slots;
                        let buf = &mut ring[s * len..(s + 1) * len];
                        let n = tg.len();
                        if n > 1 && strict_rows[j] && (tg[n - 1] - tg[0]) as usize == n - 1 {
                            // A contiguous row (all-to-all and dense projections): a vector
                            // add, each cell receiving the same single addition as below.
                            let o = tg[0].wrapping_sub(shift) as usize;
                            for (x, &w) in buf[o..o + n].iter_mut().zip(ws) {
                                *x += w;
                            }
                        } else {
                            for (&l, &w) in tg.iter().zip(ws) {
                                buf[l.wrapping_sub(shift) as usize] += w;
                            }
                        }
                    }
                    (_, Delays::PerSynapse(ds)) => match own_w {
                        Some(raw) => {
                            // SAFETY: as above.
                            let ws = unsafe { raw.seg(a, b) };
                            for ((&l, &d), &w) in tg.iter().zip(&ds[a..b]).zip(ws) {
                                let s = (t as usize + d as usize) % slots;
                                ring[s * len + l.wrapping_sub(shift) as usize] += w;
                            }
                        }
                        None => {
                            for (i, (&l, &d)) in tg.iter().zip(&ds[a..b]).enumerate() {
                                let s = (t as usize + d as usize) % slots;
                                ring[s * len + l.wrapping_sub(shift) as usize] += pr.weight(a + i);
                            }
                        }
                    },
                }
            }
        }
    }
    let Partition {
        buckets,
        ring_ex,
        ring_in,
        ..
    } = part;
    buckets.apply_all(ring_ex, ring_in, len);
}

impl Partition {
    /// Recomputes the external current of every neuron: the run-time current, then each current
    /// stimulus active at step `t`, added in spec order.
    fn refresh_currents(&mut self, t: Step) {
        self.i_ext.copy_from_slice(&self.i_runtime);
        for c in &self.currents {
            let a = c.amplitude(t);
            if a != 0.0 {
                for &o in &c.offs {
                    self.i_ext[o as usize] += a;
                }
            }
        }
        self.no_i_ext = self.i_ext.iter().all(|&x| x == 0.0);
    }

    /// Stimuli, neuron updates and spike gathering for step `t` (ring slot `slot`).
    fn update(&mut self, t: Step, slot: usize, switch_steps: &[Step]) {
        let len = self.len;
        if t > 0 && switch_steps.binary_search(&t).is_ok() {
            self.refresh_currents(t);
        }
        self.fired.clear();
        self.apply_stimuli(t, slot);
        let base = slot * len;
        let (ring_ex, ring_in) = (
            &mut self.ring_ex[base..base + len],
            &mut self.ring_in[base..base + len],
        );
        for seg in &mut self.segs {
            let r = seg.off..seg.off + seg.len;
            let flags = &mut self.flags[r.clone()];
            let i_ext = &self.i_ext[r.clone()];
            // The `lif_exp` kernels skip an all-zero external current (same result).
            let i_ext_lif: &[f32] = if self.no_i_ext { &[] } else { i_ext };
            match &mut seg.state {
                SegState::LifExp {
                    k,
                    v,
                    i_ex,
                    i_in,
                    refr,
                    theta: Some(t),
                } => update_lif_exp_theta(
                    k,
                    &t.k,
                    v,
                    i_ex,
                    i_in,
                    refr,
                    &mut t.theta,
                    &mut ring_ex[r.clone()],
                    &mut ring_in[r],
                    i_ext_lif,
                    flags,
                ),
                SegState::LifExp {
                    k,
                    v,
                    i_ex,
                    i_in,
                    refr,
                    theta: None,
                } => update_lif_exp(
                    k,
                    v,
                    i_ex,
                    i_in,
                    refr,
                    &mut ring_ex[r.clone()],
                    &mut ring_in[r],
                    i_ext_lif,
                    flags,
                ),
                SegState::LifCondExp {
                    k,
                    v,
                    g_ex,
                    g_in,
                    refr,
                    theta,
                    quiet,
                } => {
                    let (kt, th) = match theta {
                        Some(t) => (Some(&t.k), &mut t.theta[..]),
                        None => (None, &mut [][..]),
                    };
                    step_lif_cond_exp(
                        t,
                        k,
                        kt,
                        v,
                        g_ex,
                        g_in,
                        refr,
                        th,
                        &mut ring_ex[r.clone()],
                        &mut ring_in[r],
                        i_ext,
                        flags,
                        quiet,
                    )
                }
                SegState::LifDelta { k, v, refr } => {
                    update_lif_delta(k, v, refr, &mut ring_ex[r.clone()], i_ext, flags);
                    ring_in[r].fill(0.0);
                }
                SegState::LifBeta { k, v } => {
                    update_lif_beta(k, v, &mut ring_ex[r.clone()], i_ext, flags);
                    ring_in[r].fill(0.0);
                }
                SegState::Loihi { k, u, v } => {
                    update_loihi(k, u, v, &mut ring_ex[r.clone()], i_ext, flags);
                    ring_in[r].fill(0.0);
                }
                SegState::Izhikevich { k, v, u } => {
                    update_izhikevich(k, v, u, &mut ring_ex[r.clone()], i_ext, flags);
                    ring_in[r].fill(0.0);
                }
                SegState::Adex {
                    k,
                    v,
                    w,
                    g_ex,
                    g_in,
                    refr,
                } => update_adex(
                    k,
                    v,
                    w,
                    g_ex,
                    g_in,
                    refr,
                    &mut ring_ex[r.clone()],
                    &mut ring_in[r],
                    i_ext,
                    flags,
                ),
                // Nothing writes an `input` neuron's ring cells (validation refuses projections
                // onto `input` populations, and stimuli on them fire the neurons), so they stay
                // 0 and are not cleared (Diehl & Cook's 784 inputs: 6 KB of stores a step).
                SegState::Input => {
                    debug_assert!(
                        ring_ex[r.clone()]
                            .iter()
                            .chain(&ring_in[r])
                            .all(|&x| x == 0.0),
                        "input ring cells stay 0"
                    );
                }
            }
        }
        self.gather();
        for p in &mut self.probes {
            let seg = &self.segs[p.seg];
            let i = p.idx;
            let x = match (&seg.state, p.var) {
                (SegState::LifExp { k, v, .. }, StateVar::V) => (v[i] + k.e_l) as f32,
                (SegState::LifExp { i_ex, .. }, StateVar::ISynEx) => i_ex[i] as f32,
                (SegState::LifExp { i_in, .. }, StateVar::ISynIn) => i_in[i] as f32,
                (SegState::LifDelta { k, v, .. }, StateVar::V) => (v[i] + k.e_l) as f32,
                (SegState::LifCondExp { v, .. }, StateVar::V) => v[i] as f32,
                (SegState::LifCondExp { g_ex, .. }, StateVar::GEx) => g_ex[i] as f32,
                (SegState::LifCondExp { g_in, .. }, StateVar::GIn) => g_in[i] as f32,
                (SegState::LifBeta { v, .. }, StateVar::V) => v[i],
                (SegState::Loihi { v, .. }, StateVar::V) => v[i] as f32,
                (SegState::Loihi { u, .. }, StateVar::U) => u[i] as f32,
                (SegState::Izhikevich { v, .. }, StateVar::V) => v[i] as f32,
                (SegState::Izhikevich { u, .. }, StateVar::U) => u[i] as f32,
                (SegState::Adex { v, .. }, StateVar::V) => v[i] as f32,
                (SegState::Adex { w, .. }, StateVar::U) => w[i] as f32,
                (
                    SegState::LifExp { theta: Some(t), .. }
                    | SegState::LifCondExp { theta: Some(t), .. },
                    StateVar::Theta,
                ) => t.theta[i] as f32,
                _ => f32::NAN,
            };
            p.values.push(x);
        }
    }

    /// Adds step `t`'s scheduled and Poisson inputs to ring slot `slot` (and lists the `input`
    /// neurons that fire in it in [`Partition::fired`]), as the first part of a step's update.
    fn apply_stimuli(&mut self, t: Step, slot: usize) {
        let len = self.len;
        let base = slot * len;
        // Scheduled events of this step (events before the current step are skipped).
        while self.ev_cursor < self.events.len() && self.events[self.ev_cursor].step <= t {
            let e = self.events[self.ev_cursor];
            self.ev_cursor += 1;
            if e.step < t {
                continue;
            }
            match e.kind {
                EventKind::Fire => self.fired.push(e.off),
                EventKind::Input { weight, inhibitory } => {
                    let r = if inhibitory && self.is_lif_exp(e.off as usize) {
                        &mut self.ring_in
                    } else {
                        &mut self.ring_ex
                    };
                    r[base + e.off as usize] += weight;
                }
            }
        }
        for p in &self.poisson {
            let src = &p.src;
            if !src.active(t) {
                continue;
            }
            if src.fire {
                // Decided in blocks without branches, then the (few) firing neurons collected.
                let mut fires = [0u8; 256];
                let mut off0 = p.off_lo;
                while off0 < p.off_hi {
                    let m = (p.off_hi - off0).min(fires.len());
                    let g0 = p.global0 + (off0 - p.off_lo) as u32;
                    src.fires_block(t, g0, &mut fires[..m]);
                    for (i, chunk) in fires[..m].chunks(8).enumerate() {
                        let mut bytes = [0u8; 8];
                        bytes[..chunk.len()].copy_from_slice(chunk);
                        let mut bits = u64::from_le_bytes(bytes);
                        while bits != 0 {
                            let k = bits.trailing_zeros() as usize / 8;
                            self.fired.push((off0 + i * 8 + k) as u32);
                            bits &= !(0xFFu64 << (8 * k));
                        }
                    }
                    off0 += m;
                }
                continue;
            }
            let r = if p.inhibitory {
                &mut self.ring_in
            } else {
                &mut self.ring_ex
            };
            // Counts in blocks (vectorised hashing and table look-up), then the inputs.
            let mut counts = [0u32; 256];
            let mut off0 = p.off_lo;
            while off0 < p.off_hi {
                let m = (p.off_hi - off0).min(counts.len());
                let g0 = p.global0 + (off0 - p.off_lo) as u32;
                p.table.counts(src.key, t, g0, &mut counts[..m]);
                for (i, &n) in counts[..m].iter().enumerate() {
                    if n > 0 {
                        r[base + off0 + i] += src.weight * n as f32;
                    }
                }
                off0 += m;
            }
        }
    }

    /// The step's spikes into `spikes` (sorted global ids): segment by segment, the `input`
    /// neurons that stimuli made fire ([`Partition::fired`], sorted, each once) and the other
    /// neurons by their flags ([`gather_append`]). Diehl & Cook's 784 inputs are about half of
    /// its flags, with a few spikes a step.
    fn gather(&mut self) {
        self.spikes.clear();
        if self.fired.len() > 1 {
            self.fired.sort_unstable();
            self.fired.dedup();
        }
        let mut f = 0;
        for seg in &self.segs {
            let (a, b) = (seg.off, seg.off + seg.len);
            if matches!(seg.state, SegState::Input) {
                while f < self.fired.len() && (self.fired[f] as usize) < b {
                    if self.fired[f] as usize >= a {
                        self.spikes.push(self.lo + self.fired[f]);
                    }
                    f += 1;
                }
            } else {
                gather_append(&self.flags[a..b], self.lo + a as u32, &mut self.spikes);
            }
        }
    }

    /// Whether [`update_pair`](Self::update_pair) can advance this partition: every neuron is
    /// `lif_exp` with a fixed threshold (so no stimulus makes a neuron fire: only `input`
    /// neurons do, listed in [`Partition::fired`]; Poisson and scheduled inputs go to the ring
    /// buffers, which pairing handles).
    fn can_pair(&self) -> bool {
        self.segs
            .iter()
            .all(|s| matches!(s.state, SegState::LifExp { theta: None, .. }))
    }

    /// Steps `t` and `t + 1` in one pass ([`crate::neuron::update_lif_exp_pair`]); only where
    /// [`can_pair`](Self::can_pair) and step `t + 1` switches no current. `spikes` and `spikes2`
    /// get the two steps' spikes; afterwards the currents lag by step `t + 1`'s arrivals (the
    /// spikes of step `t`, delivered after this), taken by the next pair or by
    /// [`take_lagging`](Self::take_lagging) before anything else looks at the state.
    fn update_pair(&mut self, t: Step, slots: usize, switch_steps: &[Step]) {
        let len = self.len;
        // The inputs of a step join its ring slot after the deliveries of the spikes before it,
        // as step by step: the lagging step's now (its spikes' deliveries came after the last
        // pass), then step t's.
        if let Some(l) = self.lag {
            self.apply_stimuli(l, (l % slots as u64) as usize);
        }
        self.apply_stimuli(t, (t % slots as u64) as usize);
        // Only `input` neurons fire from stimuli, and a paired partition has none.
        debug_assert!(
            self.fired.is_empty(),
            "no input neurons in a paired partition"
        );
        self.fired.clear();
        if t > 0 && switch_steps.binary_search(&t).is_ok() {
            self.refresh_currents(t);
        }
        let lead = self.lag.is_none();
        if lead {
            // Refractory counters at step t into last refractory steps.
            self.ref_until.resize(len, -1.0);
            for seg in &self.segs {
                if let SegState::LifExp { refr, .. } = &seg.state {
                    let out = &mut self.ref_until[seg.off..seg.off + seg.len];
                    for (u, &r) in out.iter_mut().zip(refr) {
                        *u = (t as f64 - 1.0) + r;
                    }
                }
            }
        }
        let sb = (t % slots as u64) as usize;
        // The lagging step is t - 1 (a different slot: there are at least two).
        let sa = self.lag.map_or(sb, |l| (l % slots as u64) as usize);
        let (ra_ex, rb_ex) = two_slots(&mut self.ring_ex, sa, sb, len, lead);
        let (ra_in, rb_in) = two_slots(&mut self.ring_in, sa, sb, len, lead);
        for seg in &mut self.segs {
            let r = seg.off..seg.off + seg.len;
            let i_ext: &[f32] = if self.no_i_ext {
                &[]
            } else {
                &self.i_ext[r.clone()]
            };
            let (ra_ex, ra_in): (&mut [f32], &mut [f32]) = if lead {
                (&mut [], &mut [])
            } else {
                (&mut ra_ex[r.clone()], &mut ra_in[r.clone()])
            };
            if let SegState::LifExp {
                k,
                v,
                i_ex,
                i_in,
                theta: None,
                ..
            } = &mut seg.state
            {
                update_lif_exp_pair(
                    k,
                    lead,
                    v,
                    i_ex,
                    i_in,
                    t as f64,
                    &self.ref_until[r.clone()],
                    ra_ex,
                    ra_in,
                    &mut rb_ex[r.clone()],
                    &mut rb_in[r.clone()],
                    i_ext,
                    &mut self.flags[r],
                );
            }
        }
        self.lag = Some(t + 1);
        // Every neuron that fired in either step, then split by step (bit 0: t, bit 1: t + 1).
        gather_spikes(&self.flags, self.lo, &mut self.spikes2);
        self.spikes.clear();
        let lo = self.lo;
        let flags = &self.flags;
        self.spikes.extend(
            self.spikes2
                .iter()
                .filter(|&&g| flags[(g - lo) as usize] & 1 != 0),
        );
        self.spikes2.retain(|&g| flags[(g - lo) as usize] & 2 != 0);
        // The neurons that fired start their refractory period (step t first: a neuron that
        // fired in both steps ends at step t + 1's).
        for (list, x) in [(&self.spikes, t as f64), (&self.spikes2, t as f64 + 1.0)] {
            for seg in &self.segs {
                let SegState::LifExp { k, .. } = &seg.state else {
                    continue;
                };
                let (a, b) = (lo + seg.off as u32, lo + (seg.off + seg.len) as u32);
                let from = list.partition_point(|&g| g < a);
                let to = list.partition_point(|&g| g < b);
                for &g in &list[from..to] {
                    self.ref_until[(g - lo) as usize] = x + k.ref_steps();
                }
            }
        }
    }

    /// One phase of a multi-threaded run: steps `t` and `t + 1` paired (`m = 2`), or step `t`
    /// alone (the currents first catch up if a pair came before).
    fn update_phase(&mut self, t: Step, m: u64, slots: usize, switch_steps: &[Step]) {
        if m == 2 {
            self.update_pair(t, slots, switch_steps);
        } else {
            self.take_lagging(slots);
            self.update(t, (t % slots as u64) as usize, switch_steps);
        }
    }

    /// Lets lagging `lif_exp` currents take the arrivals of the step they lag by (after a
    /// paired update and the delivery of its spikes), so the state is that of the step-by-step
    /// update again.
    fn take_lagging(&mut self, slots: usize) {
        let Some(l) = self.lag.take() else { return };
        self.apply_stimuli(l, (l % slots as u64) as usize);
        debug_assert!(
            self.fired.is_empty(),
            "no input neurons in a paired partition"
        );
        self.fired.clear();
        let len = self.len;
        let s = (l % slots as u64) as usize * len;
        for seg in &mut self.segs {
            let r = s + seg.off..s + seg.off + seg.len;
            if let SegState::LifExp {
                k,
                i_ex,
                i_in,
                refr,
                ..
            } = &mut seg.state
            {
                lif_exp_take_arrivals(
                    k,
                    i_ex,
                    i_in,
                    &mut self.ring_ex[r.clone()],
                    &mut self.ring_in[r],
                );
                // Back to the counters the next step (l + 1) loads: `ref_until - (l + 1) + 1`,
                // at least 0 (as the step-by-step kernel counts down, in the same bits).
                let until = &self.ref_until[seg.off..seg.off + seg.len];
                for (c, &u) in refr.iter_mut().zip(until) {
                    *c = (u - l as f64).max(0.0);
                }
            }
        }
    }

    fn is_lif_exp(&self, off: usize) -> bool {
        self.segs
            .iter()
            .find(|s| off >= s.off && off < s.off + s.len)
            .is_some_and(|s| {
                matches!(
                    s.state,
                    SegState::LifExp { .. } | SegState::LifCondExp { .. } | SegState::Adex { .. }
                )
            })
    }
}

/// Gathers the neurons whose `flags` are set, as global ids from `lo`, into `out` (cleared
/// first). Spikes are rare, so 512 silent flags are skipped at a time (one OR reduction, which
/// vectorises), then [`gather_block`] looks into the others.
fn gather_spikes(flags: &[u8], lo: u32, out: &mut Vec<u32>) {
    out.clear();
    gather_append(flags, lo, out);
}

/// [`gather_spikes`] without clearing `out` (appends).
fn gather_append(flags: &[u8], lo: u32, out: &mut Vec<u32>) {
    const SPAN: usize = 512;
    let mut spans = flags.chunks_exact(SPAN);
    let mut base = lo;
    for span in &mut spans {
        if span.chunks_exact(8).fold(0, |a, c| a | flag_word(c)) != 0 {
            gather_block(span, base, out);
        }
        base += SPAN as u32;
    }
    gather_block(spans.remainder(), base, out);
}

/// Eight flags as one word.
#[inline(always)]
fn flag_word(c: &[u8]) -> u64 {
    u64::from_le_bytes(c.try_into().expect("chunk of 8"))
}

/// [`gather_spikes`] for one block, appending: skips 64 silent flags at a time (one OR of
/// eight words), then takes the set bytes of each word by their trailing zeros.
fn gather_block(flags: &[u8], lo: u32, out: &mut Vec<u32>) {
    let mut blocks = flags.chunks_exact(64);
    let mut i0 = 0u32;
    for block in &mut blocks {
        if block.chunks_exact(8).fold(0, |a, c| a | flag_word(c)) != 0 {
            for (k, c) in block.chunks_exact(8).enumerate() {
                // Only the set bytes of the word, lowest first (no branch per flag).
                let mut w = flag_word(c);
                while w != 0 {
                    let j = (w.trailing_zeros() / 8) as usize;
                    out.push(lo + i0 + (8 * k + j) as u32);
                    w &= !(0xff_u64 << (8 * j));
                }
            }
        }
        i0 += 64;
    }
    for (j, &f) in blocks.remainder().iter().enumerate() {
        if f != 0 {
            out.push(lo + i0 + j as u32);
        }
    }
}

/// Synapses of a projection above which delivery prefetches the start of every spiking row
/// before walking them (8 MB of targets: beyond the caches of the reference machine, where each
/// row is a miss; CUBA 40,000 on 2 threads 0.057-0.068 -> 0.051-0.053 s for 500 ms. Below,
/// the rows are cached and the extra pass only costs: CUBA 4,000 about 3% slower with it).
const PREFETCH_ROWS_ABOVE: usize = 1 << 21;

/// Steps of the phase that starts at step `t`, `i` steps into a run of `n_steps`: two (paired,
/// [`Partition::update_pair`]) when `pairs` allows and step `t + 1` switches no current and is
/// still in the run, else one.
fn phase_steps(pairs: bool, i: u64, n_steps: u64, t: Step, switch_steps: &[Step]) -> u64 {
    if pairs && i + 1 < n_steps && switch_steps.binary_search(&(t + 1)).is_err() {
        2
    } else {
        1
    }
}

/// What the threads of a multi-threaded run share for the parts of a phase (one step, or two
/// paired ones): the network's layout and the run's spike, factor and weight-copy tables. The
/// threads call [`update`](Self::update), wait at the barrier, the coordinator calls
/// [`gather_and_record`](Self::gather_and_record), then every thread calls
/// [`learn_and_deliver`](Self::learn_and_deliver); a run whose worker threads were refused calls
/// the same parts for every partition in turn.
struct PhaseCtx<'a> {
    k: usize,
    pops: &'a [PopulationInfo],
    by_source: &'a [Vec<usize>],
    fan_out: &'a [u32],
    strict_rows: &'a [bool],
    splits: &'a [Vec<u32>],
    switch_steps: &'a [Step],
    cols: &'a [Option<&'a ColIndex>],
    shared: &'a [[RwLock<Vec<u32>>; 4]],
    factors: &'a [[RwLock<Vec<PostFactor>>; 2]],
    table: &'a [OnceLock<RawWeights>],
    slots: usize,
    any_split: bool,
}

/// The recording state a phase's spikes go to (the coordinator's).
struct Recording<'a> {
    rates: &'a mut [Vec<u32>],
    rate_pops: &'a [usize],
    record_pop: &'a [bool],
    scratch: &'a mut Vec<u32>,
}

impl PhaseCtx<'_> {
    /// Partition `pi`'s neuron update for the phase of `m` steps from `t`, then the factors of its
    /// post spikes (splitting rules) and its spikes, published for the other threads.
    fn update(&self, part: &mut Partition, pi: usize, prj: &[Projection], t: Step, m: u64) {
        part.update_phase(t, m, self.slots, self.switch_steps);
        if self.any_split {
            let out = &self.factors[pi][(t % 2) as usize];
            publish_post_factors(part, self.pops, prj, t, out);
        }
        publish_spikes(part, &self.shared[pi], t, m);
    }

    /// Every partition's spikes of the phase, step by step into `all` (global order), counted
    /// and recorded.
    #[allow(clippy::too_many_arguments)]
    fn gather_and_record(
        &self,
        prj: &[Projection],
        t: Step,
        m: u64,
        all: &mut Vec<u32>,
        stats: &mut RunStats,
        rec: &mut Recording<'_>,
        sink: &mut dyn SpikeSink,
    ) {
        for tt in t..t + m {
            all.clear();
            for b in self.shared {
                all.extend_from_slice(
                    &b[(tt % 4) as usize]
                        .read()
                        .unwrap_or_else(|e| e.into_inner()),
                );
            }
            stats.spikes += all.len() as u64;
            stats.syn_events += fan_out_events(self.fan_out, all);
            debug_assert_eq!(
                fan_out_events(self.fan_out, all),
                out_events(self.pops, prj, self.by_source, all)
            );
            record_step(
                self.pops,
                rec.rates,
                rec.rate_pops,
                rec.record_pop,
                rec.scratch,
                sink,
                tt,
                all,
            );
        }
    }

    /// Partition `pi`'s plasticity of the forked rules (one step: phases with plasticity are
    /// never paired), then the delivery of every partition's spikes of the phase onto its
    /// targets, step by step.
    fn learn_and_deliver(
        &self,
        part: &mut Partition,
        pi: usize,
        prj: &[Projection],
        t: Step,
        m: u64,
    ) {
        let k = self.k;
        if !part.plastic.is_empty() {
            thread_plasticity(
                part,
                pi,
                k,
                self.pops,
                prj,
                self.cols,
                self.splits,
                self.shared,
                self.factors,
                self.table,
                t,
            );
        }
        for tt in t..t + m {
            for b in self.shared {
                let l = b[(tt % 4) as usize]
                    .read()
                    .unwrap_or_else(|e| e.into_inner());
                deliver(
                    part,
                    pi,
                    k,
                    self.pops,
                    prj,
                    self.strict_rows,
                    self.by_source,
                    self.splits,
                    &l,
                    tt,
                    self.slots,
                );
            }
        }
    }
}

/// Counts a finished phase of `m` steps that began `i` steps into the run, and reports progress
/// at every `every`-th step, as step by step.
fn phase_done(
    stats: &mut RunStats,
    paired_steps: &mut u64,
    i: u64,
    m: u64,
    every: u64,
    progress: &mut dyn FnMut(u64),
) {
    stats.steps += m;
    if m == 2 {
        *paired_steps += 2;
    }
    for s in 1..=m {
        if (i + s).is_multiple_of(every) {
            progress(i + s);
        }
    }
}

/// Publishes a phase's spikes of one partition (`m` steps from `t`) in the buffers of their steps.
fn publish_spikes(part: &Partition, bufs: &[RwLock<Vec<u32>>; 4], t: Step, m: u64) {
    for s in 0..m {
        let mut buf = bufs[((t + s) % 4) as usize]
            .write()
            .unwrap_or_else(|e| e.into_inner());
        buf.clear();
        buf.extend_from_slice(if s == 0 { &part.spikes } else { &part.spikes2 });
    }
}

/// Ring slots `a` and `b` (`len` cells each) of `ring` as two slices; with `same`, slot `a` is
/// not needed (`a == b` allowed) and the first slice is empty.
fn two_slots(
    ring: &mut [f32],
    a: usize,
    b: usize,
    len: usize,
    same: bool,
) -> (&mut [f32], &mut [f32]) {
    if same || a == b {
        return (&mut [], &mut ring[b * len..(b + 1) * len]);
    }
    if a < b {
        let (x, y) = ring.split_at_mut(b * len);
        (&mut x[a * len..(a + 1) * len], &mut y[..len])
    } else {
        let (x, y) = ring.split_at_mut(a * len);
        (&mut y[..len], &mut x[b * len..(b + 1) * len])
    }
}

/// Whether a model has a separate inhibitory receptor (its inhibitory inputs go to the second
/// ring buffer); the other models sum every input into one.
fn has_inhibitory_receptor(model: &NeuronModel) -> bool {
    matches!(
        model,
        NeuronModel::LifExp(_) | NeuronModel::LifCondExp(_) | NeuronModel::Adex(_)
    )
}

/// Convenience: builds the spec's network on `threads` threads, runs `n_steps` and returns the
/// raster of recorded spikes, the recordings and the statistics.
pub fn simulate(
    spec: &NetworkSpec,
    n_steps: u64,
    threads: usize,
) -> Result<(SpikeRaster, Recordings, RunStats), BuildError> {
    let mut net = Network::build_with_threads(spec, threads)?;
    let mut raster = SpikeRaster::new(0);
    let stats = net.run(n_steps, &mut raster);
    Ok((raster, net.take_recordings(), stats))
}

/// Longest epoch (steps between two spike exchanges) of a distributed run without synapses.
pub const MAX_EPOCH_STEPS: u64 = 1000;

/// What one rank measured in [`Network::run_distributed`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RankRunStats {
    /// Steps simulated, this rank's spikes (of the neurons it owns) and its synaptic events
    /// (spikes of the whole network times their synapses onto this rank's neurons): summed over
    /// ranks they are the single process's [`RunStats`].
    pub run: RunStats,
    /// Epochs (spike exchanges).
    pub epochs: u64,
    /// Steps per epoch: the shortest delay of the network, in steps.
    pub epoch_steps: u64,
    /// Wall time of the whole run (s).
    pub run_s: f64,
    /// Wall time inside the exchange (s), including waiting for slower ranks.
    pub exchange_s: f64,
    /// Bytes this rank contributed to the exchanges.
    pub bytes_sent: u64,
    /// Bytes this rank received from the exchanges (every rank's contribution, its own included).
    pub bytes_received: u64,
}

/// One partition's spikes of the current epoch and how many fell in each step.
#[derive(Default)]
struct EpochSpikes {
    spikes: Vec<u32>,
    per_step: Vec<u32>,
}

/// The whole network's spikes of the current epoch, step-major, and where each step starts.
#[derive(Default)]
struct GlobalEpoch {
    spikes: Vec<u32>,
    step_off: Vec<usize>,
}

impl Network {
    /// Validates the spec and builds rank `rank`'s share of a network distributed over `ranks`
    /// ranks ([`crate::distributed`]): the neurons of block
    /// [`rank_range`](crate::distributed::rank_range) split over `threads` threads, and the
    /// synapses that target them, from the same seeded streams as a single process. Refused when
    /// the ranks outnumber the neurons, and when this rank's planned memory
    /// ([`plan_ranks`](crate::distributed::plan_ranks)) exceeds `budget`.
    pub fn build_rank(
        spec: &NetworkSpec,
        threads: usize,
        rank: usize,
        ranks: usize,
        budget: &MemoryBudget,
    ) -> Result<Self, BuildError> {
        spec.validate()?;
        let plan = crate::distributed::plan_ranks(spec, ranks, threads, 0.0)?;
        let Some(mine) = plan.ranks.get(rank) else {
            return Err(BuildError::Request(format!(
                "rank {rank} does not exist in a run of {ranks} ranks"
            )));
        };
        mine.check(budget)?;
        let owned = crate::distributed::rank_range(plan.neurons, ranks, rank);
        let mut net = Self::assemble(spec, owned, rank, ranks)?;
        net.partition(threads.max(1));
        Ok(net)
    }

    /// The global neurons this network simulates: all of them in a single process, this rank's
    /// block in a distributed run.
    pub fn owned_neurons(&self) -> std::ops::Range<u32> {
        self.owned.clone()
    }

    /// Synapses onto the neurons this network owns: [`n_synapses`](Self::n_synapses) in a single
    /// process; for one rank of a distributed run, its share (a conv or pool projection, stored
    /// whole on every rank, counts only its pairs onto the rank's neurons).
    pub fn owned_synapses(&self) -> u64 {
        if self.ranks == 1 {
            return self.n_synapses();
        }
        let mut n = 0u64;
        for pr in &self.projections {
            match &pr.layout {
                Layout::Csr { targets, .. } => n += targets.len() as u64,
                Layout::Conv(c) => {
                    let tstart = self.pops[pr.target_pop].start;
                    for s in 0..pr.n_source() as u32 {
                        c.for_each_target(s, |t, _| {
                            n += self.owned.contains(&(tstart + t)) as u64;
                        });
                    }
                }
            }
        }
        n
    }

    /// `(rank, ranks)` this network was built for (`(0, 1)` in a single process).
    pub fn rank(&self) -> (usize, usize) {
        (self.rank, self.ranks)
    }

    /// Simulates `n_steps` steps as one rank of a distributed run: the ranks advance in epochs
    /// of the network's shortest delay (in steps), each updating its own neurons for a whole
    /// epoch, then exchange the epoch's spikes with one all-gather of `comm` and deliver every
    /// spike of the network to their own targets, step by step. `sink` receives this rank's own
    /// spikes (sorted, once per step); rates count the whole network. Spikes are bit-identical
    /// to [`run`](Self::run) in a single process for any rank and thread count: every target
    /// receives its inputs in the same order. Plasticity is refused (it needs the per-step loop
    /// of [`run`](Self::run)); a failed exchange stops every thread of this rank and is returned.
    pub fn run_distributed(
        &mut self,
        n_steps: u64,
        sink: &mut dyn SpikeSink,
        comm: &mut dyn Communicator,
        progress: &mut dyn FnMut(u64),
    ) -> Result<RankRunStats, CommError> {
        if comm.size() != self.ranks || comm.rank() != self.rank {
            return Err(CommError::Unsupported(format!(
                "the network was built for rank {} of {}, the communicator is rank {} of {}",
                self.rank,
                self.ranks,
                comm.rank(),
                comm.size()
            )));
        }
        if self.plastic.iter().any(Option::is_some) {
            return Err(CommError::Unsupported(
                "plasticity is not supported in a distributed run".into(),
            ));
        }
        if !self.weight_recorders.is_empty() {
            return Err(CommError::Unsupported(
                "weight snapshots (record_weights) are not supported in a distributed run".into(),
            ));
        }
        let local_min = self
            .projections
            .iter()
            .filter_map(Projection::min_delay_steps)
            .min()
            .map_or(u64::MAX, u64::from);
        let d = comm.min_u64(local_min)?;
        if d == 0 {
            return Err(CommError::Unsupported(
                "a delay is shorter than one step (dt): ranks cannot exchange spikes in epochs"
                    .into(),
            ));
        }
        let epoch = d.min(MAX_EPOCH_STEPS);
        // The partitions now hold simulated state: a later `set_plasticity` must not re-cut them.
        self.fresh = false;
        let t_run = std::time::Instant::now();
        let k = self.parts.len();
        let ranks = comm.size();
        let barrier = StepBarrier::new(k);
        let stop = std::sync::atomic::AtomicBool::new(false);
        let ep: Vec<std::sync::Mutex<EpochSpikes>> = (0..k)
            .map(|_| std::sync::Mutex::new(EpochSpikes::default()))
            .collect();
        let global = RwLock::new(GlobalEpoch::default());
        let mut parts = std::mem::take(&mut self.parts);
        let start = self.step;
        let end = start + n_steps;
        let slots = self.slots;
        let every = (n_steps / 100).max(1);
        let mut stats = RankRunStats {
            epoch_steps: epoch,
            ..RankRunStats::default()
        };
        let mut failure: Option<CommError> = None;
        let mut done_steps = 0u64;
        {
            let pops = &self.pops;
            let prj = &self.projections;
            let by_source = &self.by_source;
            let strict_rows = &self.strict_rows;
            let splits = &self.splits;
            let switch_steps = &self.switch_steps;
            let (first, rest) = parts.split_first_mut().expect("at least one partition");
            // One epoch of updates of one partition, its spikes kept per step.
            let update_epoch = |pi: usize, part: &mut Partition, t0: Step, m: u64| {
                let mut b = ep[pi].lock().unwrap_or_else(|e| e.into_inner());
                let b = &mut *b;
                b.spikes.clear();
                b.per_step.clear();
                for t in t0..t0 + m {
                    part.update(t, (t % slots as u64) as usize, switch_steps);
                    b.spikes.extend_from_slice(&part.spikes);
                    b.per_step.push(part.spikes.len() as u32);
                }
            };
            let deliver_epoch = |pi: usize, part: &mut Partition, t0: Step, m: u64| {
                let g = global.read().unwrap_or_else(|e| e.into_inner());
                for i in 0..m as usize {
                    let spikes = &g.spikes[g.step_off[i]..g.step_off[i + 1]];
                    deliver(
                        part,
                        pi,
                        k,
                        pops,
                        prj,
                        strict_rows,
                        by_source,
                        splits,
                        spikes,
                        t0 + i as u64,
                        slots,
                    );
                }
            };
            let worker = |pi: usize, part: &mut Partition| {
                let mut t = start;
                while t < end {
                    let m = epoch.min(end - t);
                    update_epoch(pi, part, t, m);
                    barrier.wait(); // the coordinator exchanges
                    barrier.wait();
                    if stop.load(std::sync::atomic::Ordering::Acquire) {
                        break;
                    }
                    deliver_epoch(pi, part, t, m);
                    t += m;
                }
            };
            let gate = StartGate::default();
            std::thread::scope(|scope| {
                // As in `run_parallel`: workers start only once all have been started.
                for (i, part) in rest.iter_mut().enumerate() {
                    let (w, gate) = (&worker, &gate);
                    let started = spawn_worker(scope, i + 1, move || {
                        if gate.wait() {
                            w(i + 1, part)
                        }
                    });
                    if let Err(e) = started {
                        failure = Some(CommError::Failed(format!(
                            "rank {}: the system refused to start engine thread {} of {k} ({e}); run with fewer threads per rank",
                            self.rank,
                            i + 1
                        )));
                        break;
                    }
                }
                gate.open(failure.is_none());
                if failure.is_some() {
                    return;
                }
                let mut send: Vec<u32> = Vec::new();
                let mut recv: Vec<u32> = Vec::new();
                let mut counts: Vec<usize> = Vec::with_capacity(ranks);
                let mut cursor = vec![0usize; k];
                let mut at: Vec<[usize; 3]> = Vec::with_capacity(ranks);
                let mut t = start;
                while t < end {
                    let m = epoch.min(end - t);
                    update_epoch(0, first, t, m);
                    barrier.wait();
                    // This rank's spikes, step-major: a header of m counts, then the spikes.
                    send.clear();
                    send.resize(m as usize, 0);
                    cursor.fill(0);
                    for i in 0..m as usize {
                        let before = send.len();
                        for (pi, c) in ep.iter().zip(cursor.iter_mut()) {
                            let b = pi.lock().unwrap_or_else(|e| e.into_inner());
                            let n = b.per_step[i] as usize;
                            send.extend_from_slice(&b.spikes[*c..*c + n]);
                            *c += n;
                        }
                        let mine = &send[before..];
                        stats.run.spikes += mine.len() as u64;
                        let n_mine = mine.len() as u32;
                        record_own(
                            pops,
                            &self.record_pop,
                            &mut self.scratch,
                            sink,
                            t + i as u64,
                            &send[before..],
                        );
                        send[i] = n_mine;
                    }
                    let tx = std::time::Instant::now();
                    let ok = comm.all_gather_u32(&send, &mut recv, &mut counts);
                    stats.exchange_s += tx.elapsed().as_secs_f64();
                    stats.epochs += 1;
                    stats.bytes_sent += send.len() as u64 * 4;
                    stats.bytes_received += recv.len() as u64 * 4;
                    let ok = ok.and_then(|()| {
                        let mut g = global.write().unwrap_or_else(|e| e.into_inner());
                        assemble_epoch(&recv, &counts, m as usize, &mut at, &mut g)
                    });
                    if let Err(e) = ok {
                        failure = Some(e);
                        stop.store(true, std::sync::atomic::Ordering::Release);
                        barrier.wait();
                        break;
                    }
                    {
                        let g = global.read().unwrap_or_else(|e| e.into_inner());
                        for i in 0..m as usize {
                            let all = &g.spikes[g.step_off[i]..g.step_off[i + 1]];
                            stats.run.syn_events += if ranks == 1 {
                                out_events(pops, prj, by_source, all)
                            } else {
                                owned_events(pops, prj, by_source, all, &self.owned)
                            };
                            for (r, &p) in self.rates.iter_mut().zip(&self.rate_pops) {
                                let info = &pops[p];
                                r.push(count_in(all, info.start, info.start + info.size));
                            }
                        }
                    }
                    barrier.wait();
                    deliver_epoch(0, first, t, m);
                    let before = (t - start) / every;
                    t += m;
                    done_steps = t - start;
                    if done_steps / every != before {
                        progress(done_steps);
                    }
                }
            });
        }
        self.parts = parts;
        self.step = start + done_steps;
        stats.run.steps = done_steps;
        stats.run_s = t_run.elapsed().as_secs_f64();
        match failure {
            Some(e) => Err(e),
            None => Ok(stats),
        }
    }
}

/// As [`out_events`], counting only the synapses onto the `owned` neurons: a rank's CSR rows
/// hold only those already, a conv projection's kernel reaches every target and is clipped here.
fn owned_events(
    pops: &[PopulationInfo],
    prj: &[Projection],
    by_source: &[Vec<usize>],
    spikes: &[u32],
    owned: &std::ops::Range<u32>,
) -> u64 {
    let mut n = 0u64;
    let mut rest = spikes;
    for (pi, p) in pops.iter().enumerate() {
        let end = rest.partition_point(|&g| g < p.start + p.size);
        let (mine, tail) = rest.split_at(end);
        rest = tail;
        for &j in &by_source[pi] {
            let pr = &prj[j];
            match &pr.layout {
                Layout::Csr { row_ptr: rp, .. } => {
                    for &g in mine {
                        let r = (g - p.start) as usize;
                        n += (rp[r + 1] - rp[r]) as u64;
                    }
                }
                Layout::Conv(c) => {
                    let tstart = pops[pr.target_pop].start;
                    for &g in mine {
                        c.for_each_target(g - p.start, |t, _| {
                            n += owned.contains(&(tstart + t)) as u64;
                        });
                    }
                }
            }
        }
    }
    n
}

/// Hands this rank's own spikes of step `t` to the sink (only the recorded populations).
fn record_own(
    pops: &[PopulationInfo],
    record_pop: &[bool],
    scratch: &mut Vec<u32>,
    sink: &mut dyn SpikeSink,
    t: Step,
    spikes: &[u32],
) {
    if record_pop.iter().all(|&b| b) {
        sink.on_step(t, spikes);
    } else {
        scratch.clear();
        scratch.extend(
            spikes
                .iter()
                .copied()
                .filter(|&g| record_pop[pop_of(pops, g)]),
        );
        sink.on_step(t, scratch);
    }
}

/// Rebuilds the network's spikes of an `m`-step epoch, step-major, from the all-gathered buffers
/// (each rank's: `m` counts, then its spikes step by step). Ranks own ascending blocks of
/// neurons, so concatenating their spikes in rank order keeps each step sorted.
fn assemble_epoch(
    recv: &[u32],
    counts: &[usize],
    m: usize,
    at: &mut Vec<[usize; 3]>,
    g: &mut GlobalEpoch,
) -> Result<(), CommError> {
    let bad = |r: usize| CommError::Failed(format!("malformed spike buffer from rank {r}"));
    // Per rank: where its header starts, where its next spike is, where its buffer ends.
    at.clear();
    let mut base = 0usize;
    for (r, &c) in counts.iter().enumerate() {
        if c < m || base + c > recv.len() {
            return Err(bad(r));
        }
        at.push([base, base + m, base + c]);
        base += c;
    }
    g.spikes.clear();
    g.step_off.clear();
    g.step_off.push(0);
    for i in 0..m {
        for (r, a) in at.iter_mut().enumerate() {
            let n = recv[a[0] + i] as usize;
            if a[1] + n > a[2] {
                return Err(bad(r));
            }
            g.spikes.extend_from_slice(&recv[a[1]..a[1] + n]);
            a[1] += n;
        }
        g.step_off.push(g.spikes.len());
    }
    Ok(())
}

/// Whether no row of `p` holds a target twice (conv projections: vacuously true, unused).
fn rows_are_strict(p: &Projection) -> bool {
    match &p.layout {
        Layout::Csr {
            row_ptr, targets, ..
        } => row_ptr
            .windows(2)
            .all(|r| targets[r[0]..r[1]].windows(2).all(|w| w[0] < w[1])),
        Layout::Conv(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snn_types::{Spike, SpikeRaster};

    /// A rule for the thread-refusal test whose updates do not commute: a pre spike halves its
    /// row's weights and adds 1 plus a quarter of each target's spike count; post spikes are
    /// split between threads (each share doubles its weights and subtracts a term of the
    /// target's count).
    #[derive(Clone)]
    struct Halve {
        post_count: Vec<u32>,
    }

    impl Plasticity for Halve {
        fn on_pre(&mut self, _: u64, _: u32, _: usize, targets: &[u32], weights: &mut [f32]) {
            for (w, &j) in weights.iter_mut().zip(targets) {
                *w = *w * 0.5 + 1.0 + 0.25 * self.post_count[j as usize] as f32;
            }
        }

        fn on_post(&mut self, step: u64, post: u32, src: &[u32], syn: &[u32], w: &mut [f32]) {
            let f = self.post_factor(step, post);
            self.on_post_part(step, f, src, syn, &SharedWeights::new(w));
            self.on_post_end(step, post);
        }

        fn fork(&self) -> Option<Box<dyn Plasticity>> {
            Some(Box::new(self.clone()))
        }

        fn join(&mut self, replica: Box<dyn Plasticity>, share: &crate::Share<'_>) {
            if let Some(r) = crate::plasticity::downcast_replica::<Self>(replica) {
                let t = share.targets.start as usize..share.targets.end as usize;
                self.post_count[t.clone()].copy_from_slice(&r.post_count[t]);
            }
        }

        fn splits_post(&self) -> bool {
            true
        }

        fn post_factor(&mut self, _: u64, post: u32) -> f64 {
            self.post_count[post as usize] as f64 + 1.0
        }

        fn on_post_part(&self, _: u64, f: f64, _: &[u32], syn: &[u32], w: &SharedWeights<'_>) {
            for &s in syn {
                if let Some(x) = w.get(s as usize) {
                    w.set(
                        s as usize,
                        ((x as f64 * 2.0 - 0.5 * f).clamp(-1e6, 1e6)) as f32,
                    );
                }
            }
        }

        fn on_post_end(&mut self, _: u64, post: u32) {
            self.post_count[post as usize] += 1;
        }
    }

    /// The cut by cost gives `k` consecutive non-empty ranges covering every neuron, each
    /// within one neuron's cost of an equal share; heavy neurons get fewer per range.
    #[test]
    fn cuts_by_cost_are_balanced_and_cover_every_neuron() {
        let check = |costs: &[f64], k: usize, first: usize| {
            let b = cut_by_cost(costs, k, first);
            assert_eq!(b.len(), k + 1);
            assert_eq!((b[0], b[k]), (first, first + costs.len()));
            assert!(b.windows(2).all(|w| w[0] < w[1]), "non-empty ranges: {b:?}");
            let total: f64 = costs.iter().sum();
            let max = costs.iter().cloned().fold(0.0, f64::max);
            for w in b.windows(2) {
                let sum: f64 = costs[w[0] - first..w[1] - first].iter().sum();
                assert!(
                    (sum - total / k as f64).abs() <= max + 1e-9 || costs.len() < 2 * k,
                    "{b:?}: range sum {sum} of {total} over {k}"
                );
            }
            b
        };
        assert_eq!(check(&[1.0; 10], 2, 0), vec![0, 5, 10]);
        assert_eq!(check(&[1.0; 10], 10, 3), (3..=13).collect::<Vec<_>>());
        // The first 8 neurons cost 3 times the last 8: the first range holds fewer.
        let mut costs = vec![3.0; 8];
        costs.extend([1.0; 8]);
        assert_eq!(check(&costs, 2, 0), vec![0, 6, 16]);
        // One very heavy neuron still leaves every range a neuron.
        let mut costs = vec![1.0; 5];
        costs[0] = 1000.0;
        assert_eq!(check(&costs, 3, 0), vec![0, 1, 2, 5]);
        for k in 1..=7 {
            let costs: Vec<f64> = (0..37).map(|i| 1.0 + (i * 7 % 5) as f64).collect();
            check(&costs, k, 11);
        }
    }

    /// Attaching a rule to a fresh network cuts the threads by estimated work (the plastic
    /// targets, here the first 80% of CUBA's neurons, get fewer per thread); a network that has
    /// run, been given inputs or thresholds keeps its cut; a reset makes it fresh again.
    #[test]
    fn plasticity_on_a_fresh_network_balances_the_threads() {
        let spec = crate::models::cuba(1000, 2);
        let attach = |net: &mut Network| {
            let n = net.projections()[0].n_target();
            net.set_plasticity(
                0,
                Box::new(Halve {
                    post_count: vec![0; n],
                }),
            )
            .unwrap();
        };
        let equal = vec![0..500, 500..1000];
        let mut net = Network::build_with_threads(&spec, 2).unwrap();
        assert_eq!(net.thread_neurons(), equal);
        attach(&mut net);
        let cut = net.thread_neurons();
        assert!(cut[0].end < 500, "plastic targets share out: {cut:?}");
        assert_eq!((cut[0].start, cut[1].end), (0, 1000));
        let mut ran = Network::build_with_threads(&spec, 2).unwrap();
        ran.run(0, &mut SpikeRaster::new(0));
        attach(&mut ran);
        assert_eq!(
            ran.thread_neurons(),
            equal,
            "a network that ran keeps its cut"
        );
        ran.reset();
        attach(&mut ran);
        assert_eq!(ran.thread_neurons(), cut, "a reset network is fresh");
        let mut fed = Network::build_with_threads(&spec, 2).unwrap();
        fed.set_input_current(0, &vec![0.0; 800]).unwrap();
        attach(&mut fed);
        assert_eq!(
            fed.thread_neurons(),
            equal,
            "a network given currents keeps its cut"
        );
        // A one-rank distributed run simulates too.
        let mut dist = Network::build_rank(&spec, 2, 0, 1, &MemoryBudget::unknown()).unwrap();
        assert_eq!(dist.thread_neurons(), equal);
        dist.run_distributed(
            20,
            &mut SpikeRaster::new(0),
            &mut crate::comm::Local,
            &mut |_| {},
        )
        .unwrap();
        attach(&mut dist);
        assert_eq!(
            dist.thread_neurons(),
            equal,
            "a network that ran distributed keeps its cut"
        );
    }

    /// A run of `lif_exp` networks advances two steps per pass where it can and gives exactly the
    /// spikes and state of step-by-step updates, on one thread and on several: Poisson and
    /// spike-array inputs (odd seeds), random sizes, per-synapse delays of 1-4 steps, a step current switching at odd and
    /// even steps, runs of odd and even lengths one after the other (the lag is taken at each
    /// run's end), a reset, and a probe (which turns pairing off) in the middle.
    #[test]
    fn paired_steps_are_the_single_steps() {
        use snn_types::{Distribution, StimulusSpec, ValueSpec};
        for seed in 0..6u64 {
            let mut spec = crate::models::cuba(300 + 97 * seed as u32, seed);
            spec.projections[(seed % 4) as usize].delay_ms =
                Some(ValueSpec::Random(Distribution::Uniform {
                    low: 0.1,
                    high: 0.4,
                }));
            spec.stimuli.push(StimulusSpec::StepCurrent {
                target: "exc".into(),
                times_ms: vec![0.0, 3.1, 7.6, 20.0 + seed as f64 * 0.1],
                amplitudes: vec![300.0, 0.0, 450.0, 120.0],
                neurons: None,
            });
            if seed % 2 == 1 {
                // Poisson input on both receptors (switching on and off inside runs) and a
                // spike array: ring inputs that pairing adds at the start of a pass.
                spec.stimuli.push(StimulusSpec::Poisson {
                    target: "exc".into(),
                    rate_hz: 900.0,
                    weight: 1.3,
                    receptor: snn_types::Receptor::Excitatory,
                    start_ms: 0.5,
                    stop_ms: Some(14.05),
                });
                spec.stimuli.push(StimulusSpec::Poisson {
                    target: "inh".into(),
                    rate_hz: 700.0,
                    weight: -2.1,
                    receptor: snn_types::Receptor::Inhibitory,
                    start_ms: 2.0,
                    stop_ms: None,
                });
                spec.stimuli.push(StimulusSpec::SpikeArray {
                    target: "exc".into(),
                    weight: 25.0,
                    receptor: snn_types::Receptor::Excitatory,
                    spikes: (0..20)
                        .map(|n| snn_types::SpikeTrainSpec {
                            neuron: n * 3,
                            times_ms: vec![0.1 * n as f64, 1.3, 4.4 + 0.1 * n as f64, 9.9],
                        })
                        .collect(),
                });
            }
            let runs = [7u64, 1, 0, 40, 13, 2, 101, 10];
            // `refuse`: the system refuses worker thread `refuse` (0: none) in every run.
            let go_refused = |threads: usize, pairs_off: bool, refuse: usize| {
                let mut net = Network::build_with_threads(&spec, threads).unwrap();
                net.pairs_off = pairs_off;
                let mut raster = SpikeRaster::new(0);
                let mut v = Vec::new();
                for (k, &n) in runs.iter().enumerate() {
                    if k == 5 {
                        net.reset();
                    }
                    crate::workers::with_refused_thread(refuse, || net.run(n, &mut raster));
                    v.push((net.membrane(0), net.membrane(1)));
                }
                // Currents and refractory counters of every neuron, in neuron order.
                let currents: Vec<(u64, u64, u64)> = net
                    .parts
                    .iter()
                    .flat_map(|p| &p.segs)
                    .flat_map(|s| match &s.state {
                        SegState::LifExp {
                            i_ex, i_in, refr, ..
                        } => i_ex
                            .iter()
                            .zip(i_in)
                            .zip(refr)
                            .map(|((a, b), r)| (a.to_bits(), b.to_bits(), r.to_bits()))
                            .collect(),
                        _ => Vec::new(),
                    })
                    .collect();
                assert_eq!(net.threads_refused() > 0, refuse > 0);
                (raster, v, currents, net.paired_steps)
            };
            let go = |threads: usize, pairs_off: bool| go_refused(threads, pairs_off, 0);
            let paired = go(1, false);
            let single = go(1, true);
            assert!(paired.3 > 100, "seed {seed}: pairs used ({})", paired.3);
            assert_eq!(single.3, 0);
            assert!(paired.0.len() > 50, "seed {seed}: the network fires");
            assert_eq!(paired.0, single.0, "seed {seed}: spikes");
            assert_eq!(paired.1, single.1, "seed {seed}: membranes");
            assert_eq!(paired.2, single.2, "seed {seed}: currents");
            for threads in [2, 3] {
                let many = go(threads, false);
                assert!(many.3 > 100, "{threads} threads pair");
                assert_eq!(paired.0, many.0, "seed {seed}: {threads} threads, spikes");
                assert_eq!(
                    paired.1, many.1,
                    "seed {seed}: {threads} threads, membranes"
                );
                assert_eq!(paired.2, many.2, "seed {seed}: {threads} threads, currents");
                let many_single = go(threads, true);
                assert_eq!(many_single.3, 0);
                assert_eq!(
                    paired.0, many_single.0,
                    "seed {seed}: {threads} threads unpaired"
                );
                // A worker thread refused: the calling thread runs every partition, paired.
                let alone = go_refused(threads, false, threads - 1);
                assert!(alone.3 > 100, "{threads} threads, one refused: pairs used");
                assert_eq!(
                    (&paired.0, &paired.1, &paired.2),
                    (&alone.0, &alone.1, &alone.2),
                    "seed {seed}: {threads} threads, one refused"
                );
            }
        }
        // Progress is reported at the same steps whether steps are paired or not, on any
        // number of threads (every step for runs under 200 steps, every 1% above).
        for n in [7u64, 150, 1001] {
            let reports = |threads: usize, pairs_off: bool| {
                let spec = crate::models::cuba(300, 2);
                let mut net = Network::build_with_threads(&spec, threads).unwrap();
                net.pairs_off = pairs_off;
                let mut seen = Vec::new();
                net.run_with_progress(n, &mut SpikeRaster::new(0), &mut |i| seen.push(i));
                seen
            };
            let want = reports(1, true);
            let every = (n / 100).max(1);
            assert_eq!(
                want.len() as u64,
                n / every,
                "{n} steps: one report per {every}"
            );
            for (threads, off) in [(1, false), (2, false), (2, true), (3, false)] {
                assert_eq!(reports(threads, off), want, "{n} steps, {threads} threads");
            }
        }
        // A state probe turns pairing off (it reads the state every step).
        let mut spec = crate::models::cuba(200, 1);
        spec.recording.state.push(snn_types::TraceSpec {
            population: "exc".into(),
            variable: StateVar::V,
            neurons: vec![3],
        });
        let mut net = Network::build(&spec).unwrap();
        net.run(50, &mut SpikeRaster::new(0));
        assert_eq!(net.paired_steps, 0);
    }

    /// When the system refuses a worker thread, the run goes on in the calling thread over
    /// every partition (no panic, no thread left waiting) and gives the spikes and learned
    /// weights of one thread; the next run, with its threads, continues identically.
    #[test]
    fn a_refused_worker_thread_runs_on_the_calling_thread() {
        let mut spec = crate::models::cuba(600, 3);
        spec.stimuli.push(snn_types::StimulusSpec::Poisson {
            target: "exc".into(),
            rate_hz: 800.0,
            weight: 3.0,
            receptor: snn_types::Receptor::Excitatory,
            start_ms: 0.0,
            stop_ms: None,
        });
        let run = |threads: usize, refuse: usize| {
            let mut net = Network::build_with_threads(&spec, threads).unwrap();
            let n = net.projections()[0].n_target();
            net.set_plasticity(
                0,
                Box::new(Halve {
                    post_count: vec![0; n],
                }),
            )
            .unwrap();
            let mut raster = SpikeRaster::new(0);
            crate::workers::with_refused_thread(refuse, || net.run(400, &mut raster));
            net.run(300, &mut raster);
            let w = net.projection_weights_mut(0).unwrap().to_vec();
            (raster, w, net.threads_refused())
        };
        let one = run(1, 0);
        assert!(
            one.0.len() > 200,
            "the network fires ({} spikes)",
            one.0.len()
        );
        for (threads, refuse) in [(3, 2), (3, 1), (2, 1)] {
            let got = run(threads, refuse);
            assert_eq!(got.2, 1, "{threads} threads: one run went on alone");
            assert_eq!(
                got.0, one.0,
                "{threads} threads, thread {refuse} refused: spikes"
            );
            assert!(
                got.1
                    .iter()
                    .zip(&one.1)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{threads} threads, thread {refuse} refused: weights"
            );
        }
        assert_eq!(run(3, 0).2, 0);
    }

    /// Injected input spikes that have been delivered are dropped at the next injection: a
    /// network fed one raster after another keeps only the pending ones (it used to keep every
    /// spike it was ever given), and the spikes are the same as with one long raster.
    #[test]
    fn delivered_injected_inputs_are_not_kept() {
        let spec = NetworkSpec::from_toml_str(
            r#"
            dt_ms = 1.0
            [[populations]]
            name = "in"
            size = 50
            neuron = { model = "input" }
            "#,
        )
        .unwrap();
        let image = |k: u64| -> SpikeRaster {
            let spikes: Vec<Spike> = (0..20u64)
                .flat_map(|s| {
                    (0..50u32)
                        .filter(move |n| (s + *n as u64 + k).is_multiple_of(3))
                        .map(move |neuron| Spike { step: s, neuron })
                })
                .collect();
            SpikeRaster::from_spikes(0, 20, &spikes)
        };
        let per_image = image(0).len();
        for threads in [1, 2] {
            let mut net = Network::build_with_threads(&spec, threads).unwrap();
            let mut out = SpikeRaster::new(0);
            let mut fired = 0;
            for k in 0..200 {
                net.inject_input(0, &image(k)).unwrap();
                let held: usize = net.parts.iter().map(|p| p.events.len()).sum();
                assert!(held <= per_image + 1, "image {k}: {held} events held");
                net.run(25, &mut out);
                fired += image(k).len();
            }
            assert_eq!(
                out.len(),
                fired,
                "every injected spike fires ({threads} threads)"
            );
        }
    }
}
