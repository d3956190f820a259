//! The runtime itself: the owner of the threads, and shutdown on drop.

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use super::worker::WorkerContext;
use super::{Builder, Handle};
use crate::context;
use crate::primitives::{lock, Ordering};
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
    /// Set by the first shutdown (`shutdown_timeout`, then drop again).
    is_shut_down: bool,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("name", &self.handle.shared.name)
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
            is_shut_down: false,
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
        self.handle.block_on(future)
    }

    /// Shuts the runtime down without waiting more than `timeout` for its
    /// worker threads: tasks are cancelled as on drop, but a worker stuck in
    /// a long poll (blocking code in a task) is left behind, detached, to
    /// exit when that poll returns.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new().worker_threads(1).build().unwrap();
    /// // A task that blocks its worker for a while.
    /// rt.spawn(async { std::thread::sleep(Duration::from_millis(200)) });
    /// let start = std::time::Instant::now();
    /// rt.shutdown_timeout(Duration::from_millis(10));
    /// assert!(start.elapsed() < Duration::from_millis(200));
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    /// Shuts the runtime down without waiting for its worker threads at all:
    /// [`shutdown_timeout`](Self::shutdown_timeout) with a zero timeout. Useful
    /// from inside another runtime, where blocking is not allowed.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.shutdown_background();
    /// ```
    pub fn shutdown_background(self) {
        self.shutdown_timeout(Duration::ZERO);
    }

    /// The shutdown sequence; `wait: None` joins every worker thread.
    fn shutdown(&mut self, wait: Option<Duration>) {
        if self.is_shut_down {
            return;
        }
        self.is_shut_down = true;
        let shared = &self.handle.shared;
        shared.shutdown.store(true, Ordering::SeqCst);
        for remote in shared.remotes.iter() {
            remote.unparker.unpark();
        }
        let me = std::thread::current().id();
        if let Some(timeout) = wait {
            let deadline = Instant::now() + timeout;
            shared.exited.wait_for(self.threads.len(), deadline);
        }
        for thread in self.threads.drain(..) {
            // A runtime dropped from one of its own workers cannot join
            // itself; with a deadline, a worker still busy is detached.
            let detach = thread.thread().id() == me || (wait.is_some() && !thread.is_finished());
            if !detach {
                let _ = thread.join();
            }
        }
        // Workers started by `block_in_place`: same treatment. None is added
        // once they have all seen the shutdown flag, hence the loop.
        loop {
            let extra = std::mem::take(&mut *shared.extra_threads.lock());
            if extra.is_empty() {
                break;
            }
            for thread in extra {
                let detach =
                    thread.thread().id() == me || (wait.is_some() && !thread.is_finished());
                if !detach {
                    let _ = thread.join();
                }
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
        self.shutdown(None);
    }
}
