//! Helpers for the end-to-end tests of the `server` binary.
//!
//! The tests run the real binary as a child process, exactly as a user would, and talk to it
//! with blocking `std` sockets (so they test the server, not the runtime's client side).
//!
//! - [`server_bin`] is the binary cargo built for these tests (`CARGO_BIN_EXE_server`): no
//!   test runs `cargo build` itself.
//! - [`Server`] starts it on port 0 and learns the real address from the startup line on
//!   stderr, so there is no window in which another process could take "our" free port. A
//!   thread keeps reading stderr (so a chatty server never blocks on a full pipe) and lets a
//!   test wait for a line with a deadline instead of sleeping.
//! - Every blocking socket operation has a generous timeout: on a loaded two-core machine a
//!   slow test is fine, a hung one is not.
//!
//! Dropping a [`Server`] kills the process if it is still running.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Upper bound for anything that should take milliseconds; huge on purpose (loaded CI).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The `server` binary cargo built for this test run (same profile as the tests), or the one
/// `SERVER_BIN` names (e.g. a release build for the load tests).
pub fn server_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var_os("SERVER_BIN").map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_server")),
            PathBuf::from,
        )
    })
}

/// Runs the binary with `args` to completion (for argument errors, --help, ...).
pub fn run_to_exit(args: &[&str]) -> Output {
    let mut child = Command::new(server_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    // The outputs are tiny (usage text), so reading after the exit cannot deadlock.
    let status = wait_with_deadline(&mut child, PATIENCE).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("server {args:?} did not exit within {PATIENCE:?}");
    });
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut s) = child.stdout.take() {
        s.read_to_end(&mut stdout).expect("read stdout");
    }
    if let Some(mut s) = child.stderr.take() {
        s.read_to_end(&mut stderr).expect("read stderr");
    }
    Output {
        status,
        stdout,
        stderr,
    }
}

fn wait_with_deadline(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait().expect("try_wait") {
            Some(status) => return Some(status),
            None if Instant::now() >= deadline => return None,
            // There is no blocking wait with a timeout for a child; poll its status.
            None => thread::sleep(Duration::from_millis(10)),
        }
    }
}

#[derive(Default)]
struct Log {
    lines: Vec<String>,
    closed: bool,
}

/// A running server process.
pub struct Server {
    child: Child,
    /// The address it listens on, from its startup line.
    pub addr: SocketAddr,
    /// The startup line itself.
    pub startup: String,
    log: Arc<(Mutex<Log>, Condvar)>,
}

impl Server {
    /// Starts `server 0 <args>` (port 0: the kernel picks a free port).
    pub fn start(args: &[&str]) -> Server {
        let mut all = vec!["0"];
        all.extend_from_slice(args);
        Server::start_exact(&all)
    }

    /// Starts `server <args>` as given; waits for the startup line.
    pub fn start_exact(args: &[&str]) -> Server {
        let mut cmd = Command::new(server_bin());
        cmd.args(args);
        Server::spawn(cmd, args)
    }

    /// Starts a prepared server command (any binary, extra process settings); `args` are
    /// only for messages. Waits for the startup line and learns the address from it.
    pub fn spawn(mut cmd: Command, args: &[&str]) -> Server {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn server");
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
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            startup: String::new(),
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
        let addr = startup
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("cannot parse address from startup line {startup:?}"));
        server.addr = addr;
        server.startup = startup;
        server
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
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

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.pid()).expect("pid fits in pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own child,
        // which cannot have been reaped (and the pid reused) while `self.child` is unwaited.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(
            rc,
            0,
            "kill({pid}, {signal}): {}",
            io::Error::last_os_error()
        );
    }

    /// Waits for the process to exit; panics after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        match wait_with_deadline(&mut self.child, limit) {
            Some(status) => {
                // Let the stderr thread collect the last lines (the summary).
                let (lock, cv) = &*self.log;
                let log = lock.lock().unwrap();
                let _unused = cv.wait_timeout_while(log, PATIENCE, |l| !l.closed).unwrap();
                status
            }
            None => panic!(
                "server did not exit within {limit:?}; stderr: {:?}",
                self.stderr_lines()
            ),
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Resident memory of the process, in KiB (from /proc/PID/status).
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    /// A connected client socket with generous timeouts.
    pub fn connect(&self) -> TcpStream {
        connect(self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Connects to `addr` with read and write timeouts of [`PATIENCE`].
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.set_write_timeout(Some(PATIENCE)).unwrap();
    s
}

/// Reads until the server closes. A reset after the data counts as the end, too: what
/// matters is the bytes that arrived before it.
pub fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) => panic!(
                "reading until close: {e} after {} bytes: {:?}",
                got.len(),
                String::from_utf8_lossy(&got[got.len().saturating_sub(200)..])
            ),
        }
    }
}

/// Reads exactly `n` bytes.
pub fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("reading {n} bytes: {e}"));
    buf
}

/// Sends `request`, half-closes, and returns everything the server sends until it closes.
pub fn exchange_and_close(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    s.write_all(request).expect("write request");
    s.shutdown(Shutdown::Write).expect("half-close");
    read_to_close(&mut s)
}

/// One line-framed round trip on an open connection.
pub fn round_trip(s: &mut TcpStream, line: &str) -> String {
    s.write_all(format!("{line}\n").as_bytes())
        .expect("write line");
    let want = String::from_utf8(reversed(line.as_bytes())).expect("utf-8") + "\n";
    let got = read_n(s, want.len());
    String::from_utf8(got).expect("utf-8 reply")
}

/// The reply the protocol prescribes for one line's content.
pub fn reversed(content: &[u8]) -> Vec<u8> {
    server::framing::reversed(content)
}

/// `n` pipelined lines `"<text> 0\n"`, `"<text> 1\n"`, ... and the replies the server
/// owes for them, in order.
pub fn numbered_lines(text: &str, n: usize) -> (Vec<u8>, Vec<u8>) {
    let mut request = Vec::new();
    let mut want = Vec::new();
    for i in 0..n {
        let line = format!("{text} {i}");
        request.extend_from_slice(line.as_bytes());
        request.push(b'\n');
        want.extend(reversed(line.as_bytes()));
        want.push(b'\n');
    }
    (request, want)
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

/// Raises this test process's open-files limit (for tests with thousands of sockets).
pub fn raise_own_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for getrlimit to fill in.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: `lim` is a valid rlimit; setrlimit only reads it.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    lim.rlim_cur
}

/// Writes `data` on a thread (so the caller can read replies at the same time).
pub fn write_in_background(
    s: &TcpStream,
    data: Vec<u8>,
    half_close: bool,
) -> thread::JoinHandle<()> {
    let mut w = s.try_clone().expect("clone socket");
    thread::spawn(move || {
        w.write_all(&data).expect("background write");
        if half_close {
            w.shutdown(Shutdown::Write).expect("half-close");
        }
    })
}

/// Writes a long request, ignoring the errors a server that closes early may cause.
pub fn write_ignoring_close(mut w: TcpStream, data: &[u8]) {
    if let Err(e) = w.write_all(data) {
        assert!(
            matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
            "unexpected write error: {e}"
        );
    }
}

/// `true` once `f` returns true, polling every few milliseconds up to `limit`.
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

// ---- What the fault and load tests (`reliability_*`) need on top. ----

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

/// A running `server` process: `Server` plus what the fault tests need.
pub struct ServerProc(Server);

impl std::ops::Deref for ServerProc {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.0
    }
}

impl std::ops::DerefMut for ServerProc {
    fn deref_mut(&mut self) -> &mut Server {
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
        ServerProc(Server::spawn(cmd, args))
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
