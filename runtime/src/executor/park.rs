//! Putting a worker to sleep and waking it up.
//!
//! A parked worker sleeps in one of two places: in `epoll_wait`, if it managed
//! to take the reactor's driver lock (only one thread can), or on its own
//! condition variable otherwise. `state` records which, so that `unpark` knows
//! whether to ring the reactor's eventfd or signal the condvar, and costs
//! nothing at all when the worker is awake.
//!
//! | state            | meaning                                   | set by       |
//! |------------------|-------------------------------------------|--------------|
//! | `EMPTY`          | awake, no pending notification            | the worker   |
//! | `PARKED_CONDVAR` | asleep on the condvar                     | the worker   |
//! | `PARKED_DRIVER`  | asleep in `epoll_wait`                    | the worker   |
//! | `NOTIFIED`       | an unpark arrived; the next park returns  | the unparker |
//!
//! The unparker *swaps* in `NOTIFIED` and acts on what it replaced. A worker
//! moves to a `PARKED_*` state with a compare-exchange from `EMPTY`; if that
//! fails, the notification came first and it does not sleep. For the condvar
//! the transition happens under the mutex and the unparker takes the mutex
//! before signalling, so the signal cannot fall between "decided to wait" and
//! "waiting".

use std::time::Duration;

use crate::reactor::Reactor;
use crate::sync::{lock, Arc, AtomicUsize, Condvar, Mutex, Ordering};

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

struct Inner {
    state: AtomicUsize,
    mutex: Mutex<()>,
    condvar: Condvar,
    /// The reactor to drive while parked; `None` in loom models, which
    /// check the condvar path (the state protocol is the same for both).
    reactor: Option<std::sync::Arc<Reactor>>,
}

pub(crate) struct Parker {
    inner: Arc<Inner>,
}

#[derive(Clone)]
pub(crate) struct Unparker {
    inner: Arc<Inner>,
}

pub(crate) fn pair(reactor: Option<std::sync::Arc<Reactor>>) -> (Parker, Unparker) {
    let inner = Arc::new(Inner {
        state: AtomicUsize::new(EMPTY),
        mutex: Mutex::new(()),
        condvar: Condvar::new(),
        reactor,
    });
    (
        Parker {
            inner: inner.clone(),
        },
        Unparker { inner },
    )
}

impl Inner {
    /// EMPTY -> `parked`. Returns `false` (and consumes the notification) if
    /// an unpark came first: then the caller must not sleep.
    fn announce(&self, parked: usize) -> bool {
        match self
            .state
            .compare_exchange(EMPTY, parked, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => true,
            Err(_) => {
                self.state.swap(EMPTY, Ordering::SeqCst);
                false
            }
        }
    }
}

impl Parker {
    // ANCHOR: park
    /// Sleeps until unparked, or until the reactor delivered events (if this
    /// worker became the one driving it).
    pub(crate) fn park(&self) {
        let inner = &*self.inner;
        if inner
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
        if let Some((reactor, mut driver)) = inner
            .reactor
            .as_ref()
            .and_then(|r| r.try_lock_driver().map(|d| (r, d)))
        {
            if !inner.announce(PARKED_DRIVER) {
                return;
            }
            reactor.turn(&mut driver, None);
            inner.state.swap(EMPTY, Ordering::SeqCst);
            return;
        }
        let mut guard = lock(&inner.mutex);
        if !inner.announce(PARKED_CONDVAR) {
            return;
        }
        loop {
            guard = wait(&inner.condvar, guard);
            if inner
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return;
            }
            // Spurious wake-up: keep sleeping.
        }
    }
    // ANCHOR_END: park

    /// Gives the reactor a non-blocking turn if nobody else is driving it.
    /// Returns how many tasks it woke.
    pub(crate) fn poll_reactor(&self) -> usize {
        let Some(reactor) = &self.inner.reactor else {
            return 0;
        };
        match reactor.try_lock_driver() {
            Some(mut driver) => reactor.turn(&mut driver, Some(Duration::ZERO)),
            None => 0,
        }
    }
}

#[cfg(not(loom))]
fn wait<'a>(c: &Condvar, g: std::sync::MutexGuard<'a, ()>) -> std::sync::MutexGuard<'a, ()> {
    c.wait(g).unwrap_or_else(|p| p.into_inner())
}

#[cfg(loom)]
fn wait<'a>(c: &Condvar, g: loom::sync::MutexGuard<'a, ()>) -> loom::sync::MutexGuard<'a, ()> {
    c.wait(g).unwrap()
}

impl Unparker {
    // ANCHOR: unpark
    pub(crate) fn unpark(&self) {
        let inner = &*self.inner;
        match inner.state.swap(NOTIFIED, Ordering::SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders us after the parker's transition.
                drop(lock(&inner.mutex));
                inner.condvar.notify_one();
            }
            PARKED_DRIVER => {
                if let Some(reactor) = &inner.reactor {
                    reactor.unpark();
                }
            }
            _ => unreachable!("bad park state"),
        }
    }
    // ANCHOR_END: unpark
}

/// Loom model of parking: no wake-up is lost when work is pushed while a
/// worker is on its way to sleep. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p runtime --lib --release loom_`.
///
/// It fails if the protocol is weakened: e.g. make `park` move to
/// `PARKED_CONDVAR` *before* taking the mutex, and loom finds the interleaving
/// where the notify falls between the check and the wait (it reports a
/// deadlock); have `Idle::worker_to_notify` skip workers when `searching` is
/// non-zero without the last searcher re-checking, and the same deadlock shows.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::executor::idle::Idle;
    use loom::sync::atomic::AtomicBool;
    use loom::thread;

    #[test]
    fn loom_push_while_parking() {
        loom::model(|| {
            let (parker, unparker) = pair(None);
            let idle = Arc::new(Idle::new(1));
            let work = Arc::new(AtomicBool::new(false));
            assert!(idle.transition_worker_to_searching());
            let (idle2, work2) = (idle.clone(), work.clone());
            let pusher = thread::spawn(move || {
                work2.store(true, Ordering::SeqCst);
                if idle2.worker_to_notify().is_some() {
                    unparker.unpark();
                }
            });
            // The worker: found nothing, goes to sleep as the last searcher.
            let mut searching = true;
            loop {
                if work.load(Ordering::SeqCst) {
                    break;
                }
                if idle.transition_worker_to_parked(0, searching) && work.load(Ordering::SeqCst) {
                    // Last searcher re-checks and finds the work.
                    idle.unpark_worker_by_id(0);
                    break;
                }
                parker.park();
                searching = !idle.unpark_worker_by_id(0);
            }
            pusher.join().unwrap();
        });
    }

    #[test]
    fn loom_unpark_before_park_is_kept() {
        loom::model(|| {
            let (parker, unparker) = pair(None);
            let t = thread::spawn(move || unparker.unpark());
            parker.park();
            t.join().unwrap();
        });
    }
}
