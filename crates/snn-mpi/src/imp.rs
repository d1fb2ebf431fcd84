//! The rsmpi implementation.

use mpi::collective::SystemOperation;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, CommunicatorCollectives as _};
use mpi::{Count, Threading};
use snn_core::comm::{CommError, Communicator};

/// Why MPI could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MpiError {
    /// `MPI_Init_thread` failed or MPI was already initialised.
    #[error("MPI could not be initialised (already initialised, or no MPI runtime)")]
    Init,
    /// The library cannot give the threading level needed.
    #[error("the MPI library offers threading level {0:?}; snn needs at least Funneled")]
    Threading(Threading),
}

/// The world communicator of an MPI job. Only the thread that created it calls MPI (the
/// engine's coordinating thread; `MPI_THREAD_FUNNELED`).
pub struct MpiComm {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    counts: Vec<Count>,
    displs: Vec<Count>,
}

impl std::fmt::Debug for MpiComm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiComm")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .finish()
    }
}

impl MpiComm {
    /// Initialises MPI (threading level Funneled) and returns the universe (keep it alive: its
    /// drop finalises MPI) and the world communicator.
    pub fn init() -> Result<(Universe, MpiComm), MpiError> {
        let (universe, level) =
            mpi::initialize_with_threading(Threading::Funneled).ok_or(MpiError::Init)?;
        if level < Threading::Funneled {
            return Err(MpiError::Threading(level));
        }
        let world = universe.world();
        let comm = MpiComm {
            rank: world.rank() as usize,
            size: world.size() as usize,
            counts: Vec::new(),
            displs: Vec::new(),
            world,
        };
        Ok((universe, comm))
    }
}

fn too_long(n: usize) -> CommError {
    CommError::Failed(format!(
        "a spike buffer of {n} values exceeds what one MPI message can count ({})",
        Count::MAX
    ))
}

impl Communicator for MpiComm {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn all_gather_u32(
        &mut self,
        send: &[u32],
        recv: &mut Vec<u32>,
        counts: &mut Vec<usize>,
    ) -> Result<(), CommError> {
        let mine = Count::try_from(send.len()).map_err(|_| too_long(send.len()))?;
        // Sizes first (one value per rank), then the variable-length buffers.
        self.counts.clear();
        self.counts.resize(self.size, 0);
        self.world.all_gather_into(&mine, &mut self.counts[..]);
        self.displs.clear();
        let mut total: usize = 0;
        for &c in &self.counts {
            let at = Count::try_from(total).map_err(|_| too_long(total))?;
            self.displs.push(at);
            total += usize::try_from(c).map_err(|_| too_long(0))?;
        }
        recv.clear();
        recv.resize(total, 0);
        {
            let mut part = PartitionMut::new(&mut recv[..], &self.counts[..], &self.displs[..]);
            self.world.all_gather_varcount_into(send, &mut part);
        }
        counts.clear();
        counts.extend(self.counts.iter().map(|&c| c as usize));
        Ok(())
    }
    fn sum_u64(&mut self, x: u64) -> Result<u64, CommError> {
        let mut out = 0u64;
        self.world
            .all_reduce_into(&x, &mut out, SystemOperation::sum());
        Ok(out)
    }
    fn max_u64(&mut self, x: u64) -> Result<u64, CommError> {
        let mut out = 0u64;
        self.world
            .all_reduce_into(&x, &mut out, SystemOperation::max());
        Ok(out)
    }
    fn sum_f64(&mut self, x: f64) -> Result<f64, CommError> {
        let mut out = 0f64;
        self.world
            .all_reduce_into(&x, &mut out, SystemOperation::sum());
        Ok(out)
    }
    fn max_f64(&mut self, x: f64) -> Result<f64, CommError> {
        let mut out = 0f64;
        self.world
            .all_reduce_into(&x, &mut out, SystemOperation::max());
        Ok(out)
    }
    fn barrier(&mut self) -> Result<(), CommError> {
        self.world.barrier();
        Ok(())
    }
    fn abort(&mut self, reason: &str) {
        eprintln!(
            "error: rank {} of {} failed: {reason}; stopping every rank (MPI_Abort)",
            self.rank, self.size
        );
        self.world.abort(1)
    }
}
