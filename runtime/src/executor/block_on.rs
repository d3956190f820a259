//! `block_on` for the multi-thread flavour: the calling thread polls the
//! future and sleeps on a condition variable between wake-ups; the workers
//! run everything else.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

use super::Shared;
use crate::coop;

/// Wakes a thread blocked in `block_on` (a condvar, not `thread::park`, so
/// that user code calling `thread::park` on this thread can't eat our wake-up).
pub(super) struct ThreadWaker {
    woken: crate::primitives::plain::Mutex<bool>,
    condvar: crate::primitives::plain::Condvar,
    /// `test-util`: `Shared::block_on_busy`, which counts this caller while it
    /// runs its future (+1 in `new`, -1 in `wait`) or has a wake-up pending
    /// (+1 when `woken` goes from false to true). Both change under the
    /// `woken` lock, so a woken caller is counted before the waker returns: a
    /// worker parking right after cannot auto-advance the clock past it.
    #[cfg(feature = "test-util")]
    busy: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
}

impl Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        let mut woken = self.woken.lock();
        #[cfg(feature = "test-util")]
        if let (false, Some(busy)) = (*woken, &self.busy) {
            busy.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        *woken = true;
        drop(woken);
        self.condvar.notify_one();
    }
}

impl ThreadWaker {
    /// `busy` (`test-util` only): the counter to keep up to date, if any.
    pub(super) fn new(
        #[cfg(feature = "test-util")] busy: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
    ) -> std::sync::Arc<ThreadWaker> {
        #[cfg(feature = "test-util")]
        if let Some(busy) = &busy {
            busy.fetch_add(1, std::sync::atomic::Ordering::SeqCst); // running its future
        }
        std::sync::Arc::new(ThreadWaker {
            woken: crate::primitives::plain::Mutex::new(false),
            condvar: crate::primitives::plain::Condvar::new(),
            #[cfg(feature = "test-util")]
            busy,
        })
    }

    pub(super) fn wait(&self) {
        let mut woken = self.woken.lock();
        #[cfg(feature = "test-util")]
        if let Some(busy) = &self.busy {
            // No longer running; a wake-up's count (taken or to come) replaces it.
            busy.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
        while !*woken {
            woken = self.condvar.wait(woken);
        }
        *woken = false;
    }
}

/// `block_on` for the multi-threaded flavour: poll (with a budget), sleep until
/// woken, repeat.
pub(super) fn block_on_parked<F: Future>(shared: &Shared, future: F) -> F::Output {
    let parker = ThreadWaker::new(
        #[cfg(feature = "test-util")]
        Some(shared.block_on_busy.clone()),
    );
    #[cfg(not(feature = "test-util"))]
    let _ = shared;
    #[cfg(feature = "test-util")]
    let _done = BlockOnDone(&parker);
    let waker = Waker::from(parker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        // Budgeted like a task's poll: an always-ready future gets woken and
        // polled again, which gives `timeout` around it a chance to fire.
        coop::reset_budget();
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        parker.wait();
    }
}

/// `test-util`: when `block_on` returns (or unwinds), uncounts the caller and
/// any pending wake-up, and leaves `woken` set so that later wake-ups of a
/// stored clone of the waker count nothing.
#[cfg(feature = "test-util")]
struct BlockOnDone<'a>(&'a ThreadWaker);

#[cfg(feature = "test-util")]
impl Drop for BlockOnDone<'_> {
    fn drop(&mut self) {
        let mut woken = self.0.woken.lock();
        if let Some(busy) = &self.0.busy {
            let pending = usize::from(*woken);
            busy.fetch_sub(1 + pending, std::sync::atomic::Ordering::SeqCst);
        }
        *woken = true;
    }
}
