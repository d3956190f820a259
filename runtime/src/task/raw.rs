//! A task is one heap allocation: header (state word, vtable), the scheduler
//! handle, the future-or-output cell, and the join waker.
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
//! The generic functions below are instantiated per future type and reached
//! through the vtable, so the queues and the scheduler deal only in untyped
//! `NonNull<Header>` pointers.

use std::any::Any;
use std::cell::UnsafeCell as StdUnsafeCell;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::join::JoinError;
use super::state::{State, ToIdle, ToNotified, ToRunning};
use crate::sync::UnsafeCell;

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

pub(crate) struct Header {
    pub(crate) state: State,
    vtable: &'static Vtable,
    pub(crate) id: u64,
    /// Slot in the owned-tasks list. Written by the list while it holds the
    /// shard lock (before the task is visible to any other thread), read by the
    /// list under the same lock.
    pub(crate) owner_slot: StdUnsafeCell<usize>,
}

struct Vtable {
    poll: unsafe fn(NonNull<Header>),
    schedule: unsafe fn(NonNull<Header>),
    dealloc: unsafe fn(NonNull<Header>),
    try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    drop_join_handle: unsafe fn(NonNull<Header>),
    shutdown: unsafe fn(NonNull<Header>),
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F>>,
    join_waker: UnsafeCell<Option<Waker>>,
}

/// An untyped pointer to a task. Carries no reference by itself.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct RawTask(NonNull<Header>);

// SAFETY: a task's shared parts are synchronised by its state word; the future
// is `Send` (spawn requires it) and only touched by the thread holding RUNNING.
unsafe impl Send for RawTask {}
// SAFETY: as above.
unsafe impl Sync for RawTask {}

impl RawTask {
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a RawTask is only used while some reference keeps the
        // allocation alive.
        unsafe { self.0.as_ref() }
    }

    pub(crate) fn as_ptr(self) -> *mut Header {
        self.0.as_ptr()
    }

    /// # Safety
    /// `ptr` must come from [`RawTask::as_ptr`] of a live task.
    pub(crate) unsafe fn from_ptr(ptr: *mut Header) -> RawTask {
        // SAFETY: the caller passes a non-null task pointer.
        RawTask(unsafe { NonNull::new_unchecked(ptr) })
    }

    pub(crate) fn id(&self) -> u64 {
        self.header().id
    }
}

/// A reference held by the owned-tasks list.
pub(crate) struct Task(RawTask);

/// A reference that entitles its holder to poll the task once: what run
/// queues hold.
pub(crate) struct Notified(RawTask);

// SAFETY: see RawTask.
unsafe impl Send for Task {}
// SAFETY: see RawTask.
unsafe impl Send for Notified {}

impl Task {
    pub(crate) fn raw(&self) -> RawTask {
        self.0
    }

    /// Cancels the task at runtime shutdown: if nobody is polling it, drops the
    /// future now (on this thread).
    pub(crate) fn shutdown(self) {
        shutdown_reference(self.into_raw());
    }

    /// Gives up the reference without decrementing (the caller accounts for
    /// it, see `Schedule::release`).
    pub(crate) fn into_raw(self) -> RawTask {
        let raw = self.0;
        std::mem::forget(self);
        raw
    }

    /// # Safety
    /// The caller must own one reference to the task (from [`Task::into_raw`]).
    pub(crate) unsafe fn from_raw(raw: RawTask) -> Task {
        Task(raw)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        drop_reference(self.0);
    }
}

impl Notified {
    /// Polls the task (or cancels it). Consumes the reference.
    pub(crate) fn run(self) {
        let raw = self.into_raw();
        // SAFETY: the reference is handed to the poll routine.
        unsafe { (raw.header().vtable.poll)(raw.0) }
    }

    /// Cancels a task that was queued but will never run (a blocking task
    /// whose pool shut down): drops its future here, so its `JoinHandle`
    /// resolves to a cancellation error instead of waiting forever.
    pub(crate) fn shutdown(self) {
        shutdown_reference(self.into_raw());
    }

    /// Gives up the reference without decrementing.
    pub(crate) fn into_raw(self) -> RawTask {
        let raw = self.0;
        std::mem::forget(self);
        raw
    }

    /// # Safety
    /// The caller must own a `Notified` reference (from [`Notified::into_raw`]).
    pub(crate) unsafe fn from_raw(raw: RawTask) -> Notified {
        Notified(raw)
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        // A queue dropped without being run (runtime shutdown).
        drop_reference(self.0);
    }
}

/// Hands one owned reference to the task's shutdown routine (see `shutdown`).
fn shutdown_reference(raw: RawTask) {
    // SAFETY: the caller owned a reference and passes it on.
    unsafe { (raw.header().vtable.shutdown)(raw.0) }
}

fn drop_reference(raw: RawTask) {
    if raw.header().state.ref_dec() {
        // SAFETY: that was the last reference.
        unsafe { (raw.header().vtable.dealloc)(raw.0) }
    }
}

// ANCHOR: new_task
/// Allocates a task. Returns the owned-list reference, the first `Notified`
/// and the `JoinHandle`.
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    id: u64,
) -> (Task, Notified, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(),
            vtable: &Vtable {
                poll: poll::<F, S>,
                schedule: schedule::<F, S>,
                dealloc: dealloc::<F, S>,
                try_read_output: try_read_output::<F, S>,
                drop_join_handle: drop_join_handle::<F, S>,
                shutdown: shutdown::<F, S>,
            },
            id,
            owner_slot: StdUnsafeCell::new(usize::MAX),
        },
        scheduler,
        stage: UnsafeCell::new(Stage::Running(future)),
        join_waker: UnsafeCell::new(None),
    });
    // SAFETY: Box::into_raw never returns null; Cell is repr(C) with the header
    // first, so the pointer is also a valid header pointer.
    let raw = RawTask(unsafe { NonNull::new_unchecked(Box::into_raw(cell).cast::<Header>()) });
    (
        Task(raw),
        Notified(raw),
        JoinHandle {
            raw,
            _output: PhantomData,
        },
    )
}
// ANCHOR_END: new_task

/// # Safety
/// `ptr` must point at a live `Cell<F, S>`.
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: guaranteed by the caller; the header is the first field.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

// ----- the waker -------------------------------------------------------------

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(ptr: *const ()) -> RawWaker {
    // SAFETY: a waker's data pointer is always a live task header.
    let header = unsafe { &*(ptr as *const Header) };
    header.state.ref_inc();
    RawWaker::new(ptr, &WAKER_VTABLE)
}

unsafe fn waker_wake(ptr: *const ()) {
    // SAFETY: as above; this consumes the waker's reference.
    let header = unsafe { &*(ptr as *const Header) };
    match header.state.transition_to_notified_by_val() {
        // SAFETY: the waker's reference became the Notified reference.
        ToNotified::Schedule => unsafe { (header.vtable.schedule)(NonNull::from(header)) },
        // SAFETY: the waker held the last reference.
        ToNotified::Dealloc => unsafe { (header.vtable.dealloc)(NonNull::from(header)) },
        ToNotified::Nothing => {}
    }
}

unsafe fn waker_wake_by_ref(ptr: *const ()) {
    // SAFETY: as above; the waker keeps its reference.
    let header = unsafe { &*(ptr as *const Header) };
    if header.state.transition_to_notified_by_ref() == ToNotified::Schedule {
        // SAFETY: the transition created a new reference for the Notified.
        unsafe { (header.vtable.schedule)(NonNull::from(header)) }
    }
}

unsafe fn waker_drop(ptr: *const ()) {
    // SAFETY: a waker's data pointer is always a live task header.
    let raw = RawTask(unsafe { NonNull::new_unchecked(ptr as *mut Header) });
    drop_reference(raw);
}

/// A waker for the duration of one poll, borrowing the poller's reference
/// (no reference-count traffic unless the future clones it).
fn borrowed_waker(ptr: NonNull<Header>) -> ManuallyDrop<Waker> {
    // SAFETY: the vtable functions uphold the RawWaker contract; ManuallyDrop
    // keeps the borrowed reference from being released.
    ManuallyDrop::new(unsafe {
        Waker::from_raw(RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE))
    })
}

// ----- the harness: one poll, completion, cancellation ----------------------

// ANCHOR: harness_poll
unsafe fn poll<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the vtable is only reachable through a live Cell<F, S>.
    let cell = unsafe { cell::<F, S>(ptr) };
    match cell.header.state.transition_to_running() {
        ToRunning::Poll => {}
        ToRunning::Cancel => return cancel_and_complete(cell, ptr),
        ToRunning::Done { dealloc: true } => {
            // SAFETY: last reference.
            return unsafe { self::dealloc::<F, S>(ptr) };
        }
        ToRunning::Done { dealloc: false } => return,
    }
    let waker = borrowed_waker(ptr);
    let mut cx = Context::from_waker(&waker);
    let result = catch_unwind(AssertUnwindSafe(|| {
        crate::coop::reset_budget();
        // SAFETY: we hold RUNNING, so we have exclusive access to the stage;
        // the future never moves out of its heap cell (it is pinned there).
        cell.stage.with_mut(|stage| match unsafe { &mut *stage } {
            Stage::Running(future) => {
                // SAFETY: as above: pinned in its heap cell until dropped there.
                unsafe { Pin::new_unchecked(future) }.poll(&mut cx)
            }
            _ => unreachable!("polled a task that is not running"),
        })
    }));
    match result {
        Ok(Poll::Pending) => match cell.header.state.transition_to_idle() {
            ToIdle::Idle { dealloc: false } => {}
            // SAFETY: last reference.
            ToIdle::Idle { dealloc: true } => unsafe { self::dealloc::<F, S>(ptr) },
            ToIdle::Notified => cell.scheduler.yield_now(Notified(RawTask(ptr))),
            ToIdle::Cancel => cancel_and_complete(cell, ptr),
        },
        Ok(Poll::Ready(output)) => {
            let output = match drop_future(cell) {
                Ok(()) => Ok(output),
                Err(panic) => Err(JoinError::panic(panic)),
            };
            store_output_and_complete(cell, ptr, output);
        }
        Err(panic) => {
            // The future panicked; its destructor may panic too, but the first
            // panic is the one worth reporting.
            let _ = drop_future(cell);
            store_output_and_complete(cell, ptr, Err(JoinError::panic(panic)));
        }
    }
}
// ANCHOR_END: harness_poll

/// Drops the future (user code: may panic).
fn drop_future<F: Future, S>(cell: &Cell<F, S>) -> Result<(), Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: called only while holding RUNNING.
        cell.stage
            .with_mut(|stage| unsafe { *stage = Stage::Consumed });
    }))
}

fn cancel_and_complete<F: Future, S: Schedule>(cell: &Cell<F, S>, ptr: NonNull<Header>) {
    let error = match drop_future(cell) {
        Ok(()) => JoinError::cancelled(),
        Err(panic) => JoinError::panic(panic),
    };
    store_output_and_complete(cell, ptr, Err(error));
}

// ANCHOR: complete
fn store_output_and_complete<F: Future, S: Schedule>(
    cell: &Cell<F, S>,
    ptr: NonNull<Header>,
    output: Result<F::Output, JoinError>,
) {
    // SAFETY: still RUNNING: exclusive access; the stage is Consumed, so
    // nothing is dropped by this write.
    cell.stage
        .with_mut(|stage| unsafe { std::ptr::write(stage, Stage::Finished(output)) });
    // Leave the owned list *before* announcing completion, so that whoever
    // awaits the JoinHandle sees the task gone from the runtime's counts. We
    // still hold the running reference, so the list's goes with ours below.
    let refs = if cell.scheduler.release(RawTask(ptr)) {
        2
    } else {
        1
    };
    let prev = cell.header.state.transition_to_complete();
    if !prev.is_join_interested() {
        // Nobody will read the output: drop it here (user code: may panic).
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: without JOIN_INTEREST nobody else touches the stage.
            cell.stage
                .with_mut(|stage| unsafe { *stage = Stage::Consumed });
        }));
    } else if prev.is_join_waker_set() {
        // SAFETY: JOIN_WAKER is set and the task is complete: the runner may
        // read the cell; the JoinHandle does not touch it.
        cell.join_waker.with(|w| {
            // SAFETY: see above.
            if let Some(w) = unsafe { &*w } {
                w.wake_by_ref();
            }
        });
        let after = cell.header.state.unset_join_waker_after_complete();
        if !after.is_join_interested() {
            // The JoinHandle was dropped while we were waking: its waker is ours
            // to drop.
            // SAFETY: JOIN_WAKER is now clear and the handle is gone.
            cell.join_waker.with_mut(|w| unsafe { *w = None });
        }
    }
    if cell.header.state.ref_dec_by(refs) {
        // SAFETY: those were the last references.
        unsafe { dealloc::<F, S>(ptr) }
    }
}
// ANCHOR_END: complete

unsafe fn schedule<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the vtable is only reachable through a live Cell<F, S>.
    let cell = unsafe { cell::<F, S>(ptr) };
    cell.scheduler.schedule(Notified(RawTask(ptr)));
}

unsafe fn dealloc<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the reference count reached zero: we are the only ones left, and
    // the pointer came from Box::into_raw of this very type.
    drop(unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) });
}

unsafe fn shutdown<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the vtable is only reachable through a live Cell<F, S>.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.transition_to_shutdown() {
        // We took RUNNING: the caller's reference serves as the running
        // reference, which completion releases.
        cancel_and_complete(cell, ptr);
    } else {
        // Running elsewhere (it will see CANCELLED) or already complete.
        drop_reference(RawTask(ptr));
    }
}

unsafe fn try_read_output<F: Future, S>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
    // SAFETY: the vtable is only reachable through a live Cell<F, S>; `dst` is
    // the JoinHandle's `Poll<Result<F::Output, JoinError>>`.
    let cell = unsafe { cell::<F, S>(ptr) };
    let dst = dst as *mut Poll<Result<F::Output, JoinError>>;
    if can_read_output(cell, waker) {
        // SAFETY: complete and JOIN_INTEREST is ours: we own the stage now.
        let stage = cell
            .stage
            .with_mut(|stage| unsafe { std::mem::replace(&mut *stage, Stage::Consumed) });
        match stage {
            // SAFETY: `dst` is valid for writes (see above).
            Stage::Finished(output) => unsafe { *dst = Poll::Ready(output) },
            _ => panic!("JoinHandle polled after it returned Ready"),
        }
    }
}

/// The `JoinHandle` side of the join-waker protocol (see state.rs).
/// Returns `true` if the task is complete.
fn can_read_output<F: Future, S>(cell: &Cell<F, S>, waker: &Waker) -> bool {
    let state = &cell.header.state;
    let snapshot = state.load();
    if snapshot.is_complete() {
        return true;
    }
    let result = if snapshot.is_join_waker_set() {
        // SAFETY: JOIN_WAKER set and not complete: nobody writes the cell, so
        // reading it is fine.
        let same = cell
            .join_waker
            .with(|w| unsafe { &*w }.as_ref().is_some_and(|w| w.will_wake(waker)));
        if same {
            return false;
        }
        state
            .unset_join_waker()
            .and_then(|()| set_join_waker(cell, waker))
    } else {
        set_join_waker(cell, waker)
    };
    match result {
        Ok(()) => false,
        Err(snapshot) => {
            debug_assert!(snapshot.is_complete());
            true
        }
    }
}

fn set_join_waker<F: Future, S>(
    cell: &Cell<F, S>,
    waker: &Waker,
) -> Result<(), super::state::Snapshot> {
    // SAFETY: JOIN_WAKER is clear and we are the JoinHandle: the cell is ours.
    cell.join_waker
        .with_mut(|w| unsafe { *w = Some(waker.clone()) });
    let result = cell.header.state.set_join_waker();
    if result.is_err() {
        // SAFETY: completion raced us; JOIN_WAKER stayed clear, so still ours.
        cell.join_waker.with_mut(|w| unsafe { *w = None });
    }
    result
}

unsafe fn drop_join_handle<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the vtable is only reachable through a live Cell<F, S>.
    let cell = unsafe { cell::<F, S>(ptr) };
    let prev = cell.header.state.unset_join_interest();
    if prev.is_complete() {
        // The output is ours to drop (user code: may panic, must not unwind
        // out of JoinHandle::drop into the caller's task).
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: complete, and we held JOIN_INTEREST: exclusive access.
            cell.stage
                .with_mut(|stage| unsafe { *stage = Stage::Consumed });
        }));
        if !prev.is_join_waker_set() {
            // SAFETY: the runner has finished with the cell (it clears
            // JOIN_WAKER when done), so it is ours.
            cell.join_waker.with_mut(|w| unsafe { *w = None });
        }
    } else if prev.is_join_waker_set() {
        // SAFETY: we cleared JOIN_WAKER before completion: the cell is ours.
        cell.join_waker.with_mut(|w| unsafe { *w = None });
    }
    drop_reference(RawTask(ptr));
}

// ----- JoinHandle ------------------------------------------------------------

/// An owned permission to await a spawned task's output.
///
/// Awaiting it gives `Ok(output)`, or a [`JoinError`] if the task panicked or
/// was aborted. Dropping it *detaches* the task: it keeps running.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let handle = runtime::spawn(async { 6 * 7 });
///     assert_eq!(handle.await.unwrap(), 42);
/// });
/// ```
pub struct JoinHandle<T> {
    raw: RawTask,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves `T` out (requires `T: Send`) and touches the
// task through its synchronised state.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only allows `abort`/`is_finished`, which touch atomics.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// Cancels the task. If it is not running, its future is dropped the next
    /// time a worker picks it up; if it is running, right after the current
    /// poll. Awaiting the handle then yields a [`JoinError`] for which
    /// [`JoinError::is_cancelled`] is true (unless the task finished first).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(std::future::pending::<()>());
    ///     handle.abort();
    ///     assert!(handle.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        let header = self.raw.header();
        if header.state.transition_to_notified_and_cancel() == ToNotified::Schedule {
            // SAFETY: the transition created the Notified reference.
            unsafe { (header.vtable.schedule)(self.raw.0) }
        }
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let handle = runtime::spawn(async {});
    ///     while !handle.is_finished() {
    ///         runtime::task::yield_now().await;
    ///     }
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.raw.header().state.load().is_complete()
    }

    /// A number identifying the task, unique within the process.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let a = rt.spawn(async {});
    /// let b = rt.spawn(async {});
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn id(&self) -> u64 {
        self.raw.id()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        let header = self.raw.header();
        // SAFETY: `out` has the type the vtable entry expects for this task.
        unsafe {
            (header.vtable.try_read_output)(self.raw.0, &mut out as *mut _ as *mut (), cx.waker())
        };
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: we own the handle's reference and hand it over.
        unsafe { (self.raw.header().vtable.drop_join_handle)(self.raw.0) }
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    //! A scheduler that just collects what it is asked to schedule, so tests
    //! can drive the task harness by hand.

    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    pub(crate) struct Collect {
        pub(crate) queue: Arc<Mutex<Vec<Notified>>>,
        pub(crate) yields: Arc<Mutex<usize>>,
        pub(crate) released: Arc<Mutex<usize>>,
    }

    impl Schedule for Collect {
        fn schedule(&self, task: Notified) {
            self.queue.lock().unwrap().push(task);
        }
        fn yield_now(&self, task: Notified) {
            *self.yields.lock().unwrap() += 1;
            self.schedule(task);
        }
        fn release(&self, _task: RawTask) -> bool {
            *self.released.lock().unwrap() += 1;
            false
        }
    }

    impl Collect {
        pub(crate) fn pop(&self) -> Option<Notified> {
            let mut q = self.queue.lock().unwrap();
            if q.is_empty() {
                None
            } else {
                Some(q.remove(0))
            }
        }
    }

    /// A task that does nothing, for queue tests. The owned-list reference is
    /// released at once (Collect::release reports "not listed").
    pub(crate) fn dummy(id: u64) -> Notified {
        let (task, notified, join) = new_task(async {}, Collect::default(), id);
        drop(task);
        drop(join);
        notified
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::test_util::Collect;
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn noop_cx<R>(f: impl FnOnce(&mut Context<'_>) -> R) -> R {
        let waker = Waker::noop();
        f(&mut Context::from_waker(waker))
    }

    /// A future that wakes itself during its poll `wakes` times, counting polls.
    struct SelfWaking {
        polls: Arc<AtomicUsize>,
        wakes: usize,
    }

    impl Future for SelfWaking {
        type Output = usize;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            let n = self.polls.fetch_add(1, Ordering::SeqCst) + 1;
            if self.wakes == 0 {
                return Poll::Ready(n);
            }
            self.wakes -= 1;
            // Two wakes during one poll must still give exactly one re-poll.
            cx.waker().wake_by_ref();
            #[allow(clippy::waker_clone_wake)] // the by-value path is the point
            cx.waker().clone().wake();
            Poll::Pending
        }
    }

    #[test]
    fn wake_during_poll_repolls_exactly_once() {
        let sched = Collect::default();
        let polls = Arc::new(AtomicUsize::new(0));
        let (task, notified, mut join) = new_task(
            SelfWaking {
                polls: polls.clone(),
                wakes: 3,
            },
            sched.clone(),
            1,
        );
        drop(task);
        notified.run();
        let mut runs = 1;
        while let Some(n) = sched.pop() {
            assert!(
                sched.pop().is_none(),
                "a wake during poll queued the task twice"
            );
            n.run();
            runs += 1;
        }
        assert_eq!(runs, 4);
        assert_eq!(polls.load(Ordering::SeqCst), 4);
        assert_eq!(*sched.yields.lock().unwrap(), 3, "self-wakes are yields");
        let out = noop_cx(|cx| Pin::new(&mut join).poll(cx));
        assert!(matches!(out, Poll::Ready(Ok(4))));
    }

    #[test]
    fn wake_after_complete_is_ignored() {
        let sched = Collect::default();
        let stash: Arc<std::sync::Mutex<Option<Waker>>> = Default::default();
        let s2 = stash.clone();
        let (task, notified, join) = new_task(
            std::future::poll_fn(move |cx| {
                *s2.lock().unwrap() = Some(cx.waker().clone());
                Poll::Ready(())
            }),
            sched.clone(),
            2,
        );
        drop(task);
        notified.run();
        assert!(join.is_finished());
        let waker = stash.lock().unwrap().take().unwrap();
        waker.wake_by_ref();
        waker.wake();
        assert!(sched.pop().is_none());
        drop(join);
    }

    #[test]
    fn panic_becomes_join_error() {
        let sched = Collect::default();
        let (task, notified, mut join) = new_task(async { panic!("kaboom") }, sched, 3);
        drop(task);
        notified.run();
        match noop_cx(|cx| Pin::new(&mut join).poll(cx)) {
            Poll::Ready(Err(e)) => assert_eq!(e.to_string(), "task panicked: kaboom"),
            _ => panic!("expected a panic error"),
        }
    }

    #[test]
    fn abort_idle_task_drops_future_on_next_run() {
        struct DropFlag(Arc<AtomicUsize>);
        impl Drop for DropFlag {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let flag = DropFlag(dropped.clone());
        let sched = Collect::default();
        let (task, notified, mut join) = new_task(
            async move {
                let _flag = flag;
                std::future::pending::<()>().await
            },
            sched.clone(),
            4,
        );
        drop(task);
        notified.run(); // now idle, pending forever
        assert_eq!(dropped.load(Ordering::SeqCst), 0);
        join.abort();
        join.abort(); // twice: still one cancellation
        let n = sched.pop().expect("abort schedules the idle task");
        assert!(sched.pop().is_none());
        n.run();
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        match noop_cx(|cx| Pin::new(&mut join).poll(cx)) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            _ => panic!("expected cancellation"),
        }
    }

    #[test]
    fn join_waker_is_woken_on_completion() {
        use std::task::Wake;
        struct Flag(AtomicUsize);
        impl Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let flag = Arc::new(Flag(AtomicUsize::new(0)));
        let waker = Waker::from(flag.clone());
        let sched = Collect::default();
        let stash: Arc<std::sync::Mutex<Option<Waker>>> = Default::default();
        let s2 = stash.clone();
        let mut first = true;
        let (task, notified, mut join) = new_task(
            std::future::poll_fn(move |cx| {
                if first {
                    first = false;
                    *s2.lock().unwrap() = Some(cx.waker().clone());
                    Poll::Pending
                } else {
                    Poll::Ready(9)
                }
            }),
            sched.clone(),
            5,
        );
        drop(task);
        notified.run();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut join).poll(&mut cx).is_pending());
        stash.lock().unwrap().take().unwrap().wake();
        sched.pop().unwrap().run();
        assert_eq!(flag.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            Pin::new(&mut join).poll(&mut cx),
            Poll::Ready(Ok(9))
        ));
    }

    #[test]
    fn dropping_everything_frees_the_task() {
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let c = Counted(drops.clone());
        let (task, notified, join) = new_task(
            async move {
                let _c = c;
            },
            Collect::default(),
            6,
        );
        // Never run: dropping all three references must drop the future.
        drop(join);
        drop(notified);
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(task);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}

/// Loom models of the task state machine, driven through the real harness.
/// Run with `RUSTFLAGS="--cfg loom" cargo test -p runtime --lib --release loom_`.
///
/// They fail if the protocol is weakened: e.g. in `State::transition_to_idle`,
/// drop the `NOTIFIED` check (release the reference and go idle), and
/// `loom_wake_during_poll` finds the interleaving where the wake is lost (the
/// future is never polled again: the final assertion fails); let
/// `transition_to_notified_by_ref` schedule while `RUNNING`, and loom reports
/// concurrent access to the future's cell (a double poll).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::test_util::Collect;
    use super::*;
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::thread;
    use std::sync::Mutex as StdMutex;

    /// Pending on the first poll (publishing its waker), ready on the second.
    fn two_step(
        polls: std::sync::Arc<AtomicUsize>,
        slot: std::sync::Arc<StdMutex<Option<Waker>>>,
    ) -> impl Future<Output = usize> + Send + 'static {
        std::future::poll_fn(move |cx| {
            let n = polls.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 1 {
                *slot.lock().unwrap() = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(n)
            }
        })
    }

    fn drain(sched: &Collect) {
        while let Some(t) = sched.pop() {
            t.run();
        }
    }

    #[test]
    fn loom_wake_during_poll() {
        loom::model(|| {
            let sched = Collect::default();
            let polls = std::sync::Arc::new(AtomicUsize::new(0));
            let slot: std::sync::Arc<StdMutex<Option<Waker>>> = Default::default();
            let (task, notified, join) =
                new_task(two_step(polls.clone(), slot.clone()), sched.clone(), 1);
            drop(task);
            let s2 = slot.clone();
            let waker_thread = thread::spawn(move || loop {
                if let Some(w) = s2.lock().unwrap().take() {
                    w.wake();
                    return;
                }
                thread::yield_now();
            });
            notified.run();
            waker_thread.join().unwrap();
            drain(&sched);
            assert_eq!(polls.load(Ordering::SeqCst), 2, "lost or doubled wake-up");
            assert!(join.is_finished());
        });
    }

    #[test]
    fn loom_abort_races_completion() {
        loom::model(|| {
            let sched = Collect::default();
            let (task, notified, mut join) = new_task(async { 7 }, sched.clone(), 2);
            drop(task);
            let runner = thread::spawn(move || {
                notified.run();
                drain(&sched);
            });
            join.abort();
            runner.join().unwrap();
            let out = Pin::new(&mut join).poll(&mut Context::from_waker(Waker::noop()));
            match out {
                Poll::Ready(Ok(7)) => {}
                Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
                Poll::Pending => panic!("neither completed nor cancelled"),
                Poll::Ready(Ok(other)) => panic!("bad output {other}"),
            }
        });
    }

    #[test]
    fn loom_join_handle_dropped_while_output_written() {
        loom::model(|| {
            let sched = Collect::default();
            let dropped = std::sync::Arc::new(AtomicUsize::new(0));
            struct Out(std::sync::Arc<AtomicUsize>);
            impl Drop for Out {
                fn drop(&mut self) {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
            let d2 = dropped.clone();
            let (task, notified, join) = new_task(async move { Out(d2) }, sched.clone(), 3);
            drop(task);
            let runner = thread::spawn(move || notified.run());
            drop(join);
            runner.join().unwrap();
            assert_eq!(
                dropped.load(Ordering::SeqCst),
                1,
                "output leaked or dropped twice"
            );
        });
    }

    #[test]
    fn loom_join_waker_and_completion() {
        loom::model(|| {
            let sched = Collect::default();
            let (task, notified, mut join) = new_task(async { 1 }, sched.clone(), 4);
            drop(task);
            let runner = thread::spawn(move || notified.run());
            let woken = std::sync::Arc::new(AtomicUsize::new(0));
            struct W(std::sync::Arc<AtomicUsize>);
            impl std::task::Wake for W {
                fn wake(self: std::sync::Arc<Self>) {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
            let waker = Waker::from(std::sync::Arc::new(W(woken.clone())));
            let first = Pin::new(&mut join).poll(&mut Context::from_waker(&waker));
            runner.join().unwrap();
            if first.is_pending() {
                // Completion must have woken us.
                assert_eq!(woken.load(Ordering::SeqCst), 1);
                let second = Pin::new(&mut join).poll(&mut Context::from_waker(&waker));
                assert!(matches!(second, Poll::Ready(Ok(1))));
            }
        });
    }
}
