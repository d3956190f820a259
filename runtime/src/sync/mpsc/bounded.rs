//! The bounded channel: senders wait for a free slot.

use std::fmt;
use std::future::poll_fn;
use std::task::{Context, Poll};

use super::error::{SendError, TryRecvError, TrySendError};
use super::Chan;
use crate::primitives::Arc;
use crate::sync::TryAcquireError;

/// A channel that holds at most `capacity` messages: [`Sender::send`] waits
/// while it is full, and waiting senders get their slots in the order they
/// started waiting.
///
/// # Panics
///
/// If `capacity` is 0 (a rendezvous channel is not offered) or exceeds
/// [`Semaphore::MAX_PERMITS`](crate::sync::Semaphore::MAX_PERMITS).
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (tx, mut rx) = runtime::sync::mpsc::channel(1);
///     let producer = runtime::spawn(async move {
///         for i in 0..4 {
///             tx.send(i).await.unwrap(); // waits while the slot is taken
///         }
///     });
///     for i in 0..4 {
///         assert_eq!(rx.recv().await, Some(i));
///     }
///     assert_eq!(rx.recv().await, None);
///     producer.await.unwrap();
/// });
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "mpsc::channel needs a capacity of at least 1");
    let chan = Arc::new(Chan::new(Some(capacity)));
    (
        Sender {
            chan: Arc::clone(&chan),
        },
        Receiver { chan },
    )
}

/// The sending half of a bounded [`channel`]; clone it for more producers.
///
/// ```
/// let (tx, mut rx) = runtime::sync::mpsc::channel(2);
/// let tx2 = tx.clone();
/// tx.try_send("a").unwrap();
/// tx2.try_send("b").unwrap();
/// assert_eq!(rx.try_recv(), Ok("a"));
/// ```
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of a bounded [`channel`].
///
/// ```
/// let (tx, mut rx) = runtime::sync::mpsc::channel(4);
/// tx.try_send(1).unwrap();
/// drop(tx);
/// assert_eq!(rx.blocking_recv(), Some(1));
/// assert_eq!(rx.blocking_recv(), None);
/// ```
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// A reserved slot from [`Sender::reserve`]: [`send`](Self::send) cannot
/// fail for lack of room or wait. Dropping it unused frees the slot.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (tx, mut rx) = runtime::sync::mpsc::channel(1);
///     let permit = tx.reserve().await.unwrap();
///     assert_eq!(tx.capacity(), 0);
///     permit.send("reserved");
///     assert_eq!(rx.recv().await, Some("reserved"));
/// });
/// ```
pub struct Permit<'a, T> {
    chan: &'a Chan<T>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.chan.add_sender();
        Sender {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.capacity())
            .field("max_capacity", &self.max_capacity())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .finish()
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

impl<T> Chan<T> {
    fn slots(&self) -> &crate::sync::Semaphore {
        // A bounded channel always has them; `channel` is the only maker.
        &self.slots.as_ref().expect("a bounded channel has slots").0
    }

    fn max_slots(&self) -> usize {
        self.slots.as_ref().map_or(0, |(_, n)| *n)
    }
}

// ANCHOR: send
impl<T> Sender<T> {
    /// Sends `value`, waiting for a free slot; hands it back in
    /// [`SendError`] if the receiver is gone (also when it goes while we
    /// wait).
    ///
    /// Cancel-safe: until it completes the future holds no slot, only a
    /// place in the queue of waiting senders, which dropping it gives up
    /// (waking the next sender if a slot is free). The message is never
    /// half-sent: if the future is dropped, `value` is dropped with it and
    /// the receiver never sees it.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (tx, mut rx) = runtime::sync::mpsc::channel(1);
    ///     tx.send("hi").await.unwrap();
    ///     assert_eq!(rx.recv().await, Some("hi"));
    ///     drop(rx);
    ///     assert_eq!(tx.send("bye").await.unwrap_err().0, "bye");
    /// });
    /// ```
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        match self.chan.slots().acquire().await {
            // The slot now travels with the message; `recv` frees it.
            Ok(slot) => slot.forget(),
            Err(_closed) => return Err(SendError(value)),
        }
        // No await from here on: the slot and the message cannot be parted
        // by a cancellation.
        self.chan.push(value).map_err(|value| {
            self.chan.release_slot();
            SendError(value)
        })
    }
    // ANCHOR_END: send

    /// Sends `value` if a slot is free right now and no sender is waiting
    /// for one.
    ///
    /// ```
    /// use runtime::sync::mpsc::{channel, error::TrySendError};
    ///
    /// let (tx, _rx) = channel(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.chan.slots().try_acquire() {
            Ok(slot) => slot.forget(),
            Err(TryAcquireError::NoPermits) => return Err(TrySendError::Full(value)),
            Err(TryAcquireError::Closed) => return Err(TrySendError::Closed(value)),
        }
        self.chan.push(value).map_err(|value| {
            self.chan.release_slot();
            TrySendError::Closed(value)
        })
    }

    /// Waits for a free slot and keeps it in a [`Permit`], to send into
    /// later without waiting. Cancel-safe, like [`send`](Self::send).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (tx, rx) = runtime::sync::mpsc::channel::<u8>(1);
    ///     let permit = tx.reserve().await.unwrap();
    ///     drop(permit); // unused: the slot is free again
    ///     assert_eq!(tx.capacity(), 1);
    ///     drop(rx);
    ///     assert!(tx.reserve().await.is_err());
    /// });
    /// ```
    pub async fn reserve(&self) -> Result<Permit<'_, T>, SendError<()>> {
        match self.chan.slots().acquire().await {
            Ok(slot) => slot.forget(),
            Err(_closed) => return Err(SendError(())),
        }
        Ok(Permit { chan: &self.chan })
    }

    /// [`send`](Self::send) for a thread outside async code: parks the
    /// thread until there is room.
    ///
    /// # Panics
    /// On a thread that runs a runtime (inside a task or `block_on`), as in
    /// tokio: it would block that thread. `spawn_blocking` threads and
    /// `task::block_in_place` closures may call it.
    ///
    /// ```
    /// let (tx, mut rx) = runtime::sync::mpsc::channel(1);
    /// let producer = std::thread::spawn(move || {
    ///     tx.blocking_send(1).unwrap();
    ///     tx.blocking_send(2).unwrap(); // waits for the receiver
    /// });
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     assert_eq!(rx.recv().await, Some(1));
    ///     assert_eq!(rx.recv().await, Some(2));
    /// });
    /// producer.join().unwrap();
    /// ```
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        crate::sync::blocking::block_on(self.send(value))
    }

    /// Whether the receiver was dropped or closed.
    ///
    /// ```
    /// let (tx, rx) = runtime::sync::mpsc::channel::<u8>(1);
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Completes once the receiver is dropped or closed. Cancel-safe.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (tx, rx) = runtime::sync::mpsc::channel::<u8>(1);
    ///     runtime::spawn(async move { drop(rx) });
    ///     tx.closed().await;
    ///     assert!(tx.is_closed());
    /// });
    /// ```
    pub async fn closed(&self) {
        self.chan.wait_closed().await;
    }

    /// Free slots right now: `max_capacity` minus queued messages and
    /// unused [`Permit`]s.
    ///
    /// ```
    /// let (tx, _rx) = runtime::sync::mpsc::channel(3);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(tx.capacity(), 2);
    /// ```
    pub fn capacity(&self) -> usize {
        self.chan.slots().available_permits()
    }

    /// The capacity the channel was made with.
    ///
    /// ```
    /// let (tx, _rx) = runtime::sync::mpsc::channel::<()>(3);
    /// assert_eq!(tx.max_capacity(), 3);
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.chan.max_slots()
    }

    /// Whether `self` and `other` send into the same channel.
    ///
    /// ```
    /// let (tx, _rx) = runtime::sync::mpsc::channel::<()>(1);
    /// let (other, _other_rx) = runtime::sync::mpsc::channel::<()>(1);
    /// assert!(tx.same_channel(&tx.clone()));
    /// assert!(!tx.same_channel(&other));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Permit<'_, T> {
    /// Sends `value` into the reserved slot, without waiting. If the
    /// receiver has gone meanwhile, `value` is dropped.
    ///
    /// ```
    /// let (tx, mut rx) = runtime::sync::mpsc::channel(1);
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async { tx.reserve().await.unwrap().send(5) });
    /// assert_eq!(rx.try_recv(), Ok(5));
    /// ```
    pub fn send(self, value: T) {
        let chan = self.chan;
        // The slot goes with the message: skip our `Drop`, which frees it.
        // `Permit` owns nothing else, so forgetting it leaks nothing.
        std::mem::forget(self);
        if chan.push(value).is_err() {
            // Nobody will receive it; free the slot as a receive would.
            chan.release_slot();
        }
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.chan.release_slot();
    }
}

impl<T> Receiver<T> {
    /// The next message, waiting for one; `None` once the channel is closed
    /// (every sender gone, or [`close`](Self::close) called) and empty.
    /// Cancel-safe: a dropped `recv` future has taken nothing.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (tx, mut rx) = runtime::sync::mpsc::channel(1);
    ///     runtime::spawn(async move { tx.send(1).await.unwrap() });
    ///     assert_eq!(rx.recv().await, Some(1));
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// [`recv`](Self::recv) as a poll function, for hand-written futures
    /// and streams. Only the waker of the latest call is woken.
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (tx, mut rx) = runtime::sync::mpsc::channel(1);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(rx.poll_recv(&mut cx).is_pending());
    /// tx.try_send(7).unwrap();
    /// assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(7)));
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.chan.poll_recv(cx)
    }

    /// The next message if one is queued, without waiting.
    ///
    /// ```
    /// use runtime::sync::mpsc::{channel, error::TryRecvError};
    ///
    /// let (tx, mut rx) = channel(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// [`recv`](Self::recv) for a thread outside async code.
    ///
    /// # Panics
    /// On a thread that runs a runtime (inside a task or `block_on`), as in
    /// tokio: it would block that thread. `spawn_blocking` threads and
    /// `task::block_in_place` closures may call it.
    ///
    /// ```
    /// let (tx, mut rx) = runtime::sync::mpsc::channel(1);
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.spawn(async move { tx.send("from a task").await.unwrap() });
    /// assert_eq!(rx.blocking_recv(), Some("from a task"));
    /// ```
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<T> {
        crate::sync::blocking::block_on(self.recv())
    }

    /// Refuses further sends (waiting senders fail at once) while the
    /// messages already queued can still be received.
    ///
    /// ```
    /// let (tx, mut rx) = runtime::sync::mpsc::channel(2);
    /// tx.try_send(1).unwrap();
    /// rx.close();
    /// assert!(tx.try_send(2).is_err());
    /// assert_eq!(rx.blocking_recv(), Some(1));
    /// assert_eq!(rx.blocking_recv(), None);
    /// ```
    pub fn close(&mut self) {
        self.chan.close();
    }

    /// Whether the channel is closed: [`close`](Self::close) was called or
    /// every sender is gone. Messages may still be queued.
    ///
    /// ```
    /// let (tx, rx) = runtime::sync::mpsc::channel::<u8>(1);
    /// assert!(!rx.is_closed());
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_finished()
    }

    /// Messages queued now.
    ///
    /// ```
    /// let (tx, rx) = runtime::sync::mpsc::channel(2);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether no message is queued.
    ///
    /// ```
    /// let (_tx, rx) = runtime::sync::mpsc::channel::<()>(2);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free slots right now.
    ///
    /// ```
    /// let (tx, rx) = runtime::sync::mpsc::channel(2);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(rx.capacity(), 1);
    /// ```
    pub fn capacity(&self) -> usize {
        self.chan.slots().available_permits()
    }

    /// The capacity the channel was made with.
    ///
    /// ```
    /// let (_tx, rx) = runtime::sync::mpsc::channel::<()>(2);
    /// assert_eq!(rx.max_capacity(), 2);
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.chan.max_slots()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}
