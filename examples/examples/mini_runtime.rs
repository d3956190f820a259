//! # mini_runtime: a complete async runtime in one file
//!
//! What it teaches (the book's chapter "Build it yourself"): the smallest
//! runtime that serves real TCP connections, with every part the production
//! runtime has, each in its simplest form:
//!
//! * a **reactor**: one epoll instance, edge-triggered registrations, and a
//!   table from token to the wakers waiting on that socket;
//! * one **global queue** of tasks; waking a task pushes it there, once;
//! * **`block_on`**, which polls the main future, runs queued tasks, and sleeps
//!   in `epoll_wait` when there is nothing to run; an eventfd wakes it when a
//!   task is woken from another thread;
//! * **`TcpListener` and `TcpStream` futures**: try the system call, and on
//!   `EAGAIN` leave a waker with the reactor and return `Pending`;
//! * the **reverse protocol** (line framing) served on top of it.
//!
//! Everything runs on the thread that called `block_on`; only wakes may come
//! from other threads. That is what keeps it short, and what the production
//! chapters change.
//!
//! ```text
//! cargo run --example mini_runtime -- 9090          # serve on 127.0.0.1:9090
//! cargo run --example mini_runtime -- --self-test   # port 0, a client checks replies
//! ```

// Every `unsafe` block says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// A failed system call as an `io::Error` that says which call failed.
fn check(ret: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if ret < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(ret)
}

fn wake(waker: Option<Waker>) {
    if let Some(w) = waker {
        w.wake();
    }
}

/// A poisoned lock only means a task panicked while holding it; the data
/// (wakers, queue entries) is still consistent, so keep going.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ANCHOR: reactor
/// The epoll instance and, per registered socket, who waits for it.
struct Reactor {
    epoll: OwnedFd,
    /// An eventfd in the interest list: writing to it ends `epoll_wait`.
    wake_fd: OwnedFd,
    /// Indexed by token. `None` marks a free entry, reused by the next socket.
    slots: Mutex<Vec<Option<Slot>>>,
}

/// The wakers of the tasks waiting to read from and to write to one socket.
#[derive(Default)]
struct Slot {
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// The token of the eventfd; sockets use their index in `slots`.
const WAKE_TOKEN: u64 = u64::MAX;
// ANCHOR_END: reactor

impl Reactor {
    fn new() -> io::Result<Reactor> {
        // SAFETY: plain system calls with no pointer arguments; each result
        // is checked before it is wrapped into an `OwnedFd`, which becomes
        // its only owner.
        let (epoll, wake_fd) = unsafe {
            let ep = check(libc::epoll_create1(libc::EPOLL_CLOEXEC), "epoll_create1")?;
            let ev = check(
                libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC),
                "eventfd",
            )?;
            (OwnedFd::from_raw_fd(ep), OwnedFd::from_raw_fd(ev))
        };
        let reactor = Reactor {
            epoll,
            wake_fd,
            slots: Mutex::new(Vec::new()),
        };
        // Readable only: an eventfd is almost always writable, and EPOLLOUT
        // would report it again after every read.
        let wake_fd = reactor.wake_fd.as_raw_fd();
        reactor.ctl(
            libc::EPOLL_CTL_ADD,
            wake_fd,
            WAKE_TOKEN,
            libc::EPOLLIN | libc::EPOLLET,
        )?;
        Ok(reactor)
    }

    // ANCHOR: register
    /// Adds `fd` to the interest list once, for everything we will ever wait
    /// for, edge-triggered: no `epoll_ctl` per operation later.
    fn register(&self, fd: RawFd) -> io::Result<usize> {
        let mut slots = lock(&self.slots);
        let token = match slots.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                slots.push(None);
                slots.len() - 1
            }
        };
        let all = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        self.ctl(libc::EPOLL_CTL_ADD, fd, token as u64, all)?;
        slots[token] = Some(Slot::default());
        Ok(token)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64, events: i32) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: events as u32,
            u64: token,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        let ret = unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut ev) };
        check(ret, "epoll_ctl").map(drop)
    }
    // ANCHOR_END: register

    fn deregister(&self, fd: RawFd, token: usize) {
        // Closing the fd would remove it too; deleting first means no event
        // for this token can arrive once the slot is reused.
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, token as u64, 0);
        lock(&self.slots)[token] = None;
    }

    // ANCHOR: turn
    /// Waits for events (`timeout_ms` -1: until there is one) and wakes the
    /// tasks waiting for them.
    fn turn(&self, timeout_ms: libc::c_int) -> io::Result<()> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        // SAFETY: the kernel writes at most `events.len()` entries into it.
        let n = unsafe {
            libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), 64, timeout_ms)
        };
        let n = match check(n, "epoll_wait") {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            r => r? as usize,
        };
        let mut slots = lock(&self.slots);
        for ev in &events[..n] {
            let (bits, token) = (ev.events as libc::c_int, ev.u64);
            if token == WAKE_TOKEN {
                let mut buf = [0u8; 8];
                // SAFETY: reads 8 bytes into an 8-byte buffer; resetting the
                // counter lets the next write produce a new edge.
                unsafe { libc::read(self.wake_fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
                continue;
            }
            let Some(Some(slot)) = slots.get_mut(token as usize) else {
                continue; // deregistered since: nobody waits
            };
            let errs = libc::EPOLLERR | libc::EPOLLHUP;
            if bits & (libc::EPOLLIN | libc::EPOLLRDHUP | errs) != 0 {
                wake(slot.reader.take());
            }
            if bits & (libc::EPOLLOUT | errs) != 0 {
                wake(slot.writer.take());
            }
        }
        Ok(())
    }
    // ANCHOR_END: turn

    /// Ends a `turn` that is sleeping in `epoll_wait`, from any thread.
    fn notify(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from an 8-byte buffer. It can only fail
        // when the counter is about to overflow, and then a wake is pending.
        unsafe { libc::write(self.wake_fd.as_raw_fd(), one.as_ptr().cast(), 8) };
    }
}

// ANCHOR: task
type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A spawned future. The `Arc<Task>` is queue entry and waker at once.
struct Task {
    future: Mutex<Option<BoxFuture>>,
    /// True while the task is in the queue: ten wakes, one entry.
    queued: AtomicBool,
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            let rt = runtime();
            lock(&rt.queue).push_back(self);
            rt.reactor.notify(); // maybe we sleep in epoll_wait
        }
    }
}
// ANCHOR_END: task

/// The reactor and the global queue: one per process, made on first use.
struct Runtime {
    reactor: Reactor,
    queue: Mutex<VecDeque<Arc<Task>>>,
}

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime {
        reactor: Reactor::new().unwrap_or_else(|e| panic!("mini runtime: {e}")),
        queue: Mutex::new(VecDeque::new()),
    })
}

fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
    let task = Arc::new(Task {
        future: Mutex::new(Some(Box::pin(fut))),
        queued: AtomicBool::new(false),
    });
    task.wake();
}

// ANCHOR: block_on
/// Runs `main` to completion on this thread, running spawned tasks and the
/// reactor in between.
fn block_on<T>(main: impl Future<Output = T>) -> io::Result<T> {
    let mut main = pin!(main);
    let main_task = Arc::new(MainWaker(AtomicBool::new(true)));
    let main_waker = Waker::from(main_task.clone());
    let rt = runtime();
    loop {
        if main_task.0.swap(false, Ordering::AcqRel) {
            if let Poll::Ready(out) = main.as_mut().poll(&mut Context::from_waker(&main_waker)) {
                return Ok(out);
            }
        }
        // Run what is queued now; what those tasks wake waits for the next round.
        let ready = lock(&rt.queue).len();
        for _ in 0..ready {
            let Some(task) = lock(&rt.queue).pop_front() else {
                break;
            };
            task.queued.store(false, Ordering::Release); // a wake from now on re-queues
            let waker = Waker::from(task.clone());
            let mut cx = Context::from_waker(&waker);
            let mut slot = lock(&task.future);
            if slot
                .as_mut()
                .is_some_and(|fut| fut.as_mut().poll(&mut cx).is_ready())
            {
                *slot = None; // done: drop the future (and its sockets) now
            }
        }
        let idle = lock(&rt.queue).is_empty() && !main_task.0.load(Ordering::Acquire);
        rt.reactor.turn(if idle { -1 } else { 0 })?;
    }
}

// ANCHOR_END: block_on

// ANCHOR: main_waker
/// The main future is not a task: waking it sets a flag and rings the reactor.
struct MainWaker(AtomicBool);

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
        runtime().reactor.notify();
    }
}
// ANCHOR_END: main_waker

// ANCHOR: io
/// A non-blocking socket registered with the reactor.
struct Async<T: AsRawFd> {
    io: T,
    token: usize,
}

impl<T: AsRawFd> Async<T> {
    fn new(io: T) -> io::Result<Async<T>> {
        let token = runtime().reactor.register(io.as_raw_fd())?;
        Ok(Async { io, token })
    }

    // ANCHOR_END: io
    // ANCHOR: poll_io
    /// Tries `op`; on `EAGAIN` leaves the waker for the reactor. The slot
    /// lock is held across the system call, and the reactor only runs on
    /// this thread between polls, so no event can slip in between the
    /// `EAGAIN` and the stored waker: an arrival after the call is a new
    /// edge, reported by the next `epoll_wait`.
    fn poll_io<R>(
        &mut self,
        cx: &mut Context<'_>,
        write: bool,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let mut slots = lock(&runtime().reactor.slots);
        loop {
            match op(&mut self.io) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                done => return Poll::Ready(done),
            }
        }
        let Some(slot) = slots[self.token].as_mut() else {
            return Poll::Ready(Err(io::Error::other("socket deregistered")));
        };
        let wanted = if write {
            &mut slot.writer
        } else {
            &mut slot.reader
        };
        *wanted = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T: AsRawFd> Drop for Async<T> {
    fn drop(&mut self) {
        runtime()
            .reactor
            .deregister(self.io.as_raw_fd(), self.token);
    }
}
// ANCHOR_END: poll_io

// ANCHOR: tcp
type TcpListener = Async<std::net::TcpListener>;
type TcpStream = Async<std::net::TcpStream>;

async fn bind(addr: &str) -> io::Result<TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Async::new(listener)
}

async fn accept(l: &mut TcpListener) -> io::Result<TcpStream> {
    let (stream, _) = poll_fn(|cx| l.poll_io(cx, false, |l| l.accept())).await?;
    stream.set_nonblocking(true)?;
    Async::new(stream)
}

async fn read(s: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| s.poll_io(cx, false, |s| s.read(buf))).await
}

async fn write_all(s: &mut TcpStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| s.poll_io(cx, true, |s| s.write(buf))).await?;
        buf = &buf[n..];
    }
    Ok(())
}
// ANCHOR_END: tcp

// ANCHOR: serve
/// One connection of the reverse protocol, line framing: each line comes
/// back reversed with its own terminator; `exit` closes; at end of input an
/// unterminated tail is answered without one.
async fn serve(mut s: TcpStream) -> io::Result<()> {
    let (mut pending, mut buf) = (Vec::new(), [0u8; 4096]);
    loop {
        let n = read(&mut s, &mut buf).await?;
        pending.extend_from_slice(&buf[..n]);
        let mut replies = Vec::new();
        while let Some(lf) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=lf).collect();
            let crlf = line.ends_with(b"\r\n");
            let content = &line[..line.len() - if crlf { 2 } else { 1 }];
            if content == b"exit" {
                return write_all(&mut s, &replies).await;
            }
            replies.extend(reverse(content));
            replies.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        if n == 0 {
            replies.extend(reverse(&pending)); // end of input: the tail, if any
        }
        write_all(&mut s, &replies).await?;
        if n == 0 {
            return Ok(());
        }
    }
}

/// Characters reversed if the line is UTF-8, bytes otherwise.
fn reverse(content: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(content) {
        Ok(text) => text.chars().rev().collect::<String>().into_bytes(),
        Err(_) => content.iter().rev().copied().collect(),
    }
}
// ANCHOR_END: serve

// ANCHOR: main
async fn accept_loop(mut listener: TcpListener) {
    loop {
        match accept(&mut listener).await {
            Ok(stream) => spawn(async move {
                if let Err(e) = serve(stream).await {
                    eprintln!("mini_runtime: connection: {e}");
                }
            }),
            // EMFILE and friends: report and try again. While descriptors
            // stay exhausted this spins; the production server pauses.
            Err(e) => eprintln!("mini_runtime: accept: {e}"),
        }
    }
}

fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "9090".into());
    if arg == "--self-test" {
        return self_test();
    }
    let port: u16 = arg
        .parse()
        .map_err(|e| io::Error::other(format!("port {arg:?}: {e}")))?;
    block_on(async {
        let listener = bind(&format!("127.0.0.1:{port}")).await?;
        println!("mini_runtime: serving on {}", listener.io.local_addr()?);
        accept_loop(listener).await;
        Ok(())
    })?
}
// ANCHOR_END: main

/// Serves on port 0 and checks the replies with a blocking client on another
/// thread; its result comes back through a waker, from that thread.
fn self_test() -> io::Result<()> {
    let done = Arc::new(Mutex::new((None, None::<Waker>)));
    let result = block_on(async {
        let listener = bind("127.0.0.1:0").await?;
        let addr = listener.io.local_addr()?;
        spawn(accept_loop(listener));
        let shared = done.clone();
        std::thread::spawn(move || {
            let outcome = client(addr);
            let mut guard = lock(&shared);
            guard.0 = Some(outcome);
            wake(guard.1.take());
        });
        poll_fn(|cx| {
            let mut guard = lock(&done);
            match guard.0.take() {
                Some(outcome) => Poll::Ready(outcome),
                None => {
                    guard.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    })?;
    result?;
    println!("mini_runtime: self-test passed");
    Ok(())
}

/// The checks: pipelined and split lines, CR LF, UTF-8, `exit`, end of input.
fn client(addr: SocketAddr) -> io::Result<()> {
    let expect = |got: Vec<u8>, want: &[u8]| {
        if got == want {
            Ok(())
        } else {
            let (g, w) = (String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
            Err(io::Error::other(format!("got {g:?}, want {w:?}")))
        }
    };
    let mut conns = Vec::new();
    for _ in 0..3 {
        let c = std::net::TcpStream::connect(addr)?;
        c.set_read_timeout(Some(Duration::from_secs(30)))?;
        conns.push(c);
    }
    // Interleaved on three connections, a line split in pieces, then exit.
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(format!("hello {i}\nwör").as_bytes())?;
    }
    for c in &mut conns {
        c.write_all(b"ld\r\nexit\nignored\n")?;
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let mut got = Vec::new();
        c.read_to_end(&mut got)?; // `exit` closes: read to EOF
        expect(got, format!("{i} olleh\ndlröw\r\n").as_bytes())?;
    }
    // End of input with an unterminated tail.
    let mut c = std::net::TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(30)))?;
    c.write_all(b"abc\n\xff\xfe\nxyz")?;
    c.shutdown(Shutdown::Write)?;
    let mut got = Vec::new();
    c.read_to_end(&mut got)?;
    expect(got, b"cba\n\xfe\xff\nzyx")
}
