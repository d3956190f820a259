//! # block_on: running one future to completion, from scratch
//!
//! What it teaches (the book's chapter "Futures and wakers from scratch"):
//!
//! * a future is a state machine with a `poll` method: `Countdown` and
//!   `Sum` below are written by hand, the way the compiler writes `async fn`;
//! * a `Waker` is how a future that returned `Pending` asks to be polled
//!   again; `block_on` builds one from the current thread;
//! * `thread::park`/`unpark` keep a *token*, which is what makes `block_on`
//!   immune to the lost wake-up: a wake that arrives after `poll` returned
//!   `Pending` but before the thread went to sleep is not forgotten.
//!
//! ```text
//! cargo run --example block_on     # runs the demonstrations and checks them
//! ```

// Every `unsafe` block says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

// ANCHOR: thread_waker
/// The waker of `block_on`: waking it records the wake-up in `notified`
/// and unparks the thread that runs the loop.
struct ThreadWaker {
    thread: Thread,
    /// Set by every wake, cleared by `block_on` before each poll. The park
    /// token alone would be enough if nothing else ever parked this thread;
    /// the flag makes `block_on` correct even if the future's own code parks
    /// and unparks the thread behind our back (and eats the token).
    notified: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Order matters: first record the wake, then unpark. A thread that
        // wakes up from park() and finds the flag clear just parks again.
        self.notified.store(true, Ordering::Release);
        self.thread.unpark();
    }
}
// ANCHOR_END: thread_waker

// ANCHOR: block_on
/// Polls `fut` on the current thread until it is ready, sleeping in between.
fn block_on<F: Future>(fut: F) -> F::Output {
    // The future must not move once polled: pin it to this stack frame.
    let mut fut = pin!(fut);
    let state = Arc::new(ThreadWaker {
        thread: thread::current(),
        notified: AtomicBool::new(false),
    });
    let waker = Waker::from(state.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        // Pending: somebody holds a clone of `waker` and will call wake()
        // when progress is possible. Sleep until that has happened. If it
        // happened already (during poll, or on another thread just now), the
        // flag is set and we do not sleep at all; if it happens between the
        // swap and park(), unpark() leaves a token and park() returns at once.
        while !state.notified.swap(false, Ordering::Acquire) {
            thread::park(); // may also return spuriously: the loop re-checks
        }
    }
}
// ANCHOR_END: block_on

// ANCHOR: countdown
/// Pending `n` times, then ready. Each time it wakes itself before returning
/// `Pending`: the smallest future that depends on the waker being honoured
/// *during* poll.
struct Countdown {
    n: u32,
}

impl Future for Countdown {
    type Output = &'static str;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.n == 0 {
            return Poll::Ready("liftoff");
        }
        self.n -= 1;
        cx.waker().wake_by_ref(); // "poll me again": nothing else will
        Poll::Pending
    }
}
// ANCHOR_END: countdown

// ANCHOR: delay
/// Ready once `deadline` has passed. Instead of waking itself, it hands a
/// clone of the waker to a helper thread that sleeps and then calls wake():
/// the shape of every real I/O future, where the wake comes from elsewhere.
struct Delay {
    deadline: Instant,
    /// The waker the helper thread will use. Shared, because a later poll
    /// may bring a different waker, and the helper must wake the newest one.
    waker: Option<Arc<Mutex<Waker>>>,
}
// ANCHOR_END: delay

// ANCHOR: delay_poll
impl Future for Delay {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        match &self.waker {
            // Polled again: keep the newest waker (the waker contract).
            Some(shared) => {
                let mut stored = shared.lock().unwrap();
                if !stored.will_wake(cx.waker()) {
                    *stored = cx.waker().clone();
                }
            }
            // First poll: start the helper thread.
            None => {
                let shared = Arc::new(Mutex::new(cx.waker().clone()));
                self.waker = Some(shared.clone());
                let deadline = self.deadline;
                thread::spawn(move || {
                    thread::sleep(deadline.saturating_duration_since(Instant::now()));
                    shared.lock().unwrap().wake_by_ref();
                });
            }
        }
        // Check again, now that the newest waker is stored. The helper may
        // have fired between the first check and the store, and woken the
        // *old* waker (perhaps another task's): nobody would wake this one.
        // After the store, a fire wakes the new waker, and one that already
        // happened shows here as a passed deadline.
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}
// ANCHOR_END: delay_poll

// ANCHOR: sum
/// What the compiler makes of
///
/// ```ignore
/// async fn sum() -> u64 {
///     let a = Countdown { n: 3 }.await.len() as u64;
///     Delay::new(Duration::from_millis(20)).await;
///     a + 1
/// }
/// ```
///
/// one variant per `.await` point, holding what is alive across it.
enum Sum {
    Start,
    AwaitCountdown(Countdown),
    AwaitDelay { a: u64, delay: Delay },
    Done,
}
// ANCHOR_END: sum

// ANCHOR: sum_poll
impl Future for Sum {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        // Sum holds no self-references, so it is Unpin and we may take
        // `&mut Sum` out of the Pin (the compiler's version cannot).
        let this = &mut *self;
        loop {
            match this {
                Sum::Start => *this = Sum::AwaitCountdown(Countdown { n: 3 }),
                Sum::AwaitCountdown(c) => match Pin::new(c).poll(cx) {
                    Poll::Ready(s) => {
                        let a = s.len() as u64;
                        *this = Sum::AwaitDelay {
                            a,
                            delay: Delay::new(Duration::from_millis(20)),
                        };
                    }
                    Poll::Pending => return Poll::Pending,
                },
                Sum::AwaitDelay { a, delay } => match Pin::new(delay).poll(cx) {
                    Poll::Ready(()) => {
                        let out = *a + 1;
                        *this = Sum::Done;
                        return Poll::Ready(out);
                    }
                    Poll::Pending => return Poll::Pending,
                },
                Sum::Done => panic!("Sum polled after completion"),
            }
        }
    }
}
// ANCHOR_END: sum_poll

impl Delay {
    fn new(d: Duration) -> Delay {
        Delay {
            deadline: Instant::now() + d,
            waker: None,
        }
    }
}

// ANCHOR: lost_wakeup
/// The shape of `block_on`'s loop, with the dangerous moment made explicit:
/// the future said `Pending` (here: `ready` was false), and *before* this
/// thread reaches `park`, the waker runs on another thread. With a token,
/// `park` returns at once. A sleep without memory (say, a condition variable
/// waited on without holding the lock that guards `ready`) would sleep forever.
fn pending_then_park(ready: &AtomicBool, wake_arrives_now: impl FnOnce()) {
    if !ready.load(Ordering::Acquire) {
        // ---- the window: we decided to sleep, but are not asleep yet ----
        wake_arrives_now();
        thread::park(); // returns immediately: unpark() left its token
    }
}
// ANCHOR_END: lost_wakeup

fn main() {
    // 1. A future that wakes itself during poll.
    let t = Instant::now();
    assert_eq!(block_on(Countdown { n: 5 }), "liftoff");
    println!(
        "Countdown {{ n: 5 }}: ready after 6 polls in {:?}",
        t.elapsed()
    );

    // 2. A future woken from another thread.
    let t = Instant::now();
    block_on(Delay::new(Duration::from_millis(50)));
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(50));
    println!("Delay(50 ms): woken from a helper thread after {waited:?}");

    // 3. The hand-written state machine that awaits both.
    assert_eq!(block_on(Sum::Start), "liftoff".len() as u64 + 1);
    println!("Sum: 8");

    // 4. The wake arrives in the window between "Pending" and "park":
    //    the token makes park return at once instead of sleeping forever.
    let ready = Arc::new(AtomicBool::new(false));
    let me = thread::current();
    let t = Instant::now();
    pending_then_park(&ready, || {
        let (ready, me) = (ready.clone(), me.clone());
        thread::spawn(move || {
            ready.store(true, Ordering::Release);
            me.unpark();
        })
        .join()
        .unwrap();
    });
    assert!(t.elapsed() < Duration::from_secs(1));
    println!(
        "wake in the window before park: not lost ({:?})",
        t.elapsed()
    );

    // 5. Many wake-ups from many threads while the future is pending.
    let hits = Arc::new(AtomicUsize::new(0));
    let n = 1000;
    let fut = ManyWakes {
        hits: hits.clone(),
        target: n,
        started: false,
    };
    block_on(fut);
    println!("ManyWakes: {n} wake-ups from 4 threads, all seen");
    println!("block_on: all demonstrations passed");
}

/// Ready when `target` wake-ups have been counted; four threads send them.
struct ManyWakes {
    hits: Arc<AtomicUsize>,
    target: usize,
    started: bool,
}

impl Future for ManyWakes {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.hits.load(Ordering::Acquire) >= self.target {
            return Poll::Ready(());
        }
        if !self.started {
            self.started = true;
            for _ in 0..4 {
                let (hits, waker, per) = (self.hits.clone(), cx.waker().clone(), self.target / 4);
                thread::spawn(move || {
                    for _ in 0..per {
                        hits.fetch_add(1, Ordering::Release);
                        waker.wake_by_ref();
                    }
                });
            }
        }
        Poll::Pending
    }
}
