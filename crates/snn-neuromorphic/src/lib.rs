//! # snn-neuromorphic
//!
//! A model of an event-driven neuromorphic chip, for the questions one cannot answer without
//! one: will my network fit, how long does a timestep take, how much energy does an inference
//! cost, where is the bottleneck.
//!
//! * [`ArchSpec`]: the chip as data (TOML): a mesh of tiles with cores, per-core limits, the
//!   network-on-chip, per-operation energy and latency, barrier and static power. Presets
//!   [`loihi`](arch::LOIHI_TOML) (Davies et al. 2018) and [`truenorth`](arch::TRUENORTH_TOML)
//!   are built in, and systems of several chips ([`SystemSpec`]): a Nahuku board of 32 Loihi
//!   chips ([`loihi_nahuku`](arch::LOIHI_NAHUKU_TOML)) and a 4x4 TrueNorth system
//!   ([`truenorth_ns16e`](arch::TRUENORTH_NS16E_TOML)); every unpublished figure is `None` and
//!   reported as an assumption.
//! * [`compile()`]: a sequence of passes (see [`compile`](mod@compile)): check (the spec, and
//!   connectivity expanded by `snn-core`), quantise to Loihi's integer CUBA LIF and 8-bit weights
//!   (float `lif_beta`/`lif_delta`/`lif_exp` networks included; see [`quantise`]), place neurons
//!   on cores under every per-core limit and move cores to lower the traffic (packets x hops),
//!   or honour an explicit [`Mapping`] file, route (fan-out tables), verify every limit (failing
//!   with [`MapError::DoesNotFit`] that lists every violation and the smallest change that
//!   fits), lower to a [`ChipProgram`] ([`ChipProgram::mapping`] gives the placement back as a
//!   mapping file).
//!   `conv2d`/`pool2d` projections compile like any other (their kernels quantised as
//!   per-synapse weights, kept as conv rules in [`ChipProgram::quantised_spec`]); the
//!   architecture's [`ConvWeights`] says whether a core counts their synapses one by one or the
//!   kernel slices of its output channels once. [`ChipProgram::fit_summary`] shows the
//!   per-layer placement and each projection's synaptic memory.
//! * [`sweep`]: design-space sweeps over architecture fields and compile options, in parallel,
//!   deterministic for any thread count; [`probe`]: `u`/`v` of chosen neurons per step.
//! * [`Chip::run`]: soma, axon, mesh (hop-by-hop with contention and back-pressure, or
//!   analytic), synapse/dendrite stages and barriers, step by step; the [`Report`] holds output
//!   spikes, modelled time, energy by class with the event counts and unit costs that produce
//!   it, per-core load, link traffic and the critical core.
//!
//! The chip model is built on `snn-core`'s building blocks, never on its scheduler: connectivity
//! expansion, seeded streams, initial state, stimulus schedules in steps and the fixed-point LIF
//! ([`snn_core::neuron::LoihiCoef`]) are the engine's own code, so the chip's synapses, inputs,
//! initial state and neuron arithmetic equal the engine's by construction. Its spikes equal
//! `snn-core`'s simulation of [`ChipProgram::quantised_spec`] step for step (tested).
//!
//! ```
//! use snn_neuromorphic::{ArchSpec, Chip, RunOptions, compile};
//! use snn_types::NetworkSpec;
//!
//! let spec = NetworkSpec::from_toml_str(r#"
//!     dt_ms = 1.0
//!     [[populations]]
//!     name = "in"
//!     size = 4
//!     neuron = { model = "input" }
//!     [[populations]]
//!     name = "out"
//!     size = 2
//!     neuron = { model = "loihi_lif", du = 4095, dv = 0, vth_mant = 100 }
//!     [[projections]]
//!     source = "in"
//!     target = "out"
//!     connectivity = { rule = "all_to_all" }
//!     weight = 60
//!     [[stimuli]]
//!     kind = "spike_array"
//!     target = "in"
//!     spikes = [{ neuron = 0, times_ms = [0.0, 1.0] }, { neuron = 1, times_ms = [0.0] }]
//! "#).unwrap();
//! let arch = ArchSpec::preset("loihi").unwrap();
//! let program = compile(&spec, &arch).unwrap();
//! let report = Chip::new(&program).unwrap().run(5, &RunOptions::default()).unwrap();
//! // Two input spikes at step 0 give a_in = 120 at step 1: v = 7680 > 6400, a spike.
//! assert_eq!(report.population_spikes[1], ("out".to_string(), 2));
//! assert_eq!(report.counts.synaptic_ops, 3 * 2);
//! // Energy is the event counts times the unit costs (no static power in the Loihi preset).
//! assert!((report.energy.total_pj - report.energy.dynamic_pj()).abs() < 1e-9);
//! ```
#![warn(missing_docs)]

pub mod arch;
pub mod compile;
mod error;
pub mod mapping;
pub mod memory;
pub mod noc;
pub mod probe;
mod program;
mod run;
pub mod spikes;
mod summary;
pub mod sweep;

pub use arch::{ArchSpec, ChargeClass, ConvWeights, ModelOptions, SystemSpec};
pub use compile::quantise;
pub use compile::{
    CompileOptions, compile, compile_with, compile_with_budget, core_chip, core_tile,
};
pub use error::{ArchError, MapError, RunError, Violation};
pub use mapping::{Mapping, MappingEntry};
pub use noc::NocMode;
pub use program::{
    ChipProgram, CoreShare, CoreUsage, PlacedPopulation, PlacementTraffic, ProjectionMemory,
    Quantisation, Storage,
};
pub use run::{
    Chip, ChipTraffic, CoreLoad, EnergyBreakdown, EventCounts, LinkStats, PacketStats, Report,
    RunOptions, StepTrace, UnitCosts,
};
