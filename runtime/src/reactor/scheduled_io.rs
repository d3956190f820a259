//! Per-source readiness: what the kernel last told us about one file descriptor,
//! and who is waiting for it.
//!
//! ## The readiness word
//!
//! `readiness` packs two things into one `AtomicU64`:
//!
//! ```text
//!  63            32 31          9     8      7          0
//! +---------------+-------------+-------------+------------+
//! |     tick      |  (unused)   | HAS_WAITERS | ready bits |
//! +---------------+-------------+-------------+------------+
//! ```
//!
//! * the ready bits (`READABLE`, `WRITABLE`, `READ_CLOSED`, `WRITE_CLOSED`,
//!   `ERROR`, `SHUTDOWN`) are *set* by the reactor when epoll reports an edge,
//!   and `READABLE`/`WRITABLE`/`ERROR` are *cleared* by a task that got
//!   `EAGAIN`. Only the closed states (and `SHUTDOWN`) are sticky: `EPOLLERR`
//!   also fires for an entry in the socket's error queue (`SO_TIMESTAMPING`,
//!   `MSG_ZEROCOPY` completions) while `recv` keeps returning `EAGAIN`, so a
//!   sticky `ERROR` would make every wait return at once, forever;
//! * the tick is bumped by the reactor on every event it delivers for this fd;
//! * `HAS_WAITERS` says the waiter list (below) is not empty.
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
//!
//! ## Two kinds of waiters
//!
//! * **The slot** (one [`AtomicWaker`] per direction, lock-free): for the
//!   `poll_*` methods, which have nowhere to keep per-call state, and for the
//!   `&mut self` async methods (`read`, `write_all`, ...), whose borrow
//!   already guarantees a single waiting task per direction. A newer
//!   registration replaces the older one, as in tokio's `poll_read_ready`.
//! * **The waiter list** (under a mutex; its first entry inline, more in a
//!   slab, see `waiter_list.rs`): for the `&self` async methods
//!   (`accept`, `readable`, `writable`, ...), which any number of tasks may
//!   await at once (N accept loops on one `Arc<TcpListener>`). Each waiting
//!   future owns one entry, for as long as it lives, and removes it on drop,
//!   so a cancelled wait leaves nothing behind; the reactor takes the wakers
//!   out (leaving the entries) and wakes *all* of them, so no waiter can
//!   swallow another's wake-up by being cancelled.
//!
//! The one-waiter fast path stays lock-free: the reactor takes the list's lock
//! only when `HAS_WAITERS` is set in the word it just updated. The flag lives
//! in the readiness word so that "a waiter registered" and "the reactor set a
//! bit" are two read-modify-writes of *one* atomic, which are totally ordered:
//! a waiter sets the flag (under the lock, after storing its waker) with a
//! `fetch_or` that also returns the readiness; either that `fetch_or` comes
//! first, and the reactor's update sees the flag and takes the lock (waiting
//! for the waiter to finish), or the reactor's update comes first and the
//! waiter's `fetch_or` returns the new bit.

use std::task::{Context, Poll, Waker};

use super::atomic_waker::AtomicWaker;
use super::waiter_list::WaiterList;
use crate::primitives::{lock, AtomicU64, Mutex, Ordering};

pub(crate) const READABLE: u64 = 1 << 0;
pub(crate) const WRITABLE: u64 = 1 << 1;
pub(crate) const READ_CLOSED: u64 = 1 << 2;
pub(crate) const WRITE_CLOSED: u64 = 1 << 3;
pub(crate) const ERROR: u64 = 1 << 4;
/// The reactor is gone: every waiter must give up with an error.
pub(crate) const SHUTDOWN: u64 = 1 << 5;
/// The bits a task may clear after `EAGAIN`; the others are final.
pub(crate) const CLEARABLE: u64 = READABLE | WRITABLE | ERROR;

/// The waiter list has entries: the reactor must take its lock to wake them.
const HAS_WAITERS: u64 = 1 << 8;

/// Everything below the tick: kept as is when the reactor bumps the tick.
const LOW_MASK: u64 = 0xffff_ffff;
const TICK_SHIFT: u32 = 32;

/// Which side of a source a task waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// The ready bits that end a wait in this direction.
    pub(crate) fn mask(self) -> u64 {
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
    fn from_word(word: u64, mask: u64) -> Option<ReadyEvent> {
        let ready = word & mask;
        (ready != 0).then_some(ReadyEvent {
            ready,
            tick: (word >> TICK_SHIFT) as u32,
        })
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.ready & SHUTDOWN != 0
    }
}

#[derive(Debug)]
pub(crate) struct ScheduledIo {
    readiness: AtomicU64,
    reader: AtomicWaker,
    writer: AtomicWaker,
    waiters: Mutex<WaiterList<Waiter>>,
}

/// One entry of the waiter list, owned by one waiting future.
#[derive(Debug)]
struct Waiter {
    /// The ready bits that end this wait (one direction's, or both).
    mask: u64,
    /// `None` once the reactor took it to wake it.
    waker: Option<Waker>,
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
            waiters: Mutex::new(WaiterList::new()),
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
            let next = ((tick.wrapping_add(1) as u64) << TICK_SHIFT) | (current & LOW_MASK) | bits;
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
        // `current` is the word our update replaced: a waiter that set the
        // flag before it is in the list (or about to be, under the lock).
        if current & HAS_WAITERS != 0 {
            let mut list = lock(&self.waiters);
            for w in list.iter_mut() {
                if w.mask & bits != 0 {
                    wakers.extend(w.waker.take());
                }
            }
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

    // ANCHOR: poll_ready_listed
    /// Like [`poll_ready`](Self::poll_ready), but waits in the waiter list, so
    /// any number of tasks can wait at once. `mask` is the ready bits that
    /// end the wait ([`Direction::mask`], or the union of both). `key` is the
    /// caller's entry: `None` before the first registration; pass it to
    /// [`remove_waiter`](Self::remove_waiter) when the wait ends or is dropped.
    pub(crate) fn poll_ready_listed(
        &self,
        cx: &mut Context<'_>,
        mask: u64,
        key: &mut Option<usize>,
    ) -> Poll<ReadyEvent> {
        if let Some(ev) = self.ready_in(mask) {
            return Poll::Ready(ev);
        }
        let (current, replaced) = {
            let mut list = lock(&self.waiters);
            let mut replaced = None;
            match key.and_then(|k| list.get_mut(k)) {
                Some(w) => match &w.waker {
                    Some(old) if old.will_wake(cx.waker()) => {}
                    _ => replaced = w.waker.replace(cx.waker().clone()),
                },
                None => {
                    *key = Some(list.insert(Waiter {
                        mask,
                        waker: Some(cx.waker().clone()),
                    }))
                }
            }
            // Both the announcement and the second look at readiness, in one
            // read-modify-write (see the module docs).
            let current = self.readiness.fetch_or(HAS_WAITERS, Ordering::AcqRel);
            (current, replaced)
        };
        // A waker's destructor is foreign code: run it after the lock.
        drop(replaced);
        match ReadyEvent::from_word(current, mask) {
            Some(ev) => Poll::Ready(ev),
            None => Poll::Pending,
        }
    }
    // ANCHOR_END: poll_ready_listed

    /// Drops the waiter-list entry `key` (its wait ended or was cancelled).
    /// A wake-up it may have taken is nobody else's: every waiter is woken.
    pub(crate) fn remove_waiter(&self, key: usize) {
        let removed = {
            let mut list = lock(&self.waiters);
            let removed = list.try_remove(key);
            if list.is_empty() {
                // Under the lock, so a concurrent registration re-sets it after.
                self.readiness.fetch_and(!HAS_WAITERS, Ordering::AcqRel);
            }
            removed
        };
        // The waker's destructor is foreign code: run it after the lock.
        drop(removed);
    }

    /// The current readiness for `direction`, without registering a waker.
    pub(crate) fn ready_event(&self, direction: Direction) -> Option<ReadyEvent> {
        self.ready_in(direction.mask())
    }

    /// The current readiness among the bits of `mask`.
    pub(crate) fn ready_in(&self, mask: u64) -> Option<ReadyEvent> {
        ReadyEvent::from_word(self.readiness.load(Ordering::Acquire), mask)
    }

    // ANCHOR: clear_readiness
    /// Clears `READABLE`/`WRITABLE`/`ERROR` as seen in `event`, unless the
    /// reactor has delivered a newer event since (the tick moved on). The
    /// closed bits are final and never cleared. `ERROR` is not: a real socket
    /// error is returned by the system call itself (which then does not say
    /// `EAGAIN`), and an error-queue entry must not keep the fd "ready".
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        let clear = event.ready & CLEARABLE;
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
/// arrives during registration is dropped; in `poll_ready_listed`, decide
/// "pending" from a `load` of the word taken before the entry is inserted
/// (ignoring what the `fetch_or` returns), and
/// `loom_two_listed_waiters_on_one_direction` finds the reactor update that
/// falls between the two: it sees no `HAS_WAITERS`, skips the list, and a
/// waiter that said `Pending` is never woken.
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
            let io = crate::primitives::Arc::new(ScheduledIo::new(true));
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
    fn loom_two_listed_waiters_on_one_direction() {
        loom::model(|| {
            let io = crate::primitives::Arc::new(ScheduledIo::new(false));
            let io2 = io.clone();
            let reactor = thread::spawn(move || {
                let mut wakers = Vec::new();
                io2.set_readiness(READABLE, &mut wakers);
                wakers.into_iter().for_each(Waker::wake);
            });
            let io3 = io.clone();
            let second = thread::spawn(move || {
                let count = StdArc::new(Count(AtomicUsize::new(0)));
                let waker = Waker::from(count.clone());
                let mut key = None;
                let r = io3.poll_ready_listed(
                    &mut Context::from_waker(&waker),
                    Direction::Read.mask(),
                    &mut key,
                );
                (r.is_pending(), count, key)
            });
            let count = StdArc::new(Count(AtomicUsize::new(0)));
            let waker = Waker::from(count.clone());
            let mut key = None;
            let first = io.poll_ready_listed(
                &mut Context::from_waker(&waker),
                Direction::Read.mask(),
                &mut key,
            );
            reactor.join().unwrap();
            let (second_pending, second_count, second_key) = second.join().unwrap();
            if first.is_pending() {
                assert_eq!(count.0.load(Ordering::SeqCst), 1, "first waiter lost");
            }
            if second_pending {
                assert_eq!(
                    second_count.0.load(Ordering::SeqCst),
                    1,
                    "second waiter lost"
                );
            }
            for k in [key, second_key].into_iter().flatten() {
                io.remove_waiter(k);
            }
        });
    }

    #[test]
    fn loom_separate_read_and_write_wakers() {
        loom::model(|| {
            let io = crate::primitives::Arc::new(ScheduledIo::new(false));
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
        let ev = io
            .ready_event(Direction::Read)
            .expect("EPOLLERR wakes readers");
        io.clear_readiness(ev);
        assert!(io.ready_event(Direction::Read).is_none(), "EPOLLERR stuck");
        assert!(io.ready_event(Direction::Write).is_none(), "EPOLLERR stuck");
    }

    struct Count(std::sync::atomic::AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting_waker() -> (std::sync::Arc<Count>, Waker) {
        let c = std::sync::Arc::new(Count(std::sync::atomic::AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn every_listed_waiter_is_woken_and_removal_leaves_nothing() {
        let io = ScheduledIo::new(false);
        let waiters: Vec<_> = (0..3).map(|_| counting_waker()).collect();
        let mut keys = vec![None; 3];
        for ((_, w), key) in waiters.iter().zip(&mut keys) {
            let mut cx = Context::from_waker(w);
            assert!(io
                .poll_ready_listed(&mut cx, Direction::Read.mask(), key)
                .is_pending());
        }
        // A writer in the list is not woken by a read edge.
        let (wcount, ww) = counting_waker();
        let mut wkey = None;
        assert!(io
            .poll_ready_listed(
                &mut Context::from_waker(&ww),
                Direction::Write.mask(),
                &mut wkey
            )
            .is_pending());
        let mut wakers = Vec::new();
        io.set_readiness(READABLE, &mut wakers);
        assert_eq!(wakers.len(), 3);
        wakers.into_iter().for_each(Waker::wake);
        for (c, _) in &waiters {
            assert_eq!(c.0.load(Ordering::SeqCst), 1);
        }
        assert_eq!(wcount.0.load(Ordering::SeqCst), 0);
        for key in keys.into_iter().chain([wkey]) {
            io.remove_waiter(key.unwrap());
        }
        assert!(lock(&io.waiters).is_empty());
        assert_eq!(io.readiness.load(Ordering::SeqCst) & HAS_WAITERS, 0);
        // The ready bit survived all of that.
        assert!(io.ready_event(Direction::Read).is_some());
    }

    #[test]
    fn repolling_with_the_same_waker_keeps_one_entry() {
        let io = ScheduledIo::new(false);
        let (_c, w) = counting_waker();
        let mut key = None;
        for _ in 0..10 {
            let _ = io.poll_ready_listed(
                &mut Context::from_waker(&w),
                Direction::Read.mask(),
                &mut key,
            );
        }
        assert_eq!(lock(&io.waiters).len(), 1);
        io.remove_waiter(key.unwrap());
        assert!(lock(&io.waiters).is_empty());
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
