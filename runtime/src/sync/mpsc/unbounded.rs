//! The unbounded channel: sending never waits (memory is the limit).

use std::fmt;
use std::future::poll_fn;
use std::task::{Context, Poll};

use super::error::{SendError, TryRecvError};
use super::Chan;
use crate::primitives::Arc;

/// A channel with no bound: [`UnboundedSender::send`] is a plain function
/// that never waits. Use it when the producer must not block and the
/// consumer is known to keep up; otherwise prefer [`channel`](super::channel).
///
/// ```
/// let (tx, mut rx) = runtime::sync::mpsc::unbounded_channel();
/// for i in 0..1000 {
///     tx.send(i).unwrap();
/// }
/// assert_eq!(rx.len(), 1000);
/// assert_eq!(rx.try_recv(), Ok(0));
/// ```
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let chan = Arc::new(Chan::new(None));
    (
        UnboundedSender {
            chan: Arc::clone(&chan),
        },
        UnboundedReceiver { chan },
    )
}

/// The sending half of an [`unbounded_channel`]; clone it for more producers.
///
/// ```
/// let (tx, mut rx) = runtime::sync::mpsc::unbounded_channel();
/// std::thread::spawn(move || tx.send("from a thread").unwrap());
/// assert_eq!(rx.blocking_recv(), Some("from a thread"));
/// ```
pub struct UnboundedSender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of an [`unbounded_channel`].
///
/// ```
/// let (tx, mut rx) = runtime::sync::mpsc::unbounded_channel();
/// tx.send(1).unwrap();
/// drop(tx);
/// let rt = runtime::Runtime::new().unwrap();
/// assert_eq!(rt.block_on(rx.recv()), Some(1));
/// assert_eq!(rt.block_on(rx.recv()), None);
/// ```
pub struct UnboundedReceiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> UnboundedSender<T> {
        self.chan.add_sender();
        UnboundedSender {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> Drop for UnboundedReceiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender")
            .field("is_closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedReceiver")
            .field("len", &self.len())
            .finish()
    }
}

impl<T> UnboundedSender<T> {
    /// Queues `value` and wakes the receiver; hands it back if the receiver
    /// is gone.
    ///
    /// ```
    /// let (tx, rx) = runtime::sync::mpsc::unbounded_channel();
    /// assert!(tx.send(1).is_ok());
    /// drop(rx);
    /// assert_eq!(tx.send(2).unwrap_err().0, 2);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.push(value).map_err(SendError)
    }

    /// Whether the receiver was dropped or closed.
    ///
    /// ```
    /// let (tx, mut rx) = runtime::sync::mpsc::unbounded_channel::<()>();
    /// rx.close();
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
    ///     let (tx, rx) = runtime::sync::mpsc::unbounded_channel::<()>();
    ///     runtime::spawn(async move { drop(rx) });
    ///     tx.closed().await;
    /// });
    /// ```
    pub async fn closed(&self) {
        self.chan.wait_closed().await;
    }

    /// Whether `self` and `other` send into the same channel.
    ///
    /// ```
    /// let (tx, _rx) = runtime::sync::mpsc::unbounded_channel::<()>();
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &UnboundedSender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> UnboundedReceiver<T> {
    /// The next message, waiting for one; `None` once the channel is closed
    /// and empty. Cancel-safe.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (tx, mut rx) = runtime::sync::mpsc::unbounded_channel();
    ///     runtime::spawn(async move { tx.send("x").unwrap() });
    ///     assert_eq!(rx.recv().await, Some("x"));
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// [`recv`](Self::recv) as a poll function.
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (tx, mut rx) = runtime::sync::mpsc::unbounded_channel::<u8>();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(rx.poll_recv(&mut cx).is_pending());
    /// drop(tx);
    /// assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.chan.poll_recv(cx)
    }

    /// The next message if one is queued, without waiting.
    ///
    /// ```
    /// let (tx, mut rx) = runtime::sync::mpsc::unbounded_channel();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(2));
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
    /// let (tx, mut rx) = runtime::sync::mpsc::unbounded_channel::<u8>();
    /// drop(tx);
    /// assert_eq!(rx.blocking_recv(), None);
    /// ```
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<T> {
        crate::sync::blocking::block_on(self.recv())
    }

    /// Refuses further sends; queued messages can still be received.
    ///
    /// ```
    /// let (tx, mut rx) = runtime::sync::mpsc::unbounded_channel();
    /// tx.send(1).unwrap();
    /// rx.close();
    /// assert!(tx.send(2).is_err());
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn close(&mut self) {
        self.chan.close();
    }

    /// Whether the channel is closed: [`close`](Self::close) was called or
    /// every sender is gone.
    ///
    /// ```
    /// let (tx, rx) = runtime::sync::mpsc::unbounded_channel::<()>();
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_finished()
    }

    /// Messages queued now.
    ///
    /// ```
    /// let (tx, rx) = runtime::sync::mpsc::unbounded_channel();
    /// tx.send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether no message is queued.
    ///
    /// ```
    /// let (_tx, rx) = runtime::sync::mpsc::unbounded_channel::<()>();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
