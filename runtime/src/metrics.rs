//! Runtime counters: the public snapshot, and the per-worker atomics it is
//! summed from. At crate level because the reactor counts too.

use crate::primitives::AtomicU64;

/// Whether counters are kept: always, except in the `--cfg runtime_no_metrics`
/// build that exists only to measure what keeping them costs.
pub(crate) const METRICS: bool = !cfg!(runtime_no_metrics);

/// Per-worker counters, published by the worker now and then (see
/// `WorkerStats` in `executor/worker.rs`).
#[derive(Default)]
pub(crate) struct WorkerMetrics {
    pub(crate) polls: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) parks: AtomicU64,
}

/// A snapshot of a runtime's counters, from [`Runtime::metrics`](crate::Runtime::metrics).
///
/// Workers keep their counters in plain integers and publish them every few
/// dozen tasks and whenever they go to sleep, so reading is cheap and costs
/// the workers nothing; a snapshot may lag a busy worker by a few dozen polls.
///
/// ```
/// let rt = runtime::Builder::new().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     for _ in 0..10 {
///         runtime::spawn(async {}).await.unwrap();
///     }
/// });
/// let m = rt.metrics();
/// assert_eq!(m.workers, 2);
/// assert_eq!(m.tasks_spawned, 10);
/// assert_eq!(m.tasks_alive, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Worker threads (1 for the current-thread flavour).
    pub workers: usize,
    /// Tasks ever spawned (not counting `spawn_blocking`).
    pub tasks_spawned: u64,
    /// Tasks spawned and not yet finished.
    pub tasks_alive: usize,
    /// Task polls.
    pub polls: u64,
    /// Successful steals (each moves up to half a queue).
    pub steals: u64,
    /// Times a worker went to sleep.
    pub parks: u64,
    /// Tasks in the global inject queue.
    pub global_queue_depth: usize,
    /// Tasks in each worker's local queue.
    pub local_queue_depths: Vec<usize>,
    /// Workers currently looking for work to steal.
    pub searching_workers: usize,
    /// Calls to `epoll_wait`.
    pub epoll_waits: u64,
    /// Events returned by `epoll_wait`, in total (divide by `epoll_waits` for
    /// events per wait).
    pub epoll_events: u64,
    /// Pending timers.
    pub timers_pending: usize,
    /// File descriptors registered with the reactor.
    pub io_sources: usize,
    /// Threads in the blocking pool.
    pub blocking_threads: usize,
    /// Closures waiting for a blocking-pool thread.
    pub blocking_queue_depth: usize,
}
