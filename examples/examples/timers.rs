//! # timers: sleep, interval, timeout, and racing a slow operation
//!
//! What it teaches, one section each:
//!
//! 1. `sleep(d).await` suspends only this task; the worker runs others.
//! 2. `interval(period)`: a ticker whose first tick is immediate and whose
//!    later ticks keep a fixed rhythm (a slow loop body does not make it
//!    drift).
//! 3. `timeout(d, fut)`: gives up on `fut` after `d` with `Err(Elapsed)` —
//!    and *drops* it, which cancels it (its destructor runs).
//! 4. Racing a slow operation against a fallback: whichever finishes first
//!    wins and the loser is dropped; written with `poll_fn`, no macro.
//! 5. An idle deadline that moves: `Sleep::reset` pushes it back on every
//!    bit of activity (how servers implement idle timeouts).
//! 6. Ten thousand timers at once cost one heap entry each, no threads.
//! 7. Missed ticks: after a stall longer than its period, an interval
//!    catches up (`Burst`, the default), drops the missed ticks (`Skip`), or
//!    starts its rhythm again from now (`Delay`) — `MissedTickBehavior`.
//!
//! Timers never fire early; they may fire late on a loaded machine, by as
//! much as the machine is loaded. Every section checks what it prints, so
//! the program doubles as its own test; the checks are about what a timer
//! guarantees (never early, in deadline order, on schedule), never about how
//! late it may be, so they hold on a busy CI machine too.
//!
//! ```text
//! cargo run --example timers                 # narrate and check (~2 s)
//! cargo run --example timers -- --self-test  # the same, and say "passed" (exit 0)
//! ```

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use runtime::time::{interval, sleep, sleep_until, timeout, MissedTickBehavior};

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn check(what: &str, ok: bool) {
    assert!(ok, "timers: check failed: {what}");
}

/// Something slow we may want to give up on; it notes whether it was
/// cancelled (dropped before it finished).
async fn slow_operation(took: Duration, cancelled: Arc<AtomicBool>) -> &'static str {
    struct OnDrop(Arc<AtomicBool>, bool);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            if !self.1 {
                self.0.store(true, Ordering::SeqCst);
            }
        }
    }
    let mut guard = OnDrop(cancelled, false);
    sleep(took).await;
    guard.1 = true; // finished normally
    "slow result"
}

enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls both futures; returns the first output and drops the other.
async fn race<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(v));
        }
        if let Poll::Ready(v) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(v));
        }
        Poll::Pending
    })
    .await
}

async fn demo() {
    // 1. sleep
    println!("1. sleep");
    let start = Instant::now();
    sleep(Duration::from_millis(100)).await;
    let took = start.elapsed();
    println!("   sleep(100 ms) took {}", ms(took));
    check(
        "sleep never wakes early",
        took >= Duration::from_millis(100),
    );
    // "On time" as a test can state it: a 100 ms sleep ends before a 300 ms
    // one started with it, however late both are.
    let first = race(
        sleep(Duration::from_millis(100)),
        sleep(Duration::from_millis(300)),
    )
    .await;
    check(
        "the earlier deadline fires first",
        matches!(first, Either::Left(())),
    );

    // 2. interval
    println!("2. interval(50 ms), with a 30 ms loop body");
    let start = Instant::now();
    let mut ticker = interval(Duration::from_millis(50));
    let mut first_tick = None;
    for i in 0..5u32 {
        let at = ticker.tick().await;
        let since = at.duration_since(start);
        println!("   tick {i} at {}", ms(since));
        let first = *first_tick.get_or_insert(at);
        // No drift: each tick is scheduled a whole number of periods after
        // the first, whenever the loop got to it.
        check(
            "ticks keep the rhythm",
            at == first + Duration::from_millis(50) * i,
        );
        check("a tick never comes early", Instant::now() >= at);
        sleep(Duration::from_millis(30)).await; // work shorter than the period
    }
    let took = start.elapsed();
    check(
        "5 ticks take 4 periods + body",
        took >= Duration::from_millis(230),
    );

    // 3. timeout
    println!("3. timeout");
    let cancelled = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let r = timeout(
        Duration::from_millis(100),
        slow_operation(Duration::from_secs(10), cancelled.clone()),
    )
    .await;
    println!(
        "   timeout(100 ms, 10 s operation) -> {:?} after {}; operation cancelled: {}",
        r.map_err(|e| e.to_string()),
        ms(start.elapsed()),
        cancelled.load(Ordering::SeqCst)
    );
    check("timed out", r.is_err());
    check(
        "the operation was dropped",
        cancelled.load(Ordering::SeqCst),
    );
    let r = timeout(
        Duration::from_secs(10),
        slow_operation(Duration::from_millis(20), Arc::default()),
    )
    .await;
    println!("   timeout(10 s, 20 ms operation) -> {r:?}");
    check("fast enough", r == Ok("slow result"));

    // 4. racing a slow operation against a fallback
    println!("4. race: slow operation vs cached fallback after 50 ms");
    let cancelled = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let fallback = async {
        sleep(Duration::from_millis(50)).await;
        "cached result"
    };
    let winner = match race(
        slow_operation(Duration::from_secs(5), cancelled.clone()),
        fallback,
    )
    .await
    {
        Either::Left(v) => v,
        Either::Right(v) => v,
    };
    println!("   {winner:?} after {}", ms(start.elapsed()));
    check("the fallback won", winner == "cached result");
    check("the loser was cancelled", cancelled.load(Ordering::SeqCst));

    // 5. an idle deadline that moves
    println!("5. idle timeout: deadline pushed back by activity");
    let start = Instant::now();
    let idle = Duration::from_millis(80);
    let mut deadline = sleep_until(start + idle);
    let mut activity = interval(Duration::from_millis(30));
    let mut events = 0;
    loop {
        // Activity every 30 ms for 5 events, then silence.
        let tick = async {
            if events < 5 {
                activity.tick().await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        // Activity that is due counts before the deadline is looked at (a
        // late poll must not turn activity into an idle timeout).
        match race(tick, &mut deadline).await {
            Either::Right(()) => break,
            Either::Left(()) => {
                events += 1;
                deadline.reset(Instant::now() + idle);
            }
        }
    }
    let took = start.elapsed();
    println!("   {events} events, idle timeout fired after {}", ms(took));
    check(
        "deadline moved",
        events == 5 && took >= Duration::from_millis(120 + 80),
    );

    // 6. many timers
    println!("6. 10,000 tasks sleeping 1..=100 ms");
    let start = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    // How many were asleep at once, at the most.
    let asleep = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let slept: Duration = (0..10_000u64)
        .map(|i| Duration::from_millis(1 + i % 100))
        .sum();
    let handles: Vec<_> = (0..10_000u64)
        .map(|i| {
            let (done, asleep, peak) = (done.clone(), asleep.clone(), peak.clone());
            runtime::spawn(async move {
                let d = Duration::from_millis(1 + i % 100);
                let t = Instant::now();
                peak.fetch_max(asleep.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                sleep(d).await;
                asleep.fetch_sub(1, Ordering::SeqCst);
                assert!(t.elapsed() >= d, "a timer fired early");
                done.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let took = start.elapsed();
    let peak = peak.load(Ordering::SeqCst);
    println!(
        "   all {} woke after {} (up to {peak} asleep at once; {:.0} s of sleep in all)",
        done.load(Ordering::Relaxed),
        ms(took),
        slept.as_secs_f64()
    );
    check("all woke", done.load(Ordering::Relaxed) == 10_000);
    // Concurrency, shown without a stopwatch: the sleeps overlapped, and all
    // of them together took less than one after the other would have.
    check("concurrently", peak > 1 && took < slept);

    // 7. missed ticks
    println!("7. interval(20 ms), then a 70 ms stall: the next three ticks");
    let period = Duration::from_millis(20);
    for behaviour in [
        MissedTickBehavior::Burst,
        MissedTickBehavior::Skip,
        MissedTickBehavior::Delay,
    ] {
        let mut ticker = interval(period);
        ticker.set_missed_tick_behavior(behaviour);
        let start = ticker.tick().await;
        sleep(Duration::from_millis(70)).await; // busy elsewhere: ticks missed
        let mut at = Vec::new();
        for _ in 0..3 {
            at.push(ticker.tick().await - start);
        }
        let shown: Vec<String> = at.iter().map(|d| ms(*d)).collect();
        println!("   {behaviour:?}: scheduled at {}", shown.join(", "));
        // A whole number of periods after the first tick.
        let on_schedule = |d: Duration| period * (d.as_nanos() / period.as_nanos()) as u32 == d;
        match behaviour {
            MissedTickBehavior::Burst => check(
                "burst replays the missed ticks",
                at == [20, 40, 60].map(Duration::from_millis),
            ),
            MissedTickBehavior::Skip => check(
                "skip drops them and keeps the schedule",
                at[0] == period
                    && at[1] > Duration::from_millis(70)
                    && at[1..].iter().all(|d| on_schedule(*d))
                    && at[2] > at[1],
            ),
            MissedTickBehavior::Delay => check(
                "delay restarts the rhythm from the late tick",
                // (Exactly one period apart unless that tick, too, was late.)
                at[0] == period && at[1] >= Duration::from_millis(90) && at[2] - at[1] >= period,
            ),
        }
    }
}

fn main() -> std::io::Result<()> {
    let self_test = std::env::args().nth(1).as_deref() == Some("--self-test");
    let rt = runtime::Runtime::new()?;
    rt.block_on(async {
        timeout(Duration::from_secs(30), demo())
            .await
            .expect("timers: the demo took over 30 s")
    });
    if self_test {
        println!("timers: self-test passed");
    }
    Ok(())
}
