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
//!
//! ## Handing the driver over
//!
//! A worker that leaves `epoll_wait` to run what it found may then be stuck in
//! one long poll; if every other idle worker sleeps on its condvar, nobody
//! drives the reactor, and timers and sockets wait for that poll to end
//! (tokio's default has the same gap, tokio#4730). So a worker that finds the
//! driver taken queues up in [`Handoff`] before sleeping on its condvar, and
//! whoever lets go of the driver wakes the first one queued, which goes back
//! to sleep, this time in `epoll_wait`. While any worker is idle, one of them
//! is in `epoll_wait`; the cost is one wake-up each time the driver changes
//! hands with another worker idle.
//!
//! The queue and the driver are two locks, so the order is what makes it
//! safe: a waiter queues up *then* tries the driver again; the holder lets go
//! *then* looks at the queue. Both steps go through the queue's mutex, so
//! either the holder sees the waiter, or the waiter's second try comes after
//! the release and gets the driver (the loom model `loom_driver_handoff`).

use std::time::Duration;

use crate::primitives::{lock, Arc, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering};
use crate::reactor::{Driver, Reactor};

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
    handoff: std::sync::Arc<Handoff>,
}

/// Workers asleep on their condvar because another thread held the driver;
/// shared by the parkers of one runtime (see "Handing the driver over").
#[derive(Default)]
pub(crate) struct Handoff {
    waiting: Mutex<Vec<Arc<Inner>>>,
}

impl Handoff {
    fn queue(&self, inner: &Arc<Inner>) {
        lock(&self.waiting).push(inner.clone());
    }

    fn leave(&self, inner: &Arc<Inner>) {
        lock(&self.waiting).retain(|w| !Arc::ptr_eq(w, inner));
    }

    /// Called after letting go of the driver: wakes one queued worker to take it.
    fn release(&self) {
        let next = lock(&self.waiting).pop();
        if let Some(inner) = next {
            Unparker { inner }.unpark();
        }
    }
}

#[derive(Clone)]
pub(crate) struct Unparker {
    inner: Arc<Inner>,
}

pub(crate) fn pair(
    reactor: Option<std::sync::Arc<Reactor>>,
    handoff: std::sync::Arc<Handoff>,
) -> (Parker, Unparker) {
    let inner = Arc::new(Inner {
        state: AtomicUsize::new(EMPTY),
        mutex: Mutex::new(()),
        condvar: Condvar::new(),
        reactor,
    });
    (
        Parker {
            inner: inner.clone(),
            handoff,
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
    /// worker became the one driving it). A driver calls `after_turn` once
    /// its turn is over, still holding the driver: whatever the worker
    /// records there (that it is awake, with the tasks the turn woke) is
    /// visible to the next driver, which the hand-off may wake at once.
    pub(crate) fn park(&self, after_turn: &mut dyn FnMut()) {
        let inner = &*self.inner;
        if inner
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
        match &inner.reactor {
            Some(reactor) => self.drive_or_sleep(
                || reactor.try_lock_driver(),
                |driver| self.drive(reactor, driver, after_turn),
            ),
            None => self.sleep_on_condvar(),
        }
    }
    // ANCHOR_END: park

    /// The hand-off protocol, apart from what driving means (so the loom
    /// model runs this very code with a plain mutex for a driver): take the
    /// driver if free; else queue up, look again, and sleep on the condvar.
    /// `drive` must let go of the driver and then call `Handoff::release`.
    fn drive_or_sleep<D>(&self, try_driver: impl Fn() -> Option<D>, drive: impl FnOnce(D)) {
        if let Some(driver) = try_driver() {
            return drive(driver);
        }
        // Someone else drives: queue up for the driver, then look again
        // (the holder looks at the queue after letting go).
        self.handoff.queue(&self.inner);
        if let Some(driver) = try_driver() {
            self.handoff.leave(&self.inner);
            return drive(driver);
        }
        self.sleep_on_condvar();
        // Woken for work (or handed the driver, which already took us off
        // the queue): a later hand-off must not pick us.
        self.handoff.leave(&self.inner);
    }
    // ANCHOR_END: park

    /// Sleeps in `epoll_wait`, then lets go of the driver and hands it on.
    fn drive(
        &self,
        reactor: &Reactor,
        mut driver: MutexGuard<'_, Driver>,
        after_turn: &mut dyn FnMut(),
    ) {
        if self.inner.announce(PARKED_DRIVER) {
            reactor.turn(&mut driver, None);
            self.inner.state.swap(EMPTY, Ordering::SeqCst);
            after_turn();
        }
        drop(driver);
        self.handoff.release();
    }

    fn sleep_on_condvar(&self) {
        let inner = &*self.inner;
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
            Some(mut driver) => {
                let woken = reactor.turn(&mut driver, Some(Duration::ZERO));
                drop(driver);
                // A worker that tried to park meanwhile is on its condvar.
                self.handoff.release();
                woken
            }
            None => 0,
        }
    }
}

#[cfg(not(loom))]
fn wait<'a>(c: &Condvar, g: MutexGuard<'a, ()>) -> MutexGuard<'a, ()> {
    c.wait(g)
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
            let (parker, unparker) = pair(None, Default::default());
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
                parker.park(&mut || {});
                searching = !idle.unpark_worker_by_id(0);
            }
            pusher.join().unwrap();
        });
    }

    /// The driver's lock, as the model sees it: an atomic flag with the
    /// orderings of a mutex (acquire to take, release to let go). Loom does
    /// not schedule a thread between another's `lock` and a `try_lock`, so a
    /// real mutex would hide the interleaving this model is about.
    struct DriverFlag<'a>(&'a AtomicBool);

    impl Drop for DriverFlag<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
        }
    }

    fn try_driver(flag: &AtomicBool) -> Option<DriverFlag<'_>> {
        flag.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| DriverFlag(flag))
    }

    /// The driver hand-off (see "Handing the driver over"), running the real
    /// `drive_or_sleep`: a worker that finds the driver held and goes to sleep
    /// on its condvar is woken when the holder lets go, or gets the driver
    /// itself; it never sleeps on its condvar while the driver is free and
    /// nobody will wake it.
    ///
    /// It fails (loom reports a deadlock: the waiter asleep, the holder gone)
    /// if the protocol is weakened: drop the second `try_driver()` after
    /// `queue` in `drive_or_sleep`, or have the holder call
    /// `Handoff::release` before letting go of the driver.
    #[test]
    fn loom_driver_handoff() {
        loom::model(|| {
            let handoff = std::sync::Arc::new(Handoff::default());
            let driver = Arc::new(AtomicBool::new(false));
            let (parker, _unparker) = pair(None, handoff.clone());
            let (holder_handoff, holder_driver) = (handoff.clone(), driver.clone());
            let holder = thread::spawn(move || {
                let guard = loop {
                    match try_driver(&holder_driver) {
                        Some(guard) => break guard,
                        None => thread::yield_now(),
                    }
                };
                // Drives (a turn of the reactor), then lets go and hands on.
                drop(guard);
                holder_handoff.release();
            });
            parker.drive_or_sleep(
                || try_driver(&driver),
                |guard| {
                    drop(guard);
                    handoff.release();
                },
            );
            holder.join().unwrap();
        });
    }

    #[test]
    fn loom_unpark_before_park_is_kept() {
        loom::model(|| {
            let (parker, unparker) = pair(None, Default::default());
            let t = thread::spawn(move || unparker.unpark());
            parker.park(&mut || {});
            t.join().unwrap();
        });
    }
}
