//! Seed design (a): one epoll thread dispatching ready connections to a work queue served
//! by `--workers` threads, with `EPOLLONESHOT` so that a connection is in at most one
//! worker's hands at a time, re-armed with `EPOLL_CTL_MOD` when the worker is done.
//!
//! The connection itself travels through the kernel: its `Box` pointer is the `data` of its
//! epoll registration. One-shot makes that an ownership hand-off: after the event is
//! reported, the registration is disabled and no other event can carry the pointer until a
//! worker re-arms it, so the thread holding the `Box` is its only owner.
//!
//! Usage: `seed_oneshot [PORT] [--workers N] [--max-line N] [--fair-bytes N]`

#![deny(clippy::undocumented_unsafe_blocks)]

use bench::seed::{self, Args, Bufs, Conn, Step};
use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex};

const LISTENER: u64 = 0;

fn main() {
    let args = seed::parse_args("seed_oneshot");
    if let Err(e) = run(&args) {
        eprintln!("seed_oneshot: {e}");
        std::process::exit(1);
    }
}

/// The work queue: connections whose event fired, with the events.
#[derive(Default)]
struct Queue {
    items: Mutex<VecDeque<(Box<Conn>, u32)>>,
    ready: Condvar,
}

impl Queue {
    fn push(&self, conn: Box<Conn>, events: u32) {
        // A poisoned lock means a worker panicked while pushing; the queue itself is intact.
        let mut q = self.items.lock().unwrap_or_else(|p| p.into_inner());
        q.push_back((conn, events));
        self.ready.notify_one();
    }

    fn pop(&self) -> (Box<Conn>, u32) {
        let mut q = self.items.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(item) = q.pop_front() {
                return item;
            }
            q = self.ready.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }
}

// ANCHOR: dispatcher
fn run(args: &Args) -> io::Result<()> {
    let lfd = seed::listen(args.port, false)?;
    let epfd = seed::epoll()?;
    // The listener stays level-triggered and is only ever touched by this thread.
    seed::ctl(epfd, libc::EPOLL_CTL_ADD, lfd, libc::EPOLLIN, LISTENER)?;
    let queue = Arc::new(Queue::default());
    for _ in 0..args.workers {
        let (queue, max_line, budget) = (queue.clone(), args.max_line, args.fair_bytes);
        std::thread::spawn(move || worker(epfd, &queue, max_line, budget));
    }
    let mut events = seed::events(256);
    loop {
        let n = seed::wait(epfd, &mut events, -1)?;
        for ev in &events[..n] {
            if ev.u64 == LISTENER {
                while let Some(fd) = seed::accept_logged(lfd, "seed_oneshot") {
                    let conn = Box::into_raw(Box::new(Conn::new(fd)));
                    let interest = libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLONESHOT;
                    if seed::ctl(epfd, libc::EPOLL_CTL_ADD, fd, interest, conn as u64).is_err() {
                        // SAFETY: not registered, so this thread still owns the box.
                        drop(unsafe { Box::from_raw(conn) });
                    }
                }
            } else {
                // SAFETY: a connection's data is the pointer from `Box::into_raw`; one-shot
                // disabled the registration when this event was reported, so until a worker
                // re-arms it nobody else can receive the pointer: we own the box now.
                let conn = unsafe { Box::from_raw(ev.u64 as *mut Conn) };
                queue.push(conn, ev.events);
            }
        }
    }
}
// ANCHOR_END: dispatcher

// ANCHOR: worker
fn worker(epfd: i32, queue: &Queue, max_line: usize, budget: usize) {
    let mut bufs = Bufs::default();
    loop {
        let (mut conn, events) = queue.pop();
        let wait_for = match conn.serve(events, &mut bufs, max_line, budget) {
            Step::Read => libc::EPOLLIN,
            Step::Write => libc::EPOLLOUT,
            // Budget spent: to the back of the queue, behind the others.
            Step::Again => {
                queue.push(conn, libc::EPOLLRDHUP as u32);
                continue;
            }
            Step::Close => continue, // dropping the box closes the socket
        };
        // MOD replaces both the interest set and `data`; the pointer is handed back to the
        // kernel, and after this call another thread may already own the connection.
        let fd = conn.fd;
        let ptr = Box::into_raw(conn);
        let interest = wait_for | libc::EPOLLRDHUP | libc::EPOLLONESHOT;
        if seed::ctl(epfd, libc::EPOLL_CTL_MOD, fd, interest, ptr as u64).is_err() {
            // SAFETY: the registration was not re-armed, so no event can carry `ptr`.
            drop(unsafe { Box::from_raw(ptr) });
        }
    }
}
// ANCHOR_END: worker
