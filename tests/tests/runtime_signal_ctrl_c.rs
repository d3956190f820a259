//! `signal::ctrl_c()` resolved by a raised SIGINT. Alone in its binary: the
//! signal handler is process-wide.

mod runtime_support;

use std::future::Future;
use std::task::Poll;

use runtime_support::{bounded, current, multi};

/// Raises `sig` in this process.
fn raise(sig: libc::c_int) {
    // SAFETY: `raise` has no memory-safety preconditions; the runtime has
    // installed a handler for `sig` before we call it, so the default action
    // (terminating the process) does not happen.
    let rc = unsafe { libc::raise(sig) };
    assert_eq!(rc, 0, "raise failed: {}", std::io::Error::last_os_error());
}

/// `ctrl_c()` completes at the next SIGINT after it was first polled, on
/// both flavours, several times in a row.
#[test]
fn ctrl_c_resolves_on_sigint() {
    for (name, rt) in [("multi-thread", multi(2)), ("current-thread", current())] {
        rt.block_on(bounded(name, async {
            for _ in 0..3 {
                let mut fut = std::pin::pin!(runtime::signal::ctrl_c());
                // First poll: installs the handler and starts listening.
                let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
                assert!(first.is_pending(), "{name}: ctrl_c resolved with no signal");
                raise(libc::SIGINT);
                fut.await.expect("ctrl_c failed");
            }
            // A ctrl_c future waiting in another task is woken through the reactor.
            let mut sigint = runtime::signal::signal(runtime::signal::SignalKind::interrupt())
                .expect("listen for SIGINT");
            let (ready_tx, ready_rx) = runtime_support::oneshot::<()>();
            let waiter = runtime::spawn(async move {
                let mut fut = std::pin::pin!(runtime::signal::ctrl_c());
                let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
                assert!(first.is_pending());
                ready_tx.send(());
                fut.await.unwrap();
            });
            ready_rx.await.unwrap();
            raise(libc::SIGINT);
            waiter.await.unwrap();
            // The earlier listener counted that delivery too.
            sigint.recv().await;
        }));
    }
}
