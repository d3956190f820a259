//! C10K against the real `server` binary: 10,000 connections open at the same time, every
//! one verified with its own line, with the server's memory per connection measured.
//!
//! Alone in its binary: it needs 10,000 descriptors in this process and as many in the
//! server, and its memory figure must not include anyone else's connections.
//!
//! `RELIABILITY_CONNS` changes the number of connections (default 10,000).

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use support::{assert_no_panic, env_or, raise_own_nofile, ServerProc, PATIENCE};
use support::{connect, read_n, read_to_close, round_trip};

/// Connections are opened and verified in batches of this many, so the kernel's accept
/// queue never holds more than one batch the server has not taken yet.
const BATCH: usize = 500;

/// The request on connection `i` and the reply it must get.
fn line_for(i: usize) -> (String, String) {
    let line = format!("c10k connection {i:05} says hello");
    let reply = String::from_utf8(server::framing::reversed(line.as_bytes())).expect("utf-8");
    (format!("{line}\n"), format!("{reply}\n"))
}

#[test]
#[ignore = "soak: run by .ci/run"]
fn c10k_connections_held_open_and_each_verified() {
    let wanted: usize = env_or("RELIABILITY_CONNS", 10_000);
    let limit = raise_own_nofile();
    assert!(
        limit >= wanted as u64 + 200,
        "this process's hard RLIMIT_NOFILE ({limit}) is too low for {wanted} connections"
    );
    let max = (wanted + 100).to_string();
    let mut server = ServerProc::start(&["--max-connections", &max, "--workers", "2"]);

    // Warm-up: one exchange, so the baseline includes the runtime's steady state (worker
    // threads started, buffer pools filled).
    let mut warm = connect(server.addr);
    assert_eq!(round_trip(&mut warm, "warm up"), "pu mraw\n");
    let rss_before = server.rss_kib();
    let fds_before = server.fd_count();

    let start = Instant::now();
    let mut conns: Vec<TcpStream> = Vec::with_capacity(wanted);
    while conns.len() < wanted {
        let first = conns.len();
        let n = BATCH.min(wanted - first);
        for _ in 0..n {
            conns.push(connect(server.addr));
        }
        for (i, c) in conns.iter_mut().enumerate().skip(first) {
            c.write_all(line_for(i).0.as_bytes())
                .unwrap_or_else(|e| panic!("connection {i}: write: {e}"));
        }
        for (i, c) in conns.iter_mut().enumerate().skip(first) {
            let want = line_for(i).1;
            let got = read_n(c, want.len());
            assert_eq!(got, want.as_bytes(), "connection {i}: wrong reply");
        }
    }
    let opened_in = start.elapsed();

    // All of them are still open: nothing to read yet, and no end of stream.
    for (i, c) in conns.iter_mut().enumerate() {
        c.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        match c.read(&mut byte) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("connection {i} is not idle and open: {other:?}"),
        }
        c.set_nonblocking(false).unwrap();
    }
    let fds_during = server.fd_count();
    assert!(
        fds_during >= fds_before + wanted,
        "the server holds {fds_during} descriptors, expected at least {} for {wanted} \
         connections",
        fds_before + wanted
    );
    let rss_after = server.rss_kib();
    let grown = rss_after.saturating_sub(rss_before);
    let per_conn = grown as f64 * 1024.0 / wanted as f64;
    println!(
        "C10K: {wanted} connections held open at once, each verified with one line \
         (opened and verified in {opened_in:.1?}); server fds {fds_before} -> {fds_during}; \
         server VmRSS {rss_before} KiB -> {rss_after} KiB: {per_conn:.0} bytes per connection"
    );
    assert!(
        per_conn < 8192.0,
        "{per_conn:.0} bytes of server RSS per idle connection (bound: 8 KiB)"
    );

    // With all of them open, every 100th still gets answered at once.
    for (i, c) in conns.iter_mut().enumerate().step_by(100) {
        let (line, reply) = line_for(i);
        c.write_all(line.as_bytes()).unwrap();
        assert_eq!(read_n(c, reply.len()), reply.as_bytes(), "connection {i}");
    }
    assert_eq!(round_trip(&mut warm, "still fine"), "enif llits\n");

    // Graceful shutdown with every connection open: each sees the end of the stream and
    // nothing else, and the server exits 0.
    let stop = Instant::now();
    server.sigterm();
    for (i, mut c) in conns.into_iter().enumerate() {
        let rest = read_to_close(&mut c);
        assert!(rest.is_empty(), "connection {i} got {rest:?} at shutdown");
        // Closing our side ends the server's lingering close for this one at once.
    }
    assert!(read_to_close(&mut warm).is_empty());
    drop(warm);
    let status = server.wait_exit(PATIENCE);
    assert!(status.success(), "server exited with {status}");
    println!(
        "C10K: SIGTERM with {wanted} connections open: exit 0 after {:.1?}",
        stop.elapsed()
    );
    assert_no_panic(&server);
}
