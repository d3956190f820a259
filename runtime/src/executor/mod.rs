//! The executor: a multithreaded, work-stealing scheduler (and its
//! single-threaded flavour), the blocking pool, and the public `Runtime`,
//! `Builder` and `Handle`.
//!
//! How the queues, workers and driver fit together is drawn once, in
//! `ARCHITECTURE.md` at the repository root.
//!
//! Module map, one idea per file: `shared` (what the threads of a runtime
//! share, and how a task is scheduled), `builder` (configuration and thread
//! start-up), `runtime` (the owner: `block_on`, `spawn`, shutdown on drop),
//! `handle` (the cloneable reference, and `EnterGuard`), `block_on` (the
//! multi-thread flavour's `block_on`), `current_thread` (the current-thread
//! flavour's `block_on`, which runs the worker loop itself), `worker` (the
//! loop), `queue` (local ring), `inject` (global queue), `idle` (who sleeps,
//! who searches), `park` (sleeping), `owned` (all live tasks, for shutdown),
//! `threads` (starting the runtime's threads: names, stack size, start/stop
//! hooks), `blocking` (the blocking pool), `block_in_place` (a worker's core
//! moves to a new thread while this one runs blocking code). The per-poll
//! budget (`crate::coop`), the thread-local context (`crate::context`) and the
//! counters (`crate::metrics`) live at crate level: the reactor and the task
//! harness use them too.

mod block_in_place;
mod block_on;
pub(crate) mod blocking;
mod builder;
mod current_thread;
mod handle;
pub(crate) mod idle;
pub(crate) mod inject;
pub(crate) mod owned;
pub(crate) mod park;
pub(crate) mod queue;
mod runtime;
mod shared;
mod threads;
pub(crate) mod worker;

use std::sync::atomic::AtomicU64;

pub use block_in_place::block_in_place;
pub use builder::Builder;
pub use handle::{EnterGuard, Handle};
pub use runtime::Runtime;
pub(crate) use shared::{Remote, Shared};

static NEXT_TASK_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_task_id() -> u64 {
    NEXT_TASK_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    MultiThread,
    CurrentThread,
}
