//! Bulk data through the real `server` over 64 pipelining connections, every
//! reply verified: zero mismatches, zero drops, nothing extra.
//!
//! `RELIABILITY_BYTES` sets the total request volume (default 1 GiB: about 5 s against the
//! release server on a two-core machine; set it lower on a slower one). Run it against the
//! release build (`SERVER_BIN=target/release/server`, as `.ci/run` does): against the debug
//! build it measures the debug build.
//! `RELIABILITY_CONNS_GIB` sets the number of connections (default 64).
//!
//! The client is two threads per connection with blocking sockets: a writer that streams
//! lines in 256 KiB batches and then half-closes, and a reader that checks each reply as it
//! arrives and finally expects the end of the stream. Lines are a header unique to the
//! connection and line number followed by one of 64 precomputed bodies (ASCII, multi-byte
//! UTF-8, invalid UTF-8, 0 to 16 KiB, LF or CR LF), so the reply is the reversed body (known
//! in advance) followed by the reversed header: checking costs a `memcmp`, even in a debug
//! build. A lost, duplicated, reordered or corrupted line shows up as a mismatch.

mod support;

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::{assert_no_panic, env_or, raise_own_nofile, server_bin, ServerProc, PATIENCE};

const BODIES: usize = 64;
const BATCH: usize = 256 << 10;

/// One precomputed line body and its reply.
struct Body {
    content: Vec<u8>,
    /// `content` reversed the protocol's way (by character if UTF-8, else by byte).
    reversed: Vec<u8>,
    crlf: bool,
}

/// A small deterministic generator (xorshift64*), good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn make_bodies() -> Vec<Body> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let pieces: [&str; 6] = ["abc", "é", "中文", "🦀", " ", "xyz-0123"];
    (0..BODIES)
        .map(|k| {
            // Lengths from 0 to ~16 KiB, mean ~6 KiB.
            let len = match k % 8 {
                0 => k % 3,
                1 => 100,
                2 => 1000 + k,
                _ => (rng.next() % 16_000) as usize,
            };
            let mut content = Vec::with_capacity(len + 8);
            while content.len() < len {
                match k % 4 {
                    // ASCII.
                    0 | 1 => content.push(b'!' + (rng.next() % 90) as u8),
                    // Multi-byte UTF-8.
                    2 => content.extend_from_slice(
                        pieces[(rng.next() % pieces.len() as u64) as usize].as_bytes(),
                    ),
                    // Arbitrary bytes: invalid UTF-8 (no LF, no CR: those would end the line).
                    _ => content.push(match (rng.next() % 256) as u8 {
                        b'\n' | b'\r' => 0xff,
                        b => b,
                    }),
                }
            }
            if k % 4 == 3 {
                content.push(0xff); // surely invalid UTF-8
            }
            let reversed = server::framing::reversed(&content);
            assert_eq!(reversed.len(), content.len());
            Body {
                content,
                reversed,
                crlf: k % 5 == 0,
            }
        })
        .collect()
}

/// The body used for line `i` of connection `conn`.
fn body_index(conn: usize, i: u64) -> usize {
    let x = (conn as u64)
        .wrapping_mul(0x9e37_79b9)
        .wrapping_add(i.wrapping_mul(31));
    (x % BODIES as u64) as usize
}

fn header(conn: usize, i: u64) -> String {
    format!("{conn}:{i}:")
}

/// Streams lines until at least `budget` bytes are sent, then half-closes.
/// Returns (lines, bytes).
fn write_side(mut s: TcpStream, conn: usize, budget: u64, bodies: &[Body]) -> (u64, u64) {
    let mut batch = Vec::with_capacity(BATCH + 20_000);
    let (mut i, mut sent) = (0u64, 0u64);
    while sent < budget {
        batch.clear();
        while batch.len() < BATCH && sent + (batch.len() as u64) < budget {
            let b = &bodies[body_index(conn, i)];
            batch.extend_from_slice(header(conn, i).as_bytes());
            batch.extend_from_slice(&b.content);
            batch.extend_from_slice(if b.crlf { b"\r\n" } else { b"\n" });
            i += 1;
        }
        s.write_all(&batch)
            .unwrap_or_else(|e| panic!("connection {conn}: write after {sent} bytes: {e}"));
        sent += batch.len() as u64;
    }
    s.shutdown(Shutdown::Write).expect("half-close");
    (i, sent)
}

#[derive(Debug, Default)]
struct ReadReport {
    lines: u64,
    bytes: u64,
    mismatches: u64,
    extra_bytes: u64,
    first_mismatch: Option<String>,
}

/// Verifies replies for `lines` lines (known once the writer is done, through `lines_rx`),
/// then expects the end of the stream.
fn read_side(
    s: TcpStream,
    conn: usize,
    bodies: &[Body],
    lines_rx: std::sync::mpsc::Receiver<u64>,
) -> ReadReport {
    let mut r = BufReader::with_capacity(BATCH, s);
    let mut report = ReadReport::default();
    let mut buf = vec![0u8; 20_000];
    let mut total_lines: Option<u64> = None;
    let mut i = 0u64;
    loop {
        if total_lines.is_none() {
            total_lines = lines_rx.try_recv().ok();
        }
        if total_lines.is_some_and(|n| i >= n) {
            break;
        }
        let b = &bodies[body_index(conn, i)];
        let h = header(conn, i);
        let term: &[u8] = if b.crlf { b"\r\n" } else { b"\n" };
        let len = b.content.len() + h.len() + term.len();
        match r.read_exact(&mut buf[..len]) {
            Ok(()) => {}
            // The writer may still be deciding whether this line exists: only an end of
            // stream *after* the writer said how many lines there are is a drop.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                let n = match total_lines {
                    Some(n) => n,
                    None => lines_rx.recv().expect("writer's line count"),
                };
                assert!(
                    i >= n,
                    "connection {conn}: the stream ended after {i} of {n} replies (drop)"
                );
                break;
            }
            Err(e) => panic!("connection {conn}: reading reply {i}: {e}"),
        }
        let got = &buf[..len];
        let (body, rest) = got.split_at(b.reversed.len());
        let (rev_header, got_term) = rest.split_at(h.len());
        let header_ok = rev_header.iter().eq(h.as_bytes().iter().rev());
        if body != b.reversed.as_slice() || !header_ok || got_term != term {
            // Everything after a mismatch is out of step: record it and stop this connection.
            report.mismatches += 1;
            report.first_mismatch = Some(format!(
                "connection {conn}: reply {i} mismatches (header ok: {header_ok}); got {:?}...",
                String::from_utf8_lossy(&got[..got.len().min(80)])
            ));
            return report;
        }
        report.lines += 1;
        report.bytes += len as u64;
        i += 1;
    }
    // Nothing after the last reply.
    let mut rest = Vec::new();
    r.read_to_end(&mut rest)
        .unwrap_or_else(|e| panic!("connection {conn}: reading the end of stream: {e}"));
    report.extra_bytes = rest.len() as u64;
    report
}

#[test]
#[ignore = "soak: run by .ci/run"]
fn bulk_bytes_over_64_pipelining_connections_every_reply_verified() {
    let total: u64 = env_or("RELIABILITY_BYTES", 1u64 << 30);
    let conns: usize = env_or("RELIABILITY_CONNS_GIB", 64);
    raise_own_nofile();
    let bodies = Arc::new(make_bodies());
    let bin = server_bin();
    let mut server = ServerProc::start_with(bin, &["--workers", "2"], None);
    let addr: SocketAddr = server.addr;
    let per_conn = total.div_ceil(conns as u64);

    let start = Instant::now();
    let mut threads = Vec::new();
    for conn in 0..conns {
        let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.set_write_timeout(Some(PATIENCE)).unwrap();
        let w = s.try_clone().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let bw = Arc::clone(&bodies);
        let writer = thread::spawn(move || {
            let (lines, bytes) = write_side(w, conn, per_conn, &bw);
            let _ = tx.send(lines);
            (lines, bytes)
        });
        let br = Arc::clone(&bodies);
        let reader = thread::spawn(move || read_side(s, conn, &br, rx));
        threads.push((writer, reader));
    }
    let (mut lines_sent, mut bytes_sent) = (0, 0);
    let mut total_report = ReadReport::default();
    for (conn, (w, r)) in threads.into_iter().enumerate() {
        let (lines, bytes) = w
            .join()
            .unwrap_or_else(|_| panic!("connection {conn}: writer failed"));
        let rep = r
            .join()
            .unwrap_or_else(|_| panic!("connection {conn}: reader failed"));
        if let Some(m) = &rep.first_mismatch {
            panic!("{m}");
        }
        assert_eq!(rep.lines, lines, "connection {conn}: replies vs lines sent");
        assert_eq!(
            rep.bytes, bytes,
            "connection {conn}: reply bytes vs request bytes"
        );
        assert_eq!(
            rep.extra_bytes, 0,
            "connection {conn}: bytes after the last reply"
        );
        lines_sent += lines;
        bytes_sent += bytes;
        total_report.lines += rep.lines;
        total_report.bytes += rep.bytes;
        total_report.mismatches += rep.mismatches;
        total_report.extra_bytes += rep.extra_bytes;
    }
    let took = start.elapsed();
    let mib = bytes_sent as f64 / f64::from(1 << 20);
    println!(
        "bulk: {bytes_sent} bytes ({mib:.0} MiB) in {lines_sent} lines over {conns} pipelining \
         connections to the server, every reply verified in {took:.1?} ({:.0} MiB/s \
         each way): {} mismatches, {} drops, {} extra bytes",
        mib / took.as_secs_f64(),
        total_report.mismatches,
        lines_sent - total_report.lines,
        total_report.extra_bytes,
    );
    assert_eq!(total_report.mismatches, 0);
    assert_eq!(total_report.lines, lines_sent);
    assert_eq!(total_report.bytes, bytes_sent);
    assert!(
        bytes_sent >= total,
        "sent only {bytes_sent} of {total} bytes"
    );
    assert!(server.is_running());
    let status = server.terminate(Duration::from_secs(1) + PATIENCE);
    assert!(status.success(), "server exited with {status}");
    assert_no_panic(&server);
}
