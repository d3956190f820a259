//! The registered descriptor every socket type keeps.
//!
//! All seven socket types hold one [`SocketFd`], an `AsyncFd<OwnedFd>`, rather
//! than an `AsyncFd` of their own `std` type: the registration, drop,
//! `into_inner` and readiness code of `AsyncFd` is then compiled once for the
//! crate, not once per socket type. The methods that `std` already has
//! (`local_addr`, `set_nodelay`, `recv_from`, ...) run on a [`StdRef`], the
//! `std` type borrowed over the same descriptor.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::io::AsyncFd;

/// A socket's registered descriptor.
pub(crate) type SocketFd = AsyncFd<OwnedFd>;

/// `S`, a `std` socket type, over a descriptor that `fd` owns, for as long as
/// `fd` is borrowed. It never closes the descriptor: `S` is never dropped.
pub(crate) struct StdRef<'fd, S> {
    socket: ManuallyDrop<S>,
    _fd: PhantomData<&'fd OwnedFd>,
}

impl<'fd, S: FromRawFd> StdRef<'fd, S> {
    /// `fd` seen as an `S`. The caller names the type the socket was made as
    /// (a TCP stream's descriptor as `std::net::TcpStream`, ...).
    pub(crate) fn new(fd: &'fd OwnedFd) -> StdRef<'fd, S> {
        // SAFETY: the descriptor is open for all of `'fd` (`fd` owns it and is
        // borrowed that long), and the `S` made from it is never dropped
        // (`ManuallyDrop`, and only `&S` is handed out), so it never closes
        // the descriptor or outlives it: `fd` stays its only owner.
        let socket = unsafe { S::from_raw_fd(fd.as_raw_fd()) };
        StdRef {
            socket: ManuallyDrop::new(socket),
            _fd: PhantomData,
        }
    }
}

impl<S> Deref for StdRef<'_, S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.socket
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::{Read, Write};
    use std::os::fd::OwnedFd;

    use super::StdRef;

    /// A view used and dropped leaves the descriptor open and usable through
    /// its owner (the view must never close it). A pipe, so that it runs
    /// under miri too.
    #[test]
    fn std_ref_does_not_close_the_descriptor() {
        let (mut reader, writer) = std::io::pipe().unwrap();
        let fd = OwnedFd::from(writer);
        {
            let view = StdRef::<File>::new(&fd);
            (&*view).write_all(b"x").unwrap();
        }
        let mut writer = File::from(fd);
        writer.write_all(b"y").unwrap();
        drop(writer);
        let mut got = Vec::new();
        reader.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"xy");
    }
}
