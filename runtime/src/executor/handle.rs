//! `Handle`: a cloneable reference to a runtime, and `EnterGuard`.

use std::future::Future;
use std::sync::Arc;

use super::block_on::block_on_parked;
use super::current_thread::block_on_current_thread;
use super::{Flavor, Shared};
use crate::context;
use crate::JoinHandle;

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
        f.debug_struct("Handle")
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
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
    #[track_caller]
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

    /// Runs `future` to completion on the current thread, like
    /// [`Runtime::block_on`](crate::Runtime::block_on), from anywhere a handle
    /// reaches (a plain thread, a `spawn_blocking` closure).
    ///
    /// # Panics
    /// If called from a thread that is already running a runtime (a worker
    /// thread, or inside another `block_on`).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// let out = std::thread::spawn(move || {
    ///     handle.block_on(async { runtime::spawn(async { 6 * 7 }).await.unwrap() })
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(out, 42);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _guard = context::enter_runtime(self.clone());
        match self.shared.flavor {
            Flavor::MultiThread => block_on_parked(&self.shared, future),
            Flavor::CurrentThread => block_on_current_thread(&self.shared, future),
        }
    }

    /// The runtime's name, if [`Builder::name`](crate::Builder::name) gave it one.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// assert_eq!(rt.handle().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.shared.name.as_deref()
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

    /// Runs one of the runtime's own closures on the blocking pool, without
    /// a task (see `BlockingPool::spawn_call`).
    #[cfg(feature = "net")]
    pub(crate) fn spawn_blocking_call(&self, f: Box<dyn FnOnce() + Send>) {
        self.shared.blocking.spawn_call(self, f);
    }

    /// Makes this runtime the current one for this thread until the guard is
    /// dropped, so that `runtime::spawn`, timers and sockets can be used from
    /// plain threads.
    ///
    /// Guards must be dropped in the reverse order of their creation; dropping
    /// an outer guard while an inner one lives panics (it would leave a
    /// runtime current that no live guard stands for).
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
        self.shared.metrics()
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
    is_send_sync::<super::Runtime>();
};

/// Lets executor-agnostic code (`futures::task::SpawnExt`, libraries taking
/// `impl Spawn`) spawn onto this runtime. Spawning after shutdown fails with
/// [`SpawnError::shutdown`](futures_task::SpawnError::shutdown).
///
/// ```
/// use futures_task::{FutureObj, Spawn};
/// let rt = runtime::Runtime::new().unwrap();
/// let (tx, rx) = std::sync::mpsc::channel();
/// rt.handle()
///     .spawn_obj(FutureObj::new(Box::new(async move { tx.send(5).unwrap() })))
///     .unwrap();
/// assert_eq!(rx.recv().unwrap(), 5);
/// ```
impl futures_task::Spawn for Handle {
    // `inline`: compiled (with the task code for a `FutureObj`) only in the
    // crates that spawn through `Spawn`, as a generic `spawn` call would be,
    // not in every build of the runtime.
    #[inline]
    fn spawn_obj(
        &self,
        future: futures_task::FutureObj<'static, ()>,
    ) -> Result<(), futures_task::SpawnError> {
        self.status()?;
        // Detached, like a dropped `JoinHandle`: `Spawn` has no handle to give.
        drop(self.spawn(future));
        Ok(())
    }

    fn status(&self) -> Result<(), futures_task::SpawnError> {
        if self.shared.is_shutdown() {
            return Err(futures_task::SpawnError::shutdown());
        }
        Ok(())
    }
}
