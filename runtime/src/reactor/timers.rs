//! The timer queue: every pending `Sleep` of a runtime, ordered by deadline.
//!
//! A binary min-heap ordered by `(deadline, id)`, with each timer's position
//! kept in a slot table, gives O(log n) insert, O(log n) removal of a
//! cancelled timer (its entry is freed at once, not left behind as a
//! tombstone), and O(1) access to the earliest deadline, which is all the
//! reactor needs: before it blocks in `epoll_wait` it asks for the earliest
//! deadline and uses it as the timeout. The `id` makes keys unique when two
//! timers share a deadline, so they fire in the order they were made.
//!
//! (A `BTreeMap` does the same in one line, but its generic node code was a
//! tenth of the crate's compiled code; the heap is a few short loops over one
//! concrete type.)
//!
//! Timers due seconds ahead — timeouts, nearly all cancelled before they
//! fire — skip the heap: they wait in an unsorted list (O(1) to add and to
//! cancel) that the reactor sweeps into the heap once they come within
//! [`FAR`] of firing.
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

use std::task::Waker;
use std::time::{Duration, Instant};

use crate::primitives::{lock, AtomicU64, Mutex, Ordering};
pub(crate) use clock::Clock;

/// Identifies one pending timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    pub(crate) deadline: Instant,
    id: u64,
    /// Index into `Queue::slots`; reused once the timer is gone, which the
    /// unique `id` tells apart.
    slot: usize,
}

impl TimerKey {
    /// Heap order: earliest deadline first, then creation order.
    fn before(&self, other: &TimerKey) -> bool {
        (self.deadline, self.id) < (other.deadline, other.id)
    }
}

#[derive(Debug)]
struct Entry {
    key: TimerKey,
    waker: Waker,
}

/// A free entry of `Queue::slots`.
const FREE: usize = usize::MAX;
/// Marks a `Queue::slots` entry as a position in `Queue::far`, not `heap`.
const IN_FAR: usize = 1 << (usize::BITS - 1);

// ANCHOR: far
/// How far ahead the reactor looks when it sweeps the far list: a timer due
/// more than `2 * FAR` after the last drain is added to `Queue::far`; the
/// reactor sweeps that list once its earliest deadline is within `FAR`, and
/// moves whatever is due within `2 * FAR` into the heap. So one sweep of the
/// list happens at most once per `FAR`, and every timer is in the heap at
/// least `FAR` before it is due.
const FAR: Duration = Duration::from_secs(1);
// ANCHOR_END: far

#[derive(Debug, Default)]
struct Queue {
    /// Min-heap on `(deadline, id)`: every entry is due no later than its
    /// children (`2i + 1`, `2i + 2`), so `heap[0]` is the next to fire.
    heap: Vec<Entry>,
    /// Timers that were due more than `2 * FAR` ahead when added, unsorted:
    /// adding or removing one is O(1). These are mostly timeouts (a request's
    /// header deadline, a keep-alive limit) that are cancelled long before
    /// they fire; in the heap, each cancellation would sift through it.
    far: Vec<Entry>,
    /// No later than the earliest deadline in `far` (`None`: `far` is empty).
    /// Exact after a sweep; a removal may leave it early, which costs at most
    /// one early sweep.
    far_min: Option<Instant>,
    /// For each slot, where its timer sits: a position in `heap`, `IN_FAR |`
    /// a position in `far`, or `FREE`. What makes removal of a cancelled timer
    /// O(log n) (O(1) in `far`).
    slots: Vec<usize>,
    free_slots: Vec<usize>,
    next_id: u64,
    /// `Some(d)` while the reactor is blocked in `epoll_wait` and will wake by
    /// itself at `d` (`Some(None)`: not by itself at all).
    reactor_sleeps_until: Option<Option<Instant>>,
}

#[derive(Debug)]
pub(crate) struct Timers {
    queue: Mutex<Queue>,
    clock: Clock,
    /// How far the queue has been drained: the latest `now` any drain used,
    /// as nanoseconds since `epoch`. A timer whose deadline lies beyond it has
    /// certainly not fired, which a `Sleep` can tell without the lock or a
    /// clock read (see [`Timers::certainly_pending`]).
    drained_until: AtomicU64,
    epoch: Instant,
    #[cfg(feature = "test-util")]
    idle_probe: IdleProbe,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            queue: Mutex::default(),
            clock: Default::default(),
            drained_until: AtomicU64::new(0),
            epoch: Instant::now(),
            #[cfg(feature = "test-util")]
            idle_probe: IdleProbe::default(),
        }
    }
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

impl Queue {
    /// The earliest deadline of all (a scan of `far`: for the paused clock's
    /// auto-advance and for tests, not for every reactor turn).
    fn next_deadline(&self) -> Option<Instant> {
        let far = self.far.iter().map(|e| e.key.deadline).min();
        let near = self.heap.first().map(|e| e.key.deadline);
        earliest(near, far)
    }

    /// When the reactor must look at the queue next: the heap's earliest
    /// deadline, or the time to sweep `far`, whichever comes first.
    fn wake_by(&self) -> Option<Instant> {
        let sweep = self.far_min.map(|m| m.checked_sub(FAR).unwrap_or(m));
        earliest(self.heap.first().map(|e| e.key.deadline), sweep)
    }

    /// Where the timer `key` sits (see `slots`), if it is still pending.
    fn find(&self, key: TimerKey) -> Option<usize> {
        let pos = *self.slots.get(key.slot)?;
        let entry = match pos {
            FREE => return None,
            p if p & IN_FAR != 0 => self.far.get(p & !IN_FAR)?,
            p => self.heap.get(p)?,
        };
        (entry.key == key).then_some(pos)
    }

    fn entry_mut(&mut self, pos: usize) -> &mut Entry {
        if pos & IN_FAR != 0 {
            &mut self.far[pos & !IN_FAR]
        } else {
            &mut self.heap[pos]
        }
    }

    /// Adds a timer, to `far` if it is [far ahead](Timers::far_ahead);
    /// returns when the reactor must look at the queue for it (its deadline,
    /// or, in `far`, the time to sweep it into the heap).
    fn push(&mut self, entry: Entry, far_ahead: bool) -> Instant {
        let deadline = entry.key.deadline;
        if far_ahead {
            self.slots[entry.key.slot] = IN_FAR | self.far.len();
            self.far.push(entry);
            self.far_min = earliest(self.far_min, Some(deadline));
            return deadline.checked_sub(FAR).unwrap_or(deadline);
        }
        self.push_heap(entry);
        deadline
    }

    fn push_heap(&mut self, entry: Entry) {
        let i = self.heap.len();
        self.slots[entry.key.slot] = i;
        self.heap.push(entry);
        self.sift_up(i);
    }

    /// Removes the timer `key`, returning its waker; `None` if it already
    /// fired or was removed.
    fn remove(&mut self, key: TimerKey) -> Option<Waker> {
        let pos = self.find(key)?;
        if pos & IN_FAR == 0 {
            return Some(self.remove_at(pos));
        }
        let entry = self.take_far(pos & !IN_FAR);
        self.slots[entry.key.slot] = FREE;
        self.free_slots.push(entry.key.slot);
        Some(entry.waker)
    }

    /// Takes `far[i]` out (its slot is the caller's to update); the last
    /// entry takes its place.
    fn take_far(&mut self, i: usize) -> Entry {
        let entry = self.far.swap_remove(i);
        if let Some(moved) = self.far.get(i) {
            self.slots[moved.key.slot] = IN_FAR | i;
        }
        if self.far.is_empty() {
            self.far_min = None;
        }
        entry
    }

    /// Once the earliest far timer is within `FAR` of `now`, moves every far
    /// timer due within `2 * FAR` into the heap and makes `far_min` exact.
    fn sweep(&mut self, now: Instant) {
        let due = self
            .far_min
            .is_some_and(|m| now.checked_add(FAR).is_none_or(|soon| m <= soon));
        if !due {
            return;
        }
        let horizon = now.checked_add(2 * FAR);
        let mut far_min = None;
        let mut i = 0;
        while i < self.far.len() {
            let deadline = self.far[i].key.deadline;
            if horizon.is_none_or(|h| deadline <= h) {
                let entry = self.take_far(i);
                self.push_heap(entry);
            } else {
                far_min = earliest(far_min, Some(deadline));
                i += 1;
            }
        }
        self.far_min = far_min;
    }

    /// Removes `heap[i]`: the last entry takes its place and moves up or
    /// down to where it belongs.
    fn remove_at(&mut self, i: usize) -> Waker {
        let entry = self.heap.swap_remove(i);
        self.slots[entry.key.slot] = FREE;
        self.free_slots.push(entry.key.slot);
        if i < self.heap.len() {
            self.slots[self.heap[i].key.slot] = i;
            self.sift_down(i);
            self.sift_up(i);
        }
        entry.waker
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.heap[i].key.before(&self.heap[parent].key) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let left = 2 * i + 1;
            let right = left + 1;
            let mut first = i;
            if left < self.heap.len() && self.heap[left].key.before(&self.heap[first].key) {
                first = left;
            }
            if right < self.heap.len() && self.heap[right].key.before(&self.heap[first].key) {
                first = right;
            }
            if first == i {
                break;
            }
            self.swap(i, first);
            i = first;
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.slots[self.heap[a].key.slot] = a;
        self.slots[self.heap[b].key.slot] = b;
    }
}

/// The earlier of two optional instants (`None` only if both are).
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
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
        let Some(next) = q.next_deadline() else {
            return;
        };
        if self.clock.advance_to(next) {
            self.drain_expired(&mut q, self.clock.now(), out);
        }
    }
    // ANCHOR_END: paused_clock

    // ANCHOR: timer_insert
    /// Adds a timer. Returns its key, and whether the reactor must be woken to
    /// notice the new, earlier deadline.
    pub(crate) fn insert(&self, deadline: Instant, waker: Waker) -> (TimerKey, bool) {
        self.insert_locked(&mut lock(&self.queue), deadline, waker)
    }

    fn insert_locked(&self, q: &mut Queue, deadline: Instant, waker: Waker) -> (TimerKey, bool) {
        let slot = match q.free_slots.pop() {
            Some(slot) => slot,
            None => {
                q.slots.push(FREE);
                q.slots.len() - 1
            }
        };
        let key = TimerKey {
            deadline,
            id: q.next_id,
            slot,
        };
        q.next_id += 1;
        let look_at = q.push(Entry { key, waker }, self.far_ahead(deadline));
        let wake_reactor = match q.reactor_sleeps_until {
            Some(None) => true,
            Some(Some(until)) => look_at < until,
            None => false,
        };
        if wake_reactor {
            // Only the first earlier timer needs to ring the bell.
            q.reactor_sleeps_until = Some(Some(look_at));
        }
        (key, wake_reactor)
    }
    // ANCHOR_END: timer_insert

    /// Replaces the waker of a pending timer. Returns `false` if the timer has
    /// already fired (and so was removed).
    pub(crate) fn update_waker(&self, key: TimerKey, waker: &Waker) -> bool {
        let mut q = lock(&self.queue);
        let old = match q.find(key) {
            Some(pos) => std::mem::replace(&mut q.entry_mut(pos).waker, waker.clone()),
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
        let removed = q.remove(key);
        let result = self.insert_locked(&mut q, deadline, waker);
        drop(q);
        drop(removed);
        result
    }

    /// Removes a timer (a dropped or reset `Sleep`). No-op if it already fired.
    pub(crate) fn remove(&self, key: TimerKey) {
        let removed = lock(&self.queue).remove(key);
        // The waker is dropped outside the lock: dropping a task's last
        // reference may run arbitrary destructors.
        drop(removed);
    }

    /// Moves the wakers of every timer due at `now` into `out`.
    pub(crate) fn take_expired(&self, now: Instant, out: &mut Vec<Waker>) {
        let mut q = lock(&self.queue);
        self.drain_expired(&mut q, now, out);
    }

    /// `t` as nanoseconds since `epoch` (0 for anything earlier): a
    /// non-decreasing map, so `nanos(a) > nanos(b)` still implies `a > b`.
    fn nanos(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    // ANCHOR: certainly_pending
    /// Whether the timer `key` is certainly still in the queue: its deadline
    /// lies beyond every `now` a drain has used, so none can have fired it
    /// (only its own `Sleep` removes it otherwise).
    ///
    /// The answer is exact in the direction that matters. A drain records
    /// its `now` *before* it takes any timer out, and the wakers it takes
    /// are woken after that; a task polled because of that wake-up therefore
    /// sees the new value and answers `false`. A drain racing with a poll
    /// may still fire the timer just after this answered `true`: that drain's
    /// wake-up then polls the task again.
    pub(crate) fn certainly_pending(&self, key: TimerKey) -> bool {
        self.nanos(key.deadline) > self.drained_until.load(Ordering::Acquire)
    }
    // ANCHOR_END: certainly_pending

    /// Whether `deadline` lies more than `2 * FAR` beyond where the last
    /// drain looked, so that a `Sleep`'s first poll may register it without
    /// reading the clock to see whether it is already due: the timeout armed
    /// per request (hyper's header timer) then costs no clock read. A runtime
    /// that has not looked at its timers for seconds may be past such a
    /// deadline already; the timer then fires at the reactor's next turn, as
    /// every timer that came due meanwhile does. Before the first drain
    /// (`drained_until` still 0) nothing is far ahead: there is no point of
    /// reference yet. The same rule sends a new timer to `Queue::far`.
    pub(crate) fn far_ahead(&self, deadline: Instant) -> bool {
        let drained = self.drained_until.load(Ordering::Acquire);
        drained != 0 && self.nanos(deadline) > drained.saturating_add(2 * FAR.as_nanos() as u64)
    }

    fn drain_expired(&self, q: &mut Queue, now: Instant, out: &mut Vec<Waker>) {
        self.drained_until
            .fetch_max(self.nanos(now), Ordering::AcqRel);
        q.sweep(now);
        while q.heap.first().is_some_and(|e| e.key.deadline <= now) {
            out.push(q.remove_at(0));
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
        self.drain_expired(&mut q, now, out);
        let until = earliest(q.wake_by(), limit);
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

    /// Whether the reactor is blocked in `epoll_wait` now: between a
    /// `prepare_wait` that decided to block and the `reactor_awake` after it.
    pub(crate) fn reactor_blocked(&self) -> bool {
        lock(&self.queue).reactor_sleeps_until.is_some()
    }

    /// Number of pending timers.
    pub(crate) fn len(&self) -> usize {
        let q = lock(&self.queue);
        q.heap.len() + q.far.len()
    }

    /// Drops every pending timer (runtime shutdown).
    pub(crate) fn clear(&self) {
        let entries = {
            let mut q = lock(&self.queue);
            q.slots.clear();
            q.free_slots.clear();
            q.far_min = None;
            (std::mem::take(&mut q.heap), std::mem::take(&mut q.far))
        };
        // The wakers are dropped outside the lock (see `remove`).
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

    /// Random inserts, removals, resets and expiries against a plain list
    /// of what should be pending: the same timers fire, in deadline order
    /// (ties in creation order), and stale keys (fired, removed, or whose
    /// slot was reused) find nothing. A quarter of the deadlines lie seconds
    /// ahead and the clock sometimes jumps by up to 1.5 s, so timers go
    /// through the far list and its sweeps too.
    #[test]
    fn matches_a_sorted_list_model() {
        let t = Timers::default();
        let base = Instant::now();
        let mut model: Vec<TimerKey> = Vec::new();
        let mut gone: Vec<TimerKey> = Vec::new();
        let mut now = base;
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut rand = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        // Fewer rounds under miri (scripts/miri.sh runs the timer tests),
        // where each round's full heap check is slow.
        let rounds = if cfg!(miri) { 300 } else { 20_000 };
        let mut most_far = 0;
        let deadline = |now: Instant, r: u64| match r % 4 {
            0 => now + Duration::from_millis(r % 5_000),
            _ => now + Duration::from_micros(r % 1_000),
        };
        for _ in 0..rounds {
            match rand(10) {
                0..=3 => {
                    let at = deadline(now, rand(u64::MAX));
                    model.push(t.insert(at, Waker::noop().clone()).0);
                }
                4 | 5 if !model.is_empty() => {
                    let k = model.swap_remove(rand(model.len() as u64) as usize);
                    t.remove(k);
                    gone.push(k);
                }
                6 if !model.is_empty() => {
                    let i = rand(model.len() as u64) as usize;
                    let at = deadline(now, rand(u64::MAX));
                    let (k, _) = t.reset(model[i], at, Waker::noop().clone());
                    gone.push(std::mem::replace(&mut model[i], k));
                }
                7 if !gone.is_empty() => {
                    let k = gone[rand(gone.len() as u64) as usize];
                    assert!(!t.update_waker(k, Waker::noop()), "stale key found");
                    t.remove(k); // must not remove whoever reuses its slot
                }
                8 => {
                    now += match rand(20) {
                        0 => Duration::from_millis(rand(1_500)),
                        _ => Duration::from_micros(rand(200)),
                    };
                    let mut out = Vec::new();
                    t.take_expired(now, &mut out);
                    let mut due: Vec<_> = model
                        .iter()
                        .filter(|k| k.deadline <= now)
                        .copied()
                        .collect();
                    due.sort_by_key(|k| (k.deadline, k.id));
                    assert_eq!(out.len(), due.len());
                    model.retain(|k| k.deadline > now);
                    gone.extend(due);
                }
                _ => {}
            }
            assert_eq!(t.len(), model.len());
            let q = lock(&t.queue);
            let first = model.iter().map(|k| k.deadline).min();
            assert_eq!(q.next_deadline(), first);
            // The reactor looks no later than the first deadline.
            assert_eq!(q.wake_by().is_some(), first.is_some());
            assert!(q.wake_by() <= first, "the reactor would oversleep");
            for (i, e) in q.heap.iter().enumerate() {
                assert_eq!(q.slots[e.key.slot], i, "slot table out of step");
                if i > 0 {
                    assert!(!e.key.before(&q.heap[(i - 1) / 2].key), "heap order");
                }
            }
            most_far = most_far.max(q.far.len());
            for (i, e) in q.far.iter().enumerate() {
                assert_eq!(q.slots[e.key.slot], IN_FAR | i, "far slot out of step");
                assert!(
                    q.far_min.is_some_and(|m| m <= e.key.deadline),
                    "far_min late"
                );
            }
        }
        assert!(most_far >= 3, "the far list was hardly used ({most_far})");
    }

    /// A deadline seconds beyond the last drain counts as far ahead (a first
    /// poll registers it unread); one the runtime has meanwhile passed fires
    /// at the next drain all the same.
    #[test]
    fn far_ahead_deadlines_fire_at_the_next_drain_once_passed() {
        let t = Timers::default();
        let base = Instant::now();
        let mut out = Vec::new();
        t.take_expired(base, &mut out);
        assert!(!t.far_ahead(base + Duration::from_millis(1500)));
        let late = base + Duration::from_secs(3);
        assert!(t.far_ahead(late));
        let (key, _) = t.insert(late, Waker::noop().clone());
        assert!(lock(&t.queue).far.len() == 1, "not in the far list");
        // The runtime stalled past the deadline; its next turn fires it.
        t.take_expired(base + Duration::from_secs(5), &mut out);
        assert_eq!(out.len(), 1);
        assert!(!t.certainly_pending(key));
        assert!(!t.far_ahead(late));
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
