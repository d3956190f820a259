//! Turning signals (`SIGINT`, `SIGTERM`, `SIGUSR1`, real-time ones...) into readiness on a file descriptor (the
//! "self-pipe" trick, with an eventfd as the pipe).
//!
//! `signalfd` would need the signal blocked in *every* thread, including threads
//! the user started before us; a handler works no matter what other threads do.
//! The handler does only async-signal-safe things: it bumps a per-signal counter
//! (an atomic) and writes to an eventfd. Each runtime registers that eventfd with
//! its epoll instance (edge-triggered: every write is a new edge for every epoll
//! instance watching it, so nobody needs to drain it), and futures compare the
//! counter with the value they saw when they were created.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use super::eventfd::EventFd;
use super::{context, copy_error, cvt};

/// Highest signal number we track (Linux has 64 including real-time signals).
const MAX_SIGNAL: usize = 64;

/// Per-signal delivery counters, bumped by the handler.
static COUNTERS: [AtomicU64; MAX_SIGNAL + 1] = [const { AtomicU64::new(0) }; MAX_SIGNAL + 1];
/// The eventfd the handler writes to; -1 until first use.
static NOTIFY_FD: AtomicI32 = AtomicI32::new(-1);
/// Which signals have our handler installed.
static INSTALLED: Mutex<[bool; MAX_SIGNAL + 1]> = Mutex::new([false; MAX_SIGNAL + 1]);
static EVENTFD: OnceLock<io::Result<EventFd>> = OnceLock::new();

extern "C" fn handler(signum: libc::c_int) {
    // Only atomics and write(2): both async-signal-safe. errno is saved because
    // the interrupted code may be about to read it.
    // SAFETY: __errno_location returns this thread's errno slot.
    let saved = unsafe { *libc::__errno_location() };
    if let Some(counter) = COUNTERS.get(signum as usize) {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    let fd = NOTIFY_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64; the fd is never closed.
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
}

/// The process-wide eventfd that becomes readable when a handled signal arrives.
pub(crate) fn notify_fd() -> io::Result<&'static EventFd> {
    match EVENTFD.get_or_init(EventFd::new) {
        Ok(fd) => {
            NOTIFY_FD.store(fd.as_raw_fd(), Ordering::SeqCst);
            Ok(fd)
        }
        // Made once, so a failure is cached: hand out copies that keep the errno.
        Err(e) => Err(copy_error(e)),
    }
}

/// How many times `signum` has been delivered since the handler was installed.
pub(crate) fn count(signum: libc::c_int) -> u64 {
    COUNTERS[signum as usize].load(Ordering::SeqCst)
}

/// Signals a handler must not take over, with the reason (for the error).
fn forbidden(signum: libc::c_int) -> Option<&'static str> {
    match signum {
        libc::SIGKILL | libc::SIGSTOP => Some("it cannot be caught"),
        // Synchronous faults: the handler would return to the faulting
        // instruction, which faults again, forever.
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE => {
            Some("it reports a fault of the thread that raised it")
        }
        // glibc keeps the real-time signals below SIGRTMIN for its threads.
        n if n > libc::SIGSYS && n < libc::SIGRTMIN() => {
            Some("the C library reserves it for its own use")
        }
        _ => None,
    }
}

/// Checks that `signum` is a signal we can listen for, with an error that
/// says why not.
pub(crate) fn check(signum: libc::c_int) -> io::Result<()> {
    if signum <= 0 || signum > libc::SIGRTMAX() || signum as usize > MAX_SIGNAL {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{signum} is not a signal number (1..={})", libc::SIGRTMAX()),
        ));
    }
    if let Some(why) = forbidden(signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to handle signal {signum}: {why}"),
        ));
    }
    Ok(())
}

/// Installs our handler for `signum` (once per process).
pub(crate) fn install(signum: libc::c_int) -> io::Result<()> {
    check(signum)?;
    notify_fd()?;
    let mut installed = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    if installed[signum as usize] {
        return Ok(());
    }
    // SAFETY: all-zero is a valid sigaction; we then fill the fields we use.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler as extern "C" fn(libc::c_int) as usize;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: sa_mask is a valid sigset_t to initialise.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: `action` is fully initialised; the old action is not wanted.
    cvt(unsafe { libc::sigaction(signum, &action, std::ptr::null_mut()) })
        .map_err(|e| context(e, format_args!("sigaction({signum})")))?;
    installed[signum as usize] = true;
    Ok(())
}
