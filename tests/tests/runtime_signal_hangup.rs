//! `signal::signal(SignalKind::hangup())` resolved by raised SIGHUPs. Alone in
//! its binary: the signal handler is process-wide.

mod runtime_support;

use runtime::signal::{signal, SignalKind};
use runtime_support::{bounded, current, multi};

/// Raises `sig` in this process.
fn raise(sig: libc::c_int) {
    // SAFETY: `raise` has no memory-safety preconditions; a handler for `sig`
    // is installed (by `signal()`) before we call it.
    let rc = unsafe { libc::raise(sig) };
    assert_eq!(rc, 0, "raise failed: {}", std::io::Error::last_os_error());
}

/// Each SIGHUP raised after `signal(Hangup)` is delivered to `recv()`, also
/// when it arrives before `recv()` is called, on both flavours.
#[test]
fn hangup_signal_is_delivered() {
    for (name, rt) in [("multi-thread", multi(2)), ("current-thread", current())] {
        rt.block_on(bounded(name, async {
            let mut hup = signal(SignalKind::hangup()).expect("listen for SIGHUP");
            // Raised before anyone waits: not lost.
            raise(libc::SIGHUP);
            hup.recv().await;
            // Raised from a plain thread while a task waits in recv().
            let waiter = runtime::spawn(async move {
                for _ in 0..3 {
                    hup.recv().await;
                }
            });
            for _ in 0..3 {
                // `raise` on another thread delivers to that thread; the
                // handler runs there and rings the reactor. Each delivery
                // happens after the previous one was counted (join), so the
                // kernel cannot merge them.
                std::thread::spawn(|| raise(libc::SIGHUP)).join().unwrap();
                runtime::task::yield_now().await;
            }
            waiter.await.unwrap();
            // Two independent listeners both see one delivery.
            let mut a = signal(SignalKind::hangup()).unwrap();
            let mut b = signal(SignalKind::hangup()).unwrap();
            raise(libc::SIGHUP);
            a.recv().await;
            b.recv().await;
        }));
    }
}
