//! The task's single allocation: what it holds, where, and who may touch each
//! part when.
//!
//! ```text
//! Box<Cell<F, S>>
//! +--------------------------------------------------+
//! | Header  | state: AtomicUsize  (see state.rs)      |
//! |         | vtable: &'static Vtable (F, S erased)   |
//! |         | id, owner slot                          |
//! | scheduler: S                                      |
//! | stage:  Running(F) | Finished(Result<T>) | Consumed
//! | join_waker: Option<Waker>                         |
//! +--------------------------------------------------+
//! ```
//!
//! Everything else (`Notified`, `Task`, `JoinHandle`, every `Waker`) is a
//! pointer to the header plus one unit of the reference count in the state
//! word. Waking, queueing and joining therefore never allocate.
//!
//! The accessors below are `unsafe`: the state word (not the type system)
//! decides who may touch the stage and the join-waker slot, and each caller
//! names the bit that gives it the right.

use std::cell::UnsafeCell as StdUnsafeCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::error::JoinError;
use super::raw::{RawTask, Vtable};
use super::refs::Notified;
use super::state::State;
use crate::primitives::UnsafeCell;

/// What the task harness needs from whoever runs it.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Queues a task that was woken.
    fn schedule(&self, task: Notified);
    /// Queues a task that woke itself during its own poll (it yielded): it
    /// goes to the back of the queue so others run first.
    fn yield_now(&self, task: Notified) {
        self.schedule(task);
    }
    /// The task finished: drop it from the owned-tasks list. Returns `true`
    /// if the list held a reference, which the caller then releases.
    fn release(&self, task: RawTask) -> bool;
}

/// The type-erased part of a task, first in the allocation so that a pointer
/// to the cell is also a pointer to its header.
pub(crate) struct Header {
    pub(crate) state: State,
    pub(super) vtable: &'static Vtable,
    pub(crate) id: u64,
    /// Slot in the owned-tasks list. Written by the list while it holds the
    /// shard lock (before the task is visible to any other thread), read by the
    /// list under the same lock.
    pub(crate) owner_slot: StdUnsafeCell<usize>,
}

/// The future, then its output, then nothing.
pub(super) enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

/// The whole allocation. `repr(C)` keeps the header at offset 0.
#[repr(C)]
pub(super) struct Cell<F: Future, S> {
    pub(super) header: Header,
    pub(super) scheduler: S,
    stage: UnsafeCell<Stage<F>>,
    join_waker: UnsafeCell<Option<Waker>>,
}

impl<F: Future, S> Cell<F, S> {
    pub(super) fn new(future: F, scheduler: S, id: u64, vtable: &'static Vtable) -> Box<Self> {
        Box::new(Cell {
            header: Header {
                state: State::new(),
                vtable,
                id,
                owner_slot: StdUnsafeCell::new(usize::MAX),
            },
            scheduler,
            stage: UnsafeCell::new(Stage::Running(future)),
            join_waker: UnsafeCell::new(None),
        })
    }

    /// Polls the future in place.
    ///
    /// # Safety
    /// The caller holds `RUNNING` (exclusive access to the stage) and the
    /// stage is `Running`.
    pub(super) unsafe fn poll_future(&self, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.stage.with_mut(|stage| {
            // SAFETY: exclusive access (RUNNING, see the contract).
            match unsafe { &mut *stage } {
                // SAFETY: the future lives in its heap cell until it is
                // dropped there: it is pinned.
                Stage::Running(future) => unsafe { Pin::new_unchecked(future) }.poll(cx),
                _ => unreachable!("polled a task that is not running"),
            }
        })
    }

    /// Replaces the stage, dropping what was there (user code: may panic;
    /// the stage is `Consumed` afterwards even then, because an assignment
    /// that unwinds out of the old value's destructor still stores the new
    /// one).
    ///
    /// # Safety
    /// The caller has exclusive access to the stage: it holds `RUNNING`, or
    /// the task is `COMPLETE` and the caller owns the output (the
    /// `JoinHandle`, or the runner when there is none).
    pub(super) unsafe fn set_stage(&self, new: Stage<F>) {
        // SAFETY: exclusive access (see the contract).
        self.stage.with_mut(|stage| unsafe { *stage = new });
    }

    /// Takes the output out, leaving `Consumed`.
    ///
    /// # Safety
    /// As for [`set_stage`](Self::set_stage).
    pub(super) unsafe fn take_stage(&self) -> Stage<F> {
        // SAFETY: exclusive access (see the contract).
        self.stage
            .with_mut(|stage| unsafe { std::mem::replace(&mut *stage, Stage::Consumed) })
    }

    /// Writes the join waker slot.
    ///
    /// # Safety
    /// The caller owns the slot: the `JoinHandle` while `JOIN_WAKER` is clear,
    /// or whoever the protocol in `state.rs` hands it to once the handle is
    /// gone.
    pub(super) unsafe fn set_join_waker(&self, waker: Option<Waker>) {
        // SAFETY: exclusive access (see the contract).
        self.join_waker.with_mut(|w| unsafe { *w = waker });
    }

    /// Whether the stored join waker would wake the same task as `waker`.
    ///
    /// # Safety
    /// Nobody writes the slot meanwhile: `JOIN_WAKER` is set and the task is
    /// not complete (the runner only reads it after completion).
    pub(super) unsafe fn join_waker_will_wake(&self, waker: &Waker) -> bool {
        // SAFETY: no concurrent writer (see the contract).
        self.join_waker
            .with(|w| unsafe { &*w }.as_ref().is_some_and(|w| w.will_wake(waker)))
    }

    /// Wakes the stored join waker, if any.
    ///
    /// # Safety
    /// The task is `COMPLETE` and `JOIN_WAKER` still set: the runner may read
    /// the slot; the `JoinHandle` does not touch it.
    pub(super) unsafe fn wake_join(&self) {
        // SAFETY: no concurrent writer (see the contract).
        self.join_waker.with(|w| {
            // SAFETY: as above.
            if let Some(w) = unsafe { &*w } {
                w.wake_by_ref();
            }
        });
    }
}
