//! A one-shot broadcast: "stop now", from the signal handler to the accept loop and every
//! connection.
//!
//! # Mechanism
//!
//! [`Shutdown`] is a flag plus a slab of wakers. Each waiter (the accept loop, each connection)
//! owns a [`Listener`] holding one slot in the slab for its whole life, and refreshes the waker
//! in it only when the task's waker changed, so waiting costs a lock but no allocation.
//! [`Shutdown::trigger`] sets the flag and wakes every stored waker.
//!
//! The flag is re-checked with the lock held when a listener registers. Because `trigger` sets
//! the flag *before* taking the lock, a listener either sees the flag or has its waker in the
//! slab by the time `trigger` walks it; there is no window in which a wake-up can be lost.
//!
//! The runtime has no broadcast primitive of its own; this one is small enough not to need one.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use slab::Slab;

/// The shared "shut down" signal.
#[derive(Debug, Default)]
pub struct Shutdown {
    triggered: AtomicBool,
    waiters: Mutex<Slab<Option<Waker>>>,
}

impl Shutdown {
    /// A signal that has not fired.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Fires the signal and wakes every listener. Idempotent.
    pub fn trigger(&self) {
        self.triggered.store(true, SeqCst);
        // Take the wakers out under the lock, wake them outside it: a woken task may run on
        // another worker at once and try to lock the slab itself.
        let wakers: Vec<Waker> = self
            .lock()
            .iter_mut()
            .filter_map(|(_, w)| w.take())
            .collect();
        for w in wakers {
            w.wake();
        }
    }

    /// Whether [`trigger`](Self::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        self.triggered.load(SeqCst)
    }

    /// A handle one task can wait on.
    pub fn listener(self: &Arc<Self>) -> Listener {
        Listener {
            shutdown: Arc::clone(self),
            key: None,
        }
    }

    /// How many listeners hold a slot (for tests).
    pub fn listeners(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, Slab<Option<Waker>>> {
        // The slab stays consistent even if a holder panicked: every operation on it is a
        // single insert/remove/replace.
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One task's subscription to a [`Shutdown`].
#[derive(Debug)]
pub struct Listener {
    shutdown: Arc<Shutdown>,
    key: Option<usize>,
}

impl Listener {
    /// `Ready` once the signal fired; otherwise registers `cx`'s waker.
    pub fn poll_triggered(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.shutdown.is_triggered() {
            return Poll::Ready(());
        }
        let mut waiters = self.shutdown.lock();
        if self.shutdown.is_triggered() {
            return Poll::Ready(());
        }
        match self.key.and_then(|k| waiters.get_mut(k)) {
            Some(slot) => match slot {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            },
            None => self.key = Some(waiters.insert(Some(cx.waker().clone()))),
        }
        Poll::Pending
    }

    /// Waits until the signal fires.
    pub async fn triggered(&mut self) {
        poll_fn(|cx| self.poll_triggered(cx)).await
    }

    /// Whether the signal fired.
    pub fn is_triggered(&self) -> bool {
        self.shutdown.is_triggered()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let mut waiters = self.shutdown.lock();
            if waiters.contains(key) {
                waiters.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn trigger_wakes_every_registered_listener_once() {
        let shutdown = Arc::new(Shutdown::new());
        let counter = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        let mut listeners: Vec<Listener> = (0..3).map(|_| shutdown.listener()).collect();
        for l in &mut listeners {
            assert!(l.poll_triggered(&mut cx).is_pending());
            // Polling again reuses the slot.
            assert!(l.poll_triggered(&mut cx).is_pending());
        }
        assert_eq!(shutdown.listeners(), 3);
        shutdown.trigger();
        assert_eq!(counter.0.load(SeqCst), 3);
        for l in &mut listeners {
            assert!(l.poll_triggered(&mut cx).is_ready());
        }
        shutdown.trigger();
        assert_eq!(counter.0.load(SeqCst), 3);
    }

    fn counting_waker() -> Waker {
        Waker::from(Arc::new(CountWakes(AtomicUsize::new(0))))
    }

    #[test]
    fn dropped_listeners_free_their_slot() {
        let shutdown = Arc::new(Shutdown::new());
        let waker = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut l = shutdown.listener();
        assert!(l.poll_triggered(&mut cx).is_pending());
        assert_eq!(shutdown.listeners(), 1);
        drop(l);
        assert_eq!(shutdown.listeners(), 0);
    }

    #[test]
    fn listener_created_after_trigger_is_ready_at_once() {
        let shutdown = Arc::new(Shutdown::new());
        shutdown.trigger();
        let mut l = shutdown.listener();
        let waker = counting_waker();
        assert!(l
            .poll_triggered(&mut Context::from_waker(&waker))
            .is_ready());
        assert!(l.is_triggered());
    }
}
