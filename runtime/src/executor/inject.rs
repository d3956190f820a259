//! The global injection queue: tasks scheduled from outside the workers (other
//! threads, `block_on`, the blocking pool) and the overflow of full local
//! queues.
//!
//! A mutex around a `VecDeque` is enough here: it is touched only by remote
//! wake-ups and by workers every few dozen ticks or when their own queue is
//! empty, never on the local spawn/wake path. `len` mirrors the length in an
//! atomic so that "is there anything?" costs no lock.
//!
//! ## Two lanes
//!
//! Tasks that spilled out of a full local queue are local work: had the ring
//! been larger they would have run before anything in this queue. They spill
//! here only to become visible to every worker, and must not be demoted behind
//! remote tasks that were queued before them. So they have their own lane,
//! which a worker out of local work takes from first. The periodic fairness
//! check (`pop`, every ~100 µs of work) takes the remote lane first instead,
//! so remote tasks keep moving while workers spill faster than they drain.
//!
//! This is what decides timer lateness under load: a timer turn that wakes a
//! thousand tasks overflows the driving worker's ring, and with one FIFO lane
//! those wake-ups waited behind every spawn `block_on` had queued meanwhile
//! (tens of milliseconds in the `sleep_many` benchmark).

use std::collections::VecDeque;

use super::queue::Local;
use crate::primitives::{lock, AtomicUsize, Mutex, Ordering};
use crate::task::raw::Notified;

// ANCHOR: inject_struct
pub(crate) struct Inject {
    queue: Mutex<Queue>,
    len: AtomicUsize,
}
// ANCHOR_END: inject_struct

struct Queue {
    /// Scheduled from outside the workers, in arrival order.
    remote: VecDeque<Notified>,
    /// Spilled out of full local queues, in the order they were scheduled.
    spilled: VecDeque<Notified>,
    closed: bool,
}

impl Queue {
    fn len(&self) -> usize {
        self.remote.len() + self.spilled.len()
    }

    /// Local work first (see "Two lanes").
    fn pop_spilled_first(&mut self) -> Option<Notified> {
        self.spilled.pop_front().or_else(|| self.remote.pop_front())
    }
}

impl Inject {
    pub(crate) fn new() -> Inject {
        Inject {
            queue: Mutex::new(Queue {
                remote: VecDeque::new(),
                spilled: VecDeque::new(),
                closed: false,
            }),
            len: AtomicUsize::new(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // ANCHOR: inject_push
    /// Queues a task. After `close`, the task is released instead.
    pub(crate) fn push(&self, task: Notified) {
        let mut q = lock(&self.queue);
        if q.closed {
            drop(q);
            drop(task);
            return;
        }
        q.remote.push_back(task);
        self.len.store(q.len(), Ordering::SeqCst);
    }
    // ANCHOR_END: inject_push

    /// Queues the overflow of a full local queue, oldest first, in the
    /// spilled lane.
    pub(crate) fn push_spilled(&self, tasks: impl Iterator<Item = Notified>) {
        let mut q = lock(&self.queue);
        if q.closed {
            drop(q);
            tasks.for_each(drop);
            return;
        }
        q.spilled.extend(tasks);
        self.len.store(q.len(), Ordering::SeqCst);
    }

    // ANCHOR: inject_pop
    /// One task for the periodic fairness check: remote tasks first, so that
    /// spilled local work cannot starve them.
    pub(crate) fn pop(&self) -> Option<Notified> {
        if self.is_empty() {
            return None;
        }
        let mut q = lock(&self.queue);
        let task = q.remote.pop_front().or_else(|| q.spilled.pop_front());
        self.len.store(q.len(), Ordering::SeqCst);
        task
    }
    // ANCHOR_END: inject_pop

    /// Moves up to `max` tasks into `local`, returning one more to run now:
    /// for a worker out of local work, so spilled tasks come first.
    pub(crate) fn pop_into(&self, local: &mut Local, max: usize) -> Option<Notified> {
        if self.is_empty() {
            return None;
        }
        let mut q = lock(&self.queue);
        let first = q.pop_spilled_first()?;
        let n = max.min(local.remaining()).min(q.len());
        for _ in 0..n {
            if let Some(task) = q.pop_spilled_first() {
                // Cannot overflow: we checked `remaining` and only we push.
                local.push_back(task, self);
            }
        }
        self.len.store(q.len(), Ordering::SeqCst);
        Some(first)
    }

    /// Refuses further tasks and returns those queued.
    pub(crate) fn close(&self) -> VecDeque<Notified> {
        let mut q = lock(&self.queue);
        q.closed = true;
        self.len.store(0, Ordering::SeqCst);
        let mut tasks = std::mem::take(&mut q.spilled);
        tasks.append(&mut q.remote);
        tasks
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::executor::queue::{self, CAPACITY};
    use crate::task::raw::test_util::dummy;

    /// A local queue's overflow keeps the priority of local work: a worker
    /// that runs out of its own tasks takes the spilled ones before remote
    /// tasks queued earlier (the timer wake-ups of `sleep_many` spilled
    /// behind tens of milliseconds of not-yet-started spawns). The periodic
    /// fairness check still takes remote tasks first, so they keep moving.
    #[test]
    fn spilled_tasks_go_before_remote_ones_and_the_fairness_check_takes_remote_first() {
        let inject = Inject::new();
        inject.push(dummy(1000));
        inject.push(dummy(1001));
        let (_steal, mut local) = queue::new();
        for id in 0..=CAPACITY as u64 {
            local.push_back(dummy(id), &inject);
        }
        assert_eq!(inject.len(), 2 + CAPACITY / 2 + 1);
        let (_steal2, mut idle_worker) = queue::new();
        let first = inject.pop_into(&mut idle_worker, 3);
        assert_eq!(first.map(|t| t.into_raw().id()), Some(0));
        for id in 1..=3 {
            assert_eq!(idle_worker.pop().map(|t| t.into_raw().id()), Some(id));
        }
        assert_eq!(inject.pop().map(|t| t.into_raw().id()), Some(1000));
        assert_eq!(inject.pop().map(|t| t.into_raw().id()), Some(1001));
        assert_eq!(inject.pop().map(|t| t.into_raw().id()), Some(4));
        assert_eq!(inject.len(), CAPACITY / 2 + 1 - 5);
        let rest = inject.close();
        assert_eq!(rest.len(), CAPACITY / 2 + 1 - 5);
    }
}
