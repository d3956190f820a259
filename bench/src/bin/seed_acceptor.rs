//! Seed design (c): an acceptor thread hands each new connection to one of `--workers` I/O
//! threads, round-robin; each I/O thread has its own epoll instance and serves the
//! connections it was given for their whole life. The hand-off is a channel plus an eventfd
//! registered in the worker's epoll set, which wakes the worker from `epoll_wait`.
//!
//! Usage: `seed_acceptor [PORT] [--workers N] [--max-line N] [--fair-bytes N]`

#![deny(clippy::undocumented_unsafe_blocks)]

use bench::seed::{self, Args, Loop, FIRST_SPECIAL_TOKEN};
use std::io;
use std::os::fd::RawFd;
use std::sync::mpsc::{channel, Receiver, Sender};

const WAKE: u64 = FIRST_SPECIAL_TOKEN;

fn main() {
    let args = seed::parse_args("seed_acceptor");
    if let Err(e) = acceptor(&args) {
        eprintln!("seed_acceptor: {e}");
        std::process::exit(1);
    }
}

// ANCHOR: acceptor
fn acceptor(args: &Args) -> io::Result<()> {
    // A blocking listener: this thread has nothing else to do than wait in accept4.
    let lfd = seed::listen(args.port, true)?;
    let mut workers: Vec<(Sender<RawFd>, RawFd)> = Vec::new();
    for _ in 0..args.workers {
        // SAFETY: plain syscall creating a new fd, shared by the acceptor and one worker
        // for the life of the process.
        let efd = seed::cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) }, "eventfd")?;
        let (tx, rx) = channel();
        let args = *args;
        std::thread::spawn(move || {
            if let Err(e) = worker(rx, efd, &args) {
                eprintln!("seed_acceptor: worker: {e}");
                std::process::exit(1);
            }
        });
        workers.push((tx, efd));
    }
    let mut next = 0;
    loop {
        let Some(fd) = seed::accept_logged(lfd, "seed_acceptor") else {
            continue;
        };
        let (tx, efd) = &workers[next];
        next = (next + 1) % workers.len();
        if tx.send(fd).is_err() {
            return Err(io::Error::other("an I/O worker has exited"));
        }
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to the eventfd.
        let rc = unsafe { libc::write(*efd, (&one as *const u64).cast(), 8) };
        seed::cvt(rc as i32, "write eventfd")?;
    }
}
// ANCHOR_END: acceptor

// ANCHOR: worker
fn worker(rx: Receiver<RawFd>, efd: RawFd, args: &Args) -> io::Result<()> {
    let mut lp = Loop::new(args)?;
    seed::ctl(lp.epfd, libc::EPOLL_CTL_ADD, efd, libc::EPOLLIN, WAKE)?;
    let mut fired = Vec::new();
    loop {
        lp.turn(&mut fired)?;
        if fired.contains(&WAKE) {
            let mut count = 0u64;
            // SAFETY: reads 8 bytes into a live u64; resets the counter (level-triggered).
            unsafe { libc::read(efd, (&mut count as *mut u64).cast(), 8) };
            // Every fd sent before the eventfd write is in the channel by now.
            while let Ok(fd) = rx.try_recv() {
                lp.add_logged(fd, "seed_acceptor");
            }
        }
    }
}
// ANCHOR_END: worker
