//! The byte-stream methods `TcpStream` and `UnixStream` share: one
//! implementation of each (the functions here), stamped onto both types with
//! their docs by [`stream_methods!`].

use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, OwnedFd};
use std::task::{Context, Poll};

use super::fd::SocketFd;
use crate::io::{AsyncFd, RawIo};
use crate::reactor::Direction;
use crate::sys::socket;

/// Registers a stream socket whose non-blocking `connect` was started and,
/// if it is still in progress, waits for it to complete (or fail: the error
/// names `to`).
pub(crate) async fn finish_connect(
    stream: OwnedFd,
    in_progress: bool,
    to: &(dyn std::fmt::Debug + Sync),
) -> io::Result<SocketFd> {
    let io = AsyncFd::with_readiness(stream, !in_progress)?;
    if in_progress {
        poll_fn(|cx| io.poll_ready(cx, Direction::Write)).await?;
        if let Some(e) = socket::take_error(io.get_ref().as_fd())? {
            return Err(crate::sys::context(e, format_args!("connect to {to:?}")));
        }
    }
    Ok(io)
}

// ANCHOR: poll_read
#[inline(never)]
pub(crate) fn poll_read(
    io: RawIo<'_>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let len = buf.len();
    io.poll_transfer(cx, Direction::Read, Some(len), &mut |fd| {
        socket::recv(fd, buf)
    })
}
// ANCHOR_END: poll_read

// ANCHOR: poll_write
#[inline(never)]
pub(crate) fn poll_write(
    io: RawIo<'_>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    io.poll_transfer(cx, Direction::Write, Some(buf.len()), &mut |fd| {
        socket::send(fd, buf)
    })
}
// ANCHOR_END: poll_write

#[inline(never)]
pub(crate) fn poll_write_vectored(
    io: RawIo<'_>,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    let len: usize = bufs.iter().map(|b| b.len()).sum();
    if len == 0 {
        return Poll::Ready(Ok(0));
    }
    io.poll_transfer(cx, Direction::Write, Some(len), &mut |fd| {
        socket::send_vectored(fd, bufs)
    })
}

// ANCHOR: try_read
#[inline(never)]
pub(crate) fn try_read(io: RawIo<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let len = buf.len();
    io.try_transfer(Direction::Read, Some(len), &mut |fd| socket::recv(fd, buf))
}
// ANCHOR_END: try_read

#[inline(never)]
pub(crate) fn try_write(io: RawIo<'_>, buf: &[u8]) -> io::Result<usize> {
    io.try_transfer(Direction::Write, Some(buf.len()), &mut |fd| {
        socket::send(fd, buf)
    })
}

#[inline(never)]
pub(crate) fn try_read_vectored(io: RawIo<'_>, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    let len: usize = bufs.iter().map(|b| b.len()).sum();
    io.try_transfer(Direction::Read, Some(len), &mut |fd| {
        socket::recv_vectored(fd, bufs)
    })
}

#[inline(never)]
pub(crate) fn try_write_vectored(io: RawIo<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let len: usize = bufs.iter().map(|b| b.len()).sum();
    io.try_transfer(Direction::Write, Some(len), &mut |fd| {
        socket::send_vectored(fd, bufs)
    })
}

// The `async` methods of the streams and their halves: one coroutine each,
// whatever the type it is called on (the methods return these futures).

pub(crate) async fn read(io: RawIo<'_>, buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| poll_read(io, cx, buf)).await
}

pub(crate) async fn read_exact(io: RawIo<'_>, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match poll_fn(|cx| poll_read(io, cx, buf)).await? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stream ended early",
                ))
            }
            n => buf = &mut buf[n..],
        }
    }
    Ok(())
}

pub(crate) async fn write(io: RawIo<'_>, buf: &[u8]) -> io::Result<usize> {
    poll_fn(|cx| poll_write(io, cx, buf)).await
}

// ANCHOR: write_all
pub(crate) async fn write_all(io: RawIo<'_>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match poll_fn(|cx| poll_write(io, cx, buf)).await? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "socket accepted no bytes",
                ))
            }
            n => buf = &buf[n..],
        }
    }
    Ok(())
}
// ANCHOR_END: write_all

pub(crate) async fn write_vectored(io: RawIo<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    poll_fn(|cx| poll_write_vectored(io, cx, bufs)).await
}

pub(crate) async fn peek(io: RawIo<'_>, buf: &mut [u8]) -> io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    io.transfer_listed(Direction::Read, &mut |fd| socket::peek(fd, buf))
        .await
}

/// Generates the methods a connected stream socket has, with their docs:
/// `stream_methods!(TcpStream, crate::net::split)` names the stream and the
/// module of its halves (`ReadHalf`, ..., `split_owned`). The type keeps its
/// `AsyncFd` in a field `io`.
macro_rules! stream_methods {
    ($stream:ident, $($halves:ident)::+) => {
        $crate::net::ready::readiness_methods!($stream, "peer.write_all(b\"x\").await.unwrap();\n");
        $crate::net::split::read_methods!(stream $stream);
        $crate::net::split::write_methods!(stream $stream);
        $crate::net::macros::fd_impls!($stream, "local" local_addr, "peer" peer_addr);

        impl $stream {
            /// The descriptor and its readiness, for the methods shared with
            /// the halves (`net::stream::read`, ...).
            pub(crate) fn raw(&self) -> $crate::io::RawIo<'_> {
                self.io.raw()
            }
        }

        impl $crate::net::split::AsStream for $stream {
            type Stream = $stream;
            fn stream(&self) -> &$stream {
                self
            }
        }

        impl $stream {
            /// Poll-based read; `Ok(0)` is end of stream (or an empty `buf`).
            /// Only the task that polled last is woken.
            #[doc = $crate::net::macros::example!($stream, "poll_read", "\
peer.write_all(b\"x\").await.unwrap();
let mut buf = [0; 4];
let n = std::future::poll_fn(|cx| s.poll_read(cx, &mut buf)).await.unwrap();
assert_eq!(n, 1);
")]
            pub fn poll_read(
                &self,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                $crate::net::stream::poll_read(self.io.raw(), cx, buf)
            }

            /// Poll-based write. Only the task that polled last is woken.
            #[doc = $crate::net::macros::example!($stream, "poll_write", "\
let n = std::future::poll_fn(|cx| s.poll_write(cx, b\"abc\")).await.unwrap();
assert_eq!(n, 3);
")]
            pub fn poll_write(
                &self,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                $crate::net::stream::poll_write(self.io.raw(), cx, buf)
            }

            /// Poll-based vectored write: one system call for several buffers
            /// (`send` of a stack copy up to 4 KiB in all, which the kernel
            /// charges less for, `sendmsg` above).
            #[doc = $crate::net::macros::example!($stream, "poll_write_vectored", "\
use std::io::IoSlice;
let bufs = [IoSlice::new(b\"ab\"), IoSlice::new(b\"cd\")];
let n = std::future::poll_fn(|cx| s.poll_write_vectored(cx, &bufs)).await.unwrap();
assert_eq!(n, 4);
")]
            pub fn poll_write_vectored(
                &self,
                cx: &mut ::std::task::Context<'_>,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                $crate::net::stream::poll_write_vectored(self.io.raw(), cx, bufs)
            }

            /// Reads without waiting: `WouldBlock` if no data is known to be
            /// there. Pair it with [`readable`](Self::readable) to hold no
            /// buffer while idle.
            #[doc = $crate::net::macros::example!($stream, "try_read", "\
let mut buf = [0; 8];
let err = s.try_read(&mut buf).unwrap_err();
assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
peer.write_all(b\"x\").await.unwrap();
s.readable().await.unwrap();
assert_eq!(s.try_read(&mut buf).unwrap(), 1);
")]
            pub fn try_read(&self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                $crate::net::stream::try_read(self.io.raw(), buf)
            }

            /// Writes without waiting: `WouldBlock` if the send buffer is full.
            #[doc = $crate::net::macros::example!($stream, "try_write", "\
s.writable().await.unwrap();
assert_eq!(s.try_write(b\"hello\").unwrap(), 5);
")]
            pub fn try_write(&self, buf: &[u8]) -> ::std::io::Result<usize> {
                $crate::net::stream::try_write(self.io.raw(), buf)
            }

            /// Vectored [`try_read`](Self::try_read): one `readv` into several
            /// buffers, `WouldBlock` if no data is known to be there.
            #[doc = $crate::net::macros::example!($stream, "try_read_vectored", "\
use std::io::IoSliceMut;
peer.write_all(b\"abcd\").await.unwrap();
s.readable().await.unwrap();
let (mut a, mut b) = ([0; 2], [0; 8]);
let n = s.try_read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)]).unwrap();
assert_eq!((n, &a, &b[..2]), (4, b\"ab\", &b\"cd\"[..]));
")]
            pub fn try_read_vectored(
                &self,
                bufs: &mut [::std::io::IoSliceMut<'_>],
            ) -> ::std::io::Result<usize> {
                $crate::net::stream::try_read_vectored(self.io.raw(), bufs)
            }

            /// Vectored [`try_write`](Self::try_write): one system call for
            /// several buffers (as [`poll_write_vectored`](Self::poll_write_vectored)),
            /// `WouldBlock` if the send buffer is full.
            #[doc = $crate::net::macros::example!($stream, "try_write_vectored", "\
use std::io::IoSlice;
s.writable().await.unwrap();
let n = s.try_write_vectored(&[IoSlice::new(b\"ab\"), IoSlice::new(b\"cd\")]).unwrap();
assert_eq!(n, 4);
")]
            pub fn try_write_vectored(
                &self,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::io::Result<usize> {
                $crate::net::stream::try_write_vectored(self.io.raw(), bufs)
            }

            /// Receives data without removing it from the queue: the next
            /// read sees it again. Waits for data like
            /// [`read`](Self::read); any number of tasks may wait.
            #[doc = $crate::net::macros::example!($stream, "peek", "\
peer.write_all(b\"abc\").await.unwrap();
let mut buf = [0; 8];
let n = s.peek(&mut buf).await.unwrap();
assert_eq!(&buf[..n], b\"abc\");
let mut again = [0; 3];
s.read_exact(&mut again).await.unwrap();
assert_eq!(&again, b\"abc\");
")]
            pub fn peek<'a>(&'a self, buf: &'a mut [u8]) -> impl ::std::future::Future<Output = ::std::io::Result<usize>> + 'a {
                $crate::net::stream::peek(self.io.raw(), buf)
            }

            /// Poll-based [`readable`](Self::readable). Only the task that
            /// polled last is woken.
            #[doc = $crate::net::macros::example!($stream, "poll_read_ready", "\
peer.write_all(b\"x\").await.unwrap();
std::future::poll_fn(|cx| s.poll_read_ready(cx)).await.unwrap();
")]
            pub fn poll_read_ready(
                &self,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                self.io.raw().poll_ready(cx, $crate::reactor::Direction::Read)
            }

            /// Poll-based [`writable`](Self::writable). Only the task that
            /// polled last is woken.
            #[doc = $crate::net::macros::example!($stream, "poll_write_ready", "\
std::future::poll_fn(|cx| s.poll_write_ready(cx)).await.unwrap();
")]
            pub fn poll_write_ready(
                &self,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                self.io.raw().poll_ready(cx, $crate::reactor::Direction::Write)
            }

            /// Splits into borrowed read and write halves usable concurrently
            /// in one task (e.g. with a `join`).
            #[doc = $crate::net::macros::example!($stream, "split", "\
peer.write_all(b\"ping\").await.unwrap();
let (mut reader, mut writer) = s.split();
let mut buf = [0; 4];
reader.read_exact(&mut buf).await.unwrap();
writer.write_all(&buf).await.unwrap();
")]
            pub fn split(&mut self) -> ($($halves)::+::ReadHalf<'_>, $($halves)::+::WriteHalf<'_>) {
                ($($halves)::+::ReadHalf(self), $($halves)::+::WriteHalf(self))
            }

            /// Splits into owned halves that can move to different tasks: one
            /// task reads while another writes the same socket. Dropping the
            /// write half shuts writing down (the peer reads end of stream).
            #[doc = $crate::net::macros::example!($stream, "into_split", "\
let (_reader, mut writer) = s.into_split();
runtime::spawn(async move { writer.write_all(b\"hi\").await }).await.unwrap().unwrap();
let mut buf = [0; 8];
let mut got = Vec::new();
loop {
    match peer.read(&mut buf).await.unwrap() {
        0 => break, // the write half was dropped: end of stream
        n => got.extend_from_slice(&buf[..n]),
    }
}
assert_eq!(got, b\"hi\");
")]
            pub fn into_split(self) -> ($($halves)::+::OwnedReadHalf, $($halves)::+::OwnedWriteHalf) {
                $($halves)::+::split_owned(self)
            }
        }
    };
}

pub(crate) use stream_methods;
