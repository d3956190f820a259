//! Logging to stderr that can never hold up or break the service.
//!
//! The server logs through the `log` facade (`log::info!`, `log::debug!`, ...). This module is
//! the one backend behind it, and it is built around one rule: **stderr is not part of the
//! service.** stderr may be a terminal, a file on a full disk, a pipe whose reader went away,
//! a pipe nobody drains, or not open at all; none of that may slow a worker, fail a
//! connection or panic.
//!
//! - A worker never writes to stderr. [`log::Log::log`] formats the line and hands it to a
//!   bounded queue with a non-blocking send; a dedicated thread does the writing. A worker
//!   therefore never blocks on a pipe, whatever the reader does.
//! - When the queue is full (stderr is slower than the log, or blocked), the line is dropped
//!   and counted ([`dropped`]); the count appears in the exit summary.
//! - Write errors (`EPIPE`, `ENOSPC`, `EBADF`) are counted the same way and otherwise ignored.
//! - [`flush`] waits a bounded time for the queue to drain, so exit prints the summary when
//!   stderr works and never hangs when it does not.
//! - [`init`] makes sure descriptors 0, 1 and 2 are open (on `/dev/null` if not): a server
//!   started with stderr closed would otherwise hand descriptor 2 to the first socket it
//!   opens, and log lines would then go to a client.
//!
//! Levels: `info`/`warn`/`error` are always printed (startup, warnings, the summary); `-v`
//! adds `debug` (one line per connection event); `-vv` adds `trace` (details).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::OnceLock;
use std::time::Duration;

/// Lines waiting for the writer thread at most; more are dropped.
const QUEUE: usize = 1024;

enum Msg {
    Line(String),
    /// Answer on the enclosed channel once every earlier line was written.
    Flush(SyncSender<()>),
}

struct Logger {
    queue: SyncSender<Msg>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Lines lost so far: dropped on a full queue, or failed to write.
pub fn dropped() -> u64 {
    DROPPED.load(Relaxed)
}

/// The `log` level shown with `verbose` `-v` flags.
pub fn level_for(verbose: u8) -> log::LevelFilter {
    match verbose {
        0 => log::LevelFilter::Info,
        1 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

/// Installs the logger (once; later calls only change the level) and starts its thread.
pub fn init(verbose: u8) {
    reserve_standard_fds();
    let mut fresh = None;
    let logger = LOGGER.get_or_init(|| {
        let (queue, rx) = mpsc::sync_channel(QUEUE);
        fresh = Some(rx);
        Logger { queue }
    });
    if let Some(rx) = fresh {
        let spawned = std::thread::Builder::new()
            .name("server-log".into())
            .spawn(move || write_lines(rx, &mut std::io::stderr()));
        if spawned.is_ok() {
            // Only fails if a logger is already set, which `LOGGER` rules out.
            let _ = log::set_logger(logger);
        }
    }
    log::set_max_level(level_for(verbose));
}

/// Waits up to `limit` until every line logged so far is written (or failed to write).
/// Returns whether it got there.
pub fn flush(limit: Duration) -> bool {
    let Some(logger) = LOGGER.get() else {
        return true;
    };
    let (done, wait) = mpsc::sync_channel(1);
    if logger.queue.try_send(Msg::Flush(done)).is_err() {
        return false;
    }
    wait.recv_timeout(limit).is_ok()
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!("server: {}\n", record.args());
        match self.queue.try_send(Msg::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                DROPPED.fetch_add(1, Relaxed);
            }
        }
    }

    fn flush(&self) {}
}

/// The writer thread: writes each line whole, counting the ones that fail.
fn write_lines(rx: Receiver<Msg>, out: &mut impl Write) {
    for msg in rx {
        match msg {
            Msg::Line(line) => {
                if out.write_all(line.as_bytes()).is_err() {
                    DROPPED.fetch_add(1, Relaxed);
                }
            }
            Msg::Flush(done) => {
                let _ = out.flush();
                let _ = done.try_send(());
            }
        }
    }
}

/// Opens `/dev/null` on whichever of descriptors 0, 1 and 2 is closed.
fn reserve_standard_fds() {
    for fd in 0..=2 {
        // SAFETY: F_GETFD only reads the descriptor's flags; any number is acceptable.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1 {
            continue;
        }
        // SAFETY: the path is a NUL-terminated literal. `open` returns the lowest free
        // descriptor, which is `fd` (every lower one is open by now); if it is not, we close
        // what we opened rather than leak it.
        unsafe {
            let got = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            if got != fd && got >= 0 {
                libc::close(got);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    /// A sink that fails every write, like stderr on a full disk or a closed pipe.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(libc::ENOSPC))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(libc::ENOSPC))
        }
    }

    #[test]
    fn failed_writes_are_counted_not_fatal() {
        let (tx, rx) = mpsc::sync_channel(4);
        let (done, wait) = mpsc::sync_channel(1);
        let before = dropped();
        tx.send(Msg::Line("a\n".into())).unwrap();
        tx.send(Msg::Line("b\n".into())).unwrap();
        tx.send(Msg::Flush(done)).unwrap();
        drop(tx);
        write_lines(rx, &mut Broken);
        assert!(wait.try_recv().is_ok(), "flush answered");
        assert!(dropped() >= before + 2);
    }

    #[test]
    fn lines_are_written_whole_and_in_order() {
        let (tx, rx) = mpsc::sync_channel(4);
        tx.send(Msg::Line("one\n".into())).unwrap();
        tx.send(Msg::Line("two\n".into())).unwrap();
        drop(tx);
        let mut out = Vec::new();
        write_lines(rx, &mut out);
        assert_eq!(out, b"one\ntwo\n");
    }

    #[test]
    fn verbosity_maps_to_levels() {
        assert_eq!(level_for(0), log::LevelFilter::Info);
        assert_eq!(level_for(1), log::LevelFilter::Debug);
        assert_eq!(level_for(7), log::LevelFilter::Trace);
    }
}
