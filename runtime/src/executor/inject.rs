//! The global injection queue: tasks scheduled from outside the workers (other
//! threads, `block_on`, the blocking pool) and the overflow of full local
//! queues.
//!
//! A mutex around a `VecDeque` is enough here: it is touched only by remote
//! wake-ups and by workers every few dozen ticks or when their own queue is
//! empty, never on the local spawn/wake path. `len` mirrors the length in an
//! atomic so that "is there anything?" costs no lock.

use std::collections::VecDeque;

use super::queue::Local;
use crate::sync::{lock, AtomicUsize, Mutex, Ordering};
use crate::task::raw::Notified;

// ANCHOR: inject_struct
pub(crate) struct Inject {
    queue: Mutex<Queue>,
    len: AtomicUsize,
}
// ANCHOR_END: inject_struct

struct Queue {
    tasks: VecDeque<Notified>,
    closed: bool,
}

impl Inject {
    pub(crate) fn new() -> Inject {
        Inject {
            queue: Mutex::new(Queue {
                tasks: VecDeque::new(),
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
        q.tasks.push_back(task);
        self.len.store(q.tasks.len(), Ordering::SeqCst);
    }
    // ANCHOR_END: inject_push

    pub(crate) fn push_batch(&self, tasks: impl Iterator<Item = Notified>) {
        let mut q = lock(&self.queue);
        if q.closed {
            drop(q);
            tasks.for_each(drop);
            return;
        }
        q.tasks.extend(tasks);
        self.len.store(q.tasks.len(), Ordering::SeqCst);
    }

    // ANCHOR: inject_pop
    pub(crate) fn pop(&self) -> Option<Notified> {
        if self.is_empty() {
            return None;
        }
        let mut q = lock(&self.queue);
        let task = q.tasks.pop_front();
        self.len.store(q.tasks.len(), Ordering::SeqCst);
        task
    }
    // ANCHOR_END: inject_pop

    /// Moves up to `max` tasks into `local`, returning one more to run now.
    pub(crate) fn pop_into(&self, local: &mut Local, max: usize) -> Option<Notified> {
        if self.is_empty() {
            return None;
        }
        let mut q = lock(&self.queue);
        let first = q.tasks.pop_front()?;
        let n = max.min(local.remaining()).min(q.tasks.len());
        for _ in 0..n {
            if let Some(task) = q.tasks.pop_front() {
                // Cannot overflow: we checked `remaining` and only we push.
                local.push_back(task, self);
            }
        }
        self.len.store(q.tasks.len(), Ordering::SeqCst);
        Some(first)
    }

    /// Refuses further tasks and returns those queued.
    pub(crate) fn close(&self) -> VecDeque<Notified> {
        let mut q = lock(&self.queue);
        q.closed = true;
        self.len.store(0, Ordering::SeqCst);
        std::mem::take(&mut q.tasks)
    }
}
