//! The tiny abstraction that lets one benchmark body run on both runtimes, so "same code
//! shape" holds by construction: every executor and timer benchmark is written once, generic
//! over [`Rt`], and instantiated for [`Tokio`] and for our runtime ([`crate::ours::Ours`]).

use std::future::Future;
use std::time::Duration;

/// What the benchmarks need from a runtime. Each method maps to the obvious call of the
/// runtime's public API (nothing is re-implemented here).
pub trait Rt: Sized + 'static {
    /// The runtime's join handle.
    type JoinHandle<T: Send + 'static>: Future<Output = Result<T, Self::JoinError>> + Send + 'static;
    /// The runtime's join error.
    type JoinError: std::fmt::Debug;

    /// A multi-thread runtime with `workers` worker threads.
    fn multi_thread(workers: usize) -> Self;
    /// A current-thread runtime.
    fn current_thread() -> Self;
    /// Runs `f` to completion on this runtime, blocking the caller.
    fn block_on<F: Future>(&self, f: F) -> F::Output;
    /// Spawns onto this runtime from outside it (`rt.spawn`).
    fn spawn_on<F>(&self, f: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// Spawns onto the current runtime from inside it (`spawn`).
    fn spawn<F>(f: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// `task::yield_now()`.
    fn yield_now() -> impl Future<Output = ()> + Send;
    /// `time::sleep(d)`.
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;
    /// `time::timeout(d, f)`, `None` when it elapsed.
    fn timeout<F>(d: Duration, f: F) -> impl Future<Output = Option<F::Output>> + Send
    where
        F: Future + Send,
        F::Output: Send;
}

/// tokio, configured as its own benchmarks configure it (`enable_all`).
pub struct Tokio(tokio::runtime::Runtime);

impl Rt for Tokio {
    type JoinHandle<T: Send + 'static> = tokio::task::JoinHandle<T>;
    type JoinError = tokio::task::JoinError;

    fn multi_thread(workers: usize) -> Self {
        Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .expect("build tokio runtime"),
        )
    }
    fn current_thread() -> Self {
        Tokio(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("build tokio runtime"),
        )
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }
    fn spawn_on<F>(&self, f: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.spawn(f)
    }
    fn spawn<F>(f: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(f)
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }
    async fn timeout<F>(d: Duration, f: F) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        tokio::time::timeout(d, f).await.ok()
    }
}
