//! What the kernel last said about a descriptor.

use std::ops::BitOr;

use crate::reactor::scheduled_io::{ERROR, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};

/// A set of readiness states, as returned by `ready()` and the
/// [`AsyncFd`](super::AsyncFd) guards.
///
/// `READ_CLOSED` and `WRITE_CLOSED` are final: once the peer closed its side,
/// they stay set, and a read then returns end of stream (or a write an error)
/// without waiting.
///
/// ```
/// use runtime::io::Ready;
///
/// let r = Ready::READABLE | Ready::READ_CLOSED;
/// assert!(r.is_readable() && r.is_read_closed());
/// assert!(!r.is_writable());
/// assert!(Ready::EMPTY.is_empty());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ready(u8);

impl Ready {
    /// Nothing is ready.
    pub const EMPTY: Ready = Ready(0);
    /// Reading would make progress.
    pub const READABLE: Ready = Ready(READABLE as u8);
    /// Writing would make progress.
    pub const WRITABLE: Ready = Ready(WRITABLE as u8);
    /// The peer will send nothing more (`EPOLLRDHUP`/`EPOLLHUP`).
    pub const READ_CLOSED: Ready = Ready(READ_CLOSED as u8);
    /// Nothing more can be sent (`EPOLLHUP`).
    pub const WRITE_CLOSED: Ready = Ready(WRITE_CLOSED as u8);
    /// The descriptor reported an error condition (`EPOLLERR`).
    pub const ERROR: Ready = Ready(ERROR as u8);

    /// Keeps the public bits of the reactor's readiness word.
    pub(crate) fn from_bits(bits: u64) -> Ready {
        let public = READABLE | WRITABLE | READ_CLOSED | WRITE_CLOSED | ERROR;
        Ready((bits & public) as u8)
    }

    /// The reactor's bits for this set.
    pub(crate) fn bits(self) -> u64 {
        u64::from(self.0)
    }

    /// Whether nothing is ready.
    ///
    /// ```
    /// assert!(!runtime::io::Ready::READABLE.is_empty());
    /// ```
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether a read would make progress (data or end of stream).
    ///
    /// ```
    /// assert!(runtime::io::Ready::READ_CLOSED.is_readable());
    /// ```
    pub fn is_readable(self) -> bool {
        self.0 & (READABLE | READ_CLOSED) as u8 != 0
    }

    /// Whether a write would make progress (room, or an error to report).
    ///
    /// ```
    /// assert!(runtime::io::Ready::WRITE_CLOSED.is_writable());
    /// ```
    pub fn is_writable(self) -> bool {
        self.0 & (WRITABLE | WRITE_CLOSED) as u8 != 0
    }

    /// Whether the peer closed its sending side.
    ///
    /// ```
    /// assert!(!runtime::io::Ready::READABLE.is_read_closed());
    /// ```
    pub fn is_read_closed(self) -> bool {
        self.0 & READ_CLOSED as u8 != 0
    }

    /// Whether our sending side is closed.
    ///
    /// ```
    /// assert!(runtime::io::Ready::WRITE_CLOSED.is_write_closed());
    /// ```
    pub fn is_write_closed(self) -> bool {
        self.0 & WRITE_CLOSED as u8 != 0
    }

    /// Whether an error condition was reported.
    ///
    /// ```
    /// assert!(runtime::io::Ready::ERROR.is_error());
    /// ```
    pub fn is_error(self) -> bool {
        self.0 & ERROR as u8 != 0
    }
}

impl BitOr for Ready {
    type Output = Ready;

    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl std::fmt::Debug for Ready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ready")
            .field("readable", &(self.0 & READABLE as u8 != 0))
            .field("writable", &(self.0 & WRITABLE as u8 != 0))
            .field("read_closed", &self.is_read_closed())
            .field("write_closed", &self.is_write_closed())
            .field("error", &self.is_error())
            .finish()
    }
}
