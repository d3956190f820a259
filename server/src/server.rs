//! Binding and the accept loop.
//!
//! # Binding
//!
//! [`bind`] creates the listening socket synchronously with `std`, before any runtime exists,
//! so that "port in use" or "permission denied" is reported at once with a clear message and
//! a plain exit code. `std` sets `SO_REUSEADDR` (so a restart does not wait out `TIME_WAIT`)
//! but listens with a small backlog; we call `listen` again with a larger one, which Linux
//! allows on a listening socket, so a burst of thousands of connects is not dropped.
//!
//! # Accepting
//!
//! [`serve`] is one task that accepts, counts and spawns. Each connection runs as its own
//! task, so a panic in one (there should be none) is contained by the runtime and can never
//! reach this loop; the [`ActiveGuard`] moved into the task keeps the count of open
//! connections right however the task ends. The `--max-connections` check happens here, where
//! the count is only ever incremented, so it is exact. A refused connection gets its one-line
//! message (line framing) with a non-blocking write and is closed at once: a refusal must cost
//! the server nothing, however many there are.
//!
//! Accept errors never end the loop. Running out of file descriptors (`EMFILE`, `ENFILE`) or
//! memory would make `accept` fail again immediately, so those back off briefly instead of
//! spinning; everything else (a connection reset before it was accepted, ...) is just logged.
//!
//! When the shutdown signal fires the loop returns and drops the listener: new connections are
//! refused by the kernel from then on, while existing ones finish (see the `conn` module).

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime::combinator::race;
use runtime::net::{TcpListener, TcpStream};

use crate::stats::ActiveGuard;
use crate::{conn, Shared};

/// Backlog for the listening socket (the kernel caps it at `net.core.somaxconn`).
pub const BACKLOG: i32 = 4096;

/// How long to pause accepting after running out of descriptors or memory.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// At most one log line per this long about running out of descriptors or memory.
const EXHAUSTION_REPORT_EVERY: Duration = Duration::from_secs(1);

/// Binds a non-blocking listening socket at `addr` with a [`BACKLOG`]-deep queue.
pub fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    // SAFETY: the descriptor belongs to `listener`, which is alive for the whole call;
    // `listen` on an already listening socket only updates its backlog.
    if unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(listener)
}

// ANCHOR: serve
/// Accepts connections until the shutdown signal fires, serving each in its own task.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut exhausted = RateLimit::default();
    loop {
        // The shutdown signal is polled first: once it fires, no further connection is taken.
        let accepted = race(
            async {
                shared.shutdown.cancelled().await;
                None
            },
            async { Some(listener.accept().await) },
        )
        .await;
        match accepted {
            None => break,
            Some(Ok((stream, peer))) => admit(stream, peer, &shared),
            Some(Err(e)) => {
                if is_resource_exhaustion(&e) {
                    if let Some(times) = exhausted.report(Instant::now()) {
                        log::warn!(
                            "accept: {e} ({times}x in the last {EXHAUSTION_REPORT_EVERY:?}); \
                             pausing {ACCEPT_BACKOFF:?} after each"
                        );
                    }
                    runtime::time::sleep(ACCEPT_BACKOFF).await;
                } else {
                    log::trace!("accept: {e}");
                }
            }
        }
    }
    log::trace!("stopped accepting");
}

/// Turns a burst of identical errors into one report per [`EXHAUSTION_REPORT_EVERY`].
#[derive(Debug, Default)]
struct RateLimit {
    last_report: Option<Instant>,
    /// Occurrences since the last report, this one included.
    count: u64,
}

impl RateLimit {
    /// Counts one occurrence; `Some(count)` when it is time to report that many.
    fn report(&mut self, now: Instant) -> Option<u64> {
        self.count += 1;
        match self.last_report {
            Some(last) if now.duration_since(last) < EXHAUSTION_REPORT_EVERY => None,
            _ => {
                self.last_report = Some(now);
                Some(std::mem::take(&mut self.count))
            }
        }
    }
}
// ANCHOR_END: serve

// ANCHOR: admit
fn admit(stream: TcpStream, peer: SocketAddr, shared: &Arc<Shared>) {
    if shared.stats.active.load(Relaxed) >= shared.config.max_connections {
        refuse(&stream, peer, shared);
        return;
    }
    let guard = ActiveGuard::new(Arc::clone(shared));
    // The JoinHandle is dropped: connections are detached, and their end is observed through
    // the guard (count of open connections) and the stats.
    let _detached = runtime::spawn(async move {
        conn::handle(stream, peer, guard).await;
    });
}
// ANCHOR_END: admit

fn refuse(stream: &TcpStream, peer: SocketAddr, shared: &Shared) {
    shared.stats.refused.fetch_add(1, Relaxed);
    log::debug!(
        "{peer}: refused (--max-connections {})",
        shared.config.max_connections
    );
    if let Some(msg) = shared.config.framing.busy_message() {
        // A fresh connection's send buffer is empty, so this either fits whole or the peer
        // is already gone; waiting for it is not worth a task.
        if let Ok(n) = stream.try_write(msg) {
            shared.stats.add_out(n);
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

// ANCHOR: is_resource_exhaustion
fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
// ANCHOR_END: is_resource_exhaustion

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhaustion_is_reported_once_per_period_with_a_count() {
        let mut limit = RateLimit::default();
        let t0 = Instant::now();
        assert_eq!(
            limit.report(t0),
            Some(1),
            "the first one is reported at once"
        );
        for i in 1..25 {
            assert_eq!(limit.report(t0 + Duration::from_millis(40 * i)), None);
        }
        assert_eq!(limit.report(t0 + EXHAUSTION_REPORT_EVERY), Some(25));
        assert_eq!(limit.report(t0 + EXHAUSTION_REPORT_EVERY * 3), Some(1));
    }
}
