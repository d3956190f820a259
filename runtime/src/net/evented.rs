//! An fd registered with the reactor, and the "try, and on EAGAIN wait" loop
//! every socket operation is built from.

use std::io;
use std::os::fd::AsRawFd;
use std::task::{ready, Context, Poll};

use crate::coop;
use crate::reactor::{shutdown_error, Direction, ReadyEvent, Registration};

pub(crate) struct Evented<T: AsRawFd> {
    io: Option<T>,
    registration: Registration,
}

impl<T: AsRawFd> Evented<T> {
    /// Registers `io` with the current runtime's reactor.
    pub(crate) fn new(io: T, initially_ready: bool) -> io::Result<Evented<T>> {
        let reactor =
            crate::context::with_current("creating a socket", |h| h.shared.reactor.clone());
        let registration = reactor.register(io.as_raw_fd(), initially_ready)?;
        Ok(Evented {
            io: Some(io),
            registration,
        })
    }

    pub(crate) fn get_ref(&self) -> &T {
        match &self.io {
            Some(io) => io,
            None => unreachable!("I/O object used after drop"),
        }
    }

    /// Waits until the fd is ready in `direction`.
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

    // ANCHOR: poll_io
    /// Runs `op` when the fd is ready; on `WouldBlock`, clears the readiness
    /// it acted on and waits again. `op` also gets the readiness event so it
    /// can clear readiness early (after a short read, the socket is drained).
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
    /// without a system call that would only return `EAGAIN`.
    pub(crate) fn try_transfer(
        &self,
        direction: Direction,
        len: usize,
        op: impl FnOnce(&T) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let Some(ev) = self.registration.io.ready_event(direction) else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        if ev.is_shutdown() {
            return Err(shutdown_error());
        }
        match op(self.get_ref()) {
            Ok(n) if n > 0 && n < len => {
                self.clear(ev);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear(ev);
                Err(e)
            }
            r => r,
        }
    }
    // ANCHOR_END: try_transfer

    fn clear(&self, ev: ReadyEvent) {
        self.registration.io.clear_readiness(ev);
    }
}

// ANCHOR: drop
impl<T: AsRawFd> Drop for Evented<T> {
    fn drop(&mut self) {
        if let Some(io) = self.io.take() {
            // Deregister before closing, so the fd number cannot be reused by a
            // new socket while still in our epoll set.
            self.registration.deregister(io.as_raw_fd());
            drop(io);
        }
    }
}
// ANCHOR_END: drop
