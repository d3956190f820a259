//! The runtime itself: the owner of the threads, and shutdown on drop.

use std::future::Future;
use std::io;

use super::block_on::block_on_parked;
use super::current_thread::block_on_current_thread;
use super::worker::WorkerContext;
use super::{Builder, Flavor, Handle};
use crate::context;
use crate::sync::{lock, Ordering};
use crate::JoinHandle;

/// An async runtime: an epoll reactor, worker threads, timers and a blocking
/// pool. Dropping it cancels every task (running their destructors, which
/// closes their sockets) and joins its threads.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// let answer = rt.block_on(async {
///     let h = runtime::spawn(async { 40 + 2 });
///     h.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct Runtime {
    handle: Handle,
    pub(super) threads: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.handle.shared.remotes.len())
            .finish()
    }
}

impl Runtime {
    /// A runtime whose worker threads the builder has yet to start.
    pub(super) fn new_unstarted(handle: Handle) -> Runtime {
        Runtime {
            handle,
            threads: Vec::new(),
        }
    }

    /// A multi-threaded runtime with one worker per available core.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// # drop(rt);
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `future` to completion on the current thread, returning its
    /// output. Tasks it spawns run on the worker threads (or, for the
    /// current-thread flavour, on this thread while `block_on` runs).
    ///
    /// # Panics
    /// If called from a thread that is already running a runtime (a worker
    /// thread or another `block_on`): that would block the runtime. Await the
    /// future instead, or use [`spawn_blocking`](crate::spawn_blocking).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// assert_eq!(rt.block_on(async { "done" }), "done");
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _guard = context::enter_runtime(self.handle.clone());
        match self.handle.shared.flavor {
            Flavor::MultiThread => block_on_parked(future),
            Flavor::CurrentThread => block_on_current_thread(&self.handle.shared, future),
        }
    }

    /// Spawns a task on this runtime (from any thread).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let h = rt.spawn(async { 7 });
    /// assert_eq!(rt.block_on(h).unwrap(), 7);
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on the blocking pool of this runtime.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let h = rt.spawn_blocking(|| std::fs::metadata("/").is_ok());
    /// assert!(rt.block_on(h).unwrap());
    /// ```
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A cloneable handle to this runtime.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// std::thread::spawn(move || handle.spawn(async {})).join().unwrap();
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// A snapshot of the runtime's counters.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async { runtime::spawn(async {}).await.unwrap() });
    /// assert!(rt.metrics().tasks_spawned >= 1);
    /// ```
    pub fn metrics(&self) -> crate::RuntimeMetrics {
        self.handle.metrics()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let shared = &self.handle.shared;
        shared.shutdown.store(true, Ordering::SeqCst);
        for remote in shared.remotes.iter() {
            remote.unparker.unpark();
        }
        let me = std::thread::current().id();
        for thread in self.threads.drain(..) {
            // A runtime dropped from one of its own workers cannot join itself.
            if thread.thread().id() != me {
                let _ = thread.join();
            }
        }
        // Destructors of cancelled tasks may look for the runtime (to
        // deregister a socket, or even to spawn): keep it current meanwhile.
        let _guard = context::enter_handle(self.handle.clone());
        let cores = std::mem::take(&mut *lock(&shared.cores));
        for mut core in cores {
            WorkerContext::drain(&mut core);
        }
        shared.owned.close_and_shutdown_all();
        drop(shared.inject.close());
        shared.blocking.shutdown();
        shared.reactor.shutdown();
        // The reactor's shutdown wakes I/O waiters; anything still alive is
        // cancelled now.
        shared.owned.close_and_shutdown_all();
        drop(shared.inject.close());
    }
}
