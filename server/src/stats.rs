//! Counters for the exit summary.
//!
//! Connections update them once per read or write (not per line) with relaxed atomics: they
//! are statistics, read once at exit, and need no ordering with anything else. The one counter
//! that steers behaviour, `active`, is only incremented by the accept loop (so the
//! `--max-connections` check there is exact) and decremented by [`ActiveGuard`]'s `Drop`, which
//! runs even if a connection task panics or is dropped mid-flight.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use crate::framing::Framing;

/// Server-wide counters.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted and served.
    pub connections: AtomicU64,
    /// Connections refused because of `--max-connections`.
    pub refused: AtomicU64,
    /// Connections being served right now (what `--max-connections` limits).
    pub active: AtomicUsize,
    /// Connections whose socket is still open: those being served plus those in their
    /// lingering close. Shutdown waits for this to reach zero.
    pub open: AtomicUsize,
    /// Lines, frames or chunks answered.
    pub replies: AtomicU64,
    /// Bytes read from clients.
    pub bytes_in: AtomicU64,
    /// Bytes written to clients.
    pub bytes_out: AtomicU64,
    /// Connections closed by `--idle-timeout`.
    pub idle_timeouts: AtomicU64,
}

/// A point-in-time copy of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// See [`Stats::connections`].
    pub connections: u64,
    /// See [`Stats::refused`].
    pub refused: u64,
    /// See [`Stats::active`].
    pub active: usize,
    /// See [`Stats::open`].
    pub open: usize,
    /// See [`Stats::replies`].
    pub replies: u64,
    /// See [`Stats::bytes_in`].
    pub bytes_in: u64,
    /// See [`Stats::bytes_out`].
    pub bytes_out: u64,
    /// See [`Stats::idle_timeouts`].
    pub idle_timeouts: u64,
}

impl Stats {
    /// Reads every counter.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            connections: self.connections.load(Relaxed),
            refused: self.refused.load(Relaxed),
            active: self.active.load(Relaxed),
            open: self.open.load(Relaxed),
            replies: self.replies.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            idle_timeouts: self.idle_timeouts.load(Relaxed),
        }
    }

    pub(crate) fn add_in(&self, n: usize) {
        self.bytes_in.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn add_out(&self, n: usize) {
        self.bytes_out.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn add_replies(&self, n: u64) {
        if n > 0 {
            self.replies.fetch_add(n, Relaxed);
        }
    }
}

impl Snapshot {
    /// The one-line exit summary, e.g.
    /// `summary: 3 connections served (0 refused), 12 lines answered, 60 bytes in, 60 bytes out`.
    pub fn summary(&self, framing: Framing) -> String {
        format!(
            "summary: {} connections served ({} refused, {} idle timeouts, {} still open), \
             {} {} answered, {} bytes in, {} bytes out",
            self.connections,
            self.refused,
            self.idle_timeouts,
            self.open,
            self.replies,
            framing.unit(),
            self.bytes_in,
            self.bytes_out,
        )
    }
}

/// The runtime's counters in one line: `runtime: 2 workers, 10 tasks spawned, ...`.
///
/// Appended to the exit summary and printed every few seconds with `-v`.
pub fn runtime_line(m: &runtime::RuntimeMetrics) -> String {
    let per_wait = if m.epoll_waits == 0 {
        0.0
    } else {
        m.epoll_events as f64 / m.epoll_waits as f64
    };
    format!(
        "runtime: {} workers, {} tasks spawned ({} alive), {} polls, {} steals, {} parks, \
         {} epoll_waits ({per_wait:.1} events/wait), queues {} global + {:?} local, {} timers",
        m.workers,
        m.tasks_spawned,
        m.tasks_alive,
        m.polls,
        m.steals,
        m.parks,
        m.epoll_waits,
        m.global_queue_depth,
        m.local_queue_depths,
        m.timers_pending,
    )
}

/// Counts one connection as active (and open) for as long as it lives; [`end_service`]
/// frees its `--max-connections` slot earlier, when the service ends and only the lingering
/// close is left.
///
/// [`end_service`]: ActiveGuard::end_service
#[derive(Debug)]
pub struct ActiveGuard {
    shared: Arc<crate::Shared>,
    serving: bool,
}

impl ActiveGuard {
    /// Marks one more connection active. Call only from the accept loop.
    pub fn new(shared: Arc<crate::Shared>) -> ActiveGuard {
        shared.stats.active.fetch_add(1, Relaxed);
        shared.stats.open.fetch_add(1, Relaxed);
        shared.stats.connections.fetch_add(1, Relaxed);
        ActiveGuard {
            shared,
            serving: true,
        }
    }

    /// The service is over: the connection no longer counts against `--max-connections`,
    /// though its socket stays open (and counted in `open`) until the guard is dropped.
    pub fn end_service(&mut self) {
        if std::mem::replace(&mut self.serving, false) {
            self.shared.stats.active.fetch_sub(1, Relaxed);
        }
    }

    /// The shared server state, which the guard keeps alive.
    pub fn shared(&self) -> &Arc<crate::Shared> {
        &self.shared
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.end_service();
        self.shared.stats.open.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_the_framing_unit() {
        let s = Snapshot {
            connections: 3,
            replies: 12,
            bytes_in: 60,
            bytes_out: 61,
            ..Snapshot::default()
        };
        let line = s.summary(Framing::Line);
        assert!(line.starts_with("summary: 3 connections served"), "{line}");
        assert!(
            line.contains("12 lines answered, 60 bytes in, 61 bytes out"),
            "{line}"
        );
        assert!(s.summary(Framing::Length).contains("12 frames answered"));
        assert!(!line.contains('\n'));
    }

    #[test]
    fn runtime_line_reports_the_counters() {
        let rt = runtime::Builder::new().worker_threads(2).build().unwrap();
        rt.block_on(async { runtime::spawn(async {}).await.unwrap() });
        let line = runtime_line(&rt.metrics());
        assert!(
            line.starts_with("runtime: 2 workers, 1 tasks spawned (0 alive)"),
            "{line}"
        );
        assert!(line.contains("events/wait"), "{line}");
        assert!(!line.contains('\n'));
    }
}
