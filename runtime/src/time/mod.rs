//! Timers: [`sleep`], [`sleep_until`], [`timeout`] and [`interval`].
//!
//! A pending [`Sleep`] is an entry in its runtime's timer queue (a `BTreeMap`
//! ordered by deadline, see `reactor/timers.rs`): O(log n) to add, O(log n) to
//! remove when the `Sleep` is dropped early, which frees its slot at once. The
//! reactor uses the earliest deadline as the timeout of `epoll_wait`, so timers
//! cost no extra thread and no extra file descriptor. Resolution is one
//! millisecond (deadlines are rounded up: a timer never fires early).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

pub use std::time::{Duration, Instant};

use crate::coop;
use crate::executor::Handle;
use crate::reactor::timers::TimerKey;
use std::sync::Arc;

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
    sleep_until(far_future_or(Instant::now().checked_add(duration)))
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
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        entry: None,
        reactor: None,
    }
}

fn far_future_or(t: Option<Instant>) -> Instant {
    // About 30 years: "never" for any practical purpose, without overflow.
    t.unwrap_or_else(|| Instant::now() + Duration::from_secs(86400 * 365 * 30))
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
    deadline: Instant,
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
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert!(runtime::time::sleep(Duration::ZERO).is_elapsed());
    /// ```
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline (earlier or later). The change takes effect at the
    /// next poll; a completed `Sleep` can be reset and awaited again.
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
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

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

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if Instant::now() >= this.deadline {
            this.deregister();
            return Poll::Ready(());
        }
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
            Some((key, waker)) if key.deadline == deadline => {
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
    timeout_at(far_future_or(Instant::now().checked_add(duration)), future)
}

/// Runs `future`, giving up at `deadline`.
///
/// ```
/// use std::time::{Duration, Instant};
/// let rt = runtime::Runtime::new().unwrap();
/// let r = rt.block_on(runtime::time::timeout_at(Instant::now(), std::future::pending::<()>()));
/// assert!(r.is_err());
/// ```
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
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

/// A stream of evenly spaced instants: the first tick completes immediately,
/// then one every `period`. If ticks are missed (the task was busy), the
/// missed ones complete at once, one per `tick` call, to catch up.
///
/// ```
/// use std::time::{Duration, Instant};
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     let mut iv = runtime::time::interval(Duration::from_millis(10));
///     for _ in 0..3 {
///         iv.tick().await;
///     }
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
///
/// # Panics
/// If `period` is zero.
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Like [`interval`], with the first tick at `start`.
///
/// ```
/// use std::time::{Duration, Instant};
/// let iv = runtime::time::interval_at(Instant::now(), Duration::from_secs(1));
/// assert_eq!(iv.period(), Duration::from_secs(1));
/// ```
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval period must be non-zero");
    Interval {
        sleep: sleep_until(start),
        period,
    }
}

/// See [`interval`].
///
/// ```
/// use std::time::Duration;
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut ticks: runtime::time::Interval = runtime::time::interval(Duration::from_millis(1));
///     ticks.tick().await;
/// });
/// ```
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut iv = runtime::time::interval(Duration::from_millis(1));
    ///     let a = iv.tick().await;
    ///     let b = iv.tick().await;
    ///     assert_eq!(b - a, Duration::from_millis(1));
    /// });
    /// ```
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Poll-based [`tick`](Self::tick).
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut iv = runtime::time::interval(Duration::from_millis(1));
    ///     std::future::poll_fn(|cx| iv.poll_tick(cx)).await;
    /// });
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(Pin::new(&mut self.sleep).poll(cx));
        let tick = self.sleep.deadline();
        let next = far_future_or(tick.checked_add(self.period));
        self.sleep.reset(next);
        Poll::Ready(tick)
    }

    /// The period between ticks.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(runtime::time::interval(Duration::from_millis(3)).period(), Duration::from_millis(3));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the interval: the next tick is one period from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut iv = runtime::time::interval(Duration::from_secs(1));
    /// iv.reset();
    /// ```
    pub fn reset(&mut self) {
        self.sleep
            .reset(far_future_or(Instant::now().checked_add(self.period)));
    }
}
