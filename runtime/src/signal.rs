//! Signals as futures: [`ctrl_c`] (SIGINT) and [`terminate`] (SIGTERM), for
//! graceful shutdown.
//!
//! The first use installs a process-wide handler for that signal (so the
//! default action, terminating the process, no longer happens: the program
//! decides). The handler only bumps a counter and writes to an eventfd that
//! every runtime's reactor watches (see `sys/signal.rs`), so signals are
//! delivered through epoll like any other event.

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

use crate::reactor::Reactor;
use crate::sys::signal as sys;
use std::sync::Arc;

/// Which signal to listen for.
///
/// ```
/// use runtime::signal::{signal, SignalKind};
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let _term = signal(SignalKind::Terminate).unwrap();
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// `SIGINT`: Ctrl-C in a terminal.
    Interrupt,
    /// `SIGTERM`: the polite "please stop" of `kill`, systemd, Kubernetes...
    Terminate,
    /// `SIGHUP`: the terminal went away; often used as "reload configuration".
    Hangup,
}

impl SignalKind {
    fn number(self) -> libc::c_int {
        match self {
            SignalKind::Interrupt => libc::SIGINT,
            SignalKind::Terminate => libc::SIGTERM,
            SignalKind::Hangup => libc::SIGHUP,
        }
    }
}

/// A stream of deliveries of one signal, counted from its creation: each
/// [`recv`](Signal::recv) completes once per delivery (deliveries that arrive
/// while nobody is waiting are not lost, though the kernel itself merges
/// signals that arrive before the handler runs).
///
/// ```no_run
/// use runtime::signal::{signal, SignalKind};
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut term = signal(SignalKind::Terminate)?;
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
/// # Panics
/// Outside a runtime context.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut hup = runtime::signal::signal(runtime::signal::SignalKind::Hangup).unwrap();
///     // SAFETY (of the example): raising a signal we now handle ourselves.
///     unsafe { libc_raise_sighup() };
///     hup.recv().await;
/// });
/// # unsafe fn libc_raise_sighup() { extern "C" { fn raise(sig: i32) -> i32; } unsafe { raise(1) }; }
/// ```
#[track_caller]
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let reactor =
        crate::context::with_current("runtime::signal::signal", |h| h.shared.reactor.clone());
    let signum = kind.number();
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
    /// Waits for the next delivery.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let mut s = runtime::signal::signal(runtime::signal::SignalKind::Hangup).unwrap();
    /// # unsafe { raise(1) }; extern "C" { fn raise(sig: i32) -> i32; }
    /// s.recv().await;
    /// # });
    /// ```
    pub async fn recv(&mut self) {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Poll-based [`recv`](Self::recv).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let mut s = runtime::signal::signal(runtime::signal::SignalKind::Hangup).unwrap();
    /// # unsafe { raise(1) }; extern "C" { fn raise(sig: i32) -> i32; }
    /// std::future::poll_fn(|cx| s.poll_recv(cx)).await;
    /// # });
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.take_delivery() {
            return Poll::Ready(());
        }
        self.reactor.add_signal_waiter(&mut self.waiter, cx.waker());
        // The handler bumps the counter *before* ringing the eventfd, so a
        // delivery that raced with our registration is seen here.
        if self.take_delivery() {
            return Poll::Ready(());
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
    signal(SignalKind::Interrupt)?.recv().await;
    Ok(())
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
    signal(SignalKind::Terminate)?.recv().await;
    Ok(())
}
