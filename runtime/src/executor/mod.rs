//! The executor: a multithreaded, work-stealing scheduler (and its
//! single-threaded flavour), the blocking pool, and the public `Runtime`,
//! `Builder` and `Handle`.
//!
//! ```text
//!   spawn / wake from outside            spawn / wake on a worker
//!              |                                   |
//!              v                                   v
//!      +---------------+        +------------------------------------+
//!      | inject queue  | -----> | worker 0: LIFO slot + local queue  | <--+
//!      | (mutex+deque) |        +------------------------------------+    | steal half
//!      +---------------+        | worker 1: LIFO slot + local queue  | ---+
//!                               +------------------------------------+
//!                                  | idle: one parked worker holds the
//!                                  v driver and sleeps in epoll_wait
//!                               +-------------------------------+
//!                               | reactor: epoll, timers, slab  |
//!                               +-------------------------------+
//! ```
//!
//! Module map: `worker` (the loop), `queue` (local ring), `inject` (global
//! queue), `idle` (who sleeps, who searches), `park` (sleeping), `owned` (all
//! live tasks, for shutdown), `blocking` (the blocking pool), `coop` (the
//! per-poll budget), `context` (thread-locals).

pub(crate) mod blocking;
pub(crate) mod context;
pub(crate) mod coop;
pub(crate) mod idle;
pub(crate) mod inject;
pub(crate) mod owned;
pub(crate) mod park;
pub(crate) mod queue;
pub(crate) mod worker;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::atomic::AtomicU64 as StdAtomicU64;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::reactor::Reactor;
// The executor's shared state is reached through `std`'s `Arc` even under
// loom: loom models cover the lock-free pieces (queue, task state, parking,
// readiness), not whole runtimes.
use crate::sync::{lock, AtomicBool, AtomicU64, Mutex, Ordering};
use crate::task::raw::{new_task, Notified, RawTask, Schedule};
use crate::JoinHandle;
use blocking::BlockingPool;
use idle::Idle;
use inject::Inject;
use owned::OwnedTasks;
use park::Unparker;
use std::sync::Arc;
use worker::{Core, WorkerContext};

static NEXT_TASK_ID: StdAtomicU64 = StdAtomicU64::new(1);

pub(crate) fn next_task_id() -> u64 {
    NEXT_TASK_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    MultiThread,
    CurrentThread,
}

/// Per-worker counters, published by the worker (see `WorkerStats`).
#[derive(Default)]
pub(crate) struct WorkerMetrics {
    pub(crate) polls: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) parks: AtomicU64,
}

/// What other threads may touch of a worker.
pub(crate) struct Remote {
    pub(crate) steal: queue::Steal,
    pub(crate) unparker: Unparker,
    pub(crate) metrics: WorkerMetrics,
}

/// Everything the threads of one runtime share.
pub(crate) struct Shared {
    pub(crate) remotes: Box<[Remote]>,
    pub(crate) inject: Inject,
    pub(crate) idle: Idle,
    pub(crate) owned: OwnedTasks,
    pub(crate) reactor: Arc<Reactor>,
    blocking: BlockingPool,
    /// Cores not currently owned by a thread (a current-thread runtime's core
    /// between `block_on` calls).
    #[allow(clippy::vec_box)] // cores move between threads by pointer
    cores: Mutex<Vec<Box<Core>>>,
    /// `block_on` callers waiting for the current-thread core.
    core_waiters: Mutex<Vec<Waker>>,
    shutdown: AtomicBool,
    flavor: Flavor,
    /// `test-util`: multi-thread `block_on` callers running their future or
    /// with a wake-up pending; the paused clock waits for them (`is_idle`).
    #[cfg(feature = "test-util")]
    block_on_busy: Arc<std::sync::atomic::AtomicUsize>,
}

impl Shared {
    /// Every worker parked, no blocking closure queued or running, no
    /// `block_on` caller running: the paused clock may jump to the next timer
    /// (see `attach_clock`).
    #[cfg(feature = "test-util")]
    pub(crate) fn is_idle(&self) -> bool {
        self.idle.all_parked()
            && self.blocking.is_idle()
            && self.block_on_busy.load(Ordering::SeqCst) == 0
    }

    /// Hooks the new runtime's clock up (`test-util`): how its timers learn
    /// that the runtime is idle (auto-advance), and `Builder::start_paused`.
    #[cfg(feature = "test-util")]
    fn attach_clock(self: &Arc<Self>, start_paused: bool) {
        let weak = Arc::downgrade(self);
        let timers = &self.reactor.timers;
        // A runtime being dropped runs nothing any more: idle.
        timers.set_idle_probe(Box::new(move || weak.upgrade().is_none_or(|s| s.is_idle())));
        if start_paused {
            timers.clock().pause();
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    // ANCHOR: schedule_task
    /// Queues a woken or new task: on this worker if we are on one of ours,
    /// otherwise on the inject queue (waking a worker for it).
    fn schedule_task(self: &Arc<Self>, task: Notified, is_yield: bool) {
        let task = context::with_worker(|cx| match cx {
            Some(cx) if std::ptr::eq(Arc::as_ptr(&cx.shared), Arc::as_ptr(self)) => {
                cx.schedule_local(task, is_yield).err()
            }
            _ => Some(task),
        });
        if let Some(task) = task {
            self.inject.push(task);
            self.notify_parked();
        }
    }
    // ANCHOR_END: schedule_task

    /// Wakes one sleeping worker if there is one and nobody is searching.
    pub(crate) fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.remotes[index].unparker.unpark();
        }
    }

    /// Called by the last searcher going to sleep (see idle.rs).
    pub(crate) fn notify_if_work_pending(&self) {
        let pending = self.remotes.iter().any(|r| !r.steal.is_empty()) || !self.inject.is_empty();
        if pending {
            self.notify_parked();
        }
    }

    fn spawn<F>(self: &Arc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, notified, join) = new_task(future, self.clone(), next_task_id());
        if let Some(notified) = self.owned.bind(task, notified) {
            self.schedule_task(notified, false);
        }
        join
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Notified) {
        self.schedule_task(task, false);
    }

    fn yield_now(&self, task: Notified) {
        self.schedule_task(task, true);
    }

    fn release(&self, task: RawTask) -> bool {
        self.owned.remove(task)
    }
}

// ----- Builder ---------------------------------------------------------------

/// Configures and builds a [`Runtime`].
///
/// ```
/// let rt = runtime::Builder::new()
///     .worker_threads(2)
///     .thread_name("my-worker")
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    flavor: Flavor,
    worker_threads: Option<usize>,
    max_blocking_threads: usize,
    keep_alive: Duration,
    thread_name: String,
    stack_size: Option<usize>,
    #[cfg(feature = "test-util")]
    start_paused: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A multi-threaded, work-stealing runtime with one worker per core.
    ///
    /// ```
    /// let rt = runtime::Builder::new().build().unwrap();
    /// rt.block_on(async {});
    /// ```
    pub fn new() -> Builder {
        Builder {
            flavor: Flavor::MultiThread,
            worker_threads: None,
            max_blocking_threads: 512,
            keep_alive: Duration::from_secs(10),
            thread_name: "runtime-worker".into(),
            stack_size: None,
            #[cfg(feature = "test-util")]
            start_paused: false,
        }
    }

    /// Starts the runtime with its clock paused (`test-util` feature): see
    /// [`time::pause`](crate::time::pause).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build().unwrap();
    /// rt.block_on(async {
    ///     let t = runtime::time::now();
    ///     runtime::time::sleep(std::time::Duration::from_secs(600)).await;
    ///     assert_eq!(runtime::time::now() - t, std::time::Duration::from_secs(600));
    /// });
    /// ```
    #[cfg(feature = "test-util")]
    pub fn start_paused(&mut self, paused: bool) -> &mut Self {
        self.start_paused = paused;
        self
    }

    /// A single-threaded runtime: tasks run on the thread that calls
    /// [`Runtime::block_on`], interleaved with the `block_on` future. For
    /// tests and tiny tools; spawned tasks still need to be `Send`.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build().unwrap();
    /// let caller = std::thread::current().id();
    /// let ran_on = rt.block_on(async { runtime::spawn(async { std::thread::current().id() }).await });
    /// assert_eq!(ran_on.unwrap(), caller);
    /// ```
    pub fn new_current_thread() -> Builder {
        Builder {
            flavor: Flavor::CurrentThread,
            ..Builder::new()
        }
    }

    /// Number of worker threads (multi-threaded flavour). Defaults to the
    /// number of available cores.
    ///
    /// # Panics
    /// If `n` is zero.
    ///
    /// ```
    /// let rt = runtime::Builder::new().worker_threads(3).build().unwrap();
    /// assert_eq!(rt.metrics().workers, 3);
    /// ```
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        assert!(n > 0, "worker_threads must be at least 1");
        self.worker_threads = Some(n);
        self
    }

    /// Upper bound on threads of the blocking pool (default 512).
    ///
    /// ```
    /// let rt = runtime::Builder::new().max_blocking_threads(4).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        assert!(n > 0, "max_blocking_threads must be at least 1");
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking-pool thread waits for work before exiting
    /// (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new().thread_keep_alive(Duration::from_secs(1)).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn thread_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.keep_alive = d;
        self
    }

    /// Name given to the runtime's threads (default `runtime-worker`).
    ///
    /// ```
    /// let rt = runtime::Builder::new().thread_name("svc").build().unwrap();
    /// let name = rt.block_on(async {
    ///     runtime::spawn(async { std::thread::current().name().map(String::from) }).await.unwrap()
    /// });
    /// assert_eq!(name.as_deref(), Some("svc"));
    /// ```
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// Stack size of the runtime's threads (default: the platform's).
    ///
    /// ```
    /// let rt = runtime::Builder::new().thread_stack_size(4 << 20).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Creates the runtime: the epoll instance, and the worker threads
    /// (multi-threaded flavour).
    ///
    /// ```
    /// let rt = runtime::Builder::new().build().expect("could not start the runtime");
    /// # drop(rt);
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        let workers = match self.flavor {
            Flavor::CurrentThread => 1,
            Flavor::MultiThread => self.worker_threads.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            }),
        };
        let reactor = Arc::new(Reactor::new()?);
        let mut remotes = Vec::with_capacity(workers);
        let mut cores = Vec::with_capacity(workers);
        for index in 0..workers {
            let (steal, local) = worker::new_queue();
            let (parker, unparker) = park::pair(Some(reactor.clone()));
            remotes.push(Remote {
                steal,
                unparker,
                metrics: WorkerMetrics::default(),
            });
            cores.push(Core::new(index, local, parker));
        }
        let shared = Arc::new(Shared {
            remotes: remotes.into_boxed_slice(),
            inject: Inject::new(),
            idle: Idle::new(workers),
            owned: OwnedTasks::new(workers),
            reactor,
            blocking: BlockingPool::new(
                self.max_blocking_threads,
                self.keep_alive,
                format!("{}-blocking", self.thread_name),
                self.stack_size,
            ),
            cores: Mutex::new(Vec::new()),
            core_waiters: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
            flavor: self.flavor,
            #[cfg(feature = "test-util")]
            block_on_busy: Arc::default(),
        });
        #[cfg(feature = "test-util")]
        shared.attach_clock(self.start_paused);
        let handle = Handle { shared };
        let mut runtime = Runtime {
            handle: handle.clone(),
            threads: Vec::new(),
        };
        match self.flavor {
            Flavor::CurrentThread => *lock(&handle.shared.cores) = cores,
            Flavor::MultiThread => {
                for core in cores {
                    let mut builder = std::thread::Builder::new().name(self.thread_name.clone());
                    if let Some(size) = self.stack_size {
                        builder = builder.stack_size(size);
                    }
                    let h = handle.clone();
                    let thread = builder
                        .spawn(move || run_worker_thread(h, core))
                        .map_err(|e| crate::sys::context(e, "spawning a worker thread"))?;
                    // On error, `runtime` is dropped and shuts the others down.
                    runtime.threads.push(thread);
                }
            }
        }
        Ok(runtime)
    }
}

fn run_worker_thread(handle: Handle, core: Box<Core>) {
    let _runtime = context::enter_runtime(handle.clone());
    let cx = WorkerContext::new(handle.shared.clone(), None);
    let _worker = context::enter_worker(&cx);
    let mut core = cx.run(core);
    WorkerContext::drain(&mut core);
}

// ----- Runtime ---------------------------------------------------------------

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
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.handle.shared.remotes.len())
            .finish()
    }
}

impl Runtime {
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
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _guard = context::enter_runtime(self.handle.clone());
        match self.handle.shared.flavor {
            Flavor::MultiThread => block_on_parked(&self.handle.shared, future),
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
        // Wake `block_on` callers waiting for the core (they hold `&self`, so
        // there are none, but stay robust).
        for w in lock(&shared.core_waiters).drain(..) {
            w.wake();
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

// ----- block_on ----------------------------------------------------------------

/// Wakes a thread blocked in `block_on` (a condvar, not `thread::park`, so
/// that user code calling `thread::park` on this thread can't eat our wake-up).
struct ThreadWaker {
    woken: std::sync::Mutex<bool>,
    condvar: std::sync::Condvar,
    /// `test-util`: `Shared::block_on_busy`, which counts this caller while it
    /// runs its future (+1 from `block_on_parked`, -1 in `wait`) or has a
    /// wake-up pending (+1 when `woken` goes from false to true). Both change
    /// under the `woken` lock, so a woken caller is counted before the waker
    /// returns: a worker parking right after cannot auto-advance past it.
    #[cfg(feature = "test-util")]
    busy: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

impl Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        let mut woken = self.woken.lock().unwrap_or_else(|p| p.into_inner());
        #[cfg(feature = "test-util")]
        if let (false, Some(busy)) = (*woken, &self.busy) {
            busy.fetch_add(1, Ordering::SeqCst);
        }
        *woken = true;
        drop(woken);
        self.condvar.notify_one();
    }
}

impl ThreadWaker {
    fn new(
        #[cfg(feature = "test-util")] busy: Option<Arc<std::sync::atomic::AtomicUsize>>,
    ) -> Self {
        #[cfg(feature = "test-util")]
        if let Some(busy) = &busy {
            busy.fetch_add(1, Ordering::SeqCst); // running its future
        }
        ThreadWaker {
            woken: std::sync::Mutex::new(false),
            condvar: std::sync::Condvar::new(),
            #[cfg(feature = "test-util")]
            busy,
        }
    }

    fn wait(&self) {
        let mut woken = self.woken.lock().unwrap_or_else(|p| p.into_inner());
        #[cfg(feature = "test-util")]
        if let Some(busy) = &self.busy {
            // No longer running; a wake-up's count (taken or to come) replaces it.
            busy.fetch_sub(1, Ordering::SeqCst);
        }
        while !*woken {
            woken = self.condvar.wait(woken).unwrap_or_else(|p| p.into_inner());
        }
        *woken = false;
    }
}

/// `block_on` for the multi-threaded flavour: poll, sleep until woken, repeat.
fn block_on_parked<F: Future>(shared: &Shared, future: F) -> F::Output {
    coop::unconstrained();
    let parker = std::sync::Arc::new(ThreadWaker::new(
        #[cfg(feature = "test-util")]
        Some(shared.block_on_busy.clone()),
    ));
    #[cfg(not(feature = "test-util"))]
    let _ = shared;
    #[cfg(feature = "test-util")]
    let _done = BlockOnDone(&parker);
    let waker = Waker::from(parker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        parker.wait();
    }
}

/// `test-util`: when `block_on` returns (or unwinds), uncounts the caller and
/// any pending wake-up, and leaves `woken` set so that later wake-ups of a
/// stored clone of the waker count nothing.
#[cfg(feature = "test-util")]
struct BlockOnDone<'a>(&'a ThreadWaker);

#[cfg(feature = "test-util")]
impl Drop for BlockOnDone<'_> {
    fn drop(&mut self) {
        let mut woken = self.0.woken.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(busy) = &self.0.busy {
            let pending = usize::from(*woken);
            busy.fetch_sub(1 + pending, Ordering::SeqCst);
        }
        *woken = true;
    }
}

/// Wakes the current-thread `block_on` future: sets a flag and unparks the
/// (only) worker, which is this thread, wherever it sleeps.
struct MainWaker {
    woken: std::sync::atomic::AtomicBool,
    unparker: Unparker,
}

impl Wake for MainWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.store(true, std::sync::atomic::Ordering::SeqCst);
        self.unparker.unpark();
    }
}

/// Puts the core back for the next `block_on` when dropped (also on unwind).
struct CoreReturn<'a> {
    shared: &'a Arc<Shared>,
    cx: &'a WorkerContext,
}

impl Drop for CoreReturn<'_> {
    fn drop(&mut self) {
        if let Some(core) = self.cx.core.borrow_mut().take() {
            lock(&self.shared.cores).push(core);
        }
        for w in lock(&self.shared.core_waiters).drain(..) {
            w.wake();
        }
    }
}

/// `block_on` for the current-thread flavour: this thread is the worker; it
/// alternates between the future and the run queue, and sleeps in the reactor.
fn block_on_current_thread<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    let mut future = pin!(future);
    loop {
        let core = lock(&shared.cores).pop();
        let Some(core) = core else {
            // Another thread is running this runtime's `block_on`: wait for our
            // future or for the core, whichever comes first.
            coop::unconstrained();
            let parker = std::sync::Arc::new(ThreadWaker::new(
                #[cfg(feature = "test-util")]
                None,
            ));
            let waker = Waker::from(parker.clone());
            lock(&shared.core_waiters).push(waker.clone());
            if lock(&shared.cores).is_empty() {
                if let Poll::Ready(out) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
                    return out;
                }
                parker.wait();
            }
            continue;
        };
        let main = std::sync::Arc::new(MainWaker {
            woken: std::sync::atomic::AtomicBool::new(true),
            unparker: shared.remotes[0].unparker.clone(),
        });
        let waker = Waker::from(main.clone());
        let cx = WorkerContext::new(shared.clone(), Some(core));
        let _worker = context::enter_worker(&cx);
        let _return = CoreReturn { shared, cx: &cx };
        let is_woken = || main.woken.load(std::sync::atomic::Ordering::SeqCst);
        loop {
            if main.woken.swap(false, std::sync::atomic::Ordering::SeqCst) {
                coop::reset_budget();
                if let Poll::Ready(out) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
                    return out;
                }
            }
            let mut core = match cx.core.borrow_mut().take() {
                Some(core) => core,
                None => unreachable!("current-thread core missing"),
            };
            let mut worked = true;
            for _ in 0..worker::EVENT_INTERVAL {
                let (c, w) = cx.step(core);
                core = c;
                worked = w;
                if !worked || is_woken() {
                    break;
                }
            }
            if !worked && !is_woken() {
                core = cx.park(core, &is_woken);
            }
            *cx.core.borrow_mut() = Some(core);
        }
    }
}

// ----- Handle ----------------------------------------------------------------

/// A cloneable reference to a runtime, usable from any thread.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let h = std::thread::spawn(move || handle.spawn(async { 5 })).join().unwrap();
/// assert_eq!(rt.block_on(h).unwrap(), 5);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl Handle {
    /// The runtime of the current thread.
    ///
    /// # Panics
    /// Outside a runtime context; see [`Handle::try_current`].
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let handle = runtime::Handle::current();
    ///     handle.spawn(async {}).await.unwrap();
    /// });
    /// ```
    pub fn current() -> Handle {
        context::with_current("Handle::current", |h| h.clone())
    }

    /// The runtime of the current thread, or `None` outside one.
    ///
    /// ```
    /// assert!(runtime::Handle::try_current().is_none());
    /// ```
    pub fn try_current() -> Option<Handle> {
        context::try_current()
    }

    /// Spawns a task on this runtime.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let h = rt.handle().spawn(async { 1 });
    /// assert_eq!(rt.block_on(h).unwrap(), 1);
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future)
    }

    /// Runs a blocking closure on this runtime's blocking pool.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let h = rt.handle().spawn_blocking(|| 2 + 2);
    /// assert_eq!(rt.block_on(h).unwrap(), 4);
    /// ```
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared.blocking.spawn(self, f)
    }

    /// Makes this runtime the current one for this thread until the guard is
    /// dropped, so that `runtime::spawn`, timers and sockets can be used from
    /// plain threads.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let _guard = rt.handle().enter();
    /// let h = runtime::spawn(async { 3 });
    /// assert_eq!(rt.block_on(h).unwrap(), 3);
    /// ```
    pub fn enter(&self) -> EnterGuard {
        EnterGuard {
            _inner: context::enter_handle(self.clone()),
        }
    }

    /// A snapshot of the runtime's counters.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// assert_eq!(rt.handle().metrics().workers, rt.metrics().workers);
    /// ```
    pub fn metrics(&self) -> crate::RuntimeMetrics {
        let s = &*self.shared;
        let (tasks_alive, tasks_spawned) = s.owned.counts();
        let sum = |f: fn(&WorkerMetrics) -> &AtomicU64| {
            s.remotes
                .iter()
                .map(|r| f(&r.metrics).load(Ordering::Relaxed))
                .sum::<u64>()
        };
        crate::RuntimeMetrics {
            workers: s.remotes.len(),
            tasks_spawned,
            tasks_alive,
            polls: sum(|m| &m.polls),
            steals: sum(|m| &m.steals),
            parks: sum(|m| &m.parks),
            global_queue_depth: s.inject.len(),
            local_queue_depths: s.remotes.iter().map(|r| r.steal.len()).collect(),
            searching_workers: s.idle.num_searching(),
            epoll_waits: s.reactor.stats.waits.load(Ordering::Relaxed),
            epoll_events: s.reactor.stats.events.load(Ordering::Relaxed),
            timers_pending: s.reactor.timers.len(),
            io_sources: s.reactor.registered_sources(),
            blocking_threads: s.blocking.num_threads(),
            blocking_queue_depth: s.blocking.queue_depth(),
        }
    }
}

/// Returned by [`Handle::enter`]; leaves the runtime context when dropped.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// {
///     let _guard = rt.handle().enter();
///     assert!(runtime::Handle::try_current().is_some());
/// }
/// assert!(runtime::Handle::try_current().is_none());
/// ```
#[derive(Debug)]
#[must_use = "the runtime is only current while the guard lives"]
pub struct EnterGuard {
    _inner: context::HandleGuard,
}

impl std::fmt::Debug for context::HandleGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandleGuard")
    }
}

/// `Handle` and `Runtime` must stay shareable across threads: checked at compile time.
const _: () = {
    const fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<Handle>();
    is_send_sync::<Runtime>();
};
