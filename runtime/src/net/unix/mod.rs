//! Unix-domain sockets: [`UnixListener`], [`UnixStream`] (with halves, as
//! for TCP) and [`UnixDatagram`], each an [`AsyncFd`](crate::io::AsyncFd)
//! around its `std` counterpart, so they share TCP's readiness path.
//!
//! Paths only: abstract addresses (Linux's leading-NUL names) are not
//! supported by these constructors; make such a socket with `std` and wrap it
//! with `from_std`.

mod datagram;
mod listener;
mod split;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
pub use stream::{UCred, UnixStream};
