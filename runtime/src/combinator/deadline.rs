//! [`Deadline`]: a timer whose deadline moves often and cheaply.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::time::{sleep_until, Sleep};

/// A deadline that may be pushed back any number of times while something waits for it; as a
/// future, it completes once the *current* deadline has passed. An idle timeout is the typical
/// use: every bit of progress moves the deadline, and the connection closes if it passes.
///
/// Moving the deadline later only stores an `Instant`: the runtime's timer keeps its old,
/// earlier expiry, and when that fires the `Deadline` sees that the deadline has moved and
/// re-arms the timer once. A connection that makes progress thousands of times per second
/// therefore touches the timer queue about once per timeout period, not once per read.
/// Moving it earlier re-arms the timer at the next poll.
///
/// A `Deadline` built with `None` never expires (and holds no timer), so code with an optional
/// timeout needs no second code path.
///
/// Await it by mutable reference (`(&mut deadline).await`), typically inside
/// [`race`](super::race()), so it can be awaited again after it was moved:
///
/// ```
/// use std::time::{Duration, Instant};
/// use runtime::combinator::Deadline;
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     let mut idle = Deadline::after(Some(Duration::from_millis(20)));
///     // Progress: the deadline moves.
///     idle.extend(Duration::from_millis(40));
///     (&mut idle).await;
///     assert!(start.elapsed() >= Duration::from_millis(40));
///     assert!(idle.is_expired());
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Deadline {
    at: Option<Instant>,
    /// Armed lazily at the first poll; may be set earlier than `at`, never later.
    timer: Option<Sleep>,
}

impl Deadline {
    /// A deadline at `at`, or one that never expires for `None`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let d = runtime::combinator::Deadline::at(Some(Instant::now() + Duration::from_secs(9)));
    /// assert!(!d.is_expired());
    /// assert!(!runtime::combinator::Deadline::at(None).is_expired());
    /// ```
    pub fn at(at: Option<Instant>) -> Deadline {
        Deadline { at, timer: None }
    }

    /// A deadline `period` from now, or one that never expires for `None`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let d = runtime::combinator::Deadline::after(Some(Duration::ZERO));
    /// assert!(d.is_expired());
    /// ```
    pub fn after(period: Option<Duration>) -> Deadline {
        Deadline::at(period.map(|p| Instant::now() + p))
    }

    /// Moves the deadline to `at` (earlier or later; `None`: never).
    ///
    /// ```
    /// use std::time::Instant;
    /// let mut d = runtime::combinator::Deadline::at(None);
    /// d.set(Some(Instant::now()));
    /// assert!(d.is_expired());
    /// ```
    pub fn set(&mut self, at: Option<Instant>) {
        self.at = at;
        if let (Some(at), Some(timer)) = (at, self.timer.as_mut()) {
            // Only an earlier deadline needs the timer now; a later one is caught when the
            // timer fires early.
            if at < timer.deadline() {
                timer.reset(at);
            }
        }
    }

    /// Moves the deadline to `period` from now; does nothing if it never expires.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut d = runtime::combinator::Deadline::after(Some(Duration::ZERO));
    /// d.extend(Duration::from_secs(60));
    /// assert!(!d.is_expired());
    /// ```
    pub fn extend(&mut self, period: Duration) {
        if self.at.is_some() {
            self.set(Some(Instant::now() + period));
        }
    }

    /// The current deadline (`None`: never).
    ///
    /// ```
    /// assert_eq!(runtime::combinator::Deadline::at(None).deadline(), None);
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.at
    }

    /// Whether the deadline has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert!(!runtime::combinator::Deadline::after(Some(Duration::from_secs(60))).is_expired());
    /// ```
    pub fn is_expired(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }
}

// ANCHOR: poll_expired
impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(at) = this.at else {
            return Poll::Pending;
        };
        let timer = this.timer.get_or_insert_with(|| sleep_until(at));
        loop {
            if Pin::new(&mut *timer).poll(cx).is_pending() {
                return Poll::Pending;
            }
            if Instant::now() >= at {
                return Poll::Ready(());
            }
            // Fired at an old, earlier deadline: wait on for the current one.
            timer.reset(at);
        }
    }
}
// ANCHOR_END: poll_expired

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::combinator::race;

    #[test]
    fn never_expires_without_a_deadline() {
        let rt = crate::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut never = Deadline::at(None);
            let won = race(
                async {
                    (&mut never).await;
                    "deadline"
                },
                async {
                    crate::time::sleep(Duration::from_millis(5)).await;
                    "sleep"
                },
            )
            .await;
            assert_eq!(won, "sleep");
        });
    }

    #[test]
    fn a_moved_deadline_is_honoured_both_ways() {
        let rt = crate::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            // Later: the early timer firing does not end the wait.
            let start = Instant::now();
            let mut d = Deadline::after(Some(Duration::from_millis(5)));
            // Armed at 5 ms by a first poll that cannot complete yet.
            let _ = race(
                async {
                    (&mut d).await;
                    false
                },
                async { true },
            )
            .await;
            d.extend(Duration::from_millis(30));
            (&mut d).await;
            assert!(start.elapsed() >= Duration::from_millis(30));

            // Earlier: an armed timer an hour away is brought forward.
            let mut d = Deadline::after(Some(Duration::from_secs(3600)));
            let _ = race(
                async {
                    (&mut d).await;
                    false
                },
                async { true },
            )
            .await;
            d.set(Some(Instant::now() + Duration::from_millis(5)));
            let won = race(
                async {
                    (&mut d).await;
                    true
                },
                async {
                    crate::time::sleep(Duration::from_secs(60)).await;
                    false
                },
            )
            .await;
            assert!(won, "the earlier deadline fired first");
        });
    }
}
