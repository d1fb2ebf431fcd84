//! NIR (the Neuromorphic Intermediate Representation, <https://neuroir.org>) import and export
//! for the snn toolkit.
//!
//! A `.nir` file is HDF5 (read and written with the pure-Rust `hdf5-pure`, no system library).
//! [`read_file`]/[`read_bytes`] give a [`NirGraph`]; [`import_graph`] maps it onto a
//! [`NetworkSpec`] ([`ImportOptions`]: NIR is continuous-time and stores no time step);
//! [`export_spec`] maps a spec back onto a graph and [`write_file`] writes it so that Python's
//! `nir.read()` loads it. `docs/nir.md` lists every node, its equations and its mapping.
//!
//! ```
//! use snn_nir::{ImportOptions, export_spec, import_graph, read_bytes, write_bytes};
//! use snn_types::NetworkSpec;
//!
//! let spec = NetworkSpec::from_toml_str(r#"
//!     dt_ms = 1.0
//!     [[populations]]
//!     name = "in"
//!     size = 2
//!     neuron = { model = "input" }
//!     [[populations]]
//!     name = "out"
//!     size = 2
//!     neuron = { model = "lif_beta", beta = 0.75, threshold = 1.0, reset = "subtract" }
//!     [[projections]]
//!     source = "in"
//!     target = "out"
//!     connectivity = { rule = "dense", weights = [[0.5, 0.0], [0.25, 1.5]] }
//!     delay_ms = 1.0
//! "#).unwrap();
//! let (graph, _notes) = export_spec(&spec).unwrap();
//! let bytes = write_bytes(&graph).unwrap();
//! let back = import_graph(&read_bytes(bytes).unwrap(), &ImportOptions::default()).unwrap();
//! assert_eq!(back.populations, spec.populations);
//! assert_eq!(back.projections[0].connectivity, spec.projections[0].connectivity);
//! ```

#![warn(missing_docs)]

pub mod error;
pub mod export;
pub mod graph;
pub mod hdf;
pub mod import;

use std::path::Path;

pub use error::NirError;
pub use export::export_spec;
pub use graph::{NIR_VERSION, NirGraph, NirNode, NodeKind, Param};
pub use import::{DEFAULT_DT_MS, Discretisation, ImportOptions, import_graph};
use snn_types::NetworkSpec;

/// Largest `.nir` file read (1 GiB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Reads a graph from the bytes of a `.nir` file.
pub fn read_bytes(bytes: Vec<u8>) -> Result<NirGraph, NirError> {
    let tree = hdf::read_tree(bytes)?;
    Ok(NirGraph::from_root(&tree)?.0)
}

/// Reads a graph from a `.nir` file. Errors name the file.
pub fn read_file(path: &Path) -> Result<NirGraph, NirError> {
    let io = |m: String| NirError::Io {
        path: path.display().to_string(),
        message: m,
    };
    // A larger regular file is refused before reading; a special file (`/dev/zero`, a pipe) is
    // read until it ends or passes the limit, so an endless one cannot fill memory.
    let bytes = snn_types::file::read_limited(path, MAX_FILE_BYTES).map_err(|e| match e {
        snn_types::file::FileError::Io { error, .. } => io(error.to_string()),
        other => io(other.to_string()),
    })?;
    read_bytes(bytes).map_err(|e| io(e.to_string()))
}

/// The bytes of a `.nir` file holding `graph`.
pub fn write_bytes(graph: &NirGraph) -> Result<Vec<u8>, NirError> {
    hdf::write_tree(&graph.to_root())
}

/// Writes `graph` to `path` atomically (`snn_types::file::atomic_write`).
pub fn write_file(path: &Path, graph: &NirGraph) -> Result<(), NirError> {
    let bytes = write_bytes(graph)?;
    snn_types::file::atomic_write(path, &bytes).map_err(|e| NirError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Reads and imports a `.nir` file.
pub fn import_file(path: &Path, opts: &ImportOptions) -> Result<NetworkSpec, NirError> {
    let g = read_file(path)?;
    import_graph(&g, opts).map_err(|e| NirError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Exports a spec and writes it to `path` atomically; returns the export's notes.
pub fn export_file(spec: &NetworkSpec, path: &Path) -> Result<Vec<String>, NirError> {
    let (g, notes) = export_spec(spec)?;
    write_file(path, &g)?;
    Ok(notes)
}
