//! The runtime's clock as users see it: [`now`], and, with the `test-util`
//! feature, `pause`, `resume` and `advance` so that tests of timeouts
//! and retries run without waiting.
//!
//! Each runtime has its own clock (in its timer queue, `reactor/timers/clock.rs`);
//! these functions act on the current runtime's. A paused clock stands still
//! until `advance` moves it, or until every worker is idle: then, instead of
//! sleeping towards the next timer, the runtime jumps straight to its deadline
//! (*auto-advance*, as tokio does). Deadlines are plain [`Instant`]s on that
//! clock: compute them from [`now`] (not `Instant::now()`, which keeps
//! reading the system clock) when time may be paused.
//!
//! Auto-advance waits until every worker is parked, no `spawn_blocking`
//! closure is queued or running, and no `block_on` caller is running its
//! future or about to (a woken one is counted before its waker returns), so
//! both flavours can be paused. The limit, written down: a thread outside the
//! runtime that is about to wake a task (a peer on a socket, a channel fed
//! by a plain thread) does not hold it back; a paused test that waits for
//! such a thread sees its timeouts fire at once, as with tokio.

use std::time::Instant;

#[cfg(feature = "test-util")]
use std::time::Duration;

/// The current time on the current runtime's clock: `Instant::now()`, unless
/// the clock was paused (`test-util` feature), in which case the virtual time.
/// Outside a runtime, `Instant::now()`.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let t = runtime::time::now();
///     runtime::time::sleep(std::time::Duration::from_millis(2)).await;
///     assert!(runtime::time::now() - t >= std::time::Duration::from_millis(2));
/// });
/// ```
pub fn now() -> Instant {
    #[cfg(feature = "test-util")]
    if let Some(handle) = crate::context::try_current() {
        return handle.shared.reactor.timers.now();
    }
    Instant::now()
}

#[cfg(feature = "test-util")]
#[track_caller]
fn with_clock<R>(what: &str, f: impl FnOnce(&crate::reactor::Reactor) -> R) -> R {
    crate::context::with_current(what, |h| f(&h.shared.reactor))
}

/// Stops the current runtime's clock (`test-util` feature): [`now`] stands
/// still, timers fire only when [`advance`] moves the clock past them, or
/// when every worker is idle (the clock then jumps to the next deadline).
///
/// # Panics
/// Outside a runtime, or if the clock is already paused.
///
/// ```
/// use std::time::Duration;
/// use runtime::time::{self, sleep};
///
/// let rt = runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     time::pause();
///     let start = time::now();
///     let wall = std::time::Instant::now();
///     // An hour of virtual time: the idle runtime jumps straight there.
///     sleep(Duration::from_secs(3600)).await;
///     assert_eq!(time::now() - start, Duration::from_secs(3600));
///     assert!(wall.elapsed() < Duration::from_secs(60));
/// });
/// ```
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
#[track_caller]
pub fn pause() {
    with_clock("runtime::time::pause", |r| r.timers.clock().pause());
}

/// Lets the current runtime's clock run again, at the real pace, from the
/// time it stood at (`test-util` feature).
///
/// # Panics
/// Outside a runtime, or if the clock is not paused.
///
/// ```
/// use std::time::Duration;
/// let rt = runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     runtime::time::pause();
///     let t = runtime::time::now();
///     runtime::time::resume();
///     runtime::time::sleep(Duration::from_millis(5)).await;
///     assert!(runtime::time::now() - t >= Duration::from_millis(5));
/// });
/// ```
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
#[track_caller]
pub fn resume() {
    with_clock("runtime::time::resume", |r| r.timers.clock().resume());
}

/// Moves the paused clock forward by `duration` at once (`test-util`
/// feature): every timer whose deadline is passed completes, "at the same
/// time" (in no particular order), and the caller yields once so that the
/// tasks they wake get to run.
///
/// # Panics
/// Outside a runtime, or if the clock is not paused.
///
/// ```
/// use std::time::Duration;
/// use runtime::time::{self, timeout};
///
/// let rt = runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     time::pause();
///     let slow = runtime::spawn(timeout(Duration::from_secs(30), std::future::pending::<()>()));
///     time::advance(Duration::from_secs(29)).await;
///     assert!(!slow.is_finished());
///     time::advance(Duration::from_secs(1)).await;
///     assert!(slow.await.unwrap().is_err(), "timed out after 30 virtual seconds");
/// });
/// ```
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub async fn advance(duration: Duration) {
    let wakers = with_clock("runtime::time::advance", |r| {
        let now = r.timers.clock().advance(duration);
        let mut wakers = Vec::new();
        r.timers.take_expired(now, &mut wakers);
        wakers
    });
    // Woken outside the reactor's and the clock's locks; one panicking waker
    // does not leave the others unwoken.
    let mut wakers = wakers;
    if let Some(payload) = crate::reactor::wake_all(&mut wakers) {
        std::panic::resume_unwind(payload);
    }
    // Let the woken tasks (on this worker, they queue behind us) run before
    // the caller looks at their effects.
    crate::task::yield_now().await;
}
