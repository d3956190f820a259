//! Readiness of any file descriptor: [`AsyncFd`], and the [`Interest`] and
//! [`Ready`] sets it speaks in.
//!
//! Every I/O object of this crate (`TcpStream`, `UdpSocket`, ...) is an
//! [`AsyncFd`] around a `std` socket, so there is one readiness path: a
//! descriptor registered once with the runtime's epoll instance, a readiness
//! word the reactor sets and a task clears when the system call says
//! `WouldBlock`. `AsyncFd` opens that path to descriptors made anywhere else:
//! a pipe, a timerfd, a signalfd, a tty, a socket from another crate.

mod async_fd;
mod interest;
mod ready;

pub(crate) use async_fd::RawIo;
pub use async_fd::{
    AsyncFd, AsyncFdReadyGuard, AsyncFdReadyMutGuard, AsyncFdTryNewError, TryIoError,
};
pub use interest::Interest;
pub use ready::Ready;
