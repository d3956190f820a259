//! Executor-agnostic synchronisation on our runtime: `async-lock`'s
//! `Mutex`, `RwLock`, `Semaphore` and `Barrier`, and `event-listener`'s
//! `Event`, contended by tasks spread over several worker threads.

mod ecosystem_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ecosystem_support::{current, multi, run_bounded};
use event_listener::{Event, Listener};
use runtime::time::sleep;

/// 32 tasks × 500 increments under an async `Mutex`, yielding and sleeping
/// while holding it: no lost update, and never two holders at once.
#[test]
fn async_lock_mutex_contention() {
    let rt = multi(4);
    run_bounded(&rt, "async-lock Mutex", async {
        let counter = Arc::new(async_lock::Mutex::new(0u64));
        let inside = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..32)
            .map(|t| {
                let counter = counter.clone();
                let inside = inside.clone();
                runtime::spawn(async move {
                    for i in 0..500 {
                        let mut guard = counter.lock().await;
                        assert!(!inside.swap(true, Ordering::SeqCst), "two holders");
                        let v = *guard;
                        if i % 50 == t % 50 {
                            // Hold the lock across a suspension point.
                            sleep(Duration::from_micros(100)).await;
                        } else if i % 7 == 0 {
                            runtime::task::yield_now().await;
                        }
                        *guard = v + 1;
                        inside.store(false, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*counter.lock().await, 32 * 500);
    });
}

/// `RwLock`: readers share, a writer excludes everyone.
#[test]
fn async_lock_rwlock() {
    let rt = multi(4);
    run_bounded(&rt, "async-lock RwLock", async {
        let lock = Arc::new(async_lock::RwLock::new(Vec::<u32>::new()));
        let readers_inside = Arc::new(AtomicUsize::new(0));
        let max_readers = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for w in 0..4u32 {
            let lock = lock.clone();
            tasks.push(runtime::spawn(async move {
                for i in 0..50 {
                    let mut g = lock.write().await;
                    g.push(w * 1000 + i);
                    runtime::task::yield_now().await;
                }
            }));
        }
        for _ in 0..8 {
            let lock = lock.clone();
            let readers_inside = readers_inside.clone();
            let max_readers = max_readers.clone();
            tasks.push(runtime::spawn(async move {
                for _ in 0..50 {
                    let g = lock.read().await;
                    let n = readers_inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max_readers.fetch_max(n, Ordering::SeqCst);
                    let len = g.len();
                    sleep(Duration::from_micros(200)).await;
                    // No writer got in while we held the read lock.
                    assert_eq!(g.len(), len);
                    readers_inside.fetch_sub(1, Ordering::SeqCst);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let v = lock.read().await;
        assert_eq!(v.len(), 200);
        for w in 0..4u32 {
            let mine: Vec<u32> = v.iter().copied().filter(|x| x / 1000 == w).collect();
            assert_eq!(mine, (0..50).map(|i| w * 1000 + i).collect::<Vec<_>>());
        }
        assert!(max_readers.load(Ordering::SeqCst) >= 1);
    });
}

/// `Semaphore` limits concurrency to its permit count, across workers.
#[test]
fn async_lock_semaphore_limits_concurrency() {
    let rt = multi(4);
    run_bounded(&rt, "Semaphore", async {
        let sem = Arc::new(async_lock::Semaphore::new(3));
        let now = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let (sem, now, max) = (sem.clone(), now.clone(), max.clone());
                runtime::spawn(async move {
                    let _permit = sem.acquire_arc().await;
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(n, Ordering::SeqCst);
                    sleep(Duration::from_millis(2)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let max = max.load(Ordering::SeqCst);
        assert!((1..=3).contains(&max), "max concurrent {max}");
    });
}

/// `Barrier`: nobody passes until all 8 tasks arrive; exactly one leader.
#[test]
fn async_lock_barrier() {
    let rt = multi(4);
    run_bounded(&rt, "Barrier", async {
        let barrier = Arc::new(async_lock::Barrier::new(8));
        let arrived = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8u64)
            .map(|i| {
                let (barrier, arrived) = (barrier.clone(), arrived.clone());
                runtime::spawn(async move {
                    sleep(Duration::from_millis(i * 5)).await;
                    arrived.fetch_add(1, Ordering::SeqCst);
                    let r = barrier.wait().await;
                    assert_eq!(arrived.load(Ordering::SeqCst), 8);
                    r.is_leader()
                })
            })
            .collect();
        let mut leaders = 0;
        for t in tasks {
            leaders += usize::from(t.await.unwrap());
        }
        assert_eq!(leaders, 1);
    });
}

/// `event-listener`: tasks wait on an `Event` for a flag, using the
/// check-listen-check pattern; `notify` wakes them on other workers.
#[test]
fn event_listener_wakes_waiters() {
    let rt = multi(4);
    run_bounded(&rt, "event-listener", async {
        struct Flag {
            set: AtomicBool,
            event: Event,
        }
        let flag = Arc::new(Flag {
            set: AtomicBool::new(false),
            event: Event::new(),
        });
        let woke = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..16)
            .map(|_| {
                let (flag, woke) = (flag.clone(), woke.clone());
                runtime::spawn(async move {
                    loop {
                        if flag.set.load(Ordering::SeqCst) {
                            break;
                        }
                        let listener = flag.event.listen();
                        if flag.set.load(Ordering::SeqCst) {
                            break;
                        }
                        listener.await;
                    }
                    woke.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        sleep(Duration::from_millis(50)).await;
        assert_eq!(woke.load(Ordering::SeqCst), 0, "woke before the event");
        flag.set.store(true, Ordering::SeqCst);
        flag.event.notify(usize::MAX);
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(woke.load(Ordering::SeqCst), 16);

        // The blocking side of the same listener type works from
        // `spawn_blocking`, mixing sync and async waiters.
        let event = Arc::new(Event::new());
        let listener = event.listen();
        let blocking = runtime::spawn_blocking(move || {
            listener.wait_timeout(Duration::from_secs(10)).is_some()
        });
        sleep(Duration::from_millis(20)).await;
        event.notify(1);
        assert!(blocking.await.unwrap(), "blocking listener timed out");
    });
}

/// The same Mutex contention on the current-thread flavour, where the lock's
/// wakers must go through our local run queue.
#[test]
fn async_lock_mutex_on_current_thread() {
    let rt = current();
    run_bounded(&rt, "Mutex current-thread", async {
        let counter = Arc::new(async_lock::Mutex::new(0u32));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let counter = counter.clone();
                runtime::spawn(async move {
                    for _ in 0..100 {
                        let mut g = counter.lock().await;
                        runtime::task::yield_now().await;
                        *g += 1;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*counter.lock().await, 1000);
    });
}
