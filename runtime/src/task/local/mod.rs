//! `LocalSet`: tasks that are `!Send` (they hold an `Rc`, a `RefCell`, a
//! thread-bound handle) run on the one thread that drives the set,
//! interleaved with the runtime's other work.
//!
//! One idea per file:
//! - `ready.rs`: the thread-safe ready list and the tasks' `Send + Sync` wakers;
//! - `task.rs`: one task (its pinned future, polling, cancelling, panics);
//! - `join.rs`: `LocalJoinHandle` and the cell the result goes through;
//! - this file: the set itself, the thread's current set, and driving.

mod join;
mod ready;
mod task;
#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use slab::Slab;

use join::JoinCell;
pub use join::LocalJoinHandle;
pub(crate) use ready::TaskWaker;
use ready::{Ready, TaskRef};
use task::{LocalTask, Run};

/// Tasks polled per pass before the driver yields to the runtime's other
/// work: a set with always-ready tasks must not starve its worker.
const PASS_BUDGET: usize = 61;

/// A set of `!Send` tasks that run on the thread that drives it.
///
/// Spawn onto it with [`LocalSet::spawn_local`], or with the free
/// [`spawn_local`] from inside it. It runs its tasks while it is driven:
/// by [`run_until`](LocalSet::run_until) (or [`block_on`](LocalSet::block_on))
/// for as long as a given future runs, or awaited itself, until all its
/// tasks are done. Wakers of its tasks are `Send + Sync`: a timer, a socket
/// or another thread may wake them, and they are polled on the set's thread.
///
/// Dropping the set drops the futures of its unfinished tasks, on the
/// dropping thread (the set is `!Send`, so that is the thread it was made
/// on); their handles then report cancellation.
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let rt = runtime::Runtime::new().unwrap();
/// let local = runtime::task::LocalSet::new();
/// let log = Rc::new(RefCell::new(Vec::new()));
/// local.block_on(&rt, async {
///     let handles: Vec<_> = (0..3)
///         .map(|i| {
///             let log = Rc::clone(&log);
///             runtime::task::spawn_local(async move {
///                 runtime::task::yield_now().await;
///                 log.borrow_mut().push(i);
///             })
///         })
///         .collect();
///     for h in handles {
///         h.await.unwrap();
///     }
/// });
/// assert_eq!(log.borrow().len(), 3);
/// ```
///
/// The set and its tasks' handles stay on their thread:
///
/// ```compile_fail
/// let local = runtime::task::LocalSet::new();
/// std::thread::spawn(move || drop(local)); // `LocalSet` is `!Send`
/// ```
pub struct LocalSet {
    inner: Rc<Inner>,
}

struct Inner {
    tasks: RefCell<Slab<Entry>>,
    ready: Arc<Ready>,
}

struct Entry {
    id: u64,
    /// `None` while the task is being polled: the slab is not borrowed across
    /// a poll, so the task may spawn (or abort) other tasks.
    task: Option<Pin<Box<dyn Run>>>,
    waker: Arc<TaskWaker>,
}

thread_local! {
    /// The set this thread is driving, for the free `spawn_local`.
    static CURRENT: Cell<Option<Rc<Inner>>> = const { Cell::new(None) };
}

/// Makes `inner` the thread's current set until dropped, then restores the
/// previous one (sets may be nested).
struct Enter(Option<Rc<Inner>>);

fn enter(inner: &Rc<Inner>) -> Enter {
    Enter(CURRENT.with(|c| c.replace(Some(Rc::clone(inner)))))
}

impl Drop for Enter {
    fn drop(&mut self) {
        let previous = self.0.take();
        // During thread-local teardown there is nothing to restore.
        let _ = CURRENT.try_with(|c| c.set(previous));
    }
}

/// Spawns a `!Send` task onto the [`LocalSet`] this thread is driving. The
/// task runs on this thread when the set is next driven.
///
/// # Panics
/// Outside a `LocalSet` (that is, outside [`LocalSet::run_until`],
/// [`LocalSet::block_on`], an awaited `LocalSet` or one of its tasks).
///
/// ```
/// use std::rc::Rc;
///
/// let rt = runtime::Builder::new_current_thread().build().unwrap();
/// let local = runtime::task::LocalSet::new();
/// let n = local.block_on(&rt, async {
///     let not_send = Rc::new(21);
///     runtime::task::spawn_local(async move { *not_send * 2 }).await.unwrap()
/// });
/// assert_eq!(n, 42);
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> LocalJoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let current = CURRENT.with(|c| {
        let inner = c.take();
        let clone = inner.clone();
        c.set(inner);
        clone
    });
    match current {
        Some(inner) => inner.spawn(future),
        None => panic!(
            "runtime::task::spawn_local called outside a LocalSet: \
             run it inside LocalSet::run_until, LocalSet::block_on or a local task"
        ),
    }
}

impl LocalSet {
    /// An empty set.
    ///
    /// ```
    /// let local = runtime::task::LocalSet::new();
    /// assert!(local.is_empty());
    /// ```
    pub fn new() -> LocalSet {
        LocalSet {
            inner: Rc::new(Inner {
                tasks: RefCell::new(Slab::new()),
                ready: Arc::new(Ready::default()),
            }),
        }
    }

    /// Spawns a `!Send` task onto this set. It needs no runtime context: it
    /// runs when the set is next driven.
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let rt = runtime::Builder::new_current_thread().build().unwrap();
    /// let local = runtime::task::LocalSet::new();
    /// let name = Rc::new(String::from("local"));
    /// let handle = local.spawn_local(async move { name.len() });
    /// assert_eq!(local.block_on(&rt, handle).unwrap(), 5);
    /// ```
    pub fn spawn_local<F>(&self, future: F) -> LocalJoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.inner.spawn(future)
    }

    /// Runs `future` to completion and this set's tasks alongside it; returns
    /// the future's output (tasks still unfinished then stay in the set).
    /// Await it inside a runtime: it is `!Send`, so on the multi-threaded
    /// flavour use [`Runtime::block_on`](crate::Runtime::block_on) (or
    /// [`LocalSet::block_on`]), not `spawn`.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let local = runtime::task::LocalSet::new();
    /// let out = rt.block_on(local.run_until(async {
    ///     let h = runtime::task::spawn_local(async { "done" });
    ///     h.await.unwrap()
    /// }));
    /// assert_eq!(out, "done");
    /// ```
    pub fn run_until<F: Future>(&self, future: F) -> RunUntil<'_, F> {
        RunUntil {
            local: self,
            future,
        }
    }

    /// Blocks the thread on `future` inside `rt`, running this set's tasks
    /// alongside it: `rt.block_on(self.run_until(future))`.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build().unwrap();
    /// let local = runtime::task::LocalSet::new();
    /// let sum = local.block_on(&rt, async {
    ///     let a = runtime::task::spawn_local(async { 1 });
    ///     let b = runtime::task::spawn_local(async { 2 });
    ///     a.await.unwrap() + b.await.unwrap()
    /// });
    /// assert_eq!(sum, 3);
    /// ```
    pub fn block_on<F: Future>(&self, rt: &crate::Runtime, future: F) -> F::Output {
        rt.block_on(self.run_until(future))
    }

    /// How many tasks are in the set (spawned and not yet finished).
    ///
    /// ```
    /// let local = runtime::task::LocalSet::new();
    /// let _h = local.spawn_local(async {});
    /// assert_eq!(local.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.tasks.borrow().len()
    }

    /// Whether the set has no unfinished tasks.
    ///
    /// ```
    /// let local = runtime::task::LocalSet::new();
    /// assert!(local.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for LocalSet {
    fn default() -> LocalSet {
        LocalSet::new()
    }
}

impl Inner {
    fn spawn<F>(&self, future: F) -> LocalJoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let id = crate::executor::next_task_id();
        let cell = Rc::new(JoinCell::new());
        let waker = {
            let mut tasks = self.tasks.borrow_mut();
            let slot = tasks.vacant_entry();
            let task = TaskRef {
                key: slot.key(),
                id,
            };
            let waker = Arc::new(TaskWaker::new(Arc::clone(&self.ready), task));
            slot.insert(Entry {
                id,
                task: Some(Box::pin(LocalTask::new(future, Rc::clone(&cell)))),
                waker: Arc::clone(&waker),
            });
            waker
        };
        // Queue it for its first poll (and wake the driver if it is idle).
        Wake::wake_by_ref(&waker);
        LocalJoinHandle::new(cell, waker)
    }

    /// Polls up to `PASS_BUDGET` woken tasks.
    fn run_pass(&self, cx: &Context<'_>) {
        self.ready.begin_pass();
        for _ in 0..PASS_BUDGET {
            let Some(woken) = self.ready.pop() else { break };
            let taken = match self.tasks.borrow_mut().get_mut(woken.key) {
                // A wake may be stale: its task finished and a new one took
                // the slot. The new task has its own wakes; skip this one.
                Some(entry) if entry.id == woken.id => {
                    entry.task.take().map(|t| (t, Arc::clone(&entry.waker)))
                }
                _ => None,
            };
            let Some((mut task, waker)) = taken else {
                continue;
            };
            waker.clear_queued();
            let done = {
                let _current = crate::task::id::enter(woken.id);
                let cx_waker = Waker::from(Arc::clone(&waker));
                let mut cx = Context::from_waker(&cx_waker);
                crate::coop::with_budget(|| task.as_mut().run(&mut cx, &waker)).is_ready()
            };
            if done {
                self.tasks.borrow_mut().remove(woken.key);
                // Dropped with the slab released: a detached task's output
                // goes with it, and its destructor may spawn.
                drop(task);
            } else if let Some(entry) = self.tasks.borrow_mut().get_mut(woken.key) {
                entry.task = Some(task);
            }
        }
        self.ready.end_pass(cx);
    }
}

pin_project_lite::pin_project! {
    /// Future returned by [`LocalSet::run_until`].
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build().unwrap();
    /// let local = runtime::task::LocalSet::new();
    /// let fut: runtime::task::RunUntil<'_, _> = local.run_until(async { 7 });
    /// assert_eq!(rt.block_on(fut), 7);
    /// ```
    #[must_use = "futures do nothing unless awaited"]
    pub struct RunUntil<'a, F> {
        local: &'a LocalSet,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for RunUntil<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let local: &LocalSet = this.local;
        let _enter = enter(&local.inner);
        if let Poll::Ready(out) = this.future.poll(cx) {
            return Poll::Ready(out);
        }
        local.inner.run_pass(cx);
        Poll::Pending
    }
}

impl<F> fmt::Debug for RunUntil<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntil").finish_non_exhaustive()
    }
}

/// Awaiting a `LocalSet` runs its tasks until all of them are done.
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build().unwrap();
/// let mut local = runtime::task::LocalSet::new();
/// let h = local.spawn_local(async {
///     runtime::task::spawn_local(async {}); // spawned later, waited for too
/// });
/// rt.block_on(&mut local);
/// assert!(local.is_empty() && h.is_finished());
/// ```
impl Future for LocalSet {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let _enter = enter(&self.inner);
        self.inner.run_pass(cx);
        if self.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for LocalSet {
    fn drop(&mut self) {
        // Inside the set, so a destructor that calls `spawn_local` does not
        // panic; what it spawns is dropped by the next round.
        let _enter = enter(&self.inner);
        loop {
            let tasks: Vec<Entry> = self.inner.tasks.borrow_mut().drain().collect();
            if tasks.is_empty() {
                break;
            }
            for entry in tasks {
                if let Some(mut task) = entry.task {
                    task.as_mut().cancel(&entry.waker);
                }
            }
        }
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet")
            .field("tasks", &self.len())
            .finish()
    }
}

/// Lets executor-agnostic code that takes `impl LocalSpawn` spawn onto the set.
///
/// ```
/// use futures_task::{LocalFutureObj, LocalSpawn};
/// use std::rc::Rc;
///
/// let rt = runtime::Builder::new_current_thread().build().unwrap();
/// let mut local = runtime::task::LocalSet::new();
/// let flag = Rc::new(std::cell::Cell::new(false));
/// let f = Rc::clone(&flag);
/// local
///     .spawn_local_obj(LocalFutureObj::new(Box::new(async move { f.set(true) })))
///     .unwrap();
/// rt.block_on(&mut local);
/// assert!(flag.get());
/// ```
impl futures_task::LocalSpawn for LocalSet {
    // `inline`: compiled only in the crates that spawn through `LocalSpawn`
    // (see `Spawn for Handle`).
    #[inline]
    fn spawn_local_obj(
        &self,
        future: futures_task::LocalFutureObj<'static, ()>,
    ) -> Result<(), futures_task::SpawnError> {
        drop(self.inner.spawn(future));
        Ok(())
    }
}
