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
//! is for callers who saw `WouldBlock` some other way.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{ready, Context, Poll};

use super::{Interest, Ready};
use crate::coop;
use crate::reactor::{shutdown_error, Direction, ListedWait, ReadyEvent, Registration};

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
        // Nothing is assumed ready: epoll reports the current state as the
        // first edge when the fd is added.
        AsyncFd::with_readiness(inner, false)
    }

    /// `initially_ready`: start out assuming the fd is readable and writable
    /// (see `ScheduledIo::new`).
    #[track_caller]
    pub(crate) fn with_readiness(inner: T, initially_ready: bool) -> io::Result<AsyncFd<T>> {
        let reactor =
            crate::context::with_current("creating an AsyncFd", |h| h.shared.reactor.clone());
        // SAFETY: `inner` owns the descriptor and is alive for this borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(inner.as_raw_fd()) };
        let registration = reactor.register(fd, initially_ready)?;
        Ok(AsyncFd {
            inner: Some(inner),
            registration,
        })
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
            None => unreachable!("AsyncFd used after into_inner"),
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
            None => unreachable!("AsyncFd used after into_inner"),
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
            .unwrap_or_else(|| unreachable!("AsyncFd used after into_inner"))
    }

    fn deregister_and_take(&mut self) -> Option<T> {
        let inner = self.inner.take()?;
        // Deregister while `inner` is still open: the borrow proves it.
        // SAFETY: `inner` owns the descriptor and is alive for this borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(inner.as_raw_fd()) };
        self.registration.deregister(fd);
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
        let event = self.wait_listed(interest.mask()).await?;
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
        self.io_listed(interest.mask(), op).await
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
        let event = ready!(self.poll_ready(cx, Direction::Write))?;
        Poll::Ready(Ok(AsyncFdReadyGuard {
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

    // ANCHOR: poll_transfer
    /// Like [`poll_io`](Self::poll_io) for reads and writes of a buffer of
    /// `len` bytes: a transfer shorter than asked means the kernel buffer is
    /// drained (read) or full (write), so readiness is cleared right away and
    /// the next call waits for the reactor instead of making a system call
    /// that would return `EAGAIN`.
    pub(crate) fn poll_transfer(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        len: usize,
        mut op: impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        ready!(coop::poll_proceed(cx));
        loop {
            let ev = ready!(self.poll_ready(cx, direction))?;
            match op(self.get_ref()) {
                Ok(n) if n > 0 && n < len => {
                    self.clear(ev);
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear(ev),
                r => return Poll::Ready(r),
            }
        }
    }
    // ANCHOR_END: poll_transfer

    // ANCHOR: try_transfer
    /// One attempt without waiting: `WouldBlock` if the fd is not known to be
    /// ready (or turned out not to be). Like
    /// [`poll_transfer`](Self::poll_transfer), a short transfer clears
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
    // ANCHOR_END: try_transfer

    pub(crate) fn clear(&self, ev: ReadyEvent) {
        self.registration.io.clear_readiness(ev);
    }
}

impl<'a, T: AsRawFd> AsyncFdReadyGuard<'a, T> {
    /// The readiness that ended the wait.
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
            // a new socket while still in our epoll set. The borrow proves
            // `inner` is still open during the call.
            // SAFETY: `inner` owns the descriptor and is alive for this borrow.
            let fd = unsafe { BorrowedFd::borrow_raw(inner.as_raw_fd()) };
            self.registration.deregister(fd);
            drop(inner);
        }
    }
}
// ANCHOR_END: drop
