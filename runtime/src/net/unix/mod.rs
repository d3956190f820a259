//! Unix-domain sockets: [`UnixListener`], [`UnixStream`] (with halves, as
//! for TCP) and [`UnixDatagram`], each an [`AsyncFd`](crate::io::AsyncFd)
//! around its `std` counterpart, so they share TCP's readiness path.
//!
//! Addresses are paths (`bind`, `connect`, `send_to`) or any
//! `std::os::unix::net::SocketAddr` (`bind_addr`, `connect_addr`,
//! `send_to_addr`), which includes Linux's abstract names
//! (`SocketAddrExt::from_abstract_name`): no socket file to create or remove,
//! and `local_addr`/`peer_addr` report them through `as_abstract_name`.

mod datagram;
mod listener;
mod split;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
pub use stream::{UCred, UnixStream};
