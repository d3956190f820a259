//! The per-worker run queue: a fixed ring of 256 task pointers that only its
//! owner pushes to, and that any worker may steal half of.
//!
//! ## Protocol
//!
//! * `tail` is written only by the owner. A push stores the task pointer into
//!   `buffer[tail % CAPACITY]` and then publishes it with a `Release` store of
//!   `tail + 1`.
//! * `head` is advanced with a compare-exchange, by the owner (`pop`, one task)
//!   and by stealers (`steal_into`, half of the tasks). Whoever wins the
//!   exchange owns the tasks in the range it moved `head` over.
//! * A stealer first *copies* the pointers it wants, then tries to claim them by
//!   moving `head`. If the exchange fails, somebody else took some of them and
//!   the copies are simply forgotten (they are plain pointers, not owned
//!   values). Slots are `AtomicPtr`s so that such a speculative read of a slot
//!   the owner is overwriting is a well-defined (if useless) read, not a race.
//! * The owner never overwrites a slot between `head` and `tail`: it pushes
//!   only while `tail - head < CAPACITY` (with `head` loaded `Acquire`, so the
//!   stealer's reads of the slots happened before).
//! * When the ring is full, the owner moves half of it (claimed the same way,
//!   with a compare-exchange of `head`) plus the new task to the global inject
//!   queue, so a busy worker's backlog becomes visible to everyone.
//!
//! Indices are `u32` and wrap; only their difference is ever used.

use super::inject::Inject;
use crate::primitives::{Arc, AtomicPtr, AtomicU32, Ordering};
use crate::task::raw::{Header, Notified, RawTask};

#[cfg(not(loom))]
pub(crate) const CAPACITY: usize = 256;
/// Small under loom so that the models reach the overflow path.
#[cfg(loom)]
pub(crate) const CAPACITY: usize = 4;
const MASK: usize = CAPACITY - 1;

struct Inner {
    head: AtomicU32,
    tail: AtomicU32,
    buffer: Box<[AtomicPtr<Header>]>,
}

/// The owner's end.
pub(crate) struct Local {
    inner: Arc<Inner>,
}

/// Any other worker's end.
#[derive(Clone)]
pub(crate) struct Steal {
    inner: Arc<Inner>,
}

pub(crate) fn new() -> (Steal, Local) {
    let buffer = (0..CAPACITY)
        .map(|_| AtomicPtr::new(std::ptr::null_mut()))
        .collect();
    let inner = Arc::new(Inner {
        head: AtomicU32::new(0),
        tail: AtomicU32::new(0),
        buffer,
    });
    (
        Steal {
            inner: inner.clone(),
        },
        Local { inner },
    )
}

impl Inner {
    fn len(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        tail.wrapping_sub(head) as usize
    }

    fn slot(&self, index: u32) -> &AtomicPtr<Header> {
        &self.buffer[index as usize & MASK]
    }
}

impl Local {
    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Room left before a push overflows.
    pub(crate) fn remaining(&self) -> usize {
        CAPACITY - self.len().min(CAPACITY)
    }

    // ANCHOR: push_back
    /// Pushes to the back; on overflow moves half the queue to `inject`.
    pub(crate) fn push_back(&mut self, task: Notified, inject: &Inject) {
        let mut task = task;
        loop {
            let head = self.inner.head.load(Ordering::Acquire);
            // Only we write `tail`.
            let tail = self.inner.tail.load(Ordering::Relaxed);
            if (tail.wrapping_sub(head) as usize) < CAPACITY {
                self.inner
                    .slot(tail)
                    .store(task.into_raw().as_ptr(), Ordering::Relaxed);
                self.inner
                    .tail
                    .store(tail.wrapping_add(1), Ordering::Release);
                return;
            }
            match self.push_overflow(task, head, inject) {
                Ok(()) => return,
                // A stealer made room meanwhile: try the ring again.
                Err(t) => task = t,
            }
        }
    }
    // ANCHOR_END: push_back

    fn push_overflow(
        &mut self,
        task: Notified,
        head: u32,
        inject: &Inject,
    ) -> Result<(), Notified> {
        let half = (CAPACITY / 2) as u32;
        if self
            .inner
            .head
            .compare_exchange(
                head,
                head.wrapping_add(half),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            return Err(task);
        }
        // We own [head, head + half) now.
        let moved = (0..half).map(|i| {
            let ptr = self
                .inner
                .slot(head.wrapping_add(i))
                .load(Ordering::Relaxed);
            // SAFETY: the claimed slots hold Notified references pushed by us.
            unsafe { Notified::from_raw(RawTask::from_ptr(ptr)) }
        });
        inject.push_spilled(moved.chain(std::iter::once(task)));
        Ok(())
    }

    // ANCHOR: pop
    /// Pops from the front.
    pub(crate) fn pop(&mut self) -> Option<Notified> {
        let mut head = self.inner.head.load(Ordering::Acquire);
        loop {
            let tail = self.inner.tail.load(Ordering::Relaxed);
            if head == tail {
                return None;
            }
            let ptr = self.inner.slot(head).load(Ordering::Relaxed);
            match self.inner.head.compare_exchange(
                head,
                head.wrapping_add(1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                // SAFETY: we claimed the slot, which holds a Notified reference.
                Ok(_) => return Some(unsafe { Notified::from_raw(RawTask::from_ptr(ptr)) }),
                Err(actual) => head = actual,
            }
        }
    }
    // ANCHOR_END: pop
}

impl Steal {
    pub(crate) fn is_empty(&self) -> bool {
        self.inner.len() == 0
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }

    // ANCHOR: steal_into
    // ANCHOR: steal_claim
    /// Steals half of this queue into `dst` (which must be the caller's own,
    /// and nearly empty). Returns one of the stolen tasks to run right away.
    pub(crate) fn steal_into(&self, dst: &mut Local) -> Option<Notified> {
        let dst_tail = dst.inner.tail.load(Ordering::Relaxed);
        let dst_head = dst.inner.head.load(Ordering::Acquire);
        let room = CAPACITY - (dst_tail.wrapping_sub(dst_head) as usize).min(CAPACITY);
        let mut head = self.inner.head.load(Ordering::Acquire);
        let taken = loop {
            let tail = self.inner.tail.load(Ordering::Acquire);
            let available = tail.wrapping_sub(head) as usize;
            if available == 0 {
                return None;
            }
            if available > CAPACITY {
                // `head` was stale; reload and retry.
                head = self.inner.head.load(Ordering::Acquire);
                continue;
            }
            let n = (available - available / 2).min(CAPACITY / 2).min(room);
            if n == 0 {
                return None;
            }
            // Copy first (speculatively), claim afterwards.
            for i in 0..n as u32 {
                let ptr = self
                    .inner
                    .slot(head.wrapping_add(i))
                    .load(Ordering::Relaxed);
                dst.inner
                    .slot(dst_tail.wrapping_add(i))
                    .store(ptr, Ordering::Relaxed);
            }
            match self.inner.head.compare_exchange(
                head,
                head.wrapping_add(n as u32),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break n as u32,
                Err(actual) => head = actual,
            }
        };
        // ANCHOR_END: steal_claim
        // ANCHOR: steal_publish
        // Run the last stolen task now; publish the others in our queue.
        let last = dst
            .inner
            .slot(dst_tail.wrapping_add(taken - 1))
            .load(Ordering::Relaxed);
        if taken > 1 {
            dst.inner
                .tail
                .store(dst_tail.wrapping_add(taken - 1), Ordering::Release);
        }
        // SAFETY: the claimed range holds Notified references, now ours.
        Some(unsafe { Notified::from_raw(RawTask::from_ptr(last)) })
        // ANCHOR_END: steal_publish
    }
    // ANCHOR_END: steal_into
}

impl Drop for Local {
    fn drop(&mut self) {
        // Release whatever is left (runtime shutdown).
        while let Some(task) = self.pop() {
            drop(task);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::task::raw::test_util::dummy;
    use std::collections::HashSet;

    #[test]
    fn fifo_order() {
        let inject = Inject::new();
        let (_steal, mut local) = new();
        for id in 0..10 {
            local.push_back(dummy(id), &inject);
        }
        for id in 0..10 {
            assert_eq!(local.pop().unwrap().into_raw().id(), id);
        }
        assert!(local.pop().is_none());
    }

    #[test]
    fn overflow_moves_half_to_inject() {
        let inject = Inject::new();
        let (_steal, mut local) = new();
        for id in 0..CAPACITY as u64 + 1 {
            local.push_back(dummy(id), &inject);
        }
        assert_eq!(local.len(), CAPACITY / 2);
        assert_eq!(inject.len(), CAPACITY / 2 + 1);
        // The oldest tasks went to the inject queue, in order.
        assert_eq!(inject.pop().unwrap().into_raw().id(), 0);
        assert_eq!(local.pop().unwrap().into_raw().id(), CAPACITY as u64 / 2);
    }

    #[test]
    fn steal_takes_half() {
        let inject = Inject::new();
        let (steal, mut victim) = new();
        let (_s2, mut thief) = new();
        for id in 0..10 {
            victim.push_back(dummy(id), &inject);
        }
        let first = steal.steal_into(&mut thief).unwrap();
        assert_eq!(first.into_raw().id(), 4);
        assert_eq!(thief.len(), 4);
        assert_eq!(victim.len(), 5);
        assert_eq!(thief.pop().unwrap().into_raw().id(), 0);
        assert_eq!(victim.pop().unwrap().into_raw().id(), 5);
    }

    /// Owner pushes and pops while two threads steal: every task is taken
    /// exactly once.
    #[test]
    fn concurrent_steal_loses_and_duplicates_nothing() {
        const N: u64 = if cfg!(miri) { 300 } else { 20_000 };
        let inject = std::sync::Arc::new(Inject::new());
        let (steal, mut local) = new();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let steal = steal.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let (_s, mut mine) = new();
                    let mut got = Vec::new();
                    while !stop.load(Ordering::Acquire) || !steal.is_empty() {
                        if let Some(t) = steal.steal_into(&mut mine) {
                            got.push(t.into_raw().id());
                        }
                        while let Some(t) = mine.pop() {
                            got.push(t.into_raw().id());
                        }
                    }
                    got
                })
            })
            .collect();
        let mut got = Vec::new();
        for id in 0..N {
            local.push_back(dummy(id), &inject);
            if id % 3 == 0 {
                if let Some(t) = local.pop() {
                    got.push(t.into_raw().id());
                }
            }
        }
        while let Some(t) = local.pop() {
            got.push(t.into_raw().id());
        }
        stop.store(true, Ordering::Release);
        for t in thieves {
            got.extend(t.join().unwrap());
        }
        while let Some(t) = inject.pop() {
            got.push(t.into_raw().id());
        }
        let unique: HashSet<u64> = got.iter().copied().collect();
        assert_eq!(got.len() as u64, N, "duplicates or losses");
        assert_eq!(unique.len() as u64, N);
    }
}

/// Loom models of the queue protocol. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p runtime --lib --release loom_`.
///
/// They fail if the protocol is weakened: e.g. make `push_back`'s store of
/// `tail` `Relaxed` instead of `Release`, and `loom_steal_while_pushing`
/// reports a causality violation (the stealer reads a slot whose write it
/// cannot see); make `pop`'s exchange of `head` a plain load + store, and a task
/// is taken twice (the count assertion fails).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::task::raw::test_util::dummy;
    use loom::thread;

    fn count(local: &mut Local) -> usize {
        let mut n = 0;
        while local.pop().is_some() {
            n += 1;
        }
        n
    }

    #[test]
    fn loom_steal_while_pushing() {
        loom::model(|| {
            let inject = Inject::new();
            let (steal, mut local) = new();
            let thief = thread::spawn(move || {
                let (_s, mut mine) = new();
                let mut n = 0;
                if steal.steal_into(&mut mine).is_some() {
                    n += 1;
                }
                n + count(&mut mine)
            });
            local.push_back(dummy(1), &inject);
            local.push_back(dummy(2), &inject);
            let mut n = usize::from(local.pop().is_some());
            local.push_back(dummy(3), &inject);
            n += count(&mut local);
            n += thief.join().unwrap();
            while inject.pop().is_some() {
                n += 1;
            }
            assert_eq!(n, 3);
        });
    }

    #[test]
    fn loom_overflow_races_steal() {
        loom::model(|| {
            let inject = Inject::new();
            let (steal, mut local) = new();
            for id in 0..CAPACITY as u64 {
                local.push_back(dummy(id), &inject);
            }
            let thief = thread::spawn(move || {
                let (_s, mut mine) = new();
                let first = usize::from(steal.steal_into(&mut mine).is_some());
                first + count(&mut mine)
            });
            // Full: this push overflows half the ring into `inject`, unless
            // the thief made room first.
            local.push_back(dummy(99), &inject);
            let mut n = count(&mut local) + thief.join().unwrap();
            while inject.pop().is_some() {
                n += 1;
            }
            assert_eq!(n, CAPACITY + 1);
        });
    }
}
