//! [`race`]: the first of two futures to finish.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    /// Future returned by [`race`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless awaited"]
    pub struct Race<A, B> {
        #[pin]
        first: A,
        #[pin]
        second: B,
    }
}

/// Runs `first` and `second` concurrently (in the same task) and completes with the output of
/// whichever finishes first; the other one is dropped, unfinished.
///
/// The order is fixed, not random: `first` is polled before `second` every time, so when both
/// are ready at once `first` wins. Put the event that must not be starved (the I/O a
/// connection exists for) first and the rarer one (a shutdown signal, a timer) second, or the
/// other way round when the rare one must take precedence. Both futures must have the same
/// output type; wrap each in an `async` block that maps it into a common `enum` when they do
/// not. Nest `race` calls to wait for more than two.
///
/// Dropping the loser is how it is cancelled, so it should be cancel-safe: a future that
/// had made progress (read bytes into its own buffer, say) would lose it.
///
/// ```
/// use std::time::Duration;
/// use runtime::combinator::race;
///
/// let rt = runtime::Runtime::new().unwrap();
/// let winner = rt.block_on(race(
///     async {
///         runtime::time::sleep(Duration::from_secs(60)).await;
///         "slow"
///     },
///     async {
///         runtime::time::sleep(Duration::from_millis(1)).await;
///         "fast"
///     },
/// ));
/// assert_eq!(winner, "fast");
/// ```
pub fn race<A, B>(first: A, second: B) -> Race<A, B>
where
    A: Future,
    B: Future<Output = A::Output>,
{
    Race { first, second }
}

impl<A, B> Future for Race<A, B>
where
    A: Future,
    B: Future<Output = A::Output>,
{
    type Output = A::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<A::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.first.poll(cx) {
            return Poll::Ready(out);
        }
        this.second.poll(cx)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::future::{pending, ready};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
        let waker = Waker::from(Arc::new(Noop));
        let mut f = std::pin::pin!(f);
        f.as_mut().poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn first_wins_when_both_are_ready() {
        assert_eq!(poll_once(race(ready(1), ready(2))), Poll::Ready(1));
    }

    #[test]
    fn either_side_can_win() {
        assert_eq!(poll_once(race(pending::<i32>(), ready(2))), Poll::Ready(2));
        assert_eq!(poll_once(race(ready(1), pending())), Poll::Ready(1));
        assert_eq!(poll_once(race(pending::<i32>(), pending())), Poll::Pending);
    }

    #[test]
    fn the_loser_is_dropped_unfinished() {
        struct Flag(Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Flag(Arc::clone(&dropped));
        let loser = async move {
            let _flag = flag;
            pending::<()>().await;
        };
        let rt = crate::Builder::new_current_thread().build().unwrap();
        rt.block_on(race(async {}, loser));
        assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));
    }
}
