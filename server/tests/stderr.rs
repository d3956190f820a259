//! stderr is not part of the service: whatever happens to it (closed, full, a pipe whose
//! reader left, a pipe nobody drains), the server keeps serving, obeys signals, and exits
//! with its usual status.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// Sends `signal` to `child`.
fn kill(child: &Child, signal: i32) {
    let pid = i32::try_from(child.id()).expect("pid fits in pid_t");
    // SAFETY: kill(2) has no memory-safety preconditions; `child` is unwaited, so the pid is
    // still our child's.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

/// Waits for `child` to exit; panics after [`PATIENCE`].
fn exit_code(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("server did not exit within {PATIENCE:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A port that was free a moment ago, for servers whose startup line we cannot read.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("local_addr").port()
}

/// Connects once the server listens (it cannot tell us when: its stderr is unusable).
fn connect_when_up(addr: SocketAddr) -> TcpStream {
    let mut conn = None;
    assert!(
        eventually(PATIENCE, || {
            conn = TcpStream::connect(addr).ok();
            conn.is_some()
        }),
        "server never listened on {addr}"
    );
    let s = conn.expect("connected");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.set_write_timeout(Some(PATIENCE)).unwrap();
    s
}

/// `n` connections, each with two round trips and a close; every reply checked.
fn serve_clients(addr: SocketAddr, n: usize) {
    for i in 0..n {
        let mut c = connect_when_up(addr);
        assert_eq!(
            round_trip(&mut c, &format!("client {i}")),
            format!("{} tneilc\n", reverse_digits(i))
        );
        assert_eq!(round_trip(&mut c, "still here"), "ereh llits\n");
    }
}

fn reverse_digits(i: usize) -> String {
    i.to_string().chars().rev().collect()
}

/// Starts `server 0 <args>` with stderr piped and returns it with its address, read from the
/// startup line, and the pipe.
fn start_piped(args: &[&str]) -> (Child, SocketAddr, BufReader<ChildStderr>) {
    let mut child = Command::new(server_bin())
        .arg("0")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let mut err = BufReader::new(child.stderr.take().expect("piped"));
    let mut line = String::new();
    err.read_line(&mut line).expect("startup line");
    let addr = line
        .split("listening on ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (child, addr, err)
}

#[test]
fn stderr_pipe_closed_by_its_reader_changes_nothing() {
    // Like `server 9090 -v 2>&1 | head -1`.
    let (mut child, addr, err) = start_piped(&["-v"]);
    drop(err);
    serve_clients(addr, 20);
    kill(&child, libc::SIGTERM);
    assert_eq!(exit_code(&mut child), Some(0));
}

#[test]
fn stderr_on_a_full_disk_changes_nothing() {
    // Like `server 9090 2>/dev/full`.
    let port = free_port();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let mut child = Command::new(server_bin())
        .args([&port.to_string(), "-v"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(full)
        .spawn()
        .expect("spawn server");
    serve_clients(SocketAddr::from(([127, 0, 0, 1], port)), 20);
    kill(&child, libc::SIGTERM);
    assert_eq!(exit_code(&mut child), Some(0));
}

#[test]
fn stderr_closed_changes_nothing_and_logs_reach_no_client() {
    // Like `server 9090 -v 2>&-`: descriptor 2 must not become a socket that logs go to.
    let port = free_port();
    let mut cmd = Command::new(server_bin());
    cmd.args([&port.to_string(), "-v"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // SAFETY: runs in the forked child before exec and only calls close(2), which is
    // async-signal-safe; nothing is allocated or locked.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(2);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn server");
    // `round_trip` reads exactly the reply's length, so check that nothing else follows.
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    serve_clients(addr, 20);
    let mut c = connect_when_up(addr);
    assert_eq!(round_trip(&mut c, "last"), "tsal\n");
    c.shutdown(std::net::Shutdown::Write).expect("half-close");
    assert_eq!(read_to_close(&mut c), b"");
    kill(&child, libc::SIGTERM);
    assert_eq!(exit_code(&mut child), Some(0));
}

#[test]
fn stderr_pipe_nobody_reads_changes_nothing() {
    // `-v` logs two lines per connection; a 64 KiB pipe is full after a few hundred.
    let (mut child, addr, _undrained) = start_piped(&["-v"]);
    serve_clients(addr, 2000);
    kill(&child, libc::SIGTERM);
    assert_eq!(exit_code(&mut child), Some(0));
}
