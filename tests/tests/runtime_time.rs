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

/// Issue 10 item 9: `Sleep::reset` on a `Sleep` that a task already waits on
/// (shared between tasks here) takes effect at once: the waiting task is
/// woken at the new, earlier deadline, without being polled in between.
#[test]
fn sleep_reset_wakes_a_task_already_waiting() {
    let _serial = serial();
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            let shared = Arc::new(Mutex::new(sleep(Duration::from_secs(3600))));
            let (registered_tx, registered_rx) = runtime_support::oneshot();
            let waiter = {
                let shared = shared.clone();
                let mut registered_tx = Some(registered_tx);
                runtime::spawn(async move {
                    std::future::poll_fn(|cx| {
                        let ready = std::pin::Pin::new(&mut *shared.lock().unwrap()).poll(cx);
                        if let Some(tx) = registered_tx.take() {
                            tx.send(());
                        }
                        ready
                    })
                    .await;
                })
            };
            registered_rx.await.expect("waiter polled its sleep");
            let t = Instant::now();
            shared
                .lock()
                .unwrap()
                .reset(Instant::now() + Duration::from_millis(10));
            // Only the timer can wake the waiter now: nothing polls it.
            let woke = timeout(Duration::from_secs(5), waiter).await;
            assert!(
                woke.is_ok(),
                "{name}: the waiter slept through the earlier deadline"
            );
            assert!(t.elapsed() >= Duration::from_millis(10), "{name}: early");
        }));
    }
}

/// A runtime whose clock starts paused (`test-util`).
fn paused(flavour: &str) -> runtime::Runtime {
    let mut b = match flavour {
        "current-thread" => runtime::Builder::new_current_thread(),
        _ => {
            let mut b = runtime::Builder::new();
            b.worker_threads(2);
            b
        }
    };
    b.start_paused(true)
        .build()
        .expect("build a paused runtime")
}

/// Runs `fut` as a task of `rt`, so that the paused-clock tests exercise the
/// workers' idle accounting (the `block_on` caller's is tested separately,
/// by `paused_clock_waits_for_a_multi_thread_block_on_caller`).
fn on_a_worker<F>(rt: &runtime::Runtime, fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(async { runtime::spawn(fut).await.unwrap() })
}

/// A paused clock stands still; when every worker is idle it jumps to the
/// next deadline, so an hour of sleeps takes no real time, and each sleep
/// ends exactly at its deadline on the virtual clock.
#[test]
fn paused_clock_auto_advances_to_each_deadline_when_idle() {
    for name in ["current-thread", "multi-thread"] {
        let rt = paused(name);
        let wall = Instant::now();
        on_a_worker(&rt, async move {
            let start = runtime::time::now();
            assert_eq!(runtime::time::now(), start, "{name}: paused clock moved");
            sleep(Duration::from_secs(3600)).await;
            assert_eq!(runtime::time::now() - start, Duration::from_secs(3600));
            // Several sleepers: each wakes at its own deadline, in order.
            let order = Arc::new(Mutex::new(Vec::new()));
            let tasks: Vec<_> = [30u64, 10, 20]
                .into_iter()
                .map(|s| {
                    let order = order.clone();
                    runtime::spawn(async move {
                        sleep(Duration::from_secs(s)).await;
                        order.lock().unwrap().push((s, runtime::time::now()));
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            let base = start + Duration::from_secs(3600);
            let order = order.lock().unwrap().clone();
            assert_eq!(
                order,
                [10u64, 20, 30]
                    .map(|s| (s, base + Duration::from_secs(s)))
                    .to_vec(),
                "{name}"
            );
        });
        assert!(
            wall.elapsed() < Duration::from_secs(20),
            "{name}: virtual hours took {:?} of real time",
            wall.elapsed()
        );
    }
}

/// A waker that panics when woken.
struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("user waker panicked in advance");
    }
}

/// `advance` wakes every timer it passes even if one of their wakers panics
/// (the panic goes to the task that called `advance`): the timers behind the
/// panicking one in the list used to be dropped unwoken, their tasks hung.
#[test]
fn advance_wakes_every_timer_even_if_one_waker_panics() {
    let rt = paused("current-thread");
    rt.block_on(bounded("advance past a panicking waker", async {
        let waiter = || runtime::spawn(sleep(Duration::from_secs(10)));
        let before = [waiter(), waiter()];
        runtime::task::yield_now().await; // they register their timers
        let mut panicking = Box::pin(sleep(Duration::from_secs(10)));
        let waker = std::task::Waker::from(Arc::new(PanickingWaker));
        let polled = panicking
            .as_mut()
            .poll(&mut std::task::Context::from_waker(&waker));
        assert!(polled.is_pending());
        let after = [waiter(), waiter()];
        runtime::task::yield_now().await;
        let advanced = runtime::spawn(runtime::time::advance(Duration::from_secs(10))).await;
        assert!(
            advanced.unwrap_err().is_panic(),
            "the waker's panic reaches the caller"
        );
        for h in before.into_iter().chain(after) {
            h.await.unwrap();
        }
        drop(panicking);
    }));
}

/// `advance` fires exactly the timers it passes, and a timeout in a test
/// completes without waiting for it.
/// Runs `f` on its own thread and fails the test if it does not return within
/// a real minute: a paused clock with nothing to advance to would otherwise
/// hang the test instead of failing it.
fn within_real_time<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => {
            worker.join().expect("test thread");
            out
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().expect_err("the test thread panicked"))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("{what}: hung"),
    }
}

/// `Sleep::reset` to a later deadline leaves the registered timer where it is
/// (no lock per reset: hyper pushes its header timeout back on every request);
/// the old timer's early wake-up moves it on. The sleep must still end exactly
/// at the newest deadline, never at an old one, never hang, whether its own
/// task or another one waits on it.
#[test]
fn sleep_reset_later_ends_at_the_newest_deadline() {
    for name in ["current-thread", "multi-thread"] {
        let rt = paused(name);
        within_real_time(name, move || {
            on_a_worker(&rt, async move {
                let start = runtime::time::now();
                let mut s = Box::pin(sleep(Duration::from_secs(10)));
                // Registered at +10 s.
                assert!(timeout(Duration::from_secs(1), s.as_mut()).await.is_err());
                for k in 2..=20 {
                    s.as_mut().reset(start + Duration::from_secs(10 * k));
                }
                s.as_mut().await;
                assert_eq!(runtime::time::now() - start, Duration::from_secs(200));

                // Another task waits on the sleep; the deadline moves later
                // while it waits, twice: the waiter ends at the last one.
                let start = runtime::time::now();
                let shared = Arc::new(Mutex::new(sleep(Duration::from_secs(10))));
                let (polled_tx, polled_rx) = runtime_support::oneshot();
                let waiter = {
                    let shared = shared.clone();
                    let mut polled_tx = Some(polled_tx);
                    runtime::spawn(async move {
                        std::future::poll_fn(|cx| {
                            let ready = std::pin::Pin::new(&mut *shared.lock().unwrap()).poll(cx);
                            if let Some(tx) = polled_tx.take() {
                                tx.send(());
                            }
                            ready
                        })
                        .await;
                        runtime::time::now()
                    })
                };
                polled_rx.await.expect("waiter polled its sleep");
                shared
                    .lock()
                    .unwrap()
                    .reset(start + Duration::from_secs(25));
                shared
                    .lock()
                    .unwrap()
                    .reset(start + Duration::from_secs(30));
                let ended = waiter.await.expect("waiter");
                assert_eq!(ended - start, Duration::from_secs(30), "{name}");
            })
        });
    }
}

#[test]
fn advance_fires_the_timers_it_passes() {
    let rt = paused("current-thread");
    rt.block_on(async {
        let start = runtime::time::now();
        let short = runtime::spawn(sleep(Duration::from_secs(10)));
        let long = runtime::spawn(timeout(
            Duration::from_secs(20),
            std::future::pending::<()>(),
        ));
        runtime::task::yield_now().await; // both register their timers
        runtime::time::advance(Duration::from_secs(15)).await;
        assert_eq!(runtime::time::now() - start, Duration::from_secs(15));
        short.await.unwrap();
        assert!(!long.is_finished(), "a 20 s timeout fired at 15 s");
        runtime::time::advance(Duration::from_secs(5)).await;
        assert!(long.await.unwrap().is_err());
        assert_eq!(runtime::time::now() - start, Duration::from_secs(20));
    });
}

/// `resume` lets the clock run again from where it stood (not from the real
/// time): a sleep after it takes real time again.
#[test]
fn resumed_clock_runs_from_where_it_stood() {
    let _serial = serial();
    let rt = paused("current-thread");
    // (Not `bounded`: its timeout is on the clock this test moves by 100 s.)
    rt.block_on(async {
        let start = runtime::time::now();
        runtime::time::advance(Duration::from_secs(100)).await;
        runtime::time::resume();
        let resumed = runtime::time::now();
        assert!(resumed >= start + Duration::from_secs(100));
        assert!(resumed < start + Duration::from_secs(101));
        let wall = Instant::now();
        sleep(Duration::from_millis(30)).await;
        assert!(
            wall.elapsed() >= Duration::from_millis(30),
            "resumed clock did not run at real pace"
        );
        runtime::time::pause();
        runtime::time::advance(Duration::from_secs(1)).await;
    });
}

/// Auto-advance waits for busy workers: while a task keeps a worker busy,
/// the paused clock does not move, even though the other worker is idle and
/// a timer is pending.
#[test]
fn paused_clock_does_not_advance_while_a_worker_is_busy() {
    let rt = paused("multi-thread");
    rt.block_on(async {
        let start = runtime::time::now();
        let (started_tx, started_rx) = runtime_support::oneshot();
        let busy = runtime::spawn(async move {
            started_tx.send(());
            // Real work on this worker (not synchronisation): the clock must
            // stand still meanwhile.
            std::thread::sleep(Duration::from_millis(200));
            runtime::time::now()
        });
        started_rx.await.unwrap();
        sleep(Duration::from_secs(3600)).await;
        let seen_by_busy = busy.await.unwrap();
        assert_eq!(
            seen_by_busy, start,
            "the clock jumped while a worker was busy"
        );
        assert_eq!(runtime::time::now() - start, Duration::from_secs(3600));
    });
}

/// `MissedTickBehavior`, on a paused clock (so the instants are exact):
/// period 10 ms, the tick due at 10 ms is awaited only at 35 ms.
#[test]
fn interval_missed_tick_behaviours() {
    use runtime::time::MissedTickBehavior::{self, Burst, Delay, Skip};
    let ms = Duration::from_millis;
    // (behaviour, [(scheduled instant, virtual time at which tick returned)])
    let cases: [(MissedTickBehavior, [(u64, u64); 5]); 3] = [
        (Burst, [(10, 35), (20, 35), (30, 35), (40, 40), (50, 50)]),
        (Delay, [(10, 35), (45, 45), (55, 55), (65, 65), (75, 75)]),
        (Skip, [(10, 35), (40, 40), (50, 50), (60, 60), (70, 70)]),
    ];
    for (behaviour, expected) in cases {
        let rt = paused("current-thread");
        rt.block_on(async {
            let t0 = runtime::time::now();
            let mut iv = interval(ms(10));
            iv.set_missed_tick_behavior(behaviour);
            assert_eq!(iv.tick().await, t0, "{behaviour:?}: first tick");
            runtime::time::advance(ms(35)).await;
            let mut got = Vec::new();
            for _ in 0..5 {
                let at = iv.tick().await;
                got.push((at - t0, runtime::time::now() - t0));
            }
            let expected: Vec<_> = expected.iter().map(|&(a, b)| (ms(a), ms(b))).collect();
            assert_eq!(got, expected, "{behaviour:?}");
        });
    }
}

/// `reset`, `reset_immediately`, `reset_after`, `reset_at` move the next
/// tick; later ticks follow one period apart.
#[test]
fn interval_resets() {
    let ms = Duration::from_millis;
    let rt = paused("current-thread");
    rt.block_on(async {
        let t0 = runtime::time::now();
        let mut iv = interval(ms(100));
        assert_eq!(iv.tick().await, t0);
        runtime::time::advance(ms(30)).await;
        iv.reset(); // next at 30 + 100
        assert_eq!(iv.tick().await - t0, ms(130));
        iv.reset_immediately(); // next now (130)
        assert_eq!(iv.tick().await - t0, ms(130));
        assert_eq!(
            runtime::time::now() - t0,
            ms(130),
            "reset_immediately waited"
        );
        assert_eq!(iv.tick().await - t0, ms(230));
        iv.reset_after(ms(7)); // 237
        assert_eq!(iv.tick().await - t0, ms(237));
        iv.reset_at(t0 + ms(1000));
        assert_eq!(iv.tick().await - t0, ms(1000));
        assert_eq!(iv.tick().await - t0, ms(1100));
    });
}

/// `Interval::reset_after` while another task waits in `tick` takes effect
/// at once (the same fix as `Sleep::reset`).
#[test]
fn interval_reset_wakes_a_waiting_ticker() {
    let rt = paused("current-thread");
    rt.block_on(async {
        let t0 = runtime::time::now();
        let iv = Arc::new(Mutex::new(interval(Duration::from_secs(3600))));
        iv.lock().unwrap().tick().now_or_never_ready();
        let (polled_tx, polled_rx) = runtime_support::oneshot();
        let ticker = {
            let iv = iv.clone();
            let mut polled_tx = Some(polled_tx);
            runtime::spawn(async move {
                std::future::poll_fn(|cx| {
                    let r = iv.lock().unwrap().poll_tick(cx);
                    if let Some(tx) = polled_tx.take() {
                        tx.send(());
                    }
                    r
                })
                .await
            })
        };
        polled_rx.await.unwrap();
        iv.lock().unwrap().reset_after(Duration::from_secs(5));
        assert_eq!(ticker.await.unwrap() - t0, Duration::from_secs(5));
        assert_eq!(runtime::time::now() - t0, Duration::from_secs(5));
    });
}

/// Polls a future that must be ready at once.
trait NowOrNeverReady: Future + Sized {
    fn now_or_never_ready(self) -> Self::Output {
        let mut fut = std::pin::pin!(self);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("not ready at once"),
        }
    }
}

impl<F: Future> NowOrNeverReady for F {}

/// Auto-advance waits for `spawn_blocking` work too (as tokio does): a
/// blocking closure that takes real time does not let a paused timeout fire
/// behind its back.
#[test]
fn paused_clock_does_not_advance_while_blocking_work_runs() {
    for name in ["current-thread", "multi-thread"] {
        let rt = paused(name);
        on_a_worker(&rt, async move {
            let start = runtime::time::now();
            let blocking = runtime::spawn_blocking(|| {
                // Real work off the workers (not synchronisation).
                std::thread::sleep(Duration::from_millis(100));
                7
            });
            let r = timeout(Duration::from_secs(1), blocking).await;
            assert_eq!(
                r.map(|j| j.unwrap()),
                Ok(7),
                "{name}: the clock jumped past the timeout while blocking work ran"
            );
            assert!(runtime::time::now() - start < Duration::from_secs(1));
        });
    }
}

/// Misuse of the paused clock panics with a message that says what to do.
#[test]
#[should_panic(expected = "time is not paused: call `time::pause()` first")]
fn advance_on_a_running_clock_panics() {
    current().block_on(runtime::time::advance(Duration::from_secs(1)));
}

#[test]
#[should_panic(expected = "time is already paused")]
fn pausing_a_paused_clock_panics() {
    paused("current-thread").block_on(async { runtime::time::pause() });
}

#[test]
#[should_panic(expected = "must be called from the context of a runtime")]
fn pause_outside_a_runtime_panics() {
    runtime::time::pause();
}

/// Each runtime has its own clock: pausing one leaves another running, and
/// `now()` outside any runtime is the system clock.
#[test]
fn clocks_are_per_runtime() {
    let a = paused("current-thread");
    let b = current();
    let frozen = a.block_on(async {
        runtime::time::advance(Duration::from_secs(3600)).await;
        runtime::time::now()
    });
    let outside = runtime::time::now();
    assert!(
        frozen > outside + Duration::from_secs(3000),
        "advance moved only a's clock"
    );
    let in_b = b.block_on(async { runtime::time::now() });
    assert!(
        in_b >= outside && in_b < frozen,
        "b's clock is the system clock"
    );
    assert_eq!(
        a.block_on(async { runtime::time::now() }),
        frozen,
        "a stays paused"
    );
}

/// On the multi-thread flavour the `block_on` caller is not a worker, yet
/// auto-advance waits for it too: between two sleeps of the main future the
/// clock must not jump to another timer (here the outer timeout's). Repeated,
/// because the race it guards against is a window of microseconds.
#[test]
fn paused_clock_waits_for_a_multi_thread_block_on_caller() {
    let rt = paused("multi-thread");
    rt.block_on(async {
        let start = runtime::time::now();
        let r = timeout(Duration::from_secs(1000), async {
            for i in 1..=200u64 {
                sleep(Duration::from_secs(1)).await;
                // Work between the sleeps, during which a parked worker must
                // not advance the clock.
                let mut x = i;
                for _ in 0..2_000 {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
                std::hint::black_box(x);
                assert_eq!(
                    runtime::time::now() - start,
                    Duration::from_secs(i),
                    "the clock moved while block_on's future ran"
                );
            }
        })
        .await;
        assert!(
            r.is_ok(),
            "the outer timeout fired: the clock jumped past it"
        );
    });
}

/// `runtime::time::Instant` reads the runtime's clock: on a paused clock its
/// `now`, `elapsed` and `duration_since` see virtual time (on a worker and
/// in `block_on`), where `std::time::Instant` sees only the real time that
/// went by. (Until it existed, this name was std's `Instant`, and these
/// assertions failed.)
#[test]
fn instant_follows_the_paused_clock() {
    use runtime::time::Instant;
    for name in ["current-thread", "multi-thread"] {
        let rt = paused(name);
        let check = |place: &'static str| async move {
            let start = Instant::now();
            let wall = std::time::Instant::now();
            sleep(Duration::from_secs(3600)).await;
            assert_eq!(start.elapsed(), Duration::from_secs(3600), "{place}");
            assert_eq!(
                Instant::now().duration_since(start),
                Duration::from_secs(3600),
                "{place}"
            );
            assert!(wall.elapsed() < Duration::from_secs(600), "{place}");
            // A deadline computed from it is on the same clock.
            sleep_until(start + Duration::from_secs(7200)).await;
            assert_eq!(start.elapsed(), Duration::from_secs(7200), "{place}");
        };
        rt.block_on(check("block_on"));
        on_a_worker(&rt, check("a worker"));
    }
}

/// Every function that takes a deadline accepts both `runtime::time::Instant`
/// and `std::time::Instant`; the values handed out (std's) compare, subtract
/// and convert with `runtime::time::Instant`.
#[test]
fn deadlines_take_either_instant() {
    use runtime::time::{interval_at, timeout_at, Instant};
    let rt = paused("current-thread");
    rt.block_on(async {
        let ours = Instant::now();
        let std: std::time::Instant = ours.into_std();
        assert_eq!(Instant::from_std(std), ours);
        assert_eq!(Instant::from(std), ours);
        assert_eq!(std::time::Instant::from(ours), std);

        let s = sleep_until(ours + Duration::from_secs(1));
        assert_eq!(s.deadline(), std + Duration::from_secs(1));
        s.await;
        sleep_until(std + Duration::from_secs(2)).await;
        assert_eq!(Instant::now() - ours, Duration::from_secs(2));

        let mut s = Box::pin(sleep(Duration::from_secs(3600)));
        s.as_mut().reset(ours + Duration::from_secs(3));
        s.as_mut().await;
        s.as_mut().reset(std + Duration::from_secs(4));
        s.as_mut().await;
        assert_eq!(ours.elapsed(), Duration::from_secs(4));

        let r = timeout_at(ours + Duration::from_secs(5), std::future::pending::<()>()).await;
        assert!(r.is_err());
        let r = timeout_at(std + Duration::from_secs(6), std::future::pending::<()>()).await;
        assert!(r.is_err());

        let mut iv = interval_at(ours + Duration::from_secs(7), Duration::from_secs(1));
        let tick = iv.tick().await;
        // A std instant handed out, against ours: both orders.
        assert_eq!(tick, ours + Duration::from_secs(7));
        assert_eq!(ours + Duration::from_secs(7), tick);
        assert!(tick > ours); // std's `PartialOrd<Instant>`
        assert!(ours < tick); // ours, `PartialOrd<std::time::Instant>`
        assert_eq!(tick - ours, Duration::from_secs(7));
        assert_eq!(Instant::now() - tick, Duration::ZERO);
        iv.reset_at(std + Duration::from_secs(9));
        assert_eq!(iv.tick().await, std + Duration::from_secs(9));
        iv.reset_at(Instant::now() + Duration::from_secs(1));
        assert_eq!(iv.tick().await, ours + Duration::from_secs(10));
    });
}

/// The arithmetic of `runtime::time::Instant` mirrors std's (and saturates
/// where std's `duration_since` does).
#[test]
fn instant_arithmetic() {
    use runtime::time::Instant;
    let a = Instant::now();
    let mut b = a + Duration::from_secs(2);
    assert_eq!(b - a, Duration::from_secs(2));
    assert_eq!(a - b, Duration::ZERO);
    assert_eq!(a.checked_duration_since(b), None);
    assert_eq!(b.checked_duration_since(a), Some(Duration::from_secs(2)));
    assert_eq!(a.saturating_duration_since(b), Duration::ZERO);
    b -= Duration::from_secs(1);
    assert_eq!(b - Duration::from_secs(1), a);
    b += Duration::from_secs(1);
    assert_eq!(b.checked_sub(Duration::from_secs(2)), Some(a));
    assert_eq!(a.checked_add(Duration::MAX), None);
    assert!(a < b);
    assert!(b >= a);
    assert_eq!(format!("{a:?}"), format!("{:?}", a.into_std()));
}
