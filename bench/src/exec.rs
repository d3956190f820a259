//! Executor benchmarks, the shapes of tokio's `benches/rt_multi_threaded.rs` (and the
//! current-thread `spawn_many` of `benches/rt_current_thread.rs`), written once over [`Rt`].
//!
//! Each function builds a fresh runtime (not timed), runs one untimed iteration, then times
//! up to `iters` iterations (fewer if they exceed [`SAMPLE_BUDGET_MS`]) and returns the mean
//! time of one iteration in microseconds.

// The generic join handle is a `Future`, hence `must_use`; tokio's code drops its handles
// the same way, so the shapes stay identical.
#![allow(unused_must_use)]

use crate::rt::Rt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Worker threads of the multi-thread runtime, as in tokio's benchmarks.
pub static EXEC_WORKERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(4);

/// Worker threads of the multi-thread runtimes (`--exec-workers`, default 4).
pub fn num_workers() -> usize {
    EXEC_WORKERS.load(std::sync::atomic::Ordering::Relaxed)
}
/// Tasks spawned per iteration by the `spawn_many_*` benchmarks.
pub const NUM_SPAWN: usize = 10_000;
const STALL_DUR: Duration = Duration::from_micros(10);

fn stall() {
    let now = Instant::now();
    while now.elapsed() < STALL_DUR {
        std::thread::yield_now();
    }
}

/// Upper bound on the timed part of one sample, in milliseconds (set by `main`: shorter in
/// `--quick`). A slow implementation then runs fewer iterations instead of blowing the
/// suite's time budget; the result is still the mean time of one iteration.
pub static SAMPLE_BUDGET_MS: AtomicU64 = AtomicU64::new(1000);

fn time_iters(iters: usize, mut f: impl FnMut()) -> f64 {
    f();
    let budget = Duration::from_millis(SAMPLE_BUDGET_MS.load(Relaxed));
    let start = Instant::now();
    let mut done = 0;
    while done < iters {
        f();
        done += 1;
        if start.elapsed() > budget {
            break;
        }
    }
    start.elapsed().as_secs_f64() * 1e6 / done as f64
}

/// `block_on` spawns 10,000 tasks from inside the runtime; the last one signals a channel.
pub fn spawn_many_local<R: Rt>(iters: usize) -> f64 {
    let rt = R::multi_thread(num_workers());
    let (tx, rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(0));
    time_iters(iters, || {
        rem.store(NUM_SPAWN, Relaxed);
        rt.block_on(async {
            for _ in 0..NUM_SPAWN {
                let tx = tx.clone();
                let rem = rem.clone();
                R::spawn(async move {
                    if 1 == rem.fetch_sub(1, Relaxed) {
                        tx.send(()).unwrap();
                    }
                });
            }
            rx.recv().unwrap();
        });
    })
}

/// 10,000 empty tasks spawned from outside the runtime, then awaited through their handles.
pub fn spawn_many_remote_idle<R: Rt>(iters: usize) -> f64 {
    let rt = R::multi_thread(num_workers());
    remote_spawns(&rt, NUM_SPAWN, iters)
}

fn remote_spawns<R: Rt>(rt: &R, n: usize, iters: usize) -> f64 {
    let mut handles = Vec::with_capacity(n);
    time_iters(iters, || {
        for _ in 0..n {
            handles.push(rt.spawn_on(async {}));
        }
        rt.block_on(async {
            for handle in handles.drain(..) {
                handle.await.unwrap();
            }
        });
    })
}

/// As `spawn_many_remote_idle`, while 8 tasks loop `yield_now` + a 10 µs stall.
pub fn spawn_many_remote_busy1<R: Rt>(iters: usize) -> f64 {
    let rt = R::multi_thread(num_workers());
    let flag = Arc::new(AtomicBool::new(true));
    for _ in 0..(2 * num_workers()) {
        let flag = flag.clone();
        rt.spawn_on(async move {
            while flag.load(Relaxed) {
                R::yield_now().await;
                stall();
            }
        });
    }
    let t = remote_spawns(&rt, NUM_SPAWN, iters);
    flag.store(false, Relaxed);
    t
}

/// 1,000 remote spawns while 4 chains of tasks each stall 10 µs and spawn the next.
pub fn spawn_many_remote_busy2<R: Rt>(iters: usize) -> f64 {
    const NUM_SPAWN: usize = 1_000;
    let rt = R::multi_thread(num_workers());
    let flag = Arc::new(AtomicBool::new(true));
    fn iter<R: Rt>(flag: Arc<AtomicBool>) {
        R::spawn(async {
            if flag.load(Relaxed) {
                stall();
                iter::<R>(flag);
            }
        });
    }
    for _ in 0..num_workers() {
        let flag = flag.clone();
        rt.spawn_on(async {
            iter::<R>(flag);
        });
    }
    let t = remote_spawns(&rt, NUM_SPAWN, iters);
    flag.store(false, Relaxed);
    t
}

/// 1,000 tasks, each doing a round trip over two oneshot channels with a freshly spawned peer.
pub fn ping_pong<R: Rt>(iters: usize) -> f64 {
    const NUM_PINGS: usize = 1_000;
    let rt = R::multi_thread(num_workers());
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(0));
    time_iters(iters, || {
        let done_tx = done_tx.clone();
        let rem = rem.clone();
        rem.store(NUM_PINGS, Relaxed);
        rt.block_on(async {
            R::spawn(async move {
                for _ in 0..NUM_PINGS {
                    let rem = rem.clone();
                    let done_tx = done_tx.clone();
                    R::spawn(async move {
                        let (tx1, rx1) = futures_channel::oneshot::channel::<()>();
                        let (tx2, rx2) = futures_channel::oneshot::channel::<()>();
                        R::spawn(async move {
                            rx1.await.unwrap();
                            tx2.send(()).unwrap();
                        });
                        tx1.send(()).unwrap();
                        rx2.await.unwrap();
                        if 1 == rem.fetch_sub(1, Relaxed) {
                            done_tx.send(()).unwrap();
                        }
                    });
                }
            });
            done_rx.recv().unwrap();
        });
    })
}

/// 200 tasks spawned from outside, each calling `yield_now` 1,000 times.
pub fn yield_many<R: Rt>(iters: usize) -> f64 {
    const NUM_YIELD: usize = 1_000;
    const TASKS: usize = 200;
    let rt = R::multi_thread(num_workers());
    let (tx, rx) = mpsc::sync_channel(TASKS);
    time_iters(iters, || {
        for _ in 0..TASKS {
            let tx = tx.clone();
            rt.spawn_on(async move {
                for _ in 0..NUM_YIELD {
                    R::yield_now().await;
                }
                tx.send(()).unwrap();
            });
        }
        for _ in 0..TASKS {
            rx.recv().unwrap();
        }
    })
}

/// A chain of 1,000 tasks, each spawning the next.
pub fn chained_spawn<R: Rt>(iters: usize) -> f64 {
    const ITER: usize = 1_000;
    fn iter<R: Rt>(done_tx: mpsc::SyncSender<()>, n: usize) {
        if n == 0 {
            done_tx.send(()).unwrap();
        } else {
            R::spawn(async move {
                iter::<R>(done_tx, n - 1);
            });
        }
    }
    let rt = R::multi_thread(num_workers());
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    time_iters(iters, || {
        let done_tx = done_tx.clone();
        rt.block_on(async {
            R::spawn(async move {
                iter::<R>(done_tx, ITER);
            });
            done_rx.recv().unwrap();
        });
    })
}

/// Current-thread runtime: `block_on` spawns 10,000 empty tasks and awaits their handles.
pub fn ct_spawn_many_local<R: Rt>(iters: usize) -> f64 {
    let rt = R::current_thread();
    let mut handles = Vec::with_capacity(NUM_SPAWN);
    time_iters(iters, || {
        rt.block_on(async {
            for _ in 0..NUM_SPAWN {
                handles.push(R::spawn(async {}));
            }
            for handle in handles.drain(..) {
                handle.await.unwrap();
            }
        });
    })
}

/// Current-thread runtime: 10,000 empty tasks spawned from outside, awaited in `block_on`.
pub fn ct_spawn_many_remote<R: Rt>(iters: usize) -> f64 {
    let rt = R::current_thread();
    remote_spawns(&rt, NUM_SPAWN, iters)
}
