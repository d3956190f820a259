//! Black-box tests of `task_local!`: values follow their future across
//! `.await`s and workers, interleaved tasks each see their own value, scopes
//! nest and restore, panics restore, misuse is reported at the caller.

mod runtime_support;

use std::cell::RefCell;
use std::collections::HashSet;
use std::future::Future;
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;

use runtime::task::{yield_now, AccessError};
use runtime_support::{bounded, current, multi};

runtime::task_local! {
    /// A documented key, to check attributes pass through.
    pub static NUM: u64;
    static NAME: String;
}

runtime::task_local! {
    pub(crate) static LAST: u32
}

/// Polls `fut` once with a no-op waker, on the calling thread.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn keys_are_unset_outside_scopes() {
    assert!(NUM.try_with(|n| *n).is_err());
    assert!(NAME.try_with(|n| n.clone()).is_err());
    assert!(LAST.try_with(|l| *l).is_err());
    let err = NUM.try_with(|_| ()).unwrap_err();
    assert!(err.to_string().contains("outside a scope"), "{err}");
    let _: &dyn std::error::Error = &err;
}

#[test]
fn value_survives_awaits_and_moves_between_threads() {
    let rt = multi(4);
    rt.block_on(async {
        // Poll the scope once here, on the `block_on` thread (not a worker),
        // then hand it to the workers: its value must travel with it.
        let here = std::thread::current().id();
        let mut scoped = Box::pin(NUM.scope(41, async move {
            let mut threads = HashSet::new();
            for _ in 0..200 {
                threads.insert(std::thread::current().id());
                assert_eq!(NUM.get(), 41);
                yield_now().await;
            }
            threads
        }));
        assert!(poll_once(scoped.as_mut()).is_pending());
        assert!(
            NUM.try_with(|_| ()).is_err(),
            "the value leaked out of its scope"
        );
        let threads = bounded("scoped task", runtime::spawn(scoped))
            .await
            .unwrap();
        assert!(threads.contains(&here), "the first poll was here");
        assert!(
            threads.len() >= 2,
            "the scoped future ran on one thread only: {threads:?}"
        );

        // Many scoped tasks yielding on four workers: each always sees its own
        // value, wherever it is stolen to.
        let tasks: Vec<_> = (0..16u64)
            .map(|i| {
                runtime::spawn(NUM.scope(i, async move {
                    for _ in 0..100 {
                        assert_eq!(NUM.get(), i);
                        yield_now().await;
                    }
                    NUM.get()
                }))
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(bounded("yielding task", t).await.unwrap(), i as u64);
        }
    });
}

#[test]
fn interleaved_tasks_on_one_worker_see_their_own_values() {
    let rt = current();
    let order: Arc<Mutex<Vec<(String, ThreadId)>>> = Arc::default();
    rt.block_on(async {
        let tasks: Vec<_> = ["first", "second"]
            .into_iter()
            .map(|name| {
                let order = order.clone();
                runtime::spawn(NAME.scope(name.to_string(), async move {
                    for _ in 0..50 {
                        let seen = NAME.get();
                        assert_eq!(seen, name);
                        order
                            .lock()
                            .unwrap()
                            .push((seen, std::thread::current().id()));
                        yield_now().await;
                    }
                }))
            })
            .collect();
        for t in tasks {
            bounded("interleaved task", t).await.unwrap();
            assert!(
                NAME.try_with(|_| ()).is_err(),
                "a task's value leaked into block_on"
            );
        }
    });
    let order = order.lock().unwrap();
    assert_eq!(order.len(), 100);
    let threads: HashSet<_> = order.iter().map(|(_, t)| *t).collect();
    assert_eq!(
        threads.len(),
        1,
        "a current-thread runtime polls on one thread"
    );
    let switches = order.windows(2).filter(|w| w[0].0 != w[1].0).count();
    assert!(
        switches >= 50,
        "the two tasks did not interleave: {switches} switches"
    );
}

#[test]
fn nested_scopes_restore_the_outer_value() {
    let rt = current();
    rt.block_on(NUM.scope(1, async {
        assert_eq!(NUM.get(), 1);
        let inner = NUM
            .scope(2, async {
                yield_now().await;
                let v = NUM.get();
                // A third level, synchronous this time.
                assert_eq!(NUM.sync_scope(3, || NUM.get()), 3);
                assert_eq!(NUM.get(), 2);
                v
            })
            .await;
        assert_eq!(inner, 2);
        assert_eq!(NUM.get(), 1);
        // Between polls of a pending inner scope, the outer value is back.
        let mut pending = pin!(NUM.scope(5, async {
            yield_now().await;
            NUM.get()
        }));
        assert!(poll_once(pending.as_mut()).is_pending());
        assert_eq!(NUM.get(), 1);
        assert_eq!(pending.await, 5);
        assert_eq!(NUM.get(), 1);
    }));
    assert!(NUM.try_with(|_| ()).is_err());
}

#[test]
fn a_panicking_poll_restores_the_previous_value() {
    // Inside an outer scope: the outer value comes back.
    NUM.sync_scope(10, || {
        let mut boom = Box::pin(NUM.scope(20, async {
            assert_eq!(NUM.get(), 20);
            panic!("boom inside the scope");
        }));
        let r = catch_unwind(AssertUnwindSafe(|| poll_once(boom.as_mut())));
        assert!(r.is_err());
        assert_eq!(NUM.get(), 10);
    });
    // Outside any scope: the key is unset again.
    let mut boom = Box::pin(NUM.scope(30, async { panic!("boom") }));
    assert!(catch_unwind(AssertUnwindSafe(|| poll_once(boom.as_mut()))).is_err());
    assert!(
        NUM.try_with(|_| ()).is_err(),
        "the value stayed set after a panic"
    );

    // On a runtime: a task that panics in its scope leaves the worker clean
    // for the next task.
    let rt = current();
    rt.block_on(async {
        let err = runtime::spawn(NUM.scope(7, async {
            yield_now().await;
            panic!("task panics in its scope");
        }))
        .await
        .unwrap_err();
        assert!(err.is_panic());
        let next = runtime::spawn(async { NUM.try_with(|n| *n) })
            .await
            .unwrap();
        assert!(next.is_err(), "the panicked task's value leaked: {next:?}");
    });
}

#[test]
fn sync_scope_sets_and_restores() {
    assert_eq!(NAME.sync_scope("a".into(), || NAME.with(|n| n.len())), 1);
    assert!(NAME.try_with(|_| ()).is_err());
    let r = catch_unwind(|| NAME.sync_scope("b".into(), || panic!("in sync_scope")));
    assert!(r.is_err());
    assert!(
        NAME.try_with(|_| ()).is_err(),
        "sync_scope did not restore after a panic"
    );
    LAST.sync_scope(1, || {
        LAST.sync_scope(2, || assert_eq!(LAST.get(), 2));
        assert_eq!(LAST.get(), 1);
    });
}

#[test]
fn dropping_an_unfinished_scope_drops_its_future_inside_the_scope() {
    struct ReadsOnDrop(Arc<Mutex<Option<Result<u64, AccessError>>>>);
    impl Drop for ReadsOnDrop {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = Some(NUM.try_with(|n| *n));
        }
    }
    let seen = Arc::new(Mutex::new(None));
    let guard = ReadsOnDrop(seen.clone());
    let started = Arc::new(AtomicBool::new(false));
    let flag = started.clone();
    let mut scoped = Box::pin(NUM.scope(99, async move {
        let _guard = guard;
        flag.store(true, Ordering::SeqCst);
        std::future::pending::<()>().await;
    }));
    assert!(poll_once(scoped.as_mut()).is_pending());
    assert!(started.load(Ordering::SeqCst));
    drop(scoped);
    assert_eq!(*seen.lock().unwrap(), Some(Ok(99)));
    assert!(NUM.try_with(|_| ()).is_err());
}

#[test]
fn scope_future_is_send_when_its_parts_are() {
    fn assert_send<T: Send>(_: &T) {}
    let fut = NAME.scope(String::new(), async { yield_now().await });
    assert_send(&fut);
}

/// A call that must panic.
type Misuse = Box<dyn FnOnce()>;

thread_local! {
    static PANIC_FILE: RefCell<Option<String>> = const { RefCell::new(None) };
}

#[test]
fn with_outside_a_scope_panics_at_the_caller() {
    // The hook records where each panic was reported, per thread, so tests
    // panicking on other threads of this binary do not interfere.
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        panic::set_hook(Box::new(|info| {
            let file = info.location().map(|l| l.file().to_string());
            PANIC_FILE.with(|f| *f.borrow_mut() = file);
        }));
    });
    let here = file!();
    let cases: Vec<(&str, Misuse)> = vec![
        ("with", Box::new(|| NUM.with(|_| ()))),
        ("get", Box::new(|| drop(NAME.get()))),
    ];
    for (what, f) in cases {
        PANIC_FILE.with(|f| f.borrow_mut().take());
        let r = catch_unwind(AssertUnwindSafe(f));
        let msg = r.expect_err("expected a panic");
        let msg = msg
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| msg.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        assert!(
            msg.contains("outside a `scope`"),
            "{what}: unclear message {msg:?}"
        );
        let file = PANIC_FILE.with(|f| f.borrow_mut().take());
        assert_eq!(
            file.as_deref(),
            Some(here),
            "{what}: panic not reported at the caller"
        );
    }
}
