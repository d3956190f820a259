//! [`Semaphore`]: a counter of permits that tasks wait for in FIFO order.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::primitives::{lock, Mutex};

/// A count of permits; [`acquire`](Self::acquire) waits until one is free
/// and hands out a guard that gives it back when dropped (tokio's
/// `sync::Semaphore`). It bounds concurrency: at most `n` connections, at
/// most `n` requests in flight.
///
/// Waiters are served strictly in the order they first asked: a request for
/// many permits at the head of the queue is not overtaken by later requests
/// for fewer, so nobody starves. [`close`](Self::close) fails every waiting
/// and future `acquire`.
///
/// Permits are taken by the waiting future itself when it is polled at the
/// head of the queue with enough permits free; until then they stay in the
/// count. Dropping a waiting future therefore loses nothing: it leaves the
/// queue and, if it was at the head, wakes the next waiter.
///
/// ```
/// use std::sync::Arc;
/// use runtime::sync::Semaphore;
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let limit = Arc::new(Semaphore::new(2));
///     let mut jobs = Vec::new();
///     for i in 0..5 {
///         let permit = Arc::clone(&limit).acquire_owned().await.unwrap();
///         jobs.push(runtime::spawn(async move {
///             let _permit = permit; // held while the job runs
///             i * 2
///         }));
///     }
///     for job in jobs {
///         job.await.unwrap();
///     }
///     assert_eq!(limit.available_permits(), 2);
/// });
/// ```
pub struct Semaphore {
    state: Mutex<State>,
}

// ANCHOR: state
struct State {
    /// Permits not held by anyone.
    permits: usize,
    closed: bool,
    /// Tasks waiting, in arrival order. Only the front one may take permits.
    waiters: VecDeque<Waiter>,
    /// Gives each waiter an id that its future finds it by.
    next_id: u64,
}

struct Waiter {
    id: u64,
    needed: usize,
    waker: Waker,
}

impl State {
    /// The rule every change to `permits` or to the front of the queue
    /// follows: if the front waiter can now proceed, it gets woken. The
    /// caller calls the returned waker after unlocking.
    fn wake_front_if_ready(&self) -> Option<Waker> {
        let front = self.waiters.front()?;
        (front.needed <= self.permits).then(|| front.waker.clone())
    }

    fn position(&self, id: Option<u64>) -> Option<usize> {
        let id = id?;
        self.waiters.iter().position(|w| w.id == id)
    }
}
// ANCHOR_END: state

/// [`Semaphore::acquire`] and friends failed: the semaphore is
/// [closed](Semaphore::close).
///
/// ```
/// let sem = runtime::sync::Semaphore::new(1);
/// sem.close();
/// let err = runtime::Runtime::new().unwrap().block_on(sem.acquire()).unwrap_err();
/// assert_eq!(err.to_string(), "semaphore closed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl std::error::Error for AcquireError {}

/// Why [`Semaphore::try_acquire`] got no permit.
///
/// ```
/// use runtime::sync::{Semaphore, TryAcquireError};
///
/// let sem = Semaphore::new(0);
/// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
/// sem.close();
/// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore is closed.
    Closed,
    /// Not enough permits free right now, or other tasks are queued first.
    NoPermits,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryAcquireError::Closed => "semaphore closed",
            TryAcquireError::NoPermits => "no permits available",
        })
    }
}

impl std::error::Error for TryAcquireError {}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Semaphore")
            .field("permits", &state.permits)
            .field("closed", &state.closed)
            .field("waiters", &state.waiters.len())
            .finish()
    }
}

impl Semaphore {
    /// The most permits a semaphore holds (as in tokio); more panics.
    ///
    /// ```
    /// assert!(runtime::sync::Semaphore::MAX_PERMITS > u32::MAX as usize);
    /// ```
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// A semaphore with `permits` permits free.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// ```
    /// assert_eq!(runtime::sync::Semaphore::new(3).available_permits(), 3);
    /// ```
    pub fn new(permits: usize) -> Semaphore {
        assert!(
            permits <= Self::MAX_PERMITS,
            "a semaphore holds at most {} permits",
            Self::MAX_PERMITS
        );
        Semaphore {
            state: Mutex::new(State {
                permits,
                closed: false,
                waiters: VecDeque::new(),
                next_id: 0,
            }),
        }
    }

    /// Permits free right now.
    ///
    /// ```
    /// let sem = runtime::sync::Semaphore::new(2);
    /// let _one = sem.try_acquire().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        lock(&self.state).permits
    }

    /// Adds `n` permits, waking the first waiter if it can now proceed.
    ///
    /// # Panics
    ///
    /// If the total would exceed [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// ```
    /// let sem = runtime::sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        let waker = {
            let mut state = lock(&self.state);
            let total = state.permits.saturating_add(n);
            // Checked before the change so that the panic (not under any
            // user code) leaves the count as it was.
            assert!(
                total <= Self::MAX_PERMITS,
                "a semaphore holds at most {} permits",
                Self::MAX_PERMITS
            );
            state.permits = total;
            state.wake_front_if_ready()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Closes the semaphore: every waiting and later `acquire` fails with
    /// [`AcquireError`], `try_acquire` with [`TryAcquireError::Closed`].
    /// Permits already held stay valid and are given back as usual.
    ///
    /// ```
    /// let sem = runtime::sync::Semaphore::new(1);
    /// sem.close();
    /// assert!(sem.is_closed());
    /// assert!(sem.try_acquire().is_err());
    /// ```
    pub fn close(&self) {
        let waiters = {
            let mut state = lock(&self.state);
            state.closed = true;
            std::mem::take(&mut state.waiters)
        };
        for waiter in waiters {
            waiter.waker.wake();
        }
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// ```
    /// assert!(!runtime::sync::Semaphore::new(1).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Waits for one permit. Cancel-safe: dropping the future gives up its
    /// place in the queue, and it holds no permit until it completes.
    ///
    /// ```
    /// let sem = runtime::sync::Semaphore::new(1);
    /// let rt = runtime::Runtime::new().unwrap();
    /// let permit = rt.block_on(sem.acquire()).unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(permit);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1).await
    }

    /// Waits for `n` permits, taken all at once when the request reaches the
    /// front of the queue. Cancel-safe, like [`acquire`](Self::acquire).
    ///
    /// ```
    /// let sem = runtime::sync::Semaphore::new(5);
    /// let rt = runtime::Runtime::new().unwrap();
    /// let permit = rt.block_on(sem.acquire_many(3)).unwrap();
    /// assert_eq!(permit.num_permits(), 3);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub async fn acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        let permits = n as usize;
        Acquire::new(self, permits).await?;
        Ok(SemaphorePermit {
            semaphore: self,
            permits,
        })
    }

    /// Takes one permit if one is free and nobody is queued for one.
    ///
    /// ```
    /// let sem = runtime::sync::Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_err());
    /// drop(permit);
    /// assert!(sem.try_acquire().is_ok());
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is queued first.
    ///
    /// ```
    /// let sem = runtime::sync::Semaphore::new(2);
    /// assert!(sem.try_acquire_many(3).is_err());
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let permits = n as usize;
        self.try_take(permits)?;
        Ok(SemaphorePermit {
            semaphore: self,
            permits,
        })
    }

    /// [`acquire`](Self::acquire) for a shared semaphore: the permit keeps
    /// the `Arc` and has no lifetime, so it can move into a spawned task.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(runtime::sync::Semaphore::new(1));
    /// let rt = runtime::Runtime::new().unwrap();
    /// let permit = rt.block_on(Arc::clone(&sem).acquire_owned()).unwrap();
    /// rt.block_on(rt.spawn(async move { drop(permit) })).unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// [`acquire_many`](Self::acquire_many) for a shared semaphore.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(runtime::sync::Semaphore::new(4));
    /// let rt = runtime::Runtime::new().unwrap();
    /// let permit = rt.block_on(Arc::clone(&sem).acquire_many_owned(4)).unwrap();
    /// assert_eq!((permit.num_permits(), sem.available_permits()), (4, 0));
    /// ```
    pub async fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        let permits = n as usize;
        Acquire::new(&self, permits).await?;
        Ok(OwnedSemaphorePermit {
            semaphore: self,
            permits,
        })
    }

    /// [`try_acquire`](Self::try_acquire) for a shared semaphore.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(runtime::sync::Semaphore::new(1));
    /// let permit = Arc::clone(&sem).try_acquire_owned().unwrap();
    /// assert!(Arc::clone(&sem).try_acquire_owned().is_err());
    /// drop(permit);
    /// ```
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_take(1)?;
        Ok(OwnedSemaphorePermit {
            semaphore: self,
            permits: 1,
        })
    }

    fn try_take(&self, n: usize) -> Result<(), TryAcquireError> {
        let mut state = lock(&self.state);
        if state.closed {
            Err(TryAcquireError::Closed)
        } else if state.waiters.is_empty() && state.permits >= n {
            state.permits -= n;
            Ok(())
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }
}

/// Permits from [`Semaphore::acquire`] and friends, given back on drop.
///
/// ```
/// let sem = runtime::sync::Semaphore::new(1);
/// {
///     let _permit = sem.try_acquire().unwrap();
///     assert_eq!(sem.available_permits(), 0);
/// }
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "the permit is given back as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
    permits: usize,
}

impl SemaphorePermit<'_> {
    /// Keeps the permits out of the semaphore for good (tokio's `forget`):
    /// the way to shrink it.
    ///
    /// ```
    /// let sem = runtime::sync::Semaphore::new(2);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this guard holds.
    ///
    /// ```
    /// let sem = runtime::sync::Semaphore::new(2);
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.add_permits(self.permits);
        }
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Permits from [`Semaphore::acquire_owned`] and friends: like
/// [`SemaphorePermit`], but holding an `Arc` of the semaphore.
///
/// ```
/// use std::sync::Arc;
///
/// let sem = Arc::new(runtime::sync::Semaphore::new(1));
/// let permit: runtime::sync::OwnedSemaphorePermit = Arc::clone(&sem).try_acquire_owned().unwrap();
/// assert!(Arc::ptr_eq(permit.semaphore(), &sem));
/// ```
#[must_use = "the permit is given back as soon as it is dropped"]
pub struct OwnedSemaphorePermit {
    semaphore: Arc<Semaphore>,
    permits: usize,
}

impl OwnedSemaphorePermit {
    /// Keeps the permits out of the semaphore for good.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(runtime::sync::Semaphore::new(1));
    /// Arc::clone(&sem).try_acquire_owned().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this guard holds.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(runtime::sync::Semaphore::new(1));
    /// assert_eq!(sem.try_acquire_owned().unwrap().num_permits(), 1);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore the permits came from.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(runtime::sync::Semaphore::new(1));
    /// let permit = Arc::clone(&sem).try_acquire_owned().unwrap();
    /// assert_eq!(permit.semaphore().available_permits(), 0);
    /// ```
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.semaphore
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.add_permits(self.permits);
        }
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// The waiting part of every `acquire`: resolves once it has taken `needed`
/// permits out of the count (or the semaphore closed).
struct Acquire<'a> {
    semaphore: &'a Semaphore,
    needed: usize,
    /// Our entry in the queue, once we have one.
    id: Option<u64>,
}

impl<'a> Acquire<'a> {
    fn new(semaphore: &'a Semaphore, needed: usize) -> Acquire<'a> {
        Acquire {
            semaphore,
            needed,
            id: None,
        }
    }
}

// ANCHOR: acquire
impl Future for Acquire<'_> {
    type Output = Result<(), AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut state = lock(&this.semaphore.state);
        let position = state.position(this.id);
        if state.closed {
            // `close` emptied the queue; nothing of ours is left in it.
            this.id = None;
            return Poll::Ready(Err(AcquireError(())));
        }
        // Our turn if we are at the front, or if nobody is queued at all.
        let our_turn = position.map_or(state.waiters.is_empty(), |p| p == 0);
        if our_turn && state.permits >= this.needed {
            state.permits -= this.needed;
            if position.is_some() {
                state.waiters.pop_front();
            }
            this.id = None;
            // The front changed: the next waiter may be able to go too.
            let next = state.wake_front_if_ready();
            drop(state);
            if let Some(waker) = next {
                waker.wake();
            }
            return Poll::Ready(Ok(()));
        }
        // Register (or refresh the waker) under the same lock that
        // `add_permits` takes: it either ran before our check above, or it
        // will find our waker.
        match position {
            Some(p) => {
                let waiter = &mut state.waiters[p];
                if !waiter.waker.will_wake(cx.waker()) {
                    waiter.waker = cx.waker().clone();
                }
            }
            None => {
                let id = state.next_id;
                state.next_id += 1;
                state.waiters.push_back(Waiter {
                    id,
                    needed: this.needed,
                    waker: cx.waker().clone(),
                });
                this.id = Some(id);
            }
        }
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if self.id.is_none() {
            return;
        }
        let next = {
            let mut state = lock(&self.semaphore.state);
            match state.position(self.id) {
                Some(p) => {
                    state.waiters.remove(p);
                    // We may have been woken to take permits we now leave:
                    // pass the turn on instead of losing that wake-up.
                    if p == 0 {
                        state.wake_front_if_ready()
                    } else {
                        None
                    }
                }
                None => None,
            }
        };
        if let Some(waker) = next {
            waker.wake();
        }
    }
}
// ANCHOR_END: acquire

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::blocking::test_waker::{counting_waker, poll, within_deadline};
    use std::pin::pin;

    #[test]
    fn waiters_are_served_in_order_even_when_a_later_one_needs_less() {
        let sem = Semaphore::new(0);
        let (counter, waker) = counting_waker();
        let mut big = pin!(sem.acquire_many(2));
        let mut small = pin!(sem.acquire());
        assert!(poll(big.as_mut(), &waker).is_pending());
        assert!(poll(small.as_mut(), &waker).is_pending());
        sem.add_permits(1);
        // One permit would do for `small`, but `big` is first.
        assert_eq!(counter.count(), 0);
        assert!(poll(small.as_mut(), &waker).is_pending());
        assert!(sem.try_acquire().is_err(), "try_acquire jumped the queue");
        sem.add_permits(1);
        assert_eq!(counter.count(), 1);
        let big_permit = match poll(big.as_mut(), &waker) {
            Poll::Ready(Ok(p)) => p,
            other => panic!("big not served: {:?}", other.is_ready()),
        };
        assert_eq!(big_permit.num_permits(), 2);
        drop(big_permit);
        assert!(matches!(poll(small.as_mut(), &waker), Poll::Ready(Ok(_))));
    }

    #[test]
    fn dropping_a_woken_front_waiter_passes_the_turn_on() {
        let sem = Semaphore::new(0);
        let (first_wakes, first_waker) = counting_waker();
        let (second_wakes, second_waker) = counting_waker();
        let mut first = Box::pin(sem.acquire());
        let mut second = pin!(sem.acquire());
        assert!(poll(first.as_mut(), &first_waker).is_pending());
        assert!(poll(second.as_mut(), &second_waker).is_pending());
        sem.add_permits(1);
        assert_eq!((first_wakes.count(), second_wakes.count()), (1, 0));
        // Cancelled after its wake-up, before taking the permit.
        drop(first);
        assert_eq!(second_wakes.count(), 1, "the next waiter was not woken");
        assert_eq!(sem.available_permits(), 1, "a permit leaked");
        assert!(matches!(
            poll(second.as_mut(), &second_waker),
            Poll::Ready(Ok(_))
        ));
        assert_eq!(lock(&sem.state).waiters.len(), 0);
    }

    #[test]
    fn dropping_a_middle_waiter_removes_only_it() {
        let sem = Semaphore::new(0);
        let (_, waker) = counting_waker();
        let mut a = pin!(sem.acquire());
        let mut b = Box::pin(sem.acquire());
        let mut c = pin!(sem.acquire());
        for p in [
            poll(a.as_mut(), &waker),
            poll(b.as_mut(), &waker),
            poll(c.as_mut(), &waker),
        ] {
            assert!(p.is_pending());
        }
        drop(b);
        assert_eq!(lock(&sem.state).waiters.len(), 2);
        sem.add_permits(2);
        assert!(
            matches!(poll(c.as_mut(), &waker), Poll::Pending),
            "c overtook a"
        );
        assert!(matches!(poll(a.as_mut(), &waker), Poll::Ready(Ok(_))));
        assert!(matches!(poll(c.as_mut(), &waker), Poll::Ready(Ok(_))));
    }

    #[test]
    fn close_fails_waiters_and_later_acquires() {
        let sem = Semaphore::new(0);
        let (counter, waker) = counting_waker();
        let mut waiting = pin!(sem.acquire());
        assert!(poll(waiting.as_mut(), &waker).is_pending());
        sem.close();
        assert_eq!(counter.count(), 1);
        assert!(matches!(
            poll(waiting.as_mut(), &waker),
            Poll::Ready(Err(_))
        ));
        assert!(matches!(
            poll(pin!(sem.acquire()), &waker),
            Poll::Ready(Err(AcquireError(())))
        ));
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    }

    #[test]
    fn forget_shrinks_and_drop_restores() {
        let sem = Arc::new(Semaphore::new(3));
        sem.try_acquire().unwrap().forget();
        let owned = Arc::clone(&sem).try_acquire_owned().unwrap();
        assert_eq!(sem.available_permits(), 1);
        drop(owned);
        assert_eq!(sem.available_permits(), 2);
    }

    #[test]
    fn bounds_concurrency_on_the_multi_thread_runtime() {
        within_deadline(
            "bounds_concurrency_on_the_multi_thread_runtime",
            bounds_concurrency_on_the_multi_thread_runtime_body,
        );
    }

    fn bounds_concurrency_on_the_multi_thread_runtime_body() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let rt = crate::Builder::new().worker_threads(4).build().unwrap();
        let sem = Arc::new(Semaphore::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let tasks: Vec<_> = (0..if cfg!(miri) { 6 } else { 64 })
                .map(|_| {
                    let (sem, inside, most) = (sem.clone(), inside.clone(), most.clone());
                    crate::spawn(async move {
                        for _ in 0..if cfg!(miri) { 3 } else { 20 } {
                            let _permit = sem.acquire().await.unwrap();
                            let now = inside.fetch_add(1, SeqCst) + 1;
                            most.fetch_max(now, SeqCst);
                            crate::task::yield_now().await;
                            inside.fetch_sub(1, SeqCst);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        assert!(most.load(SeqCst) <= 3);
        assert_eq!(sem.available_permits(), 3);
    }
}
