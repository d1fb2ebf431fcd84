//! The one error type of the crate.

/// Why a NIR file could not be read, imported or exported.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NirError {
    /// The file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The bytes are not a readable HDF5 file (truncated, corrupt, not HDF5).
    #[error("not a readable HDF5 file: {0}")]
    Hdf5(String),
    /// The HDF5 file does not have NIR's layout (a missing `node` group, a node without `type`,
    /// a parameter of the wrong shape, ...). `at` is the HDF5 path.
    #[error("{at}: {message}")]
    Layout {
        /// HDF5 path of the offending object (`/node/nodes/lif1/tau`).
        at: String,
        /// What is wrong.
        message: String,
    },
    /// A node of the graph cannot be mapped onto a `NetworkSpec`.
    #[error("node '{node}' ({kind}): {reason}")]
    Unsupported {
        /// Node name (nested graphs as `outer.inner`).
        node: String,
        /// NIR node type (`LIF`, `Conv2d`, ...).
        kind: String,
        /// Why it cannot be mapped.
        reason: String,
    },
    /// The graph's edges are inconsistent (an edge to a missing node, a cycle of linear nodes,
    /// shapes that do not agree along an edge, ...).
    #[error("graph: {0}")]
    Graph(String),
    /// A `NetworkSpec` cannot be exported (a model or rule NIR has no node for).
    #[error("cannot export: {0}")]
    Export(String),
    /// The spec produced by an import failed validation (a bug if it happens).
    #[error("imported spec is invalid: {0}")]
    Spec(String),
}
