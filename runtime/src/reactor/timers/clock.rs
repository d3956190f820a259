//! The clock a runtime's timers read: the system's monotonic clock, or, with
//! the `test-util` feature, one that tests can pause and move by hand.
//!
//! Deadlines stay `std::time::Instant`s either way: a paused clock is a
//! *virtual* timeline laid over the real one. While paused it stands still at
//! `base` (`advance` moves it, and so does the reactor when every worker is
//! idle: it jumps to the next deadline instead of sleeping towards it). Once
//! resumed it runs at the real pace again from where it stood, so it may be
//! ahead of (or behind) `Instant::now()` for the rest of the runtime's life.
//!
//! Without the feature the clock is a zero-sized type whose `now` is
//! `Instant::now()`: the paused clock costs nothing in a normal build. With
//! it, a runtime whose clock was never paused pays one atomic load per read.

#[cfg(not(feature = "test-util"))]
use std::time::Instant;

#[cfg(not(feature = "test-util"))]
#[derive(Debug, Default)]
pub(crate) struct Clock;

#[cfg(not(feature = "test-util"))]
impl Clock {
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        Instant::now()
    }

    #[inline]
    pub(crate) fn is_paused(&self) -> bool {
        false
    }

    /// Never called: a real clock is never paused.
    pub(crate) fn advance_to(&self, _to: Instant) -> bool {
        false
    }
}

#[cfg(feature = "test-util")]
pub(crate) use paused::Clock;

#[cfg(feature = "test-util")]
mod paused {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, MutexGuard};
    use std::time::{Duration, Instant};

    #[derive(Debug, Default)]
    pub(crate) struct Clock {
        /// `false` until the clock is first paused: until then `now` is the
        /// real clock and takes no lock.
        virtual_time: AtomicBool,
        state: Mutex<State>,
    }

    #[derive(Debug, Default)]
    struct State {
        paused: bool,
        /// The virtual time at `real_base` (while running) or now (while paused).
        base: Option<Instant>,
        real_base: Option<Instant>,
    }

    impl State {
        fn now(&self) -> Instant {
            match (self.base, self.real_base) {
                (Some(base), _) if self.paused => base,
                (Some(base), Some(real_base)) => base + real_base.elapsed(),
                _ => Instant::now(),
            }
        }
    }

    impl Clock {
        fn state(&self) -> MutexGuard<'_, State> {
            // The state is two instants and a flag, consistent after every
            // statement: a panic elsewhere cannot leave it half-written.
            self.state.lock().unwrap_or_else(|p| p.into_inner())
        }

        pub(crate) fn now(&self) -> Instant {
            if !self.virtual_time.load(Ordering::Acquire) {
                return Instant::now();
            }
            self.state().now()
        }

        pub(crate) fn is_paused(&self) -> bool {
            self.virtual_time.load(Ordering::Acquire) && self.state().paused
        }

        #[track_caller]
        pub(crate) fn pause(&self) {
            let mut s = self.state();
            assert!(!s.paused, "time is already paused");
            s.base = Some(s.now());
            s.paused = true;
            self.virtual_time.store(true, Ordering::Release);
        }

        #[track_caller]
        pub(crate) fn resume(&self) {
            let mut s = self.state();
            assert!(s.paused, "time is not paused");
            s.real_base = Some(Instant::now());
            s.paused = false;
        }

        /// Moves a paused clock forward by `by`; returns the new time.
        #[track_caller]
        pub(crate) fn advance(&self, by: Duration) -> Instant {
            let mut s = self.state();
            assert!(s.paused, "time is not paused: call `time::pause()` first");
            let now = s.now();
            let to = now.checked_add(by).unwrap_or(now);
            s.base = Some(to);
            to
        }

        /// Moves a paused clock forward to `to` (never backwards). Returns
        /// `false` if the clock is running (the reactor lost a race with
        /// `resume`).
        pub(crate) fn advance_to(&self, to: Instant) -> bool {
            let mut s = self.state();
            if !s.paused {
                return false;
            }
            if s.base.is_some_and(|base| base < to) {
                s.base = Some(to);
            }
            true
        }
    }

    #[cfg(all(test, not(loom)))]
    mod tests {
        use super::*;

        #[test]
        fn paused_clock_stands_still_moves_by_hand_and_resumes_from_there() {
            let c = Clock::default();
            let t0 = c.now();
            assert!(!c.is_paused());
            c.pause();
            assert!(c.is_paused());
            let frozen = c.now();
            assert!(frozen >= t0);
            std::thread::sleep(Duration::from_millis(2));
            assert_eq!(c.now(), frozen, "a paused clock does not move");
            assert_eq!(
                c.advance(Duration::from_secs(60)),
                frozen + Duration::from_secs(60)
            );
            assert!(c.advance_to(frozen + Duration::from_secs(30)));
            assert_eq!(c.now(), frozen + Duration::from_secs(60), "never backwards");
            assert!(c.advance_to(frozen + Duration::from_secs(90)));
            assert_eq!(c.now(), frozen + Duration::from_secs(90));
            c.resume();
            assert!(!c.is_paused());
            assert!(!c.advance_to(frozen + Duration::from_secs(900)));
            let running = c.now();
            assert!(running >= frozen + Duration::from_secs(90));
            assert!(
                running < frozen + Duration::from_secs(91),
                "resumed from where it stood"
            );
            std::thread::sleep(Duration::from_millis(2));
            assert!(c.now() > running, "a resumed clock runs");
        }

        #[test]
        #[should_panic(expected = "time is not paused")]
        fn advance_needs_a_paused_clock() {
            Clock::default().advance(Duration::from_secs(1));
        }

        #[test]
        #[should_panic(expected = "time is already paused")]
        fn pausing_twice_panics() {
            let c = Clock::default();
            c.pause();
            c.pause();
        }
    }
}
