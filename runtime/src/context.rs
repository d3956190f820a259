//! Thread-local runtime context: which runtime this thread belongs to (so the
//! free functions `spawn`, `sleep`, `TcpStream::connect`, ... know where to go),
//! and, on a worker thread, that worker's state (so a wake-up from a task on
//! this worker goes straight into this worker's run queue without a lock).

use std::cell::{Cell, RefCell};

use crate::executor::worker::WorkerContext;
use crate::executor::Handle;

thread_local! {
    // The only one of these with a destructor: during thread-local teardown
    // (a runtime kept in a user's `thread_local!` and dropped there) it may
    // already be gone, so it is reached with `try_with` only.
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
    /// How many `HandleGuard`s are alive on this thread: each guard knows its
    /// depth, so one dropped while a younger one lives is caught.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static WORKER: Cell<*const WorkerContext> = const { Cell::new(std::ptr::null()) };
    /// Set while this thread runs a runtime (a worker loop or `block_on`):
    /// starting another one here would block the one we are in.
    static ENTERED: Cell<bool> = const { Cell::new(false) };
}

/// The runtime of the current thread, if any (none during thread-local
/// teardown).
pub(crate) fn try_current() -> Option<Handle> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Runs `f` with a borrow of the current runtime's handle, if there is one:
/// no handle clone (two atomic operations) for a caller that needs only a
/// part of it. `f` must not enter or leave a runtime context (the handle is
/// borrowed from the thread-local for the call).
pub(crate) fn try_with_current<R>(f: impl FnOnce(&Handle) -> R) -> Option<R> {
    CURRENT
        .try_with(|c| c.borrow().as_ref().map(f))
        .ok()
        .flatten()
}

/// Runs `f` with the current runtime, panicking with a clear message outside
/// one. `#[track_caller]`, like every public function that calls it, so the
/// message names the user's line.
#[track_caller]
pub(crate) fn with_current<R>(what: &str, f: impl FnOnce(&Handle) -> R) -> R {
    f(&current(what))
}

/// The current runtime; the panic of [`with_current`], written once rather
/// than in each of its instantiations.
#[track_caller]
fn current(what: &str) -> Handle {
    match try_current() {
        Some(h) => h,
        None => panic!(
            "{what} must be called from the context of a runtime: inside `Runtime::block_on`, \
             a task spawned on a runtime, or after `Handle::enter`"
        ),
    }
}

/// Restores the previous context when dropped.
pub(crate) struct HandleGuard {
    previous: Option<Handle>,
    /// `DEPTH` once this guard was entered; 0 for an inert guard (the context
    /// thread-local was already destroyed, so there is nothing to restore).
    depth: usize,
}

/// Makes `handle` the current runtime of this thread until the guard drops.
pub(crate) fn enter_handle(handle: Handle) -> HandleGuard {
    match CURRENT.try_with(|c| c.borrow_mut().replace(handle)) {
        Ok(previous) => {
            let depth = DEPTH.get() + 1;
            DEPTH.set(depth);
            HandleGuard { previous, depth }
        }
        // Thread-local teardown: code that looks for the runtime from here
        // on finds none, which beats aborting the process.
        Err(_) => HandleGuard {
            previous: None,
            depth: 0,
        },
    }
}

impl Drop for HandleGuard {
    fn drop(&mut self) {
        if self.depth == 0 {
            return;
        }
        if DEPTH.get() != self.depth {
            // Restoring our `previous` now would make a runtime current that
            // no live guard stands for. Already unwinding: a second panic
            // would abort, so leave the context as it is.
            if !std::thread::panicking() {
                panic!(
                    "`EnterGuard`s dropped out of order: the guards returned by \
                     `Handle::enter` must be dropped in the reverse order of their creation \
                     (this one was entered at depth {}, the innermost live one is at depth {})",
                    self.depth,
                    DEPTH.get()
                );
            }
            return;
        }
        DEPTH.set(self.depth - 1);
        let previous = self.previous.take();
        // Fails only during thread-local teardown; `previous` is then dropped
        // here, like the context would have been.
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

/// Marks this thread as running a runtime; panics if it already does.
pub(crate) struct RuntimeGuard {
    _handle: HandleGuard,
}

#[track_caller]
pub(crate) fn enter_runtime(handle: Handle) -> RuntimeGuard {
    if ENTERED.get() {
        panic!(
            "cannot start a runtime from within a runtime: `block_on` was called on a thread that \
             is already running one (a worker thread, or inside another `block_on`). \
             Use `.await` here, or move the blocking call into `runtime::spawn_blocking`"
        );
    }
    ENTERED.set(true);
    RuntimeGuard {
        _handle: enter_handle(handle),
    }
}

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        ENTERED.set(false);
    }
}

/// Whether this thread is running a runtime (a worker, or inside
/// `block_on`): blocking it would stall that runtime.
pub(crate) fn runs_a_runtime() -> bool {
    ENTERED.try_with(Cell::get).unwrap_or(false)
}

/// While a `block_in_place` closure runs, its thread has handed its worker
/// on and is no longer running the runtime: it may block, and so it may start
/// a `block_on` (as tokio allows there). Restores the mark when dropped.
pub(crate) struct LeftRuntime {
    was_entered: bool,
}

pub(crate) fn leave_runtime() -> LeftRuntime {
    LeftRuntime {
        was_entered: ENTERED.replace(false),
    }
}

impl Drop for LeftRuntime {
    fn drop(&mut self) {
        ENTERED.set(self.was_entered);
    }
}

/// Sets the worker pointer for the duration of a worker loop.
pub(crate) struct WorkerGuard {
    previous: *const WorkerContext,
}

pub(crate) fn enter_worker(cx: &WorkerContext) -> WorkerGuard {
    WorkerGuard {
        previous: WORKER.replace(cx as *const WorkerContext),
    }
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        WORKER.set(self.previous);
    }
}

/// Runs `f` with this thread's worker context, if it is a worker.
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&WorkerContext>) -> R) -> R {
    let ptr = WORKER.get();
    // SAFETY: the pointer is set by `enter_worker` to a context that outlives
    // the guard, and cleared (restored) when the guard drops.
    f(unsafe { ptr.as_ref() })
}
