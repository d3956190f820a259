//! One connection, as plain `async` code: wait for input, read it, decode it, write the
//! replies, repeat; then close without losing a reply.
//!
//! # The loop
//!
//! ```text
//!   wait until readable (holding no buffer)  -- or the shutdown signal, or the idle deadline
//!        |
//!   read -> decode everything -> write all replies (awaiting) -> read again ...
//!        |  until the socket says WouldBlock
//!   go back to waiting
//! ```
//!
//! The three things a connection waits for besides input are expressed with the runtime's
//! combinators: [`race`] picks whichever comes first, the shutdown signal is a
//! [`CancellationToken`](runtime::cancel::CancellationToken), and the idle timeout is a
//! [`Deadline`] that moves on every bit of progress (moving it is a store; the timer is
//! re-armed only when it fires early, so a busy connection does not touch the timer queue per
//! read).
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
//! **Idle connections are cheap.** While waiting for input the connection holds only its
//! future's state: the framer (no heap memory unless a request is half-received), the stream,
//! the idle deadline and its shutdown wait. Buffers are taken from [`crate::pool`] only while
//! bytes move.
//!
//! **Closing.** When the server closes a connection on its own (`exit`, a limit, idle timeout,
//! shutdown), the client may still be sending. Closing a socket with unread input makes the
//! kernel send a reset and discard the replies still queued for the client. So the server
//! shuts down its sending side (the client sees end of input after the last reply), then reads
//! and discards until the client closes too, for a bounded *time* ([`linger`]).
//!
//! **Shutdown.** When the shutdown signal fires, a connection waiting for input stops waiting:
//! it reads whatever has already arrived, answers it, and closes. A connection busy writing
//! finishes the write first; the binary's `--shutdown-timeout` bounds how long that may take.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use runtime::combinator::{race, Deadline};
use runtime::net::TcpStream;

use crate::framing::{CloseReason, Framer};
use crate::stats::ActiveGuard;
use crate::{pool, Shared};

/// Bytes one connection may read (and answer) before it yields to the other tasks of its
/// worker: one read buffer's worth. A client streaming at full speed never lets its socket
/// run dry, so without a bound it would keep the worker for as long as it keeps sending; with
/// one, a round over N busy connections costs about N × this much work, and that round is
/// what a light client on the same worker waits for. Measured with the suite's `fairness`
/// rows (`loaded_stream`, 64 streaming clients): yielding after 16 reads (256 KiB) left the
/// light client a 50–60 ms median; 16 KiB brought it to a few ms, with no loss in the heavy
/// clients' throughput that the runs could resolve.
const BYTES_PER_TURN: usize = pool::READ_BUF_SIZE;

/// During shutdown, how often a lingering connection checks whether the client has
/// acknowledged everything (the kernel has no readiness event for that).
const SHUTDOWN_ACK_POLL: Duration = Duration::from_millis(10);

/// During shutdown, a lingering connection whose client has acknowledged everything is closed
/// once the client has also sent nothing for this long. Input arriving *after* the close would
/// make the kernel answer with a reset, and a reset destroys whatever the client has received
/// but not read yet; a client still sending is therefore waited for (until it closes, or the
/// shutdown timeout).
const SHUTDOWN_QUIET: Duration = Duration::from_millis(250);

/// How a connection ended.
#[derive(Debug)]
pub(crate) enum End {
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

/// What ended a wait for input.
enum Woken {
    Input,
    Shutdown,
    Idle,
    Failed(io::Error),
}

/// Serves one accepted connection until it ends, then closes it.
///
/// Never panics on anything the peer does; every outcome, errors included, ends here.
pub(crate) async fn handle(mut stream: TcpStream, peer: SocketAddr, mut guard: ActiveGuard) {
    let shared = guard.shared();
    // Replies are written in whole batches already; Nagle's algorithm would only add latency
    // to the last partial segment of each batch.
    if let Err(e) = stream.set_nodelay(true) {
        log::trace!("{peer}: set_nodelay: {e}");
    }
    log::debug!("{peer}: connected");

    let mut idle = Deadline::after(shared.config.idle_timeout);
    let end = serve(&mut stream, shared, &mut idle).await;

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
    match &end {
        End::Error(e) => log::debug!("{peer}: closed: {e}"),
        End::Closed(reason) => log::debug!("{peer}: closed: {reason}"),
        End::IdleTimeout { .. } => log::debug!("{peer}: closed: idle timeout"),
        End::Shutdown => log::debug!("{peer}: closed: server shutting down"),
    }
    // The service is over: the slot is free for the next client even while we linger.
    guard.end_service();
    if end.needs_linger() {
        linger(&stream, guard.shared()).await;
    }
}

// ANCHOR: serve
/// The read-decode-write loop; returns why it stopped.
async fn serve(stream: &mut TcpStream, shared: &Shared, idle: &mut Deadline) -> End {
    let mut framer = Framer::new(shared.config.framing, shared.config.limits);
    loop {
        match wait_readable(stream, shared, idle).await {
            // During shutdown: answer what has arrived, then stop.
            Woken::Input | Woken::Shutdown => {}
            Woken::Idle => return End::IdleTimeout { mid_reply: false },
            Woken::Failed(e) => return End::Error(e),
        }
        if let Some(end) = read_and_answer(stream, shared, &mut framer, idle).await {
            return end;
        }
        // Drained the socket. During shutdown that means everything received is answered.
        if shared.shutdown.is_cancelled() {
            return End::Shutdown;
        }
    }
}
// ANCHOR_END: serve

// ANCHOR: wait_readable
/// Waits for input without holding any buffer, unless shutdown or the idle deadline comes
/// first.
async fn wait_readable(stream: &TcpStream, shared: &Shared, idle: &mut Deadline) -> Woken {
    race(
        async {
            match stream.readable().await {
                Ok(()) => Woken::Input,
                Err(e) => Woken::Failed(e),
            }
        },
        race(
            async {
                shared.shutdown.cancelled().await;
                Woken::Shutdown
            },
            async {
                idle.await;
                Woken::Idle
            },
        ),
    )
    .await
}
// ANCHOR_END: wait_readable

// ANCHOR: read_and_answer
/// Reads until the socket would block, answering as it goes. `None` when drained.
async fn read_and_answer(
    stream: &mut TcpStream,
    shared: &Shared,
    framer: &mut Framer,
    idle: &mut Deadline,
) -> Option<End> {
    let mut turn_bytes = 0;
    loop {
        let mut out = pool::out_buf();
        let decoded = {
            let mut input = pool::read_buf();
            match stream.try_read(&mut input) {
                Ok(0) => framer.finish(&mut out),
                Ok(n) => {
                    shared.stats.add_in(n);
                    turn_bytes += n;
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
            progress(idle, shared);
        }
        if !out.is_empty() {
            if let Err(end) = write_all(stream, shared, &out, idle).await {
                return Some(end);
            }
        }
        if let Some(reason) = decoded.close {
            return Some(End::Closed(reason));
        }
        // `try_read` never waits, so the runtime's cooperative budget never runs out in this
        // loop: the connection counts its own bytes and yields when its turn is spent.
        if turn_bytes >= BYTES_PER_TURN {
            turn_bytes = 0;
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
    idle: &mut Deadline,
) -> Result<(), End> {
    let mut written = 0;
    while written < out.len() {
        let wrote = race(async { Some(stream.write(&out[written..]).await) }, async {
            (&mut *idle).await;
            None
        })
        .await;
        match wrote {
            Some(Ok(0)) => return Err(End::Error(ErrorKind::WriteZero.into())),
            Some(Ok(n)) => {
                written += n;
                shared.stats.add_out(n);
                progress(idle, shared);
            }
            Some(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
            Some(Err(e)) => return Err(End::Error(e)),
            None => return Err(End::IdleTimeout { mid_reply: true }),
        }
    }
    Ok(())
}
// ANCHOR_END: write_all

// ANCHOR: touch
/// Progress was made (a request answered, output accepted): the idle deadline moves out.
fn progress(idle: &mut Deadline, shared: &Shared) {
    if let Some(period) = shared.config.idle_timeout {
        idle.extend(period);
    }
}
// ANCHOR_END: touch

// ANCHOR: linger
/// Shuts down our sending side, then reads and discards until the client closes too.
///
/// Closing a socket with unread input makes the kernel send a reset and throw away the
/// replies still queued for the client, so the socket is only closed once nothing is left to
/// lose: the client closed, or (during shutdown) every byte we sent was acknowledged and the
/// client has stopped sending ([`SHUTDOWN_QUIET`]). The wait
/// is bounded by time, never by how much the client sends: `config.linger` normally; during
/// shutdown, the binary's `--shutdown-timeout` (the process exits then).
async fn linger(stream: &TcpStream, shared: &Shared) {
    // ENOTCONN here means the peer is gone already; nothing to wait for then.
    if stream.shutdown(std::net::Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + shared.config.linger;
    let mut last_input = Instant::now();
    while let Some(discarded) = discard_input(stream) {
        if discarded > 0 {
            last_input = Instant::now();
        }
        if shared.shutdown.is_cancelled() {
            if last_input.elapsed() >= SHUTDOWN_QUIET && unacknowledged(stream) == Some(0) {
                return;
            }
            // No readiness event says "acknowledged": look again shortly.
            let _ = runtime::time::timeout(SHUTDOWN_ACK_POLL, stream.readable()).await;
        } else {
            let more = race(
                async { stream.readable().await.is_ok() },
                race(
                    async {
                        runtime::time::sleep_until(deadline).await;
                        false
                    },
                    // Shutdown switches to the rule above at once.
                    async {
                        shared.shutdown.cancelled().await;
                        true
                    },
                ),
            )
            .await;
            if !more {
                return;
            }
        }
    }
}
// ANCHOR_END: linger

/// Reads and throws away everything the socket has; returns how many bytes. `None` once the
/// client closed (or the connection failed): nothing more will come.
fn discard_input(stream: &TcpStream) -> Option<usize> {
    let mut buf = pool::read_buf();
    let mut discarded = 0;
    loop {
        match stream.try_read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => discarded += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Some(discarded),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Shared};
    use std::sync::Arc;

    #[test]
    fn connection_future_is_small() {
        // Every idle connection is one of these futures (plus the runtime's task header), so
        // its size is most of the per-connection memory promise (1.2 KiB at 10,000).
        let rt = runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let shared = Arc::new(Shared::new(Config::default()));
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
