//! `UnixListener`.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{ready, Context, Poll};

use super::UnixStream;
use crate::io::AsyncFd;
use crate::net::fd::{SocketFd, StdRef};
use crate::reactor::Direction;

/// A Unix-domain stream socket server.
///
/// ```
/// use runtime::net::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("rt-unix-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("listener.sock");
/// let _ = std::fs::remove_file(&path);
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let client = runtime::spawn(UnixStream::connect(path.clone()));
///     let (mut server_side, _addr) = listener.accept().await?;
///     let mut client = client.await.unwrap()?;
///     client.write_all(b"hi").await?;
///     let mut buf = [0; 2];
///     server_side.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     Ok::<(), std::io::Error>(())
/// }).unwrap();
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct UnixListener {
    io: SocketFd,
}

impl UnixListener {
    /// The descriptor as a `std` socket, for the methods `std` has.
    fn std(&self) -> StdRef<'_, std::os::unix::net::UnixListener> {
        StdRef::new(self.io.get_ref())
    }

    /// [`std`](Self::std) of the descriptor an `io` closure is given.
    fn std_of(fd: &OwnedFd) -> StdRef<'_, std::os::unix::net::UnixListener> {
        StdRef::new(fd)
    }
}

impl UnixListener {
    /// Creates the socket file at `path` and listens on it. The file must not
    /// exist yet (remove a stale one first); it is not removed on drop.
    ///
    /// A `path` that starts with a NUL byte (`"\0name"`) names the abstract
    /// socket `name` instead (Linux; as in tokio).
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("rt-unix-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let rt = runtime::Runtime::new().unwrap();
    /// let _guard = rt.handle().enter();
    /// let l = runtime::net::UnixListener::bind(&path).unwrap();
    /// assert_eq!(l.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::bind_addr(&super::addr_of(path.as_ref(), "bind")?)
    }

    /// Binds to `addr` and listens: a path (as [`bind`](Self::bind)), or on
    /// Linux an abstract name, which needs no socket file and disappears
    /// with the last socket bound to it.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _guard = rt.handle().enter();
    /// let name = format!("rt-doc-listener-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    /// let l = runtime::net::UnixListener::bind_addr(&addr).unwrap();
    /// assert_eq!(l.local_addr().unwrap().as_abstract_name(), Some(name.as_bytes()));
    /// ```
    #[track_caller]
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        let listener = std::os::unix::net::UnixListener::bind_addr(addr)
            .map_err(|e| crate::sys::context(e, format_args!("bind {addr:?}")))?;
        UnixListener::from_std(listener)
    }

    /// Wraps a listener made elsewhere (switched to non-blocking mode).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("rt-unix-fromstd-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    /// let rt = runtime::Runtime::new().unwrap();
    /// let _guard = rt.handle().enter();
    /// let l = runtime::net::UnixListener::from_std(std_listener).unwrap();
    /// # drop(l);
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: AsyncFd::with_readiness(listener.into(), true)?,
        })
    }

    /// Deregisters the listener and hands it back (still non-blocking).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("rt-unix-intostd-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _guard = rt.handle().enter();
    /// let l = runtime::net::UnixListener::bind(&path).unwrap();
    /// let std_listener = l.into_std().unwrap();
    /// # drop(std_listener);
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        Ok(self.io.into_inner().into())
    }

    /// Waits for a connection. Any number of tasks may accept at once; each
    /// connection wakes them all and one gets it.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("rt-unix-accept-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let l = runtime::net::UnixListener::bind(&path).unwrap();
    /// let _c = std::os::unix::net::UnixStream::connect(&path).unwrap();
    /// let (_stream, _addr) = l.accept().await.unwrap();
    /// # });
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self
            .io
            .io_listed(Direction::Read.mask(), |fd| Self::std_of(fd).accept())
            .await?;
        Ok((UnixStream::from_accepted(stream)?, addr))
    }

    /// Poll-based [`accept`](Self::accept). Only the task that polled last is
    /// woken; tasks sharing the listener should use `accept`.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("rt-unix-pollaccept-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let l = runtime::net::UnixListener::bind(&path).unwrap();
    /// let _c = std::os::unix::net::UnixStream::connect(&path).unwrap();
    /// let (_s, _a) = std::future::poll_fn(|cx| l.poll_accept(cx)).await.unwrap();
    /// # });
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (stream, addr) = ready!(self
            .io
            .poll_io(cx, Direction::Read, |fd| Self::std_of(fd).accept()))?;
        Poll::Ready(UnixStream::from_accepted(stream).map(|s| (s, addr)))
    }

    /// The address this listener is bound to.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("rt-unix-local-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _guard = rt.handle().enter();
    /// let l = runtime::net::UnixListener::bind(&path).unwrap();
    /// assert!(l.local_addr().unwrap().as_pathname().is_some());
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }
}

crate::net::macros::fd_impls!(UnixListener, "addr" local_addr);
