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
//! whoever lets go of the driver wakes one queued worker, which goes back to
//! sleep, this time in `epoll_wait`.
//!
//! Waking a worker at every turn of the reactor is what that costs, and under
//! load, with turns thousands of times a second, it cost 13 % more CPU per
//! reply than no hand-off at all (two workers sharing two CPUs with their
//! clients): the holder's turn ends, it wakes the waiter with a futex, the
//! waiter takes the driver and finds the next events at once, and the two
//! trade the driver back and forth. So a queued worker is *patient* first:
//! it sleeps for at most [`PATIENCE`] and nobody wakes it for the driver.
//! If the holder comes back for the driver within that time (it ran what it
//! found and is idle again), it simply takes it, and no futex call was made;
//! if it does not, the waiter wakes by itself and takes the free driver. Only
//! a waiter that woke to find the holder asleep in `epoll_wait` asks to be
//! woken (becomes *eager*), and sleeps until then: an idle runtime makes no
//! periodic wake-ups. A poll stuck for seconds thus delays timers and I/O by
//! at most `PATIENCE` (or not at all after an idle spell, when the waiter is
//! eager), and a busy runtime hands over at most once per `PATIENCE` per
//! worker, instead of at every turn.
//!
//! The queue and the driver are two locks, so the order is what makes it
//! safe: a waiter queues up *then* tries the driver again; the holder lets go
//! *then* looks at the queue. Both steps go through the queue's mutex, so
//! either the holder sees the eager waiter, or the waiter's second try comes
//! after the release and gets the driver (the loom model
//! `loom_driver_handoff`, which runs eager waiters only: loom's timed waits
//! never time out).

use std::time::Duration;

use crate::primitives::{lock, Arc, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering};
use crate::reactor::{Driver, Reactor};

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

// ANCHOR: patience
/// How long a worker that found the driver taken sleeps before it looks
/// again by itself, unless woken (see "Handing the driver over"): the most
/// a poll that never yields delays timers and sockets while a worker that
/// has just gone idle waits, and the least time between two hand-offs.
const PATIENCE: Duration = Duration::from_millis(1);
// ANCHOR_END: patience

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
    /// Each waiter, and whether it is eager: asleep until the holder lets go
    /// of the driver and wakes it (`false`: patient, it wakes by itself).
    waiting: Mutex<Vec<(Arc<Inner>, bool)>>,
}

impl Handoff {
    fn queue(&self, inner: &Arc<Inner>, eager: bool) {
        lock(&self.waiting).push((inner.clone(), eager));
    }

    fn leave(&self, inner: &Arc<Inner>) {
        lock(&self.waiting).retain(|(w, _)| !Arc::ptr_eq(w, inner));
    }

    /// Called after letting go of the driver: wakes one eager waiter to take
    /// it (patient ones wake by themselves).
    fn release(&self) {
        let next = {
            let mut waiting = lock(&self.waiting);
            let eager = waiting.iter().rposition(|(_, eager)| *eager);
            eager.map(|i| waiting.swap_remove(i).0)
        };
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
                || reactor.blocked_in_wait(),
                |driver| self.drive(reactor, driver, after_turn),
            ),
            None => {
                self.sleep_on_condvar(None);
            }
        }
    }
    // ANCHOR_END: park

    /// The hand-off protocol, apart from what driving means (so the loom
    /// model runs this very code with a plain mutex for a driver): take the
    /// driver if free; else queue up, look again, and sleep on the condvar,
    /// patiently first (see "Handing the driver over"). `holder_blocked`
    /// tells whether the holder sleeps in `epoll_wait`; `drive` must let go
    /// of the driver and then call `Handoff::release`.
    fn drive_or_sleep<D>(
        &self,
        try_driver: impl Fn() -> Option<D>,
        holder_blocked: impl Fn() -> bool,
        drive: impl FnOnce(D),
    ) {
        if let Some(driver) = try_driver() {
            return drive(driver);
        }
        // Loom's timed waits never time out: the model runs eager waiters.
        let mut eager = cfg!(loom);
        loop {
            // Someone else drives: queue up for the driver, then look again
            // (the holder looks at the queue after letting go).
            self.handoff.queue(&self.inner, eager);
            if let Some(driver) = try_driver() {
                self.handoff.leave(&self.inner);
                return drive(driver);
            }
            let timed_out = self.sleep_on_condvar((!eager).then_some(PATIENCE));
            // Woken for work, handed the driver, or out of patience: a later
            // hand-off must not pick us.
            self.handoff.leave(&self.inner);
            if !timed_out {
                return;
            }
            if let Some(driver) = try_driver() {
                return drive(driver);
            }
            // Still taken. A holder asleep in `epoll_wait` will let go when
            // something happens: ask to be woken then. A busy holder (a
            // non-blocking turn) is about to let go: look again soon.
            eager = holder_blocked();
        }
    }

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

    /// Sleeps until unparked or, with a `timeout`, until it passes; returns
    /// whether it timed out (no notification consumed).
    fn sleep_on_condvar(&self, timeout: Option<Duration>) -> bool {
        let inner = &*self.inner;
        let mut guard = lock(&inner.mutex);
        if !inner.announce(PARKED_CONDVAR) {
            return false;
        }
        loop {
            let timed_out;
            (guard, timed_out) = wait(&inner.condvar, guard, timeout);
            if inner
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return false;
            }
            // Out of time, and no unpark has swapped in NOTIFIED (that
            // would have made this exchange fail; the next loop consumes it).
            if timed_out
                && inner
                    .state
                    .compare_exchange(PARKED_CONDVAR, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                return true;
            }
            // Spurious wake-up, or an unpark landed between the two
            // exchanges: look again.
        }
    }

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
fn wait<'a>(
    c: &Condvar,
    g: MutexGuard<'a, ()>,
    timeout: Option<Duration>,
) -> (MutexGuard<'a, ()>, bool) {
    match timeout {
        None => (c.wait(g), false),
        Some(t) => c.wait_timeout(g, t),
    }
}

#[cfg(loom)]
fn wait<'a>(
    c: &Condvar,
    g: loom::sync::MutexGuard<'a, ()>,
    _timeout: Option<Duration>,
) -> (loom::sync::MutexGuard<'a, ()>, bool) {
    (c.wait(g).unwrap(), false)
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

/// The driver's lock, as the loom models and the tests see it: an atomic
/// flag with the orderings of a mutex (acquire to take, release to let go).
/// Loom does not schedule a thread between another's `lock` and a
/// `try_lock`, so a real mutex would hide the interleavings the model is
/// about.
#[cfg(test)]
mod test_driver {
    use crate::primitives::{AtomicBool, Ordering};

    pub(super) struct DriverFlag<'a>(&'a AtomicBool);

    impl Drop for DriverFlag<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
        }
    }

    pub(super) fn try_driver(flag: &AtomicBool) -> Option<DriverFlag<'_>> {
        flag.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| DriverFlag(flag))
    }
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
    use super::test_driver::try_driver;
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
                || true,
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::test_driver::try_driver;
    use super::*;
    use crate::primitives::AtomicBool;
    use std::time::Instant;

    fn state(parker: &Parker) -> usize {
        parker.inner.state.load(Ordering::SeqCst)
    }

    /// Letting go of the driver wakes an eager waiter, never a patient one:
    /// waking at every turn is what patience is for.
    #[test]
    fn release_wakes_only_an_eager_waiter() {
        let handoff = std::sync::Arc::new(Handoff::default());
        let (patient, _) = pair(None, handoff.clone());
        let (eager, _) = pair(None, handoff.clone());
        handoff.queue(&patient.inner, false);
        handoff.queue(&eager.inner, true);
        handoff.release();
        assert_eq!(state(&eager), NOTIFIED, "the eager waiter is woken");
        assert_eq!(state(&patient), EMPTY, "the patient waiter is left alone");
        handoff.release();
        assert_eq!(state(&patient), EMPTY, "nor woken by a later release");
    }

    /// A patient waiter whose holder let go without waking anybody takes the
    /// driver by itself once its patience runs out.
    #[test]
    fn a_patient_waiter_takes_a_driver_let_go_of_silently() {
        let handoff = std::sync::Arc::new(Handoff::default());
        let (parker, unparker) = pair(None, handoff.clone());
        let driver = std::sync::Arc::new(AtomicBool::new(true)); // held
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let holder = {
            let (driver, done) = (driver.clone(), done.clone());
            std::thread::spawn(move || {
                std::thread::sleep(PATIENCE / 2);
                driver.store(false, Ordering::Release); // no release()
                                                        // Should the waiter never wake by itself, wake it after a
                                                        // while, so that the test fails instead of hanging.
                let deadline = Instant::now() + Duration::from_secs(10);
                while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
                    std::thread::sleep(PATIENCE);
                }
                unparker.unpark();
            })
        };
        let mut drove = false;
        // The holder is not blocked: the waiter stays patient throughout.
        parker.drive_or_sleep(|| try_driver(&driver), || false, |_flag| drove = true);
        done.store(true, Ordering::SeqCst);
        holder.join().unwrap();
        assert!(drove, "the waiter did not take the free driver by itself");
    }

    /// A patient waiter that runs out of patience while the holder sleeps in
    /// `epoll_wait` asks to be woken, and is, when the holder lets go.
    #[test]
    fn a_waiter_finding_the_holder_blocked_becomes_eager() {
        let handoff = std::sync::Arc::new(Handoff::default());
        let (parker, unparker) = pair(None, handoff.clone());
        let driver = std::sync::Arc::new(AtomicBool::new(true)); // held
        let blocked = std::sync::Arc::new(AtomicBool::new(true)); // in epoll_wait
        let holder = {
            let (driver, handoff, blocked) = (driver.clone(), handoff.clone(), blocked.clone());
            std::thread::spawn(move || {
                // Wait (a while at most) for the waiter to queue up as eager.
                let deadline = Instant::now() + Duration::from_secs(10);
                let became_eager = loop {
                    if lock(&handoff.waiting).iter().any(|(_, eager)| *eager) {
                        break true;
                    }
                    if Instant::now() > deadline {
                        break false;
                    }
                    std::thread::yield_now();
                };
                blocked.store(false, Ordering::SeqCst);
                driver.store(false, Ordering::Release);
                handoff.release();
                if !became_eager {
                    unparker.unpark(); // fail, rather than leave it asleep
                }
                became_eager
            })
        };
        // Returns once woken (the worker would then park again and take the
        // driver) or having taken the driver itself.
        parker.drive_or_sleep(
            || try_driver(&driver),
            || blocked.load(Ordering::SeqCst),
            |_flag| {},
        );
        assert!(holder.join().unwrap(), "the waiter never asked to be woken");
        assert!(lock(&handoff.waiting).is_empty());
    }
}
