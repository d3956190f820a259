//! The timer queue: every pending `Sleep` of a runtime, ordered by deadline.
//!
//! A `BTreeMap` keyed by `(deadline, id)` gives O(log n) insert, O(log n)
//! removal of a cancelled timer (its slot is freed at once, not left behind as a
//! tombstone), and O(log n) access to the earliest deadline, which is all the
//! reactor needs: before it blocks in `epoll_wait` it asks for the earliest
//! deadline and uses it as the timeout. The `id` makes keys unique when two
//! timers share a deadline.
//!
//! If a timer is inserted with a deadline earlier than the one the reactor is
//! currently sleeping towards, the reactor would oversleep; `insert` therefore
//! reports that the reactor must be woken (through its eventfd) to recompute its
//! timeout.
//!
//! "Now" is the runtime's [`Clock`] (`timers/clock.rs`): the system clock, or,
//! with the `test-util` feature, one that tests pause. A paused clock changes
//! only how long the reactor really blocks (`real_wait`) and lets an idle
//! runtime jump to its next deadline (`auto_advance`); the queue is the same.

mod clock;

use std::collections::BTreeMap;
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::sync::{lock, Mutex};
pub(crate) use clock::Clock;

/// Identifies one pending timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey {
    pub(crate) deadline: Instant,
    id: u64,
}

#[derive(Debug, Default)]
struct Queue {
    entries: BTreeMap<TimerKey, Waker>,
    next_id: u64,
    /// `Some(d)` while the reactor is blocked in `epoll_wait` and will wake by
    /// itself at `d` (`Some(None)`: not by itself at all).
    reactor_sleeps_until: Option<Option<Instant>>,
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    queue: Mutex<Queue>,
    clock: Clock,
    #[cfg(feature = "test-util")]
    idle_probe: IdleProbe,
}

/// How long the reactor blocks at most while the clock is paused and it
/// cannot advance it (a worker, a blocking closure or a `block_on` caller is
/// busy): it must look again once they are all idle, and nobody rings it when
/// one of them goes to sleep. Short, since a test waits that long per step;
/// only a paused clock pays for the wake-ups.
const PAUSED_RECHECK: Duration = Duration::from_millis(1);

/// Tells the reactor whether every worker is idle (set by the executor; see
/// [`Timers::set_idle_probe`]). Without one, the thread that parks in the
/// reactor is taken to be the only worker (true of the current-thread flavour).
#[cfg(feature = "test-util")]
#[derive(Default)]
struct IdleProbe(std::sync::OnceLock<Box<dyn Fn() -> bool + Send + Sync>>);

#[cfg(feature = "test-util")]
impl std::fmt::Debug for IdleProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdleProbe")
    }
}

impl Timers {
    /// The runtime's clock: what "now" means for its timers.
    #[cfg(feature = "test-util")]
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The current time on the runtime's clock.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Installs the executor's "is every worker idle?" check, consulted
    /// before the paused clock auto-advances. (The executor calls it once,
    /// when it builds the runtime; later calls are ignored.)
    #[cfg(feature = "test-util")]
    pub(crate) fn set_idle_probe(&self, probe: Box<dyn Fn() -> bool + Send + Sync>) {
        let _ = self.idle_probe.0.set(probe);
    }

    #[cfg(feature = "test-util")]
    fn workers_idle(&self) -> bool {
        self.idle_probe.0.get().is_none_or(|probe| probe())
    }

    #[cfg(not(feature = "test-util"))]
    fn workers_idle(&self) -> bool {
        true
    }

    // ANCHOR: paused_clock
    /// How long `epoll_wait` may really block, given the `wait_for` computed
    /// from the clock (`idle_park`: the caller parks a worker that has
    /// nothing to do). A paused clock never sleeps towards a virtual
    /// deadline: when every worker is idle it only polls for I/O, and then
    /// [`auto_advance`](Self::auto_advance) jumps to the next deadline; when
    /// some worker is busy it checks again a little later.
    pub(crate) fn real_wait(
        &self,
        wait_for: Option<Duration>,
        idle_park: bool,
    ) -> Option<Duration> {
        if wait_for == Some(Duration::ZERO) || !self.clock.is_paused() || self.len() == 0 {
            return wait_for;
        }
        if idle_park && self.workers_idle() {
            return Some(Duration::ZERO);
        }
        Some(wait_for.map_or(PAUSED_RECHECK, |d| d.min(PAUSED_RECHECK)))
    }

    /// Called by an idle worker's reactor turn that found nothing to do: if
    /// the clock is paused and every worker is idle, moves it to the earliest
    /// deadline and takes the timers due then (tokio's auto-advance).
    pub(crate) fn auto_advance(&self, out: &mut Vec<Waker>) {
        if !self.clock.is_paused() || !self.workers_idle() {
            return;
        }
        let mut q = lock(&self.queue);
        let Some(next) = q.entries.first_key_value().map(|(k, _)| k.deadline) else {
            return;
        };
        if self.clock.advance_to(next) {
            Self::drain_expired(&mut q, self.clock.now(), out);
        }
    }
    // ANCHOR_END: paused_clock

    // ANCHOR: timer_insert
    /// Adds a timer. Returns its key, and whether the reactor must be woken to
    /// notice the new, earlier deadline.
    pub(crate) fn insert(&self, deadline: Instant, waker: Waker) -> (TimerKey, bool) {
        Self::insert_locked(&mut lock(&self.queue), deadline, waker)
    }

    fn insert_locked(q: &mut Queue, deadline: Instant, waker: Waker) -> (TimerKey, bool) {
        let key = TimerKey {
            deadline,
            id: q.next_id,
        };
        q.next_id += 1;
        q.entries.insert(key, waker);
        let wake_reactor = match q.reactor_sleeps_until {
            Some(None) => true,
            Some(Some(until)) => deadline < until,
            None => false,
        };
        if wake_reactor {
            // Only the first earlier timer needs to ring the bell.
            q.reactor_sleeps_until = Some(Some(deadline));
        }
        (key, wake_reactor)
    }
    // ANCHOR_END: timer_insert

    /// Replaces the waker of a pending timer. Returns `false` if the timer has
    /// already fired (and so was removed).
    pub(crate) fn update_waker(&self, key: TimerKey, waker: &Waker) -> bool {
        let mut q = lock(&self.queue);
        let old = match q.entries.get_mut(&key) {
            Some(w) => std::mem::replace(w, waker.clone()),
            None => return false,
        };
        drop(q);
        // The old waker is dropped outside the lock: it may be a task's last
        // reference, whose destructors may drop other timers.
        drop(old);
        true
    }

    /// Moves a timer to a new deadline: one lock for the removal and the
    /// insertion. The timer keeps `waker` (the one it was registered with,
    /// or a newer one), so a task that already waits on it is woken at the
    /// new deadline without being polled first. If the timer already fired,
    /// it is registered again (its task was woken and will poll anyway).
    /// Returns the new key, and whether the reactor must be woken.
    pub(crate) fn reset(&self, key: TimerKey, deadline: Instant, waker: Waker) -> (TimerKey, bool) {
        let mut q = lock(&self.queue);
        let removed = q.entries.remove(&key);
        let result = Self::insert_locked(&mut q, deadline, waker);
        drop(q);
        drop(removed);
        result
    }

    /// Removes a timer (a dropped or reset `Sleep`). No-op if it already fired.
    pub(crate) fn remove(&self, key: TimerKey) {
        let removed = lock(&self.queue).entries.remove(&key);
        // The waker is dropped outside the lock: dropping a task's last
        // reference may run arbitrary destructors.
        drop(removed);
    }

    /// Moves the wakers of every timer due at `now` into `out`.
    pub(crate) fn take_expired(&self, now: Instant, out: &mut Vec<Waker>) {
        let mut q = lock(&self.queue);
        Self::drain_expired(&mut q, now, out);
    }

    fn drain_expired(q: &mut Queue, now: Instant, out: &mut Vec<Waker>) {
        while let Some(entry) = q.entries.first_entry() {
            if entry.key().deadline > now {
                break;
            }
            out.push(entry.remove());
        }
    }

    // ANCHOR: prepare_wait
    /// Called by the reactor just before `epoll_wait`: moves due timers into
    /// `out` and returns the instant by which the reactor must wake up (the
    /// earlier of `limit` and the next deadline). If the reactor is going to
    /// block (`out` stayed empty and `blocking`), records that under the same
    /// lock, so that an `insert` racing with us either is seen here or sees the
    /// record and rings the bell: no timer can be overslept.
    pub(crate) fn prepare_wait(
        &self,
        now: Instant,
        limit: Option<Instant>,
        blocking: bool,
        out: &mut Vec<Waker>,
    ) -> Option<Instant> {
        let mut q = lock(&self.queue);
        Self::drain_expired(&mut q, now, out);
        let next = q.entries.first_key_value().map(|(k, _)| k.deadline);
        let until = match (next, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if blocking && out.is_empty() {
            q.reactor_sleeps_until = Some(until);
        }
        until
    }
    // ANCHOR_END: prepare_wait

    /// Called by the reactor when `epoll_wait` returned.
    pub(crate) fn reactor_awake(&self) {
        lock(&self.queue).reactor_sleeps_until = None;
    }

    /// Number of pending timers.
    pub(crate) fn len(&self) -> usize {
        lock(&self.queue).entries.len()
    }

    /// Drops every pending timer (runtime shutdown).
    pub(crate) fn clear(&self) {
        let entries = std::mem::take(&mut lock(&self.queue).entries);
        drop(entries);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn expire_in_deadline_order_and_cancel_frees() {
        let t = Timers::default();
        let now = Instant::now();
        let w = std::task::Waker::noop().clone();
        let (k3, _) = t.insert(now + Duration::from_millis(3), w.clone());
        let (_k1, _) = t.insert(now + Duration::from_millis(1), w.clone());
        let (k2, _) = t.insert(now + Duration::from_millis(2), w.clone());
        assert_eq!(t.len(), 3);
        t.remove(k2);
        t.remove(k2); // idempotent
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.prepare_wait(now, None, false, &mut Vec::new()),
            Some(now + Duration::from_millis(1))
        );
        let mut out = Vec::new();
        t.take_expired(now + Duration::from_millis(2), &mut out);
        assert_eq!(out.len(), 1);
        assert!(t.update_waker(k3, &w));
        t.take_expired(now + Duration::from_millis(3), &mut out);
        assert_eq!(out.len(), 2);
        assert!(!t.update_waker(k3, &w), "fired timers are gone");
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn earlier_timer_wakes_sleeping_reactor_once() {
        let t = Timers::default();
        let now = Instant::now();
        let w = std::task::Waker::noop().clone();
        let mut out = Vec::new();
        t.insert(now + Duration::from_secs(10), w.clone());
        let until = t.prepare_wait(now, None, true, &mut out);
        assert_eq!(until, Some(now + Duration::from_secs(10)));
        assert!(
            !t.insert(now + Duration::from_secs(20), w.clone()).1,
            "later: no wake"
        );
        assert!(
            t.insert(now + Duration::from_secs(5), w.clone()).1,
            "earlier: wake"
        );
        assert!(
            !t.insert(now + Duration::from_secs(6), w.clone()).1,
            "bell already rung"
        );
        t.reactor_awake();
        assert!(
            !t.insert(now + Duration::from_secs(1), w.clone()).1,
            "reactor awake: no wake"
        );
    }

    #[test]
    fn hundred_thousand_timers() {
        let t = Timers::default();
        let now = Instant::now();
        let w = std::task::Waker::noop().clone();
        let keys: Vec<_> = (0..100_000u64)
            .map(|i| {
                t.insert(now + Duration::from_micros(i * 7919 % 100_000), w.clone())
                    .0
            })
            .collect();
        for k in keys.iter().step_by(2) {
            t.remove(*k);
        }
        assert_eq!(t.len(), 50_000);
        let mut out = Vec::new();
        t.take_expired(now + Duration::from_secs(1), &mut out);
        assert_eq!(out.len(), 50_000);
        assert_eq!(t.len(), 0);
    }
}

/// Wakers are user code: dropping one may run any destructor, including one
/// that drops another timer of the same queue. These tests fail (deadlock or
/// "lock poisoned/re-entered" panic) if a waker is dropped under the lock.
#[cfg(all(test, not(loom)))]
mod reentrancy_tests {
    use super::*;
    use std::sync::{mpsc, Arc, Mutex};
    use std::task::Wake;
    use std::time::Duration;

    /// A waker whose destructor removes another timer from the same queue.
    struct RemovesOnDrop {
        timers: Arc<Timers>,
        key: Mutex<Option<TimerKey>>,
    }

    impl Wake for RemovesOnDrop {
        fn wake(self: Arc<Self>) {}
    }

    impl Drop for RemovesOnDrop {
        fn drop(&mut self) {
            let key = self.key.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(key) = key {
                self.timers.remove(key);
            }
        }
    }

    /// Runs `f` on a thread; fails the test if it panics or does not finish.
    fn finishes(f: impl FnOnce() + Send + 'static) {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            f();
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("re-entered the timer lock from a waker's destructor");
    }

    fn reentrant_waker(timers: &Arc<Timers>, other: TimerKey) -> Waker {
        Waker::from(Arc::new(RemovesOnDrop {
            timers: timers.clone(),
            key: Mutex::new(Some(other)),
        }))
    }

    #[test]
    fn waker_replaced_by_update_waker_is_dropped_outside_the_lock() {
        finishes(|| {
            let t = Arc::new(Timers::default());
            let far = Instant::now() + Duration::from_secs(3600);
            let (other, _) = t.insert(far, Waker::noop().clone());
            let (key, _) = t.insert(far, reentrant_waker(&t, other));
            assert!(t.update_waker(key, Waker::noop()));
            assert_eq!(t.len(), 1, "the destructor removed the other timer");
        });
    }

    #[test]
    fn waker_of_a_reset_timer_is_dropped_outside_the_lock() {
        finishes(|| {
            let t = Arc::new(Timers::default());
            let far = Instant::now() + Duration::from_secs(3600);
            let (other, _) = t.insert(far, Waker::noop().clone());
            let (key, _) = t.insert(far, reentrant_waker(&t, other));
            t.reset(key, far + Duration::from_secs(1), Waker::noop().clone());
            assert_eq!(t.len(), 1, "the destructor removed the other timer");
        });
    }
}
