//! # snn-types
//!
//! The shared vocabulary of the `snn` toolkit, cheap to depend on (serde, and postcard for its
//! file format): integer time [`Step`]s with a fixed `dt_ms`, [`Spike`]s and the compact
//! [`SpikeRaster`], the one [`SpikeSink`] trait through which the engine and the encoders hand
//! out spikes, neuron parameter
//! structs with units in their field names, and the serialisable [`NetworkSpec`] that every crate
//! reads and writes. [`NetworkSpec::validate`] reports every problem with its path and never
//! panics.
//!
//! The [`file`](mod@file) module holds what every crate and the CLI use to write files safely: atomic
//! writes (temporary file, sync, rename) and one framed binary format (magic, kind, version,
//! length, CRC-32, postcard body).
//!
//! ```
//! use snn_types::NetworkSpec;
//!
//! let spec = NetworkSpec::from_toml_str(r#"
//!     dt_ms = 0.1
//!     seed = 7
//!     [[populations]]
//!     name = "exc"
//!     size = 100
//!     neuron = { model = "lif_exp", tau_m_ms = 20.0, c_m_pf = 20.0 }
//!     [[projections]]
//!     source = "exc"
//!     target = "exc"
//!     connectivity = { rule = "fixed_probability", p = 0.1 }
//!     weight = 1.5
//!     delay_ms = 0.1
//! "#).unwrap();
//! spec.validate().unwrap();
//! assert_eq!(spec.n_neurons(), 100);
//!
//! // Problems are reported with their path:
//! let bad = NetworkSpec::from_toml_str(r#"
//!     dt_ms = 0.1
//!     [[populations]]
//!     name = "a"
//!     size = 10
//!     neuron = { model = "lif_exp", tau_m_ms = -1.0 }
//!     [[projections]]
//!     source = "a"
//!     target = "nowhere"
//!     connectivity = { rule = "all_to_all" }
//! "#).unwrap();
//! let err = bad.validate().unwrap_err().to_string();
//! assert!(err.contains("populations[0].neuron.tau_m_ms"));
//! assert!(err.contains("projections[0].target: unknown population 'nowhere'"));
//! ```
#![warn(missing_docs)]

pub mod budget;
pub mod conv;
mod error;
pub mod file;
mod params;
pub mod plasticity;
pub mod readout;
pub mod seed;
mod sink;
mod spec;
mod spike;
mod time;
mod validate;

pub use conv::{ConvGeometry, PoolMode};
pub use error::{SpecError, SpecIssue};
pub use params::{
    AdaptiveThreshold, AdexParams, CondIntegration, InputOrder, IzhikevichParams, LifBetaParams,
    LifCondExpParams, LifDeltaParams, LifExpParams, LoihiLifParams, NeuronModel, ResetMode,
};
pub use plasticity::PlasticitySpec;
pub use readout::{InputCoding, Readout, ReadoutInput, ReadoutRule, ReadoutSpec};
pub use sink::SpikeSink;
pub use spec::{
    Connectivity, Distribution, NetworkSpec, PopulationSpec, ProjectionSpec, Receptor,
    RecordingSpec, SpecFormat, SpikeTrainSpec, StateVar, StimulusSpec, TraceSpec, ValueSpec,
};
pub use spike::{Spike, SpikeRaster};
pub use time::{
    MAX_STEPS, MIN_DT_MS, Step, check_dt, check_duration, check_time, delay_steps, ms_to_steps,
    steps_to_ms,
};
pub use validate::{
    MAX_CURRENT_PA, MAX_DELAY_STEPS, MAX_POTENTIAL_MV, MAX_THETA_MV, MAX_WEIGHT, TRUNCATION_SIGMAS,
};
