//! Smaller faults around closing and signals: a closed connection frees its
//! `--max-connections` slot at once, shutdown does not wait for idle clients, SIGHUP stops the
//! server gracefully, and bad durations get a clear message.

mod support;

use std::io::{ErrorKind, Write};

use support::*;

#[test]
fn a_closed_connection_frees_its_slot_while_the_client_keeps_its_socket() {
    // A long linger: before the fix the slot stayed taken for all of it.
    let server = Server::start(&["--max-connections", "1", "--linger", "600"]);
    let mut first = server.connect();
    first.write_all(b"one\nexit\n").expect("write");
    // The client sees the server's end of stream but keeps its own socket open.
    assert_eq!(read_to_close(&mut first), b"eno\n");
    let mut second = server.connect();
    assert_eq!(round_trip(&mut second, "not busy"), "ysub ton\n");
    drop(first);
}

#[test]
fn sigterm_exits_without_waiting_for_idle_clients_to_close() {
    // Both bounds far beyond the test's patience: exit has to come from "nothing left to
    // deliver", not from a timer.
    let mut server = Server::start(&["--linger", "600", "--shutdown-timeout", "600"]);
    let mut idle: Vec<_> = (0..3).map(|_| server.connect()).collect();
    for (i, c) in idle.iter_mut().enumerate() {
        assert_eq!(round_trip(c, &format!("idle {i}")), format!("{i} eldi\n"));
    }
    server.signal(libc::SIGTERM);
    for c in &mut idle {
        assert_eq!(read_to_close(c), b"");
    }
    // The clients still hold their sockets open.
    let status = server.wait_exit(PATIENCE);
    assert_eq!(status.code(), Some(0), "exit status {status}");
    drop(idle);
}

#[test]
fn sighup_is_a_graceful_stop() {
    let mut server = Server::start(&[]);
    let mut c = server.connect();
    assert_eq!(round_trip(&mut c, "before"), "erofeb\n");
    c.write_all(b"in flight\n").expect("write");
    server.signal(libc::SIGHUP);
    assert_eq!(read_to_close(&mut c), b"thgilf ni\n");
    let status = server.wait_exit(PATIENCE);
    assert_eq!(status.code(), Some(0), "exit status {status}");
    server
        .wait_for_line(|l| l.contains("SIGHUP received"), PATIENCE)
        .expect("the signal is named in the log");
    server
        .wait_for_line(|l| l.contains("summary:"), PATIENCE)
        .expect("summary line");
}

#[test]
fn second_signal_may_be_a_different_one() {
    let mut server = Server::start(&["--shutdown-timeout", "600"]);
    // A client that never reads nor closes keeps the shutdown waiting: it sends until the
    // server stops reading from it (its replies cannot be delivered).
    let mut c = server.connect();
    c.set_write_timeout(Some(std::time::Duration::from_secs(3)))
        .expect("write timeout");
    let chunk = b"no one reads these replies\n".repeat(2000);
    loop {
        match c.write(&chunk) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("stuck client write: {e}"),
        }
    }
    server.signal(libc::SIGHUP);
    server
        .wait_for_line(|l| l.contains("SIGHUP received"), PATIENCE)
        .expect("first signal acknowledged");
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(PATIENCE);
    assert_eq!(
        status.code(),
        Some(128 + libc::SIGTERM),
        "exit status {status}"
    );
}

#[test]
fn negative_durations_get_a_clear_message() {
    for flag in ["--idle-timeout", "--shutdown-timeout", "--linger"] {
        let out = run_to_exit(&["0", flag, "-1"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains("must not be negative"), "{flag}: {err}");
        assert!(!err.contains("-- -1"), "{flag}: misleading tip: {err}");
    }
}
