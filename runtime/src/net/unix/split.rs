//! Read and write halves of a [`UnixStream`], as for TCP (the generated
//! `read`/`write` methods are shared with `net::split`).

use std::sync::Arc;

use super::UnixStream;

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

crate::net::split::halves!(UnixStream);
