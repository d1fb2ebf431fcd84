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

use std::any::Any;
use std::ops::Range;

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

    /// A replica of this rule with the same state, to run in one thread of a multi-threaded run,
    /// or `None` (the default) when the rule cannot be split: it is then called on the
    /// coordinating thread.
    fn fork(&self) -> Option<Box<dyn Plasticity>> {
        None
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
