//! A scheduler that just collects what it is asked to schedule, so tests
//! can drive the task harness by hand.

use super::raw::{new_task, Notified, RawTask, Schedule};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub(crate) struct Collect {
    pub(crate) queue: Arc<Mutex<Vec<Notified>>>,
    pub(crate) yields: Arc<Mutex<usize>>,
    pub(crate) released: Arc<Mutex<usize>>,
}

impl Schedule for Collect {
    fn schedule(&self, task: Notified) {
        self.queue.lock().unwrap().push(task);
    }
    fn yield_now(&self, task: Notified) {
        *self.yields.lock().unwrap() += 1;
        self.schedule(task);
    }
    fn release(&self, _task: RawTask) -> bool {
        *self.released.lock().unwrap() += 1;
        false
    }
}

impl Collect {
    pub(crate) fn pop(&self) -> Option<Notified> {
        let mut q = self.queue.lock().unwrap();
        if q.is_empty() {
            None
        } else {
            Some(q.remove(0))
        }
    }
}

/// A task that does nothing, for queue tests. The owned-list reference is
/// released at once (Collect::release reports "not listed").
pub(crate) fn dummy(id: u64) -> Notified {
    let (task, notified, join) = new_task(async {}, Collect::default(), id);
    drop(task);
    drop(join);
    notified
}
