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
/// `AddrInUse`, ... stay matchable by callers) and the error itself, as the
/// [`source`](std::error::Error::source) of the message: an `errno` is then
/// still there for [`crate::io::raw_os_error`] to find. It allocates, so it is
/// for the setup and failure paths, not for a `WouldBlock` on every read.
pub(crate) fn context(err: io::Error, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        err.kind(),
        WithContext {
            what: what.to_string(),
            cause: err,
        },
    )
}

/// A copy of `err` (`io::Error` is not `Clone`) for an error that is cached
/// and handed out again: the same kind and message, and the same `errno`
/// under the same context, where `err` came from [`context`] or the OS.
#[cfg(feature = "signal")]
pub(crate) fn copy_error(err: &io::Error) -> io::Error {
    if let Some(code) = err.raw_os_error() {
        return io::Error::from_raw_os_error(code);
    }
    match err.get_ref().and_then(|e| e.downcast_ref::<WithContext>()) {
        Some(wrapped) => context(copy_error(&wrapped.cause), &wrapped.what),
        None => io::Error::new(err.kind(), err.to_string()),
    }
}

/// The error [`context`] builds: reads "what: cause", and hands out the cause
/// as its source, so nothing the system call said is lost by adding words.
#[derive(Debug)]
struct WithContext {
    what: String,
    cause: io::Error,
}

impl std::fmt::Display for WithContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.cause)
    }
}

impl std::error::Error for WithContext {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

// Real descriptors and runtimes: not loom models.
#[cfg(all(test, not(loom)))]
mod tests {
    use std::error::Error;
    use std::io;
    use std::os::fd::AsFd;

    use super::{context, epoll::Epoll};
    use crate::io::raw_os_error;

    /// The errno of the original error, reached through the wrapper's source
    /// (both std's `source()`, which looks past the wrapper, and the
    /// wrapper's own).
    fn errno_via_source(err: &io::Error) -> Option<i32> {
        let via_std = err.source()?.downcast_ref::<io::Error>()?.raw_os_error();
        let via_wrapper = err
            .get_ref()
            .and_then(|e| e.source())
            .and_then(|e| e.downcast_ref::<io::Error>())
            .and_then(io::Error::raw_os_error);
        assert_eq!(via_std, via_wrapper);
        via_std
    }

    /// epoll refuses a regular file with EPERM: the message says what was
    /// being done, the kind is the original's, and the errno is still there.
    #[test]
    #[cfg_attr(miri, ignore = "epoll_ctl is a real system call")]
    fn epoll_refusing_a_regular_file_keeps_eperm() {
        let epoll = Epoll::new().unwrap();
        let file = std::fs::File::open("/proc/self/status").unwrap();
        let err = epoll.add(file.as_fd(), 0, 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().starts_with("epoll_ctl(ADD, fd "), "{err}");
        assert!(err.to_string().ends_with("(os error 1)"), "{err}");
        assert_eq!(raw_os_error(&err), Some(libc::EPERM));
        assert_eq!(errno_via_source(&err), Some(libc::EPERM));
    }

    /// A second listener on a taken port: `AddrInUse`, EADDRINUSE reachable.
    #[cfg(feature = "net")]
    #[test]
    #[cfg_attr(miri, ignore = "bind is a real system call")]
    fn bind_to_a_taken_address_keeps_eaddrinuse() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = super::socket::listen(&addr).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(
            err.to_string().starts_with(&format!("bind {addr}: ")),
            "{err}"
        );
        assert_eq!(raw_os_error(&err), Some(libc::EADDRINUSE));
        assert_eq!(errno_via_source(&err), Some(libc::EADDRINUSE));
    }

    /// A refused connect (at once, or through the socket's pending error
    /// after `EINPROGRESS`; both paths add context): ECONNREFUSED.
    #[cfg(feature = "net")]
    #[test]
    #[cfg_attr(miri, ignore = "connect is a real system call")]
    fn connect_to_a_closed_port_keeps_econnrefused() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let rt = crate::Builder::new_current_thread().build().unwrap();
        let err = rt
            .block_on(crate::net::TcpStream::connect(addr))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        assert!(err.to_string().starts_with("connect to "), "{err}");
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
        assert_eq!(raw_os_error(&err), Some(libc::ECONNREFUSED));
        assert_eq!(errno_via_source(&err), Some(libc::ECONNREFUSED));
    }

    /// A copy of a cached error (the signal eventfd's) says the same and
    /// keeps the errno.
    #[cfg(feature = "signal")]
    #[test]
    fn copy_error_keeps_message_kind_and_errno() {
        let original = context(io::Error::from_raw_os_error(libc::EMFILE), "eventfd");
        let copy = super::copy_error(&original);
        assert_eq!(copy.to_string(), original.to_string());
        assert_eq!(copy.kind(), original.kind());
        assert_eq!(raw_os_error(&copy), Some(libc::EMFILE));
        let plain = super::copy_error(&io::Error::other("no code"));
        assert_eq!(plain.to_string(), "no code");
    }

    /// Context on context: both phrases in the message, the errno found
    /// under both wrappers, the kind unchanged.
    #[test]
    fn nested_context_keeps_the_innermost_errno() {
        let err = context(
            context(io::Error::from_raw_os_error(libc::EMFILE), "accept"),
            "serving",
        );
        assert_eq!(
            err.kind(),
            io::Error::from_raw_os_error(libc::EMFILE).kind()
        );
        assert!(err.to_string().starts_with("serving: accept: "), "{err}");
        assert_eq!(raw_os_error(&err), Some(libc::EMFILE));
        // No errno anywhere: none is made up.
        let plain = context(io::Error::other("no code"), "parsing");
        assert_eq!(raw_os_error(&plain), None);
        assert_eq!(plain.to_string(), "parsing: no code");
    }
}
