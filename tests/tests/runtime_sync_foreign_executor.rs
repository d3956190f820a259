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
