//! Thread-local runtime context: which runtime this thread belongs to (so the
//! free functions `spawn`, `sleep`, `TcpStream::connect`, ... know where to go),
//! and, on a worker thread, that worker's state (so a wake-up from a task on
//! this worker goes straight into this worker's run queue without a lock).

use std::cell::{Cell, RefCell};

use crate::executor::worker::WorkerContext;
use crate::executor::Handle;

thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
    static WORKER: Cell<*const WorkerContext> = const { Cell::new(std::ptr::null()) };
    /// Set while this thread runs a runtime (a worker loop or `block_on`):
    /// starting another one here would block the one we are in.
    static ENTERED: Cell<bool> = const { Cell::new(false) };
}

/// The runtime of the current thread, if any.
pub(crate) fn try_current() -> Option<Handle> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Runs `f` with the current runtime, panicking with a clear message outside one.
pub(crate) fn with_current<R>(what: &str, f: impl FnOnce(&Handle) -> R) -> R {
    let handle = CURRENT.with(|c| c.borrow().clone());
    match handle {
        Some(h) => f(&h),
        None => panic!(
            "{what} must be called from the context of a runtime: inside `Runtime::block_on`, \
             a task spawned on a runtime, or after `Handle::enter`"
        ),
    }
}

/// Restores the previous context when dropped.
pub(crate) struct HandleGuard {
    previous: Option<Handle>,
}

/// Makes `handle` the current runtime of this thread until the guard drops.
pub(crate) fn enter_handle(handle: Handle) -> HandleGuard {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(handle));
    HandleGuard { previous }
}

impl Drop for HandleGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Marks this thread as running a runtime; panics if it already does.
pub(crate) struct RuntimeGuard {
    _handle: HandleGuard,
}

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
