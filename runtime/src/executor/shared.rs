//! What the threads of one runtime share, and where a new or woken task goes.

use std::future::Future;
use std::sync::Arc;
use std::task::Waker;

use super::blocking::BlockingPool;
use super::idle::Idle;
use super::inject::Inject;
use super::owned::OwnedTasks;
use super::park::Unparker;
use super::threads::ThreadConfig;
use super::worker::Core;
use super::{next_task_id, queue, Flavor};
use crate::context;
use crate::metrics::WorkerMetrics;
use crate::reactor::Reactor;
// The executor's shared state is reached through `std`'s `Arc` even under
// loom: loom models cover the lock-free pieces (queue, task state, parking,
// readiness), not whole runtimes.
use crate::primitives::{AtomicBool, AtomicU64, Mutex, Ordering};
use crate::task::raw::{new_task, Notified, RawTask, Schedule};
use crate::JoinHandle;

/// What other threads may touch of a worker.
pub(crate) struct Remote {
    pub(crate) steal: queue::Steal,
    pub(crate) unparker: Unparker,
    pub(crate) metrics: WorkerMetrics,
}

/// Counts worker threads that have finished, so that shutdown can wait for
/// them with a deadline (`JoinHandle::join` has none).
#[derive(Default)]
pub(crate) struct WorkerExits {
    count: crate::primitives::plain::Mutex<usize>,
    changed: crate::primitives::plain::Condvar,
}

impl WorkerExits {
    pub(super) fn one_more(&self) {
        *self.count.lock() += 1;
        self.changed.notify_all();
    }

    /// Waits until `n` workers have exited or `deadline` passes; returns
    /// whether they all did.
    pub(super) fn wait_for(&self, n: usize, deadline: std::time::Instant) -> bool {
        let mut count = self.count.lock();
        while *count < n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            count = self.changed.wait_timeout(count, left).0;
        }
        true
    }
}

/// Everything the threads of one runtime share.
pub(crate) struct Shared {
    pub(crate) remotes: Box<[Remote]>,
    pub(crate) inject: Inject,
    pub(crate) idle: Idle,
    pub(crate) owned: OwnedTasks,
    pub(crate) reactor: Arc<Reactor>,
    pub(super) blocking: BlockingPool,
    /// Cores not currently owned by a thread (a current-thread runtime's core
    /// between `block_on` calls).
    #[allow(clippy::vec_box)] // cores move between threads by pointer
    pub(super) cores: Mutex<Vec<Box<Core>>>,
    /// `block_on` callers waiting for the current-thread core.
    pub(super) core_waiters: Mutex<Vec<Waker>>,
    pub(super) shutdown: AtomicBool,
    /// Worker threads that have left their loop (see `Runtime::shutdown_timeout`).
    pub(super) exited: WorkerExits,
    /// From `Builder::name`.
    pub(super) name: Option<String>,
    /// How threads are started (for workers started after `build`).
    pub(super) threads: ThreadConfig,
    /// Workers started by `block_in_place` to take over a core; joined at
    /// shutdown like the first ones.
    pub(super) extra_threads: crate::primitives::plain::Mutex<Vec<std::thread::JoinHandle<()>>>,
    pub(super) flavor: Flavor,
    /// `test-util`: multi-thread `block_on` callers running their future or
    /// with a wake-up pending; the paused clock waits for them (`is_idle`).
    #[cfg(feature = "test-util")]
    pub(super) block_on_busy: Arc<std::sync::atomic::AtomicUsize>,
}

impl Shared {
    /// Every worker parked, no task queued, no blocking closure queued or
    /// running, no `block_on` caller running: the paused clock may jump to the next timer
    /// (see `attach_clock`).
    #[cfg(feature = "test-util")]
    pub(crate) fn is_idle(&self) -> bool {
        // A worker whose turn of the reactor woke tasks leaves the sleepers'
        // list before it hands the driver over (see `Worker::park`), so its
        // queue need not be looked at. The inject queue must: a task pushed
        // from outside is there before a worker is woken for it.
        self.idle.all_parked()
            && self.inject.is_empty()
            && self.blocking.is_idle()
            && self.block_on_busy.load(Ordering::SeqCst) == 0
    }

    /// Hooks the new runtime's clock up (`test-util`): how its timers learn
    /// that the runtime is idle (auto-advance), and `Builder::start_paused`.
    #[cfg(feature = "test-util")]
    pub(super) fn attach_clock(self: &Arc<Self>, start_paused: bool) {
        let weak = Arc::downgrade(self);
        let timers = &self.reactor.timers;
        // A runtime being dropped runs nothing any more: idle.
        timers.set_idle_probe(Box::new(move || weak.upgrade().is_none_or(|s| s.is_idle())));
        if start_paused {
            timers.clock().pause();
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    // ANCHOR: schedule_task
    /// Queues a woken or new task: on this worker if we are on one of ours,
    /// otherwise on the inject queue (waking a worker for it).
    fn schedule_task(self: &Arc<Self>, task: Notified, is_yield: bool) {
        let task = context::with_worker(|cx| match cx {
            Some(cx) if std::ptr::eq(Arc::as_ptr(&cx.shared), Arc::as_ptr(self)) => {
                cx.schedule_local(task, is_yield).err()
            }
            _ => Some(task),
        });
        if let Some(task) = task {
            self.inject.push(task);
            self.notify_parked();
        }
    }
    // ANCHOR_END: schedule_task

    /// Wakes one sleeping worker if there is one and nobody is searching.
    pub(crate) fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.remotes[index].unparker.unpark();
        }
    }

    /// Called by the last searcher going to sleep (see idle.rs).
    pub(crate) fn notify_if_work_pending(&self) {
        let pending = self.remotes.iter().any(|r| !r.steal.is_empty()) || !self.inject.is_empty();
        if pending {
            self.notify_parked();
        }
    }

    pub(super) fn spawn<F>(self: &Arc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, notified, join) = new_task(future, self.clone(), next_task_id());
        if let Some(notified) = self.owned.bind(task, notified) {
            self.schedule_task(notified, false);
        }
        join
    }
}

impl Shared {
    /// A snapshot of the counters (see [`crate::RuntimeMetrics`]).
    pub(crate) fn metrics(&self) -> crate::RuntimeMetrics {
        let s = self;
        let (tasks_alive, tasks_spawned) = s.owned.counts();
        let sum = |f: fn(&WorkerMetrics) -> &AtomicU64| {
            s.remotes
                .iter()
                .map(|r| f(&r.metrics).load(Ordering::Relaxed))
                .sum::<u64>()
        };
        crate::RuntimeMetrics {
            workers: s.remotes.len(),
            tasks_spawned,
            tasks_alive,
            polls: sum(|m| &m.polls),
            steals: sum(|m| &m.steals),
            parks: sum(|m| &m.parks),
            global_queue_depth: s.inject.len(),
            local_queue_depths: s.remotes.iter().map(|r| r.steal.len()).collect(),
            searching_workers: s.idle.num_searching(),
            epoll_waits: s.reactor.stats.waits.load(Ordering::Relaxed),
            epoll_events: s.reactor.stats.events.load(Ordering::Relaxed),
            timers_pending: s.reactor.timers.len(),
            io_sources: s.reactor.registered_sources(),
            blocking_threads: s.blocking.num_threads(),
            blocking_queue_depth: s.blocking.queue_depth(),
        }
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Notified) {
        self.schedule_task(task, false);
    }

    fn yield_now(&self, task: Notified) {
        self.schedule_task(task, true);
    }

    fn release(&self, task: RawTask) -> bool {
        self.owned.remove(task)
    }
}
