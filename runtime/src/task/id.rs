//! Task identifiers, and which task the current thread is running.

use std::cell::Cell;
use std::fmt;

/// A task's identifier, unique among the tasks of the process.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let handle = runtime::spawn(async { runtime::task::id() });
///     let abort = handle.abort_handle();
///     let inside: runtime::task::Id = handle.await.unwrap();
///     assert_eq!(inside, abort.id());
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(u64);

impl Id {
    pub(crate) fn new(id: u64) -> Id {
        Id(id)
    }

    /// The identifier as a number (for logs and metrics keys; ids start at 1).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(async { runtime::task::id().as_u64() });
    ///     let id = handle.id();
    ///     assert_eq!(handle.await.unwrap(), id.as_u64());
    ///     assert!(id.as_u64() >= 1);
    /// });
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

thread_local! {
    /// The id of the task this thread is polling (or cancelling), 0 for none
    /// (ids start at 1): a plain integer keeps the per-poll set and restore
    /// to a few instructions.
    static CURRENT: Cell<u64> = const { Cell::new(0) };
}

/// Marks `id` as the current task until the guard is dropped, which restores
/// the previous value (a task may run a nested `block_on`'s tasks).
pub(super) fn enter(id: u64) -> CurrentGuard {
    // During thread-local teardown there is no current task to record.
    CurrentGuard(CURRENT.try_with(|c| c.replace(id)).unwrap_or(0))
}

pub(super) struct CurrentGuard(u64);

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(self.0));
    }
}

/// The [`Id`] of the task that is running, or `None` outside a task (in
/// `block_on`'s own future, or on a thread that is not running a task).
///
/// ```
/// assert!(runtime::task::try_id().is_none());
/// let rt = runtime::Runtime::new().unwrap();
/// let inside = rt.block_on(async { runtime::spawn(async { runtime::task::try_id() }).await });
/// assert!(inside.unwrap().is_some());
/// ```
pub fn try_id() -> Option<Id> {
    match CURRENT.try_with(Cell::get) {
        Ok(0) | Err(_) => None,
        Ok(id) => Some(Id(id)),
    }
}

/// The [`Id`] of the task that is running.
///
/// # Panics
/// Outside a task (see [`try_id`]).
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let handle = runtime::spawn(async { runtime::task::id() });
///     let id = handle.id();
///     assert_eq!(handle.await.unwrap(), id);
/// });
/// ```
#[track_caller]
pub fn id() -> Id {
    match try_id() {
        Some(id) => id,
        None => panic!("runtime::task::id() called outside a task"),
    }
}
