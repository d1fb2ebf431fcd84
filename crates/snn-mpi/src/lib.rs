//! # snn-mpi
//!
//! The MPI communicator of the `snn` toolkit: [`MpiComm`] implements
//! [`snn_core::comm::Communicator`] over the world communicator of an MPI job (rsmpi), so that
//! [`snn_core::distributed::run_rank`] runs one rank per MPI process. Everything that links MPI is
//! behind this crate's `mpi` feature: without it the crate builds (and `cargo test --workspace`
//! runs) on a machine with no MPI library, and offers only [`launch_ranks`], the launcher
//! detection.
//!
//! ```no_run
//! # #[cfg(feature = "mpi")]
//! # fn main() {
//! use snn_core::comm::Communicator;
//!
//! let (_universe, mut comm) = snn_mpi::MpiComm::init().expect("MPI");
//! let n = comm.sum_u64(1).unwrap();
//! assert_eq!(n as usize, comm.size());
//! # }
//! # #[cfg(not(feature = "mpi"))]
//! # fn main() {}
//! ```
#![warn(missing_docs)]

pub use snn_core::comm::launched_ranks as launch_ranks;

#[cfg(feature = "mpi")]
mod imp;

#[cfg(feature = "mpi")]
pub use imp::{MpiComm, MpiError};

/// Whether this build links MPI (the `mpi` feature).
pub const ENABLED: bool = cfg!(feature = "mpi");
