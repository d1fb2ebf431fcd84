//! Communicators: how the ranks of a distributed run talk to each other.
//!
//! A distributed run splits the neurons over `size` ranks (processes, or threads standing in for
//! them). Once per epoch every rank needs every other rank's spikes; at the end the statistics
//! are reduced. [`Communicator`] is that whole interface: rank, size, an all-gather of
//! variable-length `u32` buffers, sums and maxima of `u64`/`f64`, a barrier and an abort.
//!
//! Two implementations live here: [`Local`] (one rank, the default: every collective is a copy)
//! and [`DryRun`] (N ranks simulated inside one process, one thread each, for tests and for
//! planning). The MPI implementation is in the `snn-mpi` crate, behind a feature, so that nothing
//! here needs an MPI library.
//!
//! ```
//! use snn_core::comm::{Communicator, DryRun};
//!
//! let ranks = DryRun::group(3);
//! let sums: Vec<u64> = std::thread::scope(|s| {
//!     let handles: Vec<_> = ranks
//!         .into_iter()
//!         .map(|mut c| s.spawn(move || c.sum_u64(c.rank() as u64 + 1).unwrap()))
//!         .collect();
//!     handles.into_iter().map(|h| h.join().unwrap()).collect()
//! });
//! assert_eq!(sums, vec![6, 6, 6]);
//! ```

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Why a collective operation did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommError {
    /// Another rank stopped the run (its reason is given).
    #[error("rank {rank} stopped the run: {reason}")]
    Aborted {
        /// The rank that failed.
        rank: usize,
        /// What it reported.
        reason: String,
    },
    /// The transport failed.
    #[error("communication failed: {0}")]
    Failed(String),
    /// The network or request cannot run distributed as asked.
    #[error("{0}")]
    Unsupported(String),
}

/// The collective operations a distributed run needs. Every rank must call the same collectives
/// in the same order (as with MPI).
pub trait Communicator {
    /// This rank, `0..size`.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn size(&self) -> usize;
    /// All-gather of variable-length buffers: on return `recv` holds every rank's `send`
    /// concatenated in rank order and `counts[r]` the length of rank `r`'s buffer. Both vectors
    /// are reused (cleared and refilled) so a caller that keeps them does not allocate per call.
    fn all_gather_u32(
        &mut self,
        send: &[u32],
        recv: &mut Vec<u32>,
        counts: &mut Vec<usize>,
    ) -> Result<(), CommError>;
    /// Sum of `x` over all ranks.
    fn sum_u64(&mut self, x: u64) -> Result<u64, CommError>;
    /// Maximum of `x` over all ranks.
    fn max_u64(&mut self, x: u64) -> Result<u64, CommError>;
    /// Sum of `x` over all ranks (order of addition unspecified: for statistics only).
    fn sum_f64(&mut self, x: f64) -> Result<f64, CommError>;
    /// Maximum of `x` over all ranks.
    fn max_f64(&mut self, x: f64) -> Result<f64, CommError>;
    /// Returns when every rank has called it.
    fn barrier(&mut self) -> Result<(), CommError>;
    /// Stops every rank: the others' pending and later collectives fail with
    /// [`CommError::Aborted`] (for MPI, `MPI_Abort` ends the whole job and does not return).
    fn abort(&mut self, reason: &str);
    /// Minimum of `x` over all ranks.
    fn min_u64(&mut self, x: u64) -> Result<u64, CommError> {
        Ok(u64::MAX - self.max_u64(u64::MAX - x)?)
    }
}

/// One rank: every collective is the identity.
#[derive(Debug, Default, Clone, Copy)]
pub struct Local;

impl Communicator for Local {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_gather_u32(
        &mut self,
        send: &[u32],
        recv: &mut Vec<u32>,
        counts: &mut Vec<usize>,
    ) -> Result<(), CommError> {
        recv.clear();
        recv.extend_from_slice(send);
        counts.clear();
        counts.push(send.len());
        Ok(())
    }
    fn sum_u64(&mut self, x: u64) -> Result<u64, CommError> {
        Ok(x)
    }
    fn max_u64(&mut self, x: u64) -> Result<u64, CommError> {
        Ok(x)
    }
    fn sum_f64(&mut self, x: f64) -> Result<f64, CommError> {
        Ok(x)
    }
    fn max_f64(&mut self, x: f64) -> Result<f64, CommError> {
        Ok(x)
    }
    fn barrier(&mut self) -> Result<(), CommError> {
        Ok(())
    }
    fn abort(&mut self, _reason: &str) {}
}

#[derive(Debug, Default)]
struct DryState {
    generation: u64,
    arrived: usize,
    bufs: Vec<Vec<u32>>,
    u64s: Vec<u64>,
    f64s: Vec<f64>,
    aborted: Option<(usize, String)>,
}

#[derive(Debug)]
struct DryShared {
    size: usize,
    state: Mutex<DryState>,
    cv: Condvar,
}

/// One of `size` ranks simulated inside one process (run each in its own thread). Collectives
/// meet in shared memory; [`abort`](Communicator::abort) wakes every waiting rank with
/// [`CommError::Aborted`], so a failing rank never leaves the others hanging.
#[derive(Debug, Clone)]
pub struct DryRun {
    rank: usize,
    shared: Arc<DryShared>,
}

impl DryRun {
    /// The `size` ranks of one group (at least one), rank `r` at index `r`.
    pub fn group(size: usize) -> Vec<DryRun> {
        let size = size.max(1);
        let shared = Arc::new(DryShared {
            size,
            state: Mutex::new(DryState {
                bufs: vec![Vec::new(); size],
                u64s: vec![0; size],
                f64s: vec![0.0; size],
                ..DryState::default()
            }),
            cv: Condvar::new(),
        });
        (0..size)
            .map(|rank| DryRun {
                rank,
                shared: Arc::clone(&shared),
            })
            .collect()
    }

    fn lock(&self) -> Result<MutexGuard<'_, DryState>, CommError> {
        let st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        match &st.aborted {
            Some((rank, reason)) => Err(CommError::Aborted {
                rank: *rank,
                reason: reason.clone(),
            }),
            None => Ok(st),
        }
    }

    /// Waits until every rank has arrived (the guard is released while waiting).
    fn wait<'a>(
        &'a self,
        mut st: MutexGuard<'a, DryState>,
    ) -> Result<MutexGuard<'a, DryState>, CommError> {
        let generation = st.generation;
        st.arrived += 1;
        if st.arrived == self.shared.size {
            st.arrived = 0;
            st.generation += 1;
            self.shared.cv.notify_all();
        } else {
            while st.generation == generation && st.aborted.is_none() {
                st = self.shared.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }
        match &st.aborted {
            Some((rank, reason)) => Err(CommError::Aborted {
                rank: *rank,
                reason: reason.clone(),
            }),
            None => Ok(st),
        }
    }

    /// Deposits with `put`, waits for all, reads with `get`, waits again (so that no rank
    /// overwrites a slot before every rank has read it).
    fn exchange<T>(
        &self,
        put: impl FnOnce(&mut DryState),
        get: impl FnOnce(&DryState) -> T,
    ) -> Result<T, CommError> {
        let mut st = self.lock()?;
        put(&mut st);
        let st = self.wait(st)?;
        let out = get(&st);
        drop(self.wait(st)?);
        Ok(out)
    }
}

impl Communicator for DryRun {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.shared.size
    }
    fn all_gather_u32(
        &mut self,
        send: &[u32],
        recv: &mut Vec<u32>,
        counts: &mut Vec<usize>,
    ) -> Result<(), CommError> {
        let r = self.rank;
        self.exchange(
            |st| {
                st.bufs[r].clear();
                st.bufs[r].extend_from_slice(send);
            },
            |st| {
                recv.clear();
                counts.clear();
                for b in &st.bufs {
                    recv.extend_from_slice(b);
                    counts.push(b.len());
                }
            },
        )
    }
    fn sum_u64(&mut self, x: u64) -> Result<u64, CommError> {
        let r = self.rank;
        self.exchange(
            |st| st.u64s[r] = x,
            |st| st.u64s.iter().fold(0u64, |a, &b| a.wrapping_add(b)),
        )
    }
    fn max_u64(&mut self, x: u64) -> Result<u64, CommError> {
        let r = self.rank;
        self.exchange(
            |st| st.u64s[r] = x,
            |st| st.u64s.iter().copied().max().unwrap_or(0),
        )
    }
    fn sum_f64(&mut self, x: f64) -> Result<f64, CommError> {
        let r = self.rank;
        self.exchange(|st| st.f64s[r] = x, |st| st.f64s.iter().sum())
    }
    fn max_f64(&mut self, x: f64) -> Result<f64, CommError> {
        let r = self.rank;
        self.exchange(
            |st| st.f64s[r] = x,
            |st| st.f64s.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    }
    fn barrier(&mut self) -> Result<(), CommError> {
        let st = self.lock()?;
        self.wait(st).map(drop)
    }
    fn abort(&mut self, reason: &str) {
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.aborted.is_none() {
            st.aborted = Some((self.rank, reason.to_string()));
        }
        self.shared.cv.notify_all();
    }
}

/// The number of ranks of an MPI launch that started this process, read from the launcher's
/// environment (`OMPI_COMM_WORLD_SIZE` for Open MPI, `PMI_SIZE` for MPICH/Hydra and Slurm's PMI,
/// `PMIX_SIZE`/`SLURM_NTASKS` alongside `PMIX_RANK` for PMIx launchers); `None` when none is set.
/// A binary built without MPI uses it to refuse to run N independent copies.
pub fn launched_ranks() -> Option<usize> {
    launched_ranks_from(|k| std::env::var(k).ok())
}

/// [`launched_ranks`] over any environment lookup (for tests).
pub fn launched_ranks_from(get: impl Fn(&str) -> Option<String>) -> Option<usize> {
    let num = |k: &str| get(k).and_then(|v| v.trim().parse::<usize>().ok());
    num("OMPI_COMM_WORLD_SIZE")
        .or_else(|| num("PMI_SIZE"))
        .or_else(|| {
            get("PMIX_RANK")
                .is_some()
                .then(|| num("PMIX_SIZE").or_else(|| num("SLURM_NTASKS")))
                .flatten()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_gathers_in_rank_order() {
        let ranks = DryRun::group(4);
        let out: Vec<(Vec<u32>, Vec<usize>)> = std::thread::scope(|s| {
            let hs: Vec<_> = ranks
                .into_iter()
                .map(|mut c| {
                    s.spawn(move || {
                        let (mut recv, mut counts) = (Vec::new(), Vec::new());
                        for round in 0..50u32 {
                            let send: Vec<u32> = (0..c.rank() as u32).map(|i| i + round).collect();
                            c.all_gather_u32(&send, &mut recv, &mut counts).unwrap();
                        }
                        (recv, counts)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (recv, counts) in out {
            assert_eq!(counts, vec![0, 1, 2, 3]);
            assert_eq!(recv, vec![49, 49, 50, 49, 50, 51]);
        }
    }

    #[test]
    fn abort_wakes_waiting_ranks() {
        let mut ranks = DryRun::group(3);
        let mut failing = ranks.pop().unwrap();
        let errs: Vec<CommError> = std::thread::scope(|s| {
            let hs: Vec<_> = ranks
                .into_iter()
                .map(|mut c| s.spawn(move || c.barrier().unwrap_err()))
                .collect();
            std::thread::sleep(std::time::Duration::from_millis(20));
            failing.abort("disk full");
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for e in errs {
            assert_eq!(
                e,
                CommError::Aborted {
                    rank: 2,
                    reason: "disk full".into()
                }
            );
        }
    }

    #[test]
    fn reductions() {
        let ranks = DryRun::group(3);
        let out: Vec<(u64, u64, u64, f64)> = std::thread::scope(|s| {
            let hs: Vec<_> = ranks
                .into_iter()
                .map(|mut c| {
                    s.spawn(move || {
                        let r = c.rank() as u64;
                        (
                            c.sum_u64(r).unwrap(),
                            c.max_u64(r * 10).unwrap(),
                            c.min_u64(r + 5).unwrap(),
                            c.max_f64(r as f64 * 0.5).unwrap(),
                        )
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(out.iter().all(|&x| x == (3, 20, 5, 1.0)));
    }

    #[test]
    fn launcher_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(a, _)| *a == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(launched_ranks_from(env(&[])), None);
        assert_eq!(
            launched_ranks_from(env(&[("OMPI_COMM_WORLD_SIZE", "4")])),
            Some(4)
        );
        assert_eq!(launched_ranks_from(env(&[("PMI_SIZE", "2")])), Some(2));
        assert_eq!(
            launched_ranks_from(env(&[("PMIX_RANK", "0"), ("PMIX_SIZE", "3")])),
            Some(3)
        );
        assert_eq!(launched_ranks_from(env(&[("PMIX_SIZE", "3")])), None);
    }
}
