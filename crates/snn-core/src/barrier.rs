//! A step barrier that spins briefly, then blocks.
//!
//! `std::sync::Barrier` always parks through a mutex and condition variable, which costs tens of
//! microseconds per step on a small VM, more than a 4,000-neuron step itself. This barrier first
//! spins for at most [`SPIN_LIMIT`] (the common case when all threads have similar work), then
//! falls back to blocking so that an oversubscribed machine is not burned by busy-waiting.
//! The last thread to arrive takes the lock and wakes the others only when one of them is
//! actually blocked (counted in `sleepers`), so a step where every thread spun costs no system
//! call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Longest a thread spins before it blocks.
pub const SPIN_LIMIT: Duration = Duration::from_micros(50);

/// A reusable barrier for a fixed number of threads.
#[derive(Debug)]
pub struct StepBarrier {
    n: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// Threads blocked (or about to block) on `cv`.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    cv: Condvar,
}

impl StepBarrier {
    /// A barrier for `n` threads.
    pub fn new(n: usize) -> Self {
        Self {
            n,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            cv: Condvar::new(),
        }
    }

    /// Blocks until all `n` threads have called `wait` for this generation.
    pub fn wait(&self) {
        let gen_now = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            self.arrived.store(0, Ordering::Relaxed);
            // SeqCst on both sides (this increment then the `sleepers` load; a sleeper's
            // increment of `sleepers` then its `generation` load): either the sleeper sees the
            // new generation and does not wait, or we see the sleeper and wake it under the lock.
            self.generation.fetch_add(1, Ordering::SeqCst);
            if self.sleepers.load(Ordering::SeqCst) > 0 {
                drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
                self.cv.notify_all();
            }
            return;
        }
        let start = Instant::now();
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == gen_now {
            std::hint::spin_loop();
            spins += 1;
            if spins.is_multiple_of(64) && start.elapsed() > SPIN_LIMIT {
                let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
                self.sleepers.fetch_add(1, Ordering::SeqCst);
                while self.generation.load(Ordering::SeqCst) == gen_now {
                    guard = self.cv.wait(guard).unwrap_or_else(|e| e.into_inner());
                }
                self.sleepers.fetch_sub(1, Ordering::SeqCst);
                return;
            }
        }
    }
}

/// A start signal for a run's worker threads: each waits at the gate until the coordinator has
/// started all of them, then runs, or returns at once if one could not be started (so no
/// thread is left waiting at a [`StepBarrier`] for a partner that never came).
#[derive(Debug, Default)]
pub(crate) struct StartGate {
    state: Mutex<Option<bool>>,
    cv: Condvar,
}

impl StartGate {
    /// Blocks until [`open`](Self::open); returns whether to run.
    pub(crate) fn wait(&self) -> bool {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(go) = *g {
                return go;
            }
            g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Releases the waiting threads: to run (`go`) or to return.
    pub(crate) fn open(&self, go: bool) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(go);
        self.cv.notify_all();
    }
}

thread_local! {
    /// The index (1-based) of the worker thread whose start fails, among the threads this thread
    /// starts, as if the system had refused it; 0 for none (see
    /// [`crate::workers::with_refused_thread`]).
    pub(crate) static FAIL_WORKER_START: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Starts a scoped worker thread named for the engine, or reports why the system refused it.
pub(crate) fn spawn_worker<'scope, F>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    index: usize,
    f: F,
) -> std::io::Result<std::thread::ScopedJoinHandle<'scope, ()>>
where
    F: FnOnce() + Send + 'scope,
{
    if FAIL_WORKER_START.with(|f| f.get()) == index {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            "refused on request (workers::with_refused_thread)",
        ));
    }
    std::thread::Builder::new()
        .name(format!("snn-worker-{index}"))
        .spawn_scoped(scope, f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn no_thread_passes_before_all_arrive() {
        let b = StepBarrier::new(3);
        let counter = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for round in 0..200u64 {
                        counter.fetch_add(1, Ordering::SeqCst);
                        b.wait();
                        // Everyone has incremented for this round before anyone reads.
                        assert!(counter.load(Ordering::SeqCst) >= 3 * (round + 1));
                        b.wait();
                    }
                });
            }
        });
        assert_eq!(counter.load(Ordering::SeqCst), 600);
    }

    /// One thread arrives long after the others, so they block (past the spin limit) and must be
    /// woken: no wake-up is lost.
    #[test]
    fn blocked_threads_are_woken() {
        let b = StepBarrier::new(3);
        let passed = AtomicU64::new(0);
        std::thread::scope(|s| {
            for i in 0..3 {
                let (b, passed) = (&b, &passed);
                s.spawn(move || {
                    for round in 0..20u64 {
                        if i == round as usize % 3 {
                            std::thread::sleep(SPIN_LIMIT * 4);
                        }
                        b.wait();
                        passed.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(passed.load(Ordering::SeqCst), 60);
        assert_eq!(b.sleepers.load(Ordering::SeqCst), 0);
    }
}
