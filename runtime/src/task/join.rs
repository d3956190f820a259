//! The `JoinHandle`: the spawner's counted reference to a task, through
//! which it awaits the output, aborts, or detaches (by dropping it).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::abort::AbortHandle;
use super::error::JoinError;
use super::id::Id;
use super::raw::RawTask;
use super::state::ToNotified;

/// An owned permission to await a spawned task's output.
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] if the task panicked or
/// was aborted. Dropping it *detaches* the task: it keeps running.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let handle = runtime::spawn(async { 6 * 7 });
///     assert_eq!(handle.await.unwrap(), 42);
/// });
/// ```
pub struct JoinHandle<T> {
    raw: RawTask,
    _output: PhantomData<T>,
}

impl<T> JoinHandle<T> {
    /// # Safety
    /// The caller hands over the task's `JoinHandle` reference (with
    /// `JOIN_INTEREST`), and `T` is the task's output type.
    pub(super) unsafe fn new(raw: RawTask) -> JoinHandle<T> {
        JoinHandle {
            raw,
            _output: PhantomData,
        }
    }
}

// SAFETY: the handle only moves `T` out (requires `T: Send`) and touches the
// task through its synchronised state.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only allows `abort`/`is_finished`, which touch atomics.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// Cancels the task. If it is not running, its future is dropped the next
    /// time a worker picks it up; if it is running, right after the current
    /// poll. Awaiting the handle then yields a [`JoinError`] for which
    /// [`JoinError::is_cancelled`] is true (unless the task finished first).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(std::future::pending::<()>());
    ///     handle.abort();
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

    /// A handle that can cancel the task but not await it; it can be cloned
    /// and sent elsewhere while this handle is awaited.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(std::future::pending::<()>());
    ///     let abort = handle.abort_handle();
    ///     runtime::spawn(async move { abort.abort() });
    ///     assert!(handle.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        self.raw.header().state.ref_inc();
        // SAFETY: the reference just taken is the AbortHandle's.
        unsafe { AbortHandle::new(self.raw) }
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(async {});
    ///     while !handle.is_finished() {
    ///         runtime::task::yield_now().await;
    ///     }
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.raw.header().state.load().is_complete()
    }

    /// The task's [`Id`], unique within the process: what
    /// [`task::id()`](crate::task::id()) returns inside the task, and what its
    /// [`AbortHandle::id`] returns. (Until 0.2 this returned a bare `u64`;
    /// [`Id::as_u64`] gives the number.)
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let a = rt.spawn(async { runtime::task::id() });
    /// let b = rt.spawn(async {});
    /// assert_ne!(a.id(), b.id());
    /// assert_eq!(a.id(), a.abort_handle().id());
    /// let id: runtime::task::Id = a.id();
    /// assert_eq!(rt.block_on(a).unwrap(), id);
    /// ```
    pub fn id(&self) -> Id {
        Id::new(self.raw.id())
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: we are the JoinHandle, and `out` has the type the vtable
        // entry expects for this task.
        unsafe {
            self.raw
                .try_read_output(&mut out as *mut _ as *mut (), cx.waker())
        };
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: we own the handle's reference and hand it over.
        unsafe { self.raw.drop_join_handle() }
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}
