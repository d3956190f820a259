//! `epoll(7)`: one instance, descriptors registered once, edge-triggered.
//!
//! The reactor registers every socket for read *and* write interest with
//! `EPOLLET`, once, when the socket is created. Edge-triggered mode means the
//! kernel reports a transition to ready once and then stays quiet until the next
//! transition, so the cost of a registration never grows with how often a task
//! polls, and nothing has to be re-armed with `epoll_ctl` on the hot path.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::{context, cvt};

// ANCHOR: interest
/// Interest bits every I/O source is registered with.
pub(crate) const INTEREST: u32 =
    (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
// ANCHOR_END: interest

/// An owned epoll instance.
#[derive(Debug)]
pub(crate) struct Epoll {
    fd: OwnedFd,
}

/// One readiness event as the kernel reports it.
pub(crate) type Event = libc::epoll_event;

impl Epoll {
    pub(crate) fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers; the flag is a valid constant.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })
            .map_err(|e| context(e, "epoll_create1"))?;
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll { fd })
    }

    /// Registers `fd` with the given interest bits and `token` as user data.
    ///
    /// `fd` is borrowed, not raw: the caller must hold the descriptor open for
    /// the call, so the number cannot belong to another file by the time the
    /// kernel looks it up.
    pub(crate) fn add(&self, fd: BorrowedFd<'_>, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        let fd = fd.as_raw_fd();
        // SAFETY: `ev` is a valid epoll_event that lives across the call.
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })
            .map(drop)
            .map_err(|e| context(e, format_args!("epoll_ctl(ADD, fd {fd})")))
    }

    /// Removes `fd` from the interest list. Borrowed, so it must still be
    /// open: removing a closed (possibly reused) number would remove, or fail
    /// to remove, the wrong file.
    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let fd = fd.as_raw_fd();
        // SAFETY: a null event pointer is allowed for EPOLL_CTL_DEL since Linux 2.6.9.
        cvt(unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        })
        .map(drop)
        .map_err(|e| context(e, format_args!("epoll_ctl(DEL, fd {fd})")))
    }

    // ANCHOR: epoll_wait
    /// Waits for events, filling `events` (its spare capacity) and setting its length.
    ///
    /// `None` blocks until an event arrives. The timeout is rounded *up* to whole
    /// milliseconds so a timer is never fired early. `EINTR` is reported as zero
    /// events: the caller loops anyway and re-computes its timeout.
    pub(crate) fn wait(
        &self,
        events: &mut Vec<Event>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let timeout_ms = match timeout {
            None => -1,
            Some(d) => {
                let ms = d.as_nanos().div_ceil(1_000_000);
                ms.min(libc::c_int::MAX as u128) as libc::c_int
            }
        };
        events.clear();
        let capacity = events.capacity().min(libc::c_int::MAX as usize) as libc::c_int;
        // SAFETY: the kernel writes at most `capacity` events into the vector's
        // spare capacity, which is valid for writes of that many `epoll_event`s.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.as_mut_ptr(),
                capacity,
                timeout_ms,
            )
        };
        match cvt(n) {
            // SAFETY: the kernel initialised the first `n` elements.
            Ok(n) => unsafe { events.set_len(n as usize) },
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(context(e, "epoll_wait")),
        }
        Ok(())
    }
    // ANCHOR_END: epoll_wait
}
