//! Helpers shared by the `reliability_*` tests (each binary includes this module with
//! `mod reliability_support;`).
//!
//! - [`ServerProc`] is `server_support::Server` (port 0, address learnt from the startup
//!   line, stderr collected by a thread) with two extras the fault tests need: the binary can
//!   be the *release* build ([`release_server_bin`]), and the child can be started under a
//!   lowered open-files limit ([`ServerProc::start_with`]).
//! - `/proc` readers for another process: resident memory, CPU time, open descriptors.
//! - [`env_or`]: the knobs that scale the big tests down (or up) from the environment.
//!
//! Every wait has a deadline; nothing here sleeps to synchronise.

#![allow(dead_code)]

// Every reliability test binary also declares `mod server_support;`.
use crate::server_support as server;

// Each test binary uses a different subset.
#[allow(unused_imports)]
pub use server::{eventually, raise_own_nofile, rss_kib, server_bin, PATIENCE};

use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The *release* `server` binary (`cargo build --release -p server`, once per process):
/// for the throughput test, where a debug build would measure the debug build.
pub fn release_server_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| server::build_server(true))
}

/// A knob from the environment, or `default`.
pub fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

/// CPU time (user + system, all threads) process `pid` has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    let rest = &stat[stat.rfind(')').expect("')' in /proc/PID/stat") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|&h| h > 0).unwrap_or(100);
    Duration::from_secs_f64(ticks as f64 / hz as f64)
}

/// Number of open file descriptors of process `pid`.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/PID/fd")
        .count()
}

/// Number of open file descriptors of process `pid` whose number is below `limit`.
pub fn fds_below(pid: u32, limit: u64) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/PID/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .filter(|&fd| fd < limit)
        .count()
}

/// A running `server` process: `server_support::Server` plus what the fault tests need.
pub struct ServerProc(server::Server);

impl std::ops::Deref for ServerProc {
    type Target = server::Server;
    fn deref(&self) -> &server::Server {
        &self.0
    }
}

impl std::ops::DerefMut for ServerProc {
    fn deref_mut(&mut self) -> &mut server::Server {
        &mut self.0
    }
}

impl ServerProc {
    /// Starts `server 0 <args>` (the binary of the tests' profile).
    pub fn start(args: &[&str]) -> ServerProc {
        ServerProc::start_with(server_bin(), args, None)
    }

    /// Starts `bin 0 <args>`; with `nofile = Some(n)` the child runs with both the soft and
    /// the hard `RLIMIT_NOFILE` at `n` (the server raises its soft limit to the hard one at
    /// start-up, so only a lower hard limit really constrains it).
    pub fn start_with(bin: &Path, args: &[&str], nofile: Option<u64>) -> ServerProc {
        let mut cmd = Command::new(bin);
        cmd.arg("0").args(args);
        if let Some(n) = nofile {
            let lim = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            // SAFETY: the closure runs in the forked child before exec and only calls
            // setrlimit(2), an async-signal-safe system call, on a value it owns; it neither
            // allocates nor takes locks.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                        Ok(())
                    } else {
                        Err(io::Error::last_os_error())
                    }
                });
            }
        }
        ServerProc(server::Server::spawn(cmd, args))
    }

    /// CPU time used so far (user + system).
    pub fn cpu_time(&self) -> Duration {
        cpu_time(self.pid())
    }

    /// Open file descriptors.
    pub fn fd_count(&self) -> usize {
        fd_count(self.pid())
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    /// Sends SIGTERM and waits (up to `limit`) for the exit; returns the status.
    pub fn terminate(&mut self, limit: Duration) -> ExitStatus {
        self.sigterm();
        self.wait_exit(limit)
    }
}

/// Asserts that the server printed nothing that looks like a panic.
pub fn assert_no_panic(server: &ServerProc) {
    let lines = server.stderr_lines();
    let bad: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("panicked") || l.contains("RUST_BACKTRACE"))
        .collect();
    assert!(bad.is_empty(), "server reported a panic: {bad:?}");
}

/// Marker in the message of every panic a test causes on purpose.
pub const EXPECTED_PANIC: &str = "reliability: expected panic";

/// Installs (once per process) a panic hook that stays silent for panics whose message
/// contains [`EXPECTED_PANIC`] and reports every other one as usual.
pub fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            if !msg.contains(EXPECTED_PANIC) {
                default(info);
            }
        }));
    });
}

/// Panics (with [`EXPECTED_PANIC`] and `what`) when dropped, after counting the drop.
pub struct PanicOnDrop {
    /// Named in the panic message.
    pub what: &'static str,
    /// Incremented before panicking.
    pub drops: Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        panic!("{EXPECTED_PANIC}: drop of {}", self.what);
    }
}
