//! [`TcpSocket`]: a TCP socket not yet connected or listening, to set options
//! that must be in place before `connect` or `listen`.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{TcpListener, TcpStream};
use crate::sys::socket;

/// A TCP socket before it becomes a [`TcpStream`] ([`connect`](Self::connect))
/// or a [`TcpListener`] ([`listen`](Self::listen)): the place to set buffer
/// sizes, `SO_REUSEPORT`, keepalive, or a source address first.
///
/// ```
/// use runtime::net::TcpSocket;
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let server = TcpSocket::new_v4()?;
///     server.set_reuseaddr(true)?;
///     server.bind("127.0.0.1:0".parse().unwrap())?;
///     let listener = server.listen(128)?;
///
///     let client = TcpSocket::new_v4()?;
///     client.set_recv_buffer_size(64 * 1024)?;
///     client.set_nodelay(true)?;
///     let stream = client.connect(listener.local_addr()?).await?;
///     assert!(stream.nodelay()?);
///     Ok::<(), std::io::Error>(())
/// }).unwrap();
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    fd: OwnedFd,
}

/// An integer socket option: level, name, and the name for errors.
struct Opt(libc::c_int, libc::c_int, &'static str);

const REUSEADDR: Opt = Opt(libc::SOL_SOCKET, libc::SO_REUSEADDR, "SO_REUSEADDR");
const REUSEPORT: Opt = Opt(libc::SOL_SOCKET, libc::SO_REUSEPORT, "SO_REUSEPORT");
const SNDBUF: Opt = Opt(libc::SOL_SOCKET, libc::SO_SNDBUF, "SO_SNDBUF");
const RCVBUF: Opt = Opt(libc::SOL_SOCKET, libc::SO_RCVBUF, "SO_RCVBUF");
const KEEPALIVE: Opt = Opt(libc::SOL_SOCKET, libc::SO_KEEPALIVE, "SO_KEEPALIVE");
const NODELAY: Opt = Opt(libc::IPPROTO_TCP, libc::TCP_NODELAY, "TCP_NODELAY");

impl TcpSocket {
    fn set_opt(&self, Opt(level, name, what): Opt, value: libc::c_int) -> io::Result<()> {
        socket::set_int_opt(self.fd.as_fd(), level, name, value, what)
    }

    fn opt(&self, Opt(level, name, what): Opt) -> io::Result<libc::c_int> {
        socket::int_opt(self.fd.as_fd(), level, name, what)
    }

    /// A new IPv4 socket (non-blocking, close-on-exec).
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// # drop(s);
    /// ```
    pub fn new_v4() -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: socket::tcp_socket(false)?,
        })
    }

    /// A new IPv6 socket (non-blocking, close-on-exec).
    ///
    /// ```
    /// // Fails on a host without IPv6, like the system call.
    /// let _ = runtime::net::TcpSocket::new_v6();
    /// ```
    pub fn new_v6() -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: socket::tcp_socket(true)?,
        })
    }

    /// Sets `SO_REUSEADDR` (bind to a port with connections in `TIME_WAIT`).
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// s.set_reuseaddr(true).unwrap();
    /// assert!(s.reuseaddr().unwrap());
    /// ```
    pub fn set_reuseaddr(&self, reuse: bool) -> io::Result<()> {
        self.set_opt(REUSEADDR, reuse as libc::c_int)
    }

    /// Whether `SO_REUSEADDR` is set.
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// assert!(!s.reuseaddr().unwrap());
    /// ```
    pub fn reuseaddr(&self) -> io::Result<bool> {
        Ok(self.opt(REUSEADDR)? != 0)
    }

    /// Sets `SO_REUSEPORT` (several sockets listen on one port; the kernel
    /// spreads connections over them).
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// s.set_reuseport(true).unwrap();
    /// assert!(s.reuseport().unwrap());
    /// ```
    pub fn set_reuseport(&self, reuse: bool) -> io::Result<()> {
        self.set_opt(REUSEPORT, reuse as libc::c_int)
    }

    /// Whether `SO_REUSEPORT` is set.
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// assert!(!s.reuseport().unwrap());
    /// ```
    pub fn reuseport(&self) -> io::Result<bool> {
        Ok(self.opt(REUSEPORT)? != 0)
    }

    /// Sets `SO_SNDBUF` (the kernel doubles the value and applies limits).
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// s.set_send_buffer_size(32 * 1024).unwrap();
    /// assert!(s.send_buffer_size().unwrap() >= 32 * 1024);
    /// ```
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.set_opt(SNDBUF, size.min(libc::c_int::MAX as u32) as libc::c_int)
    }

    /// `SO_SNDBUF` as the kernel set it.
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// assert!(s.send_buffer_size().unwrap() > 0);
    /// ```
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        Ok(self.opt(SNDBUF)?.max(0) as u32)
    }

    /// Sets `SO_RCVBUF` (the kernel doubles the value and applies limits).
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// s.set_recv_buffer_size(32 * 1024).unwrap();
    /// assert!(s.recv_buffer_size().unwrap() >= 32 * 1024);
    /// ```
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.set_opt(RCVBUF, size.min(libc::c_int::MAX as u32) as libc::c_int)
    }

    /// `SO_RCVBUF` as the kernel set it.
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// assert!(s.recv_buffer_size().unwrap() > 0);
    /// ```
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        Ok(self.opt(RCVBUF)?.max(0) as u32)
    }

    /// Sets `SO_KEEPALIVE` (probe an idle connection's peer).
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// s.set_keepalive(true).unwrap();
    /// assert!(s.keepalive().unwrap());
    /// ```
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.set_opt(KEEPALIVE, keepalive as libc::c_int)
    }

    /// Whether `SO_KEEPALIVE` is set.
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// assert!(!s.keepalive().unwrap());
    /// ```
    pub fn keepalive(&self) -> io::Result<bool> {
        Ok(self.opt(KEEPALIVE)? != 0)
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// s.set_nodelay(true).unwrap();
    /// assert!(s.nodelay().unwrap());
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.set_opt(NODELAY, nodelay as libc::c_int)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// assert!(!s.nodelay().unwrap());
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.opt(NODELAY)? != 0)
    }

    /// Sets `SO_LINGER` (see [`TcpStream::set_linger`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// s.set_linger(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(s.linger().unwrap(), Some(Duration::from_secs(1)));
    /// ```
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        socket::set_linger(self.fd.as_fd(), linger)
    }

    /// `SO_LINGER`.
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// assert_eq!(s.linger().unwrap(), None);
    /// ```
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        socket::linger(self.fd.as_fd())
    }

    /// Binds to `addr` (for a listener, or to choose a client's source).
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    /// assert!(s.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        socket::bind(self.fd.as_fd(), &addr)
    }

    /// The bound address.
    ///
    /// ```
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    /// assert_ne!(s.local_addr().unwrap().port(), 0);
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_fd())
    }

    /// Connects to `addr`, turning the socket into a [`TcpStream`].
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// let stream = s.connect(l.local_addr().unwrap()).await.unwrap();
    /// assert_eq!(stream.peer_addr().unwrap(), l.local_addr().unwrap());
    /// # });
    /// ```
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        let (stream, in_progress) = socket::connect_with(self.fd, &addr)?;
        TcpStream::finish_connect(stream, in_progress, addr).await
    }

    /// Starts listening with room for `backlog` pending connections (the
    /// kernel caps it at `net.core.somaxconn`), turning the socket into a
    /// [`TcpListener`] registered with the current runtime.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let s = runtime::net::TcpSocket::new_v4().unwrap();
    /// s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    /// let listener = s.listen(1024).unwrap();
    /// # drop(listener);
    /// ```
    #[track_caller]
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        TcpListener::from_std(socket::listen_on(self.fd, backlog)?)
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl IntoRawFd for TcpSocket {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl FromRawFd for TcpSocket {
    /// # Safety
    ///
    /// `fd` must be an open TCP socket that nothing else owns; it should be
    /// non-blocking.
    unsafe fn from_raw_fd(fd: RawFd) -> TcpSocket {
        TcpSocket {
            // SAFETY: the caller promises `fd` is open and ours alone.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        }
    }
}
