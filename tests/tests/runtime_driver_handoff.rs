//! Timers and I/O are served while one worker is stuck in a long poll and
//! another is idle: the idle one takes over the reactor. How fast is measured
//! by the `stall` benchmark; this checks the hand-off logically, with a
//! deadline only generous enough to catch "never, until the long poll ends".

mod runtime_support;

use std::sync::mpsc;
use std::time::Duration;

use runtime::net::TcpListener;
use runtime::time::sleep;
use runtime_support::{multi, oneshot};

/// How long the test waits for something the hand-off must deliver while the
/// worker stays blocked. Without a hand-off it is never delivered.
const DEADLINE: Duration = Duration::from_secs(10);

/// Blocks one worker of `rt` in a poll until the returned sender is dropped
/// or sends; returns once that worker is blocked.
///
/// The task first waits on a timer: with both workers idle, one sleeps in
/// `epoll_wait` and the other on its condition variable, and the timer's
/// wake-up lands in the queue of the worker that drove the reactor. So the
/// worker that gets stuck is the one that was driving, the case where nobody
/// is left in `epoll_wait` unless the driver is handed over.
fn block_one_worker(rt: &runtime::Runtime) -> mpsc::Sender<()> {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = oneshot::<()>();
    rt.spawn(async move {
        sleep(Duration::from_millis(30)).await;
        started_tx.send(());
        // Deliberately blocking the worker: that is the scenario.
        let _ = release_rx.recv();
    });
    rt.block_on(started_rx).expect("the blocking task started");
    release_tx
}

/// Runs `f` against a deadline on another thread; `Err` if it missed it.
fn by_deadline(f: impl FnOnce() + Send + 'static) -> Result<(), mpsc::RecvTimeoutError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(DEADLINE)
}

#[test]
fn a_timer_fires_while_one_worker_is_stuck_in_a_poll() {
    for round in 0..5 {
        let rt = multi(2);
        let release = block_one_worker(&rt);
        let r = by_deadline(move || {
            rt.block_on(sleep(Duration::from_millis(10)));
            drop(release);
        });
        assert!(
            r.is_ok(),
            "round {round}: the 10 ms timer did not fire while a worker was blocked"
        );
    }
}

#[test]
fn a_socket_is_served_while_one_worker_is_stuck_in_a_poll() {
    for round in 0..5 {
        let rt = multi(2);
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        // An accept loop task waits on the listener's readiness.
        let accepted = rt.spawn(async move { listener.accept().await.map(|_| ()) });
        let release = block_one_worker(&rt);
        let r = by_deadline(move || {
            let _client = std::net::TcpStream::connect(addr).unwrap();
            rt.block_on(accepted).unwrap().unwrap();
            drop(release);
        });
        assert!(
            r.is_ok(),
            "round {round}: the connection was not accepted while a worker was blocked"
        );
    }
}
