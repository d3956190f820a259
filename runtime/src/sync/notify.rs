//! [`Notify`]: wake one waiting task, or all of them, without sending data.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::primitives::{lock, Mutex};

/// A signal with no data (tokio's `sync::Notify`): tasks wait in
/// [`notified`](Self::notified); [`notify_one`](Self::notify_one) wakes the
/// longest waiting one, [`notify_waiters`](Self::notify_waiters) wakes all.
///
/// `notify_one` with nobody waiting stores one permit (several calls still
/// store one), which the next `notified().await` consumes at once: a
/// notification sent just before the receiver starts waiting is not lost.
///
/// `notify_waiters` stores nothing; it completes every [`Notified`] future
/// that exists when it is called, polled or not (each one remembers the
/// count of `notify_waiters` calls when it was created). Create the future,
/// check your condition, then await it, and a `notify_waiters` between the
/// check and the await is not missed.
///
/// ```
/// use std::sync::Arc;
/// use runtime::sync::Notify;
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let ready = Arc::new(Notify::new());
///     let waiter = runtime::spawn({
///         let ready = Arc::clone(&ready);
///         async move { ready.notified().await }
///     });
///     ready.notify_one(); // before or after the task waits: both work
///     waiter.await.unwrap();
/// });
/// ```
pub struct Notify {
    state: Mutex<State>,
}

struct State {
    /// A `notify_one` with nobody to wake, kept for the next waiter.
    permit: bool,
    /// How many times `notify_waiters` ran.
    generation: u64,
    /// Polled futures, oldest first.
    waiters: VecDeque<Waiter>,
    next_id: u64,
}

struct Waiter {
    id: u64,
    waker: Waker,
    /// Chosen by `notify_one`; completes on its next poll. If it is dropped
    /// first, the notification goes to the next waiter instead.
    chosen: bool,
}

impl State {
    fn position(&self, id: Option<u64>) -> Option<usize> {
        let id = id?;
        self.waiters.iter().position(|w| w.id == id)
    }

    /// `notify_one`'s work: the oldest unchosen waiter is chosen, or the
    /// permit is stored. Returns the waker to call after unlocking.
    fn notify_one(&mut self) -> Option<Waker> {
        match self.waiters.iter_mut().find(|w| !w.chosen) {
            Some(waiter) => {
                waiter.chosen = true;
                Some(waiter.waker.clone())
            }
            None => {
                self.permit = true;
                None
            }
        }
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Notify")
            .field("permit", &state.permit)
            .field("waiters", &state.waiters.len())
            .finish()
    }
}

impl Default for Notify {
    fn default() -> Notify {
        Notify::new()
    }
}

impl Notify {
    /// A `Notify` with no permit stored and nobody waiting.
    ///
    /// ```
    /// let notify = runtime::sync::Notify::new();
    /// notify.notify_waiters(); // nobody waits: nothing happens
    /// ```
    pub fn new() -> Notify {
        Notify {
            state: Mutex::new(State {
                permit: false,
                generation: 0,
                waiters: VecDeque::new(),
                next_id: 0,
            }),
        }
    }

    /// A future that completes on the next notification. See the type's
    /// documentation for when a `notify_waiters` counts. Cancel-safe: a
    /// dropped future that `notify_one` had chosen passes the notification
    /// on to the next waiter (or back to the permit).
    ///
    /// ```
    /// let notify = runtime::sync::Notify::new();
    /// let rt = runtime::Runtime::new().unwrap();
    /// let wait = notify.notified(); // counts from here
    /// notify.notify_waiters();
    /// rt.block_on(wait);
    /// ```
    pub fn notified(&self) -> Notified<'_> {
        let generation = lock(&self.state).generation;
        Notified {
            notify: self,
            generation,
            id: None,
            done: false,
        }
    }

    /// Wakes the longest waiting [`Notified`], or stores a permit for the
    /// next one if none is waiting.
    ///
    /// ```
    /// let notify = runtime::sync::Notify::new();
    /// notify.notify_one();
    /// notify.notify_one(); // still one permit
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(notify.notified()); // consumes it
    /// ```
    pub fn notify_one(&self) {
        let waker = lock(&self.state).notify_one();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Completes every [`Notified`] created before this call; stores no
    /// permit.
    ///
    /// ```
    /// let go = runtime::sync::Notify::new();
    /// let first = go.notified();
    /// let second = go.notified();
    /// go.notify_waiters(); // neither was polled yet: both count
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     first.await;
    ///     second.await;
    /// });
    /// ```
    pub fn notify_waiters(&self) {
        let waiters = {
            let mut state = lock(&self.state);
            state.generation += 1;
            // Chosen ones stay: they still owe their `notify_one` to someone
            // if they are dropped unpolled.
            let (chosen, waiting) = std::mem::take(&mut state.waiters)
                .into_iter()
                .partition(|w| w.chosen);
            state.waiters = chosen;
            waiting
        };
        for waiter in Vec::from(waiters) {
            waiter.waker.wake();
        }
    }
}

/// The future of [`Notify::notified`].
///
/// ```
/// let notify = runtime::sync::Notify::new();
/// let wait: runtime::sync::Notified<'_> = notify.notified();
/// notify.notify_one();
/// runtime::Runtime::new().unwrap().block_on(wait);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    notify: &'a Notify,
    /// `notify_waiters` calls seen when we were created.
    generation: u64,
    /// Our entry in the queue, once polled.
    id: Option<u64>,
    done: bool,
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("waiting", &self.id.is_some())
            .field("done", &self.done)
            .finish()
    }
}

// ANCHOR: notified
impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(());
        }
        let mut state = lock(&this.notify.state);
        let position = state.position(this.id);
        let chosen = position.is_some_and(|p| state.waiters[p].chosen);
        let broadcast = state.generation != this.generation;
        // Taking the permit needs no queue entry: it was stored because
        // nobody was waiting.
        let permit = !chosen && !broadcast && std::mem::take(&mut state.permit);
        if chosen || broadcast || permit {
            if let Some(p) = position {
                state.waiters.remove(p);
            }
            this.id = None;
            this.done = true;
            return Poll::Ready(());
        }
        // Registered under the lock the notifiers take: a notification
        // either came before the checks above or will find this waker.
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
                    waker: cx.waker().clone(),
                    chosen: false,
                });
                this.id = Some(id);
            }
        }
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if self.id.is_none() {
            return;
        }
        let next = {
            let mut state = lock(&self.notify.state);
            match state.position(self.id) {
                // Chosen by `notify_one` but never completed: hand the
                // notification on so that it is not lost with us.
                Some(p) => match state.waiters.remove(p) {
                    Some(waiter) if waiter.chosen => state.notify_one(),
                    _ => None,
                },
                None => None,
            }
        };
        if let Some(waker) = next {
            waker.wake();
        }
    }
}
// ANCHOR_END: notified

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::blocking::test_waker::{counting_waker, poll, within_deadline};
    use std::pin::pin;

    #[test]
    fn notify_one_wakes_waiters_in_order_then_stores_one_permit() {
        let notify = Notify::new();
        let (a_wakes, a_waker) = counting_waker();
        let (b_wakes, b_waker) = counting_waker();
        let mut a = pin!(notify.notified());
        let mut b = pin!(notify.notified());
        assert!(poll(a.as_mut(), &a_waker).is_pending());
        assert!(poll(b.as_mut(), &b_waker).is_pending());
        notify.notify_one();
        assert_eq!((a_wakes.count(), b_wakes.count()), (1, 0));
        assert!(poll(b.as_mut(), &b_waker).is_pending(), "b took a's turn");
        assert!(poll(a.as_mut(), &a_waker).is_ready());
        notify.notify_one();
        assert!(poll(b.as_mut(), &b_waker).is_ready());
        notify.notify_one();
        notify.notify_one();
        assert!(poll(pin!(notify.notified()), &a_waker).is_ready());
        assert!(
            poll(pin!(notify.notified()), &a_waker).is_pending(),
            "two notify_one with nobody waiting stored more than one permit"
        );
    }

    #[test]
    fn notify_waiters_completes_futures_created_before_it_even_unpolled() {
        let notify = Notify::new();
        let (counter, waker) = counting_waker();
        let mut polled = pin!(notify.notified());
        assert!(poll(polled.as_mut(), &waker).is_pending());
        let mut unpolled = pin!(notify.notified());
        notify.notify_waiters();
        assert_eq!(counter.count(), 1);
        let mut later = pin!(notify.notified());
        assert!(poll(polled.as_mut(), &waker).is_ready());
        assert!(poll(unpolled.as_mut(), &waker).is_ready());
        assert!(
            poll(later.as_mut(), &waker).is_pending(),
            "no permit stored"
        );
    }

    #[test]
    fn a_dropped_chosen_waiter_passes_notify_one_on() {
        let notify = Notify::new();
        let (_, a_waker) = counting_waker();
        let (b_wakes, b_waker) = counting_waker();
        let mut a = Box::pin(notify.notified());
        let mut b = pin!(notify.notified());
        assert!(poll(a.as_mut(), &a_waker).is_pending());
        assert!(poll(b.as_mut(), &b_waker).is_pending());
        notify.notify_one();
        drop(a);
        assert_eq!(b_wakes.count(), 1, "the notification was lost");
        assert!(poll(b.as_mut(), &b_waker).is_ready());
        // With nobody left to take it, a dropped chosen waiter stores the permit.
        let mut c = Box::pin(notify.notified());
        assert!(poll(c.as_mut(), &a_waker).is_pending());
        notify.notify_one();
        drop(c);
        assert!(poll(pin!(notify.notified()), &a_waker).is_ready());
    }

    #[test]
    fn dropped_unchosen_waiters_leave_the_queue() {
        let notify = Notify::new();
        let (_, waker) = counting_waker();
        let mut a = Box::pin(notify.notified());
        assert!(poll(a.as_mut(), &waker).is_pending());
        drop(a);
        assert_eq!(lock(&notify.state).waiters.len(), 0);
        notify.notify_one();
        assert!(lock(&notify.state).permit);
    }

    #[test]
    fn ping_pong_across_threads() {
        within_deadline("ping_pong_across_threads", ping_pong_across_threads_body);
    }

    fn ping_pong_across_threads_body() {
        const ROUNDS: usize = if cfg!(miri) { 20 } else { 1000 };
        let rt = crate::Builder::new().worker_threads(2).build().unwrap();
        let ping = std::sync::Arc::new(Notify::new());
        let pong = std::sync::Arc::new(Notify::new());
        rt.block_on(async {
            let other = crate::spawn({
                let (ping, pong) = (ping.clone(), pong.clone());
                async move {
                    for _ in 0..ROUNDS {
                        ping.notified().await;
                        pong.notify_one();
                    }
                }
            });
            for _ in 0..ROUNDS {
                ping.notify_one();
                pong.notified().await;
            }
            other.await.unwrap();
        });
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::blocking::loom_waker::Flag;

    /// `notify_one` racing the first poll of `notified`: the waiter either
    /// completes, or is pending and woken, and then completes; the
    /// notification is never lost and never counted twice.
    #[test]
    fn loom_sync_notify_one_vs_notified() {
        loom::model(|| {
            let notify = crate::primitives::Arc::new(Notify::new());
            let notifier = {
                let notify = crate::primitives::Arc::clone(&notify);
                loom::thread::spawn(move || notify.notify_one())
            };
            let woken = std::sync::Arc::new(Flag::default());
            let waker = Waker::from(std::sync::Arc::clone(&woken));
            let mut cx = Context::from_waker(&waker);
            let mut wait = Box::pin(notify.notified());
            let first = wait.as_mut().poll(&mut cx);
            notifier.join().unwrap();
            if first.is_pending() {
                assert!(woken.is_set(), "pending but never woken");
                assert!(wait.as_mut().poll(&mut cx).is_ready());
            }
            // The one notification was used: no permit is left over.
            assert!(!lock(&notify.state).permit);
        });
    }
}
