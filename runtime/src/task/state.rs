//! The task state word: every transition of a task's life is one atomic
//! read-modify-write on a single `usize`.
//!
//! ```text
//!  usize::BITS-1        6   5           4           3          2         1         0
//! +---------------------+-----------+-----------+----------+---------+----------+---------+
//! |   reference count   | JOIN_WAKER| JOIN_INTR | CANCELLED| NOTIFIED| COMPLETE | RUNNING |
//! +---------------------+-----------+-----------+----------+---------+----------+---------+
//! ```
//!
//! ## Invariants (who may do what, in which state)
//!
//! * `RUNNING`: set by the one thread that polls (or cancels) the future; only
//!   that thread touches the future/output cell while it is set.
//! * `COMPLETE`: set once, when the output (or the cancellation error) has been
//!   written. After that the future is gone and only the `JoinHandle` (while
//!   `JOIN_INTEREST` is set) may touch the output.
//! * `NOTIFIED`: the task is owed a poll. It is set by a wake; if the task was
//!   idle, the waker also creates a `Notified` reference and hands it to the
//!   scheduler. At most one `Notified` exists at a time, because a wake that finds
//!   `NOTIFIED` already set does nothing. A wake that finds `RUNNING` sets
//!   `NOTIFIED` only: when the poll ends, the runner sees the bit and schedules
//!   the task again itself. That is how "a wake during poll" leads to exactly one
//!   more poll, never two concurrent ones and never none.
//! * `CANCELLED`: `abort()` or runtime shutdown asked for the future to be
//!   dropped. The thread that next gets `RUNNING` drops it instead of polling.
//! * `JOIN_INTEREST`: the `JoinHandle` is alive. Cleared only by the handle.
//! * `JOIN_WAKER`: the join waker cell holds a waker that the runner must wake on
//!   completion. While it is clear, only the `JoinHandle` may write the cell;
//!   while it is set and the task is not complete, nobody may; once complete,
//!   the runner reads it. Whoever clears the bit last drops the waker.
//! * The reference count counts: the owned-tasks list entry, the `JoinHandle`,
//!   the `Notified` in a queue or the running poll, and each `Waker`. The task's
//!   single allocation is freed when it reaches zero.

use crate::primitives::{AtomicUsize, Ordering};

const RUNNING: usize = 1 << 0;
const COMPLETE: usize = 1 << 1;
const NOTIFIED: usize = 1 << 2;
const CANCELLED: usize = 1 << 3;
const JOIN_INTEREST: usize = 1 << 4;
const JOIN_WAKER: usize = 1 << 5;
const REF_SHIFT: u32 = 6;
const REF_ONE: usize = 1 << REF_SHIFT;

/// A copy of the state word, with readable accessors and the mutators that
/// every transition below is written with: a transition is a function from
/// one `Snapshot` to the next, applied by one compare-and-swap loop
/// ([`State::update`]), so the bit arithmetic lives here and nowhere else.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    /// Neither being polled nor finished: whoever sets `RUNNING` now owns the
    /// future.
    fn is_idle(self) -> bool {
        self.0 & (RUNNING | COMPLETE) == 0
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }

    fn set_running(&mut self) {
        self.0 |= RUNNING;
    }
    fn unset_running(&mut self) {
        self.0 &= !RUNNING;
    }
    fn set_notified(&mut self) {
        self.0 |= NOTIFIED;
    }
    fn unset_notified(&mut self) {
        self.0 &= !NOTIFIED;
    }
    fn set_cancelled(&mut self) {
        self.0 |= CANCELLED;
    }
    fn unset_join_interest(&mut self) {
        self.0 &= !JOIN_INTEREST;
    }
    fn set_join_waker(&mut self) {
        self.0 |= JOIN_WAKER;
    }
    fn unset_join_waker(&mut self) {
        self.0 &= !JOIN_WAKER;
    }
    fn ref_inc(&mut self) {
        // Overflowing the count would be a use-after-free waiting to happen;
        // std's Arc aborts in the same situation.
        if self.0 > isize::MAX as usize {
            std::process::abort();
        }
        self.0 += REF_ONE;
    }
    /// Drops one reference; `true` if it was the last.
    fn ref_dec(&mut self) -> bool {
        debug_assert!(self.ref_count() >= 1);
        self.0 -= REF_ONE;
        self.ref_count() == 0
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("refs", &self.ref_count())
            .finish()
    }
}

pub(crate) struct State(AtomicUsize);

/// Outcome of taking a `Notified` off a queue.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "the caller owns a reference whose fate this decides"]
pub(crate) enum ToRunning {
    /// Poll the future.
    Poll,
    /// Drop the future instead: the task was cancelled.
    Cancel,
    /// The task already finished; the notification's reference was released.
    Done { dealloc: bool },
}

/// Outcome of a poll that returned `Pending`.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "the caller owns a reference whose fate this decides"]
pub(crate) enum ToIdle {
    /// Idle; the running reference was released.
    Idle { dealloc: bool },
    /// Woken during the poll: a `Notified` reference was created; schedule
    /// it, then release the running reference.
    Notified,
    /// Cancelled during the poll: still `RUNNING`; drop the future.
    Cancel,
}

/// What a wake must do after updating the state.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a Notified reference may have been created that must be scheduled"]
pub(crate) enum ToNotified {
    Nothing,
    Schedule,
    Dealloc,
}

impl State {
    /// A new task: notified (it is about to be queued), with a `JoinHandle`,
    /// and three references (owned list, `JoinHandle`, `Notified`).
    pub(crate) fn new() -> State {
        State(AtomicUsize::new(NOTIFIED | JOIN_INTEREST | (3 * REF_ONE)))
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Ordering::Acquire))
    }

    /// Applies `f` atomically: `f` sees the current snapshot, edits it in
    /// place and returns whether to store it (`Some`) or leave the word as it
    /// is (`None`), plus a result. Returns the snapshot it started from.
    fn update<T>(&self, mut f: impl FnMut(&mut Snapshot) -> Option<T>) -> (Snapshot, Option<T>) {
        let mut current = self.0.load(Ordering::Acquire);
        loop {
            let mut next = Snapshot(current);
            let Some(out) = f(&mut next) else {
                return (Snapshot(current), None);
            };
            match self
                .0
                .compare_exchange_weak(current, next.0, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return (Snapshot(current), Some(out)),
                Err(actual) => current = actual,
            }
        }
    }

    /// Like [`update`](Self::update), for transitions that always store.
    fn update_always<T>(&self, mut f: impl FnMut(&mut Snapshot) -> T) -> (Snapshot, T) {
        let (prev, out) = self.update(|s| Some(f(s)));
        (prev, out.expect("update_always stores every time"))
    }

    // ANCHOR: transition_to_running
    /// Consumes a `Notified` reference to start a poll.
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        self.update_always(|s| {
            debug_assert!(s.is_notified() || s.is_complete());
            if !s.is_idle() {
                // Finished meanwhile (cancelled at shutdown): just let go.
                let dealloc = s.ref_dec();
                ToRunning::Done { dealloc }
            } else {
                s.unset_notified();
                s.set_running();
                if s.is_cancelled() {
                    ToRunning::Cancel
                } else {
                    ToRunning::Poll
                }
            }
        })
        .1
    }
    // ANCHOR_END: transition_to_running

    // ANCHOR: transition_to_idle
    /// Ends a poll that returned `Pending`.
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        let (_, out) = self.update(|s| {
            debug_assert!(s.is_running());
            if s.is_cancelled() {
                // Stay RUNNING: the caller drops the future next.
                return None;
            }
            s.unset_running();
            if s.is_notified() {
                // A new reference for the Notified; the runner keeps its own
                // until the scheduler has taken the Notified (see
                // `harness::schedule`).
                s.ref_inc();
                Some(ToIdle::Notified)
            } else {
                let dealloc = s.ref_dec();
                Some(ToIdle::Idle { dealloc })
            }
        });
        out.unwrap_or(ToIdle::Cancel)
    }
    // ANCHOR_END: transition_to_idle

    /// The output is written: RUNNING -> COMPLETE. Returns the state before.
    #[must_use = "the caller must act on JOIN_INTEREST and JOIN_WAKER"]
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.0.fetch_xor(RUNNING | COMPLETE, Ordering::AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        prev
    }

    /// After waking the join waker on completion: clears `JOIN_WAKER`.
    /// Returns the state before; if the `JoinHandle` is gone by then, the
    /// caller drops the waker.
    #[must_use = "if the JoinHandle is gone, the caller owns the waker"]
    pub(crate) fn unset_join_waker_after_complete(&self) -> Snapshot {
        Snapshot(self.0.fetch_and(!JOIN_WAKER, Ordering::AcqRel))
    }

    // ANCHOR: notified_by_val
    /// `Waker::wake` (consumes the waker's reference, at once or, on
    /// `Schedule`, after scheduling).
    pub(crate) fn transition_to_notified_by_val(&self) -> ToNotified {
        self.update_always(|s| {
            if s.is_running() {
                // The runner holds a reference, so this cannot reach zero.
                s.set_notified();
                let last = s.ref_dec();
                debug_assert!(!last);
                ToNotified::Nothing
            } else if s.is_complete() || s.is_notified() {
                if s.ref_dec() {
                    ToNotified::Dealloc
                } else {
                    ToNotified::Nothing
                }
            } else {
                // A new reference for the Notified; the waker keeps its own
                // until the scheduler has taken the Notified (see
                // `harness::schedule`), then releases it.
                s.set_notified();
                s.ref_inc();
                ToNotified::Schedule
            }
        })
        .1
    }
    // ANCHOR_END: notified_by_val

    /// `Waker::wake_by_ref` (creates a reference if it must schedule).
    pub(crate) fn transition_to_notified_by_ref(&self) -> ToNotified {
        let (_, out) = self.update(|s| {
            if s.is_complete() || s.is_notified() {
                None
            } else if s.is_running() {
                s.set_notified();
                Some(ToNotified::Nothing)
            } else {
                s.set_notified();
                s.ref_inc();
                Some(ToNotified::Schedule)
            }
        });
        out.unwrap_or(ToNotified::Nothing)
    }

    /// `JoinHandle::abort`. Returns `Schedule` if the caller must queue a new
    /// `Notified` (created here) so that a worker drops the future.
    pub(crate) fn transition_to_notified_and_cancel(&self) -> ToNotified {
        let (_, out) = self.update(|s| {
            if s.is_cancelled() || s.is_complete() {
                None
            } else if s.is_running() {
                // The runner will see CANCELLED when the poll ends.
                s.set_cancelled();
                s.set_notified();
                Some(ToNotified::Nothing)
            } else if s.is_notified() {
                // Already queued: the worker will cancel when it pops it.
                s.set_cancelled();
                Some(ToNotified::Nothing)
            } else {
                s.set_cancelled();
                s.set_notified();
                s.ref_inc();
                Some(ToNotified::Schedule)
            }
        });
        out.unwrap_or(ToNotified::Nothing)
    }

    /// Runtime shutdown: marks the task cancelled and, if nobody is polling it,
    /// takes `RUNNING` so the caller can drop the future right away. Returns
    /// whether it took `RUNNING`.
    #[must_use = "if true, the caller holds RUNNING and must cancel the task"]
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.update_always(|s| {
            s.set_cancelled();
            let idle = s.is_idle();
            if idle {
                s.set_running();
            }
            idle
        })
        .1
    }

    /// The `JoinHandle` is dropped. Clears `JOIN_INTEREST` and, if the task is
    /// not complete, `JOIN_WAKER` too (the handle then owns the waker cell).
    /// Returns the state before.
    #[must_use = "the caller may own the output or the join waker"]
    pub(crate) fn unset_join_interest(&self) -> Snapshot {
        self.update_always(|s| {
            debug_assert!(s.is_join_interested());
            s.unset_join_interest();
            if !s.is_complete() {
                s.unset_join_waker();
            }
        })
        .0
    }

    /// The `JoinHandle` has written a waker into the cell: publish it.
    /// Fails (returning the state) if the task completed meanwhile.
    #[must_use = "on failure the JoinHandle still owns the waker cell"]
    pub(crate) fn set_join_waker(&self) -> Result<(), Snapshot> {
        let (prev, out) = self.update(|s| {
            debug_assert!(s.is_join_interested() && !s.is_join_waker_set());
            if s.is_complete() {
                return None;
            }
            s.set_join_waker();
            Some(())
        });
        out.ok_or(prev)
    }

    /// The `JoinHandle` wants to replace its waker: take the cell back.
    /// Fails if the task completed meanwhile.
    #[must_use = "on failure the runner owns the waker cell"]
    pub(crate) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        let (prev, out) = self.update(|s| {
            debug_assert!(s.is_join_interested() && s.is_join_waker_set());
            if s.is_complete() {
                return None;
            }
            s.unset_join_waker();
            Some(())
        });
        out.ok_or(prev)
    }

    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Ordering::Relaxed);
        // Overflowing the count would be a use-after-free waiting to happen;
        // std's Arc aborts in the same situation.
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Drops one reference; `true` if it was the last.
    #[must_use = "the caller must free the task if this was the last reference"]
    pub(crate) fn ref_dec(&self) -> bool {
        self.ref_dec_by(1)
    }

    /// Drops `n` references; `true` if they were the last.
    #[must_use = "the caller must free the task if these were the last references"]
    pub(crate) fn ref_dec_by(&self, n: usize) -> bool {
        let prev = Snapshot(self.0.fetch_sub(n * REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.ref_count() >= n);
        prev.ref_count() == n
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn spawn_poll_pending_wake_poll_complete() {
        let s = State::new();
        assert_eq!(s.load().ref_count(), 3);
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        // Pending with no wake: running reference released.
        assert_eq!(s.transition_to_idle(), ToIdle::Idle { dealloc: false });
        assert_eq!(s.load().ref_count(), 2);
        // A waker is cloned (ref) and woken by value: becomes the Notified.
        s.ref_inc();
        assert_eq!(s.transition_to_notified_by_val(), ToNotified::Schedule);
        assert!(s.load().is_notified());
        assert!(
            !s.ref_dec(),
            "the waker's reference, released after scheduling"
        );
        // A second wake while queued does nothing (and releases its ref).
        s.ref_inc();
        assert_eq!(s.transition_to_notified_by_val(), ToNotified::Nothing);
        assert_eq!(s.load().ref_count(), 3);
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        let prev = s.transition_to_complete();
        assert!(prev.is_running());
        assert!(s.load().is_complete());
    }

    #[test]
    fn wake_while_running_reschedules_once() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert_eq!(s.transition_to_notified_by_ref(), ToNotified::Nothing);
        assert_eq!(s.transition_to_notified_by_ref(), ToNotified::Nothing);
        assert_eq!(s.transition_to_idle(), ToIdle::Notified);
        assert_eq!(
            s.load().ref_count(),
            4,
            "a Notified reference besides the running one"
        );
        assert!(
            !s.ref_dec(),
            "the running reference, released after scheduling"
        );
    }

    #[test]
    fn abort_paths() {
        // Idle: abort creates a Notified and the next run cancels.
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert_eq!(s.transition_to_idle(), ToIdle::Idle { dealloc: false });
        assert_eq!(s.transition_to_notified_and_cancel(), ToNotified::Schedule);
        assert_eq!(s.transition_to_notified_and_cancel(), ToNotified::Nothing);
        assert_eq!(s.transition_to_running(), ToRunning::Cancel);
        // Running: the end of the poll reports the cancellation.
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert_eq!(s.transition_to_notified_and_cancel(), ToNotified::Nothing);
        assert_eq!(s.transition_to_idle(), ToIdle::Cancel);
        // Complete: nothing happens.
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert!(s.transition_to_complete().is_running());
        assert_eq!(s.transition_to_notified_and_cancel(), ToNotified::Nothing);
        assert!(!s.load().is_cancelled());
    }

    #[test]
    fn join_waker_protocol() {
        let s = State::new();
        assert!(s.set_join_waker().is_ok());
        assert!(s.unset_join_waker().is_ok());
        assert!(s.set_join_waker().is_ok());
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        let prev = s.transition_to_complete();
        assert!(prev.is_join_waker_set() && prev.is_join_interested());
        // After completion the handle can no longer take the cell back.
        assert!(s.unset_join_waker().is_err());
        let after = s.unset_join_waker_after_complete();
        assert!(after.is_join_interested());
        let prev = s.unset_join_interest();
        assert!(prev.is_complete() && !prev.is_join_waker_set());
    }

    #[test]
    fn shutdown_takes_idle_task_but_not_running_one() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert!(!s.transition_to_shutdown(), "running elsewhere");
        assert_eq!(s.transition_to_idle(), ToIdle::Cancel);
        let s = State::new();
        assert!(s.transition_to_shutdown(), "queued, not running: ours");
        assert!(s.load().is_running() && s.load().is_cancelled());
    }

    #[test]
    fn last_reference_reports_dealloc() {
        let s = State::new();
        assert!(!s.ref_dec());
        assert!(!s.ref_dec());
        assert!(s.ref_dec());
    }
}
