//! Scoped threads that the system may refuse to start.
//!
//! `std::thread::Scope::spawn` panics when the system will not start a thread (a limit on
//! threads, processes or memory), and that panic can leave the threads that did start waiting
//! forever for a partner. These helpers start threads with
//! [`std::thread::Builder::spawn_scoped`], which reports the refusal instead:
//!
//! * [`run_each`], for independent tasks (a pool): a task whose thread is refused runs on the
//!   calling thread, so every task still runs once, with the same result, on fewer threads;
//! * [`run_all`], for tasks that need each other (ranks that exchange messages): none begins
//!   before every thread has started, and if one is refused none runs and the refusal is
//!   returned.
//!
//! Both take the function that starts a thread ([`Spawn`]): [`spawn`], or in a test one that
//! refuses some threads.

use std::sync::{Mutex, MutexGuard};
use std::thread::{Scope, ScopedJoinHandle};

use crate::barrier::StartGate;

/// Starts a scoped thread that runs a boxed closure, given the thread's index (1-based among
/// the threads of one call), or reports why the system refused it. [`spawn`] is the usual one;
/// a test can pass one that refuses some index.
pub type Spawn = for<'scope, 'env> fn(
    &'scope Scope<'scope, 'env>,
    usize,
    Box<dyn FnOnce() + Send + 'scope>,
) -> std::io::Result<ScopedJoinHandle<'scope, ()>>;

/// Starts a scoped thread named `snn-worker-<index>` with
/// [`std::thread::Builder::spawn_scoped`]: a [`Spawn`] that returns the system's refusal as an
/// error instead of panicking.
pub fn spawn<'scope>(
    scope: &'scope Scope<'scope, '_>,
    index: usize,
    f: Box<dyn FnOnce() + Send + 'scope>,
) -> std::io::Result<ScopedJoinHandle<'scope, ()>> {
    crate::barrier::spawn_worker(scope, index, f)
}

/// Runs `body` with the `index`-th thread (1-based) that [`spawn`] or the engine starts from
/// this thread refused, as the system would refuse it: for tests of code that starts threads.
/// Other threads are not affected.
pub fn with_refused_thread<R>(index: usize, body: impl FnOnce() -> R) -> R {
    crate::barrier::FAIL_WORKER_START.with(|f| f.set(index));
    let out = body();
    crate::barrier::FAIL_WORKER_START.with(|f| f.set(0));
    out
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` on every task and returns the results in task order. The first task runs on the
/// calling thread, task `i` (from 1) on a thread of its own started by `spawn` with index `i`.
/// If the system refuses a thread, no further one is started and the calling thread runs the
/// tasks of the threads that did not start: every task runs exactly once, whatever is refused.
/// A task's panic is resumed on the calling thread once every thread has finished (as
/// [`std::thread::scope`] does).
pub fn run_each<T, R, F>(tasks: Vec<T>, f: F, spawn: Spawn) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let n = tasks.len();
    // A task waits in its cell until it runs: a refused thread's task is still there for the
    // calling thread.
    let tasks: Vec<Mutex<Option<T>>> = tasks.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let results: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let run = |i: usize| {
        let task = lock(&tasks[i]).take();
        if let Some(task) = task {
            let r = f(task);
            *lock(&results[i]) = Some(r);
        }
    };
    std::thread::scope(|s| {
        let run = &run;
        let mut handles = Vec::new();
        for i in 1..n {
            match spawn(s, i, Box::new(move || run(i))) {
                Ok(h) => handles.push(h),
                Err(_) => break,
            }
        }
        // Task 0, then those whose thread was refused.
        (0..n.min(1)).chain(handles.len() + 1..n).for_each(run);
        for h in handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    results
        .into_iter()
        .map(|r| {
            r.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every task ran")
        })
        .collect()
}

/// The system refused the thread of task `task` of [`run_all`]; no task ran.
#[derive(Debug, thiserror::Error)]
#[error("the system refused to start the thread of task {task} of {tasks}: {error}")]
pub struct Refused {
    /// The task (0-based) whose thread did not start.
    pub task: usize,
    /// The number of tasks.
    pub tasks: usize,
    /// The system's reason.
    pub error: std::io::Error,
}

/// Runs `f` on every task, each on a thread of its own started by `spawn` (index `i + 1` for
/// task `i`), and returns the results in task order (`Err` holds a task's panic). The threads
/// wait at a start gate until all have started, so no task begins (and waits for a partner that
/// never comes) unless every one can run: if the system refuses a thread, the threads that did
/// start return without calling `f` and the refusal is returned.
pub fn run_all<T, R, F>(
    tasks: Vec<T>,
    f: F,
    spawn: Spawn,
) -> Result<Vec<std::thread::Result<R>>, Refused>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let n = tasks.len();
    let gate = StartGate::default();
    let mut out: Vec<Option<R>> = (0..n).map(|_| None).collect();
    let joined = std::thread::scope(|s| {
        let (f, gate) = (&f, &gate);
        let mut handles = Vec::with_capacity(n);
        for (i, (task, slot)) in tasks.into_iter().zip(out.iter_mut()).enumerate() {
            let started = spawn(
                s,
                i + 1,
                Box::new(move || {
                    if gate.wait() {
                        *slot = Some(f(task));
                    }
                }),
            );
            match started {
                Ok(h) => handles.push(h),
                Err(error) => {
                    gate.open(false);
                    return Err(Refused {
                        task: i,
                        tasks: n,
                        error,
                    });
                }
            }
        }
        gate.open(true);
        Ok(handles.into_iter().map(|h| h.join()).collect::<Vec<_>>())
    })?;
    Ok(joined
        .into_iter()
        .zip(out)
        .map(|(j, r)| j.map(|()| r.expect("a started task ran")))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Refuses thread 3 and every later one.
    fn refuse_from_3<'scope>(
        scope: &'scope Scope<'scope, '_>,
        index: usize,
        f: Box<dyn FnOnce() + Send + 'scope>,
    ) -> std::io::Result<ScopedJoinHandle<'scope, ()>> {
        if index >= 3 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "refused by the test",
            ));
        }
        spawn(scope, index, f)
    }

    #[test]
    fn run_each_runs_every_task_once_when_threads_are_refused() {
        for n in [0, 1, 2, 3, 7] {
            let calls = AtomicUsize::new(0);
            let square = |x: usize| {
                calls.fetch_add(1, Ordering::SeqCst);
                x * x
            };
            let want: Vec<usize> = (0..n).map(|x| x * x).collect();
            assert_eq!(run_each((0..n).collect(), square, spawn), want);
            assert_eq!(run_each((0..n).collect(), square, refuse_from_3), want);
            assert_eq!(calls.load(Ordering::SeqCst), 2 * n, "{n} tasks");
        }
    }

    #[test]
    fn run_all_runs_nothing_when_a_thread_is_refused() {
        let calls = AtomicUsize::new(0);
        let f = |x: usize| {
            calls.fetch_add(1, Ordering::SeqCst);
            x + 1
        };
        let ok = run_all(vec![1, 2], f, refuse_from_3).unwrap();
        assert_eq!(
            ok.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>(),
            [2, 3]
        );
        // Task 2 is thread 3: tasks 0 and 1 started and must not run.
        let e = run_all(vec![1, 2, 3, 4], f, refuse_from_3).unwrap_err();
        assert_eq!((e.task, e.tasks), (2, 4));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
