//! The plasticity hook that learning rules plug into.
//!
//! A rule attached to a projection with [`Network::set_plasticity`](crate::Network::set_plasticity)
//! is called on every spike of the projection's source neurons (`on_pre`) and target neurons
//! (`on_post`), with mutable access to the projection's weights, so learning costs work only when
//! spikes happen. The order within a step is fixed: neurons update, then `on_pre` for every source
//! spike (in neuron order), then `on_post` for every target spike, then the spikes are delivered
//! with the updated weights. A pre and a post spike in the same step are therefore seen by the rule
//! as pre-before-post.
//!
//! **Threads.** A rule that can [`fork`](Plasticity::fork) runs inside the threads that own the
//! targets: at the start of each [`Network::run`](crate::Network::run) on several threads, every
//! thread gets a replica of the rule and its own copy of the projection's weights. A replica sees
//! every source spike (`on_pre` with only the part of the row whose targets the thread owns,
//! possibly empty, so the presynaptic traces evolve identically in every replica) and the spikes
//! of its own targets (`on_post`, whose incoming synapses all belong to that thread). Each synapse
//! therefore sees exactly the calls, in the same order, that one thread would make. At the end of
//! the run the engine gathers every thread's synapses back into the projection and hands each
//! replica to [`join`](Plasticity::join) with the [`Share`] it owned, so weights and rule state
//! are bit-identical to a one-thread run. A rule that cannot fork (the default) is called on the
//! coordinating thread in the same fixed order, also deterministically.
//!
//! **Split post spikes.** A forked rule whose per-synapse `on_post` update depends only on the
//! presynaptic state, the weight and a factor of the postsynaptic state before the spike can say
//! so ([`splits_post`](Plasticity::splits_post)). The threads then work on the projection's
//! own weights (no per-thread copies). When the threads were cut by estimated work (the rule
//! attached to a fresh network, see [`Network::set_plasticity`](crate::Network::set_plasticity)),
//! the thread owning a post spike's target updates the whole column with
//! [`on_post_part`](Plasticity::on_post_part) after its `on_pre` calls: every synapse is touched
//! only by the thread owning its target. Otherwise (equal cut, where one thread may own most
//! plastic targets) the engine shares each post spike's
//! column among all threads instead of leaving it to the thread that owns the target: the owner
//! computes the factor ([`post_factor`](Plasticity::post_factor)) right after the neuron update
//! and publishes it with its spikes, every thread updates its share of the column's synapses
//! ([`on_post_part`](Plasticity::on_post_part), through [`SharedWeights`] into the owner's
//! copy), and the owner then records the spike ([`on_post_end`](Plasticity::on_post_end)).
//! Synapses whose source fired in the same step are left to the owner, after its `on_pre`, so
//! pre-before-post order holds and no synapse is touched by two threads in a step; the step's
//! deliveries read only the rows of sources that fired, which no other thread writes. Each
//! synapse sees the same values as on one thread, so weights stay bit-identical; the work of a
//! post spike no longer lands on one thread, which evens out the step-to-step load between the
//! threads.

use std::any::Any;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};

use snn_types::Step;

/// The part of a plastic projection that one thread owns.
#[derive(Debug, Clone)]
pub struct Share<'a> {
    /// Local target indices owned by the thread.
    pub targets: Range<u32>,
    /// Per source row, the synapse indices (into the projection's weight array) whose targets
    /// the thread owns (each a contiguous range, possibly empty; rows are sorted by target).
    pub synapses: &'a [Range<usize>],
}

/// A synaptic learning rule driven by spikes.
pub trait Plasticity: Send + Any {
    /// A source neuron `pre` (local index) fired at `step`. `targets` are local target indices
    /// (sorted) of consecutive synapses of its row starting at synapse index `first_synapse`,
    /// and `weights` the matching weights, which the rule may change. On one thread this is the
    /// whole row; on several, the part owned by the calling replica's thread (possibly empty).
    fn on_pre(
        &mut self,
        step: Step,
        pre: u32,
        first_synapse: usize,
        targets: &[u32],
        weights: &mut [f32],
    );

    /// A target neuron `post` (local index) fired at `step`. `sources[i]` is the local source of
    /// its `i`-th incoming synapse and `synapses[i]` that synapse's index into `weights` (the
    /// projection's whole weight array; on several threads, the calling thread's copy, current
    /// for every synapse it owns).
    fn on_post(
        &mut self,
        step: Step,
        post: u32,
        sources: &[u32],
        synapses: &[u32],
        weights: &mut [f32],
    );

    /// Called by the engine when the rule is attached to a projection: whether every row of it
    /// lists its targets in strictly increasing order (no target twice). A row passed to
    /// [`on_pre`](Self::on_pre) whose last target is then `len - 1` above its first is
    /// contiguous (`first, first + 1, ...`), which a rule may use without reading the targets.
    /// Replicas made by [`fork`](Self::fork) keep what their original was told. The default
    /// ignores it.
    fn set_strict_rows(&mut self, strict: bool) {
        let _ = strict;
    }

    /// A replica of this rule with the same state, to run in one thread of a multi-threaded run,
    /// or `None` (the default) when the rule cannot be split: it is then called on the
    /// coordinating thread.
    fn fork(&self) -> Option<Box<dyn Plasticity>> {
        None
    }

    /// Whether this (forked) rule's `on_post` can be split between threads: for every post spike,
    /// `on_post(step, post, sources, synapses, w)` must equal
    /// `f = post_factor(step, post)`, then [`on_post_part`](Self::on_post_part) with `f` over any
    /// partition of `(sources, synapses)` into pieces, called in any order, on replicas whose
    /// presynaptic state is identical, then [`on_post_end`](Self::on_post_end). `false` (the
    /// default) keeps `on_post` whole, in the owning thread.
    fn splits_post(&self) -> bool {
        false
    }

    /// For a splitting rule: the factor of the postsynaptic state that the per-synapse update of
    /// a spike of `post` at `step` needs (the state before the spike is recorded). Called by the
    /// owning thread after the neuron update, before the step's `on_pre` calls (which must not
    /// change it).
    fn post_factor(&mut self, step: Step, post: u32) -> f64 {
        let _ = (step, post);
        0.0
    }

    /// For a splitting rule: the per-synapse part of `on_post` for some of a post spike's
    /// synapses (`sources[i]`, `synapses[i]` as in [`on_post`](Self::on_post)), given its
    /// [`post_factor`](Self::post_factor). Reads only presynaptic state; may run on any thread's
    /// replica, concurrently with other parts of the same or other columns.
    fn on_post_part(
        &self,
        step: Step,
        factor: f64,
        sources: &[u32],
        synapses: &[u32],
        weights: &SharedWeights<'_>,
    ) {
        let _ = (step, factor, sources, synapses, weights);
    }

    /// For a splitting rule: records the spike of `post` at `step` in the postsynaptic state,
    /// after every part of its update (called by the owning thread).
    fn on_post_end(&mut self, step: Step, post: u32) {
        let _ = (step, post);
    }

    /// Takes back the state that a replica made by [`fork`](Self::fork) holds for `share`
    /// (postsynaptic state of its targets, per-synapse state of its synapses; presynaptic state,
    /// which every replica evolves identically, from any of them). Called once per replica, in
    /// thread order, at the end of a run. A replica of another type is ignored.
    fn join(&mut self, replica: Box<dyn Plasticity>, share: &Share<'_>) {
        let _ = (replica, share);
    }
}

/// Downcasts a replica made by `fork` back to its concrete type (for [`Plasticity::join`]).
pub fn downcast_replica<T: Plasticity>(replica: Box<dyn Plasticity>) -> Option<Box<T>> {
    let any: Box<dyn Any> = replica;
    any.downcast::<T>().ok()
}

/// A projection's weights as several threads may update them at once, each thread different
/// synapses ([`Plasticity::on_post_part`]): relaxed atomic loads and stores of the `f32` bits
/// (plain moves on x86-64 and AArch64).
#[derive(Debug, Clone, Copy)]
pub struct SharedWeights<'a> {
    w: &'a [AtomicU32],
}

impl<'a> SharedWeights<'a> {
    /// A view of weights this thread holds exclusively.
    pub fn new(w: &'a mut [f32]) -> Self {
        // SAFETY: `AtomicU32` has the size and alignment of `f32` (4 bytes each), and the
        // exclusive borrow guarantees no other access for `'a`.
        let w = unsafe { &*(w as *mut [f32] as *const [AtomicU32]) };
        Self { w }
    }

    /// A view of `len` weights at `ptr` that other threads may update concurrently (other
    /// elements, or the same ones only through a `SharedWeights`).
    ///
    /// # Safety
    /// `ptr` must point to `len` initialised `f32`s that stay allocated for `'a` and are not
    /// accessed through a plain reference while any element of it is written through a view.
    pub(crate) unsafe fn from_raw(ptr: *mut f32, len: usize) -> Self {
        // SAFETY: the caller's contract; `AtomicU32` has the layout of `f32`.
        let w = unsafe { std::slice::from_raw_parts(ptr as *const AtomicU32, len) };
        Self { w }
    }

    /// Number of weights.
    pub fn len(&self) -> usize {
        self.w.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.w.is_empty()
    }

    /// Weight `i`, or `None` beyond the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<f32> {
        self.w
            .get(i)
            .map(|x| f32::from_bits(x.load(Ordering::Relaxed)))
    }

    /// Sets weight `i` (ignored beyond the end).
    #[inline]
    pub fn set(&self, i: usize, w: f32) {
        if let Some(x) = self.w.get(i) {
            x.store(w.to_bits(), Ordering::Relaxed);
        }
    }
}

/// Synapses ahead of the current one whose weight a rule's column loop prefetches
/// ([`SharedWeights::prefetch`]): a post spike's column is scattered over the whole weight array,
/// so each weight is a cache miss, and asking for them early overlaps the misses.
pub const PREFETCH_AHEAD: usize = 32;

/// Hints the CPU to bring the cache line at `p` into L1 (no effect where there is no prefetch
/// instruction). Any address is allowed: a prefetch never faults.
#[inline(always)]
pub(crate) fn prefetch_ptr<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and changes no memory (and SSE, which
    // provides it, is part of every x86-64 CPU).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl SharedWeights<'_> {
    /// Hints the CPU to bring weight `i` into the cache (no effect beyond the end, or on targets
    /// without a prefetch instruction). Never changes a value.
    #[inline(always)]
    pub fn prefetch(&self, i: usize) {
        if let Some(x) = self.w.get(i) {
            prefetch_ptr(x.as_ptr() as *const f32);
        }
    }
}
