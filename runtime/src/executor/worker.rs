//! A worker: the loop every runtime thread runs, and the scheduling decisions
//! it makes on each turn.
//!
//! ```text
//!            +--------------------------- every EVENT_INTERVAL ticks: non-blocking reactor turn
//!            v
//! tick --> LIFO slot --> local queue --> inject queue --> steal from a random victim --> park
//!   ^    (every GLOBAL_QUEUE_INTERVAL ticks the inject queue is checked first)        |
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
//!   `GLOBAL_QUEUE_INTERVAL` ticks, and the reactor gets a non-blocking turn
//!   every `EVENT_INTERVAL` ticks, so neither remote work nor I/O waits for the
//!   local queue to drain.
//! * **Searching and parking** follow the protocol in `idle.rs`.
//!
//! The worker's [`Core`] (its queue, LIFO slot, parker) is owned by the thread
//! running the loop. While a task is being polled the core sits in the thread's
//! [`WorkerContext`], so that a wake-up issued by that task can push into the
//! local queue directly (see [`super::Shared::schedule_task`]).

use std::cell::RefCell;

use super::idle::Idle;
use super::park::Parker;
use super::queue::{self, Local};
use super::Shared;
use crate::sync::Ordering;
use crate::task::raw::Notified;
use std::sync::Arc;

/// Ticks between checks of the inject queue before the local queue.
const GLOBAL_QUEUE_INTERVAL: u32 = 31;
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

    fn publish_stats(&self, shared: &Shared) {
        let m = &shared.remotes[self.index].metrics;
        m.polls.store(self.stats.polls, Ordering::Relaxed);
        m.steals.store(self.stats.steals, Ordering::Relaxed);
        m.parks.store(self.stats.parks, Ordering::Relaxed);
    }
}

pub(crate) fn new_queue() -> (queue::Steal, Local) {
    queue::new()
}

/// The state of the worker loop running on this thread.
pub(crate) struct WorkerContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) core: RefCell<Option<Box<Core>>>,
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
    pub(crate) fn run(&self, mut core: Box<Core>) -> Box<Core> {
        while !self.shared.is_shutdown() {
            let (c, worked) = self.step(core);
            core = c;
            if !worked {
                core = self.park(core, &|| false);
            }
        }
        core.publish_stats(&self.shared);
        core
    }

    // ANCHOR: step
    /// One scheduling decision: run one task (plus its LIFO successors), or
    /// report that there was nothing to run.
    pub(crate) fn step(&self, mut core: Box<Core>) -> (Box<Core>, bool) {
        core.tick = core.tick.wrapping_add(1);
        if core.tick % EVENT_INTERVAL == 0 {
            core = self.maintenance(core);
        }
        if let Some(task) = self.next_task(&mut core) {
            return (self.run_task(task, core), true);
        }
        if let Some(task) = self.steal_work(&mut core) {
            return (self.run_task(task, core), true);
        }
        (core, false)
    }
    // ANCHOR_END: step

    // ANCHOR: next_task
    fn next_task(&self, core: &mut Core) -> Option<Notified> {
        let shared = &*self.shared;
        if core.tick % GLOBAL_QUEUE_INTERVAL == 0 {
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
                core.stats.steals += 1;
                return Some(task);
            }
        }
        shared
            .inject
            .pop_into(&mut core.run_queue, queue::CAPACITY / 2)
    }
    // ANCHOR_END: steal_work

    // ANCHOR: run_task
    fn run_task(&self, task: Notified, mut core: Box<Core>) -> Box<Core> {
        if core.is_searching {
            core.is_searching = false;
            if self.shared.idle.transition_worker_from_searching() {
                // We were the last searcher and found work: there may be more.
                self.shared.notify_parked();
            }
        }
        core.stats.polls += 1;
        self.put_core(core);
        task.run();
        let mut lifo_polls = 0;
        loop {
            let mut core = self.take_core();
            let Some(next) = core.lifo.take() else {
                return core;
            };
            if lifo_polls >= MAX_LIFO_POLLS {
                core.run_queue.push_back(next, &self.shared.inject);
                return core;
            }
            lifo_polls += 1;
            core.stats.polls += 1;
            self.put_core(core);
            next.run();
        }
    }
    // ANCHOR_END: run_task

    /// Periodic housekeeping while busy: let timers and I/O in, publish stats.
    fn maintenance(&self, core: Box<Core>) -> Box<Core> {
        let (core, woken) = self.with_parker(core, |p| p.poll_reactor());
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
        let r = f(&parker);
        let mut core = self.take_core();
        core.in_park = false;
        core.parker = Some(parker);
        (core, r)
    }

    // ANCHOR: worker_park
    /// Sleeps until there is work, we are notified, shutdown starts, or
    /// `extra_wake` says so (the `block_on` future of a current-thread runtime).
    pub(crate) fn park(&self, mut core: Box<Core>, extra_wake: &dyn Fn() -> bool) -> Box<Core> {
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
        core.stats.parks += 1;
        core.publish_stats(shared);
        loop {
            if shared.is_shutdown() || extra_wake() {
                core.is_searching = !idle.unpark_worker_by_id(index);
                return core;
            }
            let (c, ()) = self.with_parker(core, |p| p.park());
            core = c;
            if core.has_tasks() {
                // The reactor handed us work.
                core.is_searching = !idle.unpark_worker_by_id(index);
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
