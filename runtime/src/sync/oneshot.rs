//! A channel for exactly one value: [`channel`] gives a [`Sender`] and a
//! [`Receiver`] (tokio's `sync::oneshot`).
//!
//! The receiver is a future that resolves to the value, or to [`RecvError`]
//! when the sender is dropped without sending. Either side notices when the
//! other is gone: [`Sender::send`] hands the value back if the receiver was
//! dropped or closed, and [`Sender::closed`] waits for that.
//!
//! ```
//! use runtime::sync::oneshot;
//!
//! let rt = runtime::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let (tx, rx) = oneshot::channel();
//!     runtime::spawn(async move {
//!         let _ = tx.send(6 * 7);
//!     });
//!     assert_eq!(rx.await, Ok(42));
//! });
//! ```

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::primitives::{lock, Arc, Mutex};

pub mod error {
    //! The errors of a [`oneshot`](super) channel.

    use std::fmt;

    /// The [`Sender`](super::Sender) was dropped without sending: what awaiting a
    /// [`Receiver`](super::Receiver) gives instead of a value.
    ///
    /// ```
    /// let (tx, rx) = runtime::sync::oneshot::channel::<u8>();
    /// drop(tx);
    /// let err: runtime::sync::oneshot::error::RecvError = rx.blocking_recv().unwrap_err();
    /// assert_eq!(err.to_string(), "channel closed");
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RecvError(pub(super) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl std::error::Error for RecvError {}

    /// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no value.
    ///
    /// ```
    /// use runtime::sync::oneshot::{self, error::TryRecvError};
    ///
    /// let (tx, mut rx) = oneshot::channel::<u8>();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum TryRecvError {
        /// Nothing sent yet, and the sender is still there.
        Empty,
        /// The sender was dropped without sending, or the value was taken already.
        Closed,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(match self {
                TryRecvError::Empty => "channel empty",
                TryRecvError::Closed => "channel closed",
            })
        }
    }

    impl std::error::Error for TryRecvError {}
}

use error::{RecvError, TryRecvError};

/// A new channel: the sending half and the receiving half.
///
/// ```
/// let (tx, rx) = runtime::sync::oneshot::channel();
/// tx.send("done").unwrap();
/// assert_eq!(rx.blocking_recv(), Ok("done"));
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Mutex::new(State {
        value: None,
        sender_done: false,
        receiver_closed: false,
        receiver_waker: None,
        sender_waker: None,
    }));
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver { shared },
    )
}

// ANCHOR: state
/// Everything both halves share, behind one lock: no atomics to reason about.
struct State<T> {
    /// The value, from `send` until the receiver takes it.
    value: Option<T>,
    /// The sender sent or was dropped: no value will come after this.
    sender_done: bool,
    /// The receiver called `close` or was dropped: `send` will be refused.
    receiver_closed: bool,
    /// Who to wake when `sender_done` becomes true (the receiver's task).
    receiver_waker: Option<Waker>,
    /// Who to wake when `receiver_closed` becomes true (`Sender::closed`).
    sender_waker: Option<Waker>,
}
// ANCHOR_END: state

/// The sending half of a [`channel`]: consumed by [`send`](Self::send).
/// Dropping it without sending makes the receiver resolve to [`RecvError`].
///
/// ```
/// let (tx, rx) = runtime::sync::oneshot::channel::<u8>();
/// assert!(!tx.is_closed());
/// drop(rx);
/// assert!(tx.is_closed());
/// ```
pub struct Sender<T> {
    shared: Arc<Mutex<State<T>>>,
}

/// The receiving half of a [`channel`]: a future of `Result<T, RecvError>`.
///
/// Awaiting it again after it resolved gives `Err(RecvError)`: the value is
/// handed out once.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// let (tx, rx) = runtime::sync::oneshot::channel();
/// std::thread::spawn(move || tx.send(String::from("hi")).unwrap());
/// assert_eq!(rt.block_on(rx).unwrap(), "hi");
/// ```
pub struct Receiver<T> {
    shared: Arc<Mutex<State<T>>>,
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("is_closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

// ANCHOR: send
impl<T> Sender<T> {
    /// Sends `value`, waking the receiver. Gives the value back if the
    /// receiver was dropped or [`close`](Receiver::close)d; it is never lost
    /// silently.
    ///
    /// ```
    /// let (tx, rx) = runtime::sync::oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(7), Err(7));
    /// ```
    pub fn send(self, value: T) -> Result<(), T> {
        let waker = {
            let mut state = lock(&self.shared);
            if state.receiver_closed {
                return Err(value);
            }
            state.value = Some(value);
            state.sender_done = true;
            state.receiver_waker.take()
        };
        // Woken after unlocking: the receiver may run on another thread at
        // once and its first move is to take this lock.
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
        // Our `Drop` sees `sender_done` and does nothing more.
    }
    // ANCHOR_END: send

    /// Whether the receiver was dropped or closed, so that a `send` would fail.
    ///
    /// ```
    /// let (tx, mut rx) = runtime::sync::oneshot::channel::<u8>();
    /// rx.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        lock(&self.shared).receiver_closed
    }

    /// Polls for the receiver going away; [`closed`](Self::closed) as a poll
    /// function, for hand-written futures. Only the waker of the latest call
    /// is woken.
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (mut tx, rx) = runtime::sync::oneshot::channel::<u8>();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(tx.poll_closed(&mut cx).is_pending());
    /// drop(rx);
    /// assert!(tx.poll_closed(&mut cx).is_ready());
    /// ```
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = lock(&self.shared);
        if state.receiver_closed {
            return Poll::Ready(());
        }
        if !matches!(&state.sender_waker, Some(w) if w.will_wake(cx.waker())) {
            state.sender_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Completes once the receiver is dropped or closed: lets a producer stop
    /// computing a value nobody will read. Cancel-safe.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (mut tx, rx) = runtime::sync::oneshot::channel::<u8>();
    ///     runtime::spawn(async move { drop(rx) });
    ///     tx.closed().await;
    ///     assert!(tx.send(1).is_err());
    /// });
    /// ```
    pub async fn closed(&mut self) {
        poll_fn(|cx| self.poll_closed(cx)).await;
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = lock(&self.shared);
            if state.sender_done {
                return;
            }
            state.sender_done = true;
            state.receiver_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it is there, without waiting.
    ///
    /// ```
    /// let (tx, mut rx) = runtime::sync::oneshot::channel();
    /// tx.send(3).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(3));
    /// // Taken: the channel is spent.
    /// assert!(rx.try_recv().is_err());
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut state = lock(&self.shared);
        match state.value.take() {
            Some(value) => Ok(value),
            None if state.sender_done => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Refuses any future `send` (it hands the value back) and wakes
    /// [`Sender::closed`]. A value sent before the call can still be
    /// received.
    ///
    /// ```
    /// let (tx, mut rx) = runtime::sync::oneshot::channel();
    /// rx.close();
    /// assert_eq!(tx.send(1), Err(1));
    /// assert!(rx.try_recv().is_err());
    /// ```
    pub fn close(&mut self) {
        let waker = {
            let mut state = lock(&self.shared);
            state.receiver_closed = true;
            state.sender_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Waits for the value on a thread that is not running async code (from
    /// `std::thread::spawn` or `spawn_blocking`), parking the thread.
    ///
    /// # Panics
    /// On a thread that runs a runtime (inside a task or `block_on`), as in
    /// tokio: it would block that thread, and on a current-thread runtime the
    /// sender could then never run. `spawn_blocking` threads and
    /// `task::block_in_place` closures may call it.
    ///
    /// ```
    /// let (tx, rx) = runtime::sync::oneshot::channel();
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.spawn(async move { tx.send(9).unwrap() });
    /// assert_eq!(rx.blocking_recv(), Ok(9));
    /// ```
    #[track_caller]
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        super::blocking::block_on(self)
    }
}

// ANCHOR: recv
impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Checking and registering happen under the same lock that `send`
        // takes to store the value, so `send` either comes before the check
        // (we see the value) or after the registration (it wakes us).
        let mut state = lock(&self.shared);
        if let Some(value) = state.value.take() {
            return Poll::Ready(Ok(value));
        }
        if state.sender_done {
            return Poll::Ready(Err(RecvError(())));
        }
        if !matches!(&state.receiver_waker, Some(w) if w.will_wake(cx.waker())) {
            state.receiver_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}
// ANCHOR_END: recv

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let (value, waker) = {
            let mut state = lock(&self.shared);
            state.receiver_closed = true;
            (state.value.take(), state.sender_waker.take())
        };
        // The unread value's destructor is user code: run it unlocked.
        drop(value);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::blocking::test_waker::{counting_waker, within_deadline};

    #[test]
    fn send_then_receive() {
        let (tx, rx) = channel();
        tx.send(5).unwrap();
        assert_eq!(super::super::blocking::block_on(rx), Ok(5));
    }

    #[test]
    fn send_wakes_a_waiting_receiver_once() {
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = channel();
        assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
        assert_eq!(counter.count(), 0);
        tx.send("x").unwrap();
        assert_eq!(counter.count(), 1);
        assert_eq!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(Ok("x")));
        // Spent: a second poll reports the channel closed instead of hanging.
        assert_eq!(
            Pin::new(&mut rx).poll(&mut cx),
            Poll::Ready(Err(RecvError(())))
        );
    }

    #[test]
    fn dropped_sender_wakes_receiver_with_error() {
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = channel::<u8>();
        assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
        drop(tx);
        assert_eq!(counter.count(), 1);
        assert_eq!(
            Pin::new(&mut rx).poll(&mut cx),
            Poll::Ready(Err(RecvError(())))
        );
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }

    #[test]
    fn send_to_dropped_or_closed_receiver_returns_the_value() {
        let (tx, rx) = channel();
        drop(rx);
        assert_eq!(tx.send(vec![1]), Err(vec![1]));
        let (tx, mut rx) = channel();
        rx.close();
        assert_eq!(tx.send(2), Err(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }

    #[test]
    fn value_sent_before_close_is_still_received() {
        let (tx, mut rx) = channel();
        tx.send(1).unwrap();
        rx.close();
        assert_eq!(rx.try_recv(), Ok(1));
    }

    #[test]
    fn closed_wakes_on_receiver_drop_and_close() {
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let (mut tx, rx) = channel::<u8>();
        assert!(tx.poll_closed(&mut cx).is_pending());
        drop(rx);
        assert_eq!(counter.count(), 1);
        assert!(tx.poll_closed(&mut cx).is_ready());

        let (mut tx, mut rx) = channel::<u8>();
        assert!(tx.poll_closed(&mut cx).is_pending());
        rx.close();
        assert_eq!(counter.count(), 2);
        assert!(tx.is_closed());
    }

    #[test]
    fn unread_value_is_dropped_with_the_receiver() {
        let value = std::sync::Arc::new(());
        let (tx, rx) = channel();
        tx.send(std::sync::Arc::clone(&value)).unwrap();
        assert_eq!(std::sync::Arc::strong_count(&value), 2);
        drop(rx);
        assert_eq!(std::sync::Arc::strong_count(&value), 1);
    }

    #[test]
    fn across_threads_on_both_flavours() {
        within_deadline(
            "across_threads_on_both_flavours",
            across_threads_on_both_flavours_body,
        );
    }

    fn across_threads_on_both_flavours_body() {
        for rt in [
            crate::Builder::new().worker_threads(2).build().unwrap(),
            crate::Builder::new_current_thread().build().unwrap(),
        ] {
            let got = rt.block_on(async {
                let (tx, rx) = channel();
                let sender = std::thread::spawn(move || tx.send(11).unwrap());
                let got = rx.await;
                sender.join().unwrap();
                got
            });
            assert_eq!(got, Ok(11));
        }
        let (tx, rx) = channel();
        std::thread::spawn(move || tx.send(12).unwrap());
        assert_eq!(rx.blocking_recv(), Ok(12));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::blocking::loom_waker::Flag;

    /// `send` racing the receiver's drop: the value is either handed back to
    /// the sender or dropped with the receiver, exactly once, never both.
    #[test]
    fn loom_sync_oneshot_send_vs_receiver_drop() {
        loom::model(|| {
            let value = std::sync::Arc::new(());
            let (tx, rx) = channel();
            let sent = std::sync::Arc::clone(&value);
            let sender = loom::thread::spawn(move || tx.send(sent).err());
            drop(rx);
            // A refused send hands the value back; an accepted one left it
            // for the receiver's drop. Either way exactly one copy was out.
            if let Some(returned) = sender.join().unwrap() {
                assert_eq!(std::sync::Arc::strong_count(&value), 2);
                drop(returned);
            }
            assert_eq!(std::sync::Arc::strong_count(&value), 1);
        });
    }

    /// A receiver polled while the value arrives either gets it or is woken.
    #[test]
    fn loom_sync_oneshot_send_vs_receive() {
        loom::model(|| {
            let (tx, mut rx) = channel();
            let sender = loom::thread::spawn(move || tx.send(1).unwrap());
            let woken = std::sync::Arc::new(Flag::default());
            let waker = Waker::from(std::sync::Arc::clone(&woken));
            let mut cx = Context::from_waker(&waker);
            let first = Pin::new(&mut rx).poll(&mut cx);
            sender.join().unwrap();
            if first.is_pending() {
                assert!(woken.is_set(), "pending but never woken");
                assert_eq!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(Ok(1)));
            } else {
                assert_eq!(first, Poll::Ready(Ok(1)));
            }
        });
    }
}
