//! `UnixDatagram`.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::io::AsyncFd;
use crate::net::fd::{SocketFd, StdRef};
use crate::reactor::Direction;

/// A Unix-domain datagram socket. Every method takes `&self`; the async ones
/// wait in the waiter list, so several tasks may share one socket.
///
/// ```
/// use runtime::net::UnixDatagram;
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (a, b) = UnixDatagram::pair()?;
///     a.send(b"one").await?;
///     a.send(b"two").await?;
///     let mut buf = [0; 8];
///     assert_eq!(b.recv(&mut buf).await?, 3); // boundaries are kept
///     assert_eq!(&buf[..3], b"one");
///     Ok::<(), std::io::Error>(())
/// }).unwrap();
/// ```
pub struct UnixDatagram {
    io: SocketFd,
}

impl UnixDatagram {
    /// The descriptor as a `std` socket, for the methods `std` has.
    fn std(&self) -> StdRef<'_, std::os::unix::net::UnixDatagram> {
        StdRef::new(self.io.get_ref())
    }

    /// [`std`](Self::std) of the descriptor an `io` closure is given.
    fn std_of(fd: &OwnedFd) -> StdRef<'_, std::os::unix::net::UnixDatagram> {
        StdRef::new(fd)
    }
}

impl UnixDatagram {
    /// Creates the socket file at `path` and binds to it.
    ///
    /// A `path` that starts with a NUL byte (`"\0name"`) names the abstract
    /// socket `name` instead (Linux; as in tokio).
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("rt-unixdgram-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let s = runtime::net::UnixDatagram::bind(&path).unwrap();
    /// assert_eq!(s.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_addr(&super::addr_of(path.as_ref(), "bind")?)
    }

    /// Binds to `addr`: a path (as [`bind`](Self::bind)), or on Linux an
    /// abstract name (no socket file).
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let name = format!("rt-doc-dgram-bind-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let s = runtime::net::UnixDatagram::bind_addr(&addr).unwrap();
    /// assert_eq!(s.local_addr().unwrap().as_abstract_name(), Some(name.as_bytes()));
    /// ```
    #[track_caller]
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        let s = std::os::unix::net::UnixDatagram::bind_addr(addr)
            .map_err(|e| crate::sys::context(e, format_args!("bind {addr:?}")))?;
        UnixDatagram::from_std(s)
    }

    /// A socket bound to no address (it can still send, and `connect`).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let s = runtime::net::UnixDatagram::unbound().unwrap();
    /// assert!(s.local_addr().unwrap().is_unnamed());
    /// ```
    #[track_caller]
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::unbound()?)
    }

    /// A connected pair (`socketpair`).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let (a, b) = runtime::net::UnixDatagram::pair().unwrap();
    /// # drop((a, b));
    /// ```
    #[track_caller]
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()
            .map_err(|e| crate::sys::context(e, "socketpair"))?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Wraps a socket made elsewhere (switched to non-blocking mode).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let s = std::os::unix::net::UnixDatagram::unbound().unwrap();
    /// let s = runtime::net::UnixDatagram::from_std(s).unwrap();
    /// # drop(s);
    /// ```
    #[track_caller]
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram {
            io: AsyncFd::with_readiness(socket.into(), true)?,
        })
    }

    /// Deregisters the socket and hands it back (still non-blocking).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let s = runtime::net::UnixDatagram::unbound().unwrap();
    /// let s: std::os::unix::net::UnixDatagram = s.into_std().unwrap();
    /// # drop(s);
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        Ok(self.io.into_inner().into())
    }

    /// Sets the default destination of [`send`](Self::send) and the only
    /// source [`recv`](Self::recv) accepts.
    ///
    /// A `path` that starts with a NUL byte (`"\0name"`) names the abstract
    /// socket `name` instead (Linux; as in tokio).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("rt-unixdgram-conn-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let server = runtime::net::UnixDatagram::bind(&path).unwrap();
    /// let client = runtime::net::UnixDatagram::unbound().unwrap();
    /// client.connect(&path).unwrap();
    /// # drop(server);
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.connect_addr(&super::addr_of(path.as_ref(), "connect to")?)
    }

    /// [`connect`](Self::connect) to an address: a path, or on Linux an
    /// abstract name.
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let name = format!("rt-doc-dgram-connect-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let server = runtime::net::UnixDatagram::bind_addr(&addr).unwrap();
    /// let client = runtime::net::UnixDatagram::unbound().unwrap();
    /// client.connect_addr(&addr).unwrap();
    /// assert_eq!(client.peer_addr().unwrap().as_abstract_name(), Some(name.as_bytes()));
    /// # drop(server);
    /// ```
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.std()
            .connect_addr(addr)
            .map_err(|e| crate::sys::context(e, format_args!("connect to {addr:?}")))
    }

    /// [`send_to`](Self::send_to) an address: a path, or on Linux an
    /// abstract name.
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let name = format!("rt-doc-dgram-sendto-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let server = runtime::net::UnixDatagram::bind_addr(&addr).unwrap();
    /// let client = runtime::net::UnixDatagram::unbound().unwrap();
    /// client.send_to_addr(b"hi", &addr).await.unwrap();
    /// assert_eq!(server.recv(&mut [0; 8]).await.unwrap(), 2);
    /// # });
    /// ```
    pub async fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        self.io
            .io_listed(Direction::Write.mask(), |fd| {
                Self::std_of(fd).send_to_addr(buf, addr)
            })
            .await
    }

    /// Sends one datagram to the socket at `path`.
    ///
    /// A `path` that starts with a NUL byte (`"\0name"`) names the abstract
    /// socket `name` instead (Linux; as in tokio).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("rt-unixdgram-sendto-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let server = runtime::net::UnixDatagram::bind(&path).unwrap();
    /// let client = runtime::net::UnixDatagram::unbound().unwrap();
    /// client.send_to(b"hi", &path).await.unwrap();
    /// let (n, _from) = server.recv_from(&mut [0; 8]).await.unwrap();
    /// assert_eq!(n, 2);
    /// # });
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let to = super::addr_of(path.as_ref(), "send to")?;
        self.send_to_addr(buf, &to).await
    }

    /// Receives one datagram and the sender's address.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, b) = runtime::net::UnixDatagram::pair().unwrap();
    /// a.send(b"hi").await.unwrap();
    /// let (n, from) = b.recv_from(&mut [0; 8]).await.unwrap();
    /// assert_eq!(n, 2);
    /// assert!(from.is_unnamed());
    /// # });
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .io_listed(Direction::Read.mask(), |fd| Self::std_of(fd).recv_from(buf))
            .await
    }

    /// Our address.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let (a, _b) = runtime::net::UnixDatagram::pair().unwrap();
    /// assert!(a.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// The connected peer's address.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let (a, _b) = runtime::net::UnixDatagram::pair().unwrap();
    /// assert!(a.peer_addr().unwrap().is_unnamed());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }
}

crate::net::datagram::datagram_methods!(UnixDatagram);
