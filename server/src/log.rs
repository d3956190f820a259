//! Verbosity-gated logging to stderr.
//!
//! The server has three kinds of output: the few lines every run prints (startup, warnings,
//! the exit summary), per-connection events (`-v`), and details useful when debugging (`-vv`).
//! That needs a global level and `eprintln!`, not a logging framework. Every line starts with
//! `server: ` so it can be told apart when several processes share a terminal.

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

static VERBOSITY: AtomicU8 = AtomicU8::new(0);

/// Always printed: startup, warnings, errors, the summary.
pub const ALWAYS: u8 = 0;
/// `-v`: one line per connection opened, closed or refused.
pub const CONN: u8 = 1;
/// `-vv`: details (I/O errors of single connections, buffer sizes, signals).
pub const DEBUG: u8 = 2;

/// Sets how much is printed (the number of `-v` flags).
pub fn set_verbosity(level: u8) {
    VERBOSITY.store(level, Relaxed);
}

/// Whether messages of `level` are printed.
pub fn enabled(level: u8) -> bool {
    level <= VERBOSITY.load(Relaxed)
}

/// Prints `server: <message>` to stderr if the verbosity is at least `$level`.
#[macro_export]
macro_rules! log {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            eprintln!("server: {}", format_args!($($arg)*));
        }
    };
}
