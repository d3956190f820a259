//! Which readiness a task waits for.

use std::ops::BitOr;

use crate::reactor::scheduled_io::Direction;
use crate::sys::epoll::INTEREST;

/// Which readiness to wait for: [`READABLE`](Interest::READABLE),
/// [`WRITABLE`](Interest::WRITABLE), or both (`READABLE | WRITABLE`).
///
/// ```
/// use runtime::io::Interest;
///
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert!(!Interest::READABLE.is_writable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Interest(u8);

const READ: u8 = 0b01;
const WRITE: u8 = 0b10;

impl Interest {
    /// Wait until reading would make progress (data, end of stream, an error).
    pub const READABLE: Interest = Interest(READ);
    /// Wait until writing would make progress (room, a closed peer, an error).
    pub const WRITABLE: Interest = Interest(WRITE);

    /// Both sets together; the `const` form of `|`.
    ///
    /// ```
    /// use runtime::io::Interest;
    /// const BOTH: Interest = Interest::READABLE.add(Interest::WRITABLE);
    /// assert!(BOTH.is_writable());
    /// ```
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// Whether this includes [`READABLE`](Interest::READABLE).
    ///
    /// ```
    /// assert!(runtime::io::Interest::READABLE.is_readable());
    /// ```
    pub const fn is_readable(self) -> bool {
        self.0 & READ != 0
    }

    /// Whether this includes [`WRITABLE`](Interest::WRITABLE).
    ///
    /// ```
    /// assert!(runtime::io::Interest::WRITABLE.is_writable());
    /// ```
    pub const fn is_writable(self) -> bool {
        self.0 & WRITE != 0
    }

    /// The epoll events a descriptor is registered for, for this interest:
    /// edge-triggered always; peer-close (`EPOLLRDHUP`) goes with reading.
    /// `EPOLLERR` and `EPOLLHUP` are reported whatever is asked.
    pub(crate) const fn epoll_events(self) -> u32 {
        let mut events = libc::EPOLLET;
        if self.is_readable() {
            events |= libc::EPOLLIN | libc::EPOLLRDHUP;
        }
        if self.is_writable() {
            events |= libc::EPOLLOUT;
        }
        events as u32
    }

    /// The interests in both `self` and `other` (`None` if there are none).
    pub(crate) fn intersection(self, other: Interest) -> Option<Interest> {
        let both = self.0 & other.0;
        (both != 0).then_some(Interest(both))
    }

    /// The reactor's ready bits that end a wait for this interest.
    pub(crate) fn mask(self) -> u64 {
        let mut mask = 0;
        if self.is_readable() {
            mask |= Direction::Read.mask();
        }
        if self.is_writable() {
            mask |= Direction::Write.mask();
        }
        mask
    }
}

// Both interests are what every socket is registered with.
const _: () = assert!(Interest::READABLE.add(Interest::WRITABLE).epoll_events() == INTEREST);

impl BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl std::fmt::Debug for Interest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            (false, true) => f.write_str("WRITABLE"),
            (false, false) => f.write_str("(none)"),
        }
    }
}
