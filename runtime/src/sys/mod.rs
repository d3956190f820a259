//! The platform layer: thin, honest wrappers over the Linux system calls the
//! runtime needs, in the style of mio's `sys/`.
//!
//! Nothing here knows about tasks or wakers. Every function turns a failed system
//! call into an [`std::io::Error`], retries `EINTR` where retrying is correct, and
//! creates every descriptor non-blocking and close-on-exec.
//!
//! A descriptor that must stay open for the length of a call is taken as a
//! `BorrowedFd<'_>`, never a bare `RawFd`: the borrow checker then proves the
//! owner cannot close it (and the number be reused) meanwhile. That is how
//! "deregister before close" is enforced: `Registration::deregister` needs a
//! borrow of the still-open descriptor.

pub(crate) mod epoll;
pub(crate) mod eventfd;
#[cfg(feature = "signal")]
pub(crate) mod signal;
#[cfg(feature = "net")]
pub(crate) mod socket;

use std::io;

/// Turns a `-1` return into the thread's `errno` as an `io::Error`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Like [`cvt`] for calls returning `ssize_t`.
pub(crate) fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Adds what we were doing to an error, keeping its kind (and so `WouldBlock`,
/// `AddrInUse`, ... stay matchable by callers).
pub(crate) fn context(err: io::Error, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(err.kind(), format!("{what}: {err}"))
}
