//! What the three seed servers (`src/bin/seed_*.rs`) share, so that each binary shows only
//! its own design: argument parsing, thin syscall wrappers, one connection's state
//! ([`Conn`]) and, for the two designs with one epoll instance per thread, that thread's
//! event loop ([`Loop`]).
//!
//! A connection is served the same way in every design: flush what is pending, then read,
//! answer every complete line with [`proto::process_lines`], write, and repeat until the
//! socket has nothing more, the peer stops taking replies, or the connection has read its
//! byte budget (`--fair-bytes`) and must let the others run.

use crate::proto::{self, Action};
use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;

#[derive(Clone, Copy)]
/// Command line of every seed server: `PORT [--workers N] [--max-line N] [--fair-bytes N]`.
pub struct Args {
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// Worker threads (what a worker is depends on the design).
    pub workers: usize,
    /// Longest accepted line.
    pub max_line: usize,
    /// Bytes one connection may read before the others get a turn.
    pub fair_bytes: usize,
}

/// Parses the command line or exits with status 2 and a message.
pub fn parse_args(name: &str) -> Args {
    let mut a = Args {
        port: 9090,
        workers: 1,
        max_line: proto::MAX_LINE,
        fair_bytes: 64 * 1024,
    };
    let mut it = std::env::args().skip(1);
    let fail = |msg: String| -> ! {
        eprintln!(
            "{name}: {msg}\nusage: {name} [PORT] [--workers N] [--max-line N] [--fair-bytes N]"
        );
        std::process::exit(2)
    };
    while let Some(arg) = it.next() {
        let mut num = |what: &str| -> usize {
            match it.next().map(|v| v.parse()) {
                Some(Ok(v)) if v > 0 => v,
                _ => fail(format!("{what} needs a positive number")),
            }
        };
        match arg.as_str() {
            "--workers" => a.workers = num("--workers"),
            "--max-line" => a.max_line = num("--max-line"),
            "--fair-bytes" => a.fair_bytes = num("--fair-bytes"),
            p if !p.starts_with('-') => match p.parse() {
                Ok(port) => a.port = port,
                Err(e) => fail(format!("port {p}: {e}")),
            },
            other => fail(format!("unknown option {other}")),
        }
    }
    a
}

/// Turns a `-1` return into the thread's `errno`, with what was being done.
pub fn cvt(rc: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    } else {
        Ok(rc)
    }
}

fn set_opt(fd: RawFd, level: libc::c_int, opt: libc::c_int) -> io::Result<()> {
    let one: libc::c_int = 1;
    cvt(
        // SAFETY: `fd` is an open socket; the pointer and size describe a live c_int.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                opt,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        },
        "setsockopt",
    )
    .map(drop)
}

/// A listening socket on 127.0.0.1:`port`; non-blocking unless `blocking`.
pub fn listen(port: u16, blocking: bool) -> io::Result<RawFd> {
    let flags = if blocking { 0 } else { libc::SOCK_NONBLOCK };
    let fd = cvt(
        // SAFETY: plain syscall creating a new fd that the caller owns.
        unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC | flags,
                0,
            )
        },
        "socket",
    )?;
    set_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR)?;
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    cvt(
        // SAFETY: `sin` is a valid sockaddr_in of the size passed.
        unsafe {
            libc::bind(
                fd,
                (&sin as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        },
        "bind",
    )?;
    // SAFETY: `fd` is a bound socket.
    cvt(unsafe { libc::listen(fd, 4096) }, "listen")?;
    Ok(fd)
}

/// Accepts one connection (non-blocking, close-on-exec, `TCP_NODELAY`). `Ok(None)`: the
/// queue is empty (or the peer gave up before we got to it).
pub fn accept(lfd: RawFd) -> io::Result<Option<RawFd>> {
    loop {
        let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: `lfd` is a listening socket; null address pointers are allowed.
        let fd = unsafe { libc::accept4(lfd, std::ptr::null_mut(), std::ptr::null_mut(), flags) };
        if fd >= 0 {
            // Replies are small and must leave at once: no Nagle delay.
            let _ = set_opt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY);
            return Ok(Some(fd));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::ECONNABORTED) => return Ok(None),
            Some(libc::EINTR) => continue,
            _ => return Err(io::Error::new(e.kind(), format!("accept4: {e}"))),
        }
    }
}

/// [`accept`], with an error (out of descriptors, say) reported on stderr and treated as an
/// empty queue: the caller goes back to waiting, and the next event retries.
pub fn accept_logged(lfd: RawFd, name: &str) -> Option<RawFd> {
    accept(lfd).unwrap_or_else(|e| {
        eprintln!("{name}: {e}");
        None
    })
}

/// A new epoll instance. (`epoll_create1`: the size argument of `epoll_create` has been
/// ignored since Linux 2.6.8.)
pub fn epoll() -> io::Result<RawFd> {
    // SAFETY: plain syscall creating a new fd owned by the caller.
    cvt(
        unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) },
        "epoll_create1",
    )
}

/// `epoll_ctl(op)` with an interest set and the 64-bit `data` the kernel hands back.
pub fn ctl(
    epfd: RawFd,
    op: libc::c_int,
    fd: RawFd,
    events: libc::c_int,
    data: u64,
) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: events as u32,
        u64: data,
    };
    // SAFETY: both fds are open; `ev` is a valid epoll_event.
    cvt(
        unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) },
        "epoll_ctl",
    )
    .map(drop)
}

/// `epoll_wait`; an interrupted wait returns no events. `timeout_ms` -1 waits forever.
pub fn wait(epfd: RawFd, events: &mut [libc::epoll_event], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: `events` is a valid writable buffer of the length passed.
    let n = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), events.len() as i32, timeout_ms) };
    match cvt(n, "epoll_wait") {
        Ok(n) => Ok(n as usize),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

/// A buffer of `n` empty event slots for [`wait`].
pub fn events(n: usize) -> Vec<libc::epoll_event> {
    vec![libc::epoll_event { events: 0, u64: 0 }; n]
}

/// Per-thread scratch buffers, lent to whichever connection is being served.
pub struct Bufs {
    input: Vec<u8>,
    out: Vec<u8>,
}

impl Default for Bufs {
    fn default() -> Bufs {
        Bufs {
            input: vec![0; 64 * 1024],
            out: Vec::with_capacity(128 * 1024),
        }
    }
}

/// What a connection waits for after [`Conn::serve`].
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Input drained: wait for readability.
    Read,
    /// Replies are pending and the socket is full: wait for writability.
    Write,
    /// The byte budget is spent and more input may be waiting: serve it again later, after
    /// the other ready connections.
    Again,
    /// Done (end of input, `exit`, an error): drop the connection.
    Close,
}

/// One connection: owns its socket (closed on drop, which also removes it from every epoll
/// set) and holds buffers only while bytes are pending, so an idle one costs a few words.
pub struct Conn {
    /// The socket.
    pub fd: RawFd,
    pending_in: Vec<u8>,
    pending_out: Vec<u8>,
    closing: bool,
    /// On [`Loop`]'s ready list already (so a new event does not add it a second time).
    queued: bool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: the connection owns `fd` and closes it once.
        unsafe { libc::close(self.fd) };
    }
}

impl Conn {
    /// Takes ownership of an accepted, non-blocking socket.
    pub fn new(fd: RawFd) -> Conn {
        Conn {
            fd,
            pending_in: Vec::new(),
            pending_out: Vec::new(),
            closing: false,
            queued: false,
        }
    }

    /// Serves the connection after readiness `events` until it must wait (see [`Step`]).
    pub fn serve(&mut self, events: u32, bufs: &mut Bufs, max_line: usize, budget: usize) -> Step {
        // A FIN or error may sit behind the data: then read on until `read` reports it,
        // since no new edge will announce it.
        let hangup = events & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
        let mut read_total = 0;
        loop {
            match self.flush() {
                Ok(true) => {}
                Ok(false) => return Step::Write,
                Err(_) => return Step::Close,
            }
            if self.closing {
                return Step::Close;
            }
            if read_total >= budget {
                return Step::Again;
            }
            let buf = &mut bufs.input;
            // SAFETY: `buf` is a valid writable buffer of the length passed.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EAGAIN) => return Step::Read,
                    Some(libc::EINTR) => continue,
                    _ => return Step::Close,
                }
            }
            let n = n as usize;
            read_total += n;
            bufs.out.clear();
            self.answer(&bufs.input[..n], &mut bufs.out, max_line);
            self.pending_out.extend_from_slice(&bufs.out);
            // A short read emptied the socket: any later byte (or FIN) raises a new event,
            // in every mode, so the read that would only say EAGAIN is skipped.
            if !hangup && n < bufs.input.len() && !self.closing {
                return match self.flush() {
                    Ok(true) => Step::Read,
                    Ok(false) => Step::Write,
                    Err(_) => Step::Close,
                };
            }
        }
    }

    /// Answers the complete lines of `data` (after any carried-over partial line).
    fn answer(&mut self, data: &[u8], out: &mut Vec<u8>, max_line: usize) {
        if data.is_empty() {
            proto::finish_tail(&self.pending_in, out);
            self.pending_in = Vec::new();
            self.closing = true;
            return;
        }
        let action = if self.pending_in.is_empty() {
            // The common case: no partial line carried over, answer straight from `data`.
            let (used, action) = proto::process_lines(data, out, max_line);
            self.pending_in.extend_from_slice(&data[used..]);
            action
        } else {
            self.pending_in.extend_from_slice(data);
            let (used, action) = proto::process_lines(&self.pending_in, out, max_line);
            self.pending_in.drain(..used);
            if self.pending_in.is_empty() {
                // Give the memory back: an idle connection holds no buffer.
                self.pending_in = Vec::new();
            }
            action
        };
        if action == Action::Close {
            self.closing = true;
        }
    }

    /// Writes pending replies. Ok(true): all written; Ok(false): the socket is full.
    fn flush(&mut self) -> io::Result<bool> {
        let mut done = 0;
        while done < self.pending_out.len() {
            let rest = &self.pending_out[done..];
            // SAFETY: the pointer and length describe the live slice `rest`.
            let n = unsafe {
                libc::send(
                    self.fd,
                    rest.as_ptr().cast(),
                    rest.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                done += n as usize;
                continue;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EAGAIN) => break,
                Some(libc::EINTR) => continue,
                _ => return Err(io::Error::last_os_error()),
            }
        }
        self.pending_out.drain(..done);
        if self.pending_out.is_empty() {
            self.pending_out = Vec::new();
            return Ok(true);
        }
        Ok(false)
    }
}

/// Tokens at or above this are not connections (connections use their fd as token).
pub const FIRST_SPECIAL_TOKEN: u64 = 1 << 32;

/// One thread's event loop over its own epoll instance, edge-triggered: every connection is
/// registered once for input and output, and served until it must wait. A connection that
/// spent its byte budget goes to the back of a ready list that is served after the next
/// (non-blocking) `epoll_wait`, since no new edge will come for the bytes it left unread.
pub struct Loop {
    /// The epoll instance.
    pub epfd: RawFd,
    conns: Vec<Option<Conn>>,
    ready: VecDeque<RawFd>,
    events: Vec<libc::epoll_event>,
    bufs: Bufs,
    max_line: usize,
    budget: usize,
}

impl Loop {
    /// A loop with a fresh epoll instance.
    pub fn new(args: &Args) -> io::Result<Loop> {
        Ok(Loop {
            epfd: epoll()?,
            conns: Vec::new(),
            ready: VecDeque::new(),
            events: events(256),
            bufs: Bufs::default(),
            max_line: args.max_line,
            budget: args.fair_bytes,
        })
    }

    /// Adopts an accepted socket.
    pub fn add(&mut self, fd: RawFd) -> io::Result<()> {
        let conn = Conn::new(fd);
        let interest = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        ctl(self.epfd, libc::EPOLL_CTL_ADD, fd, interest, fd as u64)?;
        let i = fd as usize;
        if self.conns.len() <= i {
            self.conns.resize_with(i + 1, || None);
        }
        self.conns[i] = Some(conn);
        Ok(())
    }

    /// [`Loop::add`], with a failure reported on stderr (the socket is closed).
    pub fn add_logged(&mut self, fd: RawFd, name: &str) {
        if let Err(e) = self.add(fd) {
            eprintln!("{name}: {e}");
        }
    }

    /// Waits for events (not at all if connections are left on the ready list), serves the
    /// connections, and returns the special tokens that fired, for the caller to handle.
    pub fn turn(&mut self, fired: &mut Vec<u64>) -> io::Result<()> {
        fired.clear();
        let timeout = if self.ready.is_empty() { -1 } else { 0 };
        let n = wait(self.epfd, &mut self.events, timeout)?;
        let again = std::mem::take(&mut self.ready);
        for &fd in &again {
            if let Some(Some(c)) = self.conns.get_mut(fd as usize) {
                c.queued = false;
            }
        }
        for i in 0..n {
            let ev = self.events[i];
            if ev.u64 >= FIRST_SPECIAL_TOKEN {
                fired.push(ev.u64);
            } else {
                self.serve(ev.u64 as RawFd, ev.events);
            }
        }
        // Whether a FIN came with the first event is forgotten: read until `read` says
        // EAGAIN or end of input, as after a hang-up.
        for fd in again {
            self.serve(fd, libc::EPOLLRDHUP as u32);
        }
        Ok(())
    }

    fn serve(&mut self, fd: RawFd, events: u32) {
        let Some(Some(conn)) = self.conns.get_mut(fd as usize) else {
            return;
        };
        match conn.serve(events, &mut self.bufs, self.max_line, self.budget) {
            Step::Read | Step::Write => {}
            // Once only: a connection that gets new edges while queued must not gain
            // extra turns (and the list must not grow).
            Step::Again if conn.queued => {}
            Step::Again => {
                conn.queued = true;
                self.ready.push_back(fd);
            }
            Step::Close => self.conns[fd as usize] = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::IntoRawFd;

    use std::os::unix::net::UnixStream;

    /// A connection that keeps receiving while it is on the ready list must stay on it once:
    /// a copy per event would let the list grow without bound and serve that connection
    /// many times per turn, which is the unfairness the budget exists to prevent.
    #[test]
    fn a_connection_is_on_the_ready_list_at_most_once() {
        let args = Args {
            port: 0,
            workers: 1,
            max_line: usize::MAX / 2,
            fair_bytes: 1,
        };
        let mut lp = Loop::new(&args).unwrap();
        let (ours, mut peer) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        peer.set_nonblocking(true).unwrap();
        // No LF: nothing is answered, so only reading matters; more than one read's worth,
        // so that every turn ends with the budget spent and bytes left.
        let chunk = vec![b'a'; 200 * 1024];
        lp.add(ours.into_raw_fd()).unwrap();
        let mut fired = Vec::new();
        for _ in 0..50 {
            // New bytes on every turn: a new edge while the connection is still queued.
            let _ = peer.write(&chunk);
            lp.turn(&mut fired).unwrap();
            assert!(lp.ready.len() <= 1, "ready list: {:?}", lp.ready);
        }
    }
}
