//! Timer benchmarks, written once over [`Rt`].

use crate::rt::Rt;
use bench::client::Rng;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// `n` tasks each sleep a random 1–100 ms (same pseudo-random durations for every runtime).
/// Returns [total ms, lateness p50 ms, lateness p99 ms]; lateness is how long after its
/// deadline a sleeper was resumed.
pub fn sleep_many<R: Rt>(n: usize) -> [f64; 3] {
    let rt = R::multi_thread(crate::exec::num_workers());
    let mut rng = Rng::new(42);
    let durations: Vec<Duration> = (0..n)
        .map(|_| Duration::from_micros(rng.range(1_000, 100_000)))
        .collect();
    // Warm up: start the timer machinery.
    rt.block_on(async { R::sleep(Duration::from_millis(1)).await });
    let start = Instant::now();
    let mut late: Vec<Duration> = rt.block_on(async {
        let handles: Vec<_> = durations
            .iter()
            .map(|&d| {
                R::spawn(async move {
                    let t0 = Instant::now();
                    R::sleep(d).await;
                    t0.elapsed().saturating_sub(d)
                })
            })
            .collect();
        let mut late = Vec::with_capacity(handles.len());
        for h in handles {
            late.push(h.await.unwrap());
        }
        late
    });
    let total = start.elapsed();
    late.sort_unstable();
    let pct = |p: f64| late[((late.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    [total.as_secs_f64() * 1e3, pct(0.50), pct(0.99)]
}

async fn quick_job() -> usize {
    1
}

/// tokio's `time_timeout` shape: one task per worker, each awaiting `timeout(1 s, ready)`
/// `iters / workers` times. Returns ns per timeout.
pub fn timeout_ready<R: Rt>(iters: usize) -> f64 {
    let workers = crate::exec::num_workers();
    let rt = R::multi_thread(workers);
    let run = |iters: usize| {
        rt.block_on(async {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    R::spawn(async move {
                        for _ in 0..iters / workers {
                            let h = R::timeout(Duration::from_secs(1), quick_job());
                            assert_eq!(black_box(h.await), Some(1));
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        })
    };
    run(iters / 10);
    let start = Instant::now();
    run(iters);
    start.elapsed().as_secs_f64() * 1e9 / iters as f64
}
