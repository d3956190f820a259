//! Timers behind a long poll (issue 10 item 11, tokio#4730): two workers, one
//! of them stuck in a 400 ms poll right after it drove the reactor, the other
//! idle. How late does a 10 ms sleep awaited from `block_on` meanwhile fire?
//! A runtime that leaves the reactor undriven until the long poll ends is
//! ~390 ms late; one whose idle worker takes the driver over is not.

use crate::rt::Rt;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The stuck worker's poll.
const STALL: Duration = Duration::from_millis(400);
/// The timer awaited meanwhile.
const SLEEP: Duration = Duration::from_millis(10);

/// `rounds` rounds on a fresh 2-worker runtime each. Returns [lateness p50 ms,
/// lateness max ms] of the 10 ms sleep over the rounds.
pub fn timer_behind_long_poll<R: Rt>(rounds: usize) -> [f64; 2] {
    let mut late: Vec<f64> = (0..rounds).map(|_| one_round::<R>()).collect();
    late.sort_by(f64::total_cmp);
    [late[late.len() / 2], late[late.len() - 1]]
}

fn one_round<R: Rt>() -> f64 {
    let rt = R::multi_thread(2);
    // Let both workers go idle, one in epoll_wait and one on its condvar.
    rt.block_on(async { R::sleep(Duration::from_millis(5)).await });
    let (started_tx, started_rx) = mpsc::channel();
    let stuck = rt.spawn_on(async move {
        // Woken by the timer, the task runs on the worker that drove the
        // reactor: that is the worker that then gets stuck.
        R::sleep(Duration::from_millis(20)).await;
        let _ = started_tx.send(());
        std::thread::sleep(STALL);
    });
    started_rx.recv().expect("the stuck task started");
    let late = rt.block_on(async {
        let t0 = Instant::now();
        R::sleep(SLEEP).await;
        t0.elapsed().saturating_sub(SLEEP)
    });
    rt.block_on(stuck).expect("the stuck task finished");
    late.as_secs_f64() * 1e3
}
