//! `JoinSet`: a collection of spawned tasks, joined in the order they finish.
//!
//! Each member's `JoinHandle` is polled with a waker of its own that, when
//! the task completes, records the member's key in a shared ready list and
//! wakes whoever awaits `join_next`. `join_next` therefore polls only members
//! that were woken (plus each new member once, to register its waker), not
//! the whole set: joining `n` tasks costs O(n), not O(n²).

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;

use crate::primitives::plain::Mutex;
use std::task::{Context, Poll, Wake, Waker};

use slab::Slab;

use super::abort::AbortHandle;
use super::error::JoinError;
use super::join::JoinHandle;

/// A set of tasks spawned on the current runtime, awaited in the order they
/// finish. Dropping the set aborts every task still in it (use
/// [`detach_all`](Self::detach_all) first to let them run on).
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut set = runtime::task::JoinSet::new();
///     for i in 0..10u64 {
///         set.spawn(async move { i * i });
///     }
///     let mut sum = 0;
///     while let Some(result) = set.join_next().await {
///         sum += result.unwrap();
///     }
///     assert_eq!(sum, 285);
///     assert!(set.is_empty());
/// });
/// ```
pub struct JoinSet<T> {
    members: Slab<Member<T>>,
    ready: Arc<Ready>,
}

struct Member<T> {
    handle: JoinHandle<T>,
    /// Records this member's key in the ready list.
    waker: Waker,
}

/// Keys of members whose task may have finished, and the waker of the task
/// awaiting `join_next`.
#[derive(Default)]
struct Ready {
    inner: Mutex<ReadyInner>,
}

#[derive(Default)]
struct ReadyInner {
    keys: VecDeque<usize>,
    waiter: Option<Waker>,
}

impl Ready {
    /// Locks the list. It is never held while user code runs, so a poisoned
    /// lock still guards a consistent list.
    fn lock(&self) -> crate::primitives::plain::MutexGuard<'_, ReadyInner> {
        self.inner.lock()
    }
}

/// The waker a member's `JoinHandle` is polled with.
struct MemberWaker {
    key: usize,
    ready: Arc<Ready>,
}

impl Wake for MemberWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waiter = {
            let mut inner = self.ready.lock();
            inner.keys.push_back(self.key);
            inner.waiter.take()
        };
        // Woken outside the lock: the waiter's waker is user code.
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    ///
    /// ```
    /// let set: runtime::task::JoinSet<()> = runtime::task::JoinSet::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> JoinSet<T> {
        JoinSet {
            members: Slab::new(),
            ready: Arc::default(),
        }
    }

    /// How many tasks are in the set: spawned and not yet returned by
    /// [`join_next`](Self::join_next) (finished ones included).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = runtime::task::JoinSet::new();
    ///     set.spawn(async {});
    ///     set.spawn(async {});
    ///     assert_eq!(set.len(), 2);
    ///     set.join_next().await;
    ///     assert_eq!(set.len(), 1);
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set holds no task.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = runtime::task::JoinSet::new();
    ///     set.spawn(async {});
    ///     assert!(!set.is_empty());
    ///     set.join_next().await;
    ///     assert!(set.is_empty());
    /// });
    /// ```
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Adds a task spawned elsewhere (on any runtime) to the set.
    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let entry = self.members.vacant_entry();
        let key = entry.key();
        let waker = Waker::from(Arc::new(MemberWaker {
            key,
            ready: self.ready.clone(),
        }));
        entry.insert(Member { handle, waker });
        // Polled once by the next join_next, which registers its waker.
        self.ready.lock().keys.push_back(key);
        abort
    }

    /// Aborts every task in the set. They stay in it: `join_next` returns
    /// each one's result (a cancellation error, unless it finished first).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = runtime::task::JoinSet::new();
    ///     for _ in 0..3 {
    ///         set.spawn(std::future::pending::<()>());
    ///     }
    ///     set.abort_all();
    ///     while let Some(result) = set.join_next().await {
    ///         assert!(result.unwrap_err().is_cancelled());
    ///     }
    /// });
    /// ```
    pub fn abort_all(&mut self) {
        for (_, member) in &self.members {
            member.handle.abort();
        }
    }

    /// Removes every task from the set without aborting it: they run on,
    /// detached, and the set is empty.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (tx, rx) = std::sync::mpsc::channel();
    ///     let mut set = runtime::task::JoinSet::new();
    ///     set.spawn(async move { tx.send(7).unwrap() });
    ///     set.detach_all();
    ///     assert!(set.is_empty());
    ///     drop(set); // does not abort the detached task
    ///     while let Err(_) = rx.try_recv() {
    ///         runtime::task::yield_now().await;
    ///     }
    /// });
    /// ```
    pub fn detach_all(&mut self) {
        self.members.clear();
        self.ready.lock().keys.clear();
    }

    /// Polls for the next finished task, as [`join_next`](Self::join_next).
    /// `Ready(None)` if the set is empty.
    ///
    /// ```
    /// use std::task::Poll;
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = runtime::task::JoinSet::new();
    ///     set.spawn(async { 1 });
    ///     let first = std::future::poll_fn(|cx| set.poll_join_next(cx)).await;
    ///     assert_eq!(first.unwrap().unwrap(), 1);
    ///     let none = std::future::poll_fn(|cx| set.poll_join_next(cx)).await;
    ///     assert!(none.is_none());
    /// });
    /// ```
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.members.is_empty() {
            return Poll::Ready(None);
        }
        loop {
            let key = {
                let mut inner = self.ready.lock();
                match inner.keys.pop_front() {
                    Some(key) => key,
                    None => {
                        // Under the same lock as the check: a member woken
                        // after it finds this waker.
                        inner.waiter = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                }
            };
            // A key may be stale (its member already joined, the slot reused,
            // or woken twice): polling a member that is not finished only
            // registers its waker again.
            let Some(member) = self.members.get_mut(key) else {
                continue;
            };
            let mut member_cx = Context::from_waker(&member.waker);
            if let Poll::Ready(result) = Pin::new(&mut member.handle).poll(&mut member_cx) {
                self.members.remove(key);
                return Poll::Ready(Some(result));
            }
        }
    }

    /// Waits for the next task to finish and returns its result, or `None`
    /// if the set is empty. Cancel-safe: a result is only taken out of the
    /// set when this returns it.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = runtime::task::JoinSet::new();
    ///     set.spawn(async { panic!("boom") });
    ///     assert!(set.join_next().await.unwrap().unwrap_err().is_panic());
    ///     assert!(set.join_next().await.is_none());
    /// });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Aborts every task and waits until all have finished (their futures
    /// dropped), leaving the set empty.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = runtime::task::JoinSet::new();
    ///     set.spawn(std::future::pending::<()>());
    ///     set.shutdown().await;
    ///     assert!(set.is_empty());
    /// });
    /// ```
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// Spawns a task on the current runtime into the set, and returns a
    /// handle that can abort it.
    ///
    /// # Panics
    /// Outside a runtime context, as [`spawn`](crate::spawn).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = runtime::task::JoinSet::new();
    ///     let abort = set.spawn(std::future::pending::<u32>());
    ///     set.spawn(async { 5 });
    ///     abort.abort();
    ///     let mut results = Vec::new();
    ///     while let Some(r) = set.join_next().await {
    ///         results.push(r.ok());
    ///     }
    ///     results.sort();
    ///     assert_eq!(results, [None, Some(5)]);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(super::spawn(future))
    }

    /// Spawns a task on the given runtime's handle into the set.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let mut set = runtime::task::JoinSet::new();
    /// set.spawn_on(async { 3 }, rt.handle());
    /// let out = rt.block_on(set.join_next());
    /// assert_eq!(out.unwrap().unwrap(), 3);
    /// ```
    pub fn spawn_on<F>(&mut self, future: F, handle: &super::Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(handle.spawn(future))
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> std::fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::task::{self, yield_now};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    fn flavours() -> Vec<crate::Runtime> {
        vec![
            crate::Builder::new_current_thread().build().unwrap(),
            crate::Builder::new().worker_threads(2).build().unwrap(),
        ]
    }

    /// Sets its flag when dropped.
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn results_come_in_completion_order() {
        for rt in flavours() {
            rt.block_on(async {
                let gate = Arc::new(AtomicBool::new(false));
                let mut set = JoinSet::new();
                let g = gate.clone();
                set.spawn(async move {
                    while !g.load(Ordering::SeqCst) {
                        yield_now().await;
                    }
                    "slow"
                });
                set.spawn(async { "fast" });
                assert_eq!(set.len(), 2);
                assert_eq!(set.join_next().await.unwrap().unwrap(), "fast");
                gate.store(true, Ordering::SeqCst);
                assert_eq!(set.join_next().await.unwrap().unwrap(), "slow");
                assert!(set.join_next().await.is_none());
                assert!(set.is_empty());
            });
        }
    }

    #[test]
    fn many_tasks_each_joined_once() {
        for rt in flavours() {
            rt.block_on(async {
                // Fewer under miri, which runs this under scripts/miri.sh.
                const N: u64 = if cfg!(miri) { 40 } else { 500 };
                let mut set = JoinSet::new();
                for i in 0..N {
                    set.spawn(async move {
                        if i % 2 == 0 {
                            yield_now().await;
                        }
                        i
                    });
                }
                let mut seen = vec![false; N as usize];
                while let Some(r) = set.join_next().await {
                    let i = r.unwrap() as usize;
                    assert!(!seen[i], "task {i} joined twice");
                    seen[i] = true;
                }
                assert!(seen.iter().all(|s| *s));
            });
        }
    }

    #[test]
    fn dropping_the_set_aborts_and_detach_all_does_not() {
        for rt in flavours() {
            rt.block_on(async {
                let aborted = Arc::new(AtomicBool::new(false));
                let mut set = JoinSet::new();
                let flag = Flag(aborted.clone());
                let abort = set.spawn(async move {
                    let _flag = flag;
                    std::future::pending::<()>().await
                });
                drop(set);
                while !abort.is_finished() {
                    yield_now().await;
                }
                assert!(aborted.load(Ordering::SeqCst));

                let ran = Arc::new(AtomicUsize::new(0));
                let mut set = JoinSet::new();
                let r = ran.clone();
                let handle = set.spawn(async move {
                    yield_now().await;
                    r.fetch_add(1, Ordering::SeqCst);
                });
                set.detach_all();
                drop(set);
                while !handle.is_finished() {
                    yield_now().await;
                }
                assert_eq!(
                    ran.load(Ordering::SeqCst),
                    1,
                    "detached task ran to completion"
                );
            });
        }
    }

    #[test]
    fn abort_all_yields_cancellations() {
        for rt in flavours() {
            rt.block_on(async {
                let mut set = JoinSet::new();
                for _ in 0..4 {
                    set.spawn(std::future::pending::<()>());
                }
                set.abort_all();
                let mut n = 0;
                while let Some(r) = set.join_next().await {
                    assert!(r.unwrap_err().is_cancelled());
                    n += 1;
                }
                assert_eq!(n, 4);
            });
        }
    }

    #[test]
    fn task_ids() {
        assert_eq!(task::try_id(), None);
        for rt in flavours() {
            rt.block_on(async {
                assert_eq!(task::try_id(), None, "block_on's future is not a task");
                let handle = crate::spawn(async { task::id() });
                let abort = handle.abort_handle();
                let id = handle.await.unwrap();
                assert_eq!(id, abort.id());
                let other = crate::spawn(async { task::id() }).await.unwrap();
                assert_ne!(id, other);

                // Destructors run by a cancellation see the task's id too.
                let seen = Arc::new(std::sync::Mutex::new(None));
                struct RecordId(Arc<std::sync::Mutex<Option<task::Id>>>);
                impl Drop for RecordId {
                    fn drop(&mut self) {
                        *self.0.lock().unwrap() = task::try_id();
                    }
                }
                let record = RecordId(seen.clone());
                let handle = crate::spawn(async move {
                    let _record = record;
                    std::future::pending::<()>().await
                });
                let expected = handle.abort_handle().id();
                handle.abort();
                assert!(handle.await.unwrap_err().is_cancelled());
                assert_eq!(*seen.lock().unwrap(), Some(expected));
            });
        }
    }

    #[test]
    #[should_panic(expected = "called outside a task")]
    fn id_outside_a_task_panics() {
        let _ = task::id();
    }
}
