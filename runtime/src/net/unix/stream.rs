//! `UnixStream`.

use std::io;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::io::AsyncFd;
use crate::net::fd::{SocketFd, StdRef};
use crate::sys::socket;

/// A Unix-domain stream connection. The same API as
/// [`TcpStream`](crate::net::TcpStream): `read`/`write_all` on `&mut self`,
/// `split`/`into_split` for concurrent reading and writing, readiness and
/// `try_` methods on `&self`.
///
/// ```
/// use runtime::net::UnixStream;
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     Ok::<(), std::io::Error>(())
/// }).unwrap();
/// ```
pub struct UnixStream {
    io: SocketFd,
}

/// The credentials of the peer process, from [`UnixStream::peer_cred`].
///
/// ```
/// # let rt = runtime::Runtime::new().unwrap();
/// # let _g = rt.handle().enter();
/// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
/// let cred = a.peer_cred().unwrap();
/// assert_eq!(cred.pid(), Some(std::process::id() as i32));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UCred {
    pid: i32,
    uid: u32,
    gid: u32,
}

impl UCred {
    /// The peer's process id (`None` if the kernel could not tell, e.g.
    /// across pid namespaces).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// # let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// assert!(a.peer_cred().unwrap().pid().is_some());
    /// ```
    pub fn pid(&self) -> Option<i32> {
        (self.pid != 0).then_some(self.pid)
    }

    /// The peer's effective user id.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// # let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// // SAFETY: geteuid has no preconditions.
    /// assert_eq!(a.peer_cred().unwrap().uid(), unsafe { libc::geteuid() });
    /// ```
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The peer's effective group id.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// # let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// // SAFETY: getegid has no preconditions.
    /// assert_eq!(a.peer_cred().unwrap().gid(), unsafe { libc::getegid() });
    /// ```
    pub fn gid(&self) -> u32 {
        self.gid
    }
}

impl UnixStream {
    /// The descriptor as a `std` socket, for the methods `std` has.
    fn std(&self) -> StdRef<'_, std::os::unix::net::UnixStream> {
        StdRef::new(self.io.get_ref())
    }
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// A `path` that starts with a NUL byte (`"\0name"`) names the abstract
    /// socket `name` instead (Linux; as in tokio).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let err = runtime::net::UnixStream::connect("/nonexistent/socket").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # });
    /// ```
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        UnixStream::connect_addr(&super::addr_of(path.as_ref(), "connect to")?).await
    }

    /// Connects to the socket at `addr`: a path, or on Linux an abstract
    /// name (`std::os::linux::net::SocketAddrExt::from_abstract_name`), which
    /// lives in the network namespace instead of the file system.
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let name = format!("rt-doc-connect-addr-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let listener = runtime::net::UnixListener::bind_addr(&addr).unwrap();
    /// let client = runtime::net::UnixStream::connect_addr(&addr).await.unwrap();
    /// let peer = client.peer_addr().unwrap();
    /// assert_eq!(peer.as_abstract_name(), Some(name.as_bytes()));
    /// # drop(listener);
    /// # });
    /// ```
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let (stream, in_progress) = socket::unix_connect(addr)?;
        let io = crate::net::stream::finish_connect(stream.into(), in_progress, addr).await?;
        Ok(UnixStream { io })
    }

    /// A connected pair (`socketpair`), e.g. to talk to a child process or
    /// between two tasks.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let (a, b) = runtime::net::UnixStream::pair().unwrap();
    /// # drop((a, b));
    /// ```
    #[track_caller]
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| crate::sys::context(e, "socketpair"))?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Wraps a connected `std` stream (switched to non-blocking mode).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let a = runtime::net::UnixStream::from_std(a).unwrap();
    /// # drop(a);
    /// ```
    #[track_caller]
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_accepted(stream)
    }

    /// A stream fresh from `accept` (or a pair): it is switched to
    /// non-blocking mode, and assumed ready (data often already waits).
    #[track_caller]
    pub(super) fn from_accepted(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream {
            io: AsyncFd::with_readiness(stream.into(), true)?,
        })
    }

    /// Deregisters the stream and hands it back (still non-blocking).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// let a: std::os::unix::net::UnixStream = a.into_std().unwrap();
    /// # drop(a);
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        Ok(self.io.into_inner().into())
    }

    /// Our address (unnamed for a connecting socket or a pair).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// assert!(a.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// The peer's address.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// assert!(a.peer_addr().unwrap().is_unnamed());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }

    /// The peer process's credentials (`SO_PEERCRED`).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// assert_eq!(a.peer_cred().unwrap().pid(), Some(std::process::id() as i32));
    /// ```
    pub fn peer_cred(&self) -> io::Result<UCred> {
        let c = socket::peer_cred(self.io.get_ref().as_fd())?;
        Ok(UCred {
            pid: c.pid,
            uid: c.uid,
            gid: c.gid,
        })
    }

    /// Shuts down the read, write, or both halves of the connection.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, mut b) = runtime::net::UnixStream::pair().unwrap();
    /// a.shutdown(std::net::Shutdown::Write).unwrap();
    /// assert_eq!(b.read(&mut [0; 4]).await.unwrap(), 0);
    /// # });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.std().shutdown(how)
    }
}

crate::net::stream::stream_methods!(UnixStream, crate::net::unix::split);
