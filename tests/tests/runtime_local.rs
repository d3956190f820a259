//! Black-box tests of `LocalSet` and `spawn_local`: `!Send` tasks on the
//! thread that drives the set, on both runtime flavours.

mod runtime_support;

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use runtime::task::{spawn_local, yield_now, LocalSet};
use runtime_support::{bounded, current, multi, oneshot, DropCounter};

/// Both flavours, for tests that must hold on each.
fn flavours() -> Vec<(&'static str, runtime::Runtime)> {
    vec![("multi-thread", multi(2)), ("current-thread", current())]
}

/// Records the thread its destructor ran on.
struct DropThread(Arc<Mutex<Vec<ThreadId>>>);

impl Drop for DropThread {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(std::thread::current().id());
    }
}

#[test]
fn rc_held_across_awaits_and_timers() {
    for (name, rt) in flavours() {
        let local = LocalSet::new();
        let log = Rc::new(RefCell::new(Vec::new()));
        let driver = std::thread::current().id();
        local.block_on(&rt, async {
            bounded(name, async {
                let handles: Vec<_> = (0..4u64)
                    .map(|i| {
                        let log = Rc::clone(&log);
                        spawn_local(async move {
                            log.borrow_mut().push((i, "start"));
                            yield_now().await;
                            // On the multi-thread flavour the timer may fire on
                            // another worker: the wake crosses threads.
                            runtime::time::sleep(Duration::from_millis(1 + i)).await;
                            log.borrow_mut().push((i, "end"));
                            std::thread::current().id()
                        })
                    })
                    .collect();
                for h in handles {
                    assert_eq!(
                        h.await.unwrap(),
                        driver,
                        "{name}: ran off the driver thread"
                    );
                }
            })
            .await
        });
        let log = log.borrow();
        assert_eq!(log.len(), 8, "{name}: {log:?}");
        for i in 0..4 {
            let start = log.iter().position(|e| *e == (i, "start")).unwrap();
            let end = log.iter().position(|e| *e == (i, "end")).unwrap();
            assert!(start < end, "{name}: {log:?}");
        }
        assert!(local.is_empty(), "{name}");
    }
}

#[test]
fn woken_from_a_std_thread() {
    for (name, rt) in flavours() {
        let local = LocalSet::new();
        let (tx, rx) = oneshot::<u32>();
        let not_send = Rc::new(Cell::new(0));
        let seen = Rc::clone(&not_send);
        let handle = local.spawn_local(async move {
            let v = rx.await.expect("sender dropped");
            seen.set(v);
            std::thread::current().id()
        });
        let sender = std::thread::spawn(move || {
            // The local task's waker, called on a thread that is neither a
            // worker nor the LocalSet's.
            tx.send(7);
        });
        let ran_on = local.block_on(&rt, bounded(name, handle)).unwrap();
        sender.join().unwrap();
        assert_eq!(not_send.get(), 7, "{name}");
        assert_eq!(ran_on, std::thread::current().id(), "{name}");
    }
}

#[test]
fn awaiting_the_set_waits_for_every_task_including_remote_woken_ones() {
    for (name, rt) in flavours() {
        let mut local = LocalSet::new();
        let done = Rc::new(Cell::new(0));
        let (tx, rx) = oneshot::<()>();
        let d = Rc::clone(&done);
        local.spawn_local(async move {
            rx.await;
            d.set(d.get() + 1);
            let d2 = Rc::clone(&d);
            // Spawned from inside: the set waits for it too.
            spawn_local(async move {
                yield_now().await;
                d2.set(d2.get() + 1);
            });
        });
        let sender = std::thread::spawn(move || tx.send(()));
        rt.block_on(bounded(name, &mut local));
        sender.join().unwrap();
        assert_eq!(done.get(), 2, "{name}");
        assert!(local.is_empty(), "{name}");
    }
}

#[test]
fn abort_cancels_and_drops_the_future_on_the_set_thread() {
    for (name, rt) in flavours() {
        let local = LocalSet::new();
        let threads = Arc::new(Mutex::new(Vec::new()));
        let guard = DropThread(Arc::clone(&threads));
        let pending = local.spawn_local(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        let finished = local.spawn_local(async { 5 });
        local.block_on(&rt, async {
            bounded(name, async {
                // Let both start: the first one is then parked on `pending`.
                while !finished.is_finished() {
                    yield_now().await;
                }
                pending.abort();
                finished.abort(); // too late: it already has its output
                let err = pending.await.unwrap_err();
                assert!(err.is_cancelled(), "{name}: {err:?}");
                assert_eq!(finished.await.unwrap(), 5, "{name}");
            })
            .await
        });
        assert_eq!(
            *threads.lock().unwrap(),
            vec![std::thread::current().id()],
            "{name}"
        );
    }
}

#[test]
fn abort_from_another_local_task_before_the_first_poll() {
    let rt = current();
    let local = LocalSet::new();
    let polled = Rc::new(Cell::new(false));
    let p = Rc::clone(&polled);
    let victim = local.spawn_local(async move { p.set(true) });
    let out = local.block_on(&rt, async move {
        let killer = spawn_local(async move {
            victim.abort();
            victim.await
        });
        killer.await.unwrap()
    });
    // The victim was queued first and so already ran, or was cancelled
    // before it ran: either way the two observations agree.
    match out {
        Ok(()) => assert!(polled.get()),
        Err(e) => {
            assert!(e.is_cancelled());
            assert!(!polled.get());
        }
    }
}

#[test]
fn a_panicking_task_becomes_a_join_error_and_the_set_lives_on() {
    for (name, rt) in flavours() {
        let local = LocalSet::new();
        let counter = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&counter);
        let out = local.block_on(&rt, async move {
            let _in_task = DropCounter(Arc::clone(&c));
            let boom = spawn_local(async move {
                let _drops = DropCounter(c);
                yield_now().await;
                panic!("local boom");
            });
            let err = bounded(name, boom).await.unwrap_err();
            assert!(err.is_panic(), "{name}");
            assert_eq!(err.to_string(), "task panicked: local boom", "{name}");
            // The set still runs tasks after the panic.
            spawn_local(async { Rc::new(3) }).await.unwrap()
        });
        assert_eq!(*out, 3, "{name}");
        assert_eq!(counter.load(Ordering::SeqCst), 2, "{name}");
    }
}

#[test]
fn nested_spawn_local() {
    for (name, rt) in flavours() {
        let local = LocalSet::new();
        let depth = local.block_on(&rt, async {
            fn dive(n: u32, acc: Rc<Cell<u32>>) -> runtime::task::LocalJoinHandle<u32> {
                spawn_local(async move {
                    acc.set(acc.get() + 1);
                    if n == 0 {
                        acc.get()
                    } else {
                        dive(n - 1, acc).await.unwrap()
                    }
                })
            }
            bounded(name, dive(10, Rc::new(Cell::new(0))))
                .await
                .unwrap()
        });
        assert_eq!(depth, 11, "{name}");
    }
}

#[test]
fn dropping_the_set_drops_pending_tasks_on_its_thread() {
    for (name, rt) in flavours() {
        let local = LocalSet::new();
        let threads = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = oneshot::<()>();
        let mut handles = Vec::new();
        for _ in 0..3 {
            let guard = DropThread(Arc::clone(&threads));
            handles.push(local.spawn_local(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            }));
        }
        let guard = DropThread(Arc::clone(&threads));
        // A task parked on a wake that will come from another thread after
        // the set is gone.
        handles.push(local.spawn_local(async move {
            let _guard = guard;
            rx.await;
        }));
        // Run the four until they park.
        local.block_on(&rt, yield_now());
        assert!(threads.lock().unwrap().is_empty(), "{name}");
        assert_eq!(local.len(), 4, "{name}");
        // A task that is never polled: its future is dropped, not run.
        let never = DropThread(Arc::clone(&threads));
        let ran = Rc::new(Cell::new(false));
        let r = Rc::clone(&ran);
        let unpolled = local.spawn_local(async move {
            r.set(true);
            drop(never)
        });
        drop(local);
        let me = std::thread::current().id();
        assert_eq!(*threads.lock().unwrap(), vec![me; 5], "{name}");
        // The late wake finds no set, and must not crash.
        std::thread::spawn(move || tx.send(())).join().unwrap();
        for h in handles {
            assert!(h.is_finished(), "{name}");
            let err = futures::executor::block_on(h).unwrap_err();
            assert!(err.is_cancelled(), "{name}");
        }
        assert!(!ran.get(), "{name}");
        assert!(futures::executor::block_on(unpolled)
            .unwrap_err()
            .is_cancelled());
        drop(rt);
    }
}

#[test]
fn spawn_local_outside_a_set_panics_with_a_clear_message() {
    let rt = current();
    let err = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            drop(spawn_local(async {}));
        })
    }))
    .unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap();
    assert!(msg.contains("outside a LocalSet"), "{msg}");
    // A set's context ends with it.
    let local = LocalSet::new();
    local.block_on(&rt, async {});
    assert!(catch_unwind(|| drop(spawn_local(async {}))).is_err());
}

#[test]
fn local_tasks_interleave_with_the_runtime_s_send_tasks() {
    for (name, rt) in flavours() {
        let local = LocalSet::new();
        let total = local.block_on(&rt, async {
            bounded(name, async {
                let state = Rc::new(RefCell::new(0u64));
                let mut handles = Vec::new();
                for i in 0..20u64 {
                    let state = Rc::clone(&state);
                    handles.push(spawn_local(async move {
                        // A Send task on the runtime; its completion wakes us.
                        let doubled = runtime::spawn(async move { i * 2 }).await.unwrap();
                        *state.borrow_mut() += doubled;
                    }));
                }
                for h in handles {
                    h.await.unwrap();
                }
                let total = *state.borrow();
                total
            })
            .await
        });
        assert_eq!(total, 380, "{name}");
    }
}

#[test]
fn a_busy_local_task_does_not_starve_run_until() {
    for (name, rt) in flavours() {
        let local = LocalSet::new();
        let stop = Rc::new(Cell::new(false));
        let s = Rc::clone(&stop);
        let spins = Rc::new(Cell::new(0u64));
        let n = Rc::clone(&spins);
        local.spawn_local(async move {
            while !s.get() {
                n.set(n.get() + 1);
                yield_now().await;
            }
        });
        local.block_on(&rt, async {
            bounded(name, runtime::time::sleep(Duration::from_millis(5))).await;
            stop.set(true);
        });
        assert!(spins.get() > 0, "{name}");
    }
}

#[test]
fn local_spawn_trait_runs_executor_agnostic_code() {
    use futures::task::LocalSpawnExt;

    // A "library" that only knows `LocalSpawn`.
    fn start_counter(spawner: &impl futures::task::LocalSpawn, hits: Rc<Cell<u32>>) {
        spawner
            .spawn_local(async move {
                for _ in 0..3 {
                    yield_now().await;
                    hits.set(hits.get() + 1);
                }
            })
            .unwrap();
    }

    let rt = multi(2);
    let mut local = LocalSet::new();
    let hits = Rc::new(Cell::new(0));
    start_counter(&local, Rc::clone(&hits));
    let remote = local
        .spawn_local_with_handle(async { Rc::new("via handle") })
        .unwrap();
    assert_eq!(*local.block_on(&rt, remote), "via handle");
    rt.block_on(&mut local);
    assert_eq!(hits.get(), 3);
}

#[test]
fn task_ids_are_visible_inside_local_tasks() {
    let rt = current();
    let local = LocalSet::new();
    let seen = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&seen);
    let h = local.spawn_local(async move {
        s.store(true, Ordering::SeqCst);
        runtime::task::id()
    });
    let id = h.id();
    assert_eq!(local.block_on(&rt, h).unwrap(), id);
    assert!(seen.load(Ordering::SeqCst));
    // Outside a task again.
    assert!(runtime::task::try_id().is_none());
}

/// `LocalJoinHandle::abort_handle` gives a `Send + Sync` handle: a plain
/// thread cancels a pending local task through it (waking the idle set), the
/// future is dropped on the set's thread, and `is_finished`/`id` agree with
/// the local handle; aborting a finished task changes nothing.
#[test]
fn a_local_task_is_aborted_from_another_thread() {
    fn send_sync<T: Send + Sync + Clone + 'static>(t: T) -> T {
        t
    }
    for (name, rt) in flavours() {
        let local = LocalSet::new();
        let set_thread = std::thread::current().id();
        let dropped_on = Arc::new(Mutex::new(Vec::new()));
        local.block_on(
            &rt,
            bounded(name, async {
                let not_send = Rc::new(DropThread(Arc::clone(&dropped_on)));
                let handle = spawn_local(async move {
                    let _keep = not_send;
                    std::future::pending::<()>().await
                });
                let abort = send_sync(handle.abort_handle());
                assert_eq!(abort.id(), handle.id(), "{name}");
                yield_now().await; // the task has run and is parked
                assert!(!abort.is_finished(), "{name}");
                let remote = abort.clone();
                std::thread::spawn(move || remote.abort()).join().unwrap();
                let err = handle.await.unwrap_err();
                assert!(err.is_cancelled(), "{name}: {err:?}");
                assert!(abort.is_finished(), "{name}");

                // A finished task keeps its output whatever the handle says.
                let done = spawn_local(async { Rc::new(5) });
                let abort = done.abort_handle();
                while !done.is_finished() {
                    yield_now().await;
                }
                assert!(abort.is_finished(), "{name}");
                std::thread::spawn(move || abort.abort()).join().unwrap();
                assert_eq!(*done.await.unwrap(), 5, "{name}");
            }),
        );
        assert_eq!(*dropped_on.lock().unwrap(), vec![set_thread], "{name}");
    }
}

/// An `AbortHandle` of a local task may outlive its `LocalJoinHandle`, its
/// task and its `LocalSet`: aborting then does nothing, and it still knows
/// its id and that the task is finished.
#[test]
fn a_local_abort_handle_outlives_its_task_and_set() {
    let rt = current();
    let local = LocalSet::new();
    let handle = local.spawn_local(std::future::pending::<()>());
    let id = handle.id();
    let abort = handle.abort_handle();
    drop(handle);
    assert!(!abort.is_finished());
    drop(local); // cancels the task
    assert!(abort.is_finished());
    assert_eq!(abort.id(), id);
    std::thread::spawn(move || abort.abort()).join().unwrap();
    drop(rt);
}
