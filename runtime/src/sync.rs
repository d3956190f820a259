//! The synchronisation primitives the runtime is built from, in one place.
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
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

pub(crate) use std::sync::atomic::Ordering;

// The public primitives (feature `sync`); everything above stays internal.
#[cfg(feature = "sync")]
mod blocking;
#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
pub mod mpsc;
#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
pub mod mutex;
#[cfg(feature = "sync")]
mod notify;
#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
pub mod oneshot;
#[cfg(feature = "sync")]
mod semaphore;
#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
pub use notify::{Notified, Notify};
#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};

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
        m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
    match m.try_lock() {
        Ok(guard) => Some(guard),
        #[cfg(not(loom))]
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(_) => None,
    }
}
