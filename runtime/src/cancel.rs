//! [`CancellationToken`]: a one-shot "stop now" broadcast to any number of tasks.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use crate::primitives::{Arc, AtomicBool, Mutex, MutexGuard, Ordering::SeqCst};

/// A flag that is set once ([`cancel`](Self::cancel)) and that any number of tasks can wait
/// for ([`cancelled`](Self::cancelled)): the shape of a graceful shutdown, where one signal
/// handler tells the accept loop and every connection to finish. Clones share the flag.
///
/// Waiting costs no allocation after the first poll: each waiting future holds a slot in a
/// shared table of wakers for as long as it lives and refreshes the waker in it only when the
/// task's waker changed. `cancel` sets the flag before it takes the table's lock, and a waiter
/// checks the flag again with the lock held before it stores its waker, so a waiter either sees
/// the flag or is woken by `cancel`: no wake-up is lost.
///
/// ```
/// use runtime::cancel::CancellationToken;
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let stop = CancellationToken::new();
///     let worker = runtime::spawn({
///         let stop = stop.clone();
///         async move {
///             stop.cancelled().await;
///             "stopped"
///         }
///     });
///     stop.cancel();
///     assert_eq!(worker.await.unwrap(), "stopped");
///     assert!(stop.is_cancelled());
/// });
/// ```
#[derive(Clone, Default)]
pub struct CancellationToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    waiters: Mutex<Slab<Option<Waker>>>,
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancellationToken {
    /// A token that is not cancelled.
    ///
    /// ```
    /// assert!(!runtime::cancel::CancellationToken::new().is_cancelled());
    /// ```
    pub fn new() -> CancellationToken {
        CancellationToken::default()
    }

    /// Sets the flag and wakes every task waiting in [`cancelled`](Self::cancelled).
    /// Calling it again does nothing.
    ///
    /// ```
    /// let token = runtime::cancel::CancellationToken::new();
    /// token.cancel();
    /// token.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, SeqCst);
        // Wake outside the lock: a woken task may run on another worker at once and poll
        // its `Cancelled`, which takes the lock.
        let wakers: Vec<Waker> = self
            .inner
            .lock()
            .iter_mut()
            .filter_map(|(_, w)| w.take())
            .collect();
        for waker in wakers {
            waker.wake();
        }
    }

    /// Whether [`cancel`](Self::cancel) was called.
    ///
    /// ```
    /// assert!(!runtime::cancel::CancellationToken::new().is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(SeqCst)
    }

    /// Completes once the token is cancelled (at once if it already is).
    ///
    /// Cancel-safe: dropping the future before it completes just gives up its slot.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let token = runtime::cancel::CancellationToken::new();
    /// token.cancel();
    /// rt.block_on(token.cancelled());
    /// ```
    pub fn cancelled(&self) -> Cancelled<'_> {
        Cancelled {
            token: self,
            slot: None,
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Slab<Option<Waker>>> {
        // Every operation on the table is one insert, remove or replace, so it is consistent
        // even if a holder panicked.
        crate::primitives::lock(&self.waiters)
    }
}

/// Future returned by [`CancellationToken::cancelled`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Cancelled<'a> {
    token: &'a CancellationToken,
    /// Our slot in the token's waker table, once registered.
    slot: Option<usize>,
}

impl Future for Cancelled<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let inner = &this.token.inner;
        if inner.cancelled.load(SeqCst) {
            return Poll::Ready(());
        }
        let mut waiters = inner.lock();
        // Again under the lock: `cancel` sets the flag before it locks and empties the table.
        if inner.cancelled.load(SeqCst) {
            return Poll::Ready(());
        }
        match this.slot.and_then(|k| waiters.get_mut(k)) {
            Some(Some(w)) if w.will_wake(cx.waker()) => {}
            Some(slot) => *slot = Some(cx.waker().clone()),
            None => this.slot = Some(waiters.insert(Some(cx.waker().clone()))),
        }
        Poll::Pending
    }
}

impl Drop for Cancelled<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.slot {
            let mut waiters = self.token.inner.lock();
            if waiters.contains(key) {
                waiters.remove(key);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn cancel_wakes_each_waiter_once_and_slots_are_reused() {
        let token = CancellationToken::new();
        let counter = std::sync::Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(std::sync::Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        let mut waiting: Vec<_> = (0..3).map(|_| Box::pin(token.cancelled())).collect();
        for w in &mut waiting {
            assert!(w.as_mut().poll(&mut cx).is_pending());
            assert!(w.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(token.inner.lock().len(), 3);
        token.cancel();
        assert_eq!(counter.0.load(SeqCst), 3);
        for w in &mut waiting {
            assert!(w.as_mut().poll(&mut cx).is_ready());
        }
        token.cancel();
        assert_eq!(counter.0.load(SeqCst), 3);
    }

    #[test]
    fn dropped_waiters_free_their_slot() {
        let token = CancellationToken::new();
        let waker = Waker::from(std::sync::Arc::new(CountWakes(AtomicUsize::new(0))));
        let mut w = Box::pin(token.cancelled());
        assert!(w
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        assert_eq!(token.inner.lock().len(), 1);
        drop(w);
        assert_eq!(token.inner.lock().len(), 0);
    }

    #[test]
    fn cancelled_across_threads() {
        let rt = crate::Builder::new().worker_threads(2).build().unwrap();
        rt.block_on(async {
            let token = CancellationToken::new();
            let waiters: Vec<_> = (0..8)
                .map(|_| {
                    let t = token.clone();
                    crate::spawn(async move { t.cancelled().await })
                })
                .collect();
            crate::task::yield_now().await;
            token.cancel();
            for w in waiters {
                w.await.unwrap();
            }
        });
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);

    impl Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, SeqCst);
        }
    }

    /// A waiter racing `cancel` either sees the flag or gets woken: never neither.
    #[test]
    fn loom_cancel_never_loses_a_wakeup() {
        loom::model(|| {
            let token = CancellationToken::new();
            let canceller = token.clone();
            let t = loom::thread::spawn(move || canceller.cancel());
            let woken = std::sync::Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
            let waker = Waker::from(std::sync::Arc::clone(&woken));
            let mut fut = Box::pin(token.cancelled());
            let first = fut.as_mut().poll(&mut Context::from_waker(&waker));
            t.join().unwrap();
            if first.is_pending() {
                assert!(woken.0.load(SeqCst), "pending but never woken");
                assert!(fut
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_ready());
            }
        });
    }
}
