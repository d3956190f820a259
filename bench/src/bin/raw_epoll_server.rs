//! The raw-epoll limit: the reverse protocol (`line` framing) on bare Linux syscalls, no
//! runtime. One thread per worker, each with its own `SO_REUSEPORT` listener and its own
//! edge-triggered epoll instance; per-connection buffers exist only while data is pending
//! (a partial line in, or unsent replies out), so an idle connection costs a few dozen bytes.
//!
//! `--fair-bytes N` bounds how much one connection may read before the other ready ones get
//! a turn (default: no bound, read until the socket is drained); a connection that used its
//! budget goes on a ready list served after the next non-blocking `epoll_wait`, since no new
//! edge will announce the bytes it left in the socket.
//!
//! Usage: `raw_epoll_server [PORT] [--bind IP] [--workers N] [--max-line N] [--fair-bytes N]`

#![deny(clippy::undocumented_unsafe_blocks)]

use bench::proto::{self, Action};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::RawFd;

const LISTENER: u64 = u64::MAX;
const READ_CHUNK: usize = 64 * 1024;

struct Args {
    port: u16,
    bind: Ipv4Addr,
    workers: usize,
    max_line: usize,
    fair_bytes: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        port: 9090,
        bind: Ipv4Addr::LOCALHOST,
        workers: 1,
        max_line: proto::MAX_LINE,
        fair_bytes: usize::MAX,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--workers" => {
                a.workers = val("--workers")?
                    .parse()
                    .map_err(|e| format!("--workers: {e}"))?
            }
            "--bind" => a.bind = val("--bind")?.parse().map_err(|e| format!("--bind: {e}"))?,
            "--max-line" => {
                a.max_line = val("--max-line")?
                    .parse()
                    .map_err(|e| format!("--max-line: {e}"))?
            }
            "--fair-bytes" => {
                a.fair_bytes = val("--fair-bytes")?
                    .parse()
                    .map_err(|e| format!("--fair-bytes: {e}"))?
            }
            "-h" | "--help" => {
                println!(
                    "usage: raw_epoll_server [PORT] [--bind IPV4] [--workers N] [--max-line N] [--fair-bytes N]"
                );
                std::process::exit(0);
            }
            p if !p.starts_with('-') => a.port = p.parse().map_err(|e| format!("port: {e}"))?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if a.workers == 0 || a.fair_bytes == 0 {
        return Err("--workers and --fair-bytes must be at least 1".into());
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("raw_epoll_server: {e}");
            std::process::exit(2);
        }
    };
    let _ = bench::sys::raise_nofile();
    let addr = SocketAddrV4::new(args.bind, args.port);
    let mut listeners = Vec::new();
    for _ in 0..args.workers {
        match listen_reuseport(addr) {
            Ok(fd) => listeners.push(fd),
            Err(e) => {
                eprintln!("raw_epoll_server: cannot listen on {addr}: {e}");
                std::process::exit(1);
            }
        }
    }
    eprintln!(
        "raw_epoll_server listening on {addr}, {} workers, line framing",
        args.workers
    );
    let (max_line, budget) = (args.max_line, args.fair_bytes);
    let threads: Vec<_> = listeners
        .into_iter()
        .map(|lfd| std::thread::spawn(move || worker(lfd, max_line, budget)))
        .collect();
    for t in threads {
        match t.join() {
            Ok(Err(e)) => {
                eprintln!("raw_epoll_server: worker failed: {e}");
                std::process::exit(1);
            }
            Err(_) => std::process::exit(1),
            Ok(Ok(())) => {}
        }
    }
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn set_int_opt(
    fd: RawFd,
    level: libc::c_int,
    opt: libc::c_int,
    val: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `fd` is an open socket; we pass a pointer to a live c_int and its size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            &val as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

fn listen_reuseport(addr: SocketAddrV4) -> io::Result<RawFd> {
    // SAFETY: plain syscall creating a new fd that this function owns.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.ip().octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a valid sockaddr_in of the size passed.
    cvt(unsafe {
        libc::bind(
            fd,
            &sin as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    })?;
    // SAFETY: `fd` is a bound socket.
    cvt(unsafe { libc::listen(fd, 4096) })?;
    Ok(fd)
}

/// Per-connection state. Both buffers are empty `Vec`s (no allocation) while idle.
#[derive(Default)]
struct Conn {
    /// An incomplete line carried over from earlier reads.
    pending_in: Vec<u8>,
    /// Replies the socket did not take yet; reading stops while this is non-empty.
    pending_out: Vec<u8>,
    out_pos: usize,
    /// Close once `pending_out` is flushed.
    closing: bool,
    /// On the worker's ready list already (a new event must not queue it twice).
    queued: bool,
}

struct Worker {
    epfd: RawFd,
    conns: Vec<Option<Conn>>,
    scratch: Vec<u8>,
    out: Vec<u8>,
    max_line: usize,
    /// Bytes one connection may read per turn (`--fair-bytes`).
    budget: usize,
    /// Connections that used their budget with input possibly left: served next turn.
    ready: std::collections::VecDeque<RawFd>,
}

fn worker(lfd: RawFd, max_line: usize, budget: usize) -> io::Result<()> {
    // SAFETY: plain syscall creating a new fd owned by this worker for its whole life.
    let epfd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET) as u32,
        u64: LISTENER,
    };
    // SAFETY: both fds are open and `ev` is a valid epoll_event.
    cvt(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, lfd, &mut ev) })?;
    let mut w = Worker {
        epfd,
        conns: Vec::new(),
        scratch: vec![0; READ_CHUNK],
        out: Vec::with_capacity(READ_CHUNK * 2),
        max_line,
        budget,
        ready: std::collections::VecDeque::new(),
    };
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 512];
    // After EMFILE we cannot rely on a new edge for connections already queued: retry on a
    // short timeout instead.
    let mut accept_backlog = false;
    loop {
        let timeout = if !w.ready.is_empty() {
            0
        } else if accept_backlog {
            50
        } else {
            -1
        };
        // SAFETY: `events` is a valid writable buffer of the length passed.
        let n =
            unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), events.len() as i32, timeout) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if accept_backlog {
            accept_backlog = w.accept_all(lfd);
        }
        let again = std::mem::take(&mut w.ready);
        for &fd in &again {
            if let Some(Some(c)) = w.conns.get_mut(fd as usize) {
                c.queued = false;
            }
        }
        for ev in &events[..n as usize] {
            if ev.u64 == LISTENER {
                accept_backlog = w.accept_all(lfd);
            } else {
                w.serve(ev.u64 as RawFd, ev.events);
            }
        }
        // Whether a FIN came with the first event is forgotten: read until `read` says
        // EAGAIN or end of input, as after a hang-up.
        for fd in again {
            w.serve(fd, libc::EPOLLRDHUP as u32);
        }
    }
}

impl Worker {
    /// Accepts until EAGAIN. Returns true if it had to stop early (out of fds).
    fn accept_all(&mut self, lfd: RawFd) -> bool {
        loop {
            // SAFETY: `lfd` is a listening socket; null address pointers are allowed.
            let fd = unsafe {
                libc::accept4(
                    lfd,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if fd < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) => return false,
                    Some(libc::EINTR) | Some(libc::ECONNABORTED) => continue,
                    Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS)
                    | Some(libc::ENOMEM) => return true,
                    _ => return false,
                }
            }
            let _ = set_int_opt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
            let mut ev = libc::epoll_event {
                events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
                u64: fd as u64,
            };
            // SAFETY: both fds are open and `ev` is a valid epoll_event.
            if unsafe { libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
                // SAFETY: we own `fd` and close it once.
                unsafe { libc::close(fd) };
                continue;
            }
            let idx = fd as usize;
            if self.conns.len() <= idx {
                self.conns.resize_with(idx + 1, || None);
            }
            self.conns[idx] = Some(Conn::default());
        }
    }

    fn close(&mut self, fd: RawFd) {
        if let Some(slot) = self.conns.get_mut(fd as usize) {
            if slot.take().is_some() {
                // SAFETY: the connection owned `fd`; closing also removes it from epoll.
                unsafe { libc::close(fd) };
            }
        }
    }

    /// Handles readiness of one connection: flush, then read and answer until EAGAIN.
    fn serve(&mut self, fd: RawFd, events: u32) {
        // The peer's FIN (or an error) may already be queued behind the data: then read on
        // until `read` says so, since no further edge will announce it.
        let hangup = events & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
        if !matches!(self.conns.get(fd as usize), Some(Some(_))) {
            return;
        }
        let mut read_total = 0usize;
        loop {
            match self.flush(fd) {
                Ok(true) => {}
                Ok(false) => return, // wait for EPOLLOUT
                Err(_) => return self.close(fd),
            }
            if self.conn(fd).closing {
                return self.close(fd);
            }
            if read_total >= self.budget {
                // Fair share used: let the other ready connections run first. Once only:
                // new edges while queued must not give it extra turns.
                if !self.conn(fd).queued {
                    self.conn(fd).queued = true;
                    self.ready.push_back(fd);
                }
                return;
            }
            // SAFETY: `scratch` is a valid writable buffer of the length passed.
            let n = unsafe {
                libc::read(
                    fd,
                    self.scratch.as_mut_ptr() as *mut libc::c_void,
                    self.scratch.len(),
                )
            };
            if n < 0 {
                match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EAGAIN) => return,
                    Some(libc::EINTR) => continue,
                    _ => return self.close(fd),
                }
            }
            read_total += n as usize;
            self.out.clear();
            let mut out = std::mem::take(&mut self.out);
            let scratch = std::mem::take(&mut self.scratch);
            let max_line = self.max_line;
            let conn = self.conn(fd);
            if n == 0 {
                // End of input: answer the unterminated tail, then close after flushing.
                proto::finish_tail(&conn.pending_in, &mut out);
                conn.pending_in = Vec::new();
                conn.closing = true;
            } else {
                let data = &scratch[..n as usize];
                let action = if conn.pending_in.is_empty() {
                    let (used, action) = proto::process_lines(data, &mut out, max_line);
                    if action == Action::Continue && used < data.len() {
                        conn.pending_in = data[used..].to_vec();
                    }
                    action
                } else {
                    conn.pending_in.extend_from_slice(data);
                    let (used, action) = proto::process_lines(&conn.pending_in, &mut out, max_line);
                    if used == conn.pending_in.len() {
                        conn.pending_in = Vec::new();
                    } else {
                        conn.pending_in.drain(..used);
                    }
                    action
                };
                if action == Action::Close {
                    conn.pending_in = Vec::new();
                    conn.closing = true;
                }
            }
            self.scratch = scratch;
            if !out.is_empty() {
                match write_some(fd, &out) {
                    Ok(k) if k == out.len() => {}
                    Ok(k) => {
                        let conn = self.conn(fd);
                        conn.pending_out = out[k..].to_vec();
                        conn.out_pos = 0;
                    }
                    Err(_) => {
                        self.out = out;
                        return self.close(fd);
                    }
                }
            }
            self.out = out;
            // A short read drained the socket: with edge triggering, any later data (or FIN)
            // raises a new event, so skip the read that would only return EAGAIN.
            if !hangup
                && (n as usize) < self.scratch.len()
                && !self.conn(fd).closing
                && self.conn(fd).pending_out.is_empty()
            {
                return;
            }
        }
    }

    fn conn(&mut self, fd: RawFd) -> &mut Conn {
        match self.conns.get_mut(fd as usize) {
            Some(Some(c)) => c,
            // `serve` checked the connection exists and only `close` removes it.
            _ => unreachable!("connection {fd} vanished"),
        }
    }

    /// Writes pending output. Ok(true): nothing left; Ok(false): the socket is full.
    fn flush(&mut self, fd: RawFd) -> io::Result<bool> {
        let conn = self.conn(fd);
        if conn.pending_out.is_empty() {
            return Ok(true);
        }
        let k = write_some(fd, &conn.pending_out[conn.out_pos..])?;
        conn.out_pos += k;
        if conn.out_pos == conn.pending_out.len() {
            conn.pending_out = Vec::new();
            conn.out_pos = 0;
            Ok(true)
        } else {
            Ok(false)
        }
    }
}

/// Writes as much of `buf` as the socket takes now (0 when full).
fn write_some(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the pointer and length describe the live tail of `buf`.
        let n = unsafe {
            libc::send(
                fd,
                buf[done..].as_ptr() as *const libc::c_void,
                buf.len() - done,
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => break,
                Some(libc::EINTR) => continue,
                _ => return Err(e),
            }
        }
        done += n as usize;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::IntoRawFd;
    use std::os::unix::net::UnixStream;

    /// A connection with its budget spent is queued once, however many events it gets
    /// meanwhile (duplicates would grow the list and give it extra turns).
    #[test]
    fn ready_list_holds_a_connection_once() {
        // SAFETY: plain syscall; the fd lives as long as the test process.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(epfd >= 0);
        let mut w = Worker {
            epfd,
            conns: Vec::new(),
            scratch: vec![0; READ_CHUNK],
            out: Vec::new(),
            max_line: usize::MAX / 2,
            budget: 1,
            ready: std::collections::VecDeque::new(),
        };
        let (ours, mut peer) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        peer.set_nonblocking(true).unwrap();
        let fd = ours.into_raw_fd();
        w.conns.resize_with(fd as usize + 1, || None);
        w.conns[fd as usize] = Some(Conn::default());
        // No LF (nothing to answer) and more than a read's worth: the budget ends each turn.
        let _ = peer.write(&vec![b'a'; 200 * 1024]);
        for _ in 0..5 {
            w.serve(fd, libc::EPOLLIN as u32);
        }
        assert_eq!(w.ready.len(), 1, "{:?}", w.ready);
    }
}
