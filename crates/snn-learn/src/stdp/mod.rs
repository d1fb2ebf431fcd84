//! Spike-timing-dependent plasticity (STDP) and unsupervised learning.
//!
//! * [`PairStdp`]: pair-based STDP with exponential pre/post traces, additive (hard bounds),
//!   multiplicative (soft bounds) or power-law weight dependence, all-to-all or nearest-spike
//!   pairing (Bi & Poo 1998; Song, Miller & Abbott 2000; van Rossum et al. 2000; Gütig et al.
//!   2003; Morrison, Diesmann & Gerstner 2008).
//! * [`TripletStdp`]: the triplet rule of Pfister & Gerstner (2006) with the published parameter
//!   sets ([`TripletParams::visual_cortex_minimal`] and friends).
//! * [`RewardStdp`]: reward-modulated (three-factor) STDP: pair STDP charges a per-synapse
//!   eligibility trace, a global reward turns it into weight change (Izhikevich 2007;
//!   Frémaux & Gerstner 2016).
//! * Homeostasis: [`AdaptiveThreshold`], [`normalise_incoming`] / [`IncomingNormaliser`]
//!   (fixed sum of incoming weights) and a learning-rate schedule [`LrSchedule`].
//! * [`diehl_cook`]: the unsupervised MNIST classifier of Diehl & Cook (2015) as a dedicated
//!   event-driven simulation that uses the same [`TripletStdp`] rule type, with checkpoints and
//!   receptive fields as plot data ([`plot`]).
//!
//! * [`attach_spec_rules`]: the rules a [`NetworkSpec`](snn_types::NetworkSpec) names in its
//!   projections' `plasticity` tables ([`snn_types::PlasticitySpec`]), attached to the network
//!   built from it (what `snn simulate` does with a plastic spec).
//!
//! The rules' parameter types ([`PairParams`], [`TripletParams`], [`Bounds`], [`Pairing`],
//! [`WeightDependence`]) are defined in [`snn_types::plasticity`], so that a spec file can name
//! them, and re-exported here.
//!
//! Every rule implements [`snn_core::Plasticity`], so it plugs into the engine's event-driven
//! hook: traces are stored per neuron as (value, step of last update) and decayed lazily when a
//! spike reads or bumps them, so a rule costs work only when spikes happen. Weights live in the
//! engine's own CSR arrays. On several threads every rule forks: each thread runs a replica on the
//! synapses whose targets it owns (see [`snn_core::plasticity`]), so learning is bit-identical
//! for any thread count.
//!
//! ```
//! use snn_core::Plasticity;
//! use snn_learn::stdp::{PairParams, PairStdp};
//!
//! // One synapse 0 -> 0, dt = 0.1 ms. A pre spike at step 0 and a post spike 10 ms later
//! // potentiate by A+ exp(-10 / tau+).
//! let p = PairParams::default();
//! let mut rule = PairStdp::new(p.clone(), 0.1, 1, 1).unwrap();
//! let mut w = [0.5f32];
//! rule.on_pre(0, 0, 0, &[0], &mut w);
//! rule.on_post(100, 0, &[0], &[0], &mut w);
//! let expected = 0.5 + p.a_plus * (-10.0f64 / p.tau_plus_ms).exp();
//! assert!((w[0] as f64 - expected).abs() < 1e-7);
//! ```

pub mod diehl_cook;
mod homeostasis;
mod pair;
pub mod plot;
mod reward;
mod spec_rules;
mod trace;
mod triplet;

pub use homeostasis::{AdaptiveThreshold, IncomingNormaliser, LrSchedule, normalise_incoming};
pub use pair::{Bounds, PairParams, PairStdp, Pairing, WeightDependence};
pub use reward::{RewardParams, RewardStdp, Shared};
pub use spec_rules::{
    WeightSummary, attach_spec_rules, learned_spec, rule_from_spec, weight_summary,
};
pub use trace::{DecayTable, Traces};
pub use triplet::{TripletParams, TripletStdp, depression_horizon_steps};

/// Errors of the STDP module: invalid parameters, files, data.
#[derive(Debug, thiserror::Error)]
pub enum StdpError {
    /// A parameter is out of its valid range.
    #[error("invalid parameter {name}: {reason}")]
    Param {
        /// The parameter's name (as in the struct, e.g. `tau_plus_ms`).
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Data does not fit the model (sizes, labels).
    #[error("data: {0}")]
    Data(String),
    /// A weights/checkpoint file could not be read or is corrupt.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An I/O error on a file.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The error (in the message, not repeated as a cause).
        error: std::io::Error,
    },
    /// Writing or reading a file failed (the message names the file and the problem).
    #[error(transparent)]
    Storage(#[from] snn_types::file::FileError),
}

/// A rule whose overall learning rate can be scaled at run time (for an [`LrSchedule`]) and
/// whose traces can be cleared.
pub trait StdpRule: snn_core::Plasticity {
    /// Multiplies every amplitude by `scale` from now on (1 = the configured rates).
    fn set_rate_scale(&mut self, scale: f64);
    /// Forgets all spike history (traces to zero).
    fn reset_traces(&mut self);
}

pub(crate) fn check_pos(name: &'static str, v: f64) -> Result<(), StdpError> {
    Ok(snn_types::plasticity::check_pos(name, v)?)
}

pub(crate) fn check_nonneg(name: &'static str, v: f64) -> Result<(), StdpError> {
    Ok(snn_types::plasticity::check_nonneg(name, v)?)
}

impl From<snn_types::plasticity::ParamError> for StdpError {
    fn from(e: snn_types::plasticity::ParamError) -> Self {
        StdpError::Param {
            name: e.name,
            reason: e.reason,
        }
    }
}
