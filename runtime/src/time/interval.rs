//! [`Interval`]: a [`Sleep`] that re-arms itself one period later each time it
//! fires, and what to do when ticks were missed ([`MissedTickBehavior`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use super::{far_future_or, now, sleep_until, Sleep};

/// A tick this late (or less) is on time, not missed: the reactor's timer
/// resolution and a busy worker make every tick a little late, and treating
/// that as "missed" would make `Delay` and `Skip` drift for no reason.
const LATE_NOT_MISSED: Duration = Duration::from_millis(5);

/// A stream of evenly spaced instants: the first tick completes immediately,
/// then one every `period`. What happens when ticks were missed (the task was
/// busy for longer than a period) is set by [`MissedTickBehavior`]; by
/// default the missed ones complete at once, one per `tick` call, to catch up.
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
    interval_at(now(), period)
}

/// Like [`interval`], with the first tick at `start`.
///
/// # Panics
/// If `period` is zero.
///
/// ```
/// use std::time::{Duration, Instant};
/// let iv = runtime::time::interval_at(Instant::now(), Duration::from_secs(1));
/// assert_eq!(iv.period(), Duration::from_secs(1));
/// ```
#[track_caller]
pub fn interval_at(start: impl Into<Instant>, period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval period must be non-zero");
    Interval {
        sleep: sleep_until(start),
        period,
        missed_tick_behavior: MissedTickBehavior::default(),
    }
}

/// What an [`Interval`] does when it fires more than a few milliseconds after
/// a tick was due (the task did not call `tick` in time). The three
/// strategies and their names are tokio's. With a period of 10 ms, ticks due
/// at 10, 20, 30, 40..., and a task that is busy from 9 to 35 (it awaits the
/// tick due at 10 only at 35):
///
/// | behaviour | ticks returned (scheduled instants) | next ticks actually fire at |
/// |-----------|-------------------------------------|-----------------------------|
/// | `Burst`   | 10, 20, 30 at once, then 40, 50...  | 35, 35, 35, 40, 50...       |
/// | `Delay`   | 10, then 45, 55...                  | 35, 45, 55...               |
/// | `Skip`    | 10, then 40, 50...                  | 35, 40, 50...               |
///
/// ```
/// use std::time::Duration;
/// use runtime::time::{interval, MissedTickBehavior};
/// let mut iv = interval(Duration::from_secs(1));
/// assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Burst);
/// iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
/// assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Skip);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MissedTickBehavior {
    /// Catch up: every missed tick completes at once, one per `tick` call,
    /// then the interval is back on its original schedule. (The default.)
    #[default]
    Burst,
    /// Start again from now: the next tick is one period after the late one
    /// completed; the schedule shifts by the delay, ticks are never closer
    /// than one period.
    Delay,
    /// Drop the missed ticks: the next tick is the next one of the original
    /// schedule that is still in the future.
    Skip,
}

impl MissedTickBehavior {
    /// The deadline after a tick that was due at `due` but fired at `now`,
    /// more than [`LATE_NOT_MISSED`] late.
    fn next_after_missed(self, due: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => far_future_or(due.checked_add(period)),
            MissedTickBehavior::Delay => far_future_or(now.checked_add(period)),
            MissedTickBehavior::Skip => {
                // How far `now` is into the period it falls in, counted on
                // the original schedule; the next tick ends that period.
                let late = now.saturating_duration_since(due).as_nanos();
                let into = late % period.as_nanos();
                let to_next = period.as_nanos() - into;
                // `to_next <= period`, which is a `Duration`, so it fits.
                let to_next = Duration::from_nanos(u64::try_from(to_next).unwrap_or(u64::MAX));
                far_future_or(now.checked_add(to_next))
            }
        }
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
    missed_tick_behavior: MissedTickBehavior,
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
        let due = self.sleep.deadline();
        let now = self.sleep.now();
        let next = if now.saturating_duration_since(due) > LATE_NOT_MISSED {
            self.missed_tick_behavior
                .next_after_missed(due, now, self.period)
        } else {
            far_future_or(due.checked_add(self.period))
        };
        // The sleep just completed, so it is not registered: this only
        // records the deadline for the next poll.
        self.sleep.reset(next);
        Poll::Ready(due)
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

    /// The strategy for missed ticks.
    ///
    /// ```
    /// use std::time::Duration;
    /// use runtime::time::MissedTickBehavior;
    /// let iv = runtime::time::interval(Duration::from_secs(1));
    /// assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Burst);
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets the strategy for missed ticks (see [`MissedTickBehavior`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use runtime::time::MissedTickBehavior;
    /// let mut iv = runtime::time::interval(Duration::from_secs(1));
    /// iv.set_missed_tick_behavior(MissedTickBehavior::Delay);
    /// assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Delay);
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }

    /// Restarts the interval: the next tick is one period from now. Like
    /// every `reset_*`, it takes effect at once, also for a task already
    /// waiting in [`tick`](Self::tick).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut iv = runtime::time::interval(Duration::from_secs(1));
    /// iv.reset();
    /// ```
    pub fn reset(&mut self) {
        self.reset_after(self.period);
    }

    /// The next tick completes at once; the following ones one period apart.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut iv = runtime::time::interval(Duration::from_secs(3600));
    ///     iv.tick().await;
    ///     iv.reset_immediately();
    ///     iv.tick().await; // does not wait an hour
    /// });
    /// ```
    pub fn reset_immediately(&mut self) {
        self.reset_at(self.sleep.now());
    }

    /// The next tick is `after` from now; the following ones one period apart.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut iv = runtime::time::interval(Duration::from_secs(3600));
    ///     iv.tick().await;
    ///     iv.reset_after(Duration::from_millis(5));
    ///     iv.tick().await;
    /// });
    /// ```
    pub fn reset_after(&mut self, after: Duration) {
        self.reset_at(far_future_or(self.sleep.now().checked_add(after)));
    }

    /// The next tick is at `deadline`; the following ones one period apart.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut iv = runtime::time::interval(Duration::from_secs(3600));
    ///     iv.tick().await;
    ///     let at = Instant::now() + Duration::from_millis(5);
    ///     iv.reset_at(at);
    ///     assert_eq!(iv.tick().await, at);
    /// });
    /// ```
    pub fn reset_at(&mut self, deadline: impl Into<Instant>) {
        self.sleep.reset(deadline);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_deadline_after_a_missed_tick() {
        let ms = Duration::from_millis;
        let t0 = Instant::now();
        let period = ms(10);
        // Due at 10, fired at 35 (see the table on MissedTickBehavior).
        let (due, now) = (t0 + ms(10), t0 + ms(35));
        let next = |b: MissedTickBehavior| b.next_after_missed(due, now, period);
        assert_eq!(next(MissedTickBehavior::Burst), t0 + ms(20));
        assert_eq!(next(MissedTickBehavior::Delay), t0 + ms(45));
        assert_eq!(next(MissedTickBehavior::Skip), t0 + ms(40));
        // Exactly on a later tick of the schedule: Skip waits a whole period
        // (that tick is now, i.e. already missed).
        let on_tick = MissedTickBehavior::Skip.next_after_missed(due, t0 + ms(40), period);
        assert_eq!(on_tick, t0 + ms(50));
    }
}
