//! Multi-producer, single-consumer channels (tokio's `sync::mpsc`): a
//! [bounded](channel) one whose senders wait for room, and an
//! [unbounded](unbounded_channel) one whose senders never wait.
//!
//! Messages arrive in the order they were sent (per sender; the order
//! between senders is the order they got into the queue). The receiver gets
//! `None` once every sender is gone and the buffer is empty: messages sent
//! before the last sender dropped are always delivered. Dropping or
//! [closing](Receiver::close) the receiver makes every later send fail and
//! hand its message back.
//!
//! ```
//! use runtime::sync::mpsc;
//!
//! let rt = runtime::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let (tx, mut rx) = mpsc::channel(8);
//!     for id in 0..3 {
//!         let tx = tx.clone();
//!         runtime::spawn(async move {
//!             tx.send(id).await.unwrap();
//!         });
//!     }
//!     drop(tx); // the tasks hold the only senders now
//!     let mut got = Vec::new();
//!     while let Some(id) = rx.recv().await {
//!         got.push(id);
//!     }
//!     got.sort();
//!     assert_eq!(got, [0, 1, 2]);
//! });
//! ```

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use crate::primitives::{lock, Mutex};
use crate::sync::{Notify, Semaphore};

mod bounded;
pub mod error;
mod unbounded;

pub use bounded::{channel, Permit, Receiver, Sender};
pub use unbounded::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use error::TryRecvError;

// ANCHOR: chan
/// What the two ends share. The queue and the bookkeeping sit behind one
/// lock; a bounded channel's free slots are a [`Semaphore`], which gives
/// waiting senders their FIFO order and cancel safety.
struct Chan<T> {
    state: Mutex<ChanState<T>>,
    /// Free slots of a bounded channel (a send takes one, a receive gives
    /// one back), with the capacity it started with; `None` if unbounded.
    slots: Option<(Semaphore, usize)>,
    /// Woken (`notify_waiters`) when the receiver closes.
    closed: Notify,
}

struct ChanState<T> {
    queue: VecDeque<T>,
    senders: usize,
    /// The receiver closed or dropped: sends are refused.
    receiver_closed: bool,
    receiver_waker: Option<Waker>,
}
// ANCHOR_END: chan

impl<T> Chan<T> {
    fn new(slots: Option<usize>) -> Chan<T> {
        Chan {
            state: Mutex::new(ChanState {
                queue: VecDeque::new(),
                senders: 1,
                receiver_closed: false,
                receiver_waker: None,
            }),
            slots: slots.map(|n| (Semaphore::new(n), n)),
            closed: Notify::new(),
        }
    }

    /// Appends `value` (its slot, if bounded, already taken) and wakes the
    /// receiver; hands the value back if the receiver is gone.
    fn push(&self, value: T) -> Result<(), T> {
        let waker = {
            let mut state = lock(&self.state);
            if state.receiver_closed {
                return Err(value);
            }
            state.queue.push_back(value);
            state.receiver_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Gives a taken slot back (a message left, or a reservation was
    /// dropped unused).
    fn release_slot(&self) {
        if let Some((slots, _)) = &self.slots {
            slots.add_permits(1);
        }
    }

    // ANCHOR: poll_recv
    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = lock(&self.state);
        if let Some(value) = state.queue.pop_front() {
            drop(state);
            self.release_slot();
            return Poll::Ready(Some(value));
        }
        if state.senders == 0 || state.receiver_closed {
            return Poll::Ready(None);
        }
        // Under the lock `push` and the last sender's drop take: they come
        // either before the checks above or after this, and then wake us.
        if !matches!(&state.receiver_waker, Some(w) if w.will_wake(cx.waker())) {
            state.receiver_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
    // ANCHOR_END: poll_recv

    fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = lock(&self.state);
        match state.queue.pop_front() {
            Some(value) => {
                drop(state);
                self.release_slot();
                Ok(value)
            }
            None if state.senders == 0 || state.receiver_closed => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    fn close(&self) {
        lock(&self.state).receiver_closed = true;
        // Senders waiting for a slot fail now instead of waiting forever.
        if let Some((slots, _)) = &self.slots {
            slots.close();
        }
        self.closed.notify_waiters();
    }

    fn is_closed(&self) -> bool {
        lock(&self.state).receiver_closed
    }

    async fn wait_closed(&self) {
        // Created before the check: a `close` between the check and the
        // await still completes it (see `Notify::notify_waiters`).
        let closed = self.closed.notified();
        if self.is_closed() {
            return;
        }
        closed.await;
    }

    /// The receiver's view: nothing more can arrive once the queue is
    /// empty.
    fn is_finished(&self) -> bool {
        let state = lock(&self.state);
        state.receiver_closed || state.senders == 0
    }

    fn len(&self) -> usize {
        lock(&self.state).queue.len()
    }

    fn add_sender(&self) {
        lock(&self.state).senders += 1;
    }

    fn drop_sender(&self) {
        let waker = {
            let mut state = lock(&self.state);
            state.senders -= 1;
            if state.senders > 0 {
                return;
            }
            // The last one: a waiting receiver must see the end.
            state.receiver_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn drop_receiver(&self) {
        self.close();
        // Unread messages die with the receiver; their destructors are user
        // code, so run them unlocked. `push` refuses everything from here on.
        let unread = std::mem::take(&mut lock(&self.state).queue);
        drop(unread);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::blocking::block_on;
    use crate::sync::blocking::test_waker::{counting_waker, poll, within_deadline};
    use error::{SendError, TrySendError};
    use std::pin::pin;

    #[test]
    fn messages_sent_before_the_last_sender_drops_are_delivered_in_order() {
        let (tx, mut rx) = channel(4);
        let tx2 = tx.clone();
        tx.try_send(1).unwrap();
        tx2.try_send(2).unwrap();
        tx.try_send(3).unwrap();
        drop((tx, tx2));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(block_on(rx.recv()), Some(2));
        assert_eq!(block_on(rx.recv()), Some(3));
        assert_eq!(block_on(rx.recv()), None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));

        let (tx, mut rx) = unbounded_channel();
        tx.send("a").unwrap();
        drop(tx);
        assert_eq!(block_on(rx.recv()), Some("a"));
        assert_eq!(block_on(rx.recv()), None);
    }

    #[test]
    fn a_waiting_receiver_is_woken_by_send_and_by_the_last_sender_drop() {
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = channel(1);
        assert!(rx.poll_recv(&mut cx).is_pending());
        tx.try_send(1).unwrap();
        assert_eq!(counter.count(), 1);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(1)));
        assert!(rx.poll_recv(&mut cx).is_pending());
        let tx2 = tx.clone();
        drop(tx);
        assert_eq!(counter.count(), 1, "woken while a sender remains");
        drop(tx2);
        assert_eq!(counter.count(), 2);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
    }

    #[test]
    fn waiting_senders_get_slots_in_order() {
        let (tx, mut rx) = channel(1);
        let (a_wakes, a_waker) = counting_waker();
        let (b_wakes, b_waker) = counting_waker();
        tx.try_send(0).unwrap();
        let mut a = pin!(tx.send(1));
        let mut b = pin!(tx.send(2));
        assert!(poll(a.as_mut(), &a_waker).is_pending());
        assert!(poll(b.as_mut(), &b_waker).is_pending());
        assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
        assert_eq!(rx.try_recv(), Ok(0));
        assert_eq!((a_wakes.count(), b_wakes.count()), (1, 0));
        // The freed slot is `a`'s even if `b` is polled first.
        assert!(poll(b.as_mut(), &b_waker).is_pending());
        assert_eq!(
            tx.try_send(9),
            Err(TrySendError::Full(9)),
            "try_send jumped the queue"
        );
        assert_eq!(poll(a.as_mut(), &a_waker), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(b_wakes.count(), 1);
        assert_eq!(poll(b.as_mut(), &b_waker), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(2));
    }

    #[test]
    fn a_dropped_send_future_loses_no_slot_and_wakes_the_next_sender() {
        let (tx, mut rx) = channel(1);
        let (_, a_waker) = counting_waker();
        let (b_wakes, b_waker) = counting_waker();
        tx.try_send(0).unwrap();
        let mut a = Box::pin(tx.send(1));
        let mut b = pin!(tx.send(2));
        assert!(poll(a.as_mut(), &a_waker).is_pending());
        assert!(poll(b.as_mut(), &b_waker).is_pending());
        assert_eq!(rx.try_recv(), Ok(0));
        // `a` was woken for the free slot but is cancelled before using it.
        drop(a);
        assert_eq!(b_wakes.count(), 1, "the next sender was not woken");
        assert_eq!(poll(b.as_mut(), &b_waker), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(
            rx.try_recv(),
            Err(TryRecvError::Empty),
            "a cancelled send delivered"
        );
        assert_eq!(tx.capacity(), 1, "a slot leaked");
    }

    #[test]
    fn close_fails_waiting_and_later_sends_but_keeps_queued_messages() {
        let (tx, mut rx) = channel(1);
        let (counter, waker) = counting_waker();
        tx.try_send(1).unwrap();
        let mut waiting = pin!(tx.send(2));
        assert!(poll(waiting.as_mut(), &waker).is_pending());
        let mut closed = pin!(tx.closed());
        assert!(poll(closed.as_mut(), &waker).is_pending());
        rx.close();
        assert_eq!(counter.count(), 2);
        assert_eq!(
            poll(waiting.as_mut(), &waker),
            Poll::Ready(Err(SendError(2)))
        );
        assert!(poll(closed.as_mut(), &waker).is_ready());
        assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
        assert_eq!(block_on(tx.send(4)), Err(SendError(4)));
        assert!(tx.is_closed());
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn dropping_the_receiver_drops_queued_messages_and_refuses_sends() {
        let value = std::sync::Arc::new(());
        let (tx, rx) = unbounded_channel();
        tx.send(std::sync::Arc::clone(&value)).unwrap();
        drop(rx);
        assert_eq!(std::sync::Arc::strong_count(&value), 1);
        let back = tx.send(std::sync::Arc::clone(&value)).unwrap_err().0;
        assert!(std::sync::Arc::ptr_eq(&back, &value));
    }

    #[test]
    fn an_unused_permit_frees_its_slot() {
        let (tx, mut rx) = channel::<u8>(1);
        let permit = block_on(tx.reserve()).unwrap();
        assert_eq!(tx.capacity(), 0);
        assert!(tx.try_send(1).is_err());
        drop(permit);
        assert_eq!(tx.capacity(), 1);
        block_on(tx.reserve()).unwrap().send(2);
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(tx.capacity(), 1);
    }

    /// Many producers on the multi-thread runtime, one consumer: each
    /// message arrives exactly once, in each producer's order.
    #[test]
    fn stress_many_producers_one_consumer() {
        within_deadline(
            "stress_many_producers_one_consumer",
            stress_many_producers_one_consumer_body,
        );
    }

    fn stress_many_producers_one_consumer_body() {
        // Fewer under miri, which runs the runtime about 1000x slower.
        const PRODUCERS: usize = if cfg!(miri) { 3 } else { 8 };
        const EACH: usize = if cfg!(miri) { 20 } else { 2_000 };
        let rt = crate::Builder::new().worker_threads(4).build().unwrap();
        for bounded in [true, false] {
            let got = rt.block_on(async {
                let (tx, mut rx) = channel(4);
                let (utx, mut urx) = unbounded_channel();
                for producer in 0..PRODUCERS {
                    let (tx, utx) = (tx.clone(), utx.clone());
                    crate::spawn(async move {
                        for seq in 0..EACH {
                            if bounded {
                                tx.send((producer, seq)).await.unwrap();
                            } else {
                                utx.send((producer, seq)).unwrap();
                            }
                            if seq % 64 == 0 {
                                crate::task::yield_now().await;
                            }
                        }
                    });
                }
                drop((tx, utx));
                let mut got = Vec::new();
                loop {
                    let next = if bounded {
                        rx.recv().await
                    } else {
                        urx.recv().await
                    };
                    match next {
                        Some(message) => got.push(message),
                        None => break,
                    }
                }
                got
            });
            assert_eq!(got.len(), PRODUCERS * EACH);
            let mut next_seq = [0; PRODUCERS];
            for (producer, seq) in got {
                assert_eq!(seq, next_seq[producer], "producer {producer} out of order");
                next_seq[producer] += 1;
            }
        }
    }

    /// The same channel between the current-thread flavour, a plain thread
    /// and this crate-independent `block_on`.
    #[test]
    fn works_on_any_executor() {
        within_deadline("works_on_any_executor", works_on_any_executor_body);
    }

    fn works_on_any_executor_body() {
        let (tx, mut rx) = channel(2);
        let producer = std::thread::spawn(move || {
            for i in 0..100 {
                tx.blocking_send(i).unwrap();
            }
        });
        let rt = crate::Builder::new_current_thread().build().unwrap();
        let first_half: Vec<i32> = rt.block_on(async {
            let mut v = Vec::new();
            for _ in 0..50 {
                v.push(rx.recv().await.unwrap());
            }
            v
        });
        let mut rest = Vec::new();
        while let Some(i) = block_on(rx.recv()) {
            rest.push(i);
        }
        producer.join().unwrap();
        assert_eq!(first_half, (0..50).collect::<Vec<_>>());
        assert_eq!(rest, (50..100).collect::<Vec<_>>());
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::blocking::loom_waker::block_on;

    /// Capacity 1, two sends against two receives: the second send waits
    /// for the slot the first receive frees, both arrive in order, and the
    /// end of the channel is seen after the sender is dropped.
    #[test]
    fn loom_sync_mpsc_bounded_send_recv() {
        loom::model(|| {
            let (tx, mut rx) = channel(1);
            let producer = loom::thread::spawn(move || {
                block_on(tx.send(1)).unwrap();
                block_on(tx.send(2)).unwrap();
            });
            assert_eq!(block_on(rx.recv()), Some(1));
            assert_eq!(block_on(rx.recv()), Some(2));
            assert_eq!(block_on(rx.recv()), None);
            producer.join().unwrap();
        });
    }

    /// A send waiting for the only slot races `close`: it either got in
    /// (and its message is received) or failed with its message back;
    /// never lost, never stuck.
    #[test]
    fn loom_sync_mpsc_bounded_send_vs_close() {
        loom::model(|| {
            let (tx, mut rx) = channel(1);
            tx.try_send(1).unwrap();
            let producer = loom::thread::spawn(move || block_on(tx.send(2)).is_ok());
            assert_eq!(block_on(rx.recv()), Some(1));
            rx.close();
            let second = rx.try_recv().ok();
            let sent = producer.join().unwrap();
            let second = second.or_else(|| rx.try_recv().ok());
            assert_eq!(
                second.is_some(),
                sent,
                "sent {sent} but received {second:?}"
            );
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        });
    }
}
