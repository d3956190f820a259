//! The readiness waits every socket that carries data has (`readable`,
//! `writable`, `ready`): streams and datagram sockets alike wait in the
//! source's waiter list, so any number of tasks may wait at once.

use super::fd::SocketFd;
use crate::io::{Interest, Ready};
use crate::reactor::Direction;
use std::io;

// ANCHOR: readable
pub(crate) async fn readable(io: &SocketFd) -> io::Result<()> {
    io.wait_listed(Direction::Read.mask()).await.map(drop)
}
// ANCHOR_END: readable

pub(crate) async fn writable(io: &SocketFd) -> io::Result<()> {
    io.wait_listed(Direction::Write.mask()).await.map(drop)
}

pub(crate) async fn ready(io: &SocketFd, interest: Interest) -> io::Result<Ready> {
    let ev = io.wait_listed(interest.mask()).await?;
    Ok(Ready::from_bits(ev.ready))
}

/// Generates `readable`, `writable` and `ready` on `$ty` (field `io`). The
/// examples make data arrive with `$poke`, a line that sends one byte from
/// `peer` to `s` (see `net::macros::example`).
macro_rules! readiness_methods {
    ($ty:ident, $poke:literal) => {
        impl $ty {
            /// Waits until the socket is readable: data is queued, the peer
            /// has gone, or an error is pending. Any number of tasks may wait
            /// at once; all of them are woken.
            #[doc = $crate::net::macros::example!($ty, "readable", concat!($poke, "\
s.readable().await.unwrap();
"))]
            pub fn readable(
                &self,
            ) -> impl ::std::future::Future<Output = ::std::io::Result<()>> + '_ {
                $crate::net::ready::readable(&self.io)
            }

            /// Waits until the socket is writable. Any number of tasks may
            /// wait at once; all of them are woken.
            #[doc = $crate::net::macros::example!($ty, "writable", "\
s.writable().await.unwrap();
")]
            pub fn writable(
                &self,
            ) -> impl ::std::future::Future<Output = ::std::io::Result<()>> + '_ {
                $crate::net::ready::writable(&self.io)
            }

            /// Waits until the socket is ready for any of `interest`, and
            /// says which (including
            /// [`is_read_closed`](crate::io::Ready::is_read_closed) /
            /// [`is_write_closed`](crate::io::Ready::is_write_closed)). Any
            /// number of tasks may wait.
            #[doc = $crate::net::macros::example!($ty, "ready", "\
use runtime::io::Interest;
let ready = s.ready(Interest::READABLE | Interest::WRITABLE).await.unwrap();
assert!(ready.is_writable() && !ready.is_write_closed());
")]
            pub fn ready(
                &self,
                interest: $crate::io::Interest,
            ) -> impl ::std::future::Future<Output = ::std::io::Result<$crate::io::Ready>> + '_
            {
                $crate::net::ready::ready(&self.io, interest)
            }
        }
    };
}

pub(crate) use readiness_methods;
