//! `LocalJoinHandle`: awaits a local task's output, or aborts it.
//!
//! The output goes from the task to the handle through an `Rc<JoinCell>`:
//! both live on the `LocalSet`'s thread, so no atomics are needed, and the
//! handle is `!Send` like the output it may carry. Cancelling needs no
//! output: an `AbortHandle` goes through the task's `Send + Sync` waker.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::ready::TaskWaker;
use crate::task::{AbortHandle, Id, JoinError};

/// Where a local task leaves its result for its handle.
pub(super) struct JoinCell<T> {
    state: RefCell<JoinState<T>>,
}

struct JoinState<T> {
    output: Option<Result<T, JoinError>>,
    finished: bool,
    joiner: Option<Waker>,
}

impl<T> JoinCell<T> {
    pub(super) fn new() -> JoinCell<T> {
        JoinCell {
            state: RefCell::new(JoinState {
                output: None,
                finished: false,
                joiner: None,
            }),
        }
    }

    /// Stores the task's result and wakes the handle's awaiter.
    pub(super) fn complete(&self, result: Result<T, JoinError>) {
        let joiner = {
            let mut state = self.state.borrow_mut();
            state.output = Some(result);
            state.finished = true;
            state.joiner.take()
        };
        if let Some(joiner) = joiner {
            joiner.wake();
        }
    }
}

/// An owned permission to await a local task's output: what
/// [`LocalSet::spawn_local`](super::LocalSet::spawn_local) and
/// [`spawn_local`](super::spawn_local) return.
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] if the task panicked,
/// was aborted, or was dropped with its `LocalSet`. Dropping it detaches the
/// task.
///
/// Unlike [`JoinHandle`](crate::JoinHandle) it is `!Send` and `!Sync`: the
/// output it hands over may itself be `!Send` (an `Rc`), and it comes
/// through a cell shared with the task without atomics. So the handle is
/// awaited, polled or dropped only on the thread that drives the
/// `LocalSet`, and a task on another thread (or a `spawn`ed task of a
/// multi-thread runtime) cannot hold it. What does cross threads is the
/// right to cancel: [`abort_handle`](Self::abort_handle) gives a
/// `Send + Sync` [`AbortHandle`].
///
/// ```
/// use std::rc::Rc;
///
/// let rt = runtime::Builder::new_current_thread().build().unwrap();
/// let local = runtime::task::LocalSet::new();
/// let shared = Rc::new(5);
/// let handle = local.spawn_local({
///     let shared = Rc::clone(&shared);
///     async move { *shared * 2 }
/// });
/// assert_eq!(local.block_on(&rt, handle).unwrap(), 10);
/// ```
///
/// It cannot be sent to another thread:
///
/// ```compile_fail
/// let local = runtime::task::LocalSet::new();
/// let handle = local.spawn_local(async {});
/// std::thread::spawn(move || drop(handle)); // `LocalJoinHandle` is `!Send`
/// ```
pub struct LocalJoinHandle<T> {
    cell: Rc<JoinCell<T>>,
    task: Arc<TaskWaker>,
}

impl<T> LocalJoinHandle<T> {
    pub(super) fn new(cell: Rc<JoinCell<T>>, task: Arc<TaskWaker>) -> LocalJoinHandle<T> {
        LocalJoinHandle { cell, task }
    }

    /// Cancels the task: its future is dropped (on the `LocalSet`'s thread)
    /// the next time the `LocalSet` runs, and awaiting the handle gives a
    /// [`JoinError`] for which [`JoinError::is_cancelled`] is true, unless the
    /// task finished first.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build().unwrap();
    /// let local = runtime::task::LocalSet::new();
    /// local.block_on(&rt, async {
    ///     let handle = runtime::task::spawn_local(std::future::pending::<()>());
    ///     handle.abort();
    ///     assert!(handle.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        // The task acts on the request when it is next polled.
        self.task.request_abort();
    }

    /// A handle that can cancel the task from any thread (it is
    /// `Send + Sync` and `Clone`), without its output: the cancellation
    /// itself, dropping the future, still happens on the `LocalSet`'s
    /// thread, the next time the set runs. Its
    /// [`is_finished`](AbortHandle::is_finished) and [`id`](AbortHandle::id)
    /// work from any thread too.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build().unwrap();
    /// let local = runtime::task::LocalSet::new();
    /// local.block_on(&rt, async {
    ///     let handle = runtime::task::spawn_local(std::future::pending::<()>());
    ///     let abort = handle.abort_handle();
    ///     assert_eq!(abort.id(), handle.id());
    ///     // Cancelled from a plain thread.
    ///     std::thread::spawn(move || abort.abort()).join().unwrap();
    ///     assert!(handle.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle::local(Arc::clone(&self.task))
    }

    /// Whether the task has finished (with an output, a panic, or by being
    /// cancelled).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build().unwrap();
    /// let mut local = runtime::task::LocalSet::new();
    /// let handle = local.spawn_local(async {});
    /// assert!(!handle.is_finished());
    /// rt.block_on(&mut local); // runs the set until its tasks are done
    /// assert!(handle.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.cell.state.borrow().finished
    }

    /// The task's [`Id`], unique within the process (what
    /// [`task::id()`](crate::task::id()) returns inside it).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build().unwrap();
    /// let local = runtime::task::LocalSet::new();
    /// let handle = local.spawn_local(async { runtime::task::id() });
    /// let id = handle.id();
    /// assert_eq!(local.block_on(&rt, handle).unwrap(), id);
    /// ```
    pub fn id(&self) -> Id {
        Id::new(self.task.id())
    }
}

impl<T> Unpin for LocalJoinHandle<T> {}

impl<T> Future for LocalJoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.cell.state.borrow_mut();
        if let Some(output) = state.output.take() {
            return Poll::Ready(output);
        }
        if state.finished {
            // The output was taken by an earlier poll: like any future, the
            // handle must not be polled after it returned `Ready`.
            panic!("LocalJoinHandle polled after it returned its output");
        }
        match &state.joiner {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.joiner = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for LocalJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalJoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
