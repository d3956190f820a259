//! Dropping a runtime with tasks blocked on I/O and timers. This binary holds
//! a single test because it counts the process's open file descriptors,
//! which tests running in parallel threads would disturb.

mod runtime_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use runtime::net::{TcpListener, TcpStream};
use runtime_support::{bounded, current, multi, oneshot, open_fds, DropCounter};

const PAIRS: usize = 50;
const SLEEPERS: usize = 50;

/// Builds the scene on `rt`: connected pairs whose tasks wait on reads, a
/// writer stuck on a full socket buffer, a task in `accept`, and long
/// sleepers. Returns how many task futures hold a drop counter.
fn populate(rt: &runtime::Runtime, drops: &Arc<AtomicUsize>) -> usize {
    rt.block_on(bounded("populate", async {
        let mut started = Vec::new();
        let mut tasks = 0;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        for _ in 0..PAIRS {
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            for mut stream in [client, server] {
                let (tx, rx) = oneshot::<()>();
                let counter = DropCounter(drops.clone());
                runtime::spawn(async move {
                    let _c = counter;
                    tx.send(());
                    let mut buf = [0u8; 16];
                    // Nobody ever writes: this waits until the runtime drops.
                    let _ = stream.read(&mut buf).await;
                    unreachable!("read returned on a silent socket");
                });
                started.push(rx);
                tasks += 1;
            }
        }
        // A writer blocked on a full buffer, with its peer's reader split off.
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (r, mut w) = client.into_split();
        let (tx, rx) = oneshot::<()>();
        let counter = DropCounter(drops.clone());
        runtime::spawn(async move {
            let _c = (counter, r, server);
            tx.send(());
            let chunk = vec![0u8; 1 << 16];
            loop {
                // Eventually blocks: the peer never reads.
                let _ = w.write_all(&chunk).await;
            }
        });
        started.push(rx);
        tasks += 1;
        // A task waiting in accept.
        let (tx, rx) = oneshot::<()>();
        let counter = DropCounter(drops.clone());
        runtime::spawn(async move {
            let _c = counter;
            tx.send(());
            let _ = listener.accept().await;
            unreachable!("nobody connects");
        });
        started.push(rx);
        tasks += 1;
        // Long sleepers.
        for _ in 0..SLEEPERS {
            let (tx, rx) = oneshot::<()>();
            let counter = DropCounter(drops.clone());
            runtime::spawn(async move {
                let _c = counter;
                tx.send(());
                runtime::time::sleep(Duration::from_secs(3600)).await;
            });
            started.push(rx);
            tasks += 1;
        }
        for rx in started {
            rx.await.expect("task started");
        }
        // Give every task a chance to reach its await point.
        for _ in 0..10 {
            runtime::task::yield_now().await;
        }
        // A task spawned last, perhaps never polled at all: it is dropped too.
        let counter = DropCounter(drops.clone());
        runtime::spawn(async move {
            let _c = counter;
            std::future::pending::<()>().await;
        });
        tasks + 1
    }))
}

/// Drops `rt` on another thread, failing if it takes longer than `limit`.
fn drop_within(rt: runtime::Runtime, limit: Duration, name: &str) -> Duration {
    let (tx, rx) = mpsc::channel();
    let t = Instant::now();
    std::thread::spawn(move || {
        drop(rt);
        let _ = tx.send(());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{name}: dropping the runtime hung for more than {limit:?}"));
    t.elapsed()
}

/// Dropping a runtime whose tasks wait on socket reads, a full socket buffer,
/// `accept` and hour-long sleeps returns promptly, runs every task's
/// destructor and closes every file descriptor, on both flavours.
#[test]
fn runtime_drop_with_pending_io_cancels_tasks_and_closes_fds() {
    // Warm up once so lazily opened process-wide fds are not counted.
    {
        let rt = multi(2);
        let drops = Arc::new(AtomicUsize::new(0));
        populate(&rt, &drops);
        drop_within(rt, Duration::from_secs(10), "warm-up");
    }
    for (name, build) in [
        ("multi-thread", (|| multi(2)) as fn() -> runtime::Runtime),
        ("current-thread", current as fn() -> runtime::Runtime),
    ] {
        let fds_before = open_fds();
        let rt = build();
        let drops = Arc::new(AtomicUsize::new(0));
        let tasks = populate(&rt, &drops);
        let fds_during = open_fds();
        assert!(
            fds_during >= fds_before + 2 * PAIRS,
            "{name}: expected the sockets to be open ({fds_before} -> {fds_during})"
        );
        assert_eq!(
            drops.load(Ordering::SeqCst),
            0,
            "{name}: a task ended early"
        );
        let took = drop_within(rt, Duration::from_secs(10), name);
        assert!(took < Duration::from_secs(3), "{name}: drop took {took:?}");
        assert_eq!(
            drops.load(Ordering::SeqCst),
            tasks,
            "{name}: not every task's destructor ran"
        );
        let fds_after = open_fds();
        assert_eq!(
            fds_after, fds_before,
            "{name}: file descriptors leaked by the dropped runtime"
        );
    }
}
