//! [`AsyncFd`]: any non-blocking file descriptor, registered with the reactor,
//! and the "try, and on `WouldBlock` wait" loop every I/O object is built from.
//!
//! ## Two ways to wait
//!
//! * The `&self` async methods ([`readable`](AsyncFd::readable),
//!   [`writable`](AsyncFd::writable), [`ready`](AsyncFd::ready),
//!   [`async_io`](AsyncFd::async_io)) wait in the source's waiter list: any
//!   number of tasks may wait at once, and every one is woken.
//! * The `poll_*` methods keep one waker per direction (they have nowhere to
//!   keep per-call state): only the task that polled last is woken, as with
//!   tokio's `poll_read_ready`. The crate's own `&mut self` methods
//!   (`TcpStream::read`, ...) use this lock-free slot, since their borrow
//!   already rules out a second waiter.
//!
//! ## Clearing readiness
//!
//! Readiness is a cache of what epoll last reported, and epoll is
//! edge-triggered: it will not report "readable" again until the descriptor
//! becomes *un*readable and readable again. So the only safe moment to forget
//! "readable" is when the system call itself said `WouldBlock`. That is what
//! [`AsyncFdReadyGuard::try_io`] does; [`clear_ready`](AsyncFdReadyGuard::clear_ready)
//! is for callers who saw `WouldBlock` some other way, and
//! [`clear_ready_matching`](AsyncFdReadyGuard::clear_ready_matching) for a
//! guard that saw both directions and learned about one (a read said
//! `WouldBlock`; the fd may still be writable). Every clear is made against
//! the reactor's event count the guard saw: if the reactor reported anything
//! since, nothing is cleared, so an edge that arrived after the guard was made
//! is never erased (the worst case is one more system call that says
//! `WouldBlock`).

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{ready, Context, Poll};

use super::{Interest, Ready};
use crate::coop;
use crate::reactor::scheduled_io::CLEARABLE;
use crate::reactor::{
    shutdown_error, Direction, ListedWait, ReadyEvent, Registration, ScheduledIo,
};

/// A non-blocking file descriptor registered with the runtime's reactor:
/// await its readiness and run system calls on it without blocking a worker.
///
/// The descriptor must be in non-blocking mode (`O_NONBLOCK`), or a system
/// call run through [`try_io`](AsyncFdReadyGuard::try_io) blocks the worker
/// thread. `AsyncFd` takes ownership of `T` and deregisters the descriptor
/// before dropping it (or when [`into_inner`](Self::into_inner) hands it
/// back), so the fd cannot be closed while epoll still watches it.
///
/// Reading a pipe:
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use runtime::io::AsyncFd;
///
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (a, mut b) = UnixStream::pair()?;
///     a.set_nonblocking(true)?;
///     let a = AsyncFd::new(a)?;
///     b.write_all(b"hi")?;
///     let mut buf = [0; 8];
///     let n = loop {
///         let mut guard = a.readable().await?;
///         match guard.try_io(|fd| fd.get_ref().read(&mut buf)) {
///             Ok(result) => break result?,
///             Err(_would_block) => continue, // readiness cleared: wait again
///         }
///     };
///     assert_eq!(&buf[..n], b"hi");
///     Ok::<(), std::io::Error>(())
/// }).unwrap();
/// ```
pub struct AsyncFd<T: AsRawFd> {
    /// `None` only after `into_inner` took it (then `drop` has nothing to do).
    inner: Option<T>,
    registration: Registration,
    /// What the descriptor is registered for: a wait for anything else could
    /// never end, and is refused.
    interest: Interest,
}

/// Readiness an [`AsyncFd`] reported, borrowed from it: run the system call
/// with [`try_io`](Self::try_io), which forgets the readiness if the call says
/// `WouldBlock`.
///
/// ```
/// # use std::os::unix::net::UnixStream;
/// # let rt = runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let (a, _b) = UnixStream::pair().unwrap();
/// a.set_nonblocking(true).unwrap();
/// let a = runtime::io::AsyncFd::new(a).unwrap();
/// let guard = a.writable().await.unwrap();
/// assert!(guard.ready().is_writable());
/// # });
/// ```
pub struct AsyncFdReadyGuard<'a, T: AsRawFd> {
    fd: &'a AsyncFd<T>,
    /// `None` once cleared (or retained): nothing left to clear.
    event: Option<ReadyEvent>,
}

/// The system call run by [`AsyncFdReadyGuard::try_io`] said `WouldBlock`:
/// readiness was cleared, wait again.
///
/// ```
/// # use std::os::unix::net::UnixStream;
/// # use std::io::Read;
/// # let rt = runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let (a, _b) = UnixStream::pair().unwrap();
/// a.set_nonblocking(true).unwrap();
/// let a = runtime::io::AsyncFd::new(a).unwrap();
/// // Writable, but nothing to read: the read says WouldBlock.
/// let mut guard = a.ready(runtime::io::Interest::WRITABLE).await.unwrap();
/// let r = guard.try_io(|fd| fd.get_ref().read(&mut [0; 4]));
/// assert!(r.is_err());
/// # });
/// ```
#[derive(Debug)]
pub struct TryIoError(());

/// Readiness an [`AsyncFd`] reported, borrowed from it mutably (by
/// [`readable_mut`](AsyncFd::readable_mut) and the other `_mut` waits):
/// [`try_io`](Self::try_io) hands the closure `&mut AsyncFd<T>`.
///
/// ```
/// # let rt = runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// a.set_nonblocking(true).unwrap();
/// let mut a = runtime::io::AsyncFd::new(a).unwrap();
/// let mut guard = a.writable_mut().await.unwrap();
/// assert!(guard.ready().is_writable());
/// let _inner: &mut std::os::unix::net::UnixStream = guard.get_inner_mut();
/// # });
/// ```
pub struct AsyncFdReadyMutGuard<'a, T: AsRawFd> {
    fd: &'a mut AsyncFd<T>,
    /// `None` once cleared (or retained): nothing left to clear.
    event: Option<ReadyEvent>,
}

/// [`AsyncFd::try_new`] or [`AsyncFd::try_with_interest`] failed: the reason,
/// and the object that was to be registered, handed back unharmed.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// let _guard = rt.handle().enter();
/// let file = std::fs::File::open("/proc/self/status").unwrap();
/// let err = runtime::io::AsyncFd::try_new(file).unwrap_err();
/// assert!(err.to_string().contains("epoll_ctl"));
/// let (file, cause): (std::fs::File, std::io::Error) = err.into_parts();
/// # drop((file, cause));
/// ```
pub struct AsyncFdTryNewError<T> {
    inner: T,
    cause: io::Error,
}

impl<T: AsRawFd> AsyncFd<T> {
    /// Registers `inner` with the current runtime's reactor, for both read
    /// and write readiness.
    ///
    /// # Panics
    ///
    /// Outside a runtime (no `block_on`, task, or `enter` guard).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let _guard = rt.handle().enter();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// # drop(fd);
    /// ```
    #[track_caller]
    pub fn new(inner: T) -> io::Result<AsyncFd<T>> {
        AsyncFd::with_interest(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// Registers `inner` for `interest` only: e.g. `WRITABLE` for the write
    /// end of a pipe, which never becomes readable. The reactor is then not
    /// told about (nor woken for) the other direction, and a wait for an
    /// interest the descriptor is not registered for (`readable()` here)
    /// fails at once with `InvalidInput` instead of waiting forever.
    /// (Errors and hang-ups are reported to the registered interest: a pipe's
    /// write end becomes "writable" when its reader closes, and the write
    /// then says `EPIPE`.)
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    ///
    /// ```
    /// use std::io::Write;
    /// use runtime::io::{AsyncFd, Interest};
    ///
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (r, w) = std::io::pipe()?;
    ///     let w = std::os::fd::OwnedFd::from(w);
    ///     set_nonblocking(&w);
    ///     let w = AsyncFd::with_interest(std::fs::File::from(w), Interest::WRITABLE)?;
    ///     let n = w.async_io(Interest::WRITABLE, |f| (&*f).write(b"ok")).await?;
    ///     assert_eq!(n, 2);
    ///     let err = w.readable().await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    ///     # drop(r);
    ///     Ok::<(), std::io::Error>(())
    /// }).unwrap();
    /// # fn set_nonblocking(fd: &impl std::os::fd::AsRawFd) {
    /// #     let fd = fd.as_raw_fd();
    /// #     // SAFETY: fcntl on an open descriptor, flags from F_GETFL.
    /// #     unsafe { libc::fcntl(fd, libc::F_SETFL, libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK) };
    /// # }
    /// ```
    #[track_caller]
    pub fn with_interest(inner: T, interest: Interest) -> io::Result<AsyncFd<T>> {
        AsyncFd::try_with_interest(inner, interest).map_err(io::Error::from)
    }

    /// [`new`](Self::new), handing `inner` back if the registration fails
    /// (a regular file, which epoll refuses with `EPERM`; a closed runtime),
    /// so the caller can fall back to blocking I/O on it.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    ///
    /// ```
    /// use std::io::Write;
    /// let rt = runtime::Runtime::new().unwrap();
    /// let _guard = rt.handle().enter();
    /// let file = std::fs::File::create(std::env::temp_dir().join("asyncfd-try-new-doc"))?;
    /// // epoll does not take regular files: the file comes back, still open.
    /// let (mut file, err) = runtime::io::AsyncFd::try_new(file).unwrap_err().into_parts();
    /// assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied); // EPERM
    /// file.write_all(b"still usable")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn try_new(inner: T) -> Result<AsyncFd<T>, AsyncFdTryNewError<T>> {
        AsyncFd::try_with_interest(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// [`with_interest`](Self::with_interest), handing `inner` back if the
    /// registration fails.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    ///
    /// ```
    /// use runtime::io::{AsyncFd, Interest};
    /// let rt = runtime::Runtime::new().unwrap();
    /// let _guard = rt.handle().enter();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// a.set_nonblocking(true)?;
    /// let fd = match AsyncFd::try_with_interest(a, Interest::READABLE) {
    ///     Ok(fd) => fd,
    ///     Err(e) => {
    ///         let (_stream, cause) = e.into_parts(); // use the stream blocking
    ///         return Err(cause);
    ///     }
    /// };
    /// # drop(fd);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn try_with_interest(
        inner: T,
        interest: Interest,
    ) -> Result<AsyncFd<T>, AsyncFdTryNewError<T>> {
        // Nothing is assumed ready: epoll reports the current state as the
        // first edge when the fd is added.
        AsyncFd::register(inner, interest, false)
    }

    /// `initially_ready`: start out assuming the fd is readable and writable
    /// (see `ScheduledIo::new`).
    #[track_caller]
    pub(crate) fn with_readiness(inner: T, initially_ready: bool) -> io::Result<AsyncFd<T>> {
        AsyncFd::register(
            inner,
            Interest::READABLE | Interest::WRITABLE,
            initially_ready,
        )
        .map_err(io::Error::from)
    }

    #[track_caller]
    fn register(
        inner: T,
        interest: Interest,
        initially_ready: bool,
    ) -> Result<AsyncFd<T>, AsyncFdTryNewError<T>> {
        match register_fd(inner.as_raw_fd(), interest, initially_ready) {
            Ok(registration) => Ok(AsyncFd {
                inner: Some(inner),
                registration,
                interest,
            }),
            Err(cause) => Err(AsyncFdTryNewError { inner, cause }),
        }
    }

    /// The interest the descriptor is registered for.
    ///
    /// ```
    /// use runtime::io::{AsyncFd, Interest};
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = AsyncFd::with_interest(a, Interest::READABLE).unwrap();
    /// assert_eq!(fd.interest(), Interest::READABLE);
    /// ```
    pub fn interest(&self) -> Interest {
        self.interest
    }

    /// The ready bits that end a public wait for `interest`, restricted to
    /// what the descriptor is registered for; an error if that leaves none.
    fn wait_mask(&self, interest: Interest) -> io::Result<u64> {
        match self.interest.intersection(interest) {
            Some(both) => Ok(both.mask()),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "AsyncFd (fd {}) is registered for {:?}: it cannot wait for {:?}",
                    self.as_raw_fd(),
                    self.interest,
                    interest
                ),
            )),
        }
    }

    /// The wrapped object.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// assert!(fd.get_ref().peer_addr().is_ok());
    /// ```
    pub fn get_ref(&self) -> &T {
        match &self.inner {
            Some(inner) => inner,
            None => used_after_into_inner(),
        }
    }

    /// The wrapped object, mutably.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let _inner: &mut std::os::unix::net::UnixStream = fd.get_mut();
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        match &mut self.inner {
            Some(inner) => inner,
            None => used_after_into_inner(),
        }
    }

    /// Deregisters the descriptor and hands the object back (still open).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # let _g = rt.handle().enter();
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let a: std::os::unix::net::UnixStream = fd.into_inner();
    /// # drop(a);
    /// ```
    pub fn into_inner(mut self) -> T {
        self.deregister_and_take()
            .unwrap_or_else(|| used_after_into_inner())
    }

    fn deregister_and_take(&mut self) -> Option<T> {
        let inner = self.inner.take()?;
        // Deregister while `inner` is still open: it is alive until returned.
        deregister_fd(&self.registration, inner.as_raw_fd());
        Some(inner)
    }

    /// Waits until the descriptor is readable. Any number of tasks may wait
    /// at once; all are woken.
    ///
    /// ```
    /// # use std::io::Write;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// b.write_all(b"x").unwrap();
    /// let guard = fd.readable().await.unwrap();
    /// assert!(guard.ready().is_readable());
    /// # });
    /// ```
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Interest::READABLE).await
    }

    /// Waits until the descriptor is writable. Any number of tasks may wait
    /// at once; all are woken.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// assert!(fd.writable().await.unwrap().ready().is_writable());
    /// # });
    /// ```
    pub async fn writable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Interest::WRITABLE).await
    }

    /// Waits until the descriptor is ready for any of `interest`.
    ///
    /// ```
    /// use runtime::io::Interest;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let guard = fd.ready(Interest::READABLE | Interest::WRITABLE).await.unwrap();
    /// assert!(guard.ready().is_writable() && !guard.ready().is_readable());
    /// # });
    /// ```
    pub async fn ready(&self, interest: Interest) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        let event = self.wait_listed(self.wait_mask(interest)?).await?;
        Ok(AsyncFdReadyGuard {
            fd: self,
            event: Some(event),
        })
    }

    /// Runs `f` whenever the descriptor is ready for `interest`, until it
    /// returns something other than `WouldBlock` (clearing readiness on each
    /// `WouldBlock`).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use runtime::io::Interest;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// b.write_all(b"ok").unwrap();
    /// let mut buf = [0; 2];
    /// let n = fd.async_io(Interest::READABLE, |a| (&*a).read(&mut buf)).await.unwrap();
    /// assert_eq!(&buf[..n], b"ok");
    /// # });
    /// ```
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io_listed(self.wait_mask(interest)?, op).await
    }

    /// Poll-based [`readable`](Self::readable). Only the waker of the most
    /// recent call is woken; tasks sharing the fd should use `readable`.
    ///
    /// ```
    /// # use std::io::Write;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// b.write_all(b"x").unwrap();
    /// let guard = std::future::poll_fn(|cx| fd.poll_read_ready(cx)).await.unwrap();
    /// assert!(guard.ready().is_readable());
    /// # });
    /// ```
    pub fn poll_read_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        self.wait_mask(Interest::READABLE)?;
        let event = ready!(self.poll_ready(cx, Direction::Read))?;
        Poll::Ready(Ok(AsyncFdReadyGuard {
            fd: self,
            event: Some(event),
        }))
    }

    /// Poll-based [`writable`](Self::writable). Only the waker of the most
    /// recent call is woken.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let guard = std::future::poll_fn(|cx| fd.poll_write_ready(cx)).await.unwrap();
    /// assert!(guard.ready().is_writable());
    /// # });
    /// ```
    pub fn poll_write_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        self.wait_mask(Interest::WRITABLE)?;
        let event = ready!(self.poll_ready(cx, Direction::Write))?;
        Poll::Ready(Ok(AsyncFdReadyGuard {
            fd: self,
            event: Some(event),
        }))
    }

    /// Waits until the descriptor is readable, for a caller that holds the
    /// `AsyncFd` mutably: the guard's [`try_io`](AsyncFdReadyMutGuard::try_io)
    /// hands the closure `&mut AsyncFd<T>`, for inner types whose I/O takes
    /// `&mut self` (`std::fs::File`'s `Read`, a type from another crate).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// b.write_all(b"mut").unwrap();
    /// let mut buf = [0; 8];
    /// let n = loop {
    ///     let mut guard = fd.readable_mut().await.unwrap();
    ///     if let Ok(r) = guard.try_io(|fd| fd.get_mut().read(&mut buf)) {
    ///         break r.unwrap();
    ///     }
    /// };
    /// assert_eq!(&buf[..n], b"mut");
    /// # });
    /// ```
    pub async fn readable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::READABLE).await
    }

    /// Waits until the descriptor is writable; the guard gives `&mut` access
    /// (see [`readable_mut`](Self::readable_mut)).
    ///
    /// ```
    /// use std::io::Write;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let mut guard = fd.writable_mut().await.unwrap();
    /// let n = guard.try_io(|fd| fd.get_mut().write(b"hi")).unwrap().unwrap();
    /// assert_eq!(n, 2);
    /// # });
    /// ```
    pub async fn writable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::WRITABLE).await
    }

    /// Waits until the descriptor is ready for any of `interest`; the guard
    /// gives `&mut` access (see [`readable_mut`](Self::readable_mut)).
    ///
    /// ```
    /// use runtime::io::Interest;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let guard = fd.ready_mut(Interest::READABLE | Interest::WRITABLE).await.unwrap();
    /// assert!(guard.ready().is_writable());
    /// # });
    /// ```
    pub async fn ready_mut(
        &mut self,
        interest: Interest,
    ) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        let event = self.wait_listed(self.wait_mask(interest)?).await?;
        Ok(AsyncFdReadyMutGuard {
            fd: self,
            event: Some(event),
        })
    }

    /// Poll-based [`readable_mut`](Self::readable_mut). Only the waker of the
    /// most recent call is woken (the `&mut` borrow rules out another).
    ///
    /// ```
    /// # use std::io::Write;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// b.write_all(b"x").unwrap();
    /// let guard = std::future::poll_fn(|cx| match fd.poll_read_ready_mut(cx) {
    ///     std::task::Poll::Ready(r) => std::task::Poll::Ready(r.map(|g| g.ready())),
    ///     std::task::Poll::Pending => std::task::Poll::Pending,
    /// })
    /// .await
    /// .unwrap();
    /// assert!(guard.is_readable());
    /// # });
    /// ```
    pub fn poll_read_ready_mut<'a>(
        &'a mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyMutGuard<'a, T>>> {
        self.wait_mask(Interest::READABLE)?;
        let event = ready!(self.poll_ready(cx, Direction::Read))?;
        Poll::Ready(Ok(AsyncFdReadyMutGuard {
            fd: self,
            event: Some(event),
        }))
    }

    /// Poll-based [`writable_mut`](Self::writable_mut). Only the waker of the
    /// most recent call is woken.
    ///
    /// ```
    /// # use std::io::Write;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let n = std::future::poll_fn(|cx| match fd.poll_write_ready_mut(cx) {
    ///     std::task::Poll::Ready(Ok(mut guard)) => {
    ///         std::task::Poll::Ready(guard.try_io(|fd| fd.get_mut().write(b"ab")))
    ///     }
    ///     std::task::Poll::Ready(Err(e)) => std::task::Poll::Ready(Ok(Err(e))),
    ///     std::task::Poll::Pending => std::task::Poll::Pending,
    /// })
    /// .await
    /// .unwrap()
    /// .unwrap();
    /// assert_eq!(n, 2);
    /// # });
    /// ```
    pub fn poll_write_ready_mut<'a>(
        &'a mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyMutGuard<'a, T>>> {
        self.wait_mask(Interest::WRITABLE)?;
        let event = ready!(self.poll_ready(cx, Direction::Write))?;
        Poll::Ready(Ok(AsyncFdReadyMutGuard {
            fd: self,
            event: Some(event),
        }))
    }

    // ---- The crate's own readiness path, shared by every socket type. ----

    /// Waits (in the one-waker slot) until the fd is ready in `direction`.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        let ev = ready!(self.registration.io.poll_ready(cx, direction));
        if ev.is_shutdown() {
            return Poll::Ready(Err(shutdown_error()));
        }
        Poll::Ready(Ok(ev))
    }

    // ANCHOR: ready_listed
    /// Waits until the fd is ready for any bit of `mask`, in the waiter list:
    /// any number of tasks may wait like this at once (the `&self` async
    /// methods).
    pub(crate) async fn wait_listed(&self, mask: u64) -> io::Result<ReadyEvent> {
        let mut wait = ListedWait::new(&self.registration.io, mask);
        poll_fn(|cx| {
            // A loop of waits that return at once (a closed socket stays
            // readable) must still let the worker run the reactor and other
            // tasks.
            ready!(coop::poll_proceed(cx));
            let ev = ready!(wait.poll(cx));
            if ev.is_shutdown() {
                return Poll::Ready(Err(shutdown_error()));
            }
            Poll::Ready(Ok(ev))
        })
        .await
    }

    /// [`poll_io`](Self::poll_io) for the `&self` async methods: waits in
    /// the waiter list, so every concurrent caller is woken.
    pub(crate) async fn io_listed<R>(
        &self,
        mask: u64,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut wait = ListedWait::new(&self.registration.io, mask);
        poll_fn(|cx| {
            ready!(coop::poll_proceed(cx));
            loop {
                let ev = ready!(wait.poll(cx));
                if ev.is_shutdown() {
                    return Poll::Ready(Err(shutdown_error()));
                }
                match op(self.get_ref()) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear(ev),
                    r => return Poll::Ready(r),
                }
            }
        })
        .await
    }
    // ANCHOR_END: ready_listed

    // ANCHOR: poll_io
    /// Runs `op` when the fd is ready; on `WouldBlock`, clears the readiness
    /// it acted on and waits again.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        ready!(coop::poll_proceed(cx));
        loop {
            let ev = ready!(self.poll_ready(cx, direction))?;
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear(ev),
                r => return Poll::Ready(r),
            }
        }
    }
    // ANCHOR_END: poll_io

    /// One attempt without waiting: `WouldBlock` if the fd is not known to be
    /// ready (or turned out not to be). Like [`RawIo::poll_transfer`], a
    /// short transfer clears
    /// readiness at once, so the caller's next `try_` call says `WouldBlock`
    /// without a system call that would only return `EAGAIN`. `len: None`
    /// for calls where a short result means nothing (datagrams, accept).
    pub(crate) fn try_transfer<R>(
        &self,
        direction: Direction,
        len: Option<usize>,
        op: impl FnOnce(&T) -> io::Result<R>,
        transferred: impl FnOnce(&R) -> usize,
    ) -> io::Result<R> {
        let Some(ev) = self.registration.io.ready_event(direction) else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        if ev.is_shutdown() {
            return Err(shutdown_error());
        }
        match op(self.get_ref()) {
            Ok(r) => {
                let n = transferred(&r);
                if matches!(len, Some(len) if n > 0 && n < len) {
                    self.clear(ev);
                }
                Ok(r)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear(ev);
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) fn clear(&self, ev: ReadyEvent) {
        self.registration.io.clear_readiness(ev);
    }

    /// Clears the bits of `ready` that `ev` holds, against `ev`'s tick (so
    /// not if the reactor has delivered an event since); returns what is left
    /// of `ev` for the guard to keep, `None` if nothing.
    fn clear_matching(&self, ev: ReadyEvent, ready: Ready) -> Option<ReadyEvent> {
        let mut cleared = ev;
        cleared.ready &= ready.bits();
        self.clear(cleared);
        // The closed states stay set in the word, so the guard keeps them.
        let mut rest = ev;
        rest.ready &= !(ready.bits() & CLEARABLE);
        (rest.ready != 0).then_some(rest)
    }

    /// The untyped view the socket types' byte transfers go through.
    pub(crate) fn raw(&self) -> RawIo<'_> {
        RawIo {
            io: &self.registration.io,
            // SAFETY: `inner` owns the descriptor and lives as long as the
            // borrow of `self` the view carries.
            fd: unsafe { BorrowedFd::borrow_raw(self.get_ref().as_raw_fd()) },
        }
    }
}

impl<'a, T: AsRawFd> AsyncFdReadyGuard<'a, T> {
    /// The readiness that ended the wait, less what this guard has cleared
    /// since (empty after [`clear_ready`](Self::clear_ready) or
    /// [`retain_ready`](Self::retain_ready)).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let guard = fd.writable().await.unwrap();
    /// assert!(!guard.ready().is_read_closed());
    /// # });
    /// ```
    pub fn ready(&self) -> Ready {
        self.event
            .map_or(Ready::EMPTY, |ev| Ready::from_bits(ev.ready))
    }

    /// Forgets this readiness: the next wait sleeps until the reactor reports
    /// a new edge. Call it only after the descriptor said `WouldBlock`
    /// (otherwise data that is already there may never be reported again);
    /// [`try_io`](Self::try_io) does it for you. Closed states stay set.
    ///
    /// ```
    /// # use std::io::Read;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let mut guard = fd.writable().await.unwrap();
    /// guard.clear_ready();
    /// # });
    /// ```
    pub fn clear_ready(&mut self) {
        if let Some(ev) = self.event.take() {
            self.fd.clear(ev);
        }
    }

    /// Forgets only the readiness in `ready`, keeping the rest: for a guard
    /// that waited for several directions and learned about one (a read said
    /// `WouldBlock`; the fd may still be writable). Only bits this guard saw
    /// are cleared, and only `READABLE`, `WRITABLE` and `ERROR`: closed
    /// states stay set. As with [`clear_ready`](Self::clear_ready), nothing
    /// is cleared if the reactor has reported an event for the fd since the
    /// guard was made, so readiness that arrived meanwhile is never lost.
    /// [`ready`](Self::ready) no longer includes what was cleared.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use runtime::io::{AsyncFd, Interest, Ready};
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// b.write_all(b"x").unwrap(); // readable and writable before registering:
    /// let fd = AsyncFd::new(a).unwrap(); // one event reports both
    /// let mut guard = fd.ready(Interest::READABLE | Interest::WRITABLE).await.unwrap();
    /// assert!(guard.ready().is_readable() && guard.ready().is_writable());
    /// let mut buf = [0; 8];
    /// while fd.get_ref().read(&mut buf).is_ok() {} // drain: now WouldBlock
    /// guard.clear_ready_matching(Ready::READABLE);
    /// assert_eq!(guard.ready(), Ready::WRITABLE);
    /// fd.writable().await.unwrap(); // still writable: returns at once
    /// # });
    /// ```
    pub fn clear_ready_matching(&mut self, ready: Ready) {
        if let Some(ev) = self.event.take() {
            self.event = self.fd.clear_matching(ev, ready);
        }
    }

    /// Keeps the readiness (the default when the guard is dropped): the next
    /// wait returns at once.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// fd.writable().await.unwrap().retain_ready();
    /// fd.writable().await.unwrap(); // returns at once
    /// # });
    /// ```
    pub fn retain_ready(&mut self) {
        self.event = None;
    }

    /// Runs `f`; if it fails with `WouldBlock`, clears the readiness and
    /// returns `Err(TryIoError)` (wait again), otherwise returns its result.
    ///
    /// ```
    /// # use std::io::{Read, Write};
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// b.write_all(b"abc").unwrap();
    /// let mut guard = fd.readable().await.unwrap();
    /// let n = guard.try_io(|fd| fd.get_ref().read(&mut [0; 8])).unwrap().unwrap();
    /// assert_eq!(n, 3);
    /// # });
    /// ```
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&'a AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        match f(self.fd) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(TryIoError(()))
            }
            r => Ok(r),
        }
    }

    /// The `AsyncFd` this guard borrows.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let guard = fd.writable().await.unwrap();
    /// assert!(std::ptr::eq(guard.get_ref(), &fd));
    /// # });
    /// ```
    pub fn get_ref(&self) -> &'a AsyncFd<T> {
        self.fd
    }

    /// The object inside the `AsyncFd` this guard borrows.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let guard = fd.writable().await.unwrap();
    /// assert!(guard.get_inner().peer_addr().is_ok());
    /// # });
    /// ```
    pub fn get_inner(&self) -> &'a T {
        self.fd.get_ref()
    }
}

impl<'a, T: AsRawFd> AsyncFdReadyMutGuard<'a, T> {
    /// The readiness that ended the wait, less what this guard has cleared
    /// since (empty after [`clear_ready`](Self::clear_ready) or
    /// [`retain_ready`](Self::retain_ready)).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let guard = fd.writable_mut().await.unwrap();
    /// assert!(!guard.ready().is_read_closed());
    /// # });
    /// ```
    pub fn ready(&self) -> Ready {
        self.event
            .map_or(Ready::EMPTY, |ev| Ready::from_bits(ev.ready))
    }

    /// Forgets this readiness (see [`AsyncFdReadyGuard::clear_ready`]: call it
    /// only after the descriptor said `WouldBlock`).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let mut guard = fd.writable_mut().await.unwrap();
    /// guard.clear_ready();
    /// # });
    /// ```
    pub fn clear_ready(&mut self) {
        if let Some(ev) = self.event.take() {
            self.fd.clear(ev);
        }
    }

    /// Forgets only the readiness in `ready`, keeping the rest: for a guard
    /// that waited for several directions and learned about one (a read said
    /// `WouldBlock`; the fd may still be writable). Only bits this guard saw
    /// are cleared, and only `READABLE`, `WRITABLE` and `ERROR`: closed
    /// states stay set. As with [`clear_ready`](Self::clear_ready), nothing
    /// is cleared if the reactor has reported an event for the fd since the
    /// guard was made, so readiness that arrived meanwhile is never lost.
    /// [`ready`](Self::ready) no longer includes what was cleared.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use runtime::io::{AsyncFd, Interest, Ready};
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let mut fd = AsyncFd::new(a).unwrap();
    /// b.write_all(b"x").unwrap();
    /// let mut guard = fd.ready_mut(Interest::READABLE | Interest::WRITABLE).await.unwrap();
    /// let mut buf = [0; 8];
    /// while guard.get_inner_mut().read(&mut buf).is_ok() {} // drain: now WouldBlock
    /// guard.clear_ready_matching(Ready::READABLE);
    /// assert_eq!(guard.ready(), Ready::WRITABLE);
    /// fd.writable_mut().await.unwrap(); // still writable: returns at once
    /// # });
    /// ```
    pub fn clear_ready_matching(&mut self, ready: Ready) {
        if let Some(ev) = self.event.take() {
            self.event = self.fd.clear_matching(ev, ready);
        }
    }

    /// Keeps the readiness (the default when the guard is dropped).
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// fd.writable_mut().await.unwrap().retain_ready();
    /// fd.writable_mut().await.unwrap(); // returns at once
    /// # });
    /// ```
    pub fn retain_ready(&mut self) {
        self.event = None;
    }

    /// Runs `f` with the `AsyncFd` borrowed mutably; if it fails with
    /// `WouldBlock`, clears the readiness and returns `Err(TryIoError)`
    /// (wait again), otherwise returns its result.
    ///
    /// ```
    /// # use std::io::{Read, Write};
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let mut guard = fd.writable_mut().await.unwrap();
    /// // Nothing to read yet: WouldBlock clears the readiness.
    /// assert!(guard.try_io(|fd| fd.get_mut().read(&mut [0; 4])).is_err());
    /// assert!(guard.ready().is_empty());
    /// # });
    /// ```
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&mut AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        match f(self.fd) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(TryIoError(()))
            }
            r => Ok(r),
        }
    }

    /// The `AsyncFd` this guard borrows.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let guard = fd.writable_mut().await.unwrap();
    /// assert!(guard.get_ref().get_ref().peer_addr().is_ok());
    /// # });
    /// ```
    pub fn get_ref(&self) -> &AsyncFd<T> {
        self.fd
    }

    /// The `AsyncFd` this guard borrows, mutably.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let mut guard = fd.writable_mut().await.unwrap();
    /// let _fd: &mut runtime::io::AsyncFd<_> = guard.get_mut();
    /// # });
    /// ```
    pub fn get_mut(&mut self) -> &mut AsyncFd<T> {
        self.fd
    }

    /// The object inside the `AsyncFd`.
    ///
    /// ```
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let guard = fd.writable_mut().await.unwrap();
    /// assert!(guard.get_inner().peer_addr().is_ok());
    /// # });
    /// ```
    pub fn get_inner(&self) -> &T {
        self.fd.get_ref()
    }

    /// The object inside the `AsyncFd`, mutably.
    ///
    /// ```
    /// use std::io::Write;
    /// # let rt = runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # a.set_nonblocking(true).unwrap();
    /// let mut fd = runtime::io::AsyncFd::new(a).unwrap();
    /// let mut guard = fd.writable_mut().await.unwrap();
    /// guard.get_inner_mut().write_all(b"x").unwrap();
    /// # });
    /// ```
    pub fn get_inner_mut(&mut self) -> &mut T {
        self.fd.get_mut()
    }
}

impl<T> AsyncFdTryNewError<T> {
    /// The object that was not registered, and why.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let _guard = rt.handle().enter();
    /// let file = std::fs::File::open("/proc/self/status").unwrap();
    /// let (_file, cause) = runtime::io::AsyncFd::try_new(file).unwrap_err().into_parts();
    /// assert_eq!(cause.kind(), std::io::ErrorKind::PermissionDenied); // EPERM
    /// ```
    pub fn into_parts(self) -> (T, io::Error) {
        (self.inner, self.cause)
    }
}

/// The cause (the object is dropped).
impl<T> From<AsyncFdTryNewError<T>> for io::Error {
    fn from(e: AsyncFdTryNewError<T>) -> io::Error {
        e.cause
    }
}

impl<T> std::fmt::Debug for AsyncFdTryNewError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `T` need not be `Debug`: the cause is what matters.
        f.debug_struct("AsyncFdTryNewError")
            .field("cause", &self.cause)
            .finish_non_exhaustive()
    }
}

impl<T> std::fmt::Display for AsyncFdTryNewError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.cause.fmt(f)
    }
}

impl<T> std::error::Error for AsyncFdTryNewError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

impl<T: AsRawFd> AsRawFd for AsyncFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_raw_fd()
    }
}

impl<T: AsRawFd> AsFd for AsyncFd<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor is owned by `self.inner` and stays open for
        // as long as `self` is borrowed.
        unsafe { BorrowedFd::borrow_raw(self.as_raw_fd()) }
    }
}

impl<T: AsRawFd + std::fmt::Debug> std::fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncFd")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<T: AsRawFd> std::fmt::Debug for AsyncFdReadyGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncFdReadyGuard")
            .field("fd", &self.fd.as_raw_fd())
            .field("ready", &self.ready())
            .finish()
    }
}

impl<T: AsRawFd> std::fmt::Debug for AsyncFdReadyMutGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncFdReadyMutGuard")
            .field("fd", &self.fd.as_raw_fd())
            .field("ready", &self.ready())
            .finish()
    }
}

impl std::fmt::Display for TryIoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the operation would block; readiness was cleared")
    }
}

impl std::error::Error for TryIoError {}

// ANCHOR: drop
impl<T: AsRawFd> Drop for AsyncFd<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            // Deregister before closing, so the fd number cannot be reused by
            // a new socket while still in our epoll set: `inner` is still
            // open during the call.
            deregister_fd(&self.registration, inner.as_raw_fd());
            drop(inner);
        }
    }
}
// ANCHOR_END: drop

// ---- The untyped half, compiled once for the crate. ----
//
// The socket types instantiate `AsyncFd` for six `T`s, and the byte transfers
// (read, write, send, recv, peek, in `poll_`, `try_` and async flavours) were
// each stamped out per type and per closure: most of the crate's machine
// code. They need only the descriptor and its readiness, so they run on this
// view, with the system call as a `dyn` closure; `AsyncFd<T>` itself stays
// generic for users and for the calls that return typed results (accept,
// `recv_from`).

/// `get_ref` and friends after `into_inner` took the object: a bug in this
/// crate. Out of line and cold, so the hundred inlined `get_ref`s carry a
/// call rather than each its own panic message and location.
#[cold]
#[inline(never)]
#[track_caller]
fn used_after_into_inner() -> ! {
    unreachable!("AsyncFd used after into_inner")
}

/// Registers `fd` with the current runtime's reactor.
#[track_caller]
fn register_fd(fd: RawFd, interest: Interest, initially_ready: bool) -> io::Result<Registration> {
    let reactor = crate::context::with_current("creating an AsyncFd", |h| h.shared.reactor.clone());
    // SAFETY: the caller's `T` owns the descriptor and outlives this call.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    reactor.register(fd, initially_ready, interest.epoll_events())
}

/// Takes `fd` out of the epoll set; the caller still holds it open.
fn deregister_fd(registration: &Registration, fd: RawFd) {
    // SAFETY: the caller's `T` owns the descriptor and has not closed it yet.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    registration.deregister(fd);
}

/// A system call moving bytes through a descriptor; `Send`, so the futures
/// of the async transfers that hold one are.
pub(crate) type Transfer<'f> = dyn FnMut(BorrowedFd<'_>) -> io::Result<usize> + Send + 'f;

/// An [`AsyncFd`]'s descriptor and readiness, without its `T`.
#[derive(Clone, Copy)]
pub(crate) struct RawIo<'a> {
    io: &'a ScheduledIo,
    fd: BorrowedFd<'a>,
}

impl RawIo<'_> {
    // ANCHOR: poll_transfer
    /// After a transfer that moved `n` of `len` bytes: a short transfer means
    /// the kernel buffer is drained (read) or full (write), so the readiness
    /// is stale already and the next call should wait for the reactor rather
    /// than make a system call that would return `EAGAIN`. `len: None` where
    /// a short result means nothing (datagrams).
    fn settle(self, ev: ReadyEvent, len: Option<usize>, r: &io::Result<usize>) -> bool {
        match r {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.io.clear_readiness(ev);
                false
            }
            Ok(n) if matches!(len, Some(len) if *n > 0 && *n < len) => {
                self.io.clear_readiness(ev);
                true
            }
            _ => true,
        }
    }

    /// The `poll_` transfers: waits (in the one-waker slot) until the fd is
    /// ready in `direction`, runs `op`, and on `WouldBlock` waits again.
    // Out of line: the socket types' transfers all call it, and a copy
    // inlined into each was machine code for LLVM to optimize per caller.
    #[inline(never)]
    pub(crate) fn poll_transfer(
        self,
        cx: &mut Context<'_>,
        direction: Direction,
        len: Option<usize>,
        op: &mut Transfer<'_>,
    ) -> Poll<io::Result<usize>> {
        ready!(coop::poll_proceed(cx));
        loop {
            let ev = ready!(self.io.poll_ready(cx, direction));
            if ev.is_shutdown() {
                return Poll::Ready(Err(shutdown_error()));
            }
            let r = op(self.fd);
            if self.settle(ev, len, &r) {
                return Poll::Ready(r);
            }
        }
    }
    // ANCHOR_END: poll_transfer

    // ANCHOR: try_transfer
    /// The `try_` transfers: one attempt without waiting, `WouldBlock` if
    /// the fd is not known to be ready (or turned out not to be).
    #[inline(never)]
    pub(crate) fn try_transfer(
        self,
        direction: Direction,
        len: Option<usize>,
        op: &mut Transfer<'_>,
    ) -> io::Result<usize> {
        let Some(ev) = self.io.ready_event(direction) else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        if ev.is_shutdown() {
            return Err(shutdown_error());
        }
        let r = op(self.fd);
        self.settle(ev, len, &r);
        r
    }
    // ANCHOR_END: try_transfer

    /// The `&self` async transfers: wait in the waiter list, so every
    /// concurrent caller is woken.
    pub(crate) async fn transfer_listed(
        self,
        direction: Direction,
        op: &mut Transfer<'_>,
    ) -> io::Result<usize> {
        let mut wait = ListedWait::new(self.io, direction.mask());
        poll_fn(|cx| {
            // A loop of waits that return at once (a closed socket stays
            // readable) must still let the worker run the reactor and other
            // tasks.
            ready!(coop::poll_proceed(cx));
            loop {
                let ev = ready!(wait.poll(cx));
                if ev.is_shutdown() {
                    return Poll::Ready(Err(shutdown_error()));
                }
                let r = op(self.fd);
                if self.settle(ev, None, &r) {
                    return Poll::Ready(r);
                }
            }
        })
        .await
    }

    /// Waits (in the one-waker slot) until the fd is ready in `direction`.
    pub(crate) fn poll_ready(
        self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<()>> {
        let ev = ready!(self.io.poll_ready(cx, direction));
        if ev.is_shutdown() {
            return Poll::Ready(Err(shutdown_error()));
        }
        Poll::Ready(Ok(()))
    }
}

// Real descriptors and runtimes: not loom models.
#[cfg(all(test, not(loom)))]
mod tests {
    use std::future::Future;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::pin::pin;
    use std::task::{Context, Waker};

    use super::AsyncFd;
    use crate::io::{Interest, Ready};
    use crate::reactor::scheduled_io::READABLE;

    /// Whether `fut` completes on its first poll (it is dropped either way).
    fn ready_at_once<F: Future>(fut: F) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        pin!(fut).poll(&mut cx).is_ready()
    }

    /// A current-thread runtime and a socket pair whose first end (to wrap
    /// in an `AsyncFd`) is non-blocking, readable (one byte waits) and
    /// writable.
    fn readable_and_writable() -> (crate::Runtime, UnixStream, UnixStream) {
        let rt = crate::Builder::new_current_thread().build().unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.write_all(b"x").unwrap();
        (rt, a, b)
    }

    fn drain(fd: &AsyncFd<UnixStream>) {
        let mut buf = [0; 64];
        loop {
            match fd.get_ref().read(&mut buf) {
                Ok(n) => assert_ne!(n, 0, "the peer is open"),
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
                    return;
                }
            }
        }
    }

    /// Clearing READABLE after a read said `WouldBlock` keeps WRITABLE: the
    /// next `writable()` returns at once, the next `readable()` waits.
    #[test]
    #[cfg_attr(miri, ignore = "epoll is a real system call")]
    fn clear_ready_matching_keeps_the_other_direction() {
        let (rt, a, _b) = readable_and_writable();
        rt.block_on(async {
            let fd = AsyncFd::new(a).unwrap();
            let mut guard = fd
                .ready(Interest::READABLE | Interest::WRITABLE)
                .await
                .unwrap();
            assert_eq!(guard.ready(), Ready::READABLE | Ready::WRITABLE);
            drain(&fd);
            guard.clear_ready_matching(Ready::READABLE);
            assert_eq!(guard.ready(), Ready::WRITABLE);
            assert!(ready_at_once(fd.writable()), "WRITABLE was cleared too");
            assert!(!ready_at_once(fd.readable()), "READABLE was not cleared");
        });
    }

    /// The same through the `&mut` guard, clearing one bit at a time: the
    /// second clear (same tick) still works.
    #[test]
    #[cfg_attr(miri, ignore = "epoll is a real system call")]
    fn clear_ready_matching_on_the_mut_guard_one_bit_at_a_time() {
        let (rt, a, _b) = readable_and_writable();
        rt.block_on(async {
            let mut fd = AsyncFd::new(a).unwrap();
            let mut guard = fd
                .ready_mut(Interest::READABLE | Interest::WRITABLE)
                .await
                .unwrap();
            drain(guard.get_ref());
            guard.clear_ready_matching(Ready::READABLE);
            assert_eq!(guard.ready(), Ready::WRITABLE);
            guard.clear_ready_matching(Ready::WRITABLE);
            assert!(guard.ready().is_empty());
            assert!(!ready_at_once(fd.readable()));
            assert!(!ready_at_once(fd.writable()));
        });
    }

    /// New data reported by the reactor after the guard was made is not
    /// erased by the guard's (older) clear.
    #[test]
    #[cfg_attr(miri, ignore = "epoll is a real system call")]
    fn clear_ready_matching_keeps_readiness_that_arrived_after_the_guard() {
        let (rt, a, mut b) = readable_and_writable();
        rt.block_on(async {
            let fd = AsyncFd::new(a).unwrap();
            let mut guard = fd
                .ready(Interest::READABLE | Interest::WRITABLE)
                .await
                .unwrap();
            drain(&fd);
            // More data, and the reactor's report of it, between the read that
            // said WouldBlock and the clear (what a reactor on another worker
            // can do at any time; done here by hand to fix the order).
            b.write_all(b"y").unwrap();
            let mut wakers = Vec::new();
            fd.registration.io.set_readiness(READABLE, &mut wakers);
            guard.clear_ready_matching(Ready::READABLE);
            assert!(ready_at_once(fd.readable()), "the newer READABLE was lost");
            let mut buf = [0; 4];
            assert_eq!(fd.get_ref().read(&mut buf).unwrap(), 1);
        });
    }

    /// Only what the guard saw is cleared: a `writable()` guard cannot
    /// clear READABLE; and closed states stay, in the word and the guard.
    #[test]
    #[cfg_attr(miri, ignore = "epoll is a real system call")]
    fn clear_ready_matching_clears_only_seen_and_clearable_bits() {
        let (rt, a, b) = readable_and_writable();
        rt.block_on(async {
            let fd = AsyncFd::new(a).unwrap();
            fd.readable().await.unwrap().retain_ready();
            let mut guard = fd.writable().await.unwrap();
            guard.clear_ready_matching(Ready::READABLE);
            assert_eq!(guard.ready(), Ready::WRITABLE);
            assert!(
                ready_at_once(fd.readable()),
                "READABLE it never saw was cleared"
            );

            let mut guard = fd.readable().await.unwrap();
            drain(&fd);
            guard.clear_ready();
            // The hang-up is one edge: READABLE | READ_CLOSED together.
            drop(b);
            let mut guard = fd.readable().await.unwrap();
            assert!(guard.ready().is_read_closed(), "{:?}", guard.ready());
            guard.clear_ready_matching(Ready::READABLE | Ready::READ_CLOSED);
            assert!(guard.ready().is_read_closed());
            assert!(ready_at_once(fd.readable()), "READ_CLOSED is final");
        });
    }
}
