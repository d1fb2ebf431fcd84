//! # snn-learn
//!
//! Learning for the `snn` toolkit.
//!
//! * [`data`]: an IDX reader (plain and gzip), the bundled 8x8 digits set, MNIST and
//!   Fashion-MNIST from a data directory, the N-MNIST subset.
//!
//! ```
//! let (train, test) = snn_learn::data::digits();
//! assert_eq!((train.len(), test.len()), (1437, 360));
//! ```
#![warn(missing_docs)]

pub mod ann;
pub mod arch;
pub mod augment;
pub mod checkpoint;
pub mod conv;
pub mod data;
pub mod export;
pub mod linalg;
pub mod model;
pub mod optim;
pub mod stdp;
pub mod surrogate;
pub mod train;

#[cfg(test)]
thread_local! {
    /// Test hook: the index (1-based) of the pool thread whose start fails, on pools started by
    /// this thread, as if the system had refused it; 0 for none.
    static REFUSE_THREAD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How this crate's worker pools start a thread: [`snn_core::workers::spawn`], which reports a
/// refusal instead of panicking (tests refuse the thread set in `REFUSE_THREAD`).
fn spawn<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    index: usize,
    f: Box<dyn FnOnce() + Send + 'scope>,
) -> std::io::Result<std::thread::ScopedJoinHandle<'scope, ()>> {
    #[cfg(test)]
    if REFUSE_THREAD.with(|r| r.get()) == index {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            "refused by the test hook",
        ));
    }
    snn_core::workers::spawn(scope, index, f)
}

/// Runs `body` with pool thread `index` of this thread refused (see `REFUSE_THREAD`).
#[cfg(test)]
fn with_refused_thread<R>(index: usize, body: impl FnOnce() -> R) -> R {
    REFUSE_THREAD.with(|r| r.set(index));
    let out = body();
    REFUSE_THREAD.with(|r| r.set(0));
    out
}
