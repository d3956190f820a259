//! Helpers shared by the `reliability_*` tests (each binary includes this module with
//! `mod reliability_support;`).
//!
//! - [`ServerProc`] runs the real `server` binary like `server_support::Server` does (port 0,
//!   address learnt from the startup line, stderr collected by a thread), with two extras the
//!   fault tests need: the binary can be the *release* build ([`release_server_bin`]), and the
//!   child can be started under a lowered open-files limit ([`ServerProc::start_with`]).
//! - `/proc` readers for another process: resident memory, CPU time, open descriptors.
//! - [`env_or`]: the knobs that scale the big tests down (or up) from the environment.
//!
//! Every wait has a deadline; nothing here sleeps to synchronise.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Upper bound for anything that should take milliseconds; huge on purpose (loaded machine).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// `target/<profile>` of the running test executable (`target/<profile>/deps/<test>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("test executable is in target/<profile>/deps")
        .to_path_buf()
}

fn cargo_build_server(release: bool) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "server", "--bin", "server", "--quiet"]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build -p server");
    assert!(status.success(), "cargo build -p server failed: {status}");
}

/// The `server` binary of the same profile as the tests, built on first use.
pub fn server_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = profile_dir();
        cargo_build_server(dir.file_name().is_some_and(|n| n == "release"));
        let bin = dir.join("server");
        assert!(bin.exists(), "server binary not found at {}", bin.display());
        bin
    })
}

/// The *release* `server` binary (`cargo build --release -p server`, once per process):
/// for the throughput test, where a debug build would measure the debug build.
pub fn release_server_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        cargo_build_server(true);
        let dir = profile_dir();
        let target = dir.parent().expect("target directory");
        let bin = target.join("release").join("server");
        assert!(bin.exists(), "server binary not found at {}", bin.display());
        bin
    })
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

/// Sets this process's `RLIMIT_NOFILE` soft limit to its hard limit; returns it.
pub fn raise_own_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for getrlimit to fill in.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: `lim` is a valid rlimit; setrlimit only reads it.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    lim.rlim_cur
}

/// Resident memory of process `pid`, in KiB (`VmRSS` in /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
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

/// `true` once `f` returns true, checking every few milliseconds up to `limit`.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[derive(Default)]
struct Log {
    lines: Vec<String>,
    closed: bool,
}

/// A running `server` process.
pub struct ServerProc {
    child: Child,
    /// The address it listens on, from its startup line.
    pub addr: SocketAddr,
    log: Arc<(Mutex<Log>, Condvar)>,
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
        cmd.arg("0")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
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
        let mut child = cmd.spawn().expect("spawn server");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new((Mutex::new(Log::default()), Condvar::new()));
        let sink = Arc::clone(&log);
        thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let (lock, cv) = &*sink;
                        lock.lock().unwrap().lines.push(line.trim_end().to_owned());
                        cv.notify_all();
                    }
                }
            }
            let (lock, cv) = &*sink;
            lock.lock().unwrap().closed = true;
            cv.notify_all();
        });
        let mut server = ServerProc {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let startup = server
            .wait_for_line(|l| l.contains("listening on "), PATIENCE)
            .unwrap_or_else(|| {
                panic!(
                    "server {args:?} printed no startup line; stderr: {:?}",
                    server.stderr_lines()
                )
            });
        server.addr = startup
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("cannot parse address from startup line {startup:?}"));
        server
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    /// CPU time used so far (user + system).
    pub fn cpu_time(&self) -> Duration {
        cpu_time(self.pid())
    }

    /// Open file descriptors.
    pub fn fd_count(&self) -> usize {
        fd_count(self.pid())
    }

    /// Every stderr line so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.log.0.lock().unwrap().lines.clone()
    }

    /// Waits until a stderr line satisfies `pred`; `None` if stderr closed or time ran out.
    pub fn wait_for_line(&self, pred: impl Fn(&str) -> bool, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        let (lock, cv) = &*self.log;
        let mut log = lock.lock().unwrap();
        loop {
            if let Some(l) = log.lines.iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            let now = Instant::now();
            if log.closed || now >= deadline {
                return None;
            }
            log = cv.wait_timeout(log, deadline - now).unwrap().0;
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let pid = i32::try_from(self.pid()).expect("pid fits in pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own unreaped
        // child, so it cannot have been reused.
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill: {}", io::Error::last_os_error());
    }

    /// Waits (up to `limit`) for the process to exit; returns the status.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit within {limit:?}; stderr: {:?}",
                self.stderr_lines()
            );
            // No blocking wait with a timeout exists for a child: poll its status.
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and waits (up to `limit`) for the exit; returns the status.
    pub fn terminate(&mut self, limit: Duration) -> ExitStatus {
        self.sigterm();
        self.wait_exit(limit)
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
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
