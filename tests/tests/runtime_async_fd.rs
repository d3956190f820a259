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

/// An object whose I/O needs `&mut self`, as many wrapper types' do: it
/// counts the reads it made.
struct CountingReader {
    fd: OwnedFd,
    reads: usize,
}

impl AsRawFd for CountingReader {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

impl CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reads += 1;
        read_fd(&self.fd, buf)
    }
}

/// The `_mut` waits give `try_io` a `&mut AsyncFd<T>`: a reader that needs
/// `&mut self` drains a pipe, `WouldBlock` clears readiness (the next
/// `readable_mut` waits until a writer on another thread wakes it), and the
/// poll forms and `ready_mut` report the same readiness, on both flavours.
#[test]
fn mut_guards_give_try_io_mutable_access() {
    for (name, rt) in [("multi-thread", multi(2)), ("current-thread", current())] {
        rt.block_on(bounded(name, async {
            let (r, w) = pipe();
            let mut r = AsyncFd::new(CountingReader { fd: r, reads: 0 }).unwrap();
            write_fd(&w, b"hello").unwrap();
            let mut got = Vec::new();
            loop {
                let mut guard = r.readable_mut().await.unwrap();
                assert!(guard.ready().is_readable(), "{name}");
                let mut buf = [0u8; 2];
                match guard.try_io(|fd| fd.get_mut().read(&mut buf)) {
                    Ok(n) => got.extend_from_slice(&buf[..n.unwrap()]),
                    Err(_would_block) => {
                        assert!(guard.ready().is_empty(), "{name}: not cleared");
                        break;
                    }
                }
            }
            assert_eq!(got, b"hello", "{name}");
            // Three reads with data, one that said WouldBlock.
            assert_eq!(r.get_ref().reads, 4, "{name}");
            assert!(
                pending_once(r.readable_mut()).await,
                "{name}: readiness not cleared"
            );

            let writer = std::thread::spawn(move || {
                write_fd(&w, b"!").unwrap();
                w
            });
            let mut guard = r
                .ready_mut(Interest::READABLE | Interest::WRITABLE)
                .await
                .unwrap();
            assert!(guard.ready().is_readable(), "{name}: {:?}", guard.ready());
            let n = guard
                .try_io(|fd| fd.get_mut().read(&mut [0u8; 8]))
                .unwrap()
                .unwrap();
            assert_eq!(n, 1, "{name}");
            guard.get_inner_mut().reads = 0;
            // The guard's borrow ends here.
            assert_eq!(r.get_ref().reads, 0);
            let w = writer.join().unwrap();

            // The poll forms.
            write_fd(&w, b"x").unwrap();
            let ready = std::future::poll_fn(|cx| {
                r.poll_read_ready_mut(cx).map_ok(|mut g| {
                    let ready = g.ready();
                    g.retain_ready();
                    ready
                })
            })
            .await
            .unwrap();
            assert!(ready.is_readable(), "{name}");
            let mut w = AsyncFd::new(w).unwrap();
            let n = std::future::poll_fn(|cx| {
                w.poll_write_ready_mut(cx)
                    .map_ok(|mut g| g.try_io(|fd| write_fd(fd.get_ref(), b"y")))
            })
            .await
            .unwrap()
            .unwrap()
            .unwrap();
            assert_eq!(n, 1, "{name}");
        }));
    }
}

/// The epoll events `fd` is registered for, read from the kernel
/// (`/proc/self/fdinfo` of the epoll instance that watches it).
fn registered_events(fd: std::os::fd::RawFd) -> Option<u32> {
    for entry in std::fs::read_dir("/proc/self/fd").ok()? {
        let entry = entry.ok()?;
        let is_epoll = std::fs::read_link(entry.path())
            .map(|target| target.to_string_lossy() == "anon_inode:[eventpoll]")
            .unwrap_or(false);
        if !is_epoll {
            continue;
        }
        let info_path = format!("/proc/self/fdinfo/{}", entry.file_name().to_string_lossy());
        let Ok(info) = std::fs::read_to_string(info_path) else {
            continue;
        };
        for line in info.lines() {
            // "tfd:        7 events:       19 data: ..."
            let mut words = line.split_whitespace();
            if words.next() != Some("tfd:") || words.next() != Some(&fd.to_string()) {
                continue;
            }
            if words.next() == Some("events:") {
                return u32::from_str_radix(words.next()?, 16).ok();
            }
        }
    }
    None
}

/// `with_interest` registers the descriptor for that interest only (the
/// kernel's own record says so), a wait for another interest fails at once
/// instead of hanging, and `new` still registers for both.
#[test]
fn with_interest_registers_only_that_interest() {
    let rt = current();
    rt.block_on(bounded("with_interest", async {
        let (r, w) = pipe();
        let (in_, out, rdhup) = (
            libc::EPOLLIN as u32,
            libc::EPOLLOUT as u32,
            libc::EPOLLRDHUP as u32,
        );
        // The kernel adds error and hang-up to every registration.
        let et = (libc::EPOLLET | libc::EPOLLERR | libc::EPOLLHUP) as u32;
        let w = AsyncFd::with_interest(w, Interest::WRITABLE).unwrap();
        assert_eq!(w.interest(), Interest::WRITABLE);
        assert_eq!(registered_events(w.as_raw_fd()), Some(out | et));
        let r = AsyncFd::with_interest(r, Interest::READABLE).unwrap();
        assert_eq!(registered_events(r.as_raw_fd()), Some(in_ | rdhup | et));

        // The registered direction works.
        let n = w
            .async_io(Interest::WRITABLE, |fd| write_fd(fd, b"abc"))
            .await
            .unwrap();
        assert_eq!(n, 3);
        let n = r
            .async_io(Interest::READABLE, |fd| read_fd(fd, &mut [0u8; 8]))
            .await
            .unwrap();
        assert_eq!(n, 3);
        // Both asked, one registered: waits for that one.
        let ready = w
            .ready(Interest::READABLE | Interest::WRITABLE)
            .await
            .unwrap()
            .ready();
        assert!(ready.is_writable());
        // The other is refused, whichever way it is asked for.
        let refused = [
            w.readable().await.map(drop),
            w.async_io(Interest::READABLE, |_| Ok(())).await,
            std::future::poll_fn(|cx| w.poll_read_ready(cx))
                .await
                .map(drop),
            r.writable().await.map(drop),
            std::future::poll_fn(|cx| r.poll_write_ready(cx))
                .await
                .map(drop),
        ];
        for (i, result) in refused.into_iter().enumerate() {
            let err = result.expect_err("a wait that could never end was accepted");
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{i}: {err}");
            assert!(err.to_string().contains("registered for"), "{i}: {err}");
        }

        let (a, b) = pipe();
        let a = AsyncFd::new(a).unwrap();
        assert_eq!(
            registered_events(a.as_raw_fd()),
            Some(in_ | out | rdhup | et)
        );
        drop(b);
    }));
}

/// `try_new` hands the object back when epoll refuses it (a regular file):
/// still open and usable; `new` reports the same error with its context.
#[test]
fn try_new_hands_the_object_back_on_error() {
    use std::io::{Read, Seek, Write};
    let rt = current();
    let _guard = rt.handle().enter();
    let path = std::env::temp_dir().join(format!("asyncfd-try-new-{}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    let raw = file.as_raw_fd();
    let err = AsyncFd::try_new(file).unwrap_err();
    assert!(err.to_string().contains("epoll_ctl(ADD"), "{err}");
    assert!(
        format!("{err:?}").starts_with("AsyncFdTryNewError"),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
    let (mut file, cause) = err.into_parts();
    assert_eq!(file.as_raw_fd(), raw, "the same descriptor comes back");
    assert_eq!(cause.kind(), std::io::ErrorKind::PermissionDenied);
    assert_eq!(runtime::io::raw_os_error(&cause), Some(libc::EPERM));
    file.write_all(b"still open").unwrap();
    file.rewind().unwrap();
    let mut back = String::new();
    file.read_to_string(&mut back).unwrap();
    assert_eq!(back, "still open");

    let err = AsyncFd::with_interest(file, Interest::READABLE).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("epoll_ctl(ADD"), "{err}");
    assert_eq!(runtime::io::raw_os_error(&err), Some(libc::EPERM));
    std::fs::remove_file(&path).unwrap();
}
