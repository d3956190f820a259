//! Cooperative scheduling budget.
//!
//! A task whose sockets are always ready (a fast client pipelining requests)
//! would otherwise never return `Pending`, and its worker would never run
//! anything else. Every task poll starts with a budget of [`BUDGET`] resource
//! operations; each `TcpStream` read/write, `accept` and timer poll spends one.
//! When it is spent, the resource pretends not to be ready: it wakes the task
//! and returns `Pending`, so the task goes to the back of the run queue.
//! The `block_on` future is budgeted the same way (or `timeout` around an
//! always-ready future there would never see its deadline); only blocking-pool
//! closures run unconstrained.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations per task poll before a forced yield.
pub(crate) const BUDGET: u8 = 128;
const UNCONSTRAINED: u8 = u8::MAX;

thread_local! {
    static REMAINING: Cell<u8> = const { Cell::new(UNCONSTRAINED) };
}

/// Called by the task harness before each poll.
pub(crate) fn reset_budget() {
    REMAINING.set(BUDGET);
}

/// Lifts the limit (blocking-pool threads).
pub(crate) fn unconstrained() {
    REMAINING.set(UNCONSTRAINED);
}

// ANCHOR: poll_proceed
/// Spends one unit of budget, or wakes the task and asks it to yield.
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    let left = REMAINING.get();
    if left == 0 {
        cx.waker().wake_by_ref();
        return Poll::Pending;
    }
    if left != UNCONSTRAINED {
        REMAINING.set(left - 1);
    }
    Poll::Ready(())
}
// ANCHOR_END: poll_proceed

/// Runs `f` with a fresh budget, then puts the previous one back: a task
/// polled inside another's poll (a `LocalSet`'s) gets a budget of its own
/// without changing its host's.
pub(crate) fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(u8);
    impl Drop for Restore {
        fn drop(&mut self) {
            REMAINING.set(self.0);
        }
    }
    let _restore = Restore(REMAINING.replace(BUDGET));
    f()
}

/// Runs `f` without a budget limit, then puts the budget back as it was.
/// For a combinator's own bookkeeping after its inner future spent the
/// budget: `Timeout` must still see its deadline.
pub(crate) fn with_unconstrained<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(u8);
    impl Drop for Restore {
        fn drop(&mut self) {
            REMAINING.set(self.0);
        }
    }
    let _restore = Restore(REMAINING.replace(UNCONSTRAINED));
    f()
}
