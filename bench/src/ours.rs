//! Our runtime behind the benchmarks' [`Rt`] trait.

use crate::rt::Rt;
use std::future::Future;
use std::time::Duration;

/// Our runtime (`runtime` crate).
pub struct Ours(runtime::Runtime);

impl Rt for Ours {
    type JoinHandle<T: Send + 'static> = runtime::JoinHandle<T>;
    type JoinError = runtime::JoinError;

    fn multi_thread(workers: usize) -> Self {
        Ours(
            runtime::Builder::new()
                .worker_threads(workers)
                .build()
                .expect("build our runtime"),
        )
    }
    fn current_thread() -> Self {
        Ours(
            runtime::Builder::new_current_thread()
                .build()
                .expect("build our runtime"),
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
        runtime::spawn(f)
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        runtime::task::yield_now()
    }
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        runtime::time::sleep(d)
    }
    async fn timeout<F>(d: Duration, f: F) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        runtime::time::timeout(d, f).await.ok()
    }
}
