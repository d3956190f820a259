//! Black-box tests of `runtime::time`: sleep, timeout, interval.

mod runtime_support;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use runtime::time::{interval, sleep, sleep_until, timeout};
use runtime_support::{bounded, current, multi};

/// Generous bound on lateness for a loaded 2-core machine.
const LATE: Duration = Duration::from_millis(200);

/// Timing tests run one at a time, so that the CPU-heavy 100k-timer test
/// does not delay the others' timers on a small machine.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Both flavours, for tests that must hold on each.
fn flavours() -> Vec<(&'static str, runtime::Runtime)> {
    vec![("multi-thread", multi(2)), ("current-thread", current())]
}

/// Sleeps with distinct deadlines (spawned in shuffled order) complete in
/// deadline order, none early and none more than `LATE` late. (Order is
/// checked with one worker: with two, tasks woken together run in parallel.)
#[test]
fn timers_fire_in_order_and_on_time() {
    let _serial = serial();
    const N: u64 = 12;
    const STEP: u64 = 25;
    let rts = vec![
        ("multi-thread, 1 worker", multi(1)),
        ("current-thread", current()),
    ];
    for (name, rt) in rts {
        rt.block_on(bounded(name, async {
            let order = Arc::new(Mutex::new(Vec::new()));
            let start = Instant::now() + Duration::from_millis(20);
            // A fixed shuffle: index k gets deadline start + STEP*k.
            let ks: Vec<u64> = (0..N).map(|i| (i * 5 + 3) % N).collect();
            let handles: Vec<_> = ks
                .iter()
                .map(|&k| {
                    let order = order.clone();
                    let deadline = start + Duration::from_millis(STEP * k);
                    runtime::spawn(async move {
                        sleep_until(deadline).await;
                        let now = Instant::now();
                        order.lock().unwrap().push(k);
                        assert!(now >= deadline, "timer {k} fired early");
                        now - deadline
                    })
                })
                .collect();
            let mut worst = Duration::ZERO;
            for h in handles {
                worst = worst.max(h.await.unwrap());
            }
            assert!(worst <= LATE, "{name}: a timer fired {worst:?} late");
            let order = order.lock().unwrap().clone();
            let sorted: Vec<u64> = (0..N).collect();
            assert_eq!(
                order, sorted,
                "{name}: timers completed out of deadline order"
            );
        }));
    }
}

/// Timers that are all overdue when the reactor next looks (the only worker
/// was busy) still complete in deadline order, on both flavours.
#[test]
fn overdue_timers_complete_in_deadline_order() {
    let _serial = serial();
    const N: u64 = 8;
    let rts = vec![
        ("current-thread", current()),
        ("multi-thread, 1 worker", multi(1)),
    ];
    for (name, rt) in rts {
        rt.block_on(bounded(name, async {
            let order = Arc::new(Mutex::new(Vec::new()));
            // Far enough ahead that all timers are registered before the first
            // one is due, even on a very slow run (valgrind).
            let base = Instant::now() + Duration::from_millis(200);
            // (Yield once first so that `bounded`'s own timer is registered.)
            runtime::task::yield_now().await;
            let pending_before = runtime::Handle::current().metrics().timers_pending;
            // Spawned in shuffled order; deadlines 1 ms apart.
            let handles: Vec<_> = (0..N)
                .map(|i| (i * 3 + 1) % N)
                .map(|k| {
                    let order = order.clone();
                    runtime::spawn(async move {
                        sleep_until(base + Duration::from_millis(k)).await;
                        order.lock().unwrap().push(k);
                    })
                })
                .collect();
            // Wait until every task has registered its timer...
            while runtime::Handle::current().metrics().timers_pending < pending_before + N as usize
            {
                runtime::task::yield_now().await;
            }
            // ...then keep the only worker busy past all the deadlines.
            let busy =
                (base + Duration::from_millis(N + 30)).saturating_duration_since(Instant::now());
            if name.starts_with("multi") {
                runtime::spawn(async move { std::thread::sleep(busy) })
                    .await
                    .unwrap();
            } else {
                std::thread::sleep(busy);
            }
            for h in handles {
                h.await.unwrap();
            }
            let order = order.lock().unwrap().clone();
            assert_eq!(
                order,
                (0..N).collect::<Vec<_>>(),
                "{name}: overdue timers ran out of deadline order"
            );
        }));
    }
}

/// `sleep` is never early and not grossly late, on both flavours.
#[test]
fn sleep_within_tolerance() {
    let _serial = serial();
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            for ms in [1u64, 10, 50, 100] {
                let d = Duration::from_millis(ms);
                let t = Instant::now();
                sleep(d).await;
                let took = t.elapsed();
                assert!(took >= d, "{name}: sleep({d:?}) took only {took:?}");
                assert!(took <= d + LATE, "{name}: sleep({d:?}) took {took:?}");
            }
            // A zero or past deadline completes at once.
            sleep(Duration::ZERO).await;
            sleep_until(Instant::now() - Duration::from_millis(5)).await;
        }));
    }
}

/// `timeout` returns the output when the future is fast, `Elapsed` (on time)
/// when it is slow, and drops the slow future.
#[test]
fn timeout_both_outcomes() {
    let _serial = serial();
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            let fast = timeout(Duration::from_secs(10), async {
                sleep(Duration::from_millis(5)).await;
                7
            })
            .await;
            assert_eq!(fast, Ok(7));

            let t = Instant::now();
            let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = runtime_support::DropFlag(dropped.clone());
            let slow = timeout(Duration::from_millis(50), async move {
                let _flag = flag;
                sleep(Duration::from_secs(3600)).await;
                7
            })
            .await;
            let took = t.elapsed();
            let err = slow.expect_err("slow future beat its timeout");
            assert_eq!(err.to_string(), "deadline has elapsed");
            assert!(
                took >= Duration::from_millis(50),
                "{name}: timed out early: {took:?}"
            );
            assert!(
                took <= Duration::from_millis(50) + LATE,
                "{name}: timed out late: {took:?}"
            );
            assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));

            // A ready future wins even with a zero timeout.
            assert_eq!(timeout(Duration::ZERO, async { 1 }).await, Ok(1));
            // And a never-ready one times out with a zero timeout.
            assert!(timeout(Duration::ZERO, std::future::pending::<()>())
                .await
                .is_err());
        }));
    }
}

/// `interval` ticks at once, then once per period, never early.
#[test]
fn interval_ticks() {
    let _serial = serial();
    const PERIOD: Duration = Duration::from_millis(20);
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            let start = Instant::now();
            let mut iv = interval(PERIOD);
            assert_eq!(iv.period(), PERIOD);
            let first = iv.tick().await;
            assert!(start.elapsed() < LATE, "{name}: first tick not immediate");
            let mut prev = first;
            for n in 1..=5u32 {
                let t = iv.tick().await;
                let now = Instant::now();
                assert!(t > prev, "{name}: tick instants not increasing");
                assert!(now >= first + PERIOD * n, "{name}: tick {n} early");
                prev = t;
            }
            let total = start.elapsed();
            assert!(total >= PERIOD * 5, "{name}: 5 periods took only {total:?}");
            assert!(
                total <= PERIOD * 5 + LATE * 2,
                "{name}: 5 periods took {total:?}"
            );
        }));
    }
}

/// Dropping 100,000 pending sleeps frees their timer slots.
#[test]
fn dropping_100k_pending_sleeps_frees_them() {
    let _serial = serial();
    const N: usize = 100_000;
    let rt = multi(2);
    let before = rt.metrics().timers_pending;
    // Register 100k sleeps from one task, then drop them.
    let sleeps = rt.block_on(bounded("register sleeps", async {
        let mut sleeps: Vec<_> = (0..N)
            .map(|i| Box::pin(sleep(Duration::from_secs(3600 + i as u64))))
            .collect();
        // Poll each once so it registers with the timer queue, yielding
        // between batches: `block_on` is budgeted, so a poll past the budget
        // would return Pending without registering.
        for batch in sleeps.chunks_mut(64) {
            std::future::poll_fn(|cx| {
                for s in batch.iter_mut() {
                    assert!(s.as_mut().poll(cx).is_pending());
                }
                std::task::Poll::Ready(())
            })
            .await;
            runtime::task::yield_now().await;
        }
        sleeps
    }));
    assert_eq!(
        rt.metrics().timers_pending,
        before + N,
        "sleeps not registered"
    );
    drop(sleeps);
    assert_eq!(
        rt.metrics().timers_pending,
        before,
        "dropped sleeps still pending"
    );

    // Same through tasks: 100k tasks sleeping, aborted.
    let handles = rt.block_on(async {
        let handles: Vec<_> = (0..N)
            .map(|_| runtime::spawn(sleep(Duration::from_secs(3600))))
            .collect();
        handles
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while rt.metrics().timers_pending < before + N {
        assert!(
            Instant::now() < deadline,
            "tasks never registered their sleeps"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    rt.block_on(bounded("abort sleeping tasks", async {
        for h in &handles {
            h.abort();
        }
        for h in handles {
            assert!(h.await.unwrap_err().is_cancelled());
        }
    }));
    assert_eq!(
        rt.metrics().timers_pending,
        before,
        "aborted tasks' sleeps still pending"
    );
}

/// `Sleep::reset` moves a pending deadline earlier and later.
#[test]
fn sleep_reset_moves_the_deadline() {
    let _serial = serial();
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            let t = Instant::now();
            let mut s = sleep(Duration::from_secs(3600));
            // Register the far deadline first.
            assert!(timeout(Duration::from_millis(5), &mut s).await.is_err());
            s.reset(Instant::now() + Duration::from_millis(20));
            (&mut s).await;
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "{name}: reset earlier ignored"
            );
            assert!(s.is_elapsed());
            // A completed sleep can be reset and awaited again.
            let again = Instant::now() + Duration::from_millis(10);
            s.reset(again);
            (&mut s).await;
            assert!(Instant::now() >= again);
        }));
    }
}
