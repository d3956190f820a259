//! The runtime's thread context and its edges: a runtime dropped during
//! thread-local teardown, `EnterGuard`s dropped out of order, the cooperative
//! budget of `block_on`, and a user waker that panics inside the runtime.

mod runtime_support;

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use runtime::net::{TcpListener, TcpStream};
use runtime::time::{sleep, timeout};
use runtime_support::{current, multi, TEST_TIMEOUT};

/// Runs `f` on its own thread and waits for it with a deadline, so that a
/// regression that hangs fails the test instead of hanging the suite (the
/// thread is leaked then).
fn within_deadline<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(TEST_TIMEOUT) {
        Ok(v) => v,
        Err(e) => panic!("{what}: no result within {TEST_TIMEOUT:?} ({e})"),
    }
}

// ----- a runtime in a thread_local! -------------------------------------------

thread_local! {
    static RT: std::cell::RefCell<Option<runtime::Runtime>> = const { std::cell::RefCell::new(None) };
}

fn runtime_in_thread_local(build: fn() -> runtime::Runtime) {
    // The thread exits with the runtime still in its thread-local: it is
    // dropped during thread-local teardown, possibly after the runtime's own
    // context thread-local is gone. A panic there aborts the process, so the
    // join below would not even return.
    let t = std::thread::spawn(move || {
        // Touch our thread-local first: destructors run in reverse order of
        // registration, so it is destroyed after the runtime's context.
        RT.with(|_| ());
        let rt = build();
        // Leave a task parked on a timer and one on the blocking pool, so
        // that dropping has work to cancel.
        rt.block_on(async {
            runtime::spawn(sleep(Duration::from_secs(3600)));
            runtime::spawn(async { runtime::spawn(async {}).await.unwrap() })
                .await
                .unwrap();
        });
        RT.with(|cell| *cell.borrow_mut() = Some(rt));
    });
    t.join().expect("the thread dropping the runtime panicked");
}

#[test]
fn multi_thread_runtime_in_thread_local_drops_cleanly() {
    runtime_in_thread_local(|| multi(2));
}

#[test]
fn current_thread_runtime_in_thread_local_drops_cleanly() {
    runtime_in_thread_local(current);
}

// ----- EnterGuard order ---------------------------------------------------------

#[test]
fn enter_guards_dropped_out_of_order_panic() {
    let a = multi(1);
    let b = multi(1);
    let result = std::thread::spawn(move || {
        let ga = a.handle().enter();
        let gb = b.handle().enter();
        // Wrong order: `ga` is not the innermost guard.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(ga)));
        drop(gb);
        r
    })
    .join()
    .expect("the test thread itself must not die");
    let payload = result.expect_err("dropping the outer guard first must panic");
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    assert!(msg.contains("out of order"), "unclear message: {msg:?}");
}

#[test]
fn enter_guards_dropped_in_order_restore_the_previous_runtime() {
    let a = multi(1);
    let b = multi(1);
    let ga = a.handle().enter();
    {
        let _gb = b.handle().enter();
        let h = runtime::spawn(async { std::thread::current().id() });
        // Spawned on `b`: `a` never sees it.
        assert_eq!(b.metrics().tasks_spawned, 1);
        assert_eq!(a.metrics().tasks_spawned, 0);
        drop(h);
    }
    drop(runtime::spawn(async {}));
    assert_eq!(a.metrics().tasks_spawned, 1);
    drop(ga);
    assert!(runtime::Handle::try_current().is_none());
}

// ----- block_on's budget ----------------------------------------------------------

/// A stream whose peer has closed: every read is ready, at once, with 0 bytes.
async fn stream_at_eof() -> TcpStream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    drop(listener.accept().await.unwrap());
    client
}

/// Always ready, spending budget on every read: a loop that forgot to check
/// for end of stream.
async fn read_forever(mut stream: TcpStream) {
    let mut buf = [0u8; 16];
    loop {
        let _ = stream.read(&mut buf).await;
    }
}

fn timeout_on_always_ready(rt: runtime::Runtime) -> Result<(), runtime::time::Elapsed> {
    rt.block_on(async {
        let stream = stream_at_eof().await;
        timeout(Duration::from_millis(20), read_forever(stream)).await
    })
}

#[test]
fn timeout_fires_on_always_ready_future_in_multi_thread_block_on() {
    let r = within_deadline("timeout in block_on (multi-thread)", || {
        timeout_on_always_ready(multi(2))
    });
    assert!(r.is_err());
}

#[test]
fn timeout_fires_on_always_ready_future_in_current_thread_block_on() {
    let r = within_deadline("timeout in block_on (current-thread)", || {
        timeout_on_always_ready(current())
    });
    assert!(r.is_err());
}

#[test]
fn timeout_fires_on_always_ready_future_in_a_task() {
    let r = within_deadline("timeout in a task", || {
        let rt = multi(2);
        rt.block_on(async {
            let stream = stream_at_eof().await;
            runtime::spawn(timeout(Duration::from_millis(20), read_forever(stream)))
                .await
                .unwrap()
        })
    });
    assert!(r.is_err());
}

// ----- a panicking user waker -------------------------------------------------------

struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("user waker panicked");
    }
}

/// Polls `inner` once with a waker that panics when woken, then completes
/// (leaving `inner` registered with that waker).
struct RegisterPanickingWaker<'a, F>(&'a mut Pin<Box<F>>);

impl<F: Future> Future for RegisterPanickingWaker<'_, F> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let waker = Waker::from(Arc::new(PanickingWaker));
        let _ = self.0.as_mut().poll(&mut Context::from_waker(&waker));
        Poll::Ready(())
    }
}

#[test]
fn current_thread_runtime_survives_a_panicking_waker_in_the_reactor() {
    within_deadline("panicking waker", || {
        let rt = current();
        // The timer fires while this thread drives the reactor in `block_on`,
        // and its waker panics out of the reactor's wake loop.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async {
                let mut timer = Box::pin(sleep(Duration::from_millis(1)));
                RegisterPanickingWaker(&mut timer).await;
                // Kept alive (and registered) until the panic comes.
                sleep(Duration::from_secs(3600)).await;
            })
        }));
        assert!(r.is_err(), "the waker's panic surfaces from block_on");
        // The runtime is still usable: it parks and drives the reactor again.
        rt.block_on(async {
            sleep(Duration::from_millis(1)).await;
            runtime::spawn(async { 5 }).await.unwrap()
        })
    });
}

#[test]
fn current_thread_runtime_survives_a_panicking_join_waker() {
    within_deadline("panicking join waker", || {
        let rt = current();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async {
                let (tx, rx) = runtime_support::oneshot::<()>();
                let mut join = Box::pin(runtime::spawn(async move {
                    rx.await;
                }));
                // The task's completion wakes this waker, which panics.
                RegisterPanickingWaker(&mut join).await;
                tx.send(());
                sleep(Duration::from_secs(3600)).await;
            })
        }));
        assert!(r.is_err(), "the join waker's panic surfaces from block_on");
        rt.block_on(async {
            sleep(Duration::from_millis(1)).await;
            runtime::spawn(async { 5 }).await.unwrap()
        })
    });
}

#[test]
fn a_worker_survives_a_panicking_join_waker() {
    within_deadline("worker after a panicking join waker", || {
        let rt = multi(1);
        let (tx, rx) = runtime_support::oneshot::<()>();
        let (registered_tx, registered_rx) = runtime_support::oneshot::<()>();
        // The waiter polls the join handle with a panicking waker from a
        // plain thread; the task then completes on the only worker, which
        // calls that waker.
        let mut join = Box::pin(rt.spawn(async move {
            rx.await;
        }));
        rt.block_on(async {
            RegisterPanickingWaker(&mut join).await;
            registered_tx.send(());
        });
        rt.block_on(registered_rx);
        tx.send(());
        // The only worker must still be alive to run this.
        rt.block_on(async { runtime::spawn(async { 7 }).await.unwrap() })
    });
}
