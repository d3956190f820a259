//! File-descriptor exhaustion in the real `server`: run it with a hard `RLIMIT_NOFILE` of
//! [`LIMIT`], open more connections than that, and check that it
//!
//! - keeps serving the connections it has while `accept` fails with `EMFILE`,
//! - does not spin: CPU time (utime + stime from /proc/PID/stat) over a window at the limit
//!   stays far below one core-second per second,
//! - recovers once the connections close: it accepts again (the queued ones and a new client
//!   that gets its replies), and its descriptor count returns to where it started.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use support::{assert_no_panic, eventually, fds_below, server_bin, ServerProc, PATIENCE};
use support::{connect, read_to_close, round_trip};

/// The server's hard (and so soft) open-files limit.
const LIMIT: u64 = 64;
/// Connections opened beyond the point where the server ran out of descriptors.
const EXTRA: usize = 100;
/// How long CPU use is measured while the server sits at the limit.
const WINDOW: Duration = Duration::from_secs(2);

/// Whether `s` has bytes to read or an end of stream within `ms` milliseconds.
fn readable_within(s: &TcpStream, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd: s.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd, and we pass a count of 1.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    n > 0
}

/// The reply to `line`: reversed, with the newline.
fn rev_line(line: &str) -> String {
    String::from_utf8(server::framing::reversed(line.as_bytes())).expect("utf-8") + "\n"
}

#[test]
fn server_at_fd_limit_keeps_serving_does_not_spin_and_recovers() {
    let started = Instant::now();
    let mut server = ServerProc::start_with(server_bin(), &["--workers", "2"], Some(LIMIT));
    // It runs under the limit we set (and could not raise it).
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let nofile = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files in /proc/PID/limits");
    assert_eq!(
        nofile
            .split_whitespace()
            .skip(3)
            .take(2)
            .collect::<Vec<_>>(),
        [LIMIT.to_string(), LIMIT.to_string()],
        "{nofile}"
    );
    let fds_at_start = server.fd_count();

    // Fill the server's descriptor table with served connections, one verified round trip
    // each, until it has no descriptor left for another one.
    let mut served = Vec::new();
    // Counted by number: descriptors inherited above the limit (cargo's jobserver pipe, when
    // run under `cargo test`) do not take a slot below it.
    while (fds_below(server.pid(), LIMIT) as u64) < LIMIT {
        let mut c = connect(server.addr);
        let i = served.len();
        let line = format!("fill {i:03}");
        assert_eq!(round_trip(&mut c, &line), rev_line(&line));
        served.push(c);
        assert!(served.len() <= LIMIT as usize, "the fd table never filled");
    }
    // Past the limit: these complete the handshake (the kernel's accept queue) but the
    // server cannot accept them. Each sends a line it cannot be answered yet.
    let mut queued = Vec::new();
    for i in 0..EXTRA {
        let mut c = connect(server.addr);
        c.write_all(format!("queued {i}\n").as_bytes()).unwrap();
        queued.push(c);
    }
    server
        .wait_for_line(|l| l.contains("Too many open files"), PATIENCE)
        .unwrap_or_else(|| {
            panic!(
                "the server never reported running out of descriptors; stderr: {:?}",
                server.stderr_lines()
            )
        });

    // At the limit: no spinning.
    let cpu0 = server.cpu_time();
    let t0 = Instant::now();
    // Measuring over a window of wall-clock time is the point here, not synchronisation.
    std::thread::sleep(WINDOW);
    let cpu = server.cpu_time() - cpu0;
    let wall = t0.elapsed();
    let share = cpu.as_secs_f64() / wall.as_secs_f64();
    let emfile_lines = server
        .stderr_lines()
        .iter()
        .filter(|l| l.contains("Too many open files"))
        .count();
    println!(
        "fd exhaustion: hard limit {LIMIT}, {} connections served, {EXTRA} more queued; at the \
         limit the server used {cpu:.2?} CPU in {wall:.2?} ({:.1}% of a core); {emfile_lines} \
         accept-error log lines so far",
        served.len(),
        share * 100.0
    );
    // Rate-limited: one report per second (with a count), not one per failed accept.
    let allowed = started.elapsed().as_secs() + 2;
    assert!(
        emfile_lines as u64 <= allowed,
        "{emfile_lines} accept-error lines in {:?}: not rate-limited",
        started.elapsed()
    );
    assert!(
        share < 0.25,
        "the server burns {:.0}% of a core while out of descriptors",
        share * 100.0
    );
    // The queued ones really are waiting: nothing came back on them.
    for (i, c) in queued.iter_mut().enumerate() {
        if readable_within(c, 0) {
            let mut buf = [0u8; 100];
            let n = c.read(&mut buf);
            panic!(
                "connection {i} beyond the limit was answered: {n:?} {:?}; server fds {}",
                String::from_utf8_lossy(&buf),
                server.fd_count()
            );
        }
    }
    // Still serving the connections it has.
    for (i, c) in served.iter_mut().enumerate().step_by(5) {
        assert_eq!(
            round_trip(c, "at the limit"),
            "timil eht ta\n",
            "served {i}"
        );
    }

    // Free descriptors: the queued connections are accepted and answered. Each is closed
    // once answered, which frees the slot the next one needs: the server hits the limit
    // again and again on the way (the first ones take the slots of the served ones).
    drop(served);
    let recovery = Instant::now();
    for (i, mut c) in queued.into_iter().enumerate() {
        let want = rev_line(&format!("queued {i}"));
        let mut got = vec![0u8; want.len()];
        c.read_exact(&mut got)
            .unwrap_or_else(|e| panic!("queued connection {i} was never answered: {e}"));
        assert_eq!(got, want.as_bytes(), "queued connection {i}");
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let rest = read_to_close(&mut c);
        assert!(
            rest.is_empty(),
            "queued connection {i}: unexpected bytes {rest:?}"
        );
    }
    println!(
        "fd exhaustion: all {EXTRA} queued connections answered within {:.2?} of the others \
         closing",
        recovery.elapsed()
    );
    let mut fresh = connect(server.addr);
    assert_eq!(round_trip(&mut fresh, "recovered"), "derevocer\n");
    drop(fresh);
    assert!(
        eventually(PATIENCE, || server.fd_count() <= fds_at_start),
        "the server holds {} descriptors after every client left (started with {fds_at_start})",
        server.fd_count()
    );
    let status = server.terminate(PATIENCE);
    assert!(status.success(), "server exited with {status}");
    assert_no_panic(&server);
}
