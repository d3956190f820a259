//! A slot holding one `Waker`, written by the task that waits and taken by the
//! thread that wakes, without a lock.
//!
//! ## Protocol
//!
//! `state` is one of:
//!
//! | state                  | meaning                                            |
//! |------------------------|----------------------------------------------------|
//! | `IDLE`                 | nobody is touching `waker`                         |
//! | `REGISTERING`          | the waiting task is writing `waker`                |
//! | `WAKING`               | a waker is taking `waker` out                      |
//! | `REGISTERING \| WAKING` | a wake arrived while a registration was under way |
//!
//! Who may touch `waker`: only the thread that moved `state` from `IDLE` to
//! `REGISTERING` (until it leaves that state), or the thread that moved it from
//! `IDLE` to `WAKING` (until it clears `WAKING`). Both transitions start from
//! `IDLE`, so at most one thread holds the slot at a time.
//!
//! No lost wake-up: a `wake` that finds a registration in progress sets `WAKING`
//! and leaves. The registering thread's final compare-exchange
//! (`REGISTERING` → `IDLE`) then fails, and it wakes the waker it just stored
//! itself. So a wake either sees the stored waker, or makes the registrant
//! deliver it.
//!
//! Only one task may wait on a slot at a time (a newer registration replaces the
//! older waker). The reactor gives every I/O source one slot per direction.

use std::task::Waker;

use crate::primitives::{AtomicUsize, Ordering, UnsafeCell};

const IDLE: usize = 0;
const REGISTERING: usize = 0b01;
const WAKING: usize = 0b10;

pub(crate) struct AtomicWaker {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: access to `waker` is serialised by the `state` protocol above, and
// `Waker` itself is `Send + Sync`.
unsafe impl Send for AtomicWaker {}
// SAFETY: as above.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    pub(crate) fn new() -> AtomicWaker {
        AtomicWaker {
            state: AtomicUsize::new(IDLE),
            waker: UnsafeCell::new(None),
        }
    }

    // ANCHOR: register
    /// Stores `waker` so that the next [`take`](Self::take) returns it to be woken.
    pub(crate) fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(IDLE, REGISTERING, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => {
                // SAFETY: we moved IDLE -> REGISTERING, so we own the slot.
                self.waker.with_mut(|slot| unsafe {
                    match &*slot {
                        Some(old) if old.will_wake(waker) => {}
                        _ => *slot = Some(waker.clone()),
                    }
                });
                // Release publishes the waker to the next thread that takes it.
                if let Err(actual) = self.state.compare_exchange(
                    REGISTERING,
                    IDLE,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    // A wake came in while we were writing: we still own the
                    // slot (WAKING was set on top of REGISTERING), so deliver it.
                    debug_assert_eq!(actual, REGISTERING | WAKING);
                    // SAFETY: still the owner until the swap below.
                    let taken = self.waker.with_mut(|slot| unsafe { (*slot).take() });
                    self.state.swap(IDLE, Ordering::AcqRel);
                    if let Some(w) = taken {
                        w.wake();
                    }
                }
            }
            Err(WAKING) => {
                // A wake is being delivered right now, possibly of an older
                // waker: make sure *this* task runs again.
                waker.wake_by_ref();
            }
            Err(_) => {
                // Another registration is in progress: two tasks waiting on one
                // slot concurrently is outside the contract; the other one wins.
            }
        }
    }
    // ANCHOR_END: register

    // ANCHOR: take
    /// Takes the stored waker out without waking it.
    pub(crate) fn take(&self) -> Option<Waker> {
        match self.state.fetch_or(WAKING, Ordering::AcqRel) {
            IDLE => {
                // SAFETY: we moved IDLE -> WAKING, so we own the slot.
                let w = self.waker.with_mut(|slot| unsafe { (*slot).take() });
                self.state.fetch_and(!WAKING, Ordering::Release);
                w
            }
            // A registration is running (it will see WAKING and wake itself) or
            // another wake is already delivering.
            _ => None,
        }
    }
    // ANCHOR_END: take
}

impl std::fmt::Debug for AtomicWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtomicWaker").finish_non_exhaustive()
    }
}
