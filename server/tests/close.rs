//! The close rule, end to end: when the server decides to close a connection (`exit`, a
//! too-long line, shutdown) while the client is still sending, the client must still receive
//! every reply the server sent, followed by a clean end of stream, never a reset.
//!
//! Each case is a race between the server's close and the client's input, so each is
//! repeated ([`RUNS`] times) to make a lost reply show up reliably.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use support::*;

/// Repetitions of each racy scenario.
const RUNS: usize = 20;

/// Reads until the end of the stream; a reset (or any error) fails the test, reporting how
/// many bytes arrived before it.
fn read_to_eof(s: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("{what}: {e} after {} reply bytes instead of EOF", got.len()),
        }
    }
}

/// Writes `data` on a thread, counting progress in `written`; errors end the writing
/// silently (the test judges by what the reader gets).
fn writer(s: &TcpStream, data: Vec<u8>, written: Arc<AtomicU64>) -> thread::JoinHandle<()> {
    let mut w = s.try_clone().expect("clone socket");
    thread::spawn(move || {
        for chunk in data.chunks(64 << 10) {
            if w.write_all(chunk).is_err() {
                return;
            }
            written.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    })
}

/// Whether reply bytes are waiting, unread, in the client's socket.
fn replies_waiting(s: &TcpStream) -> bool {
    s.set_nonblocking(true).expect("nonblocking");
    let mut byte = [0u8; 1];
    let waiting = matches!(s.peek(&mut byte), Ok(n) if n > 0);
    s.set_nonblocking(false).expect("blocking");
    waiting
}

/// `MiB` of further pipelined lines after the point where the server closes.
fn trailing_input(mib: usize) -> Vec<u8> {
    b"after the close: must be read and discarded, never answered\n"
        .iter()
        .copied()
        .cycle()
        .take(mib << 20)
        .collect()
}

/// Sends `lines` (whose replies are `want`), then `closer`, then 3 MiB more, all from a
/// thread, while reading; checks every reply and then a clean EOF.
fn close_with_input_behind(server: &Server, run: usize, closer: &[u8], want_tail: &[u8]) {
    let (mut request, mut want) =
        numbered_lines(&"reply bytes that must all arrive ".repeat(4), 2000);
    request.extend_from_slice(closer);
    request.extend(trailing_input(3));
    want.extend_from_slice(want_tail);
    let mut c = server.connect();
    let w = writer(&c, request, Arc::new(AtomicU64::new(0)));
    let got = read_to_eof(&mut c, &format!("run {run}"));
    assert!(
        got == want,
        "run {run}: got {} of {} reply bytes",
        got.len(),
        want.len()
    );
    w.join().expect("writer thread");
}

#[test]
fn exit_followed_by_megabytes_of_input_loses_no_reply() {
    let server = Server::start(&[]);
    for run in 0..RUNS {
        close_with_input_behind(&server, run, b"exit\n", b"");
    }
}

#[test]
fn too_long_line_followed_by_megabytes_of_input_loses_no_reply() {
    let server = Server::start(&["--max-line", "1000"]);
    let long = [vec![b'x'; 2000], b"\n".to_vec()].concat();
    for run in 0..RUNS {
        close_with_input_behind(&server, run, &long, b"error: line longer than 1000 bytes\n");
    }
}

/// SIGTERM while the client has megabytes of replies in flight (it is not reading yet) and
/// more input queued behind them (its writer is blocked on a full window).
#[test]
fn sigterm_with_replies_in_flight_and_input_queued_loses_no_reply() {
    for run in 0..RUNS {
        let mut server = Server::start(&["--workers", "2"]);
        let (request, want) = numbered_lines("queued behind a slow reader", 200_000);
        let mut c = server.connect();
        let written = Arc::new(AtomicU64::new(0));
        let w = writer(&c, request, Arc::clone(&written));
        // Not reading: the server's replies pile up in the socket buffers until it stops
        // reading, and the writer's input then piles up behind them.
        assert!(
            eventually(PATIENCE, || written.load(Ordering::Relaxed) >= 2 << 20),
            "run {run}: the client could not send 2 MiB"
        );
        // The socket buffers alone can take 2 MiB: make sure the server has accepted the
        // connection and is answering (a connection still in the listen queue at shutdown is
        // never accepted, and the kernel resets it).
        assert!(
            eventually(PATIENCE, || replies_waiting(&c)),
            "run {run}: no reply arrived"
        );
        server.signal(libc::SIGTERM);
        let got = read_to_eof(&mut c, &format!("run {run}"));
        w.join().expect("writer thread");
        drop(c);
        let status = server.wait_exit(PATIENCE);
        assert_eq!(status.code(), Some(0), "run {run}: exit status {status}");
        // Every reply sent arrived, whole and in order, and the summary counts exactly those.
        assert!(
            want.starts_with(&got) && (got.is_empty() || got.ends_with(b"\n")),
            "run {run}: {} reply bytes are not a prefix of the expected replies",
            got.len()
        );
        let summary = server
            .wait_for_line(|l| l.contains("summary:"), PATIENCE)
            .expect("summary line");
        assert!(
            summary.contains(&format!(" {} bytes out", got.len())),
            "run {run}: received {} bytes; {summary}",
            got.len()
        );
    }
}
