//! The methods `UdpSocket` and `UnixDatagram` share (those that do not name
//! an address, whose type differs): one implementation of each, stamped onto
//! both types with their docs by [`datagram_methods!`].
//!
//! Readiness is cleared only when the kernel says `WouldBlock`: a datagram
//! shorter than the buffer says nothing about whether another is queued.

use std::io;

use crate::io::RawIo;
use crate::reactor::Direction;
use crate::sys::socket;

pub(crate) async fn send(io: RawIo<'_>, buf: &[u8]) -> io::Result<usize> {
    io.transfer_listed(Direction::Write, &mut |fd| socket::send(fd, buf))
        .await
}

pub(crate) async fn recv(io: RawIo<'_>, buf: &mut [u8]) -> io::Result<usize> {
    io.transfer_listed(Direction::Read, &mut |fd| socket::recv(fd, buf))
        .await
}

#[inline(never)]
pub(crate) fn try_send(io: RawIo<'_>, buf: &[u8]) -> io::Result<usize> {
    io.try_transfer(Direction::Write, None, &mut |fd| socket::send(fd, buf))
}

#[inline(never)]
pub(crate) fn try_recv(io: RawIo<'_>, buf: &mut [u8]) -> io::Result<usize> {
    io.try_transfer(Direction::Read, None, &mut |fd| socket::recv(fd, buf))
}

/// Generates the connected-socket methods of a datagram socket type (field
/// `io`), with their docs, plus its readiness waits and descriptor impls.
macro_rules! datagram_methods {
    ($ty:ident) => {
        $crate::net::ready::readiness_methods!($ty, "peer.send(b\"x\").await.unwrap();\n");
        $crate::net::macros::fd_impls!($ty, "local" local_addr);

        impl $ty {
            /// Sends one datagram to the connected peer; returns the bytes
            /// sent.
            #[doc = $crate::net::macros::example!($ty, "send", "\
assert_eq!(s.send(b\"hi\").await.unwrap(), 2);
")]
            pub fn send<'a>(&'a self, buf: &'a [u8]) -> impl ::std::future::Future<Output = ::std::io::Result<usize>> + 'a {
                $crate::net::datagram::send(self.io.raw(), buf)
            }

            /// Receives one datagram from the connected peer into `buf` (the
            /// rest of a longer datagram is discarded).
            #[doc = $crate::net::macros::example!($ty, "recv", "\
peer.send(b\"hi\").await.unwrap();
let mut buf = [0; 8];
assert_eq!(s.recv(&mut buf).await.unwrap(), 2);
")]
            pub fn recv<'a>(&'a self, buf: &'a mut [u8]) -> impl ::std::future::Future<Output = ::std::io::Result<usize>> + 'a {
                $crate::net::datagram::recv(self.io.raw(), buf)
            }

            /// Sends without waiting: `WouldBlock` if the socket is not known
            /// to be writable.
            #[doc = $crate::net::macros::example!($ty, "try_send", "\
s.writable().await.unwrap();
assert_eq!(s.try_send(b\"x\").unwrap(), 1);
")]
            pub fn try_send(&self, buf: &[u8]) -> ::std::io::Result<usize> {
                $crate::net::datagram::try_send(self.io.raw(), buf)
            }

            /// Receives without waiting: `WouldBlock` if no datagram is known
            /// to be queued.
            #[doc = $crate::net::macros::example!($ty, "try_recv", "\
let err = s.try_recv(&mut [0; 8]).unwrap_err();
assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
peer.send(b\"x\").await.unwrap();
s.readable().await.unwrap();
assert_eq!(s.try_recv(&mut [0; 8]).unwrap(), 1);
")]
            pub fn try_recv(&self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                $crate::net::datagram::try_recv(self.io.raw(), buf)
            }
        }
    };
}

pub(crate) use datagram_methods;
