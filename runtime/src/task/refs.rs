//! The counted references a scheduler holds: [`Task`] (the owned-tasks list's
//! entry) and [`Notified`] (permission to poll once: what run queues hold).
//! Each owns one unit of the task's reference count and releases it on drop.

use super::raw::RawTask;

/// A reference held by the owned-tasks list.
pub(crate) struct Task(RawTask);

/// A reference that entitles its holder to poll the task once: what run
/// queues hold.
pub(crate) struct Notified(RawTask);

// SAFETY: see RawTask.
unsafe impl Send for Task {}
// SAFETY: see RawTask.
unsafe impl Send for Notified {}

impl Task {
    pub(crate) fn raw(&self) -> RawTask {
        self.0
    }

    /// Cancels the task at runtime shutdown: if nobody is polling it, drops the
    /// future now (on this thread).
    pub(crate) fn shutdown(self) {
        // SAFETY: we own a reference and hand it over.
        unsafe { self.into_raw().shutdown() }
    }

    /// Gives up the reference without decrementing (the caller accounts for
    /// it, see `Schedule::release`).
    pub(crate) fn into_raw(self) -> RawTask {
        let raw = self.0;
        std::mem::forget(self);
        raw
    }

    /// # Safety
    /// The caller must own one reference to the task (from [`Task::into_raw`]).
    pub(crate) unsafe fn from_raw(raw: RawTask) -> Task {
        Task(raw)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // SAFETY: we own a reference and give it up.
        unsafe { self.0.drop_reference() }
    }
}

impl Notified {
    /// Polls the task (or cancels it). Consumes the reference.
    pub(crate) fn run(self) {
        // SAFETY: the reference is handed to the poll routine.
        unsafe { self.into_raw().poll() }
    }

    /// Cancels a task that was queued but will never run (a blocking task
    /// whose pool shut down): drops its future here, so its `JoinHandle`
    /// resolves to a cancellation error instead of waiting forever.
    pub(crate) fn shutdown(self) {
        // SAFETY: we own a reference and hand it over.
        unsafe { self.into_raw().shutdown() }
    }

    /// Gives up the reference without decrementing.
    pub(crate) fn into_raw(self) -> RawTask {
        let raw = self.0;
        std::mem::forget(self);
        raw
    }

    /// # Safety
    /// The caller must own a `Notified` reference (from [`Notified::into_raw`]).
    pub(crate) unsafe fn from_raw(raw: RawTask) -> Notified {
        Notified(raw)
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        // A queue dropped without being run (runtime shutdown).
        // SAFETY: we own a reference and give it up.
        unsafe { self.0.drop_reference() }
    }
}
