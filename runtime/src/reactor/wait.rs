//! One task's place in a source's waiter list, for as long as it waits.
//!
//! The `&self` async methods (`accept`, `readable`, ...) may be awaited by any
//! number of tasks at once, so each of their futures holds a [`ListedWait`]:
//! an entry in the [`ScheduledIo`] waiter list that is created on the first
//! `Pending` and removed when the future is dropped, whether it finished or
//! was cancelled. Tying the entry to the future's lifetime is what keeps the
//! list from growing with cancelled waits.

use std::task::{Context, Poll};

use super::scheduled_io::{ReadyEvent, ScheduledIo};

pub(crate) struct ListedWait<'a> {
    io: &'a ScheduledIo,
    /// The ready bits that end the wait (see `Direction::mask`).
    mask: u64,
    key: Option<usize>,
}

impl<'a> ListedWait<'a> {
    pub(crate) fn new(io: &'a ScheduledIo, mask: u64) -> ListedWait<'a> {
        ListedWait {
            io,
            mask,
            key: None,
        }
    }

    /// The readiness among our bits, or `Pending` with the task's waker in
    /// the list.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ReadyEvent> {
        self.io.poll_ready_listed(cx, self.mask, &mut self.key)
    }
}

impl Drop for ListedWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.io.remove_waiter(key);
        }
    }
}
