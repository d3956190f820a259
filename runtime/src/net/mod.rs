//! Async TCP: [`TcpListener`], [`TcpStream`] and its halves.
//!
//! Every socket is created non-blocking and close-on-exec, registered once with
//! the runtime's epoll instance, and driven by the same loop: try the system
//! call; on `EAGAIN`, clear the readiness bit we acted on (with its tick, see
//! `reactor/scheduled_io.rs`) and wait for the reactor's next edge.
//!
//! With the `futures-io` feature, `TcpStream` and its halves implement
//! `futures_io::AsyncRead`/`AsyncWrite`.
//!
//! Writes use `send(MSG_NOSIGNAL)`, so a peer that went away is an `EPIPE`
//! error, never a `SIGPIPE` that kills the process. `EINTR` is retried.

mod addr;
mod datagram;
mod fd;
#[cfg(feature = "futures-io")]
mod futures_io;
mod macros;
mod ready;
mod split;
mod stream;
mod tcp;
mod tcp_socket;
mod udp;
pub mod unix;

pub use addr::ToSocketAddrs;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
pub use tcp::{TcpListener, TcpStream};
pub use tcp_socket::TcpSocket;
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
