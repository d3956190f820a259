//! `block_on` for the multi-thread flavour: the calling thread polls the
//! future and sleeps on a condition variable between wake-ups; the workers
//! run everything else.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

use crate::coop;

/// Wakes a thread blocked in `block_on` (a condvar, not `thread::park`, so
/// that user code calling `thread::park` on this thread can't eat our wake-up).
pub(super) struct ThreadWaker {
    woken: std::sync::Mutex<bool>,
    condvar: std::sync::Condvar,
}

impl Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        *self.woken.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.condvar.notify_one();
    }
}

impl ThreadWaker {
    pub(super) fn new() -> std::sync::Arc<ThreadWaker> {
        std::sync::Arc::new(ThreadWaker {
            woken: std::sync::Mutex::new(false),
            condvar: std::sync::Condvar::new(),
        })
    }

    pub(super) fn wait(&self) {
        let mut woken = self.woken.lock().unwrap_or_else(|p| p.into_inner());
        while !*woken {
            woken = self.condvar.wait(woken).unwrap_or_else(|p| p.into_inner());
        }
        *woken = false;
    }
}

/// `block_on` for the multi-threaded flavour: poll (with a budget), sleep until
/// woken, repeat.
pub(super) fn block_on_parked<F: Future>(future: F) -> F::Output {
    let parker = ThreadWaker::new();
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
