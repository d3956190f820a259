//! Per-source readiness: what the kernel last told us about one file descriptor,
//! and who is waiting for it.
//!
//! ## The readiness word
//!
//! `readiness` packs two things into one `AtomicU64`:
//!
//! ```text
//!  63            32 31                 8 7          0
//! +---------------+---------------------+------------+
//! |     tick      |      (unused)       | ready bits |
//! +---------------+---------------------+------------+
//! ```
//!
//! * the ready bits (`READABLE`, `WRITABLE`, `READ_CLOSED`, `WRITE_CLOSED`,
//!   `ERROR`, `SHUTDOWN`) are *set* by the reactor when epoll reports an edge,
//!   and `READABLE`/`WRITABLE`/`ERROR` are *cleared* by a task that got
//!   `EAGAIN`. Only the closed states (and `SHUTDOWN`) are sticky: `EPOLLERR`
//!   also fires for an entry in the socket's error queue (`SO_TIMESTAMPING`,
//!   `MSG_ZEROCOPY` completions) while `recv` keeps returning `EAGAIN`, so a
//!   sticky `ERROR` would make every wait return at once, forever;
//! * the tick is bumped by the reactor on every event it delivers for this fd.
//!
//! ## The clear-with-tick race, and why no wake-up is lost
//!
//! With edge-triggered epoll the kernel reports "readable" once. If a task does
//!
//! 1. sees `READABLE` (with tick *t*), calls `read`, gets `EAGAIN`,
//! 2. *meanwhile* new data arrives and the reactor sets `READABLE` again (tick *t+1*),
//! 3. the task clears `READABLE` and sleeps,
//!
//! the new data's only edge has been erased and the task sleeps forever. So a
//! task may clear readiness only if the tick is still the one it saw in step 1:
//! [`ScheduledIo::clear_readiness`] is a compare-exchange on the whole word. If
//! the reactor got there first, the clear is skipped and the task simply tries
//! the system call again.
//!
//! The other half is the waker: a task registers its waker *before* it checks
//! the readiness word for the second time ([`ScheduledIo::poll_ready`]), and the
//! reactor sets readiness *before* it takes the waker. Whichever order the two
//! threads run in, either the task sees the new bit, or the reactor sees the
//! waker (see `atomic_waker.rs` for why the waker slot itself cannot drop one).

use std::task::{Context, Poll, Waker};

use super::atomic_waker::AtomicWaker;
use crate::sync::{AtomicU64, Ordering};

pub(crate) const READABLE: u64 = 1 << 0;
pub(crate) const WRITABLE: u64 = 1 << 1;
pub(crate) const READ_CLOSED: u64 = 1 << 2;
pub(crate) const WRITE_CLOSED: u64 = 1 << 3;
pub(crate) const ERROR: u64 = 1 << 4;
/// The reactor is gone: every waiter must give up with an error.
pub(crate) const SHUTDOWN: u64 = 1 << 5;

const READY_MASK: u64 = 0xff;
const TICK_SHIFT: u32 = 32;

/// Which side of a source a task waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// The ready bits that end a wait in this direction.
    fn mask(self) -> u64 {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR | SHUTDOWN,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR | SHUTDOWN,
        }
    }
}

/// What a task saw when it found the source ready: needed to clear it later.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent {
    pub(crate) ready: u64,
    tick: u32,
}

impl ReadyEvent {
    pub(crate) fn is_shutdown(&self) -> bool {
        self.ready & SHUTDOWN != 0
    }
}

#[derive(Debug)]
pub(crate) struct ScheduledIo {
    readiness: AtomicU64,
    reader: AtomicWaker,
    writer: AtomicWaker,
}

impl ScheduledIo {
    /// `initially_ready`: start out assuming the fd is readable and writable.
    /// Right for a freshly accepted socket, whose data is often already there:
    /// the first read tries the system call at once instead of waiting for the
    /// reactor to report the edge that `EPOLL_CTL_ADD` queued. If the guess is
    /// wrong, the read gets `EAGAIN` and clears it (tick 0) as usual. Wrong for
    /// a connecting socket, where "writable" is the answer we are waiting for.
    pub(crate) fn new(initially_ready: bool) -> ScheduledIo {
        let ready = if initially_ready {
            READABLE | WRITABLE
        } else {
            0
        };
        ScheduledIo {
            readiness: AtomicU64::new(ready),
            reader: AtomicWaker::new(),
            writer: AtomicWaker::new(),
        }
    }

    // ANCHOR: set_readiness
    /// Called by the reactor: adds `bits`, bumps the tick, wakes whoever waits
    /// on a side that became ready.
    /// The wakers are pushed to `wakers` for the caller to wake once it holds no
    /// lock.
    pub(crate) fn set_readiness(&self, bits: u64, wakers: &mut Vec<Waker>) {
        let mut current = self.readiness.load(Ordering::Acquire);
        loop {
            let tick = (current >> TICK_SHIFT) as u32;
            let next =
                ((tick.wrapping_add(1) as u64) << TICK_SHIFT) | (current & READY_MASK) | bits;
            match self.readiness.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        if bits & Direction::Read.mask() != 0 {
            wakers.extend(self.reader.take());
        }
        if bits & Direction::Write.mask() != 0 {
            wakers.extend(self.writer.take());
        }
    }
    // ANCHOR_END: set_readiness

    // ANCHOR: poll_ready
    /// Returns the readiness for `direction`, or registers the task's waker and
    /// returns `Pending`. See the module docs for why the order matters.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<ReadyEvent> {
        if let Some(ev) = self.ready_event(direction) {
            return Poll::Ready(ev);
        }
        match direction {
            Direction::Read => self.reader.register(cx.waker()),
            Direction::Write => self.writer.register(cx.waker()),
        }
        match self.ready_event(direction) {
            Some(ev) => Poll::Ready(ev),
            None => Poll::Pending,
        }
    }
    // ANCHOR_END: poll_ready

    /// The current readiness for `direction`, without registering a waker.
    pub(crate) fn ready_event(&self, direction: Direction) -> Option<ReadyEvent> {
        let current = self.readiness.load(Ordering::Acquire);
        let ready = current & direction.mask();
        (ready != 0).then_some(ReadyEvent {
            ready,
            tick: (current >> TICK_SHIFT) as u32,
        })
    }

    // ANCHOR: clear_readiness
    /// Clears `READABLE`/`WRITABLE`/`ERROR` as seen in `event`, unless the
    /// reactor has delivered a newer event since (the tick moved on). The
    /// closed bits are final and never cleared. `ERROR` is not: a real socket
    /// error is returned by the system call itself (which then does not say
    /// `EAGAIN`), and an error-queue entry must not keep the fd "ready".
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        let clear = event.ready & (READABLE | WRITABLE | ERROR);
        let mut current = self.readiness.load(Ordering::Acquire);
        loop {
            if (current >> TICK_SHIFT) as u32 != event.tick {
                return;
            }
            let next = current & !clear;
            match self.readiness.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }
    // ANCHOR_END: clear_readiness
}

// ANCHOR: from_epoll
/// Converts the kernel's event bits into our ready bits.
pub(crate) fn from_epoll(events: u32) -> u64 {
    let events = events as libc::c_int;
    let mut ready = 0;
    if events & (libc::EPOLLIN | libc::EPOLLPRI) != 0 {
        ready |= READABLE;
    }
    if events & libc::EPOLLOUT != 0 {
        ready |= WRITABLE;
    }
    if events & libc::EPOLLRDHUP != 0 {
        ready |= READABLE | READ_CLOSED;
    }
    if events & libc::EPOLLHUP != 0 {
        ready |= READABLE | WRITABLE | READ_CLOSED | WRITE_CLOSED;
    }
    if events & libc::EPOLLERR != 0 {
        ready |= ERROR;
    }
    ready
}
// ANCHOR_END: from_epoll

/// Loom models of the readiness word and waker slots. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p runtime --lib --release loom_`.
///
/// They fail if the protocol is weakened: e.g. make `clear_readiness` clear
/// unconditionally (ignore the tick), and `loom_readiness_between_eagain_and_register`
/// finds the interleaving where the new edge is erased and the task is never
/// woken (the final assertion fails); in `AtomicWaker::register`, store
/// `IDLE` with a plain store instead of the compare-exchange, and the wake that
/// arrives during registration is dropped.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicUsize;
    use loom::thread;
    use std::sync::Arc as StdArc;

    struct Count(AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: StdArc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn loom_readiness_between_eagain_and_register() {
        loom::model(|| {
            let io = crate::sync::Arc::new(ScheduledIo::new(true));
            let count = StdArc::new(Count(AtomicUsize::new(0)));
            let waker = Waker::from(count.clone());
            let io2 = io.clone();
            let reactor = thread::spawn(move || {
                let mut wakers = Vec::new();
                io2.set_readiness(READABLE, &mut wakers);
                wakers.into_iter().for_each(Waker::wake);
            });
            // The task: saw "readable" (initial), read got EAGAIN, clears
            // with the tick it saw, then waits.
            let mut cx = Context::from_waker(&waker);
            let first = match io.poll_ready(&mut cx, Direction::Read) {
                Poll::Ready(ev) => ev,
                Poll::Pending => unreachable!("initially ready"),
            };
            io.clear_readiness(first);
            let again = io.poll_ready(&mut cx, Direction::Read);
            reactor.join().unwrap();
            if again.is_pending() {
                assert_eq!(count.0.load(Ordering::SeqCst), 1, "the new edge was lost");
            }
        });
    }

    #[test]
    fn loom_separate_read_and_write_wakers() {
        loom::model(|| {
            let io = crate::sync::Arc::new(ScheduledIo::new(false));
            let reads = StdArc::new(Count(AtomicUsize::new(0)));
            let writes = StdArc::new(Count(AtomicUsize::new(0)));
            let rw = Waker::from(reads.clone());
            let ww = Waker::from(writes.clone());
            let io2 = io.clone();
            let reactor = thread::spawn(move || {
                let mut wakers = Vec::new();
                io2.set_readiness(WRITABLE, &mut wakers);
                wakers.into_iter().for_each(Waker::wake);
            });
            let r = io.poll_ready(&mut Context::from_waker(&rw), Direction::Read);
            let w = io.poll_ready(&mut Context::from_waker(&ww), Direction::Write);
            reactor.join().unwrap();
            assert!(r.is_pending());
            assert_eq!(
                reads.0.load(Ordering::SeqCst),
                0,
                "a write edge woke the reader"
            );
            if w.is_pending() {
                assert_eq!(
                    writes.0.load(Ordering::SeqCst),
                    1,
                    "the writer was not woken"
                );
            }
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// An error-queue entry (SO_TIMESTAMPING, MSG_ZEROCOPY completion) raises
    /// EPOLLERR while `recv` keeps saying EAGAIN: the task must be able to
    /// clear it and sleep, or `poll_io` spins.
    #[test]
    fn error_without_socket_error_is_cleared_by_eagain() {
        let io = ScheduledIo::new(false);
        let mut wakers = Vec::new();
        io.set_readiness(from_epoll(libc::EPOLLERR as u32), &mut wakers);
        let ev = io.ready_event(Direction::Read).expect("EPOLLERR wakes readers");
        io.clear_readiness(ev);
        assert!(io.ready_event(Direction::Read).is_none(), "EPOLLERR stuck");
        assert!(io.ready_event(Direction::Write).is_none(), "EPOLLERR stuck");
    }

    #[test]
    fn closed_states_stay_after_eagain() {
        let io = ScheduledIo::new(false);
        let mut wakers = Vec::new();
        io.set_readiness(from_epoll(libc::EPOLLHUP as u32), &mut wakers);
        let ev = io.ready_event(Direction::Read).unwrap();
        io.clear_readiness(ev);
        let after = io.ready_event(Direction::Read).expect("hang-up is final");
        assert_ne!(after.ready & READ_CLOSED, 0);
        assert!(io.ready_event(Direction::Write).is_some());
    }
}
