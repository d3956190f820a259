//! Which workers are asleep, and how many are looking for work.
//!
//! ## Protocol
//!
//! `state` packs two counters: the number of *searching* workers (low 16 bits:
//! awake, out of local work, trying to steal) and the number of *unparked*
//! workers (the rest). `sleepers` lists the parked workers.
//!
//! * New work wakes a worker only if nobody is searching and somebody sleeps
//!   ([`Idle::worker_to_notify`]). A searcher will find the work anyway, so a
//!   burst of spawns wakes one worker, not all of them (no thundering herd),
//!   and a wake costs no system call while a searcher exists.
//! * A woken worker starts out searching (the notifier counted it as such).
//!   When a searcher finds work it stops searching, and if it was the *last*
//!   searcher it wakes another worker to take its place: work spreads one
//!   worker at a time, as fast as it is found.
//! * At most half of the workers search at once ([`Idle::transition_worker_to_searching`]),
//!   so an idle runtime does not burn every core stealing from empty queues.
//! * The lost wake-up: a worker decides to park, and at that moment a task is
//!   pushed whose pusher sees "someone is searching" and does not notify. The
//!   rule that closes the gap: the last searcher to park re-checks every queue
//!   after decrementing the counters ([`super::Shared::notify_if_work_pending`]).
//!   Both the pusher's check and the parker's decrement are read-modify-writes
//!   of `state`, so one of them reads the other's write: either the pusher
//!   sees zero searchers (and notifies), or the parker's re-check sees the task.
//!
//! `sleepers` is behind a mutex: it is only touched on the way to sleep and when
//! a sleeping worker must be woken, both of which already cost a system call.

use crate::primitives::{lock, AtomicUsize, Mutex, Ordering};

const UNPARKED_SHIFT: usize = 16;
const UNPARKED_ONE: usize = 1 << UNPARKED_SHIFT;
const SEARCHING_MASK: usize = UNPARKED_ONE - 1;

pub(crate) struct Idle {
    state: AtomicUsize,
    num_workers: usize,
    sleepers: Mutex<Vec<usize>>,
}

fn searching(state: usize) -> usize {
    state & SEARCHING_MASK
}

fn unparked(state: usize) -> usize {
    state >> UNPARKED_SHIFT
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        assert!(num_workers < SEARCHING_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(num_workers << UNPARKED_SHIFT),
            num_workers,
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
        }
    }

    // ANCHOR: worker_to_notify
    /// Picks a sleeping worker to wake for new work, if one should be woken.
    /// The chosen worker is counted as unparked and searching.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        if !self.should_notify() {
            return None;
        }
        let mut sleepers = lock(&self.sleepers);
        if !self.should_notify() {
            return None;
        }
        let worker = sleepers.pop()?;
        self.state.fetch_add(1 | UNPARKED_ONE, Ordering::SeqCst);
        Some(worker)
    }
    // ANCHOR_END: worker_to_notify

    // ANCHOR: should_notify
    fn should_notify(&self) -> bool {
        // A read-modify-write, not a load: it reads the latest value in the
        // counter's modification order and synchronises with the parking
        // worker's `fetch_sub`. With a plain load, the pusher's "push, then
        // check" and the parker's "decrement, then re-check" form the classic
        // store-buffering pattern, where both can read stale values (the loom
        // model `loom_push_while_parking` finds that interleaving).
        let state = self.state.fetch_add(0, Ordering::SeqCst);
        searching(state) == 0 && unparked(state) < self.num_workers
    }
    // ANCHOR_END: should_notify

    /// Returns `false` if enough workers are searching already.
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(Ordering::SeqCst);
        if 2 * searching(state) >= self.num_workers.max(2) {
            return false;
        }
        self.state.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// A searcher found work. Returns `true` if it was the last searcher.
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(searching(prev) > 0);
        searching(prev) == 1
    }

    // ANCHOR: to_parked
    /// Records `worker` as parked. Returns `true` if it was the last searcher,
    /// in which case the caller must re-check the queues.
    pub(crate) fn transition_worker_to_parked(&self, worker: usize, is_searching: bool) -> bool {
        let mut sleepers = lock(&self.sleepers);
        let dec = UNPARKED_ONE | usize::from(is_searching);
        let prev = self.state.fetch_sub(dec, Ordering::SeqCst);
        sleepers.push(worker);
        is_searching && searching(prev) == 1
    }
    // ANCHOR_END: to_parked

    /// A parked worker woke up by itself (I/O, timer, spurious). If it is still
    /// listed as sleeping, takes it off the list and returns `true`; `false`
    /// means a notifier already did (and counted it as searching).
    pub(crate) fn unpark_worker_by_id(&self, worker: usize) -> bool {
        let mut sleepers = lock(&self.sleepers);
        match sleepers.iter().position(|&w| w == worker) {
            Some(i) => {
                sleepers.swap_remove(i);
                self.state.fetch_add(UNPARKED_ONE, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// Whether `worker` is listed as sleeping.
    pub(crate) fn is_parked(&self, worker: usize) -> bool {
        lock(&self.sleepers).contains(&worker)
    }

    /// Whether every worker is parked (the paused clock's auto-advance).
    #[cfg(feature = "test-util")]
    pub(crate) fn all_parked(&self) -> bool {
        unparked(self.state.load(Ordering::SeqCst)) == 0
    }

    pub(crate) fn num_searching(&self) -> usize {
        searching(self.state.load(Ordering::SeqCst))
    }
}

/// Loom model of two workers handing off "searching" (see the protocol above):
/// two tasks are pushed from outside while both workers run out of work and go
/// to sleep. Every task must run and both workers must get to see the end,
/// whatever the interleaving. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p runtime --lib --release loom_`.
///
/// It fails (loom reports a deadlock: a task queued, both workers asleep) if
/// the protocol is weakened: skip the last searcher's re-check of the queues
/// after `transition_worker_to_parked` returns `true`, or make
/// `worker_to_notify` decline while a searcher exists without that re-check.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::executor::park::{pair, Unparker};
    use loom::sync::atomic::AtomicUsize as LoomUsize;
    use loom::sync::Arc;
    use loom::thread;

    struct World {
        idle: Idle,
        queued: LoomUsize,
        ran: LoomUsize,
        unparkers: Vec<Unparker>,
    }

    impl World {
        fn notify(&self) {
            if let Some(i) = self.idle.worker_to_notify() {
                self.unparkers[i].unpark();
            }
        }

        fn take_task(&self) -> bool {
            self.queued
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| q.checked_sub(1))
                .is_ok()
        }
    }

    fn worker(world: &World, index: usize, parker: &crate::executor::park::Parker) {
        const TASKS: usize = 2;
        let mut searching = false;
        loop {
            if world.ran.load(Ordering::SeqCst) == TASKS {
                return;
            }
            if world.take_task() {
                if searching {
                    searching = false;
                    if world.idle.transition_worker_from_searching() {
                        // The last searcher found work: there may be more.
                        world.notify();
                    }
                }
                if world.ran.fetch_add(1, Ordering::SeqCst) + 1 == TASKS {
                    // Shutdown: wake everyone to see the end.
                    for u in &world.unparkers {
                        u.unpark();
                    }
                }
                continue;
            }
            // Out of work: look once more as a searcher, if the searcher
            // quota allows (what `steal_work` does), then park.
            if !searching && world.idle.transition_worker_to_searching() {
                searching = true;
                continue;
            }
            if world.idle.transition_worker_to_parked(index, searching)
                && world.queued.load(Ordering::SeqCst) > 0
            {
                world.notify();
            }
            parker.park(&mut || {});
            searching = !world.idle.unpark_worker_by_id(index);
        }
    }

    #[test]
    fn loom_two_workers_hand_off_searching() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(2);
        model.check(|| {
            let handoff = std::sync::Arc::new(crate::executor::park::Handoff::default());
            let (p0, u0) = pair(None, handoff.clone());
            let (p1, u1) = pair(None, handoff);
            let world = Arc::new(World {
                idle: Idle::new(2),
                queued: LoomUsize::new(0),
                ran: LoomUsize::new(0),
                unparkers: vec![u0, u1],
            });
            let w1 = world.clone();
            let second = thread::spawn(move || worker(&w1, 1, &p1));
            let pusher_world = world.clone();
            let pusher = thread::spawn(move || {
                for _ in 0..2 {
                    pusher_world.queued.fetch_add(1, Ordering::SeqCst);
                    pusher_world.notify();
                }
            });
            worker(&world, 0, &p0);
            pusher.join().unwrap();
            second.join().unwrap();
        });
    }
}
