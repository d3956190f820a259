//! Cooperative scheduling budget.
//!
//! A task whose sockets are always ready (a fast client pipelining requests)
//! would otherwise never return `Pending`, and its worker would never run
//! anything else. Every task poll starts with a budget of [`BUDGET`] resource
//! operations; each `TcpStream` read/write, `accept` and timer poll spends one.
//! When it is spent, the resource pretends not to be ready: it wakes the task
//! and returns `Pending`, so the task goes to the back of the run queue.
//! Outside a task (the `block_on` future of a multi-threaded runtime) the
//! budget is unlimited.

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

/// Lifts the limit (blocking tasks, `block_on` outside a worker).
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
