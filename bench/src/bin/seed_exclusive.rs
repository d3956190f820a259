//! Seed design (b): `--workers` threads, each with its own epoll instance, all watching the
//! one listening socket with `EPOLLEXCLUSIVE`, so that a new connection wakes one of them
//! (not all: no thundering herd). The thread that accepts a connection serves it for good.
//!
//! Why not N threads blocked in `epoll_wait` on one shared instance? The kernel already wakes
//! only one of them per event (waiters on an epoll instance queue exclusively), but then any
//! thread may get any connection: every connection needs `EPOLLONESHOT` and a re-arm, which
//! is design (a) without the dispatcher. `EPOLLEXCLUSIVE` is about the other direction: one
//! file watched by several epoll instances. It is accepted only with `EPOLL_CTL_ADD` and not
//! together with `EPOLLONESHOT`.
//!
//! Usage: `seed_exclusive [PORT] [--workers N] [--max-line N] [--fair-bytes N]`

#![deny(clippy::undocumented_unsafe_blocks)]

use bench::seed::{self, Args, Loop, FIRST_SPECIAL_TOKEN};
use std::io;
use std::os::fd::RawFd;

const LISTENER: u64 = FIRST_SPECIAL_TOKEN;

fn main() {
    let args = seed::parse_args("seed_exclusive");
    let result = seed::listen(args.port, false).and_then(|lfd| {
        let threads: Vec<_> = (0..args.workers)
            .map(|_| std::thread::spawn(move || worker(lfd, &args)))
            .collect();
        for t in threads {
            t.join()
                .map_err(|_| io::Error::other("worker panicked"))??;
        }
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("seed_exclusive: {e}");
        std::process::exit(1);
    }
}

// ANCHOR: worker
fn worker(lfd: RawFd, args: &Args) -> io::Result<()> {
    let mut lp = Loop::new(args)?;
    // Level-triggered and exclusive: while connections wait in the accept queue, one (or a
    // few) of the threads blocked in epoll_wait is woken, not every thread.
    let interest = libc::EPOLLIN | libc::EPOLLEXCLUSIVE;
    seed::ctl(lp.epfd, libc::EPOLL_CTL_ADD, lfd, interest, LISTENER)?;
    let mut fired = Vec::new();
    loop {
        lp.turn(&mut fired)?;
        if fired.contains(&LISTENER) {
            // Take one connection per wake-up: a thread that drained the whole queue would
            // end up with most of a burst while the others stay idle.
            if let Some(fd) = seed::accept_logged(lfd, "seed_exclusive") {
                lp.add_logged(fd, "seed_exclusive");
            }
        }
    }
}
// ANCHOR_END: worker
