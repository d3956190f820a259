//! `AbortHandle`: the right to cancel a task, without its output.

use super::id::Id;
use super::raw::RawTask;
use super::state::ToNotified;

/// Cancels a task without owning its output: what
/// [`JoinHandle::abort_handle`](crate::JoinHandle::abort_handle) and
/// [`JoinSet::spawn`](super::JoinSet::spawn) return. Unlike a `JoinHandle`
/// it can be cloned, and dropping it does nothing to the task.
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
    raw: RawTask,
}

// SAFETY: the handle only touches the task's atomic state and, through
// `schedule`, its scheduler, which is `Send + Sync`.
unsafe impl Send for AbortHandle {}
// SAFETY: as above.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    /// # Safety
    /// The caller hands over one reference to the task.
    pub(super) unsafe fn new(raw: RawTask) -> AbortHandle {
        AbortHandle { raw }
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
        if self.raw.header().state.transition_to_notified_and_cancel() == ToNotified::Schedule {
            // SAFETY: the transition created the Notified reference; ours
            // keeps the task alive while it is scheduled.
            unsafe { self.raw.schedule() }
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
        self.raw.header().state.load().is_complete()
    }

    /// The task's [`Id`].
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let handle = rt.spawn(async {});
    /// assert_eq!(handle.abort_handle().id(), handle.id());
    /// ```
    pub fn id(&self) -> Id {
        Id::new(self.raw.id())
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> AbortHandle {
        self.raw.header().state.ref_inc();
        AbortHandle { raw: self.raw }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: we own a reference and give it up.
        unsafe { self.raw.drop_reference() }
    }
}

impl std::fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .finish()
    }
}
