//! The plasticity hook that learning rules plug into.
//!
//! A rule attached to a projection with [`Network::set_plasticity`](crate::Network::set_plasticity)
//! is called on every spike of the projection's source neurons (`on_pre`) and target neurons
//! (`on_post`), with mutable access to the projection's weights, so learning costs work only when
//! spikes happen. The order within a step is fixed: neurons update, then `on_pre` for every source
//! spike (in neuron order), then `on_post` for every target spike, then the spikes are delivered
//! with the updated weights. A pre and a post spike in the same step are therefore seen by the rule
//! as pre-before-post. Calls run on one thread in that fixed order whatever the thread count, so
//! learning is deterministic.

use snn_types::Step;

/// A synaptic learning rule driven by spikes.
pub trait Plasticity: Send {
    /// A source neuron `pre` (local index) fired at `step`. `targets` are its synapses' local
    /// target indices (sorted) and `weights` the matching weights, which the rule may change.
    fn on_pre(&mut self, step: Step, pre: u32, targets: &[u32], weights: &mut [f32]);

    /// A target neuron `post` (local index) fired at `step`. `sources[i]` is the local source of
    /// its `i`-th incoming synapse and `synapses[i]` that synapse's index into `weights` (the
    /// projection's whole weight array).
    fn on_post(
        &mut self,
        step: Step,
        post: u32,
        sources: &[u32],
        synapses: &[u32],
        weights: &mut [f32],
    );
}
