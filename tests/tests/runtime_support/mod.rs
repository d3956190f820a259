//! Helpers shared by the `runtime_*` integration tests (each test binary
//! includes this module with `mod runtime_support;`).
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Upper bound for any single test body: a bug makes the test fail, not hang.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A multi-threaded runtime with `n` workers.
pub fn multi(n: usize) -> runtime::Runtime {
    runtime::Builder::new()
        .worker_threads(n)
        .build()
        .expect("build multi-thread runtime")
}

/// A current-thread runtime.
pub fn current() -> runtime::Runtime {
    runtime::Builder::new_current_thread()
        .build()
        .expect("build current-thread runtime")
}

/// Awaits `fut`, failing the test if it takes longer than `TEST_TIMEOUT`.
pub async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    match runtime::time::timeout(TEST_TIMEOUT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: did not finish within {TEST_TIMEOUT:?}"),
    }
}

/// Sets an `AtomicBool` when dropped: proves a future's destructor ran.
pub struct DropFlag(pub Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Counts drops: proves destructors ran exactly once each.
pub struct DropCounter(pub Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct OneshotInner<T> {
    value: Option<T>,
    waker: Option<Waker>,
    sender_gone: bool,
}

/// Sending half of a minimal oneshot channel that works across threads and
/// runtimes (it only uses `Waker`).
pub struct Sender<T>(Arc<Mutex<OneshotInner<T>>>);

/// Receiving half: a future resolving to `Some(value)`, or `None` if the
/// sender was dropped without sending.
pub struct Receiver<T>(Arc<Mutex<OneshotInner<T>>>);

/// A oneshot channel.
pub fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Mutex::new(OneshotInner {
        value: None,
        waker: None,
        sender_gone: false,
    }));
    (Sender(inner.clone()), Receiver(inner))
}

impl<T> Sender<T> {
    /// Delivers `value` and wakes the receiver.
    pub fn send(self, value: T) {
        let waker = {
            let mut inner = self.0.lock().unwrap();
            inner.value = Some(value);
            inner.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
            inner.sender_gone = true;
            inner.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut inner = self.0.lock().unwrap();
        if let Some(v) = inner.value.take() {
            return Poll::Ready(Some(v));
        }
        if inner.sender_gone {
            return Poll::Ready(None);
        }
        inner.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Number of open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
        // The directory handle of `read_dir` itself is one of them.
        .saturating_sub(1)
}

/// Current (soft, hard) `RLIMIT_NOFILE`.
pub fn nofile_limit() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit struct.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(rc, 0, "getrlimit: {}", std::io::Error::last_os_error());
    (lim.rlim_cur, lim.rlim_max)
}

/// Sets the soft `RLIMIT_NOFILE` (the hard limit is kept).
pub fn set_nofile_soft(soft: u64) {
    let (_, hard) = nofile_limit();
    let lim = libc::rlimit {
        rlim_cur: soft.min(hard),
        rlim_max: hard,
    };
    // SAFETY: `lim` is a valid rlimit struct; lowering/raising the soft limit
    // up to the hard limit is always permitted.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft limit.
pub fn raise_nofile_limit() -> u64 {
    let (_, hard) = nofile_limit();
    set_nofile_soft(hard);
    nofile_limit().0
}
