//! `signal::signal` for any signal: user-defined and real-time signals
//! delivered, signals that cannot be handled refused, `recv` ending with
//! `None` at shutdown. The handlers are process-wide and the tests of one
//! binary run in parallel, so every test uses its own signals.

mod runtime_support;

use std::io;

use runtime::signal::{signal, SignalKind};
use runtime_support::{bounded, current, multi};

/// Raises `sig` in this process. The handler runs on this thread before
/// `raise` returns, so consecutive raises are never merged.
fn raise(sig: libc::c_int) {
    // SAFETY: `raise` has no memory-safety preconditions; a handler for `sig`
    // is installed (by `signal()`) before we call it.
    let rc = unsafe { libc::raise(sig) };
    assert_eq!(rc, 0, "raise failed: {}", io::Error::last_os_error());
}

/// SIGUSR1 and SIGUSR2 reach their own listeners only, on both flavours.
#[test]
fn user_defined_signals_are_delivered_to_their_listeners() {
    for (name, rt) in [("multi-thread", multi(2)), ("current-thread", current())] {
        rt.block_on(bounded(name, async {
            let mut usr1 = signal(SignalKind::user_defined1()).expect("listen for SIGUSR1");
            let mut usr2 = signal(SignalKind::user_defined2()).expect("listen for SIGUSR2");
            raise(libc::SIGUSR1);
            assert_eq!(usr1.recv().await, Some(()));
            // SIGUSR2 was not raised: its listener has nothing yet.
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(
                usr2.poll_recv(&mut cx).is_pending(),
                "{name}: SIGUSR2 leaked"
            );
            // Woken through the reactor while waiting in another task.
            let waiter = runtime::spawn(async move { usr2.recv().await });
            std::thread::spawn(|| raise(libc::SIGUSR2)).join().unwrap();
            assert_eq!(waiter.await.unwrap(), Some(()));
            assert!(
                usr1.poll_recv(&mut cx).is_pending(),
                "{name}: SIGUSR1 leaked"
            );
        }));
    }
}

/// Real-time signals (`SignalKind::real_time`, or any number through
/// `from_raw`) are delivered, each raise counted.
#[test]
fn real_time_signals_are_delivered() {
    let rt = multi(2);
    rt.block_on(bounded("real-time", async {
        let kind = SignalKind::real_time(3);
        assert_eq!(kind.as_raw_value(), libc::SIGRTMIN() + 3);
        let mut rt3 = signal(kind).expect("listen for SIGRTMIN+3");
        let mut raw = signal(SignalKind::from_raw(libc::SIGRTMAX() - 1)).expect("from_raw");
        for _ in 0..3 {
            raise(libc::SIGRTMIN() + 3);
        }
        for _ in 0..3 {
            assert_eq!(rt3.recv().await, Some(()));
        }
        raise(libc::SIGRTMAX() - 1);
        assert_eq!(raw.recv().await, Some(()));
    }));
}

/// Signals that cannot be handled, and numbers that are no signals, are
/// refused with `InvalidInput` and a message naming the number and the reason.
#[test]
fn unhandleable_signals_are_refused_with_a_clear_error() {
    let rt = current();
    rt.block_on(async {
        let refused = [
            (libc::SIGKILL, "cannot be caught"),
            (libc::SIGSTOP, "cannot be caught"),
            (libc::SIGSEGV, "fault"),
            (libc::SIGBUS, "fault"),
            (libc::SIGILL, "fault"),
            (libc::SIGFPE, "fault"),
            (libc::SIGRTMIN() - 1, "reserves"),
            (0, "not a signal number"),
            (-3, "not a signal number"),
            (libc::SIGRTMAX() + 1, "not a signal number"),
            (i32::MAX, "not a signal number"),
        ];
        for (signum, why) in refused {
            let err =
                signal(SignalKind::from_raw(signum)).expect_err(&format!("{signum} accepted"));
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{signum}: {err}");
            let msg = err.to_string();
            assert!(msg.contains(&signum.to_string()), "{signum}: {msg}");
            assert!(msg.contains(why), "{signum}: {msg}");
        }
        assert!(
            SignalKind::real_time(i32::MAX).as_raw_value() > libc::SIGRTMAX(),
            "real_time saturates instead of wrapping into a valid number"
        );
        assert!(signal(SignalKind::real_time(1000)).is_err());
    });
}

/// After its runtime shut down, `recv` returns `None` instead of hanging,
/// and `ctrl_c`-style helpers report an error.
#[test]
fn recv_returns_none_after_shutdown() {
    let rt = current();
    let mut sig = rt.block_on(async { signal(SignalKind::real_time(5)).unwrap() });
    drop(rt);
    assert_eq!(futures::executor::block_on(sig.recv()), None);
    // A delivery counted before is still reported first.
    let rt = current();
    let mut sig = rt.block_on(async { signal(SignalKind::real_time(6)).unwrap() });
    raise(libc::SIGRTMIN() + 6);
    drop(rt);
    assert_eq!(futures::executor::block_on(sig.recv()), Some(()));
    assert_eq!(futures::executor::block_on(sig.recv()), None);
}

/// A `recv` already waiting (here on another executor's thread) when the
/// runtime shuts down is woken and ends with `None`, instead of hanging.
#[test]
fn waiting_recv_ends_with_none_when_the_runtime_shuts_down() {
    use std::sync::mpsc;
    use std::time::Duration;
    let rt = current();
    let mut sig = rt.block_on(async { signal(SignalKind::real_time(7)).unwrap() });
    let (polled_tx, polled_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut polled_tx = Some(polled_tx);
        let r = futures::executor::block_on(std::future::poll_fn(|cx| {
            let r = sig.poll_recv(cx);
            if let Some(tx) = polled_tx.take() {
                tx.send(()).unwrap();
            }
            r
        }));
        done_tx.send(r).unwrap();
    });
    polled_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the waiter never polled");
    drop(rt);
    let r = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("recv still waiting after its runtime shut down");
    assert_eq!(r, None);
}
