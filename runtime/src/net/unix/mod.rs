//! Unix-domain sockets: [`UnixListener`], [`UnixStream`] (with halves, as
//! for TCP) and [`UnixDatagram`], each an [`AsyncFd`](crate::io::AsyncFd)
//! around its `std` counterpart, so they share TCP's readiness path.
//!
//! Addresses are paths (`bind`, `connect`, `send_to`) or any
//! `std::os::unix::net::SocketAddr` (`bind_addr`, `connect_addr`,
//! `send_to_addr`), which includes Linux's abstract names
//! (`SocketAddrExt::from_abstract_name`): no socket file to create or remove,
//! and `local_addr`/`peer_addr` report them through `as_abstract_name`. As in
//! tokio, a path whose first byte is NUL names an abstract socket too (the
//! name is what follows the NUL).

mod datagram;
mod listener;
mod split;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
pub use stream::{UCred, UnixStream};

/// The address `path` names: the abstract name after a leading NUL byte (as
/// tokio reads such paths), else the file. `what` is the operation, for the
/// error (a path too long, or with a NUL inside).
fn addr_of(path: &std::path::Path, what: &str) -> std::io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::SocketAddr;
    match path.as_os_str().as_bytes() {
        [0, name @ ..] => SocketAddr::from_abstract_name(name),
        _ => SocketAddr::from_pathname(path),
    }
    .map_err(|e| crate::sys::context(e, format_args!("{what} {path:?}")))
}
