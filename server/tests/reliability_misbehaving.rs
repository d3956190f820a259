//! Every kind of misbehaving client at once against the real `server`, while a well-behaved
//! client pipelines tens of thousands of lines and checks every reply.
//!
//! For `RELIABILITY_CHAOS_SECS` seconds (default 8) these run side by side, each in a loop:
//!
//! - **resetters**: send a 1 MiB batch of lines, then close with `SO_LINGER` 0 (a TCP reset)
//!   either as soon as the batch is sent or after the first 64 KiB of replies, i.e. while the
//!   server is in the middle of writing ~1 MiB of replies;
//! - a **half-closer**: lines plus an unterminated tail, `shutdown(Write)`, reads to the end;
//! - a **slow drip** that never completes a line (one byte per second), which the server must
//!   close with `error: idle timeout` after `--idle-timeout` (4 s);
//! - a **slow drip** of complete lines (`a\n` at one byte per second), which must be served;
//! - a **giant line** with no newline (4 MiB), which must get `error: line longer than ...`;
//! - **never-readers**: send as fast as they can and never read.
//!
//! Meanwhile the good client runs sessions of 20,000 pipelined lines (ASCII, UTF-8, CR LF,
//! empty and invalid-UTF-8 lines) and verifies every reply, in order, and the end of stream.
//! The server must stay up, its RSS bounded, and answer a fresh client at the end.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::{assert_no_panic, env_or, rss_kib, ServerProc, PATIENCE};
use support::{connect, read_n, read_to_close, reversed, round_trip};

/// `--idle-timeout` of the server under test, in seconds.
const IDLE_SECS: u64 = 4;
/// Lines per good-client session.
const GOOD_LINES: usize = 20_000;
/// Bound on the server's RSS growth over its warmed-up baseline while all this goes on.
const RSS_BOUND_KIB: u64 = 64 * 1024;

/// What every misbehaving role did, for the report and the "it really happened" checks.
#[derive(Default)]
struct Counts {
    resets: AtomicUsize,
    reset_reply_bytes: AtomicU64,
    half_closes: AtomicUsize,
    drip_timeouts: AtomicUsize,
    drip_bytes: AtomicUsize,
    drip_lines_served: AtomicUsize,
    giant_lines: AtomicUsize,
    flood_conns: AtomicUsize,
    flood_closed_by_server: AtomicUsize,
    flood_max_bytes: AtomicU64,
}

/// Request and expected replies for one good-client session.
fn good_session(session: usize) -> (Vec<u8>, Vec<u8>, Vec<usize>) {
    let mut request = Vec::new();
    let mut want = Vec::new();
    // Offsets in `want` where each reply starts, to name the first bad line if any.
    let mut starts = Vec::with_capacity(GOOD_LINES);
    for i in 0..GOOD_LINES {
        let content: Vec<u8> = match i % 13 {
            0 => Vec::new(),
            1 => format!("héllo wörld 🦀 ünïcödé {session}/{i}").into_bytes(),
            2 => {
                let mut v = format!("bytes {session}/{i} ").into_bytes();
                v.extend_from_slice(&[0xff, 0xfe, b'x', 0xc3]);
                v
            }
            _ => format!(
                "good client session {session} line {i} {}",
                "=".repeat(i % 40)
            )
            .into_bytes(),
        };
        let term: &[u8] = if i % 7 == 3 { b"\r\n" } else { b"\n" };
        request.extend_from_slice(&content);
        request.extend_from_slice(term);
        starts.push(want.len());
        want.extend(reversed(&content));
        want.extend_from_slice(term);
    }
    (request, want, starts)
}

/// One good session on a fresh connection: pipeline everything from a writer thread, read
/// and verify every reply, then half-close and expect the end of stream (nothing extra).
fn run_good_session(addr: SocketAddr, session: usize) -> usize {
    let (request, want, starts) = good_session(session);
    let mut c = connect(addr);
    let mut w = c.try_clone().unwrap();
    let writer = thread::spawn(move || {
        w.write_all(&request).expect("good client: write");
        w.shutdown(Shutdown::Write)
            .expect("good client: half-close");
    });
    let got = read_n(&mut c, want.len());
    if got != want {
        let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(0);
        let line = starts.partition_point(|&s| s <= at) - 1;
        panic!(
            "good client session {session}: reply to line {line} differs at byte {at}: got {:?}, want {:?}",
            String::from_utf8_lossy(&got[starts[line]..(starts[line] + 80).min(got.len())]),
            String::from_utf8_lossy(&want[starts[line]..(starts[line] + 80).min(want.len())]),
        );
    }
    let extra = read_to_close(&mut c);
    assert!(
        extra.is_empty(),
        "good client session {session}: {} unexpected bytes after the last reply",
        extra.len()
    );
    writer.join().expect("good client writer");
    GOOD_LINES
}

/// Sets `SO_LINGER` to {on, 0 s}: closing the socket then sends a reset, not a FIN.
fn set_linger_zero(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is owned by `s`, alive for the call; the option value is a
    // valid `linger` whose size is passed along.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
}

/// Waits until `s` is readable (and writable, if `want_write`); returns (readable, writable).
fn poll_rw(s: &TcpStream, want_write: bool) -> (bool, bool) {
    let mut pfd = libc::pollfd {
        fd: s.as_raw_fd(),
        events: libc::POLLIN | if want_write { libc::POLLOUT } else { 0 },
        revents: 0,
    };
    let ms = i32::try_from(PATIENCE.as_millis()).unwrap();
    // SAFETY: `pfd` is one valid pollfd, and we pass a count of 1.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    assert!(n > 0, "resetter: poll timed out or failed: {n}");
    let r = pfd.revents;
    (
        r & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0,
        r & (libc::POLLOUT | libc::POLLERR) != 0,
    )
}

/// Sends a 1 MiB batch and resets the connection mid-reply. Returns the reply bytes received
/// before the reset.
fn reset_mid_reply(addr: SocketAddr, round: usize) -> Option<u64> {
    let mut request = Vec::new();
    let mut want = Vec::new();
    for i in 0..4000 {
        let line = format!("reset round {round} line {i:04} {}", "r".repeat(220));
        request.extend_from_slice(line.as_bytes());
        request.push(b'\n');
        want.extend(reversed(line.as_bytes()));
        want.push(b'\n');
    }
    // Odd rounds reset after some replies arrived, even ones as soon as all is sent.
    let read_before_reset = if round % 2 == 1 { 64 << 10 } else { 0 };
    let mut s = connect(addr);
    s.set_nonblocking(true).unwrap();
    let (mut sent, mut got) = (0, 0);
    let mut buf = vec![0u8; 64 << 10];
    while sent < request.len() || got < read_before_reset {
        let (readable, writable) = poll_rw(&s, sent < request.len());
        if writable && sent < request.len() {
            match s.write(&request[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("resetter: write: {e}"),
            }
        }
        if readable {
            match s.read(&mut buf) {
                Ok(0) => panic!("resetter: server closed early"),
                Ok(n) => {
                    assert_eq!(
                        &buf[..n],
                        &want[got..got + n],
                        "resetter: bad reply bytes before the reset"
                    );
                    got += n;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("resetter: read: {e}"),
            }
        }
    }
    set_linger_zero(&s);
    drop(s);
    // Normally far less than all of it arrived; `None` in the unlikely case that the server
    // answered the last line before we reset (then it was not a reset mid-reply).
    (got < want.len()).then_some(got as u64)
}

/// Lines plus an unterminated tail, then half-close: every reply and the reversed tail.
fn half_close_session(addr: SocketAddr, round: usize) {
    let mut request = Vec::new();
    let mut want = Vec::new();
    for i in 0..300 {
        let line = format!("half-close {round}:{i} ñ");
        request.extend_from_slice(line.as_bytes());
        request.push(b'\n');
        want.extend(reversed(line.as_bytes()));
        want.push(b'\n');
    }
    let tail = format!("unterminated tail {round} ü");
    request.extend_from_slice(tail.as_bytes());
    want.extend(reversed(tail.as_bytes()));
    let mut c = connect(addr);
    // ~10 KiB fits in the socket buffers: the write cannot block on unread replies.
    c.write_all(&request).expect("half-closer: write");
    c.shutdown(Shutdown::Write).expect("half-closer: shutdown");
    let got = read_to_close(&mut c);
    assert!(got == want, "half-closer round {round}: replies differ");
}

/// Drips one byte per second and never completes a line; returns how long the server took
/// to close it, and the bytes dripped.
fn drip_until_idle_timeout(addr: SocketAddr) -> (Duration, usize) {
    // Timed from before the connect: the server's idle clock starts at its accept.
    let start = Instant::now();
    let mut c = connect(addr);
    c.set_nodelay(true).unwrap();
    let mut w = c.try_clone().unwrap();
    let dripper = thread::spawn(move || {
        let mut dripped = 0;
        // Bounded: the server must have closed it long before this many seconds.
        for _ in 0..(IDLE_SECS * 10) {
            if w.write_all(b"x").is_err() {
                break;
            }
            dripped += 1;
            // Pacing, not synchronisation: one byte per second.
            thread::sleep(Duration::from_secs(1));
        }
        dripped
    });
    let got = read_to_close(&mut c);
    let waited = start.elapsed();
    // Shutting down the socket (shared with the dripper's clone) makes the dripper's next
    // write fail, and our FIN ends the server's lingering close at once.
    let _ = c.shutdown(Shutdown::Both);
    let dripped = dripper.join().expect("dripper");
    assert_eq!(got, b"error: idle timeout\n", "slow drip without newline");
    (waited, dripped)
}

/// Drips `a\n` at one byte per second; each line must be answered. Runs until `stop`.
fn drip_lines(addr: SocketAddr, stop: &AtomicBool) -> usize {
    let mut c = connect(addr);
    c.set_nodelay(true).unwrap();
    let mut served = 0;
    loop {
        for &b in b"a\n" {
            // Pacing, not synchronisation: one byte per second.
            thread::sleep(Duration::from_secs(1));
            c.write_all(&[b]).expect("line dripper: write");
        }
        assert_eq!(read_n(&mut c, 2), b"a\n", "line dripper: reply");
        served += 1;
        if stop.load(Ordering::SeqCst) {
            return served;
        }
    }
}

/// A 4 MiB line without a newline: the error message, then the close.
fn giant_line(addr: SocketAddr) {
    let mut c = connect(addr);
    let w = c.try_clone().unwrap();
    let writer = thread::spawn(move || {
        support::write_ignoring_close(w, &vec![b'g'; 4 << 20]);
    });
    let got = read_to_close(&mut c);
    assert_eq!(
        got, b"error: line longer than 65536 bytes\n",
        "giant line without newline"
    );
    drop(c);
    writer.join().expect("giant-line writer");
}

/// Floods one connection without ever reading, until the server closes it or `stop`.
/// Returns (bytes accepted while the server was still serving, closed by the server).
///
/// While it serves, the server must stop reading once its replies back up (backpressure),
/// so the bytes it accepts stay bounded. After its idle timeout it closes the connection:
/// it shuts its sending side and reads and *discards* for `--linger` (2 s) so that the
/// close cannot reset replies in flight; that phase is bounded by time, not bytes, so the
/// byte bound applies only before the idle timeout could have fired.
fn flood_without_reading(addr: SocketAddr, stop: &AtomicBool) -> (u64, bool) {
    let serving = Duration::from_secs(IDLE_SECS);
    let started = Instant::now();
    let mut c = connect(addr);
    // The timeout is pacing (how often `stop` is checked), not synchronisation.
    c.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let chunk = b"never reading the replies to this line\n".repeat(1600);
    let mut sent = 0u64;
    loop {
        match c.write(&chunk) {
            Ok(n) if started.elapsed() < serving => sent += n as u64,
            Ok(_) => {} // the server is lingering: it discards without replying
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if stop.load(Ordering::SeqCst) {
                    return (sent, false);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {
                return (sent, true)
            }
            Err(e) => panic!("flooder: write: {e}"),
        }
        assert!(
            sent < 256 << 20,
            "the server kept reading ({sent} bytes) from a client that never reads"
        );
        assert!(
            started.elapsed() < serving + Duration::from_secs(60),
            "the server never closed a client that never reads ({sent} bytes sent)"
        );
    }
}

/// Runs `body` in a loop on a thread until `stop` (at least once).
fn role(
    name: &'static str,
    stop: &Arc<AtomicBool>,
    mut body: impl FnMut(usize) + Send + 'static,
) -> thread::JoinHandle<()> {
    let stop = Arc::clone(stop);
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let mut round = 0;
            loop {
                body(round);
                round += 1;
                if stop.load(Ordering::SeqCst) {
                    return;
                }
            }
        })
        .unwrap()
}

#[test]
#[ignore = "soak: run by .ci/run"]
fn misbehaving_clients_all_at_once_while_a_good_client_loses_nothing() {
    let chaos = Duration::from_secs(env_or("RELIABILITY_CHAOS_SECS", 8));
    let idle = IDLE_SECS.to_string();
    let mut server = ServerProc::start(&["--idle-timeout", &idle, "--workers", "2"]);
    let addr = server.addr;
    // Warm-up so the baseline includes the runtime's steady state and full buffer pools.
    run_good_session(addr, usize::MAX);
    let baseline = server.rss_kib();

    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let max_rss = Arc::new(AtomicU64::new(baseline));
    let mut roles = Vec::new();

    for k in 0..2 {
        let c = Arc::clone(&counts);
        roles.push(role("resetter", &stop, move |round| {
            if let Some(got) = reset_mid_reply(addr, 2 * round + k) {
                c.resets.fetch_add(1, Ordering::SeqCst);
                c.reset_reply_bytes.fetch_add(got, Ordering::SeqCst);
            }
        }));
    }
    let c = Arc::clone(&counts);
    roles.push(role("half-closer", &stop, move |round| {
        half_close_session(addr, round);
        c.half_closes.fetch_add(1, Ordering::SeqCst);
    }));
    let c = Arc::clone(&counts);
    roles.push(role("drip-no-newline", &stop, move |_| {
        let (waited, dripped) = drip_until_idle_timeout(addr);
        assert!(
            waited >= Duration::from_secs(IDLE_SECS) - Duration::from_millis(100),
            "slow drip closed after only {waited:?}"
        );
        assert!(
            waited < Duration::from_secs(IDLE_SECS) + PATIENCE / 2,
            "slow drip closed only after {waited:?}"
        );
        c.drip_timeouts.fetch_add(1, Ordering::SeqCst);
        c.drip_bytes.fetch_add(dripped, Ordering::SeqCst);
    }));
    let (c, s) = (Arc::clone(&counts), Arc::clone(&stop));
    roles.push(role("drip-lines", &stop, move |_| {
        let served = drip_lines(addr, &s);
        c.drip_lines_served.fetch_add(served, Ordering::SeqCst);
    }));
    let c = Arc::clone(&counts);
    roles.push(role("giant-line", &stop, move |_| {
        giant_line(addr);
        c.giant_lines.fetch_add(1, Ordering::SeqCst);
    }));
    for _ in 0..2 {
        let (c, s) = (Arc::clone(&counts), Arc::clone(&stop));
        roles.push(role("never-reader", &stop, move |_| {
            let (sent, closed) = flood_without_reading(addr, &s);
            c.flood_conns.fetch_add(1, Ordering::SeqCst);
            c.flood_closed_by_server
                .fetch_add(usize::from(closed), Ordering::SeqCst);
            c.flood_max_bytes.fetch_max(sent, Ordering::SeqCst);
        }));
    }
    let monitor = {
        let (stop, max_rss) = (Arc::clone(&stop), Arc::clone(&max_rss));
        let pid = server.pid();
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                max_rss.fetch_max(rss_kib(pid), Ordering::SeqCst);
                // Sampling period, not synchronisation.
                thread::sleep(Duration::from_millis(100));
            }
        })
    };

    // The good client, for the whole chaos period (at least one full session).
    let start = Instant::now();
    let mut sessions = 0;
    let mut verified = 0;
    loop {
        verified += run_good_session(addr, sessions);
        sessions += 1;
        assert!(
            server.is_running(),
            "server died; stderr: {:?}",
            server.stderr_lines()
        );
        if start.elapsed() >= chaos {
            break;
        }
    }
    let good_time = start.elapsed();
    stop.store(true, Ordering::SeqCst);
    for r in roles {
        let name = r.thread().name().unwrap_or("?").to_owned();
        r.join().unwrap_or_else(|_| panic!("role {name} failed"));
    }
    monitor.join().unwrap();

    assert!(
        server.is_running(),
        "server died; stderr: {:?}",
        server.stderr_lines()
    );
    let mut fresh = connect(addr);
    assert_eq!(
        round_trip(&mut fresh, "after the storm"),
        "mrots eht retfa\n"
    );
    let peak = max_rss.load(Ordering::SeqCst).max(server.rss_kib());
    let after = server.rss_kib();
    let c = &counts;
    println!(
        "misbehaving: good client verified {verified} lines in {sessions} sessions ({good_time:.1?}), \
         0 lost; alongside: {} resets mid-reply ({} reply bytes checked before them), {} \
         half-closes, {} slow drips closed by idle timeout ({} bytes dripped), {} dripped lines \
         served, {} giant lines refused, {} never-reading connections ({} closed by the server, \
         at most {} bytes accepted from one); server RSS {baseline} KiB -> peak {peak} KiB -> \
         {after} KiB",
        c.resets.load(Ordering::SeqCst),
        c.reset_reply_bytes.load(Ordering::SeqCst),
        c.half_closes.load(Ordering::SeqCst),
        c.drip_timeouts.load(Ordering::SeqCst),
        c.drip_bytes.load(Ordering::SeqCst),
        c.drip_lines_served.load(Ordering::SeqCst),
        c.giant_lines.load(Ordering::SeqCst),
        c.flood_conns.load(Ordering::SeqCst),
        c.flood_closed_by_server.load(Ordering::SeqCst),
        c.flood_max_bytes.load(Ordering::SeqCst),
    );
    assert!(
        peak.saturating_sub(baseline) < RSS_BOUND_KIB,
        "server RSS grew from {baseline} KiB to {peak} KiB (bound: +{RSS_BOUND_KIB} KiB)"
    );
    for (what, n) in [
        ("resets", c.resets.load(Ordering::SeqCst)),
        ("half-closes", c.half_closes.load(Ordering::SeqCst)),
        ("drip timeouts", c.drip_timeouts.load(Ordering::SeqCst)),
        ("dripped lines", c.drip_lines_served.load(Ordering::SeqCst)),
        ("giant lines", c.giant_lines.load(Ordering::SeqCst)),
        ("never-readers", c.flood_conns.load(Ordering::SeqCst)),
    ] {
        assert!(n > 0, "no {what} happened");
    }
    drop(fresh);
    let status = server.terminate(PATIENCE);
    assert!(status.success(), "server exited with {status}");
    assert_no_panic(&server);
}
