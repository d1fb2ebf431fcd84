//! The rsmpi implementation.

use mpi::collective::SystemOperation;
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
    /// Words per rank of the fixed-size all-gather (a length word plus values).
    slot: usize,
    send_buf: Vec<u32>,
    recv_buf: Vec<u32>,
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
            slot: 16,
            send_buf: Vec::new(),
            recv_buf: Vec::new(),
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
        // One MPI_Allgather of fixed-size slots per call in the steady state: each slot is a
        // length word and up to `slot - 1` values. When some rank's buffer does not fit, every
        // rank learns it from the length words, all grow the slot to the same size and repeat
        // (rare: the slot only grows).
        if send.len() >= u32::MAX as usize {
            return Err(too_long(send.len()));
        }
        loop {
            let slot = self.slot;
            let total = slot
                .checked_mul(self.size)
                .filter(|&t| Count::try_from(t).is_ok())
                .ok_or_else(|| too_long(slot.saturating_mul(self.size)))?;
            self.send_buf.clear();
            self.send_buf.push(send.len() as u32);
            let fit = send.len().min(slot - 1);
            self.send_buf.extend_from_slice(&send[..fit]);
            self.send_buf.resize(slot, 0);
            self.recv_buf.clear();
            self.recv_buf.resize(total, 0);
            self.world
                .all_gather_into(&self.send_buf[..], &mut self.recv_buf[..]);
            let longest = (0..self.size)
                .map(|r| self.recv_buf[r * slot] as usize)
                .max()
                .unwrap_or(0);
            if longest < slot {
                recv.clear();
                counts.clear();
                for r in 0..self.size {
                    let n = self.recv_buf[r * slot] as usize;
                    recv.extend_from_slice(&self.recv_buf[r * slot + 1..r * slot + 1 + n]);
                    counts.push(n);
                }
                return Ok(());
            }
            self.slot = (longest + 1).next_power_of_two();
        }
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
