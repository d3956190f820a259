//! Black-box tests of `spawn_blocking` and the blocking pool.

mod runtime_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use runtime_support::{bounded, current, multi};

/// `spawn_blocking` returns its closure's result, runs off the worker
/// threads, and reports a panic as `JoinError::is_panic`.
#[test]
fn spawn_blocking_returns_results() {
    for (name, rt) in [("multi-thread", multi(2)), ("current-thread", current())] {
        let caller = std::thread::current().id();
        rt.block_on(bounded(name, async move {
            let worker = runtime::spawn(async { std::thread::current().id() })
                .await
                .unwrap();
            let (v, thread, tname) = runtime::spawn_blocking(|| {
                let t = std::thread::current();
                (
                    (1..=10u64).product::<u64>(),
                    t.id(),
                    t.name().map(String::from),
                )
            })
            .await
            .unwrap();
            assert_eq!(v, 3_628_800);
            assert_ne!(thread, worker, "{name}: blocking closure ran on a worker");
            assert_ne!(thread, caller, "{name}: blocking closure ran on the caller");
            assert_eq!(tname.as_deref(), Some("runtime-worker-blocking"));
            // Many results, each to its own handle.
            let handles: Vec<_> = (0..200u64)
                .map(|i| runtime::spawn_blocking(move || i * i))
                .collect();
            for (i, h) in handles.into_iter().enumerate() {
                assert_eq!(h.await.unwrap(), (i * i) as u64);
            }
            // A panic in a blocking closure is caught.
            let err = runtime::spawn_blocking(|| -> u8 { panic!("blocking boom") })
                .await
                .unwrap_err();
            assert!(err.is_panic());
            assert_eq!(err.to_string(), "task panicked: blocking boom");
            // The runtime context is available inside the closure.
            let h = runtime::spawn_blocking(|| runtime::spawn(async { 5 }));
            assert_eq!(h.await.unwrap().await.unwrap(), 5);
        }));
    }
}

/// Many blocking closures that wait for each other run at the same time:
/// the pool grows to one thread each (`blocking_threads` > 1).
#[test]
fn blocking_pool_grows_for_concurrent_work() {
    const N: usize = 8;
    let rt = multi(2);
    rt.block_on(bounded("pool grows", async {
        // All N closures must be running at once to pass the barrier, so the
        // pool must have grown to at least N threads.
        let barrier = Arc::new(Barrier::new(N));
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let b = barrier.clone();
                runtime::spawn_blocking(move || {
                    b.wait();
                    i
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), i);
        }
    }));
    let threads = rt.metrics().blocking_threads;
    assert!(threads >= N, "pool has {threads} threads, expected >= {N}");
    // Worker threads are not blocked meanwhile: async tasks run alongside.
    rt.block_on(bounded("async alongside", async {
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let blocker = runtime::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            while d.load(Ordering::SeqCst) == 0 {
                assert!(Instant::now() < deadline, "async task never ran");
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        runtime::spawn(async move { done.store(1, Ordering::SeqCst) })
            .await
            .unwrap();
        blocker.await.unwrap();
    }));
}

/// Idle blocking threads exit after `thread_keep_alive`, and the pool starts
/// new ones when work comes back.
#[test]
fn idle_blocking_threads_exit_after_keep_alive() {
    let rt = runtime::Builder::new()
        .worker_threads(1)
        .thread_keep_alive(Duration::from_millis(100))
        .build()
        .unwrap();
    rt.block_on(bounded("keep-alive", async {
        let barrier = Arc::new(Barrier::new(3));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let b = barrier.clone();
                runtime::spawn_blocking(move || {
                    b.wait();
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    }));
    assert!(rt.metrics().blocking_threads >= 3);
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.metrics().blocking_threads > 0 {
        assert!(
            Instant::now() < deadline,
            "blocking threads still alive 10 s after a 100 ms keep-alive: {}",
            rt.metrics().blocking_threads
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Work after the pool shrank to zero still runs.
    assert_eq!(rt.block_on(rt.spawn_blocking(|| 11)).unwrap(), 11);
}

/// `max_blocking_threads` caps the pool; extra closures queue and still run.
#[test]
fn blocking_pool_respects_max_threads() {
    let rt = runtime::Builder::new()
        .worker_threads(1)
        .max_blocking_threads(2)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    rt.block_on(bounded("max threads", async {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let (running, peak) = (running.clone(), peak.clone());
                runtime::spawn_blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), i);
        }
    }));
    assert!(
        peak.load(Ordering::SeqCst) <= 2,
        "more than 2 closures ran at once"
    );
    assert!(rt.metrics().blocking_threads <= 2);
}
