//! [`UdpSocket`]: datagrams on the one readiness path (an [`AsyncFd`] around
//! a `std` socket).
//!
//! Every method takes `&self`, so one socket can be shared (`Arc`) by a task
//! that receives and another that sends, or by several receivers: the async
//! methods wait in the source's waiter list, which wakes every waiter.
//! Readiness is cleared only when the kernel says `WouldBlock`: a datagram
//! shorter than the buffer says nothing about whether another one is queued.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::task::{Context, Poll};

use super::addr::{each_addr, no_address, resolve, ToSocketAddrs};
use super::fd::{SocketFd, StdRef};
use crate::io::AsyncFd;
use crate::reactor::Direction;
use crate::sys::socket;

/// A UDP socket.
///
/// ```
/// use runtime::net::UdpSocket;
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     Ok::<(), std::io::Error>(())
/// }).unwrap();
/// ```
pub struct UdpSocket {
    io: SocketFd,
}

impl UdpSocket {
    /// The descriptor as a `std` socket, for the methods `std` has.
    fn std(&self) -> StdRef<'_, std::net::UdpSocket> {
        StdRef::new(self.io.get_ref())
    }

    /// [`std`](Self::std) of the descriptor an `io` closure is given.
    fn std_of(fd: &OwnedFd) -> StdRef<'_, std::net::UdpSocket> {
        StdRef::new(fd)
    }
}

impl UdpSocket {
    /// Binds to `addr` (trying each resolved address in turn).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// assert_ne!(s.local_addr().unwrap().port(), 0);
    /// # });
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let socket = each_addr(addr, |a| {
            std::net::UdpSocket::bind(a)
                .map_err(|e| crate::sys::context(e, format_args!("bind {a}")))
        })
        .await?;
        UdpSocket::from_std(socket)
    }

    /// Wraps a socket made elsewhere (switched to non-blocking mode).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let _guard = rt.handle().enter();
    /// let s = runtime::net::UdpSocket::from_std(std_socket).unwrap();
    /// # drop(s);
    /// ```
    #[track_caller]
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        // A fresh socket can usually send at once; a wrong guess costs one
        // EAGAIN, which clears it.
        Ok(UdpSocket {
            io: AsyncFd::with_readiness(socket.into(), true)?,
        })
    }

    /// Deregisters the socket and hands it back as a `std` socket (still in
    /// non-blocking mode; call `set_nonblocking(false)` for blocking use).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// let addr = s.local_addr().unwrap();
    /// let std_socket = s.into_std().unwrap();
    /// assert_eq!(std_socket.local_addr().unwrap(), addr);
    /// # });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Ok(self.io.into_inner().into())
    }

    /// Sets the default destination for [`send`](Self::send) and the only
    /// source [`recv`](Self::recv) accepts.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let a = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// let b = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// a.connect(b.local_addr().unwrap()).await.unwrap();
    /// assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// # });
    /// ```
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        let socket = self.std();
        each_addr(addr, |a| {
            socket
                .connect(a)
                .map_err(|e| crate::sys::context(e, format_args!("connect to {a}")))
        })
        .await
    }

    /// Sends `buf` to `target` (resolving it first).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let a = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// # let b = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// let to = b.local_addr().unwrap();
    /// assert_eq!(a.send_to(b"hi", &to).await.unwrap(), 2);
    /// # });
    /// ```
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let Some(&to) = resolve(target).await?.first() else {
            return Err(no_address());
        };
        self.io
            .io_listed(Direction::Write.mask(), |fd| {
                Self::std_of(fd).send_to(buf, to)
            })
            .await
    }

    /// Receives one datagram and its sender's address.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let a = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// # let b = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// a.send_to(b"hi", b.local_addr().unwrap()).await.unwrap();
    /// let mut buf = [0; 8];
    /// let (n, from) = b.recv_from(&mut buf).await.unwrap();
    /// assert_eq!((n, from), (2, a.local_addr().unwrap()));
    /// # });
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .io_listed(Direction::Read.mask(), |fd| Self::std_of(fd).recv_from(buf))
            .await
    }

    /// Like [`recv_from`](Self::recv_from), but leaves the datagram queued.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let a = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// # let b = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// a.send_to(b"hi", b.local_addr().unwrap()).await.unwrap();
    /// let mut buf = [0; 8];
    /// let (n, _) = b.peek_from(&mut buf).await.unwrap();
    /// assert_eq!(b.recv_from(&mut buf).await.unwrap().0, n);
    /// # });
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .io_listed(Direction::Read.mask(), |fd| Self::std_of(fd).peek_from(buf))
            .await
    }

    /// [`send_to`](Self::send_to) without waiting (and without name lookup).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let a = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// # let b = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// a.writable().await.unwrap();
    /// assert_eq!(a.try_send_to(b"x", b.local_addr().unwrap()).unwrap(), 1);
    /// # });
    /// ```
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io.try_transfer(
            Direction::Write,
            None,
            |fd| Self::std_of(fd).send_to(buf, target),
            |n| *n,
        )
    }

    /// [`recv_from`](Self::recv_from) without waiting.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let a = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// # let b = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// a.send_to(b"x", b.local_addr().unwrap()).await.unwrap();
    /// b.readable().await.unwrap();
    /// let (n, from) = b.try_recv_from(&mut [0; 8]).unwrap();
    /// assert_eq!((n, from), (1, a.local_addr().unwrap()));
    /// # });
    /// ```
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_transfer(
            Direction::Read,
            None,
            |fd| Self::std_of(fd).recv_from(buf),
            |r| r.0,
        )
    }

    /// Poll-based [`recv_from`](Self::recv_from). Only the task that polled
    /// last is woken; tasks sharing the socket should use `recv_from`.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let a = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// # let b = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// a.send_to(b"x", b.local_addr().unwrap()).await.unwrap();
    /// let mut buf = [0; 8];
    /// let (n, _) = std::future::poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await.unwrap();
    /// assert_eq!(n, 1);
    /// # });
    /// ```
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io
            .poll_io(cx, Direction::Read, |fd| Self::std_of(fd).recv_from(buf))
    }

    /// Poll-based [`recv`](Self::recv) (connected socket). Only the task
    /// that polled last is woken.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let a = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// # let b = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// b.connect(a.local_addr().unwrap()).await.unwrap();
    /// a.send_to(b"x", b.local_addr().unwrap()).await.unwrap();
    /// let n = std::future::poll_fn(|cx| b.poll_recv(cx, &mut [0; 8])).await.unwrap();
    /// assert_eq!(n, 1);
    /// # });
    /// ```
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io
            .raw()
            .poll_transfer(cx, Direction::Read, None, &mut |fd| socket::recv(fd, buf))
    }

    /// Poll-based [`send`](Self::send) (connected socket). Only the task
    /// that polled last is woken.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let a = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// # let b = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// a.connect(b.local_addr().unwrap()).await.unwrap();
    /// let n = std::future::poll_fn(|cx| a.poll_send(cx, b"x")).await.unwrap();
    /// assert_eq!(n, 1);
    /// # });
    /// ```
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io
            .raw()
            .poll_transfer(cx, Direction::Write, None, &mut |fd| socket::send(fd, buf))
    }

    /// Poll-based [`peek_from`](Self::peek_from). Only the task that polled
    /// last is woken.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let a = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// # let b = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// a.send_to(b"x", b.local_addr().unwrap()).await.unwrap();
    /// let mut buf = [0; 8];
    /// let (n, from) = std::future::poll_fn(|cx| b.poll_peek_from(cx, &mut buf)).await.unwrap();
    /// assert_eq!((n, from), (1, a.local_addr().unwrap()));
    /// # });
    /// ```
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io
            .poll_io(cx, Direction::Read, |fd| Self::std_of(fd).peek_from(buf))
    }

    /// Poll-based [`send_to`](Self::send_to). Only the task that polled last
    /// is woken.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let a = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// # let b = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// let to = b.local_addr().unwrap();
    /// let n = std::future::poll_fn(|cx| a.poll_send_to(cx, b"x", to)).await.unwrap();
    /// assert_eq!(n, 1);
    /// # });
    /// ```
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, Direction::Write, |fd| {
            Self::std_of(fd).send_to(buf, target)
        })
    }

    /// The address this socket is bound to.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// assert!(s.local_addr().unwrap().ip().is_loopback());
    /// # });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// The connected peer's address (`NotConnected` if none).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// assert!(s.peer_addr().is_err());
    /// # });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }

    /// Sets `SO_BROADCAST` (allows sending to a broadcast address).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
    /// s.set_broadcast(true).unwrap();
    /// assert!(s.broadcast().unwrap());
    /// # });
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.std().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
    /// assert!(!s.broadcast().unwrap());
    /// # });
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.std().broadcast()
    }

    /// Sets `IP_MULTICAST_LOOP` (whether our own multicast comes back to us).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
    /// s.set_multicast_loop_v4(false).unwrap();
    /// assert!(!s.multicast_loop_v4().unwrap());
    /// # });
    /// ```
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.std().set_multicast_loop_v4(on)
    }

    /// Whether `IP_MULTICAST_LOOP` is set.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
    /// assert!(s.multicast_loop_v4().unwrap());
    /// # });
    /// ```
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.std().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL` (how many hops our multicast may travel).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
    /// s.set_multicast_ttl_v4(4).unwrap();
    /// assert_eq!(s.multicast_ttl_v4().unwrap(), 4);
    /// # });
    /// ```
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.std().set_multicast_ttl_v4(ttl)
    }

    /// The `IP_MULTICAST_TTL`.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
    /// assert_eq!(s.multicast_ttl_v4().unwrap(), 1);
    /// # });
    /// ```
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.std().multicast_ttl_v4()
    }

    /// Joins the IPv4 multicast group `group` on the interface `interface`
    /// (`0.0.0.0`: let the kernel choose).
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
    /// let group = Ipv4Addr::new(239, 255, 0, 1);
    /// if s.join_multicast_v4(group, Ipv4Addr::UNSPECIFIED).is_ok() {
    ///     s.leave_multicast_v4(group, Ipv4Addr::UNSPECIFIED).unwrap();
    /// } // (a host without a multicast route refuses to join)
    /// # });
    /// ```
    pub fn join_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.std().join_multicast_v4(&group, &interface)
    }

    /// Leaves an IPv4 multicast group joined with
    /// [`join_multicast_v4`](Self::join_multicast_v4).
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
    /// // Leaving a group never joined is an error.
    /// assert!(s.leave_multicast_v4(Ipv4Addr::new(239, 255, 0, 2), Ipv4Addr::UNSPECIFIED).is_err());
    /// # });
    /// ```
    pub fn leave_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.std().leave_multicast_v4(&group, &interface)
    }

    /// Joins the IPv6 multicast group `group` on interface index `interface`
    /// (0: let the kernel choose).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let s = runtime::net::UdpSocket::bind("[::1]:0").await;
    /// # let Ok(s) = s else { return }; // no IPv6 on this host
    /// let group = "ff02::1:3".parse().unwrap();
    /// if s.join_multicast_v6(&group, 0).is_ok() {
    ///     s.leave_multicast_v6(&group, 0).unwrap();
    /// }
    /// # });
    /// ```
    pub fn join_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.std().join_multicast_v6(group, interface)
    }

    /// Leaves an IPv6 multicast group.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let s = runtime::net::UdpSocket::bind("[::1]:0").await;
    /// # let Ok(s) = s else { return };
    /// assert!(s.leave_multicast_v6(&"ff02::1:4".parse().unwrap(), 0).is_err());
    /// # });
    /// ```
    pub fn leave_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.std().leave_multicast_v6(group, interface)
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// s.set_ttl(32).unwrap();
    /// assert_eq!(s.ttl().unwrap(), 32);
    /// # });
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.std().set_ttl(ttl)
    }

    /// The `IP_TTL`.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// assert!(s.ttl().unwrap() > 0);
    /// # });
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.std().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), e.g. an ICMP "port
    /// unreachable" reported for an earlier send on a connected socket.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let s = runtime::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    /// assert!(s.take_error().unwrap().is_none());
    /// # });
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.std().take_error()
    }
}

crate::net::datagram::datagram_methods!(UdpSocket);
