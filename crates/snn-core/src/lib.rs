//! # snn-core
//!
//! The simulation engine of the `snn` toolkit. It builds a [`Network`] from a
//! [`NetworkSpec`](snn_types::NetworkSpec) and simulates it with clock-driven neuron updates and
//! event-driven spike delivery:
//!
//! * neuron models: `lif_exp` (current-based LIF with exponential synapses, integrated exactly
//!   with the propagators of NEST's `iaf_psc_exp`), `lif_delta`, the discrete `lif_beta` of
//!   training frameworks, Loihi's integer `loihi_lif` (bit-exact, shared with the chip model),
//!   Izhikevich's `izhikevich` (RK4 at the engine's step), the adaptive exponential `adex` (NEST
//!   `aeif_cond_exp`, RK4 substeps, conductance synapses), and `input` populations;
//! * projections as CSR by source with sorted rows (4 bytes per synapse when weight and delay are
//!   uniform), built deterministically from the seed, one stream per projection; `conv2d` and
//!   `pool2d` projections as their kernel and per-axis tap tables (no per-synapse storage,
//!   spikes bit-identical to the expanded form);
//! * delays through per-neuron ring buffers;
//! * stimuli (Poisson, constant and step currents, spike arrays), spike sinks that stream,
//!   state traces and population rates;
//! * a [`Plasticity`] hook for learning rules;
//! * threads that own disjoint target ranges: no locks or atomics in the hot loops and
//!   bit-identical spikes for any thread count;
//! * ranks ([`distributed`], [`comm`]): neurons split over processes in blocks, synapses on the
//!   rank of their target, spikes exchanged once per epoch of the shortest delay through a
//!   [`comm::Communicator`] (`Local`, `DryRun` here; MPI in the `snn-mpi` crate), still
//!   bit-identical to one process; per-rank spike files merged by [`merge`].
//!
//! Two parts with a seam: the **building blocks** ([`connect`], [`rng`], [`init`], [`stimulus`],
//! [`neuron`], [`projection`]) that other crates may use directly — the chip model
//! (`snn-neuromorphic`) builds on them, so its synapses, inputs, initial state and fixed-point
//! neuron arithmetic are the engine's own — and the **scheduler** ([`Network`]: partitions,
//! threads, ring buffers and the step loop), which only the engine uses.
//!
//! ```
//! use snn_core::{Network, models, record::CountingSink};
//!
//! let spec = models::cuba(1000, 42);
//! let mut one = Network::build(&spec).unwrap();
//! let mut two = Network::build_with_threads(&spec, 2).unwrap();
//! let (mut a, mut b) = (snn_types::SpikeRaster::new(0), snn_types::SpikeRaster::new(0));
//! one.run(500, &mut a);
//! two.run(500, &mut b);
//! assert_eq!(a, b); // identical for any thread count
//! ```
#![warn(missing_docs)]

pub mod analysis;
mod barrier;
pub mod comm;
pub mod connect;
pub mod distributed;
mod engine;
mod error;
pub mod init;
pub mod memory;
pub mod merge;
pub mod models;
pub mod neuron;
pub mod plasticity;
pub mod projection;
pub mod record;
pub mod rng;
pub mod stimulus;
pub mod workers;

pub use engine::{MAX_EPOCH_STEPS, Network, PopulationInfo, RankRunStats, RunStats, simulate};
pub use error::BuildError;
pub use memory::{NetworkMemory, SynapseCount};
pub use plasticity::{Plasticity, Share, SharedWeights};
pub use projection::{Delays, Projection, Synaptic, Weights};
pub use record::{
    CountingSink, CsvSpikeWriter, NullSink, Recordings, SpikeSink, Trace, WeightHistory,
};
