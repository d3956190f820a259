//! `task::block_in_place`: the worker's queued tasks keep running while a task
//! blocks its thread.

mod runtime_support;

use std::sync::mpsc;

use runtime::task::block_in_place;
use runtime_support::{current, multi, TEST_TIMEOUT};

#[test]
fn queued_tasks_run_while_a_task_blocks_in_place() {
    // One worker: without the hand-off nothing else could run.
    let rt = multi(1);
    let got = rt.block_on(async {
        runtime::spawn(async {
            let (tx, rx) = mpsc::channel();
            // Queued on this very worker (its LIFO slot), not stealable.
            let other = runtime::spawn(async move { tx.send(7).unwrap() });
            let got = block_in_place(|| rx.recv_timeout(TEST_TIMEOUT));
            other.await.unwrap();
            got
        })
        .await
        .unwrap()
    });
    assert_eq!(got, Ok(7));
    // The runtime carries on (on the new thread) and shuts down cleanly.
    assert_eq!(
        rt.block_on(async { runtime::spawn(async { 1 }).await.unwrap() }),
        1
    );
}

#[test]
fn many_block_in_place_calls_in_a_row() {
    let rt = multi(2);
    let total = rt.block_on(async {
        let tasks: Vec<_> = (0..20)
            .map(|i| runtime::spawn(async move { block_in_place(|| i) }))
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    assert_eq!(total, (0..20).sum());
}

#[test]
fn outside_a_worker_it_just_runs() {
    assert_eq!(block_in_place(|| 3), 3);
    let rt = multi(1);
    assert_eq!(rt.block_on(async { block_in_place(|| 4) }), 4);
}

#[test]
fn on_a_current_thread_runtime_it_panics() {
    let rt = current();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { runtime::spawn(async { block_in_place(|| ()) }).await })
    }));
    // The panic happens inside the task: it becomes the task's JoinError.
    match r {
        Ok(Err(e)) => assert!(e.is_panic()),
        other => panic!("expected a panicked task, got {other:?}"),
    }
}

/// As in tokio, a `block_in_place` closure may wait for async code with
/// `Handle::block_on`: the thread has handed its worker on. (It used to panic:
/// "cannot start a runtime from within a runtime".) Both from a task on a
/// worker and from the thread in `Runtime::block_on`.
#[test]
fn block_on_inside_block_in_place() {
    let rt = multi(2);
    let got = rt.block_on(async {
        let from_task = runtime::spawn(async {
            block_in_place(|| {
                runtime::Handle::current().block_on(async {
                    runtime::time::sleep(std::time::Duration::from_millis(5)).await;
                    runtime::spawn(async { 20 }).await.unwrap()
                })
            })
        })
        .await
        .unwrap();
        let from_block_on = block_in_place(|| {
            runtime::Handle::current()
                .block_on(async { runtime::spawn(async { 22 }).await.unwrap() })
        });
        from_task + from_block_on
    });
    assert_eq!(got, 42);
}
