//! `futures-io` trait implementations (feature `futures-io`), so that code
//! written against `futures::io::{AsyncRead, AsyncWrite}` (codecs,
//! `futures::io::copy`, `AsyncReadExt`...) runs on our sockets unchanged:
//! `TcpStream`, `UnixStream` and their halves.
//!
//! `poll_close` shuts the write direction down (sends FIN), which is what
//! `AsyncWriteExt::close` means for a socket.
//!
//! A naming trap: with `futures::AsyncReadExt` in scope, `stream.split()`
//! resolves to the *trait's* by-value `split` (a lock-based pair), not
//! [`TcpStream::split`]. Call `TcpStream::split(&mut stream)` or
//! `stream.into_split()` to get ours (no lock: the reactor keeps separate read
//! and write waker slots).

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::split::AsStream;
use super::{unix, UnixStream};
use super::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpStream, WriteHalf};

macro_rules! async_read {
    ($stream:ty: $($ty:ty),*) => {$(
        #[cfg_attr(docsrs, doc(cfg(feature = "futures-io")))]
        impl AsyncRead for $ty {
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
                <$stream>::poll_read(self.get_mut().stream(), cx, buf)
            }
        }
    )*};
}

macro_rules! async_write {
    ($stream:ty: $($ty:ty),*) => {$(
        #[cfg_attr(docsrs, doc(cfg(feature = "futures-io")))]
        impl AsyncWrite for $ty {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                <$stream>::poll_write(self.get_mut().stream(), cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                <$stream>::poll_write_vectored(self.get_mut().stream(), cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(match self.get_mut().stream().shutdown(Shutdown::Write) {
                    // Already shut down or the peer is gone: closed either way.
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                    r => r,
                })
            }
        }
    )*};
}

async_read!(TcpStream: TcpStream, ReadHalf<'_>, OwnedReadHalf);
async_write!(TcpStream: TcpStream, WriteHalf<'_>, OwnedWriteHalf);
async_read!(UnixStream: UnixStream, unix::ReadHalf<'_>, unix::OwnedReadHalf);
async_write!(UnixStream: UnixStream, unix::WriteHalf<'_>, unix::OwnedWriteHalf);
