//! The synchronisation primitives the runtime itself is built from, in one
//! place (the public async ones users await are in `sync`).
//!
//! Under `cfg(loom)` these names resolve to [loom]'s instrumented versions so that
//! the model tests can explore every interleaving of the lock-free parts (run
//! queue, task state, parking, readiness slots). In a normal build they are the
//! `std` types and cost nothing.
//!
//! The models are unit tests named `loom_*` that live next to the code they
//! check (`executor/queue.rs`, `executor/park.rs`, `executor/idle.rs`,
//! `reactor/scheduled_io.rs`, `task/loom_models.rs`, `cancel.rs`, ...), so they
//! can reach its private items. Run them all with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p runtime --lib --release --target-dir target/loom loom_
//! ```
//!
//! [loom]: https://docs.rs/loom

#[cfg(not(loom))]
pub(crate) use plain::{Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

pub(crate) use std::sync::atomic::Ordering;

/// `UnsafeCell` with the closure-based API loom needs to track accesses.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared raw pointer to the contents.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a mutable raw pointer to the contents.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// Locks a mutex, ignoring poisoning.
///
/// The runtime never panics while holding one of its own locks (user code never
/// runs under them), so a poisoned lock can only mean a panic in a destructor
/// that we already caught; the protected data is still consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(not(loom))]
    {
        m.lock()
    }
    #[cfg(loom)]
    {
        m.lock().unwrap()
    }
}

/// Tries to lock a mutex, ignoring poisoning; `None` if another thread holds it.
///
/// One lock is held while user code runs: the reactor's driver, across the
/// wake loop at the end of a turn. A user waker that panics there poisons it;
/// the driver's state (an event buffer and an empty waker vector) is still
/// sound, and refusing it would leave nobody able to drive the reactor.
pub(crate) fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    #[cfg(not(loom))]
    {
        m.try_lock()
    }
    #[cfg(loom)]
    {
        m.try_lock().ok()
    }
}

/// `std`'s mutex and condition variable with the lock, unlock and wait code
/// compiled once for the crate.
///
/// `std::sync::Mutex<T>` is generic all the way down: every `T` the crate
/// locks (a score of them) got its own copy of `lock`, of the poison
/// bookkeeping and of the guard's `drop` (a thread-local read of the panic
/// count, then the futex release), and LLVM inlined those at each of the
/// hundred-odd lock and unlock sites. Here the lock is a `std::sync::Mutex<()>`
/// taken and released by out-of-line, non-generic functions; the `T` part is
/// only a pointer to the data. Poisoning is ignored, as [`lock`] always did:
/// the runtime never runs user code under its own locks.
///
/// The parts not modelled under loom use these directly (`plain::Mutex`).
pub(crate) mod plain {
    use std::cell::UnsafeCell;
    use std::mem::ManuallyDrop;
    use std::ops::{Deref, DerefMut};
    use std::sync::PoisonError;
    use std::time::Duration;

    /// A mutual-exclusion lock around a `T`, poisoning ignored.
    #[derive(Default)]
    pub(crate) struct Mutex<T> {
        raw: std::sync::Mutex<()>,
        data: UnsafeCell<T>,
    }

    // SAFETY: as for `std::sync::Mutex<T>`: the `T` is reached only through
    // a guard, and the raw lock lets one guard exist at a time, so sharing
    // the mutex hands the `T` from thread to thread (hence `T: Send`), never
    // to two at once.
    unsafe impl<T: Send> Send for Mutex<T> {}
    // SAFETY: as above.
    unsafe impl<T: Send> Sync for Mutex<T> {}

    /// The lock held: derefs to the data; dropping it unlocks.
    pub(crate) struct MutexGuard<'a, T> {
        raw: RawGuard<'a>,
        data: &'a UnsafeCell<T>,
    }

    /// The held `std` lock, released by an out-of-line `drop`.
    struct RawGuard<'a>(ManuallyDrop<std::sync::MutexGuard<'a, ()>>);

    impl Drop for RawGuard<'_> {
        #[inline(never)]
        fn drop(&mut self) {
            // SAFETY: the guard is dropped only here, once; `Condvar::wait`
            // takes it out of a `RawGuard` whose own drop it skips.
            unsafe { ManuallyDrop::drop(&mut self.0) }
        }
    }

    impl RawGuard<'_> {
        /// The `std` guard, leaving nothing for this one's `drop`.
        fn into_std<'a>(self) -> std::sync::MutexGuard<'a, ()>
        where
            Self: 'a,
        {
            let mut this = ManuallyDrop::new(self);
            // SAFETY: `this` is never dropped, so the guard is taken once.
            unsafe { ManuallyDrop::take(&mut this.0) }
        }
    }

    #[inline(never)]
    fn raw_lock(raw: &std::sync::Mutex<()>) -> RawGuard<'_> {
        RawGuard(ManuallyDrop::new(
            raw.lock().unwrap_or_else(PoisonError::into_inner),
        ))
    }

    #[inline(never)]
    fn raw_try_lock(raw: &std::sync::Mutex<()>) -> Option<RawGuard<'_>> {
        match raw.try_lock() {
            Ok(guard) => Some(RawGuard(ManuallyDrop::new(guard))),
            Err(std::sync::TryLockError::Poisoned(p)) => {
                Some(RawGuard(ManuallyDrop::new(p.into_inner())))
            }
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Mutex<T> {
            Mutex {
                raw: std::sync::Mutex::new(()),
                data: UnsafeCell::new(value),
            }
        }

        /// Waits for the lock.
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard {
                raw: raw_lock(&self.raw),
                data: &self.data,
            }
        }

        /// The lock if it is free now.
        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            Some(MutexGuard {
                raw: raw_try_lock(&self.raw)?,
                data: &self.data,
            })
        }

        pub(crate) fn into_inner(self) -> T {
            self.data.into_inner()
        }
    }

    impl<T: std::fmt::Debug> std::fmt::Debug for Mutex<T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let mut d = f.debug_struct("Mutex");
            match self.try_lock() {
                Some(guard) => d.field("data", &&*guard),
                None => d.field("data", &format_args!("<locked>")),
            };
            d.finish_non_exhaustive()
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;

        fn deref(&self) -> &T {
            // SAFETY: the guard holds the lock, so no `&mut T` exists
            // elsewhere for as long as this borrow of the guard.
            unsafe { &*self.data.get() }
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: the guard holds the lock and is borrowed mutably, so
            // this is the only reference to the `T`.
            unsafe { &mut *self.data.get() }
        }
    }

    /// A condition variable for [`Mutex`].
    #[derive(Default)]
    pub(crate) struct Condvar(std::sync::Condvar);

    impl Condvar {
        pub(crate) const fn new() -> Condvar {
            Condvar(std::sync::Condvar::new())
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }

        /// Unlocks, sleeps until notified (or spuriously), locks again.
        pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            MutexGuard {
                raw: self.wait_raw(guard.raw, None).0,
                data: guard.data,
            }
        }

        /// [`wait`](Self::wait) for at most `timeout`; `true` if it timed out.
        pub(crate) fn wait_timeout<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            timeout: Duration,
        ) -> (MutexGuard<'a, T>, bool) {
            let (raw, timed_out) = self.wait_raw(guard.raw, Some(timeout));
            let guard = MutexGuard {
                raw,
                data: guard.data,
            };
            (guard, timed_out)
        }

        #[inline(never)]
        fn wait_raw<'a>(
            &self,
            raw: RawGuard<'a>,
            timeout: Option<Duration>,
        ) -> (RawGuard<'a>, bool) {
            let guard = raw.into_std();
            let (guard, timed_out) = match timeout {
                None => (
                    self.0.wait(guard).unwrap_or_else(PoisonError::into_inner),
                    false,
                ),
                Some(t) => {
                    let (g, r) = self
                        .0
                        .wait_timeout(guard, t)
                        .unwrap_or_else(PoisonError::into_inner);
                    (g, r.timed_out())
                }
            };
            (RawGuard(ManuallyDrop::new(guard)), timed_out)
        }
    }

    #[cfg(test)]
    mod tests {
        use std::sync::Arc;
        use std::time::Duration;

        use super::{Condvar, Mutex};

        #[test]
        fn lock_excludes_and_unlocks() {
            let m = Mutex::new(1);
            let mut g = m.lock();
            *g += 1;
            assert!(m.try_lock().is_none(), "held");
            drop(g);
            assert_eq!(*m.try_lock().expect("released"), 2);
            assert_eq!(m.into_inner(), 2);
        }

        #[test]
        fn a_panic_under_the_lock_does_not_lock_it_out() {
            let m = Arc::new(Mutex::new(0));
            let m2 = m.clone();
            let r = std::thread::spawn(move || {
                let _g = m2.lock();
                panic!("poison it");
            })
            .join();
            assert!(r.is_err());
            *m.lock() += 1;
            assert_eq!(*m.try_lock().unwrap(), 1);
        }

        #[test]
        fn condvar_wait_gets_the_lock_back() {
            let pair = Arc::new((Mutex::new(false), Condvar::new()));
            let p2 = pair.clone();
            let t = std::thread::spawn(move || {
                *p2.0.lock() = true;
                p2.1.notify_all();
            });
            let mut ready = pair.0.lock();
            while !*ready {
                ready = pair.1.wait(ready);
            }
            drop(ready);
            t.join().unwrap();
            let (g, timed_out) = pair.1.wait_timeout(pair.0.lock(), Duration::from_millis(1));
            assert!(timed_out && *g);
        }
    }
}
