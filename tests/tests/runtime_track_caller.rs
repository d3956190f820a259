//! Misuse panics name the caller's line, not the runtime's source: every public
//! function that panics on misuse is `#[track_caller]`. One test in this binary
//! because it installs a process-wide panic hook.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A call that must panic.
type Misuse = Box<dyn FnOnce()>;

/// Runs `f`, which must panic, and returns the file the panic was reported at.
fn panic_location(hook_saw: &Arc<Mutex<Option<String>>>, f: impl FnOnce()) -> String {
    *hook_saw.lock().unwrap() = None;
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    assert!(r.is_err(), "expected a panic");
    hook_saw
        .lock()
        .unwrap()
        .take()
        .expect("the panic hook saw no location")
}

#[test]
fn misuse_panics_point_at_the_caller() {
    let seen = Arc::new(Mutex::new(None::<String>));
    let hook_seen = seen.clone();
    panic::set_hook(Box::new(move |info| {
        *hook_seen.lock().unwrap() = info.location().map(|l| l.file().to_string());
    }));
    let here = file!();
    let cases: Vec<(&str, Misuse)> = vec![
        (
            "spawn outside a runtime",
            Box::new(|| drop(runtime::spawn(async {}))),
        ),
        (
            "spawn_blocking outside a runtime",
            Box::new(|| drop(runtime::spawn_blocking(|| {}))),
        ),
        (
            "spawn_local outside a LocalSet",
            Box::new(|| drop(runtime::task::spawn_local(async {}))),
        ),
        (
            "Handle::current outside a runtime",
            Box::new(|| drop(runtime::Handle::current())),
        ),
        (
            "worker_threads(0)",
            Box::new(|| {
                runtime::Builder::new().worker_threads(0);
            }),
        ),
        (
            "max_blocking_threads(0)",
            Box::new(|| {
                runtime::Builder::new().max_blocking_threads(0);
            }),
        ),
        (
            "interval(ZERO)",
            Box::new(|| drop(runtime::time::interval(Duration::ZERO))),
        ),
        (
            "signal outside a runtime",
            Box::new(|| {
                drop(runtime::signal::signal(
                    runtime::signal::SignalKind::terminate(),
                ))
            }),
        ),
        (
            "block_on inside block_on",
            Box::new(|| {
                let rt = runtime::Builder::new_current_thread().build().unwrap();
                let inner = runtime::Builder::new_current_thread().build().unwrap();
                rt.block_on(async { inner.block_on(async {}) });
            }),
        ),
        (
            "Handle::block_on inside block_on",
            Box::new(|| {
                let rt = runtime::Builder::new_current_thread().build().unwrap();
                let inner = runtime::Builder::new_current_thread().build().unwrap();
                let handle = inner.handle().clone();
                rt.block_on(async { handle.block_on(async {}) });
            }),
        ),
        (
            "JoinError::into_panic on a cancelled task",
            Box::new(|| {
                let rt = runtime::Builder::new_current_thread().build().unwrap();
                let err = rt.block_on(async {
                    let h = runtime::spawn(std::future::pending::<()>());
                    h.abort();
                    h.await.unwrap_err()
                });
                drop(err.into_panic());
            }),
        ),
    ];
    let mut wrong = Vec::new();
    for (what, f) in cases {
        let file = panic_location(&seen, f);
        if file != here {
            wrong.push(format!("{what}: reported at {file}"));
        }
    }
    let _ = panic::take_hook();
    assert!(
        wrong.is_empty(),
        "panics pointing into the runtime: {wrong:#?}"
    );
}
