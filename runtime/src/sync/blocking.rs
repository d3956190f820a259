//! Waiting for a future on a plain thread, for the `blocking_*` methods of the
//! channels.
//!
//! The primitives need nothing but a waker, so a thread can wait on them with
//! a waker that unparks it. This is deliberately not the runtime's `block_on`:
//! it must work on a thread that has no runtime at all (the common use is a
//! `std::thread` feeding a channel that async tasks read).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread, parking between polls, until it is ready.
///
/// A wake that comes before `park` leaves the thread's token set, so `park`
/// returns at once: no wake-up is lost. A spurious return from `park` only
/// costs one extra poll.
///
/// # Panics
/// On a thread that runs one of our runtimes (a worker, or inside
/// `block_on`), as tokio's `blocking_*` methods do: parking it would stall
/// every task queued there, and the task that would unblock it may be one of
/// them. `spawn_blocking` threads and `block_in_place` closures may block.
#[track_caller]
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    if crate::context::runs_a_runtime() {
        panic!(
            "a `blocking_*` method of `runtime::sync` was called on a thread that runs a \
             runtime (a worker thread, or inside `block_on`): it would block that thread. \
             Use `.await` here, or call it from `spawn_blocking` or `task::block_in_place`"
        );
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

/// A waker that counts its wakes, for tests that poll futures by hand.
#[cfg(all(test, not(loom)))]
pub(crate) mod test_waker {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    #[derive(Default)]
    pub(crate) struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    impl CountWakes {
        pub(crate) fn count(&self) -> usize {
            self.0.load(SeqCst)
        }
    }

    /// Runs `f` on its own thread and fails the test if it has not finished
    /// within two minutes: a lost wake-up in a multi-thread test then shows
    /// up as a failure naming `what`, not as a hung test run.
    pub(crate) fn within_deadline<T: Send + 'static>(
        what: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        use std::sync::mpsc::{channel, RecvTimeoutError};
        let (done, result) = channel();
        let worker = std::thread::spawn(move || {
            let _ = done.send(f());
        });
        match result.recv_timeout(std::time::Duration::from_secs(120)) {
            Ok(value) => {
                let _ = worker.join();
                value
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("{what}: not finished within 120 s (a lost wake-up?)")
            }
            Err(RecvTimeoutError::Disconnected) => match worker.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("the worker sends before it returns"),
            },
        }
    }

    /// A fresh counter and a waker that bumps it.
    pub(crate) fn counting_waker() -> (Arc<CountWakes>, Waker) {
        let counter = Arc::new(CountWakes::default());
        (Arc::clone(&counter), Waker::from(counter))
    }

    /// Polls `fut` once with `waker`.
    pub(crate) fn poll<F: std::future::Future>(
        fut: std::pin::Pin<&mut F>,
        waker: &Waker,
    ) -> std::task::Poll<F::Output> {
        fut.poll(&mut std::task::Context::from_waker(waker))
    }
}

/// A waker that records that it was woken, for loom models (a plain std
/// atomic: the waker is called inside the model, read after `join`).
#[cfg(all(test, loom))]
pub(crate) mod loom_waker {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::Arc;
    use std::task::Wake;

    #[derive(Default)]
    pub(crate) struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, SeqCst);
        }
    }

    impl Flag {
        pub(crate) fn is_set(&self) -> bool {
            self.0.load(SeqCst)
        }
    }

    struct Unpark(loom::thread::Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    /// `block_on` for a loom thread: parks in loom's scheduler, so the
    /// model explores every interleaving of the wait.
    pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let waker = std::task::Waker::from(Arc::new(Unpark(loom::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            loom::thread::park();
        }
    }
}
