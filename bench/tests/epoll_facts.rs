//! The kernel behaviours the seeds' designs chapter of the book relies on, checked on the
//! running kernel (a Unix socket pair stands in for a TCP connection: same epoll rules).

#![deny(clippy::undocumented_unsafe_blocks)]

use bench::seed;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

/// Events ready now (no waiting), as (events, data) pairs.
fn ready(epfd: i32) -> Vec<(u32, u64)> {
    let mut evs = seed::events(8);
    let n = seed::wait(epfd, &mut evs, 0).unwrap();
    evs[..n].iter().map(|e| (e.events, e.u64)).collect()
}

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    (a, b)
}

const IN: u32 = libc::EPOLLIN as u32;

// ANCHOR: eexist
#[test]
fn add_twice_is_eexist_even_when_one_shot_disabled_it() {
    let ep = seed::epoll().unwrap();
    let (a, mut b) = pair();
    let one_shot = libc::EPOLLIN | libc::EPOLLONESHOT;
    seed::ctl(ep, libc::EPOLL_CTL_ADD, a.as_raw_fd(), one_shot, 1).unwrap();
    b.write_all(b"x").unwrap();
    assert_eq!(ready(ep).len(), 1); // reported once: now disabled, but still registered
    let again = seed::ctl(ep, libc::EPOLL_CTL_ADD, a.as_raw_fd(), one_shot, 1);
    // EEXIST (the error keeps its kind under the added context).
    assert_eq!(again.unwrap_err().kind(), ErrorKind::AlreadyExists);
}
// ANCHOR_END: eexist

// ANCHOR: mod_data
#[test]
fn mod_replaces_data_and_rechecks_readiness() {
    let ep = seed::epoll().unwrap();
    let (a, mut b) = pair();
    let one_shot = libc::EPOLLIN | libc::EPOLLONESHOT;
    seed::ctl(ep, libc::EPOLL_CTL_ADD, a.as_raw_fd(), one_shot, 7).unwrap();
    b.write_all(b"x").unwrap();
    assert_eq!(ready(ep), vec![(IN, 7)]);
    assert_eq!(ready(ep), vec![]); // disabled: the unread byte is not reported again
                                   // Re-arm with other data: the event carries the new value, and the byte still waiting
                                   // is reported at once (MOD polls the file, it does not wait for new data).
    seed::ctl(ep, libc::EPOLL_CTL_MOD, a.as_raw_fd(), one_shot, 8).unwrap();
    assert_eq!(ready(ep), vec![(IN, 8)]);
}
// ANCHOR_END: mod_data

// ANCHOR: et_drain
#[test]
fn edge_triggered_leftovers_need_a_drain_or_a_rearm() {
    let ep = seed::epoll().unwrap();
    let (mut a, mut b) = pair();
    let et = libc::EPOLLIN | libc::EPOLLET;
    seed::ctl(ep, libc::EPOLL_CTL_ADD, a.as_raw_fd(), et, 1).unwrap();
    b.write_all(b"xy").unwrap();
    assert_eq!(ready(ep).len(), 1);
    let mut one = [0u8; 1];
    a.read_exact(&mut one).unwrap(); // read half: one byte left in the socket
    assert_eq!(ready(ep), vec![]); // no new edge: the leftover byte is not reported
                                   // With one-shot, the re-arm (MOD) reports the leftover even in edge-triggered mode.
    let et_one_shot = et | libc::EPOLLONESHOT;
    seed::ctl(ep, libc::EPOLL_CTL_MOD, a.as_raw_fd(), et_one_shot, 1).unwrap();
    assert_eq!(ready(ep).len(), 1);
}
// ANCHOR_END: et_drain

// ANCHOR: hup
#[test]
fn hangup_is_reported_even_with_an_empty_interest_set() {
    let ep = seed::epoll().unwrap();
    let (a, b) = pair();
    seed::ctl(ep, libc::EPOLL_CTL_ADD, a.as_raw_fd(), 0, 1).unwrap();
    assert_eq!(ready(ep), vec![]);
    drop(b);
    let evs = ready(ep);
    assert_eq!(evs.len(), 1);
    // Test bits, never compare the whole mask: several are set together.
    assert!(evs[0].0 & libc::EPOLLHUP as u32 != 0, "{:#x}", evs[0].0);
}
// ANCHOR_END: hup

#[test]
fn exclusive_is_refused_with_one_shot_and_with_mod() {
    let ep = seed::epoll().unwrap();
    let (a, _b) = pair();
    let bad = libc::EPOLLIN | libc::EPOLLEXCLUSIVE | libc::EPOLLONESHOT;
    let e = seed::ctl(ep, libc::EPOLL_CTL_ADD, a.as_raw_fd(), bad, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput); // EINVAL
    let ok = libc::EPOLLIN | libc::EPOLLEXCLUSIVE;
    seed::ctl(ep, libc::EPOLL_CTL_ADD, a.as_raw_fd(), ok, 1).unwrap();
    let e = seed::ctl(ep, libc::EPOLL_CTL_MOD, a.as_raw_fd(), libc::EPOLLIN, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput); // EINVAL
}

#[test]
fn epoll_create_size_must_be_positive_but_is_otherwise_ignored() {
    for size in [1, 1 << 20] {
        // SAFETY: plain syscall; the fd is closed right after.
        let fd = unsafe { libc::epoll_create(size) };
        assert!(fd >= 0);
        // SAFETY: we own `fd`.
        unsafe { libc::close(fd) };
    }
    // SAFETY: plain syscall that must fail.
    assert_eq!(unsafe { libc::epoll_create(0) }, -1);
}
