//! A runtime dropped with thousands of pending sockets *and* thousands of timers, with some
//! of its tasks' destructors panicking: no hang, no abort, every destructor runs, and every
//! file descriptor is closed (counted in /proc/self/fd).
//!
//! Alone in its binary (a single test): it counts this process's open descriptors, which
//! tests running in parallel threads would disturb.
//!
//! `RELIABILITY_PAIRS` sets the number of connected socket pairs (default 2,000, i.e. 4,000
//! sockets with a reading task each); `RELIABILITY_TIMERS` the number of sleeping tasks
//! (default 5,000; half of the socket readers wait under a `timeout` as well).

mod reliability_support;
mod runtime_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use reliability_support::{env_or, quiet_expected_panics, PanicOnDrop};
use runtime::net::{TcpListener, TcpStream};
use runtime_support::{bounded, current, multi, open_fds, raise_nofile_limit, DropCounter};

/// Tasks whose destructor panics; half of them own a socket (closed all the same).
const PANICKY: usize = 200;

struct Scene {
    tasks: usize,
    panicky: usize,
    sockets: usize,
    timers: usize,
}

/// Fills `rt` with pending work; returns what it created.
fn populate(
    rt: &runtime::Runtime,
    pairs: usize,
    timers: usize,
    drops: &Arc<AtomicUsize>,
    panic_drops: &Arc<AtomicUsize>,
) -> Scene {
    let started = Arc::new(AtomicUsize::new(0));
    rt.block_on(bounded("populate", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut tasks = 0;
        let mut sockets = 1;
        let mut timer_count = 0;
        let spawn_counted =
            |fut: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>| {
                let (started, counter) = (started.clone(), DropCounter(drops.clone()));
                runtime::spawn(async move {
                    let _c = counter;
                    started.fetch_add(1, Ordering::SeqCst);
                    fut.await;
                });
            };
        for p in 0..pairs {
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            for mut s in [client, server] {
                let timed = p % 2 == 0;
                spawn_counted(Box::pin(async move {
                    let mut buf = [0u8; 16];
                    if timed {
                        // A timer *and* a socket: nobody writes, the hour never passes.
                        let r = runtime::time::timeout(Duration::from_secs(3600), s.read(&mut buf))
                            .await;
                        unreachable!("timed read returned: {r:?}");
                    }
                    let r = s.read(&mut buf).await;
                    unreachable!("read returned on a silent socket: {r:?}");
                }));
                tasks += 1;
                sockets += 1;
                timer_count += usize::from(timed);
            }
        }
        for t in 0..timers {
            // Deadlines spread over an hour, so the timer structure holds many distinct ones.
            let d = Duration::from_secs(3600) + Duration::from_millis(t as u64 * 719);
            spawn_counted(Box::pin(async move {
                runtime::time::sleep(d).await;
            }));
            tasks += 1;
            timer_count += 1;
        }
        // Tasks whose destructor panics: half hold a socket and a timer, half only a timer.
        for k in 0..PANICKY {
            let guard = PanicOnDrop {
                what: "task of a dropped runtime",
                drops: panic_drops.clone(),
            };
            let sock = if k % 2 == 0 {
                let c = TcpStream::connect(addr).await.unwrap();
                let (s, _) = listener.accept().await.unwrap();
                sockets += 2;
                Some((c, s))
            } else {
                None
            };
            let started = started.clone();
            runtime::spawn(async move {
                // Fields are still dropped after the guard's `drop` panics: the sockets close.
                let _g = (guard, sock);
                started.fetch_add(1, Ordering::SeqCst);
                runtime::time::sleep(Duration::from_secs(7200)).await;
            });
            timer_count += 1;
        }
        let total = tasks + PANICKY;
        while started.load(Ordering::SeqCst) < total {
            runtime::task::yield_now().await;
        }
        // The listener stays pending in an accept task too.
        spawn_counted(Box::pin(async move {
            let r = listener.accept().await;
            unreachable!("nobody connects: {r:?}");
        }));
        tasks += 1;
        Scene {
            tasks,
            panicky: PANICKY,
            sockets,
            timers: timer_count,
        }
    }))
}

#[test]
fn runtime_dropped_with_thousands_of_sockets_and_timers_closes_every_fd() {
    quiet_expected_panics();
    let pairs: usize = env_or("RELIABILITY_PAIRS", 2000);
    let timers: usize = env_or("RELIABILITY_TIMERS", 5000);
    let limit = raise_nofile_limit();
    assert!(
        limit as usize > 2 * pairs + PANICKY + 200,
        "RLIMIT_NOFILE {limit} too low for {pairs} socket pairs"
    );
    // Warm up once, so lazily opened process-wide descriptors are not counted.
    {
        let rt = multi(2);
        let (d, p) = (Arc::default(), Arc::default());
        populate(&rt, 10, 10, &d, &p);
        drop(rt);
    }
    for (name, build) in [
        ("multi-thread", (|| multi(2)) as fn() -> runtime::Runtime),
        ("current-thread", current as fn() -> runtime::Runtime),
    ] {
        let fds_before = open_fds();
        let rt = build();
        let drops = Arc::new(AtomicUsize::new(0));
        let panic_drops = Arc::new(AtomicUsize::new(0));
        let scene = populate(&rt, pairs, timers, &drops, &panic_drops);
        let fds_during = open_fds();
        assert!(
            fds_during >= fds_before + scene.sockets,
            "{name}: expected {} sockets open ({fds_before} -> {fds_during})",
            scene.sockets
        );
        assert_eq!(
            drops.load(Ordering::SeqCst),
            0,
            "{name}: a task ended early"
        );

        let (tx, rx) = mpsc::channel();
        let t = Instant::now();
        let dropper = std::thread::spawn(move || {
            drop(rt);
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{name}: dropping the runtime hung"));
        let took = t.elapsed();
        assert!(
            dropper.join().is_ok(),
            "{name}: a destructor's panic escaped Runtime::drop"
        );
        let fds_after = open_fds();
        println!(
            "{name}: dropped a runtime with {} pending tasks ({} sockets, {} timers, {} \
             panicking destructors) in {took:.1?}; fds {fds_before} -> {fds_during} -> \
             {fds_after}",
            scene.tasks + scene.panicky,
            scene.sockets,
            scene.timers,
            scene.panicky
        );
        assert_eq!(
            drops.load(Ordering::SeqCst),
            scene.tasks,
            "{name}: not every task's destructor ran"
        );
        assert_eq!(
            panic_drops.load(Ordering::SeqCst),
            scene.panicky,
            "{name}: not every panicking destructor ran"
        );
        assert_eq!(
            fds_after, fds_before,
            "{name}: file descriptors leaked by the dropped runtime"
        );
    }
}
