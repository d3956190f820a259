//! The load generator: one client for every server. Plain threads, non-blocking sockets and
//! one `epoll` instance per client thread (libc only), so the client costs as little CPU as
//! possible and behaves identically whatever server it drives. Every reply is compared byte
//! for byte with the reference model; any difference is an error.
//!
//! Only loopback addresses are accepted as targets.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// A batch of pipelined lines sent in one write, and the exact bytes expected back.
pub struct Batch {
    /// Request bytes: `lines` lines, each terminated by `\n` or `\r\n`.
    pub req: Vec<u8>,
    /// The replies, concatenated, as the reference model computes them.
    pub expect: Vec<u8>,
    /// Number of lines in the batch.
    pub lines: usize,
}

/// A small deterministic PRNG (xorshift64*), so every server gets the same requests.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is mapped to a fixed non-zero value).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }
    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// The reference model of one reply, written independently of the servers' code: reverse
/// `char`s if UTF-8, else bytes.
pub fn model_reverse(content: &[u8]) -> Vec<u8> {
    server::framing::reversed(content)
}

/// One random line's content, 8–120 bytes: 75% of lines plain ASCII, 23% with some 2-, 3- and
/// 4-byte UTF-8 characters mixed in, 2% invalid UTF-8 (reversed by bytes).
fn random_content(rng: &mut Rng) -> Vec<u8> {
    const ASCII: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_!?";
    let len = rng.range(8, 120) as usize;
    let kind = rng.range(0, 99);
    let mut s = Vec::with_capacity(len + 4);
    while s.len() < len {
        let pick = if kind < 75 { 0 } else { rng.range(0, 99) };
        match pick {
            0..=84 => s.push(ASCII[rng.range(0, ASCII.len() as u64 - 1) as usize]),
            85..=92 => s.extend_from_slice("é".as_bytes()),
            93..=96 => s.extend_from_slice("漢".as_bytes()),
            _ => s.extend_from_slice("😀".as_bytes()),
        }
    }
    if kind >= 98 {
        let at = rng.range(0, s.len() as u64 - 1) as usize;
        s[at] = 0xFF;
    }
    s
}

/// `count` batches of `lines` lines each (10% of lines end in CR LF).
pub fn make_batches(count: usize, lines: usize, seed: u64) -> Vec<Batch> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let mut req = Vec::new();
            let mut expect = Vec::new();
            for _ in 0..lines {
                let content = random_content(&mut rng);
                let term: &[u8] = if rng.range(0, 9) == 0 { b"\r\n" } else { b"\n" };
                req.extend_from_slice(&content);
                req.extend_from_slice(term);
                expect.extend_from_slice(&model_reverse(&content));
                expect.extend_from_slice(term);
            }
            Batch { req, expect, lines }
        })
        .collect()
}

/// `count` batches of `lines` long lines each, every line `min_len..=max_len` bytes of
/// printable ASCII with some UTF-8 mixed in (the heavy clients of the loaded-latency test).
pub fn make_long_batches(
    count: usize,
    lines: usize,
    min_len: usize,
    max_len: usize,
    seed: u64,
) -> Vec<Batch> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let mut req = Vec::new();
            let mut expect = Vec::new();
            for _ in 0..lines {
                let len = rng.range(min_len as u64, max_len as u64) as usize;
                let mut content = Vec::with_capacity(len + 4);
                while content.len() < len {
                    content.extend_from_slice(&random_content(&mut rng));
                }
                // Cut back to a char boundary at or below `len` (random_content may be invalid
                // UTF-8 anyway: the model reverses bytes then, as the servers must).
                content.truncate(len);
                req.extend_from_slice(&content);
                req.push(b'\n');
                expect.extend_from_slice(&model_reverse(&content));
                expect.push(b'\n');
            }
            Batch { req, expect, lines }
        })
        .collect()
}

fn check_loopback(addr: SocketAddr) -> io::Result<()> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "load tests only target loopback addresses",
        ))
    }
}

/// A minimal epoll wrapper.
struct Epoll {
    fd: RawFd,
}

impl Epoll {
    fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall; the returned fd is owned by the Epoll and closed in Drop.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Epoll { fd })
    }

    fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: token,
        };
        // SAFETY: both fds are open; `ev` is a valid epoll_event.
        if unsafe { libc::epoll_ctl(self.fd, libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn wait(&self, events: &mut [libc::epoll_event], timeout: Duration) -> io::Result<usize> {
        let ms = timeout.as_millis().clamp(1, 1000) as i32;
        // SAFETY: `events` is a valid writable buffer of the length passed.
        let n = unsafe { libc::epoll_wait(self.fd, events.as_mut_ptr(), events.len() as i32, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(e);
        }
        Ok(n as usize)
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: we own this fd and close it once.
        unsafe { libc::close(self.fd) };
    }
}

fn empty_events(n: usize) -> Vec<libc::epoll_event> {
    vec![libc::epoll_event { events: 0, u64: 0 }; n]
}

/// Sets SO_LINGER {on, 0} so that `close` resets the connection: no TIME_WAIT is left on
/// the client side, so the ephemeral port range does not run out during churn tests.
fn set_linger_zero(fd: RawFd) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `fd` is an open socket; `l` is a valid linger struct of the size passed.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
}

/// Starts a non-blocking connect to an IPv4 loopback address.
fn connect_nonblocking(addr: SocketAddr) -> io::Result<TcpStream> {
    let SocketAddr::V4(v4) = addr else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "IPv4 only"));
    };
    // SAFETY: plain syscall; the fd is wrapped in a TcpStream right after.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh socket that nothing else owns.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(v4.ip().octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a valid sockaddr_in of the size passed; `fd` is open.
    let rc = unsafe {
        libc::connect(
            fd,
            &sin as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
    }
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn mismatch(what: &str, conn: usize, at: usize, got: &[u8], want: &[u8]) -> io::Error {
    let n = got.len().min(40);
    let m = want.len().min(40);
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{what}: reply mismatch on connection {conn} at byte {at}: got {:?}…, want {:?}…",
            String::from_utf8_lossy(&got[..n]),
            String::from_utf8_lossy(&want[..m])
        ),
    )
}

/// Result of a pipelined run.
#[derive(Default)]
pub struct PipelineResult {
    /// Replies (lines) received and verified.
    pub replies: u64,
    /// Reply bytes received and verified.
    pub bytes: u64,
    /// Time from the first request to the last reply.
    pub elapsed: Duration,
    /// Round-trip time of each batch, in nanoseconds (when asked for).
    pub rtts_ns: Vec<u64>,
}

/// Options of [`pipelined`].
pub struct PipelineOpts<'a> {
    /// Server address (loopback).
    pub addr: SocketAddr,
    /// Concurrent connections.
    pub conns: usize,
    /// The request batches, cycled through; a batch's lines are all sent before any reply is
    /// read, and the next batch is sent when all its replies have arrived.
    pub batches: &'a [Batch],
    /// How long to keep starting new batches.
    pub duration: Duration,
    /// Record each batch's round-trip time.
    pub record_rtt: bool,
    /// Client threads (connections are split among them).
    pub threads: usize,
    /// CPUs the client threads are pinned to (empty: not pinned).
    pub cpus: &'a [usize],
    /// Unbounded pipelining: send batch after batch without waiting for replies (only the
    /// socket buffers and the server's backpressure limit what is in flight), while reading
    /// and verifying the replies as they come. No round-trip times are recorded.
    pub unbounded: bool,
}

/// Closed-loop pipelined load: each connection sends a batch, reads and verifies all its
/// replies, and sends the next, until `duration` has passed.
pub fn pipelined(opts: &PipelineOpts<'_>) -> io::Result<PipelineResult> {
    check_loopback(opts.addr)?;
    let threads = opts.threads.clamp(1, opts.conns.max(1));
    let barrier = Arc::new(Barrier::new(threads));
    let results: Vec<io::Result<PipelineResult>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let conns = opts.conns / threads + usize::from(t < opts.conns % threads);
                let barrier = barrier.clone();
                s.spawn(move || {
                    crate::sys::pin_current_thread(opts.cpus)?;
                    if opts.unbounded {
                        streaming_thread(opts, conns, t, &barrier)
                    } else {
                        pipelined_thread(opts, conns, t, &barrier)
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("client thread panicked")))
            })
            .collect()
    });
    let mut total = PipelineResult::default();
    for r in results {
        let r = r?;
        total.replies += r.replies;
        total.bytes += r.bytes;
        total.elapsed = total.elapsed.max(r.elapsed);
        total.rtts_ns.extend(r.rtts_ns);
    }
    Ok(total)
}

/// Opens this thread's `nconns` non-blocking connections, registers each with `ep` under its
/// index, and gives each its first batch (spread over the batch list by thread and index).
/// Waits at `barrier` even after an error, or the other threads would hang there.
fn connect_all(
    opts: &PipelineOpts<'_>,
    ep: &Epoll,
    nconns: usize,
    thread: usize,
    barrier: &Barrier,
) -> io::Result<Vec<(TcpStream, usize)>> {
    let connected = (0..nconns)
        .map(|i| {
            let stream = TcpStream::connect_timeout(&opts.addr, Duration::from_secs(5))?;
            stream.set_nodelay(true)?;
            stream.set_nonblocking(true)?;
            ep.add(stream.as_raw_fd(), i as u64)?;
            let batch = (thread * 7919 + i * 31) % opts.batches.len();
            Ok((stream, batch))
        })
        .collect::<io::Result<Vec<_>>>();
    barrier.wait();
    connected
}

struct PConn {
    stream: TcpStream,
    batch: usize,
    sent: usize,
    matched: usize,
    started: Instant,
    done: bool,
}

fn pipelined_thread(
    opts: &PipelineOpts<'_>,
    nconns: usize,
    thread: usize,
    barrier: &Barrier,
) -> io::Result<PipelineResult> {
    let ep = Epoll::new()?;
    let mut conns: Vec<PConn> = connect_all(opts, &ep, nconns, thread, barrier)?
        .into_iter()
        .map(|(stream, batch)| PConn {
            stream,
            batch,
            sent: 0,
            matched: 0,
            started: Instant::now(),
            done: false,
        })
        .collect();
    let mut res = PipelineResult::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut events = empty_events(256);
    let start = Instant::now();
    let deadline = start + opts.duration;
    let hard_deadline = deadline + Duration::from_secs(10);
    let mut remaining = nconns;
    for c in conns.iter_mut() {
        c.started = Instant::now();
        send_some(c, opts.batches)?;
    }
    let mut last_done = start;
    while remaining > 0 {
        let now = Instant::now();
        if now > hard_deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{remaining} connections still waiting for replies 10 s after the end"),
            ));
        }
        let n = ep.wait(&mut events, hard_deadline - now)?;
        for ev in &events[..n] {
            let i = ev.u64 as usize;
            let c = &mut conns[i];
            if c.done {
                continue;
            }
            send_some(c, opts.batches)?;
            loop {
                let got = match c.stream.read(&mut buf) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("server closed connection {i} in the middle of a batch"),
                        ))
                    }
                    Ok(k) => k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                let b = &opts.batches[c.batch];
                let want = &b.expect[c.matched..];
                if got > want.len() || buf[..got] != want[..got] {
                    return Err(mismatch("pipelined", i, c.matched, &buf[..got], want));
                }
                c.matched += got;
                if c.matched == b.expect.len() {
                    let t = Instant::now();
                    res.replies += b.lines as u64;
                    res.bytes += b.expect.len() as u64;
                    if opts.record_rtt {
                        res.rtts_ns.push((t - c.started).as_nanos() as u64);
                    }
                    last_done = t;
                    if t >= deadline {
                        c.done = true;
                        remaining -= 1;
                        break;
                    }
                    c.batch = (c.batch + 1) % opts.batches.len();
                    c.sent = 0;
                    c.matched = 0;
                    c.started = t;
                    send_some(c, opts.batches)?;
                }
            }
        }
    }
    res.elapsed = last_done - start;
    Ok(res)
}

/// One connection of [`streaming_thread`]: the batch being sent and the batch whose replies
/// are being read, which lags behind by however much is in flight.
struct SConn {
    stream: TcpStream,
    send_batch: usize,
    sent: usize,
    recv_batch: usize,
    matched: usize,
    /// Batches started (some bytes sent) but not fully answered.
    in_flight: usize,
}

fn streaming_thread(
    opts: &PipelineOpts<'_>,
    nconns: usize,
    thread: usize,
    barrier: &Barrier,
) -> io::Result<PipelineResult> {
    let ep = Epoll::new()?;
    let mut conns: Vec<SConn> = connect_all(opts, &ep, nconns, thread, barrier)?
        .into_iter()
        .map(|(stream, batch)| SConn {
            stream,
            send_batch: batch,
            sent: 0,
            recv_batch: batch,
            matched: 0,
            in_flight: 0,
        })
        .collect();
    let mut res = PipelineResult::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut events = empty_events(256);
    let start = Instant::now();
    let deadline = start + opts.duration;
    let mut last_done = start;
    let nb = opts.batches.len();
    loop {
        let now = Instant::now();
        if now >= deadline {
            // Stop at once rather than drain: megabytes may be in flight per connection
            // (socket buffers on both sides), and answering them would only delay the next
            // sample. The connections are reset on drop (SO_LINGER 0), which discards the
            // server's buffers too; every reply received so far has been verified.
            for c in &conns {
                set_linger_zero(c.stream.as_raw_fd());
            }
            break;
        }
        let n = ep.wait(&mut events, deadline - now)?;
        for ev in &events[..n] {
            let i = ev.u64 as usize;
            let c = &mut conns[i];
            // Send until the socket is full.
            loop {
                let req = &opts.batches[c.send_batch].req;
                if c.sent == 0 {
                    c.in_flight += 1;
                }
                match c.stream.write(&req[c.sent..]) {
                    Ok(k) => c.sent += k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if c.sent == 0 {
                            c.in_flight -= 1;
                        }
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                        if c.sent == 0 {
                            c.in_flight -= 1;
                        }
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                if c.sent == req.len() {
                    c.send_batch = (c.send_batch + 1) % nb;
                    c.sent = 0;
                }
            }
            loop {
                let got = match c.stream.read(&mut buf) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("server closed streaming connection {i}"),
                        ))
                    }
                    Ok(k) => k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                // The bytes may complete one batch's replies and start the next ones'.
                let mut off = 0;
                while off < got {
                    let b = &opts.batches[c.recv_batch];
                    let want = &b.expect[c.matched..];
                    let k = want.len().min(got - off);
                    if c.in_flight == 0 || buf[off..off + k] != want[..k] {
                        return Err(mismatch("streaming", i, c.matched, &buf[off..got], want));
                    }
                    off += k;
                    c.matched += k;
                    if c.matched == b.expect.len() {
                        res.replies += b.lines as u64;
                        res.bytes += b.expect.len() as u64;
                        c.recv_batch = (c.recv_batch + 1) % nb;
                        c.matched = 0;
                        c.in_flight -= 1;
                        last_done = Instant::now();
                    }
                }
            }
        }
    }
    res.elapsed = last_done - start;
    Ok(res)
}

fn send_some(c: &mut PConn, batches: &[Batch]) -> io::Result<()> {
    let req = &batches[c.batch].req;
    while c.sent < req.len() {
        match c.stream.write(&req[c.sent..]) {
            Ok(k) => c.sent += k,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// When a one-line-connection run stops.
pub enum Until {
    /// After this many connections have completed their exchange.
    Count(usize),
    /// After this long (connections in flight are finished).
    Elapsed(Duration),
}

/// Result of [`one_line_conns`].
pub struct OneLineResult {
    /// Connections that completed a verified exchange.
    pub completed: u64,
    /// Time taken.
    pub elapsed: Duration,
    /// With `keep_open`, the still-open connections (closed with a reset when dropped).
    pub kept: IdleConns,
}

/// Connections kept open and idle; dropping them resets (RST) every one.
#[derive(Default)]
pub struct IdleConns(Vec<TcpStream>);

impl IdleConns {
    /// How many are open.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether none are open.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for IdleConns {
    fn drop(&mut self) {
        for s in &self.0 {
            set_linger_zero(s.as_raw_fd());
        }
    }
}

struct OConn {
    stream: TcpStream,
    sent: usize,
    matched: usize,
}

/// Opens connections, `concurrency` at a time; each sends one line and verifies its reply.
/// Then the connection is reset-closed (churn) or kept open and idle (`keep_open`).
pub fn one_line_conns(
    addr: SocketAddr,
    concurrency: usize,
    until: Until,
    keep_open: bool,
    cpus: &[usize],
) -> io::Result<OneLineResult> {
    check_loopback(addr)?;
    crate::sys::pin_current_thread(cpus)?;
    const REQ: &[u8] = "churn: one line, héllo wörld 😀\n".as_bytes();
    let mut expect = model_reverse(&REQ[..REQ.len() - 1]);
    expect.push(b'\n');
    let ep = Epoll::new()?;
    let mut slots: Vec<Option<OConn>> = (0..concurrency).map(|_| None).collect();
    let mut gens = vec![0u32; concurrency];
    let mut kept = IdleConns::default();
    let mut events = empty_events(256);
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    let mut started = 0usize;
    let mut completed = 0u64;
    let may_start = |started: usize| match until {
        Until::Count(n) => started < n,
        Until::Elapsed(d) => start.elapsed() < d,
    };
    let open = |slot: usize, gen: u32| -> io::Result<OConn> {
        let stream = connect_nonblocking(addr)?;
        ep.add(stream.as_raw_fd(), (u64::from(gen) << 32) | slot as u64)?;
        Ok(OConn {
            stream,
            sent: 0,
            matched: 0,
        })
    };
    for (i, slot) in slots.iter_mut().enumerate() {
        if may_start(started) {
            *slot = Some(open(i, gens[i])?);
            started += 1;
        }
    }
    let mut active = slots.iter().filter(|s| s.is_some()).count();
    let mut last_progress = Instant::now();
    while active > 0 {
        if last_progress.elapsed() > Duration::from_secs(10) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no connection progressed for 10 s",
            ));
        }
        let n = ep.wait(&mut events, Duration::from_millis(100))?;
        for ev in &events[..n] {
            let slot = (ev.u64 & 0xFFFF_FFFF) as usize;
            if (ev.u64 >> 32) as u32 != gens[slot] {
                continue; // an event for a connection already closed in this slot
            }
            let Some(c) = slots[slot].as_mut() else {
                continue;
            };
            let mut finished = false;
            while c.sent < REQ.len() {
                match c.stream.write(&REQ[c.sent..]) {
                    Ok(k) => c.sent += k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(io::Error::new(
                            e.kind(),
                            format!("connection {started}: {e}"),
                        ))
                    }
                }
            }
            if c.sent == REQ.len() {
                loop {
                    match c.stream.read(&mut buf) {
                        Ok(0) => {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "server closed a connection before replying",
                            ))
                        }
                        Ok(k) => {
                            let want = &expect[c.matched..];
                            if k > want.len() || buf[..k] != want[..k] {
                                return Err(mismatch("one-line", slot, c.matched, &buf[..k], want));
                            }
                            c.matched += k;
                            if c.matched == expect.len() {
                                finished = true;
                                break;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                }
            }
            if finished {
                completed += 1;
                last_progress = Instant::now();
                let Some(done) = slots[slot].take() else {
                    continue;
                };
                if keep_open {
                    kept.0.push(done.stream);
                } else {
                    set_linger_zero(done.stream.as_raw_fd());
                    drop(done);
                }
                gens[slot] = gens[slot].wrapping_add(1);
                if may_start(started) {
                    slots[slot] = Some(open(slot, gens[slot])?);
                    started += 1;
                } else {
                    active -= 1;
                }
            }
        }
    }
    Ok(OneLineResult {
        completed,
        elapsed: start.elapsed(),
        kept,
    })
}

/// Waits until something accepts TCP connections at `addr` (polling every 10 ms).
pub fn wait_listening(addr: SocketAddr, timeout: Duration) -> bool {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A quick correctness probe of a server: one connection, a few tricky lines, verified.
pub fn probe(addr: SocketAddr) -> io::Result<()> {
    check_loopback(addr)?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let req: Vec<u8> = [
        &b"hello\r\n"[..],
        "héllo\n".as_bytes(),
        b"\n",
        "😀x\n".as_bytes(),
        b"\xff\xfeab\n",
    ]
    .concat();
    let expect: Vec<u8> = [
        &b"olleh\r\n"[..],
        "olléh\n".as_bytes(),
        b"\n",
        "x😀\n".as_bytes(),
        b"ba\xfe\xff\n",
    ]
    .concat();
    s.write_all(&req)?;
    let mut got = vec![0u8; expect.len()];
    s.read_exact(&mut got)?;
    if got != expect {
        return Err(mismatch("probe", 0, 0, &got, &expect));
    }
    Ok(())
}
