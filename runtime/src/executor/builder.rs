//! Configuring a runtime, and starting its threads.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::blocking::BlockingPool;
use super::idle::Idle;
use super::inject::Inject;
use super::owned::OwnedTasks;
use super::shared::WorkerExits;
use super::threads::{ThreadConfig, ThreadName};
use super::worker::{self, Core, WorkerContext};
use super::{park, Flavor, Handle, Remote, Runtime, Shared};
use crate::context;
use crate::metrics::WorkerMetrics;
use crate::primitives::{lock, AtomicBool, Mutex};
use crate::reactor::Reactor;

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
    threads: ThreadConfig,
    name: Option<String>,
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
            threads: ThreadConfig {
                name: ThreadName::Fixed("runtime-worker".into()),
                stack_size: None,
                on_start: None,
                on_stop: None,
            },
            name: None,
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
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
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
    #[track_caller]
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
    #[track_caller]
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
        self.threads.name = ThreadName::Fixed(name.into());
        self
    }

    /// Names each new thread (worker or blocking-pool) with what `f` returns,
    /// instead of a fixed [`thread_name`](Self::thread_name).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// let rt = runtime::Builder::new()
    ///     .worker_threads(1)
    ///     .thread_name_fn(|| {
    ///         static N: AtomicUsize = AtomicUsize::new(0);
    ///         format!("pool-{}", N.fetch_add(1, Ordering::Relaxed))
    ///     })
    ///     .build()
    ///     .unwrap();
    /// let name = rt.block_on(async {
    ///     runtime::spawn(async { std::thread::current().name().map(String::from) }).await.unwrap()
    /// });
    /// assert_eq!(name.as_deref(), Some("pool-0"));
    /// ```
    pub fn thread_name_fn<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() -> String + Send + Sync + 'static,
    {
        self.threads.name = ThreadName::Fn(Arc::new(f));
        self
    }

    /// Runs `f` on each runtime thread (worker or blocking-pool) when it
    /// starts, before it runs any task.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let s = started.clone();
    /// let rt = runtime::Builder::new()
    ///     .worker_threads(2)
    ///     .on_thread_start(move || { s.fetch_add(1, Ordering::SeqCst); })
    ///     .build()
    ///     .unwrap();
    /// drop(rt); // joins the workers
    /// assert_eq!(started.load(Ordering::SeqCst), 2);
    /// ```
    pub fn on_thread_start<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.threads.on_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on each runtime thread (worker or blocking-pool) just before
    /// it exits.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let stopped = Arc::new(AtomicUsize::new(0));
    /// let s = stopped.clone();
    /// let rt = runtime::Builder::new()
    ///     .worker_threads(2)
    ///     .on_thread_stop(move || { s.fetch_add(1, Ordering::SeqCst); })
    ///     .build()
    ///     .unwrap();
    /// drop(rt); // joins the workers
    /// assert_eq!(stopped.load(Ordering::SeqCst), 2);
    /// ```
    pub fn on_thread_stop<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.threads.on_stop = Some(Arc::new(f));
        self
    }

    /// A name for the runtime, shown by its `Debug` output and returned by
    /// [`Handle::name`](crate::Handle::name).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().name("ingest").build().unwrap();
    /// assert_eq!(rt.handle().name(), Some("ingest"));
    /// ```
    pub fn name(&mut self, name: impl Into<String>) -> &mut Self {
        self.name = Some(name.into());
        self
    }

    /// Stack size of the runtime's threads (default: the platform's).
    ///
    /// ```
    /// let rt = runtime::Builder::new().thread_stack_size(4 << 20).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.threads.stack_size = Some(bytes);
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
        let handoff = Arc::new(park::Handoff::default());
        for index in 0..workers {
            let (steal, local) = worker::new_queue();
            let (parker, unparker) = park::pair(Some(reactor.clone()), handoff.clone());
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
                self.threads.clone(),
            ),
            cores: Mutex::new(Vec::new()),
            core_waiters: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
            exited: WorkerExits::default(),
            name: self.name.clone(),
            threads: self.threads.clone(),
            extra_threads: crate::primitives::plain::Mutex::new(Vec::new()),
            flavor: self.flavor,
            #[cfg(feature = "test-util")]
            block_on_busy: Arc::default(),
        });
        #[cfg(feature = "test-util")]
        shared.attach_clock(self.start_paused);
        let handle = Handle { shared };
        let mut runtime = Runtime::new_unstarted(handle.clone());
        match self.flavor {
            Flavor::CurrentThread => *lock(&handle.shared.cores) = cores,
            Flavor::MultiThread => {
                for core in cores {
                    let h = handle.clone();
                    let thread = self
                        .threads
                        .spawn(false, move || run_worker_thread(h, core))
                        .map_err(|e| crate::sys::context(e, "spawning a worker thread"))?;
                    // On error, `runtime` is dropped and shuts the others down.
                    runtime.threads.push(thread);
                }
            }
        }
        Ok(runtime)
    }
}

pub(super) fn run_worker_thread(handle: Handle, core: Box<Core>) {
    let _runtime = context::enter_runtime(handle.clone());
    let cx = WorkerContext::new(handle.shared.clone(), None);
    let _worker = context::enter_worker(&cx);
    if let Some(mut core) = cx.run(core) {
        WorkerContext::drain(&mut core);
    }
    drop(_worker);
    handle.shared.exited.one_more();
}
