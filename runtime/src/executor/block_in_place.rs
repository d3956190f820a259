//! `block_in_place`: blocking code run by a task, on its own worker thread,
//! without stalling the tasks queued behind it. The worker's core (its run
//! queue, LIFO slot and parker) moves to a new thread that carries on as that
//! worker; this thread runs the closure, finishes the task's poll, and then
//! retires (see `WorkerContext::run` returning `None`).

use std::sync::Arc;

use crate::primitives::plain::Mutex;

use super::builder::run_worker_thread;
use super::{Flavor, Handle};
use crate::context;

/// Runs `f`, which may block, on this thread, first handing this worker's
/// queued tasks to a new worker thread so they keep running meanwhile. Outside
/// a runtime's worker (a plain thread, a blocking-pool closure) it just runs
/// `f`.
///
/// Prefer [`spawn_blocking`](crate::spawn_blocking); this is for code that
/// must block in the middle of a task and cannot be moved out of it. Since
/// the thread has handed its worker on, `f` may also wait for async code
/// with [`Handle::block_on`](crate::Handle::block_on), as in tokio (a
/// synchronous callback that needs an async result).
///
/// # Panics
/// On a current-thread runtime, whose only worker would stop.
///
/// ```
/// let rt = runtime::Builder::new().worker_threads(1).build().unwrap();
/// let n = rt.block_on(async {
///     runtime::spawn(async {
///         // The other task still runs while this one blocks.
///         let other = runtime::spawn(async { 2 });
///         let a = runtime::task::block_in_place(|| {
///             std::thread::sleep(std::time::Duration::from_millis(10));
///             40
///         });
///         a + other.await.unwrap()
///     })
///     .await
///     .unwrap()
/// });
/// assert_eq!(n, 42);
/// ```
#[track_caller]
pub fn block_in_place<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    let on_current_thread = context::with_worker(|cx| {
        let Some(cx) = cx else {
            return false;
        };
        if cx.shared.flavor == Flavor::CurrentThread {
            return true;
        }
        // Present only while this thread runs a task (not from a waker or a
        // destructor run by the worker itself).
        let core = match cx.core.try_borrow_mut() {
            Ok(mut slot) => slot.take(),
            Err(_) => None,
        };
        let Some(core) = core else {
            return false;
        };
        let shared = cx.shared.clone();
        let slot = Arc::new(Mutex::new(Some(core)));
        let theirs = slot.clone();
        let handle = Handle {
            shared: shared.clone(),
        };
        let started = shared.threads.spawn(false, move || {
            let core = theirs.lock().take();
            if let Some(core) = core {
                run_worker_thread(handle, core);
            }
        });
        match started {
            Ok(thread) => shared.extra_threads.lock().push(thread),
            Err(e) => {
                // No new thread: keep the core and block it, as if this were
                // not here (what a task blocking without it does).
                eprintln!("runtime: block_in_place could not start a worker thread: {e}");
                let core = slot.lock().take();
                *cx.core.borrow_mut() = core;
            }
        }
        false
    });
    if on_current_thread {
        panic!(
            "block_in_place cannot be used on a current-thread runtime: its only worker \
             would stop; use `spawn_blocking` or a multi-thread runtime"
        );
    }
    let _left = context::leave_runtime();
    crate::coop::with_unconstrained(f)
}
