//! Signals as futures: [`signal`] for any signal a program may handle
//! ([`SignalKind`]: `SIGHUP`, `SIGUSR1`, real-time signals, any number
//! through [`SignalKind::from_raw`]), and the shortcuts [`ctrl_c`] (SIGINT)
//! and [`terminate`] (SIGTERM) for graceful shutdown.
//!
//! The first use installs a process-wide handler for that signal (so the
//! default action, terminating the process, no longer happens: the program
//! decides). The handler only bumps a counter and writes to an eventfd that
//! every runtime's reactor watches (see `sys/signal.rs`), so signals are
//! delivered through epoll like any other event.
//!
//! Signals that cannot be handled (`SIGKILL`, `SIGSTOP`), that report a fault
//! of the thread that caused it (`SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`), or
//! that the C library keeps for itself are refused with an
//! [`io::ErrorKind::InvalidInput`] error.
//!
//! ```
//! use runtime::signal::{signal, SignalKind};
//! let rt = runtime::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let err = signal(SignalKind::from_raw(9)).unwrap_err(); // SIGKILL
//!     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
//! });
//! ```

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

use crate::reactor::Reactor;
use crate::sys::signal as sys;
use std::sync::Arc;

/// Which signal to listen for: a signal number, with constructors for the
/// common ones (named as in tokio).
///
/// ```
/// use runtime::signal::SignalKind;
/// assert_eq!(SignalKind::hangup().as_raw_value(), 1);
/// assert_eq!(SignalKind::from_raw(15), SignalKind::terminate());
/// assert_eq!(i32::from(SignalKind::user_defined1()), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal, by number (`libc::SIGWINCH`, `libc::SIGRTMIN() + 3`...).
    /// Whether it can be handled is checked by [`signal`].
    ///
    /// ```
    /// use runtime::signal::SignalKind;
    /// assert_eq!(SignalKind::from_raw(28).as_raw_value(), 28);
    /// ```
    pub const fn from_raw(signum: i32) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal number.
    ///
    /// ```
    /// assert_eq!(runtime::signal::SignalKind::interrupt().as_raw_value(), 2);
    /// ```
    pub const fn as_raw_value(&self) -> i32 {
        self.0
    }

    /// `SIGHUP`: the terminal went away; often used as "reload configuration".
    ///
    /// ```
    /// assert_eq!(runtime::signal::SignalKind::hangup().as_raw_value(), 1);
    /// ```
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT`: Ctrl-C in a terminal.
    ///
    /// ```
    /// assert_eq!(runtime::signal::SignalKind::interrupt().as_raw_value(), 2);
    /// ```
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGQUIT`: Ctrl-\ in a terminal.
    ///
    /// ```
    /// assert_eq!(runtime::signal::SignalKind::quit().as_raw_value(), 3);
    /// ```
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`: the polite "please stop" of `kill`, systemd, Kubernetes...
    ///
    /// ```
    /// assert_eq!(runtime::signal::SignalKind::terminate().as_raw_value(), 15);
    /// ```
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`, free for the application's own use.
    ///
    /// ```
    /// assert_eq!(runtime::signal::SignalKind::user_defined1().as_raw_value(), 10);
    /// ```
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`, free for the application's own use.
    ///
    /// ```
    /// assert_eq!(runtime::signal::SignalKind::user_defined2().as_raw_value(), 12);
    /// ```
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGALRM`: a timer set with `alarm(2)` or `setitimer(2)` expired.
    ///
    /// ```
    /// assert_eq!(runtime::signal::SignalKind::alarm().as_raw_value(), 14);
    /// ```
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`: a child process stopped or exited.
    ///
    /// ```
    /// assert_eq!(runtime::signal::SignalKind::child().as_raw_value(), 17);
    /// ```
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGIO`: I/O is possible on a descriptor set up with `O_ASYNC`.
    ///
    /// ```
    /// assert_eq!(runtime::signal::SignalKind::io().as_raw_value(), 29);
    /// ```
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`: a write to a pipe or socket whose reader is gone. (Rust
    /// programs ignore it by default, so such writes fail with `EPIPE`.)
    ///
    /// ```
    /// assert_eq!(runtime::signal::SignalKind::pipe().as_raw_value(), 13);
    /// ```
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGWINCH`: the terminal was resized.
    ///
    /// ```
    /// assert_eq!(runtime::signal::SignalKind::window_change().as_raw_value(), 28);
    /// ```
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }

    /// The real-time signal `SIGRTMIN + n`. Real-time signals carry no fixed
    /// meaning, and the kernel queues them instead of merging them. [`signal`]
    /// refuses numbers above `SIGRTMAX`.
    ///
    /// ```
    /// let k = runtime::signal::SignalKind::real_time(2);
    /// assert_eq!(k.as_raw_value(), libc_sigrtmin() + 2);
    /// # fn libc_sigrtmin() -> i32 { extern "C" { fn __libc_current_sigrtmin() -> i32; } unsafe { __libc_current_sigrtmin() } }
    /// ```
    pub fn real_time(n: i32) -> SignalKind {
        SignalKind(libc::SIGRTMIN().saturating_add(n))
    }
}

impl From<i32> for SignalKind {
    fn from(signum: i32) -> SignalKind {
        SignalKind::from_raw(signum)
    }
}

impl From<SignalKind> for i32 {
    fn from(kind: SignalKind) -> i32 {
        kind.as_raw_value()
    }
}

/// A stream of deliveries of one signal, counted from its creation: each
/// [`recv`](Signal::recv) completes once per delivery (deliveries that arrive
/// while nobody is waiting are not lost, though the kernel itself merges
/// standard signals that arrive before the handler runs; real-time signals
/// are queued). `recv` returns `None` once the runtime has shut down.
///
/// ```no_run
/// use runtime::signal::{signal, SignalKind};
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut term = signal(SignalKind::terminate())?;
///     term.recv().await;
///     eprintln!("shutting down; send SIGTERM again to stop at once");
///     term.recv().await;
///     std::process::exit(1);
///     # #[allow(unreachable_code)]
///     Ok::<(), std::io::Error>(())
/// }).unwrap();
/// ```
pub struct Signal {
    signum: libc::c_int,
    seen: u64,
    reactor: Arc<Reactor>,
    waiter: Option<usize>,
}

/// Starts listening for `kind` on the current runtime.
///
/// # Errors
/// `InvalidInput` if `kind` is not a signal number, or a signal that cannot
/// be handled (`SIGKILL`, `SIGSTOP`, `SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`,
/// and those the C library reserves); the error of `sigaction` or of creating
/// the notification eventfd otherwise.
///
/// # Panics
/// Outside a runtime context.
///
/// ```
/// use runtime::signal::{signal, SignalKind};
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
///     // SAFETY (of the example): raising a signal we now handle ourselves.
///     unsafe { raise(10) };
///     assert_eq!(usr1.recv().await, Some(()));
/// });
/// # extern "C" { fn raise(sig: i32) -> i32; }
/// ```
#[track_caller]
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let reactor =
        crate::context::with_current("runtime::signal::signal", |h| h.shared.reactor.clone());
    let signum = kind.as_raw_value();
    sys::install(signum)?;
    reactor.watch_signals()?;
    Ok(Signal {
        signum,
        seen: sys::count(signum),
        reactor,
        waiter: None,
    })
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signal")
            .field("signum", &self.signum)
            .field("seen", &self.seen)
            .finish()
    }
}

impl Signal {
    /// Waits for the next delivery. Returns `None` if the runtime shut down
    /// (no more deliveries can be seen), as tokio's `Signal::recv` does.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let mut s = runtime::signal::signal(runtime::signal::SignalKind::user_defined2()).unwrap();
    /// # unsafe { raise(12) }; extern "C" { fn raise(sig: i32) -> i32; }
    /// assert_eq!(s.recv().await, Some(()));
    /// # });
    /// ```
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Poll-based [`recv`](Self::recv).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let mut s = runtime::signal::signal(runtime::signal::SignalKind::user_defined2()).unwrap();
    /// # unsafe { raise(12) }; extern "C" { fn raise(sig: i32) -> i32; }
    /// assert_eq!(std::future::poll_fn(|cx| s.poll_recv(cx)).await, Some(()));
    /// # });
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if self.take_delivery() {
            return Poll::Ready(Some(()));
        }
        if self.reactor.is_shut_down() {
            // The reactor no longer watches the doorbell, nor keeps wakers.
            return Poll::Ready(None);
        }
        self.reactor.add_signal_waiter(&mut self.waiter, cx.waker());
        // The handler bumps the counter *before* ringing the eventfd, so a
        // delivery that raced with our registration is seen here.
        if self.take_delivery() {
            return Poll::Ready(Some(()));
        }
        // A shutdown that raced with our registration: it sets the flag
        // before it empties the waiter list, so if it missed our waker we see
        // the flag now.
        if self.reactor.is_shut_down() {
            return Poll::Ready(None);
        }
        Poll::Pending
    }

    fn take_delivery(&mut self) -> bool {
        if sys::count(self.signum) > self.seen {
            self.seen += 1;
            true
        } else {
            false
        }
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        if let Some(key) = self.waiter.take() {
            self.reactor.remove_signal_waiter(key);
        }
    }
}

/// Completes at the next `SIGINT` (Ctrl-C) after the first poll.
///
/// ```no_run
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     runtime::signal::ctrl_c().await.unwrap();
///     println!("bye");
/// });
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    first_delivery(SignalKind::interrupt()).await
}

/// Completes at the next `SIGTERM` after the first poll.
///
/// ```no_run
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     runtime::signal::terminate().await.unwrap();
/// });
/// ```
pub async fn terminate() -> io::Result<()> {
    first_delivery(SignalKind::terminate()).await
}

async fn first_delivery(kind: SignalKind) -> io::Result<()> {
    match signal(kind)?.recv().await {
        Some(()) => Ok(()),
        None => Err(crate::reactor::shutdown_error()),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::{mpsc, Arc};
    use std::task::{Wake, Waker};
    use std::time::Duration;

    /// A waker that owns a `Signal` (only to drop it): dropping the waker drops the `Signal`,
    /// which leaves the reactor's signal waiter list (takes its lock).
    struct OwnsSignal(#[allow(dead_code)] Signal);

    impl Wake for OwnsSignal {
        fn wake(self: Arc<Self>) {}
    }

    /// Issue 10 item 12: a user waker replaced in the signal waiter list is
    /// dropped outside the list's lock, so its destructor may use signals.
    /// Before the fix this deadlocked (or panicked) inside the reactor.
    #[test]
    fn waker_replaced_under_the_signals_lock_may_drop_a_signal() {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let rt = crate::Builder::new_current_thread().build().unwrap();
            rt.block_on(async {
                // Never raised: these listeners only exercise the waiter list.
                let mut inner = signal(SignalKind::hangup()).unwrap();
                let mut cx = Context::from_waker(Waker::noop());
                assert!(inner.poll_recv(&mut cx).is_pending());
                let mut outer = signal(SignalKind::hangup()).unwrap();
                let owner = Waker::from(Arc::new(OwnsSignal(inner)));
                assert!(outer
                    .poll_recv(&mut Context::from_waker(&owner))
                    .is_pending());
                // The waiter list now holds the only reference to `owner`.
                drop(owner);
                // A different waker replaces it: `owner` and `inner` drop.
                assert!(outer.poll_recv(&mut cx).is_pending());
            });
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("a waker's destructor re-entered the signals lock");
    }
}
