//! A worker: the loop every runtime thread runs, and the scheduling decisions
//! it makes on each turn.
//!
//! ```text
//!            +--------------------------- every EVENT_INTERVAL ticks: non-blocking reactor turn
//!            v
//! tick --> LIFO slot --> local queue --> inject queue --> steal from a random victim --> park
//!   ^    (every ~100 µs of work the inject queue is checked first)                       |
//!   +-------------------------------------------------------------------------------+
//! ```
//!
//! * **LIFO slot.** A task woken by the running task (the receiver of a message
//!   just sent, a freshly spawned task) goes into the slot and runs next, while
//!   its data is still in cache. Its previous occupant moves to the back of the
//!   local queue. The slot is not stealable, and at most `MAX_LIFO_POLLS` tasks
//!   run from it back to back, so two tasks pinging each other cannot starve the
//!   queue.
//! * **Fairness.** A task that wakes *itself* (it yielded) goes to the back of
//!   the local queue, not the slot. The inject queue is checked first every
//!   ~100 µs of work (the interval in ticks adapts to how long ticks take), and
//!   the reactor gets a non-blocking turn
//!   every `EVENT_INTERVAL` ticks, so neither remote work nor I/O waits for the
//!   local queue to drain.
//! * **Searching and parking** follow the protocol in `idle.rs`.
//!
//! The worker's [`Core`] (its queue, LIFO slot, parker) is owned by the thread
//! running the loop. While a task is being polled the core sits in the thread's
//! [`WorkerContext`], so that a wake-up issued by that task can push into the
//! local queue directly (see [`super::Shared::schedule_task`]).

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};

use super::idle::Idle;
use super::park::Parker;
use super::queue::{self, Local};
use super::Shared;
use crate::metrics::METRICS;
use crate::primitives::Ordering;
use crate::task::raw::Notified;
use std::sync::Arc;

/// Ticks between checks of the inject queue before the local queue, at first.
/// Retuned at every check so that the checks happen about every
/// `GLOBAL_QUEUE_TARGET` of work: a worker whose tasks take 10 µs each must
/// look far more often (in ticks) than one whose tasks take 100 ns, or remote
/// work waits behind its local queue for milliseconds.
const GLOBAL_QUEUE_INTERVAL: u32 = 31;
const GLOBAL_QUEUE_TARGET: std::time::Duration = std::time::Duration::from_micros(100);
const GLOBAL_QUEUE_INTERVAL_MIN: u32 = 2;
const GLOBAL_QUEUE_INTERVAL_MAX: u32 = 127;
/// Ticks between non-blocking reactor turns.
pub(crate) const EVENT_INTERVAL: u32 = 61;
/// Tasks run from the LIFO slot back to back before the queue gets a turn.
const MAX_LIFO_POLLS: usize = 3;

/// Counters kept in plain integers by the owning thread and published to the
/// shared atomics now and then (see `Core::publish_stats`).
#[derive(Default, Clone, Copy)]
pub(crate) struct WorkerStats {
    pub(crate) polls: u64,
    pub(crate) steals: u64,
    pub(crate) parks: u64,
}

pub(crate) struct Core {
    pub(crate) index: usize,
    tick: u32,
    /// Ticks left until the next inject-queue-first check, the current
    /// interval, and when the last check happened (see GLOBAL_QUEUE_TARGET).
    global_countdown: u32,
    global_interval: u32,
    global_checked_at: std::time::Instant,
    lifo: Option<Notified>,
    run_queue: Local,
    is_searching: bool,
    /// Set while the core is parked (driving the reactor): wake-ups then land
    /// here without notifying other workers; `park` decides afterwards.
    in_park: bool,
    rand: FastRand,
    parker: Option<Parker>,
    stats: WorkerStats,
}

/// Minimal xorshift generator for picking steal victims.
struct FastRand(u32);

impl FastRand {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

impl Core {
    pub(crate) fn new(index: usize, run_queue: Local, parker: Parker) -> Box<Core> {
        Box::new(Core {
            index,
            tick: 0,
            global_countdown: GLOBAL_QUEUE_INTERVAL,
            global_interval: GLOBAL_QUEUE_INTERVAL,
            global_checked_at: std::time::Instant::now(),
            lifo: None,
            run_queue,
            is_searching: false,
            in_park: false,
            rand: FastRand(0x9E37_79B9 ^ (index as u32).wrapping_mul(0x85EB_CA6B) | 1),
            parker: Some(parker),
            stats: WorkerStats::default(),
        })
    }

    fn has_tasks(&self) -> bool {
        self.lifo.is_some() || !self.run_queue.is_empty()
    }

    /// More than one task in hand: worth waking a sleeper to share them
    /// (one task is best run right here, where its wake-up arrived).
    fn should_notify_others(&self) -> bool {
        !self.is_searching && usize::from(self.lifo.is_some()) + self.run_queue.len() > 1
    }

    /// Sets the next interval so that `global_interval` ticks take about
    /// `GLOBAL_QUEUE_TARGET`, judging by how long the last ones took. One
    /// clock read per interval, not per task.
    fn retune_global_interval(&mut self) {
        let now = std::time::Instant::now();
        let elapsed = now.duration_since(self.global_checked_at);
        self.global_checked_at = now;
        let per_tick = elapsed.as_nanos() / u128::from(self.global_interval.max(1));
        let ideal = GLOBAL_QUEUE_TARGET.as_nanos() / per_tick.max(1);
        // Move halfway towards the ideal: one odd interval (a long park, a
        // page fault) should not swing the next one to an extreme.
        let next = (u128::from(self.global_interval) + ideal) / 2;
        self.global_interval = next.clamp(
            u128::from(GLOBAL_QUEUE_INTERVAL_MIN),
            u128::from(GLOBAL_QUEUE_INTERVAL_MAX),
        ) as u32;
        self.global_countdown = self.global_interval;
    }

    /// (With `--cfg runtime_no_metrics` every counter update compiles to
    /// nothing: that build exists only to measure what the metrics cost.)
    fn publish_stats(&self, shared: &Shared) {
        if !METRICS {
            return;
        }
        let m = &shared.remotes[self.index].metrics;
        m.polls.store(self.stats.polls, Ordering::Relaxed);
        m.steals.store(self.stats.steals, Ordering::Relaxed);
        m.parks.store(self.stats.parks, Ordering::Relaxed);
    }
}

/// While the core sits in the context for the reactor or deferred wake-ups
/// (`in_park` set, the parker lent out), user wakers run; one may panic. On
/// drop, also while unwinding, this gives the parker back and clears
/// `in_park`, so the core that a current-thread `block_on` hands to the next
/// caller (or that a worker resumes with) is whole: losing the parker there
/// used to end in `unreachable!("parker missing")` at the next park.
struct ParkScope<'a> {
    cx: &'a WorkerContext,
    parker: Option<Parker>,
}

impl Drop for ParkScope<'_> {
    fn drop(&mut self) {
        let Ok(mut slot) = self.cx.core.try_borrow_mut() else {
            return;
        };
        if let Some(core) = slot.as_mut() {
            core.in_park = false;
            if let Some(parker) = self.parker.take() {
                core.parker = Some(parker);
            }
        }
    }
}

/// A user waker panicking out of the reactor while this worker is listed as
/// parked: take it off the list on the way out, as a normal wake-up would, so
/// the worker is not counted asleep while it runs (and not listed twice at
/// its next park). Disarmed with `mem::forget` on the normal path.
struct LeaveIdleOnUnwind<'a> {
    cx: &'a WorkerContext,
    index: usize,
}

impl Drop for LeaveIdleOnUnwind<'_> {
    fn drop(&mut self) {
        let searching = !self.cx.shared.idle.unpark_worker_by_id(self.index);
        if let Ok(mut slot) = self.cx.core.try_borrow_mut() {
            if let Some(core) = slot.as_mut() {
                core.is_searching = searching;
            }
        }
    }
}

pub(crate) fn new_queue() -> (queue::Steal, Local) {
    queue::new()
}

/// The state of the worker loop running on this thread.
pub(crate) struct WorkerContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) core: RefCell<Option<Box<Core>>>,
    /// Wakers of tasks that yielded (`task::yield_now`): woken only once
    /// this worker has looked at every other source of work, so that a task
    /// that yields in a loop really lets queued and remote tasks run first.
    pub(crate) deferred: RefCell<Vec<std::task::Waker>>,
}

impl WorkerContext {
    // ANCHOR: schedule_local
    /// Schedules `task` on this worker (called from a wake-up or spawn on this
    /// thread). Returns the task back if the core is not here.
    pub(crate) fn schedule_local(&self, task: Notified, is_yield: bool) -> Result<(), Notified> {
        let Ok(mut slot) = self.core.try_borrow_mut() else {
            return Err(task);
        };
        let Some(core) = slot.as_mut() else {
            return Err(task);
        };
        let shared = &self.shared;
        // Wake-ups delivered by the reactor (while this core is parked or
        // giving the reactor a turn) keep their order: timers come due in
        // deadline order, sockets in event order. The LIFO slot is for tasks
        // woken by the task that is running, and would reverse that order.
        let pushed_to_queue = if is_yield || core.in_park {
            core.run_queue.push_back(task, &shared.inject);
            true
        } else {
            match core.lifo.replace(task) {
                Some(previous) => {
                    core.run_queue.push_back(previous, &shared.inject);
                    true
                }
                None => false,
            }
        };
        let notify = pushed_to_queue && !core.in_park && !core.is_searching;
        drop(slot);
        if notify {
            // There is stealable work: let a sleeping worker come for it (only
            // if nobody is searching already; see idle.rs).
            shared.notify_parked();
        }
        Ok(())
    }
    // ANCHOR_END: schedule_local

    pub(crate) fn new(shared: Arc<Shared>, core: Option<Box<Core>>) -> WorkerContext {
        WorkerContext {
            shared,
            core: RefCell::new(core),
            deferred: RefCell::new(Vec::new()),
        }
    }

    /// Records a yielding task's waker (see `deferred`). Returns `false` if
    /// the list is busy (re-entrant use), in which case the caller wakes
    /// the task directly.
    pub(crate) fn defer(&self, waker: &std::task::Waker) -> bool {
        match self.deferred.try_borrow_mut() {
            Ok(mut list) => {
                list.push(waker.clone());
                true
            }
            Err(_) => false,
        }
    }

    /// Wakes the deferred tasks into the back of the local queue. Returns
    /// whether there were any.
    fn wake_deferred(&self, core: Box<Core>) -> (Box<Core>, bool) {
        if self.deferred.borrow().is_empty() {
            return (core, false);
        }
        let mut core = core;
        // Like the reactor's wake-ups: to the back of the queue, in order,
        // without notifying anyone from inside the loop.
        core.in_park = true;
        self.put_core(core);
        let scope = ParkScope {
            cx: self,
            parker: None,
        };
        // Wake outside the borrow (a waker may be foreign code), then give
        // the vector back so its capacity is reused: no allocation per round.
        // A waker that panics must not cost the tasks after it their wake-up:
        // wake them all, then let the first panic continue.
        let mut wakers = std::mem::take(&mut *self.deferred.borrow_mut());
        let mut panicked = None;
        for w in wakers.drain(..) {
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| w.wake())) {
                panicked.get_or_insert(payload);
            }
        }
        let mut list = self.deferred.borrow_mut();
        if list.is_empty() {
            *list = wakers;
        }
        drop(list);
        drop(scope);
        if let Some(payload) = panicked {
            panic::resume_unwind(payload);
        }
        let core = self.take_core();
        if core.should_notify_others() {
            self.shared.notify_parked();
        }
        (core, true)
    }

    fn take_core(&self) -> Box<Core> {
        match self.core.borrow_mut().take() {
            Some(core) => core,
            None => unreachable!("worker core missing"),
        }
    }

    fn put_core(&self, core: Box<Core>) {
        *self.core.borrow_mut() = Some(core);
    }

    /// The worker thread's loop; returns the core at shutdown.
    ///
    /// Task panics are caught by the task harness; what can still unwind to
    /// here is foreign code the worker calls outside a task: a user's waker
    /// panicking in the reactor's wake loop or among the deferred wake-ups.
    /// The worker must outlive it, so it resumes its loop with the core it
    /// left in the context (where every such call site keeps it, with its
    /// parker: see `ParkScope`). The panic hook has already reported it.
    ///
    /// Returns `None` if a task gave the core to another thread
    /// (`block_in_place`); this thread's part is over then.
    pub(crate) fn run(&self, core: Box<Core>) -> Option<Box<Core>> {
        let mut core = core;
        loop {
            match panic::catch_unwind(AssertUnwindSafe(|| self.run_loop(core))) {
                Ok(core) => return core,
                Err(_) => core = self.core.borrow_mut().take()?,
            }
        }
    }

    fn run_loop(&self, mut core: Box<Core>) -> Option<Box<Core>> {
        while !self.shared.is_shutdown() {
            let (c, worked) = self.step(core);
            core = match c {
                Some(core) => core,
                None => {
                    // Tasks that yielded here are runnable: hand them to the
                    // inject queue (no core here any more) before leaving.
                    let wakers = std::mem::take(&mut *self.deferred.borrow_mut());
                    wakers.into_iter().for_each(std::task::Waker::wake);
                    return None;
                }
            };
            if !worked {
                core = self.park(core, &|| false);
            }
        }
        core.publish_stats(&self.shared);
        Some(core)
    }

    // ANCHOR: step
    /// One scheduling decision: run one task (plus its LIFO successors), or
    /// report that there was nothing to run.
    /// The core comes back `None` if a task gave it away (`block_in_place`).
    pub(crate) fn step(&self, mut core: Box<Core>) -> (Option<Box<Core>>, bool) {
        core.tick = core.tick.wrapping_add(1);
        if core.tick.is_multiple_of(EVENT_INTERVAL) {
            core = self.maintenance(core);
        }
        if let Some(task) = self.next_task(&mut core) {
            return (self.run_task(task, core), true);
        }
        // Our queue and the inject queue are empty. Tasks that yielded here
        // come before stealing: they are runnable, and their data is here.
        let (core, woke) = self.wake_deferred(core);
        if woke {
            return (Some(core), true);
        }
        let mut core = core;
        if let Some(task) = self.steal_work(&mut core) {
            return (self.run_task(task, core), true);
        }
        (Some(core), false)
    }
    // ANCHOR_END: step

    // ANCHOR: next_task
    fn next_task(&self, core: &mut Core) -> Option<Notified> {
        let shared = &*self.shared;
        core.global_countdown -= 1;
        if core.global_countdown == 0 {
            core.retune_global_interval();
            if let Some(task) = shared.inject.pop() {
                return Some(task);
            }
        }
        if let Some(task) = core.lifo.take() {
            return Some(task);
        }
        if let Some(task) = core.run_queue.pop() {
            return Some(task);
        }
        // Take a fair share of the global queue, not all of it.
        let share = shared.inject.len() / shared.remotes.len() + 1;
        shared
            .inject
            .pop_into(&mut core.run_queue, share.min(queue::CAPACITY / 2))
    }
    // ANCHOR_END: next_task

    // ANCHOR: steal_work
    fn steal_work(&self, core: &mut Core) -> Option<Notified> {
        let shared = &*self.shared;
        if !core.is_searching {
            if !shared.idle.transition_worker_to_searching() {
                return None;
            }
            core.is_searching = true;
        }
        let n = shared.remotes.len();
        let start = core.rand.next() as usize % n;
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == core.index {
                continue;
            }
            if let Some(task) = shared.remotes[victim].steal.steal_into(&mut core.run_queue) {
                if METRICS {
                    core.stats.steals += 1;
                }
                return Some(task);
            }
        }
        shared
            .inject
            .pop_into(&mut core.run_queue, queue::CAPACITY / 2)
    }
    // ANCHOR_END: steal_work

    // ANCHOR: run_task
    /// `None` if the task gave the core away (`block_in_place`): this
    /// thread is then no longer a worker.
    fn run_task(&self, task: Notified, mut core: Box<Core>) -> Option<Box<Core>> {
        if core.is_searching {
            core.is_searching = false;
            if self.shared.idle.transition_worker_from_searching() {
                // We were the last searcher and found work: there may be more.
                self.shared.notify_parked();
            }
        }
        if METRICS {
            core.stats.polls += 1;
        }
        self.put_core(core);
        task.run();
        let mut lifo_polls = 0;
        loop {
            let mut core = self.core.borrow_mut().take()?;
            let Some(next) = core.lifo.take() else {
                return Some(core);
            };
            if lifo_polls >= MAX_LIFO_POLLS {
                core.run_queue.push_back(next, &self.shared.inject);
                return Some(core);
            }
            lifo_polls += 1;
            if METRICS {
                core.stats.polls += 1;
            }
            self.put_core(core);
            next.run();
        }
    }
    // ANCHOR_END: run_task

    /// Periodic housekeeping while busy: let timers and I/O in, publish stats.
    fn maintenance(&self, core: Box<Core>) -> Box<Core> {
        let (core, woken) = self.with_parker(core, |p| p.poll_reactor());
        // Yielded tasks must not wait for the queues to run dry.
        let (core, _) = self.wake_deferred(core);
        core.publish_stats(&self.shared);
        if woken > 0 && core.should_notify_others() {
            self.shared.notify_parked();
        }
        core
    }

    /// Lends the parker out with the core placed in the context (so wake-ups
    /// delivered by the reactor land in this worker's queue).
    fn with_parker<R>(&self, mut core: Box<Core>, f: impl FnOnce(&Parker) -> R) -> (Box<Core>, R) {
        let parker = match core.parker.take() {
            Some(p) => p,
            None => unreachable!("parker missing"),
        };
        core.in_park = true;
        self.put_core(core);
        let scope = ParkScope {
            cx: self,
            parker: Some(parker),
        };
        let r = match &scope.parker {
            Some(parker) => f(parker),
            None => unreachable!("set just above"),
        };
        drop(scope);
        (self.take_core(), r)
    }

    // ANCHOR: worker_park
    /// Sleeps until there is work, we are notified, shutdown starts, or
    /// `extra_wake` says so (the `block_on` future of a current-thread runtime).
    pub(crate) fn park(&self, core: Box<Core>, extra_wake: &dyn Fn() -> bool) -> Box<Core> {
        let mut core = self.park_until_woken(core, extra_wake);
        // Time asleep is not time spent on tasks (see retune_global_interval).
        core.global_checked_at = std::time::Instant::now();
        core
    }

    fn park_until_woken(&self, mut core: Box<Core>, extra_wake: &dyn Fn() -> bool) -> Box<Core> {
        if core.has_tasks() {
            return core;
        }
        let shared = &*self.shared;
        let idle: &Idle = &shared.idle;
        let index = core.index;
        let was_searching = std::mem::replace(&mut core.is_searching, false);
        if idle.transition_worker_to_parked(index, was_searching) {
            shared.notify_if_work_pending();
        }
        if METRICS {
            core.stats.parks += 1;
        }
        core.publish_stats(shared);
        loop {
            if shared.is_shutdown() || extra_wake() {
                core.is_searching = !idle.unpark_worker_by_id(index);
                return core;
            }
            let unwind = LeaveIdleOnUnwind { cx: self, index };
            // If our turn of the reactor woke tasks, we leave the sleepers'
            // list before handing the driver over, not after: the next
            // driver must not see every worker parked (and move a paused
            // clock on) while those tasks wait in our queue.
            let mut left_idle = None;
            let (c, ()) = self.with_parker(core, |p| {
                p.park(&mut || {
                    let woke = self
                        .core
                        .try_borrow()
                        .is_ok_and(|c| c.as_ref().is_some_and(|c| c.has_tasks()));
                    if woke {
                        left_idle = Some(idle.unpark_worker_by_id(index));
                    }
                })
            });
            std::mem::forget(unwind);
            core = c;
            // The reactor handed us work. (Once off the list we return even
            // if a stealer has taken it all meanwhile: `left_idle` says how
            // we were counted.)
            if left_idle.is_some() || core.has_tasks() {
                let unlisted = left_idle.unwrap_or_else(|| idle.unpark_worker_by_id(index));
                core.is_searching = !unlisted;
                if core.should_notify_others() {
                    shared.notify_parked();
                }
                return core;
            }
            if !idle.is_parked(index) {
                // A notifier picked us (and counted us as searching).
                core.is_searching = true;
                return core;
            }
        }
    }
    // ANCHOR_END: worker_park

    /// Releases the core's queued tasks at shutdown.
    pub(crate) fn drain(core: &mut Core) {
        drop(core.lifo.take());
        while let Some(task) = core.run_queue.pop() {
            drop(task);
        }
    }
}
