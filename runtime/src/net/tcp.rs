//! `TcpListener` and `TcpStream`.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::task::{ready, Context, Poll};

use super::addr::{each_addr, no_address, resolve, ToSocketAddrs};
use super::fd::{SocketFd, StdRef};
use crate::io::AsyncFd;
use crate::reactor::Direction;
use crate::sys::socket;

/// A TCP socket server, listening for connections.
///
/// ```no_run
/// use runtime::net::TcpListener;
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:8080").await?;
///     loop {
///         let (mut stream, peer) = listener.accept().await?;
///         runtime::spawn(async move {
///             let _ = stream.write_all(format!("hello {peer}\n").as_bytes()).await;
///         });
///     }
///     # #[allow(unreachable_code)]
///     Ok::<(), std::io::Error>(())
/// }).unwrap();
/// ```
pub struct TcpListener {
    io: SocketFd,
}

impl TcpListener {
    /// Binds to `addr` (trying each resolved address in turn) with
    /// `SO_REUSEADDR` and a large backlog, and starts listening.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     assert_ne!(l.local_addr().unwrap().port(), 0);
    /// });
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        TcpListener::from_std(each_addr(addr, |a| socket::listen(&a)).await?)
    }

    /// Wraps a listener made elsewhere (e.g. inherited from a supervisor).
    /// It is switched to non-blocking mode.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let _guard = rt.handle().enter();
    /// let l = runtime::net::TcpListener::from_std(std_listener).unwrap();
    /// # drop(l);
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            io: AsyncFd::with_readiness(OwnedFd::from(listener), true)?,
        })
    }

    /// Waits for a connection. The accepted socket is non-blocking and
    /// close-on-exec.
    ///
    /// Any number of tasks may accept on one listener at once (e.g. N accept
    /// loops sharing an `Arc<TcpListener>`): each new connection wakes them
    /// all, and one of them gets it.
    ///
    /// Errors such as `EMFILE` (out of file descriptors) are returned to the
    /// caller rather than retried, so an accept loop does not spin; a server
    /// typically logs them and sleeps a little before accepting again.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = l.local_addr().unwrap();
    ///     let client = runtime::spawn(runtime::net::TcpStream::connect(addr));
    ///     let (_stream, peer) = l.accept().await.unwrap();
    ///     assert_eq!(peer, client.await.unwrap().unwrap().local_addr().unwrap());
    /// });
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self
            .io
            .io_listed(Direction::Read.mask(), |l| socket::accept(l.as_fd()))
            .await?;
        Ok((TcpStream::from_evented(stream, true)?, peer))
    }

    /// Poll-based [`accept`](Self::accept).
    ///
    /// Only the waker of the most recent call is kept: if several tasks call
    /// `poll_accept` on one listener, only the last one is woken. Tasks that
    /// share a listener should use [`accept`](Self::accept).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = l.local_addr().unwrap();
    ///     let _c = runtime::spawn(runtime::net::TcpStream::connect(addr));
    ///     let (_s, _peer) = std::future::poll_fn(|cx| l.poll_accept(cx)).await.unwrap();
    /// });
    /// ```
    // ANCHOR: poll_accept
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, peer) = ready!(self
            .io
            .poll_io(cx, Direction::Read, |l| socket::accept(l.as_fd())))?;
        Poll::Ready(TcpStream::from_evented(stream, true).map(|s| (s, peer)))
    }
    // ANCHOR_END: poll_accept

    /// Deregisters the listener and hands it back as a `std` listener (still
    /// in non-blocking mode).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let addr = l.local_addr().unwrap();
    /// let std_listener = l.into_std().unwrap();
    /// assert_eq!(std_listener.local_addr().unwrap(), addr);
    /// # });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        Ok(self.io.into_inner().into())
    }

    /// The address this listener is bound to.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     assert!(l.local_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }
}

impl TcpListener {
    /// The descriptor as a `std` listener, for the methods `std` has.
    fn std(&self) -> StdRef<'_, std::net::TcpListener> {
        StdRef::new(self.io.get_ref())
    }
}

super::macros::fd_impls!(TcpListener, "addr" local_addr);

/// A TCP connection.
///
/// Reads and writes take `&mut self` like `std`'s; to read in one task while
/// writing in another, [`split`](Self::split) it (borrowed halves, for `join!`
/// in one task) or [`into_split`](Self::into_split) it (owned halves, for two
/// tasks). The poll-based and `try_` methods take `&self`.
///
/// ```
/// use runtime::net::{TcpListener, TcpStream};
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     runtime::spawn(async move {
///         let (mut s, _) = listener.accept().await?;
///         s.write_all(b"pong").await?;
///         s.shutdown(std::net::Shutdown::Write)
///     });
///     let mut client = TcpStream::connect(addr).await?;
///     let mut buf = [0; 4];
///     client.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"pong");
///     assert_eq!(client.read(&mut buf).await?, 0); // EOF
///     Ok::<(), std::io::Error>(())
/// }).unwrap();
/// ```
pub struct TcpStream {
    io: SocketFd,
}

impl TcpStream {
    /// Opens a connection to `addr`, trying each resolved address in turn.
    /// Host names are resolved on the blocking pool.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     // Nothing listens on port 1: the error says where we tried to go.
    ///     let err = runtime::net::TcpStream::connect("127.0.0.1:1").await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// });
    /// ```
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let addrs = resolve(addr).await?;
        let mut last = None;
        for a in addrs {
            match TcpStream::connect_one(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_address))
    }

    // ANCHOR: connect_one
    async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
        let (stream, in_progress) = socket::connect(&addr)?;
        TcpStream::finish_connect(stream, in_progress, addr).await
    }

    /// Registers a socket whose non-blocking `connect` was started, and
    /// waits for the connection to complete (or fail).
    pub(crate) async fn finish_connect(
        stream: std::net::TcpStream,
        in_progress: bool,
        addr: SocketAddr,
    ) -> io::Result<TcpStream> {
        let io = super::stream::finish_connect(stream.into(), in_progress, &addr).await?;
        Ok(TcpStream { io })
    }
    // ANCHOR_END: connect_one

    fn from_evented(stream: std::net::TcpStream, initially_ready: bool) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: AsyncFd::with_readiness(OwnedFd::from(stream), initially_ready)?,
        })
    }

    /// Wraps a connected `std` stream (switched to non-blocking mode).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let _guard = rt.handle().enter();
    /// let s = runtime::net::TcpStream::from_std(s).unwrap();
    /// # drop(s);
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_evented(stream, true)
    }

    /// The remote address.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// assert_eq!(s.peer_addr().unwrap(), l.local_addr().unwrap());
    /// # });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }

    /// The local address.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// assert!(s.local_addr().unwrap().ip().is_loopback());
    /// # });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// s.set_nodelay(true).unwrap();
    /// assert!(s.nodelay().unwrap());
    /// # });
    /// ```
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.std().set_nodelay(on)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// assert!(!s.nodelay().unwrap());
    /// # });
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.std().nodelay()
    }

    /// [`poll_read`](Self::poll_read) into a buffer that may be uninitialised
    /// (a `Vec`'s spare capacity, hyper's `ReadBufCursor`), so the caller need
    /// not zero it first; on `Ready(Ok(n))` the first `n` bytes of `buf` are
    /// initialised. Zeroing an 8 KiB buffer before every read cost hyper's
    /// server on this runtime about 9 % more CPU per request (the book's
    /// "hyper on our runtime").
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let (mut peer, _) = l.accept().await.unwrap();
    /// peer.write_all(b"hi").await.unwrap();
    /// let mut buf: Vec<u8> = Vec::with_capacity(64);
    /// let n = std::future::poll_fn(|cx| s.poll_read_uninit(cx, buf.spare_capacity_mut()))
    ///     .await
    ///     .unwrap();
    /// // SAFETY: `poll_read_uninit` initialised the first `n` spare bytes.
    /// unsafe { buf.set_len(n) };
    /// assert_eq!(buf, b"hi");
    /// # });
    /// ```
    // ANCHOR: poll_read_uninit
    pub fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let len = buf.len();
        self.io
            .raw()
            .poll_transfer(cx, Direction::Read, Some(len), &mut |fd| {
                socket::recv_uninit(fd, buf)
            })
    }
    // ANCHOR_END: poll_read_uninit

    /// Deregisters the stream and hands it back as a `std` stream (still in
    /// non-blocking mode; call `set_nonblocking(false)` for blocking use).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let peer = s.peer_addr().unwrap();
    /// let std_stream = s.into_std().unwrap();
    /// assert_eq!(std_stream.peer_addr().unwrap(), peer);
    /// # });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        Ok(self.io.into_inner().into())
    }

    /// Sets `SO_LINGER`: `None` (the default) lets `close` return at once
    /// while the kernel delivers what is left; `Some(d)` makes the close of
    /// the last handle wait up to `d` for it; `Some(Duration::ZERO)` makes
    /// it reset the connection (RST) instead of closing it gracefully.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// s.set_linger(Some(Duration::ZERO)).unwrap();
    /// assert_eq!(s.linger().unwrap(), Some(Duration::ZERO));
    /// # });
    /// ```
    pub fn set_linger(&self, linger: Option<std::time::Duration>) -> io::Result<()> {
        socket::set_linger(self.io.get_ref().as_fd(), linger)
    }

    /// `SO_LINGER` (see [`set_linger`](Self::set_linger)).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// assert_eq!(s.linger().unwrap(), None);
    /// # });
    /// ```
    pub fn linger(&self) -> io::Result<Option<std::time::Duration>> {
        socket::linger(self.io.get_ref().as_fd())
    }

    /// Shuts down the read, write, or both halves of the connection.
    /// `Shutdown::Write` sends FIN: the peer reads end of stream while it can
    /// still send to us (half-close).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let (mut peer, _) = l.accept().await.unwrap();
    /// s.shutdown(std::net::Shutdown::Write).unwrap();
    /// assert_eq!(peer.read(&mut [0; 4]).await.unwrap(), 0);
    /// # });
    /// ```
    // ANCHOR: shutdown
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.std().shutdown(how)
    }
    // ANCHOR_END: shutdown
}

impl TcpStream {
    /// The descriptor as a `std` stream, for the methods `std` has.
    fn std(&self) -> StdRef<'_, std::net::TcpStream> {
        StdRef::new(self.io.get_ref())
    }
}

super::stream::stream_methods!(TcpStream, crate::net::split);
