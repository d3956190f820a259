//! Async channels, a notifier, a semaphore and a lock, in tokio's shapes
//! (`tokio::sync`'s names and semantics; feature `sync`).
//!
//! They are built on nothing but [`Waker`](std::task::Waker)s and a lock, so
//! they run on any executor, not only this runtime's: a `oneshot` can carry a
//! result from a task of ours to a thread blocked in
//! `futures::executor::block_on`. Waiting is first come, first served
//! (senders waiting for room in a bounded channel, `Semaphore::acquire`,
//! `Mutex::lock`), and every waiting future is cancel-safe: dropping it
//! gives back whatever it had reserved and passes its turn on.
//!
//! ```
//! use runtime::sync::{mpsc, oneshot};
//!
//! let rt = runtime::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let (tx, mut rx) = mpsc::channel(8);
//!     let (done_tx, done_rx) = oneshot::channel();
//!     runtime::spawn(async move {
//!         let mut sum = 0;
//!         while let Some(n) = rx.recv().await {
//!             sum += n;
//!         }
//!         let _ = done_tx.send(sum);
//!     });
//!     for n in 1..=10 {
//!         tx.send(n).await.unwrap();
//!     }
//!     drop(tx);
//!     assert_eq!(done_rx.await, Ok(55));
//! });
//! ```

mod blocking;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod semaphore;

pub use mutex::{Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};
