//! The reactor: one epoll instance per runtime, the registrations of every I/O
//! source, the timer queue, and the signal doorbell.
//!
//! ## Who calls `epoll_wait`
//!
//! There is no dedicated reactor thread. The reactor's [`Driver`] lock is taken
//! (with `try_lock`) by whichever worker runs out of work first; that worker
//! blocks in `epoll_wait`, and every other idle worker sleeps on its own condition
//! variable. So exactly one idle thread waits for I/O, the others cost nothing,
//! and when an event arrives the thread that receives it is already the one that
//! will run the woken task (it lands in that worker's own run queue). Busy
//! workers also give the reactor a non-blocking turn every few dozen tasks, so
//! I/O and timers are never starved by run queues that never empty.
//!
//! ## Registrations and tokens
//!
//! Each file descriptor is registered once, edge-triggered, for read and write
//! interest (see [`crate::sys::epoll::INTEREST`]). Its readiness lives in a
//! [`ScheduledIo`] stored in a `slab`; the epoll user data ("token") is the slab
//! index in the low 32 bits and a generation number in the high 32 bits. When a
//! source is dropped its slot is freed and may be reused by a new socket (which
//! may even get the same fd number). An event for the old socket that was
//! already on its way out of `epoll_wait` then carries the old generation and is
//! discarded instead of waking the new socket's task.
//!
//! The slab is behind a mutex, taken by `register`/`deregister` and *once per
//! `epoll_wait` batch* by the driver (not once per event). Wakers are collected
//! under the lock and woken after it is released, so no foreign code ever runs
//! while it is held.

pub(crate) mod atomic_waker;
pub(crate) mod scheduled_io;
pub(crate) mod timers;
pub(crate) mod wait;
mod waiter_list;

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::Waker;
use std::time::Duration;

use slab::Slab;

use crate::metrics::METRICS;
use crate::primitives::{lock, Arc, AtomicBool, AtomicU64, Mutex, MutexGuard, Ordering};
#[cfg(doc)]
use crate::sys::epoll::INTEREST;
use crate::sys::epoll::{Epoll, Event};
use crate::sys::eventfd::EventFd;
pub(crate) use scheduled_io::{Direction, ReadyEvent, ScheduledIo};
use std::sync::Arc as StdArc;
use timers::Timers;
pub(crate) use wait::ListedWait;

/// Token of the eventfd that wakes a blocked `epoll_wait`.
const WAKER_TOKEN: u64 = u64::MAX;
/// Token of the process-wide signal eventfd.
const SIGNAL_TOKEN: u64 = u64::MAX - 1;
/// Events taken from the kernel per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 1024;

struct Registered {
    io: Arc<ScheduledIo>,
    generation: u32,
}

struct RegistrationSet {
    slab: Slab<Registered>,
    next_generation: u32,
    shut_down: bool,
}

/// What the thread that holds the driver lock owns: buffers reused every turn.
pub(crate) struct Driver {
    events: Vec<Event>,
    wakers: Vec<Waker>,
}

/// Handle to one source's registration, owned by the I/O object.
pub(crate) struct Registration {
    pub(crate) reactor: StdArc<Reactor>,
    pub(crate) io: Arc<ScheduledIo>,
    token: u64,
}

pub(crate) struct Reactor {
    epoll: Epoll,
    waker: EventFd,
    registrations: Mutex<RegistrationSet>,
    driver: Mutex<Driver>,
    pub(crate) timers: Timers,
    signals: Mutex<SignalWaiters>,
    shut_down: AtomicBool,
    pub(crate) stats: ReactorStats,
}

/// Counters read by `Runtime::metrics`.
#[derive(Default)]
pub(crate) struct ReactorStats {
    pub(crate) waits: AtomicU64,
    pub(crate) events: AtomicU64,
}

#[derive(Default)]
struct SignalWaiters {
    registered: bool,
    waiters: Slab<Waker>,
}

impl Reactor {
    pub(crate) fn new() -> io::Result<Reactor> {
        let epoll = Epoll::new()?;
        let waker = EventFd::new()?;
        epoll.add(
            waker.as_fd(),
            (libc::EPOLLIN | libc::EPOLLET) as u32,
            WAKER_TOKEN,
        )?;
        Ok(Reactor {
            epoll,
            waker,
            registrations: Mutex::new(RegistrationSet {
                slab: Slab::new(),
                next_generation: 0,
                shut_down: false,
            }),
            driver: Mutex::new(Driver {
                events: Vec::with_capacity(EVENTS_PER_WAIT),
                wakers: Vec::new(),
            }),
            timers: Timers::default(),
            signals: Mutex::new(SignalWaiters::default()),
            shut_down: AtomicBool::new(false),
            stats: ReactorStats::default(),
        })
    }

    // ANCHOR: register
    /// Registers `fd` for the epoll `events` given:
    /// [`INTEREST`] (edge-triggered, read +
    /// write + peer-close) for every socket, less for an `AsyncFd` created
    /// with a narrower interest.
    pub(crate) fn register(
        self: &StdArc<Self>,
        fd: BorrowedFd<'_>,
        initially_ready: bool,
        events: u32,
    ) -> io::Result<Registration> {
        let io = Arc::new(ScheduledIo::new(initially_ready));
        let token = {
            let mut set = lock(&self.registrations);
            if set.shut_down {
                return Err(shutdown_error());
            }
            let generation = set.next_generation;
            set.next_generation = generation.wrapping_add(1);
            let index = set.slab.insert(Registered {
                io: io.clone(),
                generation,
            });
            debug_assert!(index < u32::MAX as usize - 2);
            ((generation as u64) << 32) | index as u64
        };
        if let Err(e) = self.epoll.add(fd, events, token) {
            self.forget(token);
            return Err(e);
        }
        Ok(Registration {
            reactor: self.clone(),
            io,
            token,
        })
    }
    // ANCHOR_END: register

    fn forget(&self, token: u64) {
        let removed = {
            let mut set = lock(&self.registrations);
            let index = (token & 0xffff_ffff) as usize;
            match set.slab.get(index) {
                Some(r) if r.generation == (token >> 32) as u32 => Some(set.slab.remove(index)),
                _ => None,
            }
        };
        drop(removed);
    }

    /// Tries to become the thread that drives the reactor.
    pub(crate) fn try_lock_driver(&self) -> Option<MutexGuard<'_, Driver>> {
        crate::primitives::try_lock(&self.driver)
    }

    /// Whether the driver's holder is blocked in `epoll_wait` now (not in a
    /// non-blocking turn, nor running what a turn found).
    pub(crate) fn blocked_in_wait(&self) -> bool {
        self.timers.reactor_blocked()
    }

    /// Rings the doorbell: makes a blocked `epoll_wait` return.
    pub(crate) fn unpark(&self) {
        self.waker.notify();
    }

    // ANCHOR: turn
    /// One turn of the reactor: fire due timers, wait for I/O (at most until
    /// `timeout`, `None` = as long as needed, `Some(ZERO)` = don't block),
    /// deliver readiness, fire timers that came due meanwhile.
    /// Returns how many tasks were woken.
    pub(crate) fn turn(&self, driver: &mut Driver, timeout: Option<Duration>) -> usize {
        let now = self.timers.now();
        let limit = timeout.map(|t| now + t);
        let blocking = timeout != Some(Duration::ZERO);
        let mut wakers = std::mem::take(&mut driver.wakers);
        let until = self.timers.prepare_wait(now, limit, blocking, &mut wakers);
        let wait_for = if !wakers.is_empty() {
            Some(Duration::ZERO)
        } else {
            let wait_for = until.map(|u| u.saturating_duration_since(now));
            self.timers.real_wait(wait_for, timeout.is_none())
        };
        let result = self.epoll.wait(&mut driver.events, wait_for);
        if blocking {
            self.timers.reactor_awake();
        }
        if let Err(e) = result {
            // epoll_wait only fails for programming errors (EBADF, EINVAL,
            // EFAULT); nothing useful can be done but not to spin.
            debug_assert!(false, "{e}");
        }
        if METRICS {
            self.stats.waits.fetch_add(1, Ordering::Relaxed);
            self.stats
                .events
                .fetch_add(driver.events.len() as u64, Ordering::Relaxed);
        }
        self.dispatch(&driver.events, &mut wakers);
        if blocking && wait_for != Some(Duration::ZERO) {
            self.timers.take_expired(self.timers.now(), &mut wakers);
        }
        if timeout.is_none() && wakers.is_empty() && driver.events.is_empty() {
            self.timers.auto_advance(&mut wakers);
        }
        let woken = wakers.len();
        let panicked = wake_all(&mut wakers);
        driver.wakers = wakers;
        if let Some(payload) = panicked {
            std::panic::resume_unwind(payload);
        }
        woken
    }
    // ANCHOR_END: turn

    // ANCHOR: dispatch
    fn dispatch(&self, events: &[Event], wakers: &mut Vec<Waker>) {
        if events.is_empty() {
            return;
        }
        let mut signal = false;
        {
            let set = lock(&self.registrations);
            for ev in events {
                let token = ev.u64;
                match token {
                    WAKER_TOKEN => self.waker.drain(),
                    SIGNAL_TOKEN => signal = true,
                    _ => {
                        let index = (token & 0xffff_ffff) as usize;
                        match set.slab.get(index) {
                            Some(r) if r.generation == (token >> 32) as u32 => {
                                let ready = scheduled_io::from_epoll(ev.events);
                                r.io.set_readiness(ready, wakers);
                            }
                            // A stale event for a source that is gone.
                            _ => {}
                        }
                    }
                }
            }
        }
        if signal {
            // Waiters stay registered until their future is dropped (their slab
            // key must stay valid); they re-check the signal counters.
            let s = lock(&self.signals);
            wakers.extend(s.waiters.iter().map(|(_, w)| w.clone()));
        }
    }
    // ANCHOR_END: dispatch

    /// Makes sure the process-wide signal eventfd is watched by this reactor.
    #[cfg(feature = "signal")]
    pub(crate) fn watch_signals(&self) -> io::Result<()> {
        let mut s = lock(&self.signals);
        if !s.registered {
            let fd = crate::sys::signal::notify_fd()?;
            self.epoll.add(
                fd.as_fd(),
                (libc::EPOLLIN | libc::EPOLLET) as u32,
                SIGNAL_TOKEN,
            )?;
            s.registered = true;
        }
        Ok(())
    }

    /// Adds (or refreshes, if `key` is set) a waiter for the next signal.
    #[cfg(feature = "signal")]
    pub(crate) fn add_signal_waiter(&self, key: &mut Option<usize>, waker: &Waker) {
        let mut s = lock(&self.signals);
        let old = match key.and_then(|k| s.waiters.get_mut(k)) {
            Some(w) => Some(std::mem::replace(w, waker.clone())),
            None => {
                *key = Some(s.waiters.insert(waker.clone()));
                None
            }
        };
        drop(s);
        // Dropped outside the lock: a user waker's destructor may use signals.
        drop(old);
    }

    /// Drops a signal waiter (its future was dropped).
    #[cfg(feature = "signal")]
    pub(crate) fn remove_signal_waiter(&self, key: usize) {
        let mut s = lock(&self.signals);
        let removed = s.waiters.try_remove(key);
        drop(s);
        drop(removed);
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    /// Called when the runtime shuts down: every source reports an error to its
    /// waiters from now on, every pending timer is dropped, and signal
    /// waiters are woken (their `recv` returns `None`).
    pub(crate) fn shutdown(&self) {
        self.shut_down.store(true, Ordering::Release);
        let mut wakers = Vec::new();
        let ios: Vec<Arc<ScheduledIo>> = {
            let mut set = lock(&self.registrations);
            set.shut_down = true;
            set.slab.drain().map(|r| r.io).collect()
        };
        for io in &ios {
            io.set_readiness(scheduled_io::SHUTDOWN, &mut wakers);
        }
        let mut panicked = wake_all(&mut wakers);
        self.timers.clear();
        // Woken, not dropped: their `recv` returns `None` from now on.
        let waiters = std::mem::take(&mut lock(&self.signals).waiters);
        wakers.extend(waiters.into_iter().map(|(_, waker)| waker));
        let later = wake_all(&mut wakers);
        // A panicking waker must not stop the shutdown half-way: every step
        // above ran; the first panic goes on to the caller.
        if let Some(payload) = panicked.take().or(later) {
            std::panic::resume_unwind(payload);
        }
    }

    /// Number of registered I/O sources.
    pub(crate) fn registered_sources(&self) -> usize {
        lock(&self.registrations).slab.len()
    }
}

/// Wakes every waker of `wakers` (leaving it empty, its capacity kept), even
/// if one of them panics: a waker is foreign code, and one that panics must
/// not cost the tasks behind it in the list their wake-up (they would hang).
/// Returns the first panic's payload, for the caller to resume once it has
/// put its state back in order; the worker loop contains it as it contains
/// any panic from the reactor (the panic hook has reported it already).
pub(crate) fn wake_all(wakers: &mut Vec<Waker>) -> Option<Box<dyn std::any::Any + Send>> {
    let mut panicked = None;
    for waker in wakers.drain(..) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
            panicked.get_or_insert(payload);
        }
    }
    panicked
}

pub(crate) fn shutdown_error() -> io::Error {
    io::Error::other("the runtime this I/O object belongs to has shut down")
}

impl Registration {
    /// Removes the source from epoll and frees its slot. Takes a borrow of the
    /// descriptor, so it can only be called while the fd is still open (the
    /// owner closes it after this returns).
    pub(crate) fn deregister(&self, fd: BorrowedFd<'_>) {
        if !self.reactor.is_shut_down() {
            // EPOLL_CTL_DEL can only fail if the fd was never added or is
            // already closed; either way there is nothing left to undo.
            let _ = self.reactor.epoll.delete(fd);
        }
        self.reactor.forget(self.token);
    }
}
