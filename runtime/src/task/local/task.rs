//! One local task: its future (pinned inside the `LocalSet`'s slab, where it
//! never moves and never leaves the thread) and the cell its result goes to.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::join::JoinCell;
use super::ready::TaskWaker;
use crate::task::JoinError;

/// What the `LocalSet` needs of a task, whatever its future's type.
pub(super) trait Run {
    /// Polls the future, or cancels it if an abort was requested through
    /// `waker` (the task's own); `Ready` once the result is in the join cell
    /// and `waker` says finished.
    fn run(self: Pin<&mut Self>, cx: &mut Context<'_>, waker: &TaskWaker) -> Poll<()>;

    /// Drops the future now and records the task as cancelled (the
    /// `LocalSet` is being dropped).
    fn cancel(self: Pin<&mut Self>, waker: &TaskWaker);
}

pin_project_lite::pin_project! {
    pub(super) struct LocalTask<F: Future> {
        // `None` once the task is done: the future is dropped as soon as it
        // finishes, not when the slot is freed.
        #[pin]
        future: Option<F>,
        cell: Rc<JoinCell<F::Output>>,
    }
}

impl<F: Future> LocalTask<F> {
    pub(super) fn new(future: F, cell: Rc<JoinCell<F::Output>>) -> LocalTask<F> {
        LocalTask {
            future: Some(future),
            cell,
        }
    }
}

type Payload = Box<dyn Any + Send + 'static>;

/// Drops the future in place; its destructor is user code and may panic.
fn drop_future<F>(future: Pin<&mut Option<F>>) -> Result<(), Payload> {
    let mut future = future;
    catch_unwind(AssertUnwindSafe(|| future.set(None)))
}

impl<F: Future> Run for LocalTask<F> {
    fn run(self: Pin<&mut Self>, cx: &mut Context<'_>, waker: &TaskWaker) -> Poll<()> {
        let mut this = self.project();
        if this.future.is_none() {
            return Poll::Ready(());
        }
        if waker.abort_requested() {
            let result = match drop_future(this.future) {
                Ok(()) => Err(JoinError::cancelled()),
                Err(payload) => Err(JoinError::panic(payload)),
            };
            finish(this.cell, waker, result);
            return Poll::Ready(());
        }
        let polled = catch_unwind(AssertUnwindSafe(|| {
            match this.future.as_mut().as_pin_mut() {
                Some(future) => future.poll(cx),
                None => Poll::Pending,
            }
        }));
        let result = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => match drop_future(this.future) {
                Ok(()) => Ok(output),
                Err(payload) => Err(JoinError::panic(payload)),
            },
            // A second panic from the destructor is dropped: the first one
            // says what went wrong.
            Err(payload) => {
                let _ = drop_future(this.future);
                Err(JoinError::panic(payload))
            }
        };
        finish(this.cell, waker, result);
        Poll::Ready(())
    }

    fn cancel(self: Pin<&mut Self>, waker: &TaskWaker) {
        let this = self.project();
        if this.future.is_none() {
            return;
        }
        let result = match drop_future(this.future) {
            Ok(()) => Err(JoinError::cancelled()),
            Err(payload) => Err(JoinError::panic(payload)),
        };
        finish(this.cell, waker, result);
    }
}

/// Marks the task finished for its `AbortHandle`s, then stores the result
/// (which wakes the `LocalJoinHandle`'s awaiter): whoever sees the result
/// also sees the flag.
fn finish<T>(cell: &JoinCell<T>, waker: &TaskWaker, result: Result<T, JoinError>) {
    waker.set_finished();
    cell.complete(result);
}
