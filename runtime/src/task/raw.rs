//! The untyped task pointer and the vtable behind it.
//!
//! A [`RawTask`] is the pointer `Box::into_raw` returned for the task's cell
//! (see `core.rs`), cast to its header. It keeps that pointer's provenance
//! over the *whole* allocation: code that needs the typed cell casts the same
//! pointer back, and nothing ever rebuilds a task pointer from a `&Header`
//! (a reference only grants access to the header's bytes, so a pointer made
//! from one must not be widened to the cell).
//!
//! The generic functions of `harness.rs` are instantiated per future type and
//! reached through the vtable, so queues and schedulers deal only in
//! `RawTask`s.

use std::future::Future;
use std::ptr::NonNull;
use std::task::Waker;

use super::core::Cell;
use super::harness;
use super::join::JoinHandle;

// The executor reaches everything it needs about tasks through this module.
pub(crate) use super::core::{Header, Schedule};
pub(crate) use super::refs::{Notified, Task};
#[cfg(test)]
pub(crate) use super::test_util;

/// The type-erased entry points of one task type.
pub(crate) struct Vtable {
    pub(super) poll: unsafe fn(RawTask),
    pub(super) schedule: unsafe fn(RawTask),
    pub(super) dealloc: unsafe fn(RawTask),
    pub(super) try_read_output: unsafe fn(RawTask, *mut (), &Waker),
    pub(super) drop_join_handle: unsafe fn(RawTask),
    pub(super) shutdown: unsafe fn(RawTask),
}

/// The vtable of tasks running future `F` on scheduler `S`.
fn vtable<F, S>() -> &'static Vtable
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    &Vtable {
        poll: harness::poll::<F, S>,
        schedule: harness::schedule::<F, S>,
        dealloc: harness::dealloc::<F, S>,
        try_read_output: harness::try_read_output::<F, S>,
        drop_join_handle: harness::drop_join_handle::<F, S>,
        shutdown: harness::shutdown::<F, S>,
    }
}

/// An untyped pointer to a task. Carries no reference by itself.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct RawTask(NonNull<Header>);

// SAFETY: a task's shared parts are synchronised by its state word; the future
// is `Send` (spawn requires it) and only touched by the thread holding RUNNING.
unsafe impl Send for RawTask {}
// SAFETY: as above.
unsafe impl Sync for RawTask {}

impl RawTask {
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a RawTask is only used while some reference keeps the
        // allocation alive. The `&Header` borrows `self`, so it cannot outlive
        // a call that frees the task (those take the RawTask by value).
        unsafe { self.0.as_ref() }
    }

    pub(crate) fn as_ptr(self) -> *mut Header {
        self.0.as_ptr()
    }

    /// # Safety
    /// `ptr` must come from [`RawTask::as_ptr`] of a live task (so it carries
    /// the provenance of the whole cell).
    pub(crate) unsafe fn from_ptr(ptr: *mut Header) -> RawTask {
        // SAFETY: the caller passes a non-null task pointer.
        RawTask(unsafe { NonNull::new_unchecked(ptr) })
    }

    pub(crate) fn id(&self) -> u64 {
        self.header().id
    }

    /// The typed cell behind the pointer.
    ///
    /// # Safety
    /// The task must be a `Cell<F, S>` and stay alive for `'a`: the caller
    /// must drop the reference before anything that may free the task.
    pub(super) unsafe fn cell<'a, F: Future, S>(self) -> &'a Cell<F, S> {
        // SAFETY: guaranteed by the caller; the pointer has the provenance of
        // the whole cell, whose header is its first field.
        unsafe { self.0.cast::<Cell<F, S>>().as_ref() }
    }

    /// The pointer `Box::into_raw` returned, for freeing the cell.
    pub(super) fn cell_ptr<F: Future, S>(self) -> *mut Cell<F, S> {
        self.0.cast::<Cell<F, S>>().as_ptr()
    }

    fn vtable(self) -> &'static Vtable {
        self.header().vtable
    }

    /// Polls (or cancels) the task, consuming one `Notified` reference.
    ///
    /// # Safety
    /// The caller owns a `Notified` reference and hands it over.
    pub(super) unsafe fn poll(self) {
        // SAFETY: the caller's contract is the entry's.
        unsafe { (self.vtable().poll)(self) }
    }

    /// Hands a `Notified` reference to the task's scheduler.
    ///
    /// # Safety
    /// The caller owns a `Notified` reference and hands it over.
    pub(super) unsafe fn schedule(self) {
        // SAFETY: the caller's contract is the entry's.
        unsafe { (self.vtable().schedule)(self) }
    }

    /// Frees the task.
    ///
    /// # Safety
    /// The reference count has reached zero.
    pub(super) unsafe fn dealloc(self) {
        // SAFETY: the caller's contract is the entry's.
        unsafe { (self.vtable().dealloc)(self) }
    }

    /// # Safety
    /// The caller is the `JoinHandle` and `dst` points at a
    /// `Poll<Result<T, JoinError>>` for this task's output type `T`.
    pub(super) unsafe fn try_read_output(self, dst: *mut (), waker: &Waker) {
        // SAFETY: the caller's contract is the entry's.
        unsafe { (self.vtable().try_read_output)(self, dst, waker) }
    }

    /// # Safety
    /// The caller is the `JoinHandle` and hands over its reference.
    pub(super) unsafe fn drop_join_handle(self) {
        // SAFETY: the caller's contract is the entry's.
        unsafe { (self.vtable().drop_join_handle)(self) }
    }

    /// Cancels the task at shutdown, consuming one reference.
    ///
    /// # Safety
    /// The caller owns a reference and hands it over.
    pub(super) unsafe fn shutdown(self) {
        // SAFETY: the caller's contract is the entry's.
        unsafe { (self.vtable().shutdown)(self) }
    }

    /// Releases one reference, freeing the task if it was the last.
    ///
    /// # Safety
    /// The caller owns a reference and gives it up.
    pub(super) unsafe fn drop_reference(self) {
        if self.header().state.ref_dec() {
            // SAFETY: that was the last reference.
            unsafe { self.dealloc() }
        }
    }
}

// ANCHOR: new_task
/// Allocates a task. Returns the owned-list reference, the first `Notified`
/// and the `JoinHandle`.
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    id: u64,
) -> (Task, Notified, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let cell = Cell::new(future, scheduler, id, vtable::<F, S>());
    // Keep the pointer `Box::into_raw` gives: it is valid for the whole cell.
    // SAFETY: Box::into_raw never returns null; Cell is repr(C) with the header
    // first, so the pointer is also a valid header pointer.
    let raw = RawTask(unsafe { NonNull::new_unchecked(Box::into_raw(cell).cast::<Header>()) });
    // SAFETY: the state starts with three references, one for each of these.
    unsafe {
        (
            Task::from_raw(raw),
            Notified::from_raw(raw),
            JoinHandle::new(raw),
        )
    }
}
// ANCHOR_END: new_task
