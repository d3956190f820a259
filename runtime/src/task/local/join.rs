//! `LocalJoinHandle`: awaits a local task's output, or aborts it.
//!
//! The output goes from the task to the handle through an `Rc<JoinCell>`:
//! both live on the `LocalSet`'s thread, so no atomics are needed, and the
//! handle is `!Send` like the output it may carry.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::task::{Id, JoinError};

/// Where a local task leaves its result for its handle.
pub(super) struct JoinCell<T> {
    state: RefCell<JoinState<T>>,
}

struct JoinState<T> {
    output: Option<Result<T, JoinError>>,
    finished: bool,
    abort_requested: bool,
    joiner: Option<Waker>,
}

impl<T> JoinCell<T> {
    pub(super) fn new() -> JoinCell<T> {
        JoinCell {
            state: RefCell::new(JoinState {
                output: None,
                finished: false,
                abort_requested: false,
                joiner: None,
            }),
        }
    }

    pub(super) fn abort_requested(&self) -> bool {
        self.state.borrow().abort_requested
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
/// task. Unlike [`JoinHandle`](crate::JoinHandle) it is `!Send`: it belongs
/// to the thread that drives the `LocalSet`.
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
pub struct LocalJoinHandle<T> {
    cell: Rc<JoinCell<T>>,
    task: Waker,
    id: u64,
}

impl<T> LocalJoinHandle<T> {
    pub(super) fn new(cell: Rc<JoinCell<T>>, task: Waker, id: u64) -> LocalJoinHandle<T> {
        LocalJoinHandle { cell, task, id }
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
        {
            let mut state = self.cell.state.borrow_mut();
            if state.finished {
                return;
            }
            state.abort_requested = true;
        }
        // The task acts on the request when it is next polled.
        self.task.wake_by_ref();
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
        Id::new(self.id)
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
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}
