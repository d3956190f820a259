//! The builder's thread hooks and names, `Handle::block_on`,
//! `shutdown_timeout`/`shutdown_background`, and `futures::task::Spawn`.

mod runtime_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use futures::task::SpawnExt;
use runtime_support::{multi, TEST_TIMEOUT};

#[test]
fn thread_hooks_run_on_workers_and_blocking_threads() {
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (s, t) = (started.clone(), stopped.clone());
    let rt = runtime::Builder::new()
        .worker_threads(2)
        .on_thread_start(move || {
            s.fetch_add(1, Ordering::SeqCst);
        })
        .on_thread_stop(move || {
            t.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    // One blocking-pool thread too.
    rt.block_on(rt.spawn_blocking(|| ())).unwrap();
    // Workers start on their own time: wait for their hooks with a deadline.
    wait_for_count(&started, 3, "start hooks");
    drop(rt);
    // Workers are joined by the drop; the blocking thread exits on its own
    // once told.
    wait_for_count(&stopped, 3, "stop hooks");
    assert_eq!(started.load(Ordering::SeqCst), 3);
}

/// Waits, with a deadline, until `counter` reaches `n`.
fn wait_for_count(counter: &AtomicUsize, n: usize, what: &str) {
    let deadline = Instant::now() + TEST_TIMEOUT;
    while counter.load(Ordering::SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {n}",
            counter.load(Ordering::SeqCst)
        );
        std::thread::yield_now();
    }
}

#[test]
fn thread_name_fn_names_every_thread() {
    let names = Arc::new(Mutex::new(Vec::new()));
    let n = Arc::new(AtomicUsize::new(0));
    let rt = runtime::Builder::new()
        .worker_threads(2)
        .thread_name_fn(move || format!("custom-{}", n.fetch_add(1, Ordering::SeqCst)))
        .build()
        .unwrap();
    let names2 = names.clone();
    let name_of_blocking = rt
        .block_on(rt.spawn_blocking(move || {
            let name = std::thread::current().name().map(String::from);
            names2.lock().unwrap().push(name.clone());
            name
        }))
        .unwrap()
        .unwrap();
    assert!(
        name_of_blocking.starts_with("custom-"),
        "{name_of_blocking}"
    );
}

#[test]
fn runtime_name_is_reported() {
    let rt = runtime::Builder::new()
        .worker_threads(1)
        .name("ingest")
        .build()
        .unwrap();
    assert_eq!(rt.handle().name(), Some("ingest"));
    assert!(format!("{rt:?}").contains("ingest"));
}

#[test]
fn handle_block_on_from_a_plain_thread_and_a_blocking_closure() {
    let rt = multi(2);
    let handle = rt.handle().clone();
    let v = std::thread::spawn(move || {
        handle.block_on(async { runtime::spawn(async { 1 }).await.unwrap() })
    })
    .join()
    .unwrap();
    assert_eq!(v, 1);
    let handle = rt.handle().clone();
    let v = rt
        .block_on(rt.spawn_blocking(move || handle.block_on(async { 2 })))
        .unwrap();
    assert_eq!(v, 2);
}

#[test]
fn shutdown_timeout_leaves_a_stuck_worker_behind() {
    let rt = runtime::Builder::new().worker_threads(1).build().unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    rt.spawn(async move {
        started_tx.send(()).unwrap();
        // Blocks its worker until the test lets it go.
        let _ = release_rx.recv();
    });
    started_rx.recv().unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        rt.shutdown_timeout(Duration::from_millis(10));
        done_tx.send(()).unwrap();
    });
    // Returns while the worker is still blocked (a plain drop would wait).
    done_rx
        .recv_timeout(TEST_TIMEOUT)
        .expect("shutdown_timeout waited for the stuck worker");
    release_tx.send(()).unwrap();
}

#[test]
fn shutdown_background_does_not_block_inside_a_runtime() {
    let outer = multi(1);
    let inner = multi(1);
    outer.block_on(async move {
        inner.shutdown_background();
    });
}

#[test]
fn futures_spawn_runs_on_the_runtime() {
    let rt = multi(2);
    let handle = rt.handle().clone();
    let h = handle
        .spawn_with_handle(async { std::thread::current().name().map(String::from) })
        .unwrap();
    let name = rt.block_on(h);
    assert_eq!(name.as_deref(), Some("runtime-worker"));
}

#[test]
fn futures_spawn_after_shutdown_is_an_error() {
    let rt = multi(1);
    let handle = rt.handle().clone();
    drop(rt);
    let err = SpawnExt::spawn(&handle, async {}).unwrap_err();
    assert!(err.is_shutdown());
}
