//! # raw_epoll: the reverse server on bare epoll, no runtime
//!
//! What it teaches: the design of the original C++ epoll sample, written in
//! plain Rust on top of `libc`, so that every system call is visible:
//!
//! * one **epoll thread** that accepts connections and reads from them;
//! * a pool of **worker threads** that cut the bytes into lines, reverse each
//!   line and write the replies back;
//! * `EPOLLONESHOT`, used as a hand-over of ownership: once the kernel has
//!   reported a connection, it reports it to nobody else until the worker that
//!   owns it re-arms it with `EPOLL_CTL_MOD`.
//!
//! It speaks the `line` framing of the reverse protocol (see the book's chapter
//! on the protocol): each line comes back reversed, `exit` closes.
//!
//! ```text
//! cargo run --example raw_epoll -- 9090          # serve on 127.0.0.1:9090
//! cargo run --example raw_epoll -- --self-test   # port 0, drive it with clients, exit 0
//! ```
//!
//! What it does *not* do, on purpose (the book's later chapters fix each one):
//! a worker that meets a slow reader waits for it with `poll(2)`, so a few slow
//! clients can occupy every worker; there is no idle timeout and no limit on
//! the number of connections.

// Every `unsafe` block says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

/// Longest line (content, without terminator) a connection may send.
const MAX_LINE: usize = 64 * 1024;
/// How many bytes the epoll thread reads per event.
const READ_CHUNK: usize = 16 * 1024;
/// The `u64` we give the kernel for the listening socket. Connections use the
/// address of their `Conn` instead, which is never 0 or 1.
const LISTENER_TOKEN: u64 = 1;

// ANCHOR: conn
/// Everything we know about one connection. It lives in a `Box`, and exactly
/// one party owns it at any time: the kernel (while the fd is armed, its
/// address is the epoll event's `u64`), the epoll thread (while reading), or a
/// worker (while reversing and writing). EPOLLONESHOT is what makes that true.
struct Conn {
    fd: RawFd,
    /// Bytes read but not yet answered: at most one unfinished line.
    inbuf: Vec<u8>,
    /// The peer shut down its sending side (read returned 0).
    eof: bool,
}
// ANCHOR_END: conn

/// A thin, checked wrapper over a libc call that returns -1 on error.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

// ANCHOR: arm
/// Arms `conn` for one readable event, handing the box to the kernel.
/// `op` is `EPOLL_CTL_ADD` the first time and `EPOLL_CTL_MOD` afterwards.
fn arm(epfd: RawFd, conn: Box<Conn>, op: libc::c_int) -> io::Result<()> {
    let fd = conn.fd;
    let mut ev = libc::epoll_event {
        // Level-triggered + one-shot: report once, then stay silent until
        // re-armed. On re-arm the kernel checks the socket again, so bytes we
        // left unread are reported at once: one read per event is enough.
        events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLONESHOT) as u32,
        u64: Box::into_raw(conn) as u64,
    };
    // SAFETY: `ev` is a valid, initialised epoll_event that lives across the
    // call; epfd and fd are open descriptors owned by this program.
    let res = cvt(unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) });
    if res.is_err() {
        // The kernel did not take the pointer: take the box back and drop it.
        // SAFETY: the pointer came from Box::into_raw just above and nobody
        // else saw it, because the registration failed.
        drop(unsafe { Box::from_raw(ev.u64 as *mut Conn) });
    }
    res.map(|_| ())
}
// ANCHOR_END: arm

// ANCHOR: queue
/// The hand-off between the epoll thread and the workers: a mutex-protected
/// deque plus a condition variable to sleep on while it is empty.
struct JobQueue {
    jobs: Mutex<VecDeque<Box<Conn>>>,
    ready: Condvar,
}

impl JobQueue {
    fn push(&self, conn: Box<Conn>) {
        self.jobs.lock().unwrap().push_back(conn);
        self.ready.notify_one();
    }

    fn pop(&self) -> Box<Conn> {
        let mut jobs = self.jobs.lock().unwrap();
        loop {
            if let Some(conn) = jobs.pop_front() {
                return conn;
            }
            // `wait` releases the lock and sleeps in one step, so a push that
            // happens between our check and our sleep cannot be missed.
            jobs = self.ready.wait(jobs).unwrap();
        }
    }
}
// ANCHOR_END: queue

// ANCHOR: epoll_loop
/// The epoll thread: accept new connections, read from ready ones, and pass
/// each connection that has new bytes to a worker.
fn epoll_loop(listener: TcpListener, epfd: RawFd, queue: Arc<JobQueue>) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32, // level-triggered, no one-shot
        u64: LISTENER_TOKEN,
    };
    // SAFETY: valid epoll_event, open descriptors.
    cvt(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, listener.as_raw_fd(), &mut ev) })?;

    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        // SAFETY: `events` has room for `events.len()` entries; the kernel
        // writes at most that many.
        let n = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), events.len() as i32, -1) };
        if n == -1 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue; // a signal arrived; just wait again
            }
            return Err(err);
        }
        for ev in &events[..n as usize] {
            if ev.u64 == LISTENER_TOKEN {
                accept_all(&listener, epfd)?;
                continue;
            }
            // SAFETY: every other token is a pointer we produced with
            // Box::into_raw in `arm`. EPOLLONESHOT disabled the fd when this
            // event was queued, so no other event carries this pointer: we
            // are its only owner now.
            let mut conn = unsafe { Box::from_raw(ev.u64 as *mut Conn) };
            read_some(&mut conn, &mut buf);
            queue.push(conn); // a worker answers and re-arms (or closes)
        }
    }
}

// ANCHOR_END: epoll_loop

/// Accepts until the kernel says there is nobody left (EAGAIN).
fn accept_all(listener: &TcpListener, epfd: RawFd) -> io::Result<()> {
    loop {
        match listener.accept() {
            Ok((stream, _peer)) => {
                stream.set_nonblocking(true)?;
                let conn = Box::new(Conn {
                    fd: stream.into_raw_fd(), // Conn owns the fd from now on
                    inbuf: Vec::new(),
                    eof: false,
                });
                let fd = conn.fd;
                if let Err(e) = arm(epfd, conn, libc::EPOLL_CTL_ADD) {
                    eprintln!("raw_epoll: epoll_ctl(ADD): {e}");
                    // SAFETY: fd is ours (into_raw_fd above) and not registered.
                    unsafe { libc::close(fd) };
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // EMFILE, ECONNABORTED...: report it and let epoll call us again.
            Err(e) => {
                eprintln!("raw_epoll: accept: {e}");
                return Ok(());
            }
        }
    }
}

// ANCHOR: read_some
/// One `read(2)`: whatever the kernel has, up to `buf.len()` bytes.
fn read_some(conn: &mut Conn, buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; conn.fd is open.
    let n = unsafe { libc::read(conn.fd, buf.as_mut_ptr().cast(), buf.len()) };
    match n {
        0 => conn.eof = true,
        n if n > 0 => conn.inbuf.extend_from_slice(&buf[..n as usize]),
        _ => {
            let err = io::Error::last_os_error();
            match err.kind() {
                // Spurious readiness, or a signal: nothing to hand over, the
                // worker will just re-arm.
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => {}
                // ECONNRESET and friends: treat as end of the conversation.
                _ => conn.eof = true,
            }
        }
    }
}
// ANCHOR_END: read_some

// ANCHOR: worker
/// A worker: take a connection, answer every complete line, then either give
/// the connection back to the kernel (re-arm) or close it.
fn worker_loop(epfd: RawFd, queue: Arc<JobQueue>) {
    loop {
        let mut conn = queue.pop();
        let keep_open = match answer_lines(&mut conn) {
            Ok(keep_open) => keep_open,
            Err(e) => {
                if e.kind() != io::ErrorKind::BrokenPipe {
                    eprintln!("raw_epoll: fd {}: {e}", conn.fd);
                }
                false
            }
        };
        if keep_open {
            // Hand the box back to the kernel. From the moment epoll_ctl
            // returns, the epoll thread may already own it again.
            let fd = conn.fd;
            if let Err(e) = arm(epfd, conn, libc::EPOLL_CTL_MOD) {
                eprintln!("raw_epoll: epoll_ctl(MOD): {e}");
                // SAFETY: arm() dropped the box; the fd is still ours.
                unsafe { libc::close(fd) };
            }
        } else {
            // Closing the fd also removes it from the epoll interest list.
            // SAFETY: conn.fd is open and owned by conn, which we drop next.
            unsafe { libc::close(conn.fd) };
        }
    }
}

// ANCHOR_END: worker

// ANCHOR: answer_lines
/// Reverses and sends every complete line. Returns whether to keep going.
fn answer_lines(conn: &mut Conn) -> io::Result<bool> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut close = false;
    while let Some(pos) = conn.inbuf[start..].iter().position(|&b| b == b'\n') {
        let line = &conn.inbuf[start..start + pos + 1];
        start += pos + 1;
        let (content, terminator) = split_terminator(line);
        if content == b"exit" {
            close = true; // no reply for exit; drop everything after it
            break;
        }
        if content.len() > MAX_LINE {
            out.extend_from_slice(format!("error: line longer than {MAX_LINE} bytes\n").as_bytes());
            close = true;
            break;
        }
        out.extend_from_slice(&reverse(content));
        out.extend_from_slice(terminator);
    }
    conn.inbuf.drain(..start);

    if !close && conn.inbuf.len() > MAX_LINE {
        out.extend_from_slice(format!("error: line longer than {MAX_LINE} bytes\n").as_bytes());
        close = true;
    }
    if !close && conn.eof && !conn.inbuf.is_empty() {
        // End of input: answer the unterminated tail without a terminator.
        out.extend_from_slice(&reverse(&conn.inbuf));
    }
    write_all(conn.fd, &out)?;
    Ok(!close && !conn.eof)
}
// ANCHOR_END: answer_lines

// ANCHOR: write_all
/// Writes everything, waiting with poll(2) whenever the socket buffer is full.
/// This is the weak spot of the design: the worker is stuck here for as long
/// as the client does not read.
fn write_all(fd: RawFd, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // MSG_NOSIGNAL: a peer that went away gives EPIPE instead of SIGPIPE.
        // SAFETY: `data` is valid for reads of data.len() bytes; fd is open.
        let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
        if n >= 0 {
            data = &data[n as usize..]; // a short write is normal: go on
            continue;
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => {
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one valid pollfd; poll writes only its revents.
                unsafe { libc::poll(&mut pfd, 1, -1) };
            }
            _ => return Err(err),
        }
    }
    Ok(())
}
// ANCHOR_END: write_all

// ANCHOR: reverse
/// Splits a line into its content and its terminator (`\n`, `\r\n` or none).
fn split_terminator(line: &[u8]) -> (&[u8], &[u8]) {
    if let Some(rest) = line.strip_suffix(b"\r\n") {
        (rest, b"\r\n")
    } else if let Some(rest) = line.strip_suffix(b"\n") {
        (rest, b"\n")
    } else {
        (line, b"")
    }
}

/// Reverses the characters of valid UTF-8, or else the bytes.
fn reverse(content: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(content) {
        Ok(s) => s.chars().rev().collect::<String>().into_bytes(),
        Err(_) => content.iter().rev().copied().collect(),
    }
}
// ANCHOR_END: reverse

// ANCHOR: main
/// Starts the epoll thread and `workers` worker threads on `listener`.
fn start(listener: TcpListener, workers: usize) -> io::Result<()> {
    // SAFETY: plain system call, no pointers.
    let epfd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    let queue = Arc::new(JobQueue {
        jobs: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
    });
    for _ in 0..workers {
        let queue = queue.clone();
        thread::spawn(move || worker_loop(epfd, queue));
    }
    thread::spawn(move || {
        if let Err(e) = epoll_loop(listener, epfd, queue) {
            eprintln!("raw_epoll: epoll thread: {e}");
            std::process::exit(1);
        }
    });
    Ok(())
}

fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--self-test") {
        return self_test();
    }
    let port: u16 = match arg.as_deref() {
        None => 9090,
        Some(p) => p.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "usage: raw_epoll [PORT | --self-test]",
            )
        })?,
    };
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("raw_epoll: listening on {}", listener.local_addr()?);
    start(listener, 2)?;
    loop {
        thread::park(); // the other threads do the work; Ctrl-C ends us
    }
}
// ANCHOR_END: main

/// Starts the server on port 0 and checks its answers with real clients.
fn self_test() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    start(listener, 2)?;
    let connect = || -> io::Result<TcpStream> {
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(s)
    };

    // 1. Simple lines, CRLF, UTF-8, an empty line, then exit closes.
    let mut s = connect()?;
    s.write_all(b"hello\nab\r\nh\xc3\xa9llo\n\n")?;
    let mut r = BufReader::new(s.try_clone()?);
    for want in ["olleh\n", "ba\r\n", "olléh\n", "\n"] {
        let mut got = String::new();
        r.read_line(&mut got)?;
        assert_eq!(got, want);
    }
    s.write_all(b"exit\nnot answered\n")?;
    let mut rest = Vec::new();
    r.read_to_end(&mut rest)?;
    assert!(rest.is_empty(), "nothing may follow exit, got {rest:?}");

    // 2. A line split into one-byte writes (many reads, many re-arms).
    let mut s = connect()?;
    s.set_nodelay(true)?;
    for b in b"split across reads\n" {
        s.write_all(&[*b])?;
        thread::sleep(Duration::from_millis(1));
    }
    let mut r = BufReader::new(s.try_clone()?);
    let mut got = String::new();
    r.read_line(&mut got)?;
    assert_eq!(got, "sdaer ssorca tilps\n");

    // 3. Eight clients at once, each pipelining 2,000 lines, then half-close:
    //    every reply in order, and the unterminated tail answered last.
    let clients: Vec<_> = (0..8)
        .map(|c| {
            thread::spawn(move || -> io::Result<()> {
                let s = TcpStream::connect(addr)?;
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                let mut w = s.try_clone()?;
                let writer = thread::spawn(move || -> io::Result<()> {
                    for i in 0..2000 {
                        writeln!(w, "client {c} line {i}")?;
                    }
                    w.write_all(b"tail")?;
                    w.shutdown(Shutdown::Write)
                });
                let mut r = BufReader::new(s);
                for i in 0..2000 {
                    let mut got = String::new();
                    r.read_line(&mut got)?;
                    let want: String = format!("client {c} line {i}").chars().rev().collect();
                    assert_eq!(got, want + "\n");
                }
                let mut tail = String::new();
                r.read_to_string(&mut tail)?;
                assert_eq!(tail, "liat");
                writer.join().unwrap()
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap()?;
    }

    // 4. A line over the limit gets the error and the connection closes.
    let mut s = connect()?;
    let long = vec![b'x'; MAX_LINE + 10];
    // The server may close before reading everything; ignore a reset here.
    let _ = s.write_all(&long);
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(
        got.starts_with(format!("error: line longer than {MAX_LINE} bytes\n").as_bytes()),
        "got {:?}",
        String::from_utf8_lossy(&got[..got.len().min(80)])
    );

    println!("raw_epoll: self-test passed");
    Ok(())
}
