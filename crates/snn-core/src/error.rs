//! Errors of the engine.

use snn_types::SpecError;
use snn_types::budget::TooLarge;

/// Why a network could not be built or driven.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// The spec failed validation (every problem is listed).
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A name did not resolve (only possible for specs that skipped validation).
    #[error("unknown population referenced by {0}")]
    Unknown(String),
    /// A structure exceeds the engine's index limits.
    #[error("network too large: {0}")]
    TooLarge(String),
    /// The estimated memory exceeds the budget (refused before allocating; see
    /// [`crate::memory`]).
    #[error(transparent)]
    Memory(#[from] TooLarge),
    /// A conv or pool projection's shapes disagree (only possible for specs that skipped
    /// validation).
    #[error("inconsistent shapes: {0}")]
    Shape(String),
    /// A run-time request was inconsistent with the network.
    #[error("invalid request: {0}")]
    Request(String),
}
