//! Panics in the destructors of task futures (and of their outputs): when a task is aborted,
//! when it completes, when its output is discarded, after its `poll` panicked, and when the
//! runtime is dropped with thousands of such tasks pending. None may abort the process, hang,
//! kill a worker, or skip the other tasks' destructors; the runtime reports the destructor's
//! panic as the task's [`runtime::JoinError`] where someone is waiting for it.
//!
//! The fd-counting variant (thousands of sockets and timers) is in
//! `reliability_runtime_drop_fds.rs`, alone in its binary.

mod reliability_support;
mod runtime_support;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use reliability_support::{quiet_expected_panics, PanicOnDrop, EXPECTED_PANIC};
use runtime_support::{bounded, current, multi, oneshot, DropCounter};

fn flavours() -> Vec<(&'static str, runtime::Runtime)> {
    vec![("multi-thread", multi(2)), ("current-thread", current())]
}

fn panic_message(err: runtime::JoinError) -> String {
    assert!(err.is_panic(), "expected a panic error, got {err:?}");
    let payload = err.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// The runtime still runs tasks on every worker: spawn many, join all.
async fn still_works() {
    let handles: Vec<_> = (0..200u64)
        .map(|i| {
            runtime::spawn(async move {
                runtime::task::yield_now().await;
                i * 2
            })
        })
        .collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await.expect("task after the panics");
    }
    assert_eq!(sum, 199 * 200);
}

#[test]
fn aborted_task_whose_future_drop_panics() {
    quiet_expected_panics();
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            let drops = Arc::new(AtomicUsize::new(0));
            let guard = PanicOnDrop {
                what: "aborted future",
                drops: drops.clone(),
            };
            let (tx, rx) = oneshot::<()>();
            let handle = runtime::spawn(async move {
                let _g = guard;
                tx.send(());
                std::future::pending::<()>().await;
            });
            rx.await.expect("task started");
            handle.abort();
            let msg = panic_message(handle.await.unwrap_err());
            assert!(msg.contains("drop of aborted future"), "{name}: {msg}");
            assert_eq!(drops.load(Ordering::SeqCst), 1, "{name}");
            still_works().await;
        }));
    }
}

#[test]
fn completed_task_whose_future_drop_panics() {
    quiet_expected_panics();
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            let drops = Arc::new(AtomicUsize::new(0));
            // Awaited: the destructor's panic is the task's result.
            let guard = PanicOnDrop {
                what: "completed future",
                drops: drops.clone(),
            };
            let handle = runtime::spawn(async move {
                let _g = guard;
                runtime::task::yield_now().await;
                7
            });
            let msg = panic_message(handle.await.unwrap_err());
            assert!(msg.contains("drop of completed future"), "{name}: {msg}");
            // Detached: nobody sees it, nothing breaks.
            let (tx, rx) = oneshot::<()>();
            let guard = PanicOnDrop {
                what: "detached future",
                drops: drops.clone(),
            };
            drop(runtime::spawn(async move {
                let _g = guard;
                runtime::task::yield_now().await;
                tx.send(());
            }));
            assert_eq!(rx.await, Some(()));
            still_works().await;
            // The guard is dropped when the task's body ends, *after* the send: on the
            // multi-thread runtime that destructor may still be running on a worker when the
            // receive above returns, so wait for it (`bounded` fails the test if it never runs).
            while drops.load(Ordering::SeqCst) < 2 {
                runtime::task::yield_now().await;
            }
            assert_eq!(drops.load(Ordering::SeqCst), 2, "{name}");
        }));
    }
}

#[test]
fn output_whose_drop_panics_is_discarded_safely() {
    quiet_expected_panics();
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            let drops = Arc::new(AtomicUsize::new(0));
            // JoinHandle dropped before completion: the runtime drops the output.
            let (go_tx, go_rx) = oneshot::<()>();
            let d = drops.clone();
            let handle = runtime::spawn(async move {
                go_rx.await;
                PanicOnDrop {
                    what: "output nobody awaits",
                    drops: d,
                }
            });
            drop(handle);
            go_tx.send(());
            // JoinHandle dropped after completion: the handle's destructor drops it.
            let d = drops.clone();
            let handle = runtime::spawn(async move {
                PanicOnDrop {
                    what: "output of a finished task",
                    drops: d,
                }
            });
            while !handle.is_finished() {
                runtime::task::yield_now().await;
            }
            drop(handle);
            let start = Instant::now();
            while drops.load(Ordering::SeqCst) < 2 {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "{name}: outputs not dropped"
                );
                runtime::task::yield_now().await;
            }
            still_works().await;
        }));
    }
}

/// A future whose `poll` panics and whose destructor panics too.
struct PanicTwice {
    _guard: PanicOnDrop,
}

impl Future for PanicTwice {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        panic!("{EXPECTED_PANIC}: in poll");
    }
}

#[test]
fn poll_panics_then_drop_panics_reports_the_first() {
    quiet_expected_panics();
    for (name, rt) in flavours() {
        rt.block_on(bounded(name, async {
            let drops = Arc::new(AtomicUsize::new(0));
            let handle = runtime::spawn(PanicTwice {
                _guard: PanicOnDrop {
                    what: "future whose poll panicked",
                    drops: drops.clone(),
                },
            });
            let msg = panic_message(handle.await.unwrap_err());
            assert!(msg.contains("in poll"), "{name}: {msg}");
            assert_eq!(drops.load(Ordering::SeqCst), 1, "{name}");
            still_works().await;
        }));
    }
}

#[test]
fn runtime_dropped_with_thousands_of_tasks_whose_drop_panics() {
    quiet_expected_panics();
    const PANICKY: usize = 2000;
    const PLAIN: usize = 2000;
    for (name, rt) in flavours() {
        let panicky_drops = Arc::new(AtomicUsize::new(0));
        let plain_drops = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        rt.block_on(bounded(name, async {
            for i in 0..PANICKY + PLAIN {
                let started = started.clone();
                let panicky = (i % 2 == 0).then(|| PanicOnDrop {
                    what: "task at runtime drop",
                    drops: panicky_drops.clone(),
                });
                let plain = (i % 2 == 1).then(|| DropCounter(plain_drops.clone()));
                runtime::spawn(async move {
                    let _g = (panicky, plain);
                    started.fetch_add(1, Ordering::SeqCst);
                    // Half wait on a timer, half on nothing at all.
                    if i % 4 < 2 {
                        runtime::time::sleep(Duration::from_secs(3600)).await;
                    } else {
                        std::future::pending::<()>().await;
                    }
                });
            }
            while started.load(Ordering::SeqCst) < PANICKY + PLAIN {
                runtime::task::yield_now().await;
            }
        }));
        let (tx, rx) = mpsc::channel();
        let t = Instant::now();
        let dropper = std::thread::spawn(move || {
            drop(rt);
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{name}: dropping the runtime hung"));
        assert!(
            dropper.join().is_ok(),
            "{name}: a destructor's panic escaped Runtime::drop"
        );
        println!(
            "{name}: runtime with {PANICKY} panicking-drop and {PLAIN} plain pending tasks \
             dropped in {:.1?}",
            t.elapsed()
        );
        assert_eq!(panicky_drops.load(Ordering::SeqCst), PANICKY, "{name}");
        assert_eq!(plain_drops.load(Ordering::SeqCst), PLAIN, "{name}");
    }
}
