//! The thread-safe half of a `LocalSet`: the list of woken tasks and the
//! wakers that feed it.
//!
//! A local task's future is `!Send` and never leaves its thread, but its
//! `Waker` must be `Send + Sync` (a timer, a socket or a std thread may wake
//! it). So a waker only records *which* task woke (its slab key and id) in a
//! mutex-protected list and wakes whoever drives the `LocalSet`; the driver
//! then polls the task on its own thread.

use std::collections::VecDeque;
// `std::task::Wake` needs std's `Arc`; the lock and the flag come from
// `crate::primitives`, so that loom checks the protocol (`loom_local_*` below).
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use crate::primitives::{AtomicBool, Mutex, MutexGuard, Ordering};
// The abort and finished flags are plain flags (each written once, read
// after a lock or a wake that orders them): std's atomics, so a task's
// `AbortHandle` works in every build.
use std::sync::atomic::{AtomicBool as StdAtomicBool, Ordering as StdOrdering};

/// A woken task: its slab key, and its id to tell it from a later task that
/// reused the slot.
#[derive(Clone, Copy, Debug)]
pub(super) struct TaskRef {
    pub(super) key: usize,
    pub(super) id: u64,
}

#[derive(Default)]
struct State {
    queue: VecDeque<TaskRef>,
    /// The waker of the task driving the `LocalSet`, set when it goes idle
    /// (nothing left in `queue`), taken by the first wake after that.
    driver: Option<Waker>,
}

/// The ready list, shared (through `Arc`) by the `LocalSet` and every waker
/// of its tasks.
#[derive(Default)]
pub(super) struct Ready {
    state: Mutex<State>,
}

impl Ready {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held across user code, so a poisoned lock still
        // holds a consistent list.
        crate::primitives::lock(&self.state)
    }

    fn push(&self, task: TaskRef) {
        let driver = {
            let mut state = self.lock();
            state.queue.push_back(task);
            state.driver.take()
        };
        // Woken outside the lock: the driver's waker may run arbitrary code.
        if let Some(driver) = driver {
            driver.wake();
        }
    }

    pub(super) fn pop(&self) -> Option<TaskRef> {
        self.lock().queue.pop_front()
    }

    /// The driver starts a pass: wakes from the tasks it is about to poll are
    /// picked up by this pass and need not wake the driver again.
    pub(super) fn begin_pass(&self) {
        self.lock().driver = None;
    }

    /// The driver ends a pass: if tasks are still queued (its poll budget ran
    /// out) it asks to be polled again at once, otherwise it leaves its waker
    /// for the next wake. One lock covers both the check and the store, so a
    /// wake from another thread cannot fall in between and be lost.
    pub(super) fn end_pass(&self, cx: &Context<'_>) {
        let mut state = self.lock();
        if state.queue.is_empty() {
            match &state.driver {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => state.driver = Some(cx.waker().clone()),
            }
        } else {
            drop(state);
            cx.waker().wake_by_ref();
        }
    }
}

/// One task's waker. `queued` keeps a task in the list at most once.
///
/// It is also the task's thread-safe half for an
/// [`AbortHandle`](crate::task::AbortHandle): the one per-task allocation
/// that may leave the set's thread carries the cancel request and the
/// "finished" flag, so aborting from another thread costs no extra
/// allocation per task.
pub(crate) struct TaskWaker {
    ready: Arc<Ready>,
    task: TaskRef,
    queued: AtomicBool,
    /// Set by an abort (from any thread); read by the task before it polls.
    abort_requested: StdAtomicBool,
    /// Set on the set's thread once the task's result is in its join cell.
    finished: StdAtomicBool,
}

impl TaskWaker {
    pub(super) fn new(ready: Arc<Ready>, task: TaskRef) -> TaskWaker {
        TaskWaker {
            ready,
            task,
            queued: AtomicBool::new(false),
            abort_requested: StdAtomicBool::new(false),
            finished: StdAtomicBool::new(false),
        }
    }

    /// The task's id.
    pub(crate) fn id(&self) -> u64 {
        self.task.id
    }

    /// Asks the task to cancel itself; it does so on the set's thread the
    /// next time the set runs. The flag is stored before the wake, whose
    /// lock of the ready list orders it before the driver's pop of the task,
    /// so the poll that follows sees it.
    pub(crate) fn request_abort(self: &Arc<Self>) {
        if self.is_finished() {
            return;
        }
        self.abort_requested.store(true, StdOrdering::Release);
        self.wake_by_ref();
    }

    pub(super) fn abort_requested(&self) -> bool {
        self.abort_requested.load(StdOrdering::Acquire)
    }

    /// Whether the task's result (output, panic or cancellation) is stored.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(StdOrdering::Acquire)
    }

    pub(super) fn set_finished(&self) {
        self.finished.store(true, StdOrdering::Release);
    }

    /// Called right before the task is polled, so that a wake during or after
    /// the poll queues it again. `AcqRel` pairs with the swap in `wake_by_ref`.
    pub(super) fn clear_queued(&self) {
        self.queued.swap(false, Ordering::AcqRel);
    }
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.ready.push(self.task);
        }
    }
}

/// Loom models of the wake protocol: a wake from another thread while the
/// driver runs a pass is never lost, and never queues a task twice.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::AtomicUsize;

    struct CountWake(AtomicUsize);

    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn loom_local_remote_wake_during_a_pass() {
        loom::model(|| {
            let ready = Arc::new(Ready::default());
            let task = TaskRef { key: 0, id: 1 };
            let waker = Arc::new(TaskWaker::new(Arc::clone(&ready), task));
            // Queued for its first poll, as `spawn` leaves it.
            waker.wake_by_ref();

            let remote = {
                let waker = Arc::clone(&waker);
                loom::thread::spawn(move || waker.wake_by_ref())
            };

            let driver = Arc::new(CountWake(AtomicUsize::new(0)));
            let driver_waker = Waker::from(Arc::clone(&driver));
            // One pass: poll whatever is queued (the "poll" does nothing).
            ready.begin_pass();
            let mut polls = 0;
            while ready.pop().is_some() {
                waker.clear_queued();
                polls += 1;
            }
            ready.end_pass(&Context::from_waker(&driver_waker));
            remote.join().unwrap();

            // Queued at most once, and a task left queued has woken the driver.
            let left = std::iter::from_fn(|| ready.pop()).count();
            assert!(left <= 1, "queued {left} times");
            if left == 1 {
                assert!(driver.0.load(Ordering::SeqCst) >= 1, "a wake was lost");
            }
            assert!(polls >= 1);
        });
    }
}
