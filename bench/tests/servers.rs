//! The two comparison servers speak the protocol, and the load generator drives them.

use bench::client::{self, PipelineOpts, Until};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

struct Server(Child, SocketAddr);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bin` on a free port. These servers take a port number, not port 0, so the test
/// picks one by binding port 0 and releasing it. Two races follow, and both are handled:
/// another test of this file picking the same port (picks are serialized by `PICK`, held until
/// the server listens), and a client socket of a concurrent test taking the released port as
/// its ephemeral port, so that the server cannot bind and exits (then a new port is tried).
fn start(bin: &str, extra: &[&str]) -> Server {
    static PICK: Mutex<()> = Mutex::new(());
    let _serial = PICK.lock().unwrap_or_else(|e| e.into_inner());
    for _attempt in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin)
            .args([&port.to_string(), "--workers", "2", "--max-line", "200"])
            .args(extra)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut srv = Server(child, addr);
        let listening = client::wait_listening(addr, Duration::from_secs(10));
        // Listening, and it is our child that listens (it has not exited, e.g. on EADDRINUSE).
        if listening && srv.0.try_wait().unwrap().is_none() {
            return srv;
        }
    }
    panic!("{bin} did not start listening on any of 5 ports");
}

fn exchange(addr: SocketAddr, chunks: &[&[u8]], half_close: bool) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for c in chunks {
        s.write_all(c).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    if half_close {
        s.shutdown(Shutdown::Write).unwrap();
    }
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

fn check(bin: &str) {
    check_with(bin, &[]);
}

fn check_with(bin: &str, extra: &[&str]) {
    let srv = start(bin, extra);
    let addr = srv.1;
    client::probe(addr).unwrap();
    // One byte per write, CR LF, EOF with an unterminated tail.
    let bytes: Vec<&[u8]> = b"ab\r\nxyz".chunks(1).collect();
    assert_eq!(exchange(addr, &bytes, true), b"ba\r\nzyx");
    // `exit` flushes earlier replies, answers nothing after it.
    assert_eq!(exchange(addr, &[b"one\nexit\ntwo\n"], false), b"eno\n");
    // A too-long line (--max-line 200), sent in pieces.
    let long = vec![b'a'; 250];
    assert_eq!(
        exchange(addr, &[b"ok\n", &long[..100], &long[100..]], false),
        b"ko\nerror: line longer than 200 bytes\n"
    );
    let batches = client::make_batches(8, 16, 7);
    let r = client::pipelined(&PipelineOpts {
        addr,
        conns: 8,
        batches: &batches,
        duration: Duration::from_millis(200),
        record_rtt: true,
        threads: 2,
        cpus: &[],
        unbounded: false,
    })
    .unwrap();
    assert!(r.replies > 0 && r.rtts_ns.len() as u64 * 16 == r.replies);
    let churn = client::one_line_conns(addr, 4, Until::Count(50), false, &[]).unwrap();
    assert_eq!(churn.completed, 50);
    let idle = client::one_line_conns(addr, 16, Until::Count(100), true, &[]).unwrap();
    assert_eq!(idle.kept.len(), 100);
    // Long lines, streamed without waiting for replies: every byte still comes back right.
    // (Within the --max-line 200 these servers run with.)
    let long = client::make_long_batches(8, 64, 120, 200, 9);
    let r = client::pipelined(&PipelineOpts {
        addr,
        conns: 4,
        batches: &long,
        duration: Duration::from_millis(200),
        record_rtt: false,
        threads: 1,
        cpus: &[],
        unbounded: true,
    })
    .unwrap();
    assert!(r.replies > 0 && r.bytes > 0);
}

#[test]
fn raw_epoll_server() {
    check(env!("CARGO_BIN_EXE_raw_epoll_server"));
}

#[test]
fn tokio_server() {
    check(env!("CARGO_BIN_EXE_tokio_server"));
}

#[test]
fn tokio_server_pooled() {
    check_with(env!("CARGO_BIN_EXE_tokio_server"), &["--pooled"]);
}

#[test]
fn ours_bare_server() {
    check(env!("CARGO_BIN_EXE_ours_bare_server"));
}

#[test]
fn raw_epoll_server_fair() {
    // A budget smaller than one read: every connection yields after each read.
    check_with(
        env!("CARGO_BIN_EXE_raw_epoll_server"),
        &["--fair-bytes", "100"],
    );
}

#[test]
fn seed_small_budget() {
    for bin in [
        env!("CARGO_BIN_EXE_seed_oneshot"),
        env!("CARGO_BIN_EXE_seed_exclusive"),
        env!("CARGO_BIN_EXE_seed_acceptor"),
    ] {
        check_with(bin, &["--fair-bytes", "100"]);
    }
}

#[test]
fn seed_oneshot() {
    check(env!("CARGO_BIN_EXE_seed_oneshot"));
}

#[test]
fn seed_exclusive() {
    check(env!("CARGO_BIN_EXE_seed_exclusive"));
}

#[test]
fn seed_acceptor() {
    check(env!("CARGO_BIN_EXE_seed_acceptor"));
}
