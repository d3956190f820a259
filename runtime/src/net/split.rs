//! Read and write halves of a `TcpStream`.
//!
//! The reactor keeps separate read and write waker slots per socket, so one
//! task can wait to read while another waits to write the same socket. The
//! halves make that ownership explicit: a `ReadHalf` can only read, a
//! `WriteHalf` only write, so there is never more than one reader or writer.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::TcpStream;

/// Generates the async read methods: `read_methods!(stream TcpStream)` on the
/// stream itself, `read_methods!(ReadHalf<'_>, half of TcpStream)` on a read
/// half (which also gets `readable`/`try_read`, the stream's own being
/// written out by hand).
macro_rules! read_methods {
    (stream $stream:ident) => {
        $crate::net::split::read_methods!(@impl $stream, ($stream));
    };
    ($ty:ty, half of $stream:ident) => {
        $crate::net::split::read_methods!(@impl $ty, (half of $stream));
        impl $ty {
            /// Waits until the socket is readable.
            #[doc = $crate::net::macros::example!(half of $stream, "readable", "")]
            pub fn readable(&self) -> impl ::std::future::Future<Output = ::std::io::Result<()>> + '_ {
                $crate::net::split::AsStream::stream(self).readable()
            }

            /// Reads without waiting (`WouldBlock` if nothing is there).
            #[doc = $crate::net::macros::example!(half of $stream, "try_read", "")]
            pub fn try_read(&self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                $crate::net::split::AsStream::stream(self).try_read(buf)
            }
        }
    };
    (@impl $ty:ty, ($($kind:tt)*)) => {
        impl $ty {
            /// Reads into `buf`, waiting for data. `Ok(0)` means end of stream.
            #[doc = $crate::net::macros::example!($($kind)*, "read", "\
peer.write_all(b\"hey\").await.unwrap();
let mut buf = [0; 16];
let n = s.read(&mut buf).await.unwrap();
assert_eq!(&buf[..n], b\"hey\");
")]
            pub fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> impl ::std::future::Future<Output = ::std::io::Result<usize>> + 'a {
                $crate::net::stream::read($crate::net::split::AsStream::stream(self).raw(), buf)
            }

            /// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the stream
            /// ends first.
            #[doc = $crate::net::macros::example!($($kind)*, "read_exact", "\
peer.write_all(b\"ab\").await.unwrap();
peer.write_all(b\"cd\").await.unwrap();
let mut buf = [0; 4];
s.read_exact(&mut buf).await.unwrap();
assert_eq!(&buf, b\"abcd\");
")]
            pub fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> impl ::std::future::Future<Output = ::std::io::Result<()>> + 'a {
                $crate::net::stream::read_exact($crate::net::split::AsStream::stream(self).raw(), buf)
            }
        }
    };
}

/// Generates the async write methods, as [`read_methods`] does the read ones
/// (`writable`/`try_write` on the halves).
macro_rules! write_methods {
    (stream $stream:ident) => {
        $crate::net::split::write_methods!(@impl $stream, ($stream));
    };
    ($ty:ty, half of $stream:ident) => {
        $crate::net::split::write_methods!(@impl $ty, (half of $stream));
        impl $ty {
            /// Waits until the socket is writable.
            #[doc = $crate::net::macros::example!(half of $stream, "writable", "")]
            pub fn writable(&self) -> impl ::std::future::Future<Output = ::std::io::Result<()>> + '_ {
                $crate::net::split::AsStream::stream(self).writable()
            }

            /// Writes without waiting (`WouldBlock` if the buffer is full).
            #[doc = $crate::net::macros::example!(half of $stream, "try_write", "")]
            pub fn try_write(&self, buf: &[u8]) -> ::std::io::Result<usize> {
                $crate::net::split::AsStream::stream(self).try_write(buf)
            }
        }
    };
    (@impl $ty:ty, ($($kind:tt)*)) => {
        impl $ty {
            /// Writes some of `buf`, waiting for room; returns how much.
            #[doc = $crate::net::macros::example!($($kind)*, "write", "\
let n = s.write(b\"hello\").await.unwrap();
assert!(n > 0);
")]
            pub fn write<'a>(&'a mut self, buf: &'a [u8]) -> impl ::std::future::Future<Output = ::std::io::Result<usize>> + 'a {
                $crate::net::stream::write($crate::net::split::AsStream::stream(self).raw(), buf)
            }

            /// Writes all of `buf`, handling partial writes.
            #[doc = $crate::net::macros::example!($($kind)*, "write_all", "\
s.write_all(b\"hello world\").await.unwrap();
")]
            pub fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> impl ::std::future::Future<Output = ::std::io::Result<()>> + 'a {
                $crate::net::stream::write_all($crate::net::split::AsStream::stream(self).raw(), buf)
            }

            /// Writes several buffers with one system call where possible.
            #[doc = $crate::net::macros::example!($($kind)*, "write_vectored", "\
use std::io::IoSlice;
let n = s.write_vectored(&[IoSlice::new(b\"a\"), IoSlice::new(b\"b\")]).await.unwrap();
assert_eq!(n, 2);
")]
            pub fn write_vectored<'a>(
                &'a mut self,
                bufs: &'a [::std::io::IoSlice<'a>],
            ) -> impl ::std::future::Future<Output = ::std::io::Result<usize>> + 'a {
                $crate::net::stream::write_vectored($crate::net::split::AsStream::stream(self).raw(), bufs)
            }

            /// Does nothing: bytes written to a socket are already with the
            /// kernel. Present so code written against buffered writers reads
            /// the same.
            #[doc = $crate::net::macros::example!($($kind)*, "flush", "\
s.flush().await.unwrap();
")]
            pub fn flush(&mut self) -> impl ::std::future::Future<Output = ::std::io::Result<()>> + '_ {
                ::std::future::ready(Ok(()))
            }
        }
    };
}

pub(crate) use {read_methods, write_methods};

/// Borrowed read half of a [`TcpStream`], from [`TcpStream::split`].
///
/// ```
/// # let rt = runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// # let mut s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
/// # let (mut peer, _) = l.accept().await.unwrap();
/// peer.write_all(b"ping").await.unwrap();
/// let (mut reader, mut writer) = s.split();
/// let mut buf = [0; 4];
/// reader.read_exact(&mut buf).await.unwrap();
/// writer.write_all(&buf).await.unwrap();
/// # });
/// ```
#[derive(Debug)]
pub struct ReadHalf<'a>(pub(super) &'a TcpStream);

/// Borrowed write half of a [`TcpStream`], from [`TcpStream::split`].
///
/// ```
/// # let rt = runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// # let mut s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
/// # let (mut peer, _) = l.accept().await.unwrap();
/// peer.write_all(b"ping").await.unwrap();
/// let (mut reader, mut writer) = s.split();
/// let mut buf = [0; 4];
/// reader.read_exact(&mut buf).await.unwrap();
/// writer.write_all(&buf).await.unwrap();
/// # });
/// ```
#[derive(Debug)]
pub struct WriteHalf<'a>(pub(super) &'a TcpStream);

// ANCHOR: owned_halves
/// Owned read half of a [`TcpStream`], from [`TcpStream::into_split`].
///
/// ```
/// # let rt = runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// # let mut s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
/// # let (mut peer, _) = l.accept().await.unwrap();
/// peer.write_all(b"ping").await.unwrap();
/// let (mut reader, mut writer) = s.into_split();
/// let mut buf = [0; 4];
/// reader.read_exact(&mut buf).await.unwrap();
/// writer.write_all(&buf).await.unwrap();
/// # });
/// ```
#[derive(Debug)]
pub struct OwnedReadHalf(Arc<TcpStream>);

/// Owned write half of a [`TcpStream`], from [`TcpStream::into_split`].
///
/// Dropping it shuts the write direction down (sends FIN, as tokio does): the
/// peer reads end of stream while the read half keeps receiving. Putting the
/// halves back together with [`OwnedReadHalf::reunite`] does not.
///
/// ```
/// # let rt = runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// # let mut s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
/// # let (mut peer, _) = l.accept().await.unwrap();
/// peer.write_all(b"ping").await.unwrap();
/// let (mut reader, mut writer) = s.into_split();
/// let mut buf = [0; 4];
/// reader.read_exact(&mut buf).await.unwrap();
/// writer.write_all(&buf).await.unwrap();
/// # });
/// ```
#[derive(Debug)]
pub struct OwnedWriteHalf {
    stream: Arc<TcpStream>,
    /// Cleared by `reunite`, which hands the stream back whole.
    shutdown_on_drop: bool,
}
// ANCHOR_END: owned_halves

/// How the generated methods reach the stream (`TcpStream` or `UnixStream`:
/// the macros are expanded per concrete type, so they call its inherent
/// methods).
pub(crate) trait AsStream {
    type Stream;
    fn stream(&self) -> &Self::Stream;
}

/// Generates everything about the halves of `$stream` but the structs
/// themselves (each family documents its own): `split_owned`, the write
/// half's shutdown on drop, `AsStream`, and the read/write methods. Expanded
/// in the module that defines the four half types.
macro_rules! halves {
    ($stream:ident) => {
        // ANCHOR: split_owned
        pub(super) fn split_owned(stream: $stream) -> (OwnedReadHalf, OwnedWriteHalf) {
            let stream = ::std::sync::Arc::new(stream);
            let write = OwnedWriteHalf {
                stream: stream.clone(),
                shutdown_on_drop: true,
            };
            (OwnedReadHalf(stream), write)
        }
        // ANCHOR_END: split_owned

        // ANCHOR: write_half_drop
        impl Drop for OwnedWriteHalf {
            /// The read half may live on for a long time (waiting for the
            /// peer's reply); without a FIN now, a peer that reads to end of
            /// stream would wait for it just as long.
            fn drop(&mut self) {
                if self.shutdown_on_drop {
                    // Fails only if the connection is already gone
                    // (ENOTCONN), when there is nobody left to tell.
                    let _ = self.stream.shutdown(::std::net::Shutdown::Write);
                }
            }
        }
        // ANCHOR_END: write_half_drop

        $crate::net::split::halves!(@as_stream $stream: ReadHalf<'_> => 0, WriteHalf<'_> => 0,
            OwnedReadHalf => 0, OwnedWriteHalf => stream);
        $crate::net::split::read_methods!(ReadHalf<'_>, half of $stream);
        $crate::net::split::write_methods!(WriteHalf<'_>, half of $stream);
        $crate::net::split::read_methods!(OwnedReadHalf, half of $stream);
        $crate::net::split::write_methods!(OwnedWriteHalf, half of $stream);
        $crate::net::split::halves!(@poll_read $stream, ReadHalf<'_>, "split");
        $crate::net::split::halves!(@poll_read $stream, OwnedReadHalf, "into_split");
        $crate::net::split::halves!(@write $stream, WriteHalf<'_>, "split");
        $crate::net::split::halves!(@write $stream, OwnedWriteHalf, "into_split");

        impl OwnedReadHalf {
            /// Puts the halves back together (no shutdown happens). Fails,
            /// returning both, if they came from different streams.
            #[doc = $crate::net::macros::example!($stream, "reunite", "\
let (r, w) = s.into_split();
let mut s = r.reunite(w).unwrap();
s.write_all(b\"still open\").await.unwrap();
")]
            pub fn reunite(
                self,
                mut write: OwnedWriteHalf,
            ) -> Result<$stream, (OwnedReadHalf, OwnedWriteHalf)> {
                if !::std::sync::Arc::ptr_eq(&self.0, &write.stream) {
                    return Err((self, write));
                }
                write.shutdown_on_drop = false;
                drop(write);
                ::std::sync::Arc::try_unwrap(self.0)
                    .map_err(|_| unreachable!("both halves were given"))
            }
        }
    };
    (@as_stream $stream:ident: $($half:ty => $field:tt),*) => {$(
        impl $crate::net::split::AsStream for $half {
            type Stream = $stream;
            fn stream(&self) -> &$stream {
                &self.$field
            }
        }
    )*};
    (@poll_read $stream:ident, $half:ty, $split:literal) => {
        impl $half {
            /// Poll-based read (see the stream's `poll_read`).
            #[doc = $crate::net::macros::example!($stream, "poll_read", concat!("\
peer.write_all(b\"x\").await.unwrap();
let (r, _w) = s.", $split, "();
let mut buf = [0; 1];
std::future::poll_fn(|cx| r.poll_read(cx, &mut buf)).await.unwrap();
"))]
            pub fn poll_read(
                &self,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                $crate::net::split::AsStream::stream(self).poll_read(cx, buf)
            }
        }
    };
    (@write $stream:ident, $half:ty, $split:literal) => {
        impl $half {
            /// Poll-based write (see the stream's `poll_write`).
            #[doc = $crate::net::macros::example!($stream, "poll_write", concat!("\
let (_r, w) = s.", $split, "();
std::future::poll_fn(|cx| w.poll_write(cx, b\"x\")).await.unwrap();
"))]
            pub fn poll_write(
                &self,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                $crate::net::split::AsStream::stream(self).poll_write(cx, buf)
            }

            /// Shuts down the write direction (sends FIN); the read half keeps
            /// working.
            #[doc = $crate::net::macros::example!($stream, "shutdown", concat!("\
let (_r, w) = s.", $split, "();
w.shutdown().unwrap();
assert_eq!(peer.read(&mut [0; 4]).await.unwrap(), 0);
"))]
            pub fn shutdown(&self) -> ::std::io::Result<()> {
                $crate::net::split::AsStream::stream(self).shutdown(::std::net::Shutdown::Write)
            }
        }
    };
}

pub(crate) use halves;

halves!(TcpStream);

impl OwnedReadHalf {
    /// The remote address.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// # let s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let (r, _w) = s.into_split();
    /// assert_eq!(r.peer_addr().unwrap(), l.local_addr().unwrap());
    /// # });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }
}

impl OwnedWriteHalf {
    /// Poll-based vectored write.
    ///
    /// ```
    /// use std::io::IoSlice;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let l = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// # let s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    /// let (_r, w) = s.into_split();
    /// std::future::poll_fn(|cx| w.poll_write_vectored(cx, &[IoSlice::new(b"x")])).await.unwrap();
    /// # });
    /// ```
    pub fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_write_vectored(cx, bufs)
    }
}
