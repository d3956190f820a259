//! `AbortHandle`: the right to cancel a task, without its output.

use std::sync::Arc;

use super::id::Id;
use super::local::TaskWaker;
use super::raw::RawTask;
use super::state::ToNotified;

/// Cancels a task without owning its output: what
/// [`JoinHandle::abort_handle`](crate::JoinHandle::abort_handle),
/// [`LocalJoinHandle::abort_handle`](super::LocalJoinHandle::abort_handle) and
/// [`JoinSet::spawn`](super::JoinSet::spawn) return. Unlike a `JoinHandle`
/// it can be cloned, and dropping it does nothing to the task. It is
/// `Send + Sync` for every kind of task, a `!Send` local one included.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let handle = runtime::spawn(std::future::pending::<()>());
///     let abort = handle.abort_handle();
///     abort.abort();
///     assert!(handle.await.unwrap_err().is_cancelled());
///     assert!(abort.is_finished());
/// });
/// ```
pub struct AbortHandle {
    task: Target,
}

/// Which kind of task the handle cancels.
enum Target {
    /// A task of the runtime's scheduler: one counted reference to it.
    Spawned(RawTask),
    /// A `LocalSet` task: its waker, which carries the cancel request and
    /// the finished flag (see `local/ready.rs`), and is `Send + Sync`.
    Local(Arc<TaskWaker>),
}

// SAFETY: for a spawned task the handle only touches the task's atomic state
// and, through `schedule`, its scheduler, which is `Send + Sync`; a local
// task's `TaskWaker` is `Send + Sync` itself (atomics and a mutex).
unsafe impl Send for AbortHandle {}
// SAFETY: as above.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    /// # Safety
    /// The caller hands over one reference to the task.
    pub(super) unsafe fn new(raw: RawTask) -> AbortHandle {
        AbortHandle {
            task: Target::Spawned(raw),
        }
    }

    /// The handle of a `LocalSet` task, given its waker.
    pub(super) fn local(waker: Arc<TaskWaker>) -> AbortHandle {
        AbortHandle {
            task: Target::Local(waker),
        }
    }

    /// Cancels the task, as [`JoinHandle::abort`](crate::JoinHandle::abort).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(std::future::pending::<()>());
    ///     handle.abort_handle().abort();
    ///     assert!(handle.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        match &self.task {
            Target::Spawned(raw) => {
                if raw.header().state.transition_to_notified_and_cancel() == ToNotified::Schedule {
                    // SAFETY: the transition created the Notified reference;
                    // ours keeps the task alive while it is scheduled.
                    unsafe { raw.schedule() }
                }
            }
            Target::Local(waker) => waker.request_abort(),
        }
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(async {});
    ///     let abort = handle.abort_handle();
    ///     handle.await.unwrap();
    ///     assert!(abort.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.task {
            Target::Spawned(raw) => raw.header().state.load().is_complete(),
            Target::Local(waker) => waker.is_finished(),
        }
    }

    /// The task's [`Id`].
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let handle = rt.spawn(async {});
    /// assert_eq!(handle.abort_handle().id(), handle.id());
    /// ```
    pub fn id(&self) -> Id {
        match &self.task {
            Target::Spawned(raw) => Id::new(raw.id()),
            Target::Local(waker) => Id::new(waker.id()),
        }
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> AbortHandle {
        let task = match &self.task {
            Target::Spawned(raw) => {
                raw.header().state.ref_inc();
                Target::Spawned(*raw)
            }
            Target::Local(waker) => Target::Local(Arc::clone(waker)),
        };
        AbortHandle { task }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        if let Target::Spawned(raw) = &self.task {
            // SAFETY: we own a reference and give it up.
            unsafe { raw.drop_reference() }
        }
    }
}

impl std::fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .finish()
    }
}
