//! Black-box tests of spawning, joining, aborting and panicking tasks.

mod runtime_support;

use std::collections::HashSet;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use runtime::task::yield_now;
use runtime::JoinHandle;
use runtime_support::{bounded, current, multi, oneshot, DropCounter, DropFlag};

/// Both flavours, for tests that must hold on each.
fn flavours() -> Vec<(&'static str, runtime::Runtime)> {
    vec![("multi-thread", multi(2)), ("current-thread", current())]
}

/// Extracts the message of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// A future that is woken by a plain std thread: the first poll hands the
/// waker to a new thread, which sets a flag and wakes it.
struct ForeignWake {
    state: Arc<Mutex<(bool, Option<Waker>)>>,
    thread: Option<std::thread::JoinHandle<()>>,
    delay: Duration,
}

impl ForeignWake {
    fn new(delay: Duration) -> ForeignWake {
        ForeignWake {
            state: Arc::new(Mutex::new((false, None))),
            thread: None,
            delay,
        }
    }
}

impl Future for ForeignWake {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.state.lock().unwrap();
        if st.0 {
            drop(st);
            if let Some(t) = self.thread.take() {
                t.join().unwrap();
            }
            return Poll::Ready(());
        }
        st.1 = Some(cx.waker().clone());
        drop(st);
        if self.thread.is_none() {
            let state = self.state.clone();
            let delay = self.delay;
            self.thread = Some(std::thread::spawn(move || {
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
                let waker = {
                    let mut st = state.lock().unwrap();
                    st.0 = true;
                    st.1.take()
                };
                waker.expect("polled once before the thread runs").wake();
            }));
        }
        Poll::Pending
    }
}

/// A hand-written future woken by a foreign std thread completes, in
/// `block_on` and in spawned tasks, on both flavours, with and without a race.
#[test]
fn wake_from_foreign_thread() {
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            // In the block_on future itself.
            ForeignWake::new(Duration::from_millis(20)).await;
            for _ in 0..200 {
                ForeignWake::new(Duration::ZERO).await;
            }
            // In spawned tasks, racing the wake with the return of Pending.
            let handles: Vec<_> = (0..200)
                .map(|i| {
                    runtime::spawn(async move {
                        ForeignWake::new(Duration::ZERO).await;
                        ForeignWake::new(Duration::from_millis(1)).await;
                        i
                    })
                })
                .collect();
            for (i, h) in handles.into_iter().enumerate() {
                assert_eq!(h.await.unwrap(), i);
            }
        }));
    }
}

/// 100,000 spawned tasks all run and are joined with the right results.
#[test]
fn spawn_100k_tasks_all_joined() {
    const N: u64 = 100_000;
    let rt = multi(2);
    rt.block_on(bounded("100k tasks", async {
        // From the block_on thread (outside the workers: inject queue)...
        let handles: Vec<JoinHandle<u64>> = (0..N)
            .map(|i| runtime::spawn(async move { i * 3 }))
            .collect();
        let mut sum = 0u64;
        for (i, h) in handles.into_iter().enumerate() {
            let v = h.await.expect("task failed");
            assert_eq!(v, i as u64 * 3);
            sum += v;
        }
        assert_eq!(sum, 3 * N * (N - 1) / 2);
        // ...and from inside a task (local queue, overflowing to the global one).
        let inner = runtime::spawn(async {
            let handles: Vec<_> = (0..N)
                .map(|i| {
                    runtime::spawn(async move {
                        if i % 1000 == 0 {
                            yield_now().await;
                        }
                        i
                    })
                })
                .collect();
            let mut sum = 0u64;
            for h in handles {
                sum += h.await.unwrap();
            }
            sum
        });
        assert_eq!(inner.await.unwrap(), N * (N - 1) / 2);
    }));
    assert!(rt.metrics().tasks_spawned >= 2 * N);
}

/// A panicking task yields `JoinError::is_panic()` carrying its message; the
/// (single) worker survives and later tasks still run, on both flavours.
#[test]
fn panic_is_isolated_and_reported() {
    let rts = vec![
        ("multi-thread, 1 worker", multi(1)),
        ("current-thread", current()),
    ];
    for (name, rt) in rts {
        let worker_before = rt.block_on(async {
            runtime::spawn(async { std::thread::current().id() })
                .await
                .unwrap()
        });
        rt.block_on(bounded(name, async {
            for round in 0..3 {
                let err = runtime::spawn(async move {
                    yield_now().await;
                    if round < 100 {
                        panic!("deliberate panic #{round}");
                    }
                    5 // never reached; gives the task an output type
                })
                .await
                .expect_err("a panicking task returned Ok");
                assert!(err.is_panic(), "{name}: {err:?}");
                assert!(!err.is_cancelled());
                assert_eq!(
                    err.to_string(),
                    format!("task panicked: deliberate panic #{round}")
                );
                let payload = err.into_panic();
                assert_eq!(
                    panic_message(&*payload),
                    format!("deliberate panic #{round}")
                );
                // The worker lives on: more tasks run, after the panic.
                let ok = runtime::spawn(async { 40 + 2 }).await.unwrap();
                assert_eq!(ok, 42, "{name}");
            }
            // A panic with a formatted `String` payload, raised in the first poll.
            let err = runtime::spawn(async { panic!("{}-{}", "formatted", 7) })
                .await
                .unwrap_err();
            assert_eq!(panic_message(&*err.into_panic()), "formatted-7");
        }));
        let worker_after = rt.block_on(async {
            runtime::spawn(async { std::thread::current().id() })
                .await
                .unwrap()
        });
        if name.starts_with("multi") {
            assert_eq!(
                worker_before, worker_after,
                "the only worker thread was replaced"
            );
        }
    }
}

/// Aborting a pending task gives a cancelled `JoinError` and runs the
/// future's destructor, on both flavours.
#[test]
fn abort_pending_task_cancels_and_drops_it() {
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            let dropped = Arc::new(AtomicBool::new(false));
            let (started_tx, started_rx) = oneshot::<()>();
            let flag = DropFlag(dropped.clone());
            let h = runtime::spawn(async move {
                let _flag = flag;
                started_tx.send(());
                std::future::pending::<()>().await;
            });
            started_rx.await.expect("task started");
            assert!(!h.is_finished());
            h.abort();
            let err = h.await.expect_err("aborted task returned Ok");
            assert!(err.is_cancelled(), "{name}: {err:?}");
            assert!(!err.is_panic());
            assert_eq!(err.to_string(), "task was cancelled");
            assert!(
                dropped.load(Ordering::SeqCst),
                "{name}: destructor did not run"
            );

            // Aborting a task that has not even started yet.
            let dropped = Arc::new(AtomicBool::new(false));
            let flag = DropFlag(dropped.clone());
            let h = runtime::spawn(async move {
                let _flag = flag;
                std::future::pending::<()>().await;
            });
            h.abort();
            assert!(h.await.unwrap_err().is_cancelled());
            assert!(
                dropped.load(Ordering::SeqCst),
                "{name}: destructor did not run"
            );
        }));
    }
}

/// Aborting a task that already completed leaves its output available.
#[test]
fn abort_after_completion_keeps_output() {
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            let (done_tx, done_rx) = oneshot::<()>();
            let h = runtime::spawn(async move {
                // The sender is dropped when the task's future is dropped,
                // which happens when it completes.
                let _done = done_tx;
                String::from("output")
            });
            assert!(done_rx.await.is_none());
            // Completion is published right after the future is dropped.
            let deadline = Instant::now() + Duration::from_secs(10);
            while !h.is_finished() {
                assert!(Instant::now() < deadline, "{name}: task never finished");
                runtime::time::sleep(Duration::from_millis(1)).await;
            }
            h.abort();
            h.abort();
            assert_eq!(h.await.expect("output lost by a late abort"), "output");
        }));
    }
}

/// Abort racing completion: each task ends either with its output or
/// cancelled, never anything else, and every future is dropped exactly once.
#[test]
fn abort_racing_completion() {
    const N: usize = 2000;
    for (name, rt) in flavours() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut completed, mut cancelled) = (0, 0);
        rt.block_on(bounded(name, async {
            for i in 0..N {
                let counter = DropCounter(drops.clone());
                let h = runtime::spawn(async move {
                    let _c = counter;
                    if i % 2 == 0 {
                        yield_now().await;
                    }
                    i
                });
                if i % 3 == 0 {
                    yield_now().await;
                }
                h.abort();
                match h.await {
                    Ok(v) => {
                        assert_eq!(v, i);
                        completed += 1;
                    }
                    Err(e) => {
                        assert!(e.is_cancelled(), "{name}: {e:?}");
                        cancelled += 1;
                    }
                }
            }
        }));
        assert_eq!(completed + cancelled, N);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            N,
            "{name}: futures dropped != spawned"
        );
        // Also: every task is gone from the runtime.
        let deadline = Instant::now() + Duration::from_secs(10);
        while rt.metrics().tasks_alive != 0 {
            assert!(
                Instant::now() < deadline,
                "{name}: tasks leaked: {:?}",
                rt.metrics()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Dropping a `JoinHandle` detaches the task: it keeps running and completes.
#[test]
fn dropping_join_handle_detaches() {
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            let (tx, rx) = oneshot::<u32>();
            let (go_tx, go_rx) = oneshot::<()>();
            let h = runtime::spawn(async move {
                go_rx.await.expect("go");
                runtime::time::sleep(Duration::from_millis(10)).await;
                tx.send(99);
            });
            drop(h);
            go_tx.send(());
            assert_eq!(rx.await, Some(99), "{name}: detached task did not complete");
        }));
    }
}

/// With 2 workers, tasks spawned from one task run on both worker threads
/// (the idle worker is woken and steals).
#[test]
fn work_is_spread_across_workers() {
    let rt = multi(2);
    let worker_ids: Vec<ThreadId> = rt.block_on(async {
        let mut ids = HashSet::new();
        for _ in 0..50 {
            ids.insert(
                runtime::spawn(async { std::thread::current().id() })
                    .await
                    .unwrap(),
            );
        }
        ids.into_iter().collect()
    });
    let seen = Arc::new(Mutex::new(HashSet::<ThreadId>::new()));
    let s = seen.clone();
    // Each task blocks its worker until two distinct threads have been seen
    // (or 10 s pass), so the second one can only come from a steal.
    let spawner = rt.spawn(async move {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let seen = s.clone();
                runtime::spawn(async move {
                    let me = std::thread::current().id();
                    seen.lock().unwrap().insert(me);
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while seen.lock().unwrap().len() < 2 && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    me
                })
            })
            .collect();
        let mut ran_on = HashSet::new();
        for h in handles {
            ran_on.insert(h.await.unwrap());
        }
        ran_on
    });
    let ran_on = rt.block_on(spawner).unwrap();
    assert_eq!(ran_on.len(), 2, "all tasks ran on one worker: {ran_on:?}");
    // They are the runtime's workers, not the block_on thread.
    assert!(!ran_on.contains(&std::thread::current().id()));
    if worker_ids.len() == 2 {
        assert_eq!(ran_on, worker_ids.into_iter().collect::<HashSet<_>>());
    }
}

/// `block_on` called inside `block_on` panics with a message saying what to do.
#[test]
#[should_panic(expected = "cannot start a runtime from within a runtime")]
fn block_on_inside_block_on_panics() {
    let outer = multi(1);
    let inner = current();
    outer.block_on(async { inner.block_on(async {}) });
}

/// `block_on` called on a worker thread panics (caught as the task's
/// `JoinError`) with a clear message, and the worker survives.
#[test]
fn block_on_inside_task_panics_with_clear_message() {
    for (name, rt) in flavours() {
        let inner = Arc::new(current());
        let i2 = inner.clone();
        let err = rt
            .block_on(bounded(name, async move {
                runtime::spawn(async move { i2.block_on(async { 1 }) }).await
            }))
            .expect_err("block_on inside a task succeeded");
        let msg = panic_message(&*err.into_panic());
        assert!(
            msg.contains("cannot start a runtime from within a runtime")
                && msg.contains("spawn_blocking"),
            "{name}: unclear message: {msg}"
        );
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1, "{name}");
        // The inner runtime still works from a plain thread.
        assert_eq!(inner.block_on(async { 2 }), 2);
    }
}

/// `runtime::spawn` outside any runtime panics with a clear message.
#[test]
fn spawn_outside_runtime_panics_with_clear_message() {
    let r = catch_unwind(|| {
        drop(runtime::spawn(async {}));
    });
    let msg = panic_message(&*r.expect_err("spawn outside a runtime did not panic"));
    assert!(
        msg.contains("runtime::spawn")
            && msg.contains("must be called from the context of a runtime"),
        "unclear message: {msg}"
    );
    // Same for timers and spawn_blocking.
    let r = catch_unwind(|| drop(runtime::spawn_blocking(|| ())));
    let msg = panic_message(&*r.expect_err("spawn_blocking outside a runtime did not panic"));
    assert!(
        msg.contains("context of a runtime"),
        "unclear message: {msg}"
    );
    let r = catch_unwind(AssertUnwindSafe(|| {
        // Polling a sleep with a no-op waker outside a runtime.
        let mut s = std::pin::pin!(runtime::time::sleep(Duration::from_secs(1)));
        let mut cx = Context::from_waker(Waker::noop());
        let _ = s.as_mut().poll(&mut cx);
    }));
    let msg = panic_message(&*r.expect_err("sleep outside a runtime did not panic"));
    assert!(
        msg.contains("context of a runtime"),
        "unclear message: {msg}"
    );
    assert!(runtime::Handle::try_current().is_none());
}

/// `yield_now` lets other tasks run: a task that always yields does not
/// starve another on a single worker.
#[test]
fn yield_now_lets_others_run() {
    for (name, rt) in [
        ("multi-thread, 1 worker", multi(1)),
        ("current-thread", current()),
    ] {
        rt.block_on(bounded(name, async {
            let stop = Arc::new(AtomicBool::new(false));
            let s = stop.clone();
            let spinner = runtime::spawn(async move {
                let mut spins = 0u64;
                while !s.load(Ordering::SeqCst) {
                    yield_now().await;
                    spins += 1;
                }
                spins
            });
            // This task must get a turn although the spinner is always ready.
            runtime::spawn(async move { stop.store(true, Ordering::SeqCst) })
                .await
                .unwrap();
            spinner.await.unwrap();
        }));
    }
}

// ----- a panicking waker among the reactor's wake-ups ---------------------------------

/// A waker that panics when woken (foreign code the reactor must survive).
struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("user waker panicked in the reactor's wake loop");
    }
}

/// Polls `timer` once with a [`PanickingWaker`]; says whether it is pending
/// (that is, registered with that waker).
fn register_panicking_waker(timer: Pin<&mut runtime::time::Sleep>) -> bool {
    let waker = Waker::from(Arc::new(PanickingWaker));
    timer.poll(&mut Context::from_waker(&waker)).is_pending()
}

/// One waker of a reactor turn panics: the tasks whose timers came due in
/// the same turn are still woken (they used to be dropped unwoken with the
/// rest of the turn's list, and hung), and the worker lives on.
///
/// Nine timers share one deadline; the fifth is registered with a panicking
/// waker, so whatever the wake order, waiters are queued behind it.
#[test]
fn a_panicking_waker_does_not_leave_the_rest_of_its_turn_unwoken() {
    const WAITERS: usize = 8;
    let rt = multi(1);
    // Far enough ahead that every timer is registered before it passes.
    let deadline = Instant::now() + Duration::from_millis(500);
    let (woken_tx, woken_rx) = std::sync::mpsc::channel();
    let (registered_tx, registered_rx) = std::sync::mpsc::channel();
    for i in 0..=WAITERS {
        if i == WAITERS / 2 {
            let registered = registered_tx.clone();
            rt.spawn(async move {
                let mut timer = Box::pin(runtime::time::sleep_until(deadline));
                registered
                    .send(register_panicking_waker(timer.as_mut()))
                    .unwrap();
                // Keeps the timer registered until its deadline.
                std::future::pending::<()>().await;
            });
        } else {
            let woken = woken_tx.clone();
            rt.spawn(async move {
                runtime::time::sleep_until(deadline).await;
                woken.send(i).unwrap();
            });
        }
    }
    let registered = registered_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the panicking waker's task ran");
    assert!(registered, "the timer passed before it was registered");
    let mut woken = Vec::new();
    while woken.len() < WAITERS {
        match woken_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(i) => woken.push(i),
            Err(_) => panic!("tasks left hanging: only {woken:?} of {WAITERS} were woken"),
        }
    }
    // The only worker survived the panic.
    let n = rt.block_on(bounded("after the panic", async {
        runtime::spawn(async { 7 }).await.unwrap()
    }));
    assert_eq!(n, 7);
}

/// `JoinHandle::id()` is a `task::Id`: the one `task::id()` returns inside
/// the task and `AbortHandle::id()` returns, distinct between tasks.
#[test]
fn join_handle_id_is_the_task_s_id() {
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            let handle = runtime::spawn(async { runtime::task::id() });
            let id: runtime::task::Id = handle.id();
            assert_eq!(id, handle.abort_handle().id(), "{name}");
            let other = runtime::spawn(async {});
            assert_ne!(id, other.id(), "{name}");
            assert_eq!(handle.await.unwrap(), id, "{name}");
            assert!(format!("{:?}", other).contains(&format!("{:?}", other.id())));
        }));
    }
}
