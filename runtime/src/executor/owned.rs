//! The list of every live task of a runtime, so that shutdown can find and
//! cancel the tasks that are in no queue (waiting on I/O or a timer).
//!
//! It is sharded by task id to keep spawns on different workers from
//! contending on one lock. Each entry holds one reference to its task; the slot
//! index is written into the task header (under the shard lock) so removal on
//! completion is O(1).
//!
//! Once `close`d, the list refuses new tasks: a task spawned during shutdown
//! (say, from a destructor) is cancelled on the spot instead of being leaked.

use slab::Slab;

use crate::primitives::{lock, AtomicBool, Mutex, Ordering};
use crate::task::raw::{Notified, RawTask, Task};

pub(crate) struct OwnedTasks {
    shards: Box<[Mutex<Shard>]>,
    closed: AtomicBool,
}

#[derive(Default)]
struct Shard {
    tasks: Slab<RawTask>,
    /// Tasks ever bound to this shard (a metric; counted under the lock we
    /// take anyway, so it costs no extra atomic operation).
    spawned: u64,
}

impl OwnedTasks {
    pub(crate) fn new(workers: usize) -> OwnedTasks {
        let n = (workers * 4).next_power_of_two();
        OwnedTasks {
            shards: (0..n).map(|_| Mutex::new(Shard::default())).collect(),
            closed: AtomicBool::new(false),
        }
    }

    fn shard(&self, task: RawTask) -> &Mutex<Shard> {
        &self.shards[task.id() as usize & (self.shards.len() - 1)]
    }

    /// Adds a freshly created task. Returns its first `Notified` to schedule,
    /// or `None` if the runtime is shutting down (the task was cancelled).
    pub(crate) fn bind(&self, task: Task, notified: Notified) -> Option<Notified> {
        let raw = task.raw();
        {
            let mut shard = lock(self.shard(raw));
            if !self.closed.load(Ordering::Acquire) {
                let key = shard.tasks.insert(task.into_raw());
                shard.spawned += 1;
                // SAFETY: written under the shard lock, before the task is
                // visible to any other thread.
                unsafe { *raw.header().owner_slot.get() = key };
                return Some(notified);
            }
        }
        task.shutdown();
        drop(notified);
        None
    }

    /// Removes a completed task. Returns `true` if the list held it (the
    /// caller then releases the list's reference).
    pub(crate) fn remove(&self, task: RawTask) -> bool {
        let mut shard = lock(self.shard(task));
        // SAFETY: read under the shard lock that guarded the write.
        let key = unsafe { *task.header().owner_slot.get() };
        match shard.tasks.get(key) {
            Some(t) if *t == task => {
                shard.tasks.remove(key);
                true
            }
            _ => false,
        }
    }

    /// Closes the list and cancels every task in it. Futures are dropped on
    /// the calling thread.
    pub(crate) fn close_and_shutdown_all(&self) {
        self.closed.store(true, Ordering::Release);
        for shard in self.shards.iter() {
            loop {
                let tasks: Vec<RawTask> = {
                    let mut s = lock(shard);
                    s.tasks.drain().collect()
                };
                if tasks.is_empty() {
                    break;
                }
                for raw in tasks {
                    // SAFETY: the list's reference is ours now.
                    unsafe { Task::from_raw(raw) }.shutdown();
                }
            }
        }
    }

    /// (tasks alive, tasks ever spawned).
    pub(crate) fn counts(&self) -> (usize, u64) {
        self.shards.iter().fold((0, 0), |(alive, spawned), shard| {
            let s = lock(shard);
            (alive + s.tasks.len(), spawned + s.spawned)
        })
    }
}
