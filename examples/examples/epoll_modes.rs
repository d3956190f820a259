//! # epoll_modes: count what epoll reports, mode by mode
//!
//! What it teaches (the book's chapter "The kernel"): the difference between
//! level-triggered, edge-triggered and one-shot registrations, measured rather
//! than asserted. Three small experiments, each on real loopback TCP sockets:
//!
//! 1. The same traffic (five 1,000-byte messages) read by two kinds of reader
//!    under each mode: one that reads at most 256 bytes per event, and one
//!    that reads until `EAGAIN`. It counts events, `read` calls and bytes left
//!    behind. Edge-triggered + a partial read strands data: the classic hang.
//! 2. After the peer closes: how often each mode reports the same EOF if
//!    nobody reads it.
//! 3. The thundering herd: four threads wait for connections on one listener,
//!    sharing one epoll instance or with one epoll instance each, with and
//!    without `EPOLLEXCLUSIVE`. It counts wake-ups per connection.
//!
//! ```text
//! cargo run --example epoll_modes      # prints three tables, exits 0 if the
//!                                      # kernel behaves as the book says
//! ```

// Every `unsafe` block says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

// ANCHOR: epoll_wrapper
/// An epoll instance that closes itself when dropped.
struct Epoll(RawFd);

impl Epoll {
    fn new() -> io::Result<Epoll> {
        // SAFETY: plain system call, no pointers.
        Ok(Epoll(cvt(unsafe {
            libc::epoll_create1(libc::EPOLL_CLOEXEC)
        })?))
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: i32) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: events as u32,
            u64: fd as u64,
        };
        // SAFETY: `ev` is valid for the duration of the call; both fds are open.
        cvt(unsafe { libc::epoll_ctl(self.0, op, fd, &mut ev) }).map(|_| ())
    }

    /// Waits up to `timeout_ms`; returns how many events were reported.
    fn wait(&self, timeout_ms: i32) -> io::Result<usize> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 16];
        loop {
            // SAFETY: `events` has room for 16 entries; the kernel writes at most 16.
            let n = unsafe { libc::epoll_wait(self.0, events.as_mut_ptr(), 16, timeout_ms) };
            match cvt(n) {
                Ok(n) => return Ok(n as usize),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: we own this fd and close it exactly once.
        unsafe { libc::close(self.0) };
    }
}
// ANCHOR_END: epoll_wrapper

/// One non-blocking `read`: `Some(n)` bytes (0 = EOF), or `None` for EAGAIN.
fn read_once(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: `buf` is valid for writes of buf.len() bytes.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n >= 0 {
        return Ok(Some(n as usize));
    }
    let err = io::Error::last_os_error();
    if err.kind() == io::ErrorKind::WouldBlock {
        Ok(None)
    } else {
        Err(err)
    }
}

/// A connected loopback pair: (the client that writes, the non-blocking
/// server side that we watch with epoll).
fn tcp_pair(listener: &TcpListener) -> io::Result<(TcpStream, TcpStream)> {
    let client = TcpStream::connect(listener.local_addr()?)?;
    client.set_nodelay(true)?;
    let (server, _) = listener.accept()?;
    server.set_nonblocking(true)?;
    Ok((client, server))
}

// ANCHOR: modes
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Level,
    Edge,
    OneShot,
    /// One-shot on top of edge-triggered.
    OneShotEdge,
}

impl Mode {
    fn flags(self) -> i32 {
        match self {
            Mode::Level => libc::EPOLLIN,
            Mode::Edge => libc::EPOLLIN | libc::EPOLLET,
            // One-shot on top of level-triggered: report once, then nothing
            // until EPOLL_CTL_MOD re-arms the registration.
            Mode::OneShot => libc::EPOLLIN | libc::EPOLLONESHOT,
            // The same on top of edge-triggered. EPOLL_CTL_MOD looks at the
            // socket again in both cases, so a re-arm reports data that a
            // partial reader left behind even here.
            Mode::OneShotEdge => libc::EPOLLIN | libc::EPOLLET | libc::EPOLLONESHOT,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Level => "level",
            Mode::Edge => "edge (EPOLLET)",
            Mode::OneShot => "EPOLLONESHOT",
            Mode::OneShotEdge => "ONESHOT|EPOLLET",
        }
    }
}

// ANCHOR_END: modes

// ANCHOR: drive
#[derive(Clone, Copy, PartialEq)]
enum Reader {
    /// One `read` of at most 256 bytes per event.
    Partial,
    /// `read` until the kernel says EAGAIN.
    ToEagain,
}

#[derive(Default)]
struct Counts {
    events: usize,
    reads: usize,
    rearms: usize,
    bytes: usize,
}

/// Handles events until epoll has been quiet for 20 ms.
fn drive(ep: &Epoll, fd: RawFd, mode: Mode, reader: Reader, c: &mut Counts) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    while ep.wait(20)? > 0 {
        c.events += 1;
        match reader {
            Reader::Partial => {
                c.reads += 1;
                if let Some(n) = read_once(fd, &mut buf[..256])? {
                    c.bytes += n;
                }
            }
            Reader::ToEagain => loop {
                c.reads += 1;
                match read_once(fd, &mut buf)? {
                    Some(0) | None => break, // EOF or EAGAIN: drained
                    Some(n) => c.bytes += n,
                }
            },
        }
        if matches!(mode, Mode::OneShot | Mode::OneShotEdge) {
            c.rearms += 1;
            ep.ctl(libc::EPOLL_CTL_MOD, fd, mode.flags())?;
        }
        if c.events > 10_000 {
            break; // safety net; never reached on Linux
        }
    }
    Ok(())
}
// ANCHOR_END: drive

// ANCHOR: experiment1
/// Experiment 1: five 1,000-byte messages, one at a time, through each mode.
fn same_traffic(listener: &TcpListener, mode: Mode, reader: Reader) -> io::Result<Counts> {
    let (mut client, server) = tcp_pair(listener)?;
    let ep = Epoll::new()?;
    ep.ctl(libc::EPOLL_CTL_ADD, server.as_raw_fd(), mode.flags())?;
    let mut c = Counts::default();
    for _ in 0..5 {
        client.write_all(&[b'x'; 1000])?;
        drive(&ep, server.as_raw_fd(), mode, reader, &mut c)?;
    }
    Ok(c)
}
// ANCHOR_END: experiment1

// ANCHOR: experiment2
/// Experiment 2: the peer closes; nobody reads. How many of five
/// `epoll_wait(timeout = 0)` calls report the socket?
fn eof_reports(listener: &TcpListener, mode: Mode) -> io::Result<usize> {
    let (client, server) = tcp_pair(listener)?;
    let ep = Epoll::new()?;
    ep.ctl(
        libc::EPOLL_CTL_ADD,
        server.as_raw_fd(),
        mode.flags() | libc::EPOLLRDHUP,
    )?;
    drop(client); // FIN
                  // The first call waits (up to a second) for the FIN to arrive; the
                  // other four only look.
    let mut reports = ep.wait(1000)?;
    for _ in 0..4 {
        reports += ep.wait(0)?;
    }
    Ok(reports)
}
// ANCHOR_END: experiment2

// ANCHOR: experiment3
#[derive(Clone, Copy)]
enum Herd {
    SharedLevel,
    SharedEdge,
    PerThread,
    PerThreadExclusive,
}

/// What one run of experiment 3 saw.
struct HerdCounts {
    /// `epoll_wait` calls that returned the listener to user space.
    returns: usize,
    /// Times a waiting thread was put to sleep (voluntary context switches),
    /// minus each thread's first sleep: every extra one is a wake-up, even
    /// one the kernel swallowed because another thread had accepted already.
    wakeups: usize,
    accepted: usize,
}

/// Voluntary context switches of the calling thread so far.
fn voluntary_switches() -> usize {
    // SAFETY: getrusage fills the zeroed struct we pass; RUSAGE_THREAD asks
    // for the calling thread only.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut ru);
        ru.ru_nvcsw as usize
    }
}

// ANCHOR: herd_setup
/// Experiment 3: `threads` threads wait for connections on one listener.
/// An eventfd, registered in every epoll instance, tells them to stop.
fn herd(setup: Herd, threads: usize, conns: usize) -> io::Result<HerdCounts> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let lfd = listener.as_raw_fd();
    // ANCHOR: stop_create
    // The doorbell: an eventfd, registered (level-triggered) in every epoll
    // instance below. Writing to it makes all of them report it.
    // SAFETY: plain system call, no pointers.
    let stop_fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
    // ANCHOR_END: stop_create

    let shared = Arc::new(Epoll::new()?);
    let mut epolls = Vec::new();
    for _ in 0..threads {
        let ep = match setup {
            Herd::SharedLevel | Herd::SharedEdge => shared.clone(),
            Herd::PerThread | Herd::PerThreadExclusive => Arc::new(Epoll::new()?),
        };
        epolls.push(ep);
    }
    let listener_flags = match setup {
        Herd::SharedLevel | Herd::PerThread => libc::EPOLLIN,
        Herd::SharedEdge => libc::EPOLLIN | libc::EPOLLET,
        // Only valid with EPOLL_CTL_ADD, and not together with EPOLLONESHOT.
        Herd::PerThreadExclusive => libc::EPOLLIN | libc::EPOLLEXCLUSIVE,
    };
    match setup {
        Herd::SharedLevel | Herd::SharedEdge => {
            shared.ctl(libc::EPOLL_CTL_ADD, lfd, listener_flags)?;
            shared.ctl(libc::EPOLL_CTL_ADD, stop_fd, libc::EPOLLIN)?;
        }
        Herd::PerThread | Herd::PerThreadExclusive => {
            for ep in &epolls {
                ep.ctl(libc::EPOLL_CTL_ADD, lfd, listener_flags)?;
                ep.ctl(libc::EPOLL_CTL_ADD, stop_fd, libc::EPOLLIN)?;
            }
        }
    }
    // ANCHOR_END: herd_setup

    let returns = Arc::new(AtomicUsize::new(0));
    let switches = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = epolls
        .into_iter()
        .map(|ep| {
            let (returns, switches, accepted) =
                (returns.clone(), switches.clone(), accepted.clone());
            // ANCHOR: herd_thread
            thread::spawn(move || -> io::Result<()> {
                let start = voluntary_switches();
                let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
                'outer: loop {
                    // SAFETY: room for 4 events; the kernel writes at most 4.
                    let n = unsafe { libc::epoll_wait(ep.0, events.as_mut_ptr(), 4, -1) };
                    if n < 0 {
                        continue; // EINTR
                    }
                    for ev in &events[..n as usize] {
                        if ev.u64 == stop_fd as u64 {
                            break 'outer; // level-triggered: every thread sees it
                        }
                        returns.fetch_add(1, Ordering::Relaxed);
                        // Accept until EAGAIN (required for edge-triggered).
                        loop {
                            // SAFETY: lfd stays open until every thread is
                            // joined; accept4 allows null address pointers.
                            let fd = unsafe {
                                libc::accept4(
                                    lfd,
                                    std::ptr::null_mut(),
                                    std::ptr::null_mut(),
                                    libc::SOCK_CLOEXEC,
                                )
                            };
                            if fd < 0 {
                                break; // EAGAIN: another thread got it, or none left
                            }
                            accepted.fetch_add(1, Ordering::Relaxed);
                            // SAFETY: fd was just returned by accept4 and is ours.
                            unsafe { libc::close(fd) };
                        }
                    }
                }
                // Every sleep ended in a wake-up; the last one was the stop
                // signal, which is not a connection: minus 1.
                switches.fetch_add(
                    (voluntary_switches() - start).saturating_sub(1),
                    Ordering::Relaxed,
                );
                Ok(())
            })
            // ANCHOR_END: herd_thread
        })
        .collect();

    thread::sleep(Duration::from_millis(50)); // let every thread block
    let addr = listener.local_addr()?;
    for _ in 0..conns {
        drop(TcpStream::connect(addr)?);
        thread::sleep(Duration::from_millis(3)); // one connection at a time
    }
    thread::sleep(Duration::from_millis(50));
    // ANCHOR: stop_ring
    // Ring the doorbell: add 1 to the eventfd's counter. The counter is now
    // non-zero, so the eventfd is readable, so every epoll_wait returns.
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
    unsafe { libc::write(stop_fd, (&one as *const u64).cast(), 8) };
    // ANCHOR_END: stop_ring
    for h in handles {
        h.join().unwrap()?;
    }
    // SAFETY: every thread is joined; nobody uses stop_fd any more.
    unsafe { libc::close(stop_fd) };
    Ok(HerdCounts {
        returns: returns.load(Ordering::Relaxed),
        wakeups: switches.load(Ordering::Relaxed),
        accepted: accepted.load(Ordering::Relaxed),
    })
}
// ANCHOR_END: experiment3

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let modes = [Mode::Level, Mode::Edge, Mode::OneShot, Mode::OneShotEdge];

    println!("1. five 1,000-byte messages, one at a time (5,000 bytes sent)\n");
    println!(
        "{:<16} {:<14} {:>7} {:>7} {:>8} {:>11}",
        "mode", "reader", "events", "reads", "re-arms", "left unread"
    );
    let mut results = Vec::new();
    for mode in modes {
        for reader in [Reader::Partial, Reader::ToEagain] {
            let c = same_traffic(&listener, mode, reader)?;
            let rname = if reader == Reader::Partial {
                "256 B / event"
            } else {
                "to EAGAIN"
            };
            println!(
                "{:<16} {:<14} {:>7} {:>7} {:>8} {:>11}",
                mode.name(),
                rname,
                c.events,
                c.reads,
                c.rearms,
                5000 - c.bytes
            );
            results.push((mode, reader, c));
        }
    }

    println!("\n2. the peer closed; nobody reads; five epoll_wait calls\n");
    println!("{:<16} {:>8}", "mode", "reports");
    let mut eof = Vec::new();
    for mode in modes {
        let n = eof_reports(&listener, mode)?;
        println!("{:<16} {:>8}", mode.name(), n);
        eof.push((mode, n));
    }

    let (threads, conns) = (4, 100);
    println!("\n3. {threads} threads wait for {conns} connections, one at a time\n");
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9}",
        "setup", "accepted", "returns", "wake-ups", "per conn"
    );
    let setups = [
        (Herd::SharedLevel, "one shared epoll, level"),
        (Herd::SharedEdge, "one shared epoll, edge"),
        (Herd::PerThread, "epoll per thread"),
        (Herd::PerThreadExclusive, "epoll per thread, EPOLLEXCLUSIVE"),
    ];
    let mut herd_results = Vec::new();
    for (setup, name) in setups {
        let h = herd(setup, threads, conns)?;
        let per = h.wakeups as f64 / h.accepted.max(1) as f64;
        println!(
            "{:<34} {:>9} {:>9} {:>9} {:>9.2}",
            name, h.accepted, h.returns, h.wakeups, per
        );
        herd_results.push(h);
    }
    println!("(returns: epoll_wait came back with the listener; wake-ups: times a");
    println!(" waiting thread was woken, counted as voluntary context switches)");

    // The claims the book makes from these tables. Only the robust ones are
    // checked, so that a busy machine cannot make this fail.
    let get = |m: Mode, r: Reader| &results.iter().find(|x| x.0 == m && x.1 == r).unwrap().2;
    assert_eq!(
        5000 - get(Mode::Level, Reader::Partial).bytes,
        0,
        "level: everything gets read"
    );
    assert!(
        5000 - get(Mode::Edge, Reader::Partial).bytes > 0,
        "edge + partial read strands data"
    );
    assert_eq!(
        5000 - get(Mode::Edge, Reader::ToEagain).bytes,
        0,
        "edge + read to EAGAIN is fine"
    );
    assert_eq!(
        5000 - get(Mode::OneShot, Reader::Partial).bytes,
        0,
        "one-shot re-arm re-checks"
    );
    assert_eq!(
        5000 - get(Mode::OneShotEdge, Reader::Partial).bytes,
        0,
        "an edge-triggered one-shot re-arm re-checks too"
    );
    assert!(get(Mode::Level, Reader::Partial).events > get(Mode::Edge, Reader::Partial).events);
    assert_eq!(eof[0].1, 5, "level reports EOF on every call");
    assert_eq!(eof[1].1, 1, "edge reports EOF once");
    assert_eq!(eof[2].1, 1, "one-shot reports once until re-armed");
    for h in &herd_results {
        assert_eq!(h.accepted, conns, "every connection accepted exactly once");
        assert!(
            h.returns >= conns / threads,
            "epoll_wait reported the listener"
        );
    }
    println!("\nepoll_modes: all checks passed");
    Ok(())
}
