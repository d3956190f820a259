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

use crate::sync::{AtomicUsize, Ordering};

const RUNNING: usize = 1 << 0;
const COMPLETE: usize = 1 << 1;
const NOTIFIED: usize = 1 << 2;
const CANCELLED: usize = 1 << 3;
const JOIN_INTEREST: usize = 1 << 4;
const JOIN_WAKER: usize = 1 << 5;
const REF_SHIFT: u32 = 6;
const REF_ONE: usize = 1 << REF_SHIFT;

/// A copy of the state word, with readable accessors.
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
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
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
pub(crate) enum ToIdle {
    /// Idle; the running reference was released.
    Idle { dealloc: bool },
    /// Woken during the poll: the running reference is now a `Notified`;
    /// schedule it.
    Notified,
    /// Cancelled during the poll: still `RUNNING`; drop the future.
    Cancel,
}

/// What a wake must do after updating the state.
#[derive(Debug, PartialEq, Eq)]
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

    fn update<T>(&self, mut f: impl FnMut(usize) -> (Option<usize>, T)) -> (Snapshot, T) {
        let mut current = self.0.load(Ordering::Acquire);
        loop {
            let (next, out) = f(current);
            let Some(next) = next else {
                return (Snapshot(current), out);
            };
            match self
                .0
                .compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return (Snapshot(current), out),
                Err(actual) => current = actual,
            }
        }
    }

    // ANCHOR: transition_to_running
    /// Consumes a `Notified` reference to start a poll.
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        self.update(|cur| {
            debug_assert!(cur & NOTIFIED != 0 || cur & COMPLETE != 0);
            if cur & (RUNNING | COMPLETE) != 0 {
                // Finished meanwhile (cancelled at shutdown): just let go.
                debug_assert!(cur >> REF_SHIFT >= 1);
                let next = cur - REF_ONE;
                (
                    Some(next),
                    ToRunning::Done {
                        dealloc: next >> REF_SHIFT == 0,
                    },
                )
            } else {
                let next = (cur & !NOTIFIED) | RUNNING;
                let action = if cur & CANCELLED != 0 {
                    ToRunning::Cancel
                } else {
                    ToRunning::Poll
                };
                (Some(next), action)
            }
        })
        .1
    }
    // ANCHOR_END: transition_to_running

    // ANCHOR: transition_to_idle
    /// Ends a poll that returned `Pending`.
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        self.update(|cur| {
            debug_assert!(cur & RUNNING != 0);
            if cur & CANCELLED != 0 {
                (None, ToIdle::Cancel)
            } else if cur & NOTIFIED != 0 {
                // Keep the reference: it becomes the new Notified.
                (Some(cur & !RUNNING), ToIdle::Notified)
            } else {
                let next = (cur & !RUNNING) - REF_ONE;
                (
                    Some(next),
                    ToIdle::Idle {
                        dealloc: next >> REF_SHIFT == 0,
                    },
                )
            }
        })
        .1
    }
    // ANCHOR_END: transition_to_idle

    /// The output is written: RUNNING -> COMPLETE. Returns the state before.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.0.fetch_xor(RUNNING | COMPLETE, Ordering::AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        prev
    }

    /// After waking the join waker on completion: clears `JOIN_WAKER`.
    /// Returns the state before; if the `JoinHandle` is gone by then, the
    /// caller drops the waker.
    pub(crate) fn unset_join_waker_after_complete(&self) -> Snapshot {
        Snapshot(self.0.fetch_and(!JOIN_WAKER, Ordering::AcqRel))
    }

    // ANCHOR: notified_by_val
    /// `Waker::wake` (consumes the waker's reference).
    pub(crate) fn transition_to_notified_by_val(&self) -> ToNotified {
        self.update(|cur| {
            if cur & RUNNING != 0 {
                // The runner holds a reference, so this cannot reach zero.
                (Some((cur | NOTIFIED) - REF_ONE), ToNotified::Nothing)
            } else if cur & (COMPLETE | NOTIFIED) != 0 {
                let next = cur - REF_ONE;
                let action = if next >> REF_SHIFT == 0 {
                    ToNotified::Dealloc
                } else {
                    ToNotified::Nothing
                };
                (Some(next), action)
            } else {
                // The waker's reference becomes the Notified.
                (Some(cur | NOTIFIED), ToNotified::Schedule)
            }
        })
        .1
    }
    // ANCHOR_END: notified_by_val

    /// `Waker::wake_by_ref` (creates a reference if it must schedule).
    pub(crate) fn transition_to_notified_by_ref(&self) -> ToNotified {
        self.update(|cur| {
            if cur & (COMPLETE | NOTIFIED) != 0 {
                (None, ToNotified::Nothing)
            } else if cur & RUNNING != 0 {
                (Some(cur | NOTIFIED), ToNotified::Nothing)
            } else {
                (Some((cur | NOTIFIED) + REF_ONE), ToNotified::Schedule)
            }
        })
        .1
    }

    /// `JoinHandle::abort`. Returns `Schedule` if the caller must queue a new
    /// `Notified` (created here) so that a worker drops the future.
    pub(crate) fn transition_to_notified_and_cancel(&self) -> ToNotified {
        self.update(|cur| {
            if cur & (CANCELLED | COMPLETE) != 0 {
                (None, ToNotified::Nothing)
            } else if cur & RUNNING != 0 {
                // The runner will see CANCELLED when the poll ends.
                (Some(cur | CANCELLED | NOTIFIED), ToNotified::Nothing)
            } else if cur & NOTIFIED != 0 {
                // Already queued: the worker will cancel when it pops it.
                (Some(cur | CANCELLED), ToNotified::Nothing)
            } else {
                (
                    Some((cur | CANCELLED | NOTIFIED) + REF_ONE),
                    ToNotified::Schedule,
                )
            }
        })
        .1
    }

    /// Runtime shutdown: marks the task cancelled and, if nobody is polling it,
    /// takes `RUNNING` so the caller can drop the future right away.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        let (prev, _) = self.update(|cur| {
            let mut next = cur | CANCELLED;
            if cur & (RUNNING | COMPLETE) == 0 {
                next |= RUNNING;
            }
            (Some(next), ())
        });
        !prev.is_running() && !prev.is_complete()
    }

    /// The `JoinHandle` is dropped. Clears `JOIN_INTEREST` and, if the task is
    /// not complete, `JOIN_WAKER` too (the handle then owns the waker cell).
    /// Returns the state before.
    pub(crate) fn unset_join_interest(&self) -> Snapshot {
        self.update(|cur| {
            debug_assert!(cur & JOIN_INTEREST != 0);
            let mut next = cur & !JOIN_INTEREST;
            if cur & COMPLETE == 0 {
                next &= !JOIN_WAKER;
            }
            (Some(next), ())
        })
        .0
    }

    /// The `JoinHandle` has written a waker into the cell: publish it.
    /// Fails (returning the state) if the task completed meanwhile.
    pub(crate) fn set_join_waker(&self) -> Result<(), Snapshot> {
        let (prev, ok) = self.update(|cur| {
            debug_assert!(cur & JOIN_INTEREST != 0 && cur & JOIN_WAKER == 0);
            if cur & COMPLETE != 0 {
                (None, false)
            } else {
                (Some(cur | JOIN_WAKER), true)
            }
        });
        if ok {
            Ok(())
        } else {
            Err(prev)
        }
    }

    /// The `JoinHandle` wants to replace its waker: take the cell back.
    /// Fails if the task completed meanwhile.
    pub(crate) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        let (prev, ok) = self.update(|cur| {
            debug_assert!(cur & JOIN_INTEREST != 0 && cur & JOIN_WAKER != 0);
            if cur & COMPLETE != 0 {
                (None, false)
            } else {
                (Some(cur & !JOIN_WAKER), true)
            }
        });
        if ok {
            Ok(())
        } else {
            Err(prev)
        }
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
    pub(crate) fn ref_dec(&self) -> bool {
        let prev = self.0.fetch_sub(REF_ONE, Ordering::AcqRel);
        debug_assert!(prev >> REF_SHIFT >= 1);
        prev >> REF_SHIFT == 1
    }

    /// Drops `n` references; `true` if they were the last.
    pub(crate) fn ref_dec_by(&self, n: usize) -> bool {
        let prev = self.0.fetch_sub(n * REF_ONE, Ordering::AcqRel);
        debug_assert!(prev >> REF_SHIFT >= n);
        prev >> REF_SHIFT == n
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
            3,
            "the running ref became the Notified"
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
        s.transition_to_complete();
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
