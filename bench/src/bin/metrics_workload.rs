//! A fixed, deterministic workload for measuring what the runtime's metrics
//! cost in *instructions* (stable on a noisy machine, unlike time):
//! `scripts/metrics-cost.sh` runs it under callgrind built with and without
//! `--cfg runtime_no_metrics` and compares the totals.
//!
//! Current-thread runtime (one thread: no stealing, no timing-dependent
//! scheduling), 20,000 tasks each yielding 10 times, and 1,000 spawn chains:
//! about 220,000 polls, all of them through the counted paths.

fn main() {
    let rt = runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let total: u64 = rt.block_on(async {
        let handles: Vec<_> = (0..20_000u64)
            .map(|i| {
                runtime::spawn(async move {
                    for _ in 0..10 {
                        runtime::task::yield_now().await;
                    }
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.expect("task");
        }
        for _ in 0..1_000 {
            sum += runtime::spawn(async { runtime::spawn(async { 1u64 }).await.expect("inner") })
                .await
                .expect("outer");
        }
        sum
    });
    assert_eq!(total, (0..20_000u64).sum::<u64>() + 1_000);
    println!("metrics_workload: ok ({} polls)", rt.metrics().polls);
}
