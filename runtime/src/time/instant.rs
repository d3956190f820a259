//! [`Instant`]: a point in time on the runtime's clock, which the `test-util`
//! feature lets tests pause and move (tokio's `tokio::time::Instant`).
//!
//! ## Why a wrapper, and why the timer API still speaks `std::time::Instant`
//!
//! `std::time::Instant::now()` always reads the system clock, so code that
//! measures time with it sees a paused runtime's clock run on (and a test of
//! a timeout sees ten real milliseconds where a virtual hour went by). This
//! type's [`now`](Instant::now), [`elapsed`](Instant::elapsed) and friends
//! read the current runtime's clock instead, as [`time::now`](super::now)
//! does; the value inside is a plain `std::time::Instant`, so converting
//! either way costs nothing.
//!
//! Every function that takes a deadline (`sleep_until`, `timeout_at`,
//! `interval_at`, `Sleep::reset`, `Interval::reset_at`) accepts this type and
//! `std::time::Instant` alike (`impl Into<std::time::Instant>`), but the
//! values the timer API hands out (`time::now()`, `Sleep::deadline()`,
//! `Interval::tick()`) stay `std::time::Instant`. That is the least-breaking
//! choice: every caller written against the earlier API, which re-exported
//! `std::time::Instant` under this name, compiles unchanged, and so do
//! bridges to libraries typed on std's instant (hyper's `Timer`). The two
//! types compare and subtract with each other, so tokio-style code that mixes
//! `Instant::now()` with `tick()`'s result compiles too; turn a std instant
//! into this type ([`Instant::from_std`] or `.into()`) before calling
//! `elapsed` on it if the clock may be paused.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A point in time on the current runtime's clock: like
/// `std::time::Instant`, except that [`now`](Self::now) (and everything that
/// reads the time: [`elapsed`](Self::elapsed)) follows the runtime's paused
/// clock under the `test-util` feature. Outside a runtime, or with the clock
/// running, it reads the system's monotonic clock, as std does.
///
/// ```
/// use std::time::Duration;
/// use runtime::time::{sleep, Instant};
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
///     // Deadlines take it (or a `std::time::Instant`).
///     runtime::time::sleep_until(start + Duration::from_millis(6)).await;
///     assert!(Instant::now().duration_since(start) >= Duration::from_millis(6));
/// });
/// ```
///
/// With the `test-util` feature, on a paused clock:
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::time::Duration;
/// use runtime::time::Instant;
///
/// let rt = runtime::Builder::new_current_thread().start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     runtime::time::sleep(Duration::from_secs(3600)).await; // no real wait
///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
/// });
/// # }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    std: std::time::Instant,
}

impl Instant {
    /// The current time on the current runtime's clock (see
    /// [`time::now`](super::now)); outside a runtime, the system's.
    ///
    /// ```
    /// let a = runtime::time::Instant::now();
    /// let b = runtime::time::Instant::now();
    /// assert!(b >= a);
    /// ```
    pub fn now() -> Instant {
        Instant::from_std(super::now())
    }

    /// Wraps a `std::time::Instant` (the same point in time).
    ///
    /// ```
    /// let std = std::time::Instant::now();
    /// assert_eq!(runtime::time::Instant::from_std(std).into_std(), std);
    /// ```
    pub fn from_std(std: std::time::Instant) -> Instant {
        Instant { std }
    }

    /// The same point in time as a `std::time::Instant`.
    ///
    /// ```
    /// let t = runtime::time::Instant::now();
    /// let std: std::time::Instant = t.into_std();
    /// assert_eq!(std, t);
    /// ```
    pub fn into_std(self) -> std::time::Instant {
        self.std
    }

    /// How long after `earlier` this instant is; zero if `earlier` is later
    /// (as std does since Rust 1.60).
    ///
    /// ```
    /// use std::time::Duration;
    /// let a = runtime::time::Instant::now();
    /// let b = a + Duration::from_secs(2);
    /// assert_eq!(b.duration_since(a), Duration::from_secs(2));
    /// assert_eq!(a.duration_since(b), Duration::ZERO);
    /// ```
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// How long after `earlier` this instant is, or `None` if `earlier` is
    /// later.
    ///
    /// ```
    /// use std::time::Duration;
    /// let a = runtime::time::Instant::now();
    /// let b = a + Duration::from_secs(1);
    /// assert_eq!(b.checked_duration_since(a), Some(Duration::from_secs(1)));
    /// assert_eq!(a.checked_duration_since(b), None);
    /// ```
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.std.checked_duration_since(earlier.std)
    }

    /// How long after `earlier` this instant is; zero if `earlier` is later.
    ///
    /// ```
    /// use std::time::Duration;
    /// let a = runtime::time::Instant::now();
    /// assert_eq!(a.saturating_duration_since(a + Duration::from_secs(1)), Duration::ZERO);
    /// ```
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// How much time has passed since this instant, on the current runtime's
    /// clock (a paused clock's virtual time under `test-util`).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let t = runtime::time::Instant::now();
    ///     runtime::time::sleep(std::time::Duration::from_millis(2)).await;
    ///     assert!(t.elapsed() >= std::time::Duration::from_millis(2));
    /// });
    /// ```
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(*self)
    }

    /// `self + duration`, or `None` if that is not representable.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = runtime::time::Instant::now();
    /// assert!(t.checked_add(Duration::from_secs(1)).is_some());
    /// assert!(t.checked_add(Duration::MAX).is_none());
    /// ```
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.std.checked_add(duration).map(Instant::from_std)
    }

    /// `self - duration`, or `None` if that is not representable.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = runtime::time::Instant::now();
    /// assert!(t.checked_sub(Duration::MAX).is_none());
    /// ```
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.std.checked_sub(duration).map(Instant::from_std)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(std: std::time::Instant) -> Instant {
        Instant::from_std(std)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.std
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    /// If the result is not representable (see [`Instant::checked_add`]).
    fn add(self, duration: Duration) -> Instant {
        Instant::from_std(self.std + duration)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, duration: Duration) {
        *self = *self + duration;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    /// If the result is not representable (see [`Instant::checked_sub`]).
    fn sub(self, duration: Duration) -> Instant {
        Instant::from_std(self.std - duration)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, duration: Duration) {
        *self = *self - duration;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// [`duration_since`](Instant::duration_since): zero if `earlier` is later.
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

// Mixed with std's instant, as the timer API hands those out (see the
// module docs): comparisons and differences in both orders.

impl Sub<std::time::Instant> for Instant {
    type Output = Duration;

    fn sub(self, earlier: std::time::Instant) -> Duration {
        self.std.saturating_duration_since(earlier)
    }
}

impl Sub<Instant> for std::time::Instant {
    type Output = Duration;

    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier.std)
    }
}

impl PartialEq<std::time::Instant> for Instant {
    fn eq(&self, other: &std::time::Instant) -> bool {
        self.std == *other
    }
}

impl PartialEq<Instant> for std::time::Instant {
    fn eq(&self, other: &Instant) -> bool {
        *self == other.std
    }
}

impl PartialOrd<std::time::Instant> for Instant {
    fn partial_cmp(&self, other: &std::time::Instant) -> Option<Ordering> {
        self.std.partial_cmp(other)
    }
}

impl PartialOrd<Instant> for std::time::Instant {
    fn partial_cmp(&self, other: &Instant) -> Option<Ordering> {
        self.partial_cmp(&other.std)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std.fmt(f)
    }
}
