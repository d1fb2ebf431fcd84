//! The one interface through which spikes leave a producer: [`SpikeSink`].
//!
//! Two kinds of producers feed sinks:
//!
//! * the simulation engine (`snn_core::Network::run`), which calls
//!   [`on_step`](SpikeSink::on_step) exactly once per simulated step, steps ascending, neurons
//!   sorted ascending (an empty slice for a silent step);
//! * the encoders of `snn-encode`, which walk their input feature by feature and so report
//!   spikes in whatever step order their algorithm visits them, often one neuron per call.
//!
//! The trait's contract is the weaker of the two, so every sink is correct for both: **a call
//! reports neurons that fired at `step`; steps may come in any order, a step may be reported by
//! several calls (the neurons accumulate), and a call's neurons may be in any order.** Sinks that
//! want order (a CSV stream, say) get it from the engine; [`SpikeRaster`] sorts what it is given
//! and stays cheap in the engine's case (one comparison, then an append).
//!
//! ```
//! use snn_types::{Spike, SpikeRaster, SpikeSink};
//!
//! // An encoder-like producer: feature-major, steps out of order.
//! fn produce(sink: &mut impl SpikeSink) {
//!     sink.on_step(3, &[0]);
//!     sink.on_step(1, &[0]);
//!     sink.on_step(1, &[2]);
//!     sink.on_step(2, &[]);
//! }
//! let mut r = SpikeRaster::new(0);
//! produce(&mut r);
//! assert_eq!(r.n_steps(), 4);
//! assert_eq!(r.at(1), &[0, 2]);
//! assert_eq!(r.at(3), &[0]);
//!
//! let mut v: Vec<Spike> = Vec::new();
//! produce(&mut v);
//! assert_eq!(v.len(), 3);
//! ```

use crate::spike::{Spike, SpikeRaster};
use crate::time::Step;

/// Receives spikes as `(step, neurons that fired at that step)`.
///
/// Contract for producers and sinks: steps in any order, a step
/// possibly split over several calls, neurons in any order within a call. The simulation engine
/// additionally guarantees one call per step, steps ascending and neurons sorted.
pub trait SpikeSink {
    /// Records that every neuron of `neurons` fired at `step` (an empty slice only says that
    /// `step` was simulated).
    fn on_step(&mut self, step: Step, neurons: &[u32]);
}

/// Any order: spikes are inserted at their step, extending the covered range as needed (see
/// [`SpikeRaster::add_at`]). The engine's case (the next step, once) is a plain append.
impl SpikeSink for SpikeRaster {
    #[inline]
    fn on_step(&mut self, step: Step, neurons: &[u32]) {
        self.add_at(step, neurons);
    }
}

/// Collects spikes unsorted, in arrival order (e.g. for [`SpikeRaster::from_spikes`]). Silent
/// steps leave no trace.
impl SpikeSink for Vec<Spike> {
    #[inline]
    fn on_step(&mut self, step: Step, neurons: &[u32]) {
        self.extend(neurons.iter().map(|&neuron| Spike { step, neuron }));
    }
}

impl<S: SpikeSink + ?Sized> SpikeSink for &mut S {
    #[inline]
    fn on_step(&mut self, step: Step, neurons: &[u32]) {
        (**self).on_step(step, neurons);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the order and splitting of calls, the raster equals the sorted spikes.
        #[test]
        fn raster_sink_is_order_independent(
            calls in proptest::collection::vec((0u64..40, proptest::collection::vec(0u32..16, 0..4)), 0..60),
            start in 0u64..10,
        ) {
            let mut r = SpikeRaster::new(start);
            let mut all = Vec::new();
            for (step, ns) in &calls {
                r.on_step(*step, ns);
                all.extend(ns.iter().map(|&neuron| Spike { step: *step, neuron }));
            }
            all.sort();
            let got: Vec<Spike> = r.iter().collect();
            prop_assert_eq!(got, all);
            // Covered range: from min(start, earliest step) through the latest step reported.
            if let Some(max) = calls.iter().map(|c| c.0).max() {
                let min = calls.iter().map(|c| c.0).min().unwrap_or(start).min(start);
                prop_assert_eq!(r.start_step(), min);
                prop_assert_eq!(r.n_steps(), (max + 1).max(start) - min);
            }
            for w in r.offsets().windows(2) {
                prop_assert!(r.neurons()[w[0]..w[1]].is_sorted());
            }
        }
    }

    #[test]
    fn engine_order_is_a_plain_append() {
        let mut r = SpikeRaster::new(5);
        r.on_step(5, &[1, 2]);
        r.on_step(6, &[]);
        r.on_step(7, &[0]);
        assert_eq!(r.n_steps(), 3);
        assert_eq!(r.at(0), &[1, 2]);
        assert_eq!(r.at(2), &[0]);
    }

    #[test]
    fn sinks_work_through_mutable_references() {
        fn feed(mut s: impl SpikeSink) {
            s.on_step(0, &[4]);
        }
        let mut v: Vec<Spike> = Vec::new();
        feed(&mut v);
        assert_eq!(v, vec![Spike { step: 0, neuron: 4 }]);
    }
}
