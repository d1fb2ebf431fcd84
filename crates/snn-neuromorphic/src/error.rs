//! Typed errors: architecture files, mapping (compile) and running.

/// Why an architecture description could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArchError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// Not valid TOML for an `ArchSpec` (the message names the field, line and column).
    #[error("{origin}: invalid architecture: {message}")]
    Parse {
        /// File name or `<preset NAME>`.
        origin: String,
        /// Parser message.
        message: String,
    },
    /// Parsed, but values are out of range; every problem is listed as `field: message`.
    #[error("{origin}: invalid architecture ({} problem{}): {}", issues.len(), if issues.len() == 1 { "" } else { "s" }, issues.join("; "))]
    Invalid {
        /// File name.
        origin: String,
        /// Every problem, `field: message`.
        issues: Vec<String>,
    },
    /// No preset of that name.
    #[error(
        "unknown architecture preset '{name}' (presets: loihi, truenorth, loihi_nahuku, truenorth_ns16e; or give a .toml file)"
    )]
    UnknownPreset {
        /// The name asked for.
        name: String,
    },
}

/// One architecture limit a network violates.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Violation {
    /// What is at fault: `population 'exc'`, `projections[2] (exc->inh)`, `core 17`.
    pub at: String,
    /// The limit, as its `ArchSpec` field (`core.input_axons`).
    pub limit: String,
    /// What the network needs.
    pub needed: u64,
    /// What the architecture allows.
    pub allowed: u64,
    /// Extra context.
    pub note: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} needs {} but the limit is {}",
            self.at, self.limit, self.needed, self.allowed
        )?;
        if !self.note.is_empty() {
            write!(f, " ({})", self.note)?;
        }
        Ok(())
    }
}

/// Why a network could not be compiled onto an architecture.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MapError {
    /// The network spec is invalid.
    #[error(transparent)]
    Spec(#[from] snn_types::SpecError),
    /// The spec uses features the chip model cannot run; every one is listed with its path.
    #[error("not supported on the chip ({} problem{}): {}", issues.len(), if issues.len() == 1 { "" } else { "s" }, issues.join("; "))]
    Unsupported {
        /// `path: reason` for each.
        issues: Vec<String>,
    },
    /// Compiling and loading would need more memory than the budget allows (refused before
    /// allocating; see [`crate::memory`]).
    #[error(transparent)]
    Memory(#[from] snn_types::budget::TooLarge),
    /// The network does not fit; every violated limit is listed with what is at fault.
    #[error("the network does not fit on '{arch}' ({} violation{}): {}{}", violations.len(), if violations.len() == 1 { "" } else { "s" }, violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("; "), fixes_text(fixes))]
    DoesNotFit {
        /// The architecture's name.
        arch: String,
        /// Every violated limit.
        violations: Vec<Violation>,
        /// The smallest changes found that make it fit, each verified by placing again (more
        /// chips, fewer neurons per core, fewer weight bits); empty when none of them does.
        fixes: Vec<String>,
    },
    /// A mapping file could not be used; the message names the entry (index and text).
    #[error("mapping {origin}: {message}")]
    Mapping {
        /// The file (or `<mapping>`).
        origin: String,
        /// What is wrong and where.
        message: String,
    },
    /// A compile option is out of range for the architecture.
    #[error("{option}: {message}")]
    BadOption {
        /// The option (`num_weight_bits`, `max_neurons_per_core`).
        option: &'static str,
        /// What is wrong, with the allowed range.
        message: String,
    },
}

fn fixes_text(fixes: &[String]) -> String {
    if fixes.is_empty() {
        "; no single change tried (more chips, fewer neurons per core, fewer weight bits) makes it fit".into()
    } else {
        format!("; smallest change that fits: {}", fixes.join(", or "))
    }
}

/// Why a run request was refused (inputs that do not match the program).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    /// An input spike names a neuron that is not in an input population.
    #[error("input spike {index}: neuron {neuron} is not in an input population")]
    NotInput {
        /// Position of the spike in the given list.
        index: usize,
        /// Global neuron index.
        neuron: u32,
    },
    /// A probe names an input neuron (no state on the chip) or a neuron past the network.
    #[error(
        "probe: neuron {neuron} has no state on the chip (an input neuron, or past the network's end)"
    )]
    NotProbeable {
        /// Global index.
        neuron: u32,
    },
    /// Loading the program or running the requested steps would need more memory than the
    /// budget allows (refused before allocating; see [`crate::memory`]).
    #[error(transparent)]
    Memory(#[from] snn_types::budget::TooLarge),
    /// A spike file could not be read or parsed.
    #[error("{path}: {message}")]
    SpikeFile {
        /// File.
        path: String,
        /// What is wrong, with the line number.
        message: String,
    },
}
