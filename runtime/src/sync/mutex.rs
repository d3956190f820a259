//! An async lock: [`Mutex`] (tokio's `sync::Mutex`), built on a
//! one-permit [`Semaphore`].
//!
//! Use it when the lock must be held across an `.await`; for short critical
//! sections with no await inside, `std::sync::Mutex` is cheaper and fine in
//! async code.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::sync::Semaphore;

/// A lock whose [`lock`](Self::lock) waits asynchronously, handing the lock
/// to waiting tasks in the order they asked (so nobody starves), and whose
/// guard may be held across `.await` and sent to another thread.
///
/// ```
/// use std::sync::Arc;
/// use runtime::sync::Mutex;
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let log = Arc::new(Mutex::new(Vec::new()));
///     let tasks: Vec<_> = (0..4)
///         .map(|i| {
///             let log = Arc::clone(&log);
///             runtime::spawn(async move {
///                 let mut log = log.lock().await;
///                 runtime::task::yield_now().await; // still held here
///                 log.push(i);
///             })
///         })
///         .collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     assert_eq!(log.lock().await.len(), 4);
/// });
/// ```
pub struct Mutex<T> {
    /// One permit: whoever holds it holds the lock.
    semaphore: Semaphore,
    /// `std`'s cell, not the loom-aware one: no loom model takes this lock.
    data: UnsafeCell<T>,
}

// SAFETY: `&Mutex<T>` only reaches `data` through a guard, and a guard
// exists only while its owner holds the semaphore's single permit, so one
// thread at a time touches the value. That thread may be any thread, hence
// `T: Send` (not `Sync`), as for `std::sync::Mutex`.
unsafe impl<T: Send> Sync for Mutex<T> {}

/// Why [`Mutex::try_lock`] did not lock: somebody holds it or waits for it.
///
/// ```
/// let m = runtime::sync::Mutex::new(1);
/// let _held = m.try_lock().unwrap();
/// assert!(m.try_lock().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the mutex is locked")
    }
}

impl std::error::Error for TryLockError {}

/// Access to a [`Mutex`]'s value; unlocks when dropped.
///
/// ```
/// let m = runtime::sync::Mutex::new(String::from("a"));
/// let mut guard: runtime::sync::MutexGuard<'_, String> = m.try_lock().unwrap();
/// guard.push('b');
/// drop(guard);
/// assert_eq!(m.into_inner(), "ab");
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T> {
    lock: &'a Mutex<T>,
    /// Makes the guard `Sync` only if `T` is (it hands out `&T`), and `Send`
    /// only if `T` is.
    _value: PhantomData<&'a mut T>,
}

/// A [`MutexGuard`] that keeps an `Arc` of its mutex instead of borrowing
/// it, so it can move into a spawned task; from [`Mutex::lock_owned`].
///
/// ```
/// use std::sync::Arc;
///
/// let m = Arc::new(runtime::sync::Mutex::new(0));
/// let mut guard: runtime::sync::OwnedMutexGuard<i32> =
///     Arc::clone(&m).try_lock_owned().unwrap();
/// *guard += 1;
/// drop(guard);
/// assert_eq!(*m.try_lock().unwrap(), 1);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedMutexGuard<T> {
    lock: Arc<Mutex<T>>,
    _value: PhantomData<T>,
}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    ///
    /// ```
    /// let m = runtime::sync::Mutex::new(5);
    /// assert_eq!(m.into_inner(), 5);
    /// ```
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            semaphore: Semaphore::new(1),
            data: UnsafeCell::new(value),
        }
    }

    // ANCHOR: lock
    /// Waits for the lock. Cancel-safe: a dropped `lock` future gives up its
    /// place in the queue and, if the lock was free for it, passes it on.
    ///
    /// ```
    /// let m = runtime::sync::Mutex::new(0);
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     *m.lock().await += 1;
    ///     assert_eq!(*m.lock().await, 1);
    /// });
    /// ```
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        match self.semaphore.acquire().await {
            // The guard stands for the permit from here on: its `Drop` gives
            // it back.
            Ok(permit) => permit.forget(),
            Err(_) => unreachable!("a mutex never closes its semaphore"),
        }
        MutexGuard {
            lock: self,
            _value: PhantomData,
        }
    }
    // ANCHOR_END: lock

    /// Locks if nobody holds or waits for the lock.
    ///
    /// ```
    /// let m = runtime::sync::Mutex::new(0);
    /// let guard = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(guard);
    /// assert!(m.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.semaphore.try_acquire() {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(TryLockError(())),
        }
        Ok(MutexGuard {
            lock: self,
            _value: PhantomData,
        })
    }

    /// [`lock`](Self::lock) for a shared mutex: the guard owns an `Arc` of
    /// it.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let m = Arc::new(runtime::sync::Mutex::new(0));
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut guard = Arc::clone(&m).lock_owned().await;
    ///     runtime::spawn(async move { *guard = 7 }).await.unwrap();
    ///     assert_eq!(*m.lock().await, 7);
    /// });
    /// ```
    pub async fn lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        match self.semaphore.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => unreachable!("a mutex never closes its semaphore"),
        }
        OwnedMutexGuard {
            lock: self,
            _value: PhantomData,
        }
    }

    /// [`try_lock`](Self::try_lock) for a shared mutex.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let m = Arc::new(runtime::sync::Mutex::new(0));
    /// let guard = Arc::clone(&m).try_lock_owned().unwrap();
    /// assert!(Arc::clone(&m).try_lock_owned().is_err());
    /// drop(guard);
    /// ```
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        match self.semaphore.try_acquire() {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(TryLockError(())),
        }
        Ok(OwnedMutexGuard {
            lock: self,
            _value: PhantomData,
        })
    }

    /// The value, through exclusive access to the mutex: no locking needed.
    ///
    /// ```
    /// let mut m = runtime::sync::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The value, consuming the mutex.
    ///
    /// ```
    /// let m = runtime::sync::Mutex::new(vec![1]);
    /// assert_eq!(m.into_inner(), [1]);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }

    /// Gives back the permit a guard stood for.
    fn unlock(&self) {
        self.semaphore.add_permits(1);
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds the mutex's only permit (taken in `lock`
        // or `try_lock`, given back in `drop`), so no other guard exists and
        // nobody else reads or writes the value; the `&T` cannot outlive the
        // borrow of `self`.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` also rules out a `&T` from this
        // same guard being alive.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.unlock();
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T> OwnedMutexGuard<T> {
    /// The mutex this guard locks.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let m = Arc::new(runtime::sync::Mutex::new(()));
    /// let guard = Arc::clone(&m).try_lock_owned().unwrap();
    /// assert!(Arc::ptr_eq(guard.mutex(), &m));
    /// ```
    pub fn mutex(&self) -> &Arc<Mutex<T>> {
        &self.lock
    }
}

impl<T> Deref for OwnedMutexGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: as for `MutexGuard::deref`: this guard holds the only
        // permit until it is dropped.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `MutexGuard::deref_mut`.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.lock.unlock();
    }
}

impl<T: fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::blocking::block_on;
    use crate::sync::blocking::test_waker::{counting_waker, poll, within_deadline};
    use std::pin::pin;
    use std::task::Poll;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn guards_are_send_and_sync_like_std() {
        assert_send_sync::<Mutex<Vec<u8>>>();
        assert_send_sync::<MutexGuard<'static, Vec<u8>>>();
        assert_send_sync::<OwnedMutexGuard<Vec<u8>>>();
    }

    #[test]
    fn the_lock_goes_to_waiters_in_order() {
        let m = Mutex::new(Vec::new());
        let (_, waker) = counting_waker();
        let held = m.try_lock().unwrap();
        let mut a = pin!(m.lock());
        let mut b = pin!(m.lock());
        assert!(poll(a.as_mut(), &waker).is_pending());
        assert!(poll(b.as_mut(), &waker).is_pending());
        drop(held);
        assert!(poll(b.as_mut(), &waker).is_pending(), "b overtook a");
        assert!(m.try_lock().is_err(), "try_lock overtook a");
        let Poll::Ready(mut guard) = poll(a.as_mut(), &waker) else {
            panic!("a not served first");
        };
        guard.push('a');
        drop(guard);
        let Poll::Ready(mut guard) = poll(b.as_mut(), &waker) else {
            panic!("b not served");
        };
        guard.push('b');
        drop(guard);
        assert_eq!(*m.try_lock().unwrap(), ['a', 'b']);
    }

    #[test]
    fn a_dropped_lock_future_passes_the_lock_on() {
        let m = Mutex::new(0);
        let (_, a_waker) = counting_waker();
        let (b_wakes, b_waker) = counting_waker();
        let held = m.try_lock().unwrap();
        let mut a = Box::pin(m.lock());
        let mut b = pin!(m.lock());
        assert!(poll(a.as_mut(), &a_waker).is_pending());
        assert!(poll(b.as_mut(), &b_waker).is_pending());
        drop(held);
        drop(a);
        assert_eq!(b_wakes.count(), 1);
        assert!(poll(b.as_mut(), &b_waker).is_ready());
    }

    #[test]
    fn contended_counter_on_the_multi_thread_runtime() {
        within_deadline(
            "contended_counter_on_the_multi_thread_runtime",
            contended_counter_on_the_multi_thread_runtime_body,
        );
    }

    fn contended_counter_on_the_multi_thread_runtime_body() {
        let tasks = if cfg!(miri) { 4 } else { 16 };
        let rounds = if cfg!(miri) { 10 } else { 500 };
        let rt = crate::Builder::new().worker_threads(4).build().unwrap();
        let counter = Arc::new(Mutex::new(0u64));
        rt.block_on(async {
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    let counter = Arc::clone(&counter);
                    crate::spawn(async move {
                        for _ in 0..rounds {
                            let mut n = counter.lock().await;
                            let seen = *n;
                            crate::task::yield_now().await;
                            *n = seen + 1;
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        });
        assert_eq!(*block_on(counter.lock()), tasks * rounds);
    }

    #[test]
    fn owned_guard_outlives_the_callers_arc() {
        let m = Arc::new(Mutex::new(String::new()));
        let mut guard = block_on(Arc::clone(&m).lock_owned());
        let t = std::thread::spawn(move || guard.push_str("moved"));
        t.join().unwrap();
        assert_eq!(*block_on(m.lock()), "moved");
        assert_eq!(format!("{m:?}"), "Mutex { data: \"moved\" }");
    }
}
