//! Counts heap allocations with a counting global allocator to prove that a
//! spawned task is one allocation and that waking a task allocates nothing.
//!
//! One `#[test]` only: the counter is process-wide, so no other test may run
//! concurrently in this binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::SeqCst)
}

async fn spawn_and_join(n: usize) {
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        handles.push(runtime::spawn(async move {
            // Each task is woken once (by itself) before it completes, so the
            // wake path is measured too.
            runtime::task::yield_now().await;
            i
        }));
    }
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.await.unwrap(), i);
    }
}

#[test]
fn one_allocation_per_task_and_none_per_wake() {
    for builder in [runtime::Builder::new_current_thread(), {
        let mut b = runtime::Builder::new();
        b.worker_threads(2);
        b
    }] {
        let rt = builder.clone().build().unwrap();
        const N: usize = 10_000;
        rt.block_on(async {
            // Warm up: let the queues, slabs and vectors reach their size.
            spawn_and_join(N).await;
            let vec_alloc = 1; // the Vec of handles in spawn_and_join
            let before = allocations();
            spawn_and_join(N).await;
            let spawned = allocations() - before - vec_alloc;
            // One allocation per task; a little slack for amortised growth
            // (inject queue, slab shards) that warm-up did not reach.
            assert!(
                spawned >= N,
                "counted {spawned} allocations for {N} tasks: counter broken?"
            );
            assert!(
                spawned <= N + 64,
                "{spawned} allocations for {N} tasks: more than one per task"
            );

            // Waking: one task yields 10,000 times.
            let h = runtime::spawn(async {
                for _ in 0..10 {
                    runtime::task::yield_now().await;
                }
            });
            h.await.unwrap();
            let before = allocations();
            let h = runtime::spawn(async {
                for _ in 0..10_000 {
                    runtime::task::yield_now().await;
                }
            });
            h.await.unwrap();
            let used = allocations() - before;
            assert!(used <= 4, "10,000 wakes made {used} allocations");
        });
    }
}
