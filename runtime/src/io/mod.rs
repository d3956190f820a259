//! Readiness of any file descriptor: [`AsyncFd`], and the [`Interest`] and
//! [`Ready`] sets it speaks in.
//!
//! Every I/O object of this crate (`TcpStream`, `UdpSocket`, ...) is an
//! [`AsyncFd`] around a `std` socket, so there is one readiness path: a
//! descriptor registered once with the runtime's epoll instance, a readiness
//! word the reactor sets and a task clears when the system call says
//! `WouldBlock`. `AsyncFd` opens that path to descriptors made anywhere else:
//! a pipe, a timerfd, a signalfd, a tty, a socket from another crate.
//!
//! [`raw_os_error`] is here too, in every build: it finds the `errno` inside
//! the errors this crate returns (see [Errors](crate#errors)).

#[cfg(feature = "net")]
mod async_fd;
#[cfg(feature = "net")]
mod interest;
#[cfg(feature = "net")]
mod ready;

use std::error::Error;

#[cfg(feature = "net")]
pub(crate) use async_fd::RawIo;
#[cfg(feature = "net")]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub use async_fd::{
    AsyncFd, AsyncFdReadyGuard, AsyncFdReadyMutGuard, AsyncFdTryNewError, TryIoError,
};
#[cfg(feature = "net")]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub use interest::Interest;
#[cfg(feature = "net")]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub use ready::Ready;

/// The operating system's error code (`errno`) behind `err`, also where this
/// crate wrapped it to say what it was doing.
///
/// A failed system call here comes back as an `io::Error` whose message
/// names the operation ("bind 127.0.0.1:80: Permission denied (os error
/// 13)") and whose [`kind`](std::io::Error::kind) is the original's; the
/// original error is kept as the message's [`source`](Error::source). std's
/// [`io::Error::raw_os_error`](std::io::Error::raw_os_error) does not look
/// inside such an error and says `None`; this function does: it returns the
/// code of `err` itself or of the first `io::Error` down its chain of causes
/// that has one.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// let _guard = rt.handle().enter();
/// # #[cfg(feature = "net")] {
/// // epoll does not take regular files: EPERM, with what was being done.
/// let file = std::fs::File::open("/proc/self/status").unwrap();
/// let err = std::io::Error::from(runtime::io::AsyncFd::try_new(file).unwrap_err());
/// assert!(err.to_string().contains("epoll_ctl"));
/// assert_eq!(err.raw_os_error(), None); // std's view: a custom error
/// assert_eq!(runtime::io::raw_os_error(&err), Some(libc::EPERM));
/// # }
/// // Errors from elsewhere work too.
/// let plain = std::io::Error::from_raw_os_error(libc::ENOENT);
/// assert_eq!(runtime::io::raw_os_error(&plain), Some(libc::ENOENT));
/// ```
pub fn raw_os_error(err: &std::io::Error) -> Option<i32> {
    let mut current: &(dyn Error + 'static) = err;
    loop {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            if let Some(code) = io.raw_os_error() {
                return Some(code);
            }
            // `io::Error::source` skips the error it wraps (it returns that
            // error's own source), so step into the wrapped one by hand.
            if let Some(inner) = io.get_ref() {
                current = inner;
                continue;
            }
        }
        current = current.source()?;
    }
}
