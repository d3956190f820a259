//! Timers: [`sleep`], [`sleep_until`], [`timeout`], [`interval`](fn@interval) (with
//! [`MissedTickBehavior`]), and the runtime's clock, [`now`]; with the
//! `test-util` feature, a clock that tests can stop and move
//! (`time::pause`, `time::advance`, `time::resume`, `Builder::start_paused`).
//!
//! A pending [`Sleep`] is an entry in its runtime's timer queue (a binary heap
//! ordered by deadline, see `reactor/timers.rs`): O(log n) to add, O(log n) to
//! remove when the `Sleep` is dropped early, which frees its slot at once. The
//! reactor uses the earliest deadline as the timeout of `epoll_wait`, so timers
//! cost no extra thread and no extra file descriptor. Resolution is one
//! millisecond (deadlines are rounded up: a timer never fires early).
//! [`Sleep::reset`] and the `Interval::reset*` family move a registered timer
//! at once, so a task already waiting on it wakes at the new deadline.
//!
//! ## Testing timeouts without waiting (`test-util`)
//!
//! Each runtime has its own clock. Paused, it stands still: timers fire when
//! `advance` moves it past them, or, when every worker is idle, the runtime
//! jumps straight to the next deadline instead of sleeping (auto-advance, as
//! in tokio). Deadlines are instants on that clock, so compute them from
//! [`now`] or [`Instant::now`] (this module's [`Instant`], which follows the
//! paused clock), not from `std::time::Instant::now()`, in code that may run
//! paused.
//!
//! ```
//! # #[cfg(feature = "test-util")] {
//! use std::time::Duration;
//! use runtime::time::{self, timeout};
//!
//! let rt = runtime::Builder::new_current_thread().start_paused(true).build().unwrap();
//! rt.block_on(async {
//!     let start = time::now();
//!     let r = timeout(Duration::from_secs(30), std::future::pending::<()>()).await;
//!     assert!(r.is_err());
//!     assert_eq!(time::now() - start, Duration::from_secs(30)); // no real wait
//! });
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

pub use instant::Instant;
pub use std::time::Duration;
// The values the timer API hands out stay std's instants: see `instant.rs`.
use std::time::Instant as StdInstant;

use crate::coop;
use crate::executor::Handle;
use crate::reactor::timers::TimerKey;
use std::sync::Arc;

mod clock;
mod instant;
mod interval;

pub use clock::now;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub use clock::{advance, pause, resume};
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};

/// Waits until `duration` has elapsed.
///
/// ```
/// use std::time::{Duration, Instant};
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     runtime::time::sleep(Duration::from_millis(20)).await;
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(far_future_or(now().checked_add(duration)))
}

/// Waits until `deadline`.
///
/// ```
/// use std::time::{Duration, Instant};
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(10);
///     runtime::time::sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn sleep_until(deadline: impl Into<StdInstant>) -> Sleep {
    Sleep {
        deadline: deadline.into(),
        entry: None,
        reactor: None,
    }
}

fn far_future_or(t: Option<StdInstant>) -> StdInstant {
    // About 30 years: "never" for any practical purpose, without overflow.
    t.unwrap_or_else(|| StdInstant::now() + Duration::from_secs(86400 * 365 * 30))
}

/// Future returned by [`sleep`] and [`sleep_until`].
///
/// It registers with the runtime's timer queue when first polled (so it can be
/// created anywhere), and leaves it when it completes or is dropped.
///
/// ```
/// use std::time::Duration;
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let sleep: runtime::time::Sleep = runtime::time::sleep(Duration::from_millis(1));
///     sleep.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: StdInstant,
    /// The timer-queue entry and the waker stored in it.
    entry: Option<(TimerKey, Waker)>,
    reactor: Option<Arc<crate::reactor::Reactor>>,
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Sleep {
    /// The instant at which the future completes.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let deadline = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(runtime::time::sleep_until(deadline).deadline(), deadline);
    /// ```
    pub fn deadline(&self) -> StdInstant {
        self.deadline
    }

    /// Whether the deadline has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert!(runtime::time::sleep(Duration::ZERO).is_elapsed());
    /// ```
    pub fn is_elapsed(&self) -> bool {
        self.now() >= self.deadline
    }

    /// The time on the clock of this `Sleep`'s runtime (see [`now`]).
    fn now(&self) -> StdInstant {
        match &self.reactor {
            Some(reactor) => reactor.timers.now(),
            None => now(),
        }
    }

    /// Moves the deadline (earlier or later), with immediate effect: if a task
    /// already waits on this `Sleep` (it polled it, and is now woken by
    /// something else, or shares the `Sleep`), that task is woken at the new
    /// deadline, not after the old one. A completed `Sleep` can be reset and
    /// awaited again.
    ///
    /// Moving a registered deadline *later* costs no lock: the timer stays
    /// where it is, fires at the old deadline, and the poll that this early
    /// wake-up causes moves it on. A timeout pushed back on every request
    /// (hyper's header-read timeout, a keep-alive deadline) thus costs a
    /// comparison per request, and one spurious wake-up per old deadline
    /// actually reached.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut s = runtime::time::sleep(Duration::from_secs(3600));
    ///     s.reset(Instant::now() + Duration::from_millis(5));
    ///     (&mut s).await;
    /// });
    /// ```
    // ANCHOR: sleep_reset
    pub fn reset(&mut self, deadline: impl Into<StdInstant>) {
        let deadline = deadline.into();
        self.deadline = deadline;
        let Some((key, waker)) = self.entry.take() else {
            // Not registered: the next poll registers the new deadline.
            return;
        };
        let Some(reactor) = self.reactor.as_deref() else {
            unreachable!("a registered Sleep knows its reactor")
        };
        if key.deadline <= deadline || reactor.is_shut_down() {
            // Same or later: the registered timer wakes the waiter no later
            // than needed, and `poll` moves it on (see above).
            self.entry = Some((key, waker));
            return;
        }
        // Earlier: re-register now, with the waker of the last poll; waiting
        // for the next poll would let the waiter sleep until the old deadline.
        let (key, wake_reactor) = reactor.timers.reset(key, deadline, waker.clone());
        self.entry = Some((key, waker));
        if wake_reactor {
            reactor.unpark();
        }
    }
    // ANCHOR_END: sleep_reset

    fn reactor(&mut self) -> &Arc<crate::reactor::Reactor> {
        self.reactor.get_or_insert_with(|| {
            crate::context::with_current(
                "a timer (`sleep`, `timeout`, `interval`)",
                |h: &Handle| h.shared.reactor.clone(),
            )
        })
    }

    fn deregister(&mut self) {
        if let Some((key, _)) = self.entry.take() {
            if let Some(reactor) = &self.reactor {
                reactor.timers.remove(key);
            }
        }
    }
}

impl Future for Sleep {
    type Output = ();

    // ANCHOR: sleep_poll
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        // Still registered, for a deadline no later than ours, by this task,
        // and the queue has not reached that deadline: nothing can have
        // changed since the last poll, and no clock read is needed to know.
        if let (Some((key, waker)), Some(reactor)) = (&this.entry, this.reactor.as_deref()) {
            if key.deadline <= this.deadline
                && waker.will_wake(cx.waker())
                && reactor.timers.certainly_pending(*key)
                && !reactor.is_shut_down()
            {
                return Poll::Pending;
            }
        }
        if this.entry.is_none() && this.reactor.is_none() {
            // The runtime is looked up once, at the first poll.
            this.reactor = crate::context::try_with_current(|h| h.shared.reactor.clone());
        }
        // A first poll of a deadline seconds beyond where the reactor last
        // looked reads no clock either (see `Timers::far_ahead`).
        let far_ahead = this.entry.is_none()
            && (this.reactor.as_deref()).is_some_and(|r| r.timers.far_ahead(this.deadline));
        let now = if far_ahead {
            None
        } else {
            let now = this.now();
            if now >= this.deadline {
                this.deregister();
                return Poll::Ready(());
            }
            Some(now)
        };
        ready!(coop::poll_proceed(cx));
        let deadline = this.deadline;
        this.reactor();
        // Borrowed, not cloned: a pending `Sleep` is polled often, and the
        // reactor field and the entry field can be used side by side.
        let Some(reactor) = this.reactor.as_deref() else {
            unreachable!("reactor() initialised it")
        };
        if reactor.is_shut_down() {
            panic!("a timer was polled after its runtime shut down");
        }
        match &mut this.entry {
            // Registered and not yet due (a deadline moved later by `reset`
            // keeps its earlier timer until that one is due).
            Some((key, waker))
                if key.deadline <= deadline && now.is_some_and(|n| n < key.deadline) =>
            {
                if !waker.will_wake(cx.waker()) {
                    if reactor.timers.update_waker(*key, cx.waker()) {
                        waker.clone_from(cx.waker());
                    } else {
                        // Fired between our clock read and now: run again.
                        this.entry = None;
                        cx.waker().wake_by_ref();
                    }
                }
            }
            entry => {
                if let Some((old, _)) = entry.take() {
                    reactor.timers.remove(old);
                }
                let (key, wake_reactor) = reactor.timers.insert(deadline, cx.waker().clone());
                *entry = Some((key, cx.waker().clone()));
                if wake_reactor {
                    reactor.unpark();
                }
            }
        }
        Poll::Pending
    }
    // ANCHOR_END: sleep_poll
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

/// Error returned by [`timeout`] when the deadline passed first.
///
/// ```
/// use std::time::Duration;
/// let rt = runtime::Runtime::new().unwrap();
/// let r = rt.block_on(runtime::time::timeout(Duration::from_millis(1), std::future::pending::<()>()));
/// assert_eq!(r.unwrap_err().to_string(), "deadline has elapsed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Runs `future`, giving up after `duration`.
///
/// ```
/// use std::time::Duration;
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     assert_eq!(runtime::time::timeout(Duration::from_secs(1), async { 5 }).await, Ok(5));
///     let slow = runtime::time::sleep(Duration::from_secs(10));
///     assert!(runtime::time::timeout(Duration::from_millis(5), slow).await.is_err());
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout_at(far_future_or(now().checked_add(duration)), future)
}

/// Runs `future`, giving up at `deadline`.
///
/// ```
/// use std::time::{Duration, Instant};
/// let rt = runtime::Runtime::new().unwrap();
/// let r = rt.block_on(runtime::time::timeout_at(Instant::now(), std::future::pending::<()>()));
/// assert!(r.is_err());
/// ```
pub fn timeout_at<F: Future>(deadline: impl Into<StdInstant>, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

pin_project_lite::pin_project! {
    /// Future returned by [`timeout`] and [`timeout_at`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let t: runtime::time::Timeout<_> = runtime::time::timeout(Duration::from_secs(1), async { 3 });
    ///     assert_eq!(t.await, Ok(3));
    /// });
    /// ```
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The wrapped future.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = runtime::time::timeout(Duration::from_secs(1), async { 1 });
    /// let _inner = t.into_inner();
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        // The inner future may have spent the whole budget: still look at the deadline.
        match coop::with_unconstrained(|| Pin::new(this.sleep).poll(cx)) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Pushing a registered deadline later leaves its timer where it is (the
    /// same queue key, nothing locked), and polling with the same waker does
    /// not move it either; an earlier deadline moves it at once.
    #[test]
    fn reset_later_keeps_the_registered_timer() {
        let rt = crate::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut s = Box::pin(sleep(Duration::from_secs(3600)));
            let waker = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
            let mut cx = Context::from_waker(&waker);
            assert!(s.as_mut().poll(&mut cx).is_pending());
            let key = |s: &Sleep| s.entry.as_ref().map(|(k, _)| *k);
            let first = key(&s).expect("registered by the poll");
            for h in 2..10 {
                s.as_mut()
                    .reset(StdInstant::now() + Duration::from_secs(3600 * h));
                assert!(s.as_mut().poll(&mut cx).is_pending());
                assert_eq!(key(&s), Some(first), "a later deadline moved the timer");
            }
            s.as_mut()
                .reset(StdInstant::now() + Duration::from_secs(60));
            let moved = key(&s).expect("still registered");
            assert_ne!(moved, first, "an earlier deadline must move the timer");
            assert_eq!(moved.deadline, s.deadline());
        });
    }
}
