//! Tasks: spawning, joining, yielding.
//!
//! The machinery, one idea per file:
//! - `core.rs`: the single allocation (header, scheduler, stage, join waker);
//! - `state.rs`: the atomic state word and its transitions;
//! - `raw.rs`: the untyped task pointer and the vtable behind it;
//! - `refs.rs`: the counted references schedulers hold (`Task`, `Notified`);
//! - `harness.rs`: poll, completion, cancellation, joining, freeing;
//! - `waker.rs`: the task's `Waker`;
//! - `join.rs` and `error.rs`: the public `JoinHandle` and `JoinError`;
//! - `abort.rs`, `id.rs`, `join_set.rs`: `AbortHandle`, task `Id`s, `JoinSet`;
//! - `local/`: `LocalSet` and `spawn_local` for `!Send` futures;
//! - `task_local.rs`: `task_local!` keys, `LocalKey` and its scope future;
//! - `loom_models.rs`: loom models of the whole protocol.

mod abort;
mod core;
mod error;
mod harness;
mod id;
mod join;
mod join_set;
mod local;
#[cfg(all(test, loom))]
mod loom_models;
pub(crate) mod raw;
mod refs;
pub(crate) mod state;
mod task_local;
#[cfg(test)]
pub(crate) mod test_util;
mod waker;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use crate::executor::{block_in_place, Handle};
pub use abort::AbortHandle;
pub use error::JoinError;
pub use id::{id, try_id, Id};
pub use join::JoinHandle;
pub use join_set::JoinSet;
pub use local::{spawn_local, LocalJoinHandle, LocalSet, RunUntil};
pub use task_local::{AccessError, LocalKey, TaskLocalFuture};

/// Spawns a task on the current runtime. The task starts running in the
/// background right away; the returned handle can be awaited for its output,
/// or dropped to let it run detached.
///
/// # Panics
/// Outside a runtime context (see [`Handle::enter`]).
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let handles: Vec<_> = (0..10).map(|i| runtime::spawn(async move { i * 2 })).collect();
///     let mut sum = 0;
///     for h in handles {
///         sum += h.await.unwrap();
///     }
///     assert_eq!(sum, 90);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    crate::context::with_current("runtime::spawn", |h| h.spawn(future))
}

/// Runs a blocking closure on the runtime's blocking pool and returns a handle
/// to its result. Use it for file I/O, blocking libraries and long
/// computations, which would otherwise stall a worker thread.
///
/// # Panics
/// Outside a runtime context.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let digits = runtime::spawn_blocking(|| (1..=20u64).product::<u64>().to_string().len());
///     assert_eq!(digits.await.unwrap(), 19);
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    crate::context::with_current("runtime::spawn_blocking", |h| h.spawn_blocking(f))
}

/// Yields to the scheduler once: the task goes to the back of its worker's
/// run queue and other tasks run before it is polled again.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     for _ in 0..3 {
///         runtime::task::yield_now().await;
///     }
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// Future returned by [`yield_now`].
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let fut: runtime::task::YieldNow = runtime::task::yield_now();
///     fut.await;
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // On a worker, the wake-up is deferred until the worker has looked at
        // every other source of work (its queue, the inject queue, other
        // workers, the reactor): a task yielding in a loop then cannot keep
        // remote tasks waiting. Elsewhere, wake at once; the harness re-queues
        // a task that woke itself at the back of the queue.
        let deferred = crate::context::with_worker(|w| w.is_some_and(|w| w.defer(cx.waker())));
        if !deferred {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}
