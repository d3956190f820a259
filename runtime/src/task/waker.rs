//! A task's `Waker`: the task pointer itself, plus one reference.
//!
//! The data pointer is the `RawTask`'s pointer, passed through untouched, so
//! it keeps its provenance over the whole cell (see `raw.rs`): the wake
//! functions rebuild the `RawTask` from it and never from a `&Header`.

use std::mem::ManuallyDrop;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::raw::RawTask;
use super::state::ToNotified;

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

/// # Safety
/// `ptr` is the data pointer of one of our wakers.
unsafe fn raw(ptr: *const ()) -> RawTask {
    // SAFETY: a waker's data pointer is always a live task's `RawTask::as_ptr`.
    unsafe { RawTask::from_ptr(ptr as *mut _) }
}

unsafe fn waker_clone(ptr: *const ()) -> RawWaker {
    // SAFETY: called by `Waker::clone` on one of ours.
    let task = unsafe { raw(ptr) };
    task.header().state.ref_inc();
    RawWaker::new(ptr, &WAKER_VTABLE)
}

unsafe fn waker_wake(ptr: *const ()) {
    // SAFETY: called by `Waker::wake` on one of ours; this consumes the
    // waker's reference.
    let task = unsafe { raw(ptr) };
    match task.header().state.transition_to_notified_by_val() {
        // SAFETY: the transition created the Notified's reference; the
        // waker's keeps the task alive while the scheduler runs, and is
        // released after.
        ToNotified::Schedule => unsafe {
            task.schedule();
            task.drop_reference();
        },
        // SAFETY: the waker held the last reference.
        ToNotified::Dealloc => unsafe { task.dealloc() },
        ToNotified::Nothing => {}
    }
}

unsafe fn waker_wake_by_ref(ptr: *const ()) {
    // SAFETY: called by `Waker::wake_by_ref` on one of ours; the waker keeps
    // its reference.
    let task = unsafe { raw(ptr) };
    if task.header().state.transition_to_notified_by_ref() == ToNotified::Schedule {
        // SAFETY: the transition created a new reference for the Notified.
        unsafe { task.schedule() }
    }
}

unsafe fn waker_drop(ptr: *const ()) {
    // SAFETY: called by `Waker::drop` on one of ours, giving up its reference.
    unsafe { raw(ptr).drop_reference() }
}

/// A waker for the duration of one poll, borrowing the poller's reference
/// (no reference-count traffic unless the future clones it).
pub(super) fn borrowed_waker(task: RawTask) -> ManuallyDrop<Waker> {
    // SAFETY: the vtable functions uphold the RawWaker contract; ManuallyDrop
    // keeps the borrowed reference from being released.
    ManuallyDrop::new(unsafe {
        Waker::from_raw(RawWaker::new(task.as_ptr() as *const (), &WAKER_VTABLE))
    })
}
