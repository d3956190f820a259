//! `runtime::io::AsyncFd` over descriptors the runtime did not create: a pipe
//! made with `pipe2`, and the guards' readiness bookkeeping.

mod runtime_support;

use std::future::Future;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::pin;
use std::task::Poll;

use runtime::io::{AsyncFd, Interest};
use runtime_support::{bounded, current, multi};

/// A non-blocking pipe: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is valid for writes of two c_ints.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: pipe2 returned two fresh descriptors that we now own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn read_fd(fd: &OwnedFd, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; `fd` is open.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn write_fd(fd: &OwnedFd, buf: &[u8]) -> std::io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes; `fd` is open.
    let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Polls `fut` exactly once and reports whether it was still pending.
async fn pending_once<F: Future>(fut: F) -> bool {
    let mut fut = pin!(fut);
    std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_pending())).await
}

/// `try_io` clears readiness on `WouldBlock`: after the pipe is drained the
/// next `readable()` waits, and a write from another thread wakes it.
#[test]
fn pipe_readable_try_io_clears_on_would_block() {
    let rt = multi(2);
    rt.block_on(bounded("pipe readable", async {
        let (r, w) = pipe();
        let r = AsyncFd::new(r).unwrap();
        write_fd(&w, b"hello").unwrap();
        let mut got = Vec::new();
        loop {
            let mut guard = r.readable().await.unwrap();
            let mut buf = [0u8; 3];
            match guard.try_io(|fd| read_fd(fd.get_ref(), &mut buf)) {
                Ok(n) => got.extend_from_slice(&buf[..n.unwrap()]),
                Err(_would_block) => break,
            }
        }
        assert_eq!(got, b"hello");
        // Readiness was cleared: a fresh wait is pending until more data.
        assert!(pending_once(r.readable()).await, "readiness not cleared");
        let writer = std::thread::spawn(move || write_fd(&w, b"!").unwrap());
        let n = r
            .async_io(Interest::READABLE, |fd| read_fd(fd, &mut [0u8; 8]))
            .await
            .unwrap();
        assert_eq!(n, 1);
        writer.join().unwrap();
    }));
}

/// Fill a pipe until `WouldBlock`, then `writable()` waits until the reader
/// makes room.
#[test]
fn pipe_writable_waits_for_room() {
    let rt = current();
    rt.block_on(bounded("pipe writable", async {
        let (r, w) = pipe();
        let w = AsyncFd::new(w).unwrap();
        let chunk = [7u8; 4096];
        let mut written = 0;
        loop {
            let mut guard = w.writable().await.unwrap();
            match guard.try_io(|fd| write_fd(fd.get_ref(), &chunk)) {
                Ok(n) => written += n.unwrap(),
                Err(_would_block) => break,
            }
        }
        assert!(written > 0);
        assert!(pending_once(w.writable()).await, "full pipe said writable");
        // Drain everything: room appears, and the reactor reports it.
        let mut left = written;
        let mut buf = vec![0u8; 65536];
        while left > 0 {
            left -= read_fd(&r, &mut buf).unwrap();
        }
        let guard = w.writable().await.unwrap();
        assert!(guard.ready().is_writable());
    }));
}

/// `into_inner` deregisters the descriptor: registering it again works (a
/// descriptor still in the epoll set would fail with `EEXIST`).
#[test]
fn into_inner_deregisters() {
    let rt = current();
    rt.block_on(bounded("into_inner", async {
        let (r, w) = pipe();
        let fd = AsyncFd::new(r).unwrap();
        let raw = fd.as_raw_fd();
        let r = fd.into_inner();
        assert_eq!(r.as_raw_fd(), raw, "the same descriptor comes back");
        let fd = AsyncFd::new(r).expect("re-register after into_inner");
        write_fd(&w, b"x").unwrap();
        let n = fd
            .async_io(Interest::READABLE, |fd| read_fd(fd, &mut [0u8; 4]))
            .await
            .unwrap();
        assert_eq!(n, 1);
    }));
}

/// The write end's peer closing shows as `is_read_closed` on the read end.
#[test]
fn closed_writer_is_read_closed() {
    let rt = current();
    rt.block_on(bounded("read closed", async {
        let (r, w) = pipe();
        let r = AsyncFd::new(r).unwrap();
        drop(w);
        let guard = r.ready(Interest::READABLE).await.unwrap();
        assert!(guard.ready().is_read_closed(), "{:?}", guard.ready());
        assert!(guard.ready().is_readable());
    }));
}
