//! One connection: a plain `async fn` over a `TcpStream`.
//!
//! # The loop
//!
//! ```text
//!   wait until readable (holding no buffer)  <-- idle timer, shutdown signal
//!        |
//!   take a read and an output buffer from the thread's pool
//!   try_read -> decode everything -> write all replies (awaiting) -> try_read again ...
//!        |  until the socket says WouldBlock
//!   give the buffers back, go back to waiting
//! ```
//!
//! **Batching.** Each read is decoded in one go: the replies to every request it completes are
//! appended to one output buffer and written with one `write` (more only if the kernel takes
//! it in pieces). A client pipelining 100,000 lines costs a few hundred system calls, not
//! 200,000.
//!
//! **Backpressure.** The next read only happens after the previous replies were written. A
//! client that sends without reading fills its receive window, then our send buffer; the
//! write then waits, and so nothing more is read from it. Its memory on the server is one
//! output buffer and the framer's pending bytes; the kernel's own buffers and TCP flow
//! control hold everything else back.
//!
//! **Idle connections are cheap.** While waiting for readiness the connection holds only its
//! future's state: the framer (no heap memory unless a request is half-received), the stream,
//! a timer and a shutdown listener. Buffers are borrowed from [`crate::pool`] only while bytes
//! move and given back when the socket is drained.
//!
//! **Idle timeout.** The timer's deadline moves forward whenever a request is completed or the
//! client accepts some of our output; if it passes first, the connection is closed. Moving the
//! deadline is just storing an `Instant`: the runtime's timer is only re-armed when it fires
//! early (at the old deadline), so a busy connection does not touch the timer queue per read.
//!
//! **Closing.** When the server closes a connection on its own (`exit`, a limit, idle timeout,
//! shutdown), the client may still be sending. Closing a socket with unread input makes the
//! kernel send a reset, which can destroy replies still in flight. So the server shuts down its
//! sending side (the client sees end of input after the last reply) and then reads and
//! discards for a short, bounded time until the client closes too ("lingering close").
//!
//! **Shutdown.** When the shutdown signal fires, a connection waiting for input stops waiting:
//! it reads whatever has already arrived, answers it, and closes. A connection busy writing
//! finishes the write first; the binary's `--shutdown-timeout` bounds how long that may take.

use std::future::{poll_fn, Future};
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Duration;

use runtime::net::TcpStream;
use runtime::time::{Instant, Sleep};

use crate::framing::{CloseReason, Framer};
use crate::shutdown::Listener;
use crate::stats::ActiveGuard;
use crate::{pool, Shared};

/// Reads handled back to back before the connection yields to other tasks, so that one
/// client streaming at full speed cannot starve the rest of its worker.
const READS_PER_YIELD: u32 = 16;

/// During shutdown, how often a lingering connection checks whether the client has
/// acknowledged everything (the kernel has no readiness event for that).
const SHUTDOWN_ACK_POLL: Duration = Duration::from_millis(5);

/// How a connection ended.
#[derive(Debug)]
pub enum End {
    /// The framer closed it: end of input, `exit`, or a limit.
    Closed(CloseReason),
    /// No progress for `--idle-timeout`.
    IdleTimeout {
        /// The client stopped accepting output in the middle of a reply.
        mid_reply: bool,
    },
    /// The server is shutting down; everything received was answered.
    Shutdown,
    /// An I/O error (reset by the peer, ...).
    Error(io::Error),
}

impl End {
    /// Whether the client may still be sending, so the close should linger.
    fn needs_linger(&self) -> bool {
        match self {
            End::Closed(reason) => matches!(
                reason,
                CloseReason::Exit | CloseReason::LineTooLong | CloseReason::FrameTooLong
            ),
            End::IdleTimeout { .. } | End::Shutdown => true,
            End::Error(_) => false,
        }
    }
}

/// Serves one accepted connection until it ends, then closes it.
///
/// Never panics on anything the peer does; every outcome, errors included, is an [`End`].
pub async fn handle(mut stream: TcpStream, peer: SocketAddr, mut guard: ActiveGuard) -> End {
    let shared: &Shared = guard.shared();
    // Replies are written in whole batches already; Nagle's algorithm would only add latency
    // to the last partial segment of each batch.
    if let Err(e) = stream.set_nodelay(true) {
        log::trace!("{peer}: set_nodelay: {e}");
    }
    log::debug!("{peer}: connected");

    let mut stop = shared.shutdown.listener();
    let first_deadline = shared.config.idle_timeout.map(|d| Instant::now() + d);
    let sleep = pin!(first_deadline.map(runtime::time::sleep_until));
    let mut idle = IdleTimer {
        sleep,
        deadline: first_deadline,
        period: shared.config.idle_timeout,
    };
    let mut framer = Framer::new(shared.config.framing, shared.config.limits);

    let end = serve(&mut stream, shared, &mut framer, &mut idle, &mut stop).await;

    if let End::IdleTimeout { mid_reply } = end {
        shared
            .stats
            .idle_timeouts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Telling the client why only makes sense between replies, not inside one.
        if let (false, Some(msg)) = (mid_reply, shared.config.framing.idle_timeout_message()) {
            if let Ok(n) = stream.try_write(msg) {
                shared.stats.add_out(n);
            }
        }
    }
    // The service is over: the slot is free for the next client even while we linger.
    guard.end_service();
    let shared: &Shared = guard.shared();
    if end.needs_linger() {
        linger(&stream, shared).await;
    }
    match &end {
        End::Error(e) => log::debug!("{peer}: closed: {e}"),
        End::Closed(reason) => log::debug!("{peer}: closed: {reason}"),
        End::IdleTimeout { .. } => log::debug!("{peer}: closed: idle timeout"),
        End::Shutdown => log::debug!("{peer}: closed: server shutting down"),
    }
    end
}

// ANCHOR: serve
/// The read-decode-write loop; returns why it stopped.
async fn serve(
    stream: &mut TcpStream,
    shared: &Shared,
    framer: &mut Framer,
    idle: &mut IdleTimer<'_>,
    stop: &mut Listener,
) -> End {
    let mut draining = false;
    loop {
        if !draining {
            match wait_readable(stream, idle, stop).await {
                Wait::Readable => {}
                Wait::Shutdown => draining = true,
                Wait::Idle => return End::IdleTimeout { mid_reply: false },
                Wait::Error(e) => return End::Error(e),
            }
        }
        if let Some(end) = read_and_answer(stream, shared, framer, idle).await {
            return end;
        }
        // Drained the socket. During shutdown that means everything received is answered.
        if draining || stop.is_triggered() {
            return End::Shutdown;
        }
    }
}
// ANCHOR_END: serve

// ANCHOR: read_and_answer
/// Reads until the socket would block, answering as it goes. `None` when drained.
async fn read_and_answer(
    stream: &mut TcpStream,
    shared: &Shared,
    framer: &mut Framer,
    idle: &mut IdleTimer<'_>,
) -> Option<End> {
    let mut budget = READS_PER_YIELD;
    loop {
        let mut out = pool::out_buf();
        let decoded = {
            let mut input = pool::read_buf();
            match stream.try_read(&mut input) {
                Ok(0) => framer.finish(&mut out),
                Ok(n) => {
                    shared.stats.add_in(n);
                    framer.decode(&input[..n], &mut out)
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Some(End::Error(e)),
            }
            // The read buffer goes back to the pool here, before a write that may wait long.
        };
        shared.stats.add_replies(decoded.replies);
        if decoded.replies > 0 {
            idle.touch();
        }
        if !out.is_empty() {
            if let Err(end) = write_all(stream, shared, &out, idle).await {
                return Some(end);
            }
        }
        if let Some(reason) = decoded.close {
            return Some(End::Closed(reason));
        }
        budget -= 1;
        if budget == 0 {
            budget = READS_PER_YIELD;
            runtime::task::yield_now().await;
        }
    }
}
// ANCHOR_END: read_and_answer

// ANCHOR: write_all
/// Writes all of `out`, moving the idle deadline on every bit of progress.
async fn write_all(
    stream: &mut TcpStream,
    shared: &Shared,
    out: &[u8],
    idle: &mut IdleTimer<'_>,
) -> Result<(), End> {
    let mut written = 0;
    while written < out.len() {
        let result = {
            let mut write = pin!(stream.write(&out[written..]));
            poll_fn(|cx| {
                if let Poll::Ready(r) = write.as_mut().poll(cx) {
                    return Poll::Ready(Some(r));
                }
                idle.poll_expired(cx).map(|()| None)
            })
            .await
        };
        match result {
            Some(Ok(0)) => return Err(End::Error(ErrorKind::WriteZero.into())),
            Some(Ok(n)) => {
                written += n;
                shared.stats.add_out(n);
                idle.touch();
            }
            Some(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
            Some(Err(e)) => return Err(End::Error(e)),
            None => return Err(End::IdleTimeout { mid_reply: true }),
        }
    }
    Ok(())
}
// ANCHOR_END: write_all

enum Wait {
    Readable,
    Shutdown,
    Idle,
    Error(io::Error),
}

// ANCHOR: wait_readable
/// Waits for input without holding any buffer, unless shutdown or the idle timer comes first.
async fn wait_readable(stream: &TcpStream, idle: &mut IdleTimer<'_>, stop: &mut Listener) -> Wait {
    let mut readable = pin!(stream.readable());
    poll_fn(|cx| {
        if let Poll::Ready(r) = readable.as_mut().poll(cx) {
            return Poll::Ready(match r {
                Ok(()) => Wait::Readable,
                Err(e) => Wait::Error(e),
            });
        }
        if stop.poll_triggered(cx).is_ready() {
            return Poll::Ready(Wait::Shutdown);
        }
        idle.poll_expired(cx).map(|()| Wait::Idle)
    })
    .await
}
// ANCHOR_END: wait_readable

// ANCHOR: linger
/// Shuts down our sending side, then reads and discards until the client closes too.
///
/// Closing a socket with unread input makes the kernel send a reset and throw away the
/// replies still queued for the client, so the socket is only closed once nothing is left to
/// lose: the client closed, or (during shutdown) every byte we sent was acknowledged and no
/// input is pending. The wait is bounded by time, never by how much the client sends:
/// `config.linger` normally; during shutdown, the process's `--shutdown-timeout` (the binary
/// exits then).
async fn linger(stream: &TcpStream, shared: &Shared) {
    // ENOTCONN here means the peer is gone already; nothing to wait for then.
    if stream.shutdown(std::net::Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + shared.config.linger;
    loop {
        match discard_input(stream) {
            Some(()) => {}
            None => return,
        }
        let stopping = shared.shutdown.is_triggered();
        if stopping && unacknowledged(stream) == Some(0) {
            return;
        }
        if !stopping && Instant::now() >= deadline {
            return;
        }
        // Wake for more input; during shutdown also now and then to look at the
        // acknowledgements, otherwise at the deadline.
        let wait = if stopping {
            SHUTDOWN_ACK_POLL
        } else {
            deadline.saturating_duration_since(Instant::now())
        };
        if let Ok(Err(_)) = runtime::time::timeout(wait, stream.readable()).await {
            return;
        }
    }
}
// ANCHOR_END: linger

/// Reads and throws away everything the socket has. `None` once the client closed (or the
/// connection failed): nothing more will come.
fn discard_input(stream: &TcpStream) -> Option<()> {
    let mut buf = pool::read_buf();
    loop {
        match stream.try_read(&mut buf) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Some(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// Bytes we sent that the client has not acknowledged yet (`SIOCOUTQ`); `None` if the kernel
/// will not say.
fn unacknowledged(stream: &TcpStream) -> Option<usize> {
    let mut queued: libc::c_int = 0;
    // SAFETY: `stream` owns the descriptor for the whole call, and TIOCOUTQ (= SIOCOUTQ on a
    // TCP socket) writes one `c_int` through the pointer, which points at `queued`.
    let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    if rc == 0 {
        usize::try_from(queued).ok()
    } else {
        None
    }
}

/// The idle deadline and the runtime timer that watches it.
///
/// `deadline` is the truth; the timer may be set earlier than it. When the timer fires early,
/// it is re-armed at the current deadline instead of reporting a timeout.
struct IdleTimer<'a> {
    sleep: Pin<&'a mut Option<Sleep>>,
    deadline: Option<Instant>,
    period: Option<Duration>,
}

impl IdleTimer<'_> {
    // ANCHOR: touch
    /// Progress was made: push the deadline out.
    fn touch(&mut self) {
        if let Some(period) = self.period {
            self.deadline = Some(Instant::now() + period);
        }
    }
    // ANCHOR_END: touch

    // ANCHOR: poll_expired
    /// `Ready` once the deadline has passed; never, without an idle timeout.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let (Some(mut sleep), Some(deadline)) = (self.sleep.as_mut().as_pin_mut(), self.deadline)
        else {
            return Poll::Pending;
        };
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            sleep.as_mut().reset(deadline);
        }
    }
    // ANCHOR_END: poll_expired
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Shared};

    #[test]
    fn connection_future_is_small() {
        // Every idle connection is one of these futures (plus the runtime's task header), so
        // its size is most of the per-connection memory promise (2 KiB at 10,000).
        let rt = runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let shared = std::sync::Arc::new(Shared::new(Config::default()));
        rt.block_on(async {
            let listener = runtime::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("local_addr");
            let stream = runtime::net::TcpStream::connect(addr)
                .await
                .expect("connect");
            let fut = handle(stream, addr, ActiveGuard::new(shared));
            let size = std::mem::size_of_val(&fut);
            assert!(size <= 1024, "connection future is {size} bytes");
        });
    }
}
