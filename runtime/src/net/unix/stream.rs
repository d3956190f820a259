//! `UnixStream`.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use super::split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use crate::io::{AsyncFd, Interest, Ready};
use crate::net::split::AsStream;
use crate::reactor::Direction;
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
    io: AsyncFd<std::os::unix::net::UnixStream>,
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
    /// Connects to the socket at `path`.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let err = runtime::net::UnixStream::connect("/nonexistent/socket").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # });
    /// ```
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let path = path.as_ref();
        let (stream, in_progress) = socket::unix_connect(path)?;
        let stream = UnixStream {
            io: AsyncFd::with_readiness(stream, !in_progress)?,
        };
        if in_progress {
            poll_fn(|cx| stream.io.poll_ready(cx, Direction::Write)).await?;
            if let Some(e) = stream.io.get_ref().take_error()? {
                return Err(crate::sys::context(e, format_args!("connect to {path:?}")));
            }
        }
        Ok(stream)
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
            io: AsyncFd::with_readiness(stream, true)?,
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
        Ok(self.io.into_inner())
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
        self.io.get_ref().local_addr()
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
        self.io.get_ref().peer_addr()
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

    /// Splits into borrowed halves usable concurrently in one task.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (mut a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// let (_r, mut w) = a.split();
    /// w.write_all(b"x").await.unwrap();
    /// # });
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf(self), WriteHalf(self))
    }

    /// Splits into owned halves for two tasks. Dropping the write half shuts
    /// writing down (the peer reads end of stream).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, mut b) = runtime::net::UnixStream::pair().unwrap();
    /// let (_r, w) = a.into_split();
    /// drop(w);
    /// assert_eq!(b.read(&mut [0; 4]).await.unwrap(), 0);
    /// # });
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        super::split::split_owned(self)
    }

    /// Poll-based read; `Ok(0)` is end of stream. Only the task that polled
    /// last is woken.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, mut b) = runtime::net::UnixStream::pair().unwrap();
    /// b.write_all(b"x").await.unwrap();
    /// let n = std::future::poll_fn(|cx| a.poll_read(cx, &mut [0; 4])).await.unwrap();
    /// assert_eq!(n, 1);
    /// # });
    /// ```
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let len = buf.len();
        self.io
            .poll_transfer(cx, Direction::Read, len, |s| socket::recv(s.as_fd(), buf))
    }

    /// Poll-based write. Only the task that polled last is woken.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// let n = std::future::poll_fn(|cx| a.poll_write(cx, b"abc")).await.unwrap();
    /// assert_eq!(n, 3);
    /// # });
    /// ```
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.io.poll_transfer(cx, Direction::Write, buf.len(), |s| {
            socket::send(s.as_fd(), buf)
        })
    }

    /// Poll-based vectored write.
    ///
    /// ```
    /// use std::io::IoSlice;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// let bufs = [IoSlice::new(b"ab"), IoSlice::new(b"c")];
    /// let n = std::future::poll_fn(|cx| a.poll_write_vectored(cx, &bufs)).await.unwrap();
    /// assert_eq!(n, 3);
    /// # });
    /// ```
    pub fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        self.io.poll_transfer(cx, Direction::Write, len, |s| {
            socket::send_vectored(s.as_fd(), bufs)
        })
    }

    /// Waits until the stream is readable. Any number of tasks may wait.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, mut b) = runtime::net::UnixStream::pair().unwrap();
    /// b.write_all(b"x").await.unwrap();
    /// a.readable().await.unwrap();
    /// # });
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.io.wait_listed(Direction::Read.mask()).await.map(drop)
    }

    /// Waits until the stream is writable. Any number of tasks may wait.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// a.writable().await.unwrap();
    /// # });
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.io.wait_listed(Direction::Write.mask()).await.map(drop)
    }

    /// Waits until the stream is ready for any of `interest`, and says which.
    ///
    /// ```
    /// use runtime::io::Interest;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// let ready = a.ready(Interest::READABLE | Interest::WRITABLE).await.unwrap();
    /// assert!(ready.is_writable() && !ready.is_write_closed());
    /// # });
    /// ```
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        let ev = self.io.wait_listed(interest.mask()).await?;
        Ok(Ready::from_bits(ev.ready))
    }

    /// Reads without waiting: `WouldBlock` if no data is known to be there.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// let err = a.try_read(&mut [0; 4]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// # });
    /// ```
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        self.io.try_transfer(
            Direction::Read,
            Some(len),
            |s| socket::recv(s.as_fd(), buf),
            |n| *n,
        )
    }

    /// Writes without waiting: `WouldBlock` if the buffer is full.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// assert_eq!(a.try_write(b"hi").unwrap(), 2);
    /// # });
    /// ```
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_transfer(
            Direction::Write,
            Some(buf.len()),
            |s| socket::send(s.as_fd(), buf),
            |n| *n,
        )
    }

    /// Receives data without removing it from the queue. Waits for data;
    /// any number of tasks may wait.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, mut b) = runtime::net::UnixStream::pair().unwrap();
    /// b.write_all(b"abc").await.unwrap();
    /// let mut buf = [0; 8];
    /// let n = a.peek(&mut buf).await.unwrap();
    /// assert_eq!(&buf[..n], b"abc");
    /// assert_eq!(a.try_read(&mut buf).unwrap(), 3); // still there
    /// # });
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.io
            .io_listed(Direction::Read.mask(), |s| socket::peek(s.as_fd(), buf))
            .await
    }

    /// Poll-based [`readable`](Self::readable). Only the task that polled
    /// last is woken.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, mut b) = runtime::net::UnixStream::pair().unwrap();
    /// b.write_all(b"x").await.unwrap();
    /// std::future::poll_fn(|cx| a.poll_read_ready(cx)).await.unwrap();
    /// # });
    /// ```
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Direction::Read).map_ok(drop)
    }

    /// Poll-based [`writable`](Self::writable). Only the task that polled
    /// last is woken.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// std::future::poll_fn(|cx| a.poll_write_ready(cx)).await.unwrap();
    /// # });
    /// ```
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Direction::Write).map_ok(drop)
    }

    /// Vectored [`try_read`](Self::try_read) (one `readv`).
    ///
    /// ```
    /// use std::io::IoSliceMut;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, mut b) = runtime::net::UnixStream::pair().unwrap();
    /// b.write_all(b"abcd").await.unwrap();
    /// let (mut x, mut y) = ([0; 1], [0; 8]);
    /// let n = a.try_read_vectored(&mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)]).unwrap();
    /// assert_eq!((n, &x, &y[..3]), (4, b"a", &b"bcd"[..]));
    /// # });
    /// ```
    pub fn try_read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        use std::io::Read;
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        self.io.try_transfer(
            Direction::Read,
            Some(len),
            |mut s| s.read_vectored(bufs),
            |n| *n,
        )
    }

    /// Vectored [`try_write`](Self::try_write) (one `sendmsg`).
    ///
    /// ```
    /// use std::io::IoSlice;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// let n = a.try_write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"c")]).unwrap();
    /// assert_eq!(n, 3);
    /// # });
    /// ```
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        self.io.try_transfer(
            Direction::Write,
            Some(len),
            |s| socket::send_vectored(s.as_fd(), bufs),
            |n| *n,
        )
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
        self.io.get_ref().shutdown(how)
    }
}

impl AsStream for UnixStream {
    type Stream = UnixStream;
    fn stream(&self) -> &UnixStream {
        self
    }
}

crate::net::split::stream_methods!(UnixStream);

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl std::fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.as_raw_fd())
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}
