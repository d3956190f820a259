//! Read and write halves of a [`UnixStream`], as for TCP (the generated
//! `read`/`write` methods are shared with `net::split`).

use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::UnixStream;
use crate::net::split::{read_methods, write_methods, AsStream};

/// Borrowed read half of a [`UnixStream`], from [`UnixStream::split`].
///
/// ```
/// # let rt = runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let (mut a, mut b) = runtime::net::UnixStream::pair().unwrap();
/// b.write_all(b"hi").await.unwrap();
/// let (mut r, _w) = a.split();
/// let mut buf = [0; 2];
/// r.read_exact(&mut buf).await.unwrap();
/// # });
/// ```
#[derive(Debug)]
pub struct ReadHalf<'a>(pub(super) &'a UnixStream);

/// Borrowed write half of a [`UnixStream`], from [`UnixStream::split`].
///
/// ```
/// # let rt = runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let (mut a, _b) = runtime::net::UnixStream::pair().unwrap();
/// let (_r, mut w) = a.split();
/// w.write_all(b"hi").await.unwrap();
/// # });
/// ```
#[derive(Debug)]
pub struct WriteHalf<'a>(pub(super) &'a UnixStream);

/// Owned read half of a [`UnixStream`], from [`UnixStream::into_split`].
///
/// ```
/// # let rt = runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let (a, mut b) = runtime::net::UnixStream::pair().unwrap();
/// let (mut r, _w) = a.into_split();
/// b.write_all(b"hi").await.unwrap();
/// let reader = runtime::spawn(async move {
///     let mut buf = [0; 2];
///     r.read_exact(&mut buf).await.map(|_| buf)
/// });
/// assert_eq!(&reader.await.unwrap().unwrap(), b"hi");
/// # });
/// ```
#[derive(Debug)]
pub struct OwnedReadHalf(Arc<UnixStream>);

/// Owned write half of a [`UnixStream`], from [`UnixStream::into_split`].
/// Dropping it shuts writing down (the peer reads end of stream);
/// [`OwnedReadHalf::reunite`] does not.
///
/// ```
/// # let rt = runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let (a, mut b) = runtime::net::UnixStream::pair().unwrap();
/// let (_r, mut w) = a.into_split();
/// w.write_all(b"bye").await.unwrap();
/// drop(w);
/// let mut all = Vec::new();
/// let mut buf = [0; 8];
/// loop {
///     match b.read(&mut buf).await.unwrap() {
///         0 => break,
///         n => all.extend_from_slice(&buf[..n]),
///     }
/// }
/// assert_eq!(all, b"bye");
/// # });
/// ```
#[derive(Debug)]
pub struct OwnedWriteHalf {
    stream: Arc<UnixStream>,
    /// Cleared by `reunite`, which hands the stream back whole.
    shutdown_on_drop: bool,
}

pub(super) fn split_owned(stream: UnixStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let stream = Arc::new(stream);
    let write = OwnedWriteHalf {
        stream: stream.clone(),
        shutdown_on_drop: true,
    };
    (OwnedReadHalf(stream), write)
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // Fails only if the peer is already gone.
            let _ = self.stream.shutdown(Shutdown::Write);
        }
    }
}

impl AsStream for ReadHalf<'_> {
    type Stream = UnixStream;
    fn stream(&self) -> &UnixStream {
        self.0
    }
}

impl AsStream for WriteHalf<'_> {
    type Stream = UnixStream;
    fn stream(&self) -> &UnixStream {
        self.0
    }
}

impl AsStream for OwnedReadHalf {
    type Stream = UnixStream;
    fn stream(&self) -> &UnixStream {
        &self.0
    }
}

impl AsStream for OwnedWriteHalf {
    type Stream = UnixStream;
    fn stream(&self) -> &UnixStream {
        &self.stream
    }
}

read_methods!(ReadHalf<'_>, half of UnixStream);
write_methods!(WriteHalf<'_>, half of UnixStream);
read_methods!(OwnedReadHalf, half of UnixStream);
write_methods!(OwnedWriteHalf, half of UnixStream);

impl ReadHalf<'_> {
    /// Poll-based read (see [`UnixStream::poll_read`]).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (mut a, mut b) = runtime::net::UnixStream::pair().unwrap();
    /// b.write_all(b"x").await.unwrap();
    /// let (r, _w) = a.split();
    /// std::future::poll_fn(|cx| r.poll_read(cx, &mut [0; 1])).await.unwrap();
    /// # });
    /// ```
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.0.poll_read(cx, buf)
    }
}

impl WriteHalf<'_> {
    /// Poll-based write (see [`UnixStream::poll_write`]).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (mut a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// let (_r, w) = a.split();
    /// std::future::poll_fn(|cx| w.poll_write(cx, b"x")).await.unwrap();
    /// # });
    /// ```
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.0.poll_write(cx, buf)
    }

    /// Shuts down the write direction.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (mut a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// let (_r, w) = a.split();
    /// w.shutdown().unwrap();
    /// # });
    /// ```
    pub fn shutdown(&self) -> io::Result<()> {
        self.0.shutdown(Shutdown::Write)
    }
}

impl OwnedReadHalf {
    /// Poll-based read (see [`UnixStream::poll_read`]).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, mut b) = runtime::net::UnixStream::pair().unwrap();
    /// b.write_all(b"x").await.unwrap();
    /// let (r, _w) = a.into_split();
    /// std::future::poll_fn(|cx| r.poll_read(cx, &mut [0; 1])).await.unwrap();
    /// # });
    /// ```
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.0.poll_read(cx, buf)
    }

    /// Puts the halves back together (no shutdown happens). Fails, returning
    /// both, if they came from different streams.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// let (r, w) = a.into_split();
    /// let mut a = r.reunite(w).unwrap();
    /// a.write_all(b"still open").await.unwrap();
    /// # });
    /// ```
    pub fn reunite(
        self,
        mut write: OwnedWriteHalf,
    ) -> Result<UnixStream, (OwnedReadHalf, OwnedWriteHalf)> {
        if !Arc::ptr_eq(&self.0, &write.stream) {
            return Err((self, write));
        }
        write.shutdown_on_drop = false;
        drop(write);
        Arc::try_unwrap(self.0).map_err(|_| unreachable!("both halves were given"))
    }
}

impl OwnedWriteHalf {
    /// Poll-based write (see [`UnixStream::poll_write`]).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// let (_r, w) = a.into_split();
    /// std::future::poll_fn(|cx| w.poll_write(cx, b"x")).await.unwrap();
    /// # });
    /// ```
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.stream.poll_write(cx, buf)
    }

    /// Shuts down the write direction; the read half keeps working.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, _b) = runtime::net::UnixStream::pair().unwrap();
    /// let (_r, w) = a.into_split();
    /// w.shutdown().unwrap();
    /// # });
    /// ```
    pub fn shutdown(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }
}
