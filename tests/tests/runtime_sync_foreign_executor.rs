//! `runtime::sync` off our runtime: the primitives need only wakers, so
//! `futures`' executors (block_on and a single-threaded `LocalPool`) run
//! them, with plain threads on the other side.

use std::sync::Arc;
use std::thread;

use futures::executor::{block_on, LocalPool};
use futures::task::LocalSpawnExt;
use runtime::sync::{mpsc, oneshot, Mutex, Notify, Semaphore};

#[test]
fn channels_between_futures_block_on_and_threads() {
    let (tx, rx) = oneshot::channel();
    let sender = thread::spawn(move || tx.send(1).unwrap());
    assert_eq!(block_on(rx), Ok(1));
    sender.join().unwrap();

    let (tx, mut rx) = mpsc::channel(2);
    let producer = thread::spawn(move || {
        for i in 0..1_000 {
            tx.blocking_send(i).unwrap();
        }
    });
    let got: Vec<i32> = block_on(async {
        let mut got = Vec::new();
        while let Some(i) = rx.recv().await {
            got.push(i);
        }
        got
    });
    producer.join().unwrap();
    assert_eq!(got, (0..1_000).collect::<Vec<_>>());
}

#[test]
fn notify_semaphore_and_mutex_on_a_local_pool() {
    let mut pool = LocalPool::new();
    let spawner = pool.spawner();
    let gate = Arc::new(Semaphore::new(0));
    let total = Arc::new(Mutex::new(0));
    let done = Arc::new(Notify::new());
    for _ in 0..10 {
        let (gate, total, done) = (gate.clone(), total.clone(), done.clone());
        spawner
            .spawn_local(async move {
                let _permit = gate.acquire().await.unwrap();
                let mut total = total.lock().await;
                *total += 1;
                if *total == 10 {
                    done.notify_one();
                }
            })
            .unwrap();
    }
    // The permits come from another thread; three of them cycle through
    // the ten tasks as each one finishes.
    let opener = {
        let gate = gate.clone();
        thread::spawn(move || gate.add_permits(3))
    };
    pool.run_until(done.notified());
    opener.join().unwrap();
    assert_eq!(*block_on(total.lock()), 10);
    pool.run();
    assert_eq!(gate.available_permits(), 3);
}

/// As in tokio, a `blocking_*` method called on a thread that runs a runtime
/// (here inside `block_on`, and in a task on a worker) panics instead of
/// stalling it; in a `block_in_place` closure and on a `spawn_blocking`
/// thread it blocks as asked.
#[test]
fn blocking_methods_refuse_a_runtime_thread() {
    let rt = runtime::Builder::new()
        .worker_threads(2)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
        tx.send(1).unwrap();
        let in_block_on =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.blocking_recv()));
        assert!(
            in_block_on.is_err(),
            "blocking_recv inside block_on did not panic"
        );
        let in_task = runtime::spawn(async move {
            let (otx, orx) = oneshot::channel::<u8>();
            drop(otx);
            orx.blocking_recv()
        })
        .await;
        assert!(
            in_task.is_err_and(|e| e.is_panic()),
            "blocking_recv in a task did not panic"
        );
        // Nothing was taken by the refused calls.
        let got = runtime::spawn(async move {
            let first = runtime::task::block_in_place(|| rx.blocking_recv());
            tx.send(2).unwrap();
            let second = runtime::spawn_blocking(move || rx.blocking_recv())
                .await
                .unwrap();
            (first, second)
        })
        .await
        .unwrap();
        assert_eq!(got, (Some(1), Some(2)));
    });
}
