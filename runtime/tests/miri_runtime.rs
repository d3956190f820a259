//! A small end-to-end run of each runtime flavour, sized for miri
//! (`scripts/miri.sh`): spawning, work stealing, timers, abort,
//! `spawn_blocking`, `JoinSet` and shutdown with tasks still pending, over the real
//! epoll reactor, eventfd and worker threads. Under plain `cargo test` it is
//! just one more quick test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use runtime::{Builder, Runtime};

/// Counts drops, to check that shutdown drops every pending future.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn exercise(rt: Runtime) {
    let dropped = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        // Spawn from inside a task, so the children land in one worker's local
        // queue and idle workers steal them.
        let total = runtime::spawn(async {
            let children: Vec<_> = (0..16u64)
                .map(|i| {
                    runtime::spawn(async move {
                        runtime::task::yield_now().await;
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for c in children {
                sum += c.await.unwrap();
            }
            sum
        });
        assert_eq!(total.await.unwrap(), 120);

        // Timers: a sleep fires, a timeout expires.
        runtime::time::sleep(Duration::from_millis(1)).await;
        let late =
            runtime::time::timeout(Duration::from_millis(1), std::future::pending::<()>()).await;
        assert!(late.is_err());

        // Abort drops the future and reports cancellation.
        let c = Counted(dropped.clone());
        let pending = runtime::spawn(async move {
            let _c = c;
            std::future::pending::<()>().await
        });
        runtime::task::yield_now().await;
        pending.abort();
        assert!(pending.await.unwrap_err().is_cancelled());
        assert_eq!(dropped.load(Ordering::SeqCst), 1);

        // A JoinSet joins in completion order; an AbortHandle outlives its
        // JoinHandle; ids are visible inside tasks.
        let mut set = runtime::task::JoinSet::new();
        let mut aborts = Vec::new();
        for i in 0..4u64 {
            aborts.push(set.spawn(async move { (i, runtime::task::id()) }));
        }
        let stuck = set.spawn(std::future::pending());
        stuck.abort();
        let (mut joined, mut cancelled) = (0, 0);
        while let Some(r) = set.join_next().await {
            match r {
                Ok((i, id)) => {
                    assert_eq!(id, aborts[i as usize].id());
                    joined += 1;
                }
                Err(e) => {
                    assert!(e.is_cancelled());
                    cancelled += 1;
                }
            }
        }
        assert_eq!((joined, cancelled), (4, 1));
        assert!(aborts.iter().all(|a| a.is_finished()));
        assert_eq!(runtime::task::try_id(), None);

        // The blocking pool.
        let sum = runtime::spawn_blocking(|| (1..=10u32).sum::<u32>());
        assert_eq!(sum.await.unwrap(), 55);

        // Left pending for shutdown: one idle, one detached.
        for _ in 0..2 {
            let c = Counted(dropped.clone());
            drop(runtime::spawn(async move {
                let _c = c;
                runtime::time::sleep(Duration::from_secs(3600)).await;
            }));
        }
        runtime::task::yield_now().await;
    });
    drop(rt);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        3,
        "shutdown dropped the rest"
    );
}

#[test]
fn current_thread_flavour() {
    exercise(Builder::new_current_thread().build().unwrap());
}

#[test]
fn multi_thread_flavour() {
    exercise(
        Builder::new()
            .worker_threads(2)
            .max_blocking_threads(1)
            .build()
            .unwrap(),
    );
}
