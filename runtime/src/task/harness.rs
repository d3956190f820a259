//! The harness: the typed functions behind a task's vtable. One poll,
//! completion, cancellation, the `JoinHandle`'s side of the join protocol, and
//! freeing the cell.
//!
//! Each takes the task as a `RawTask` by value and borrows the cell only for
//! as long as it reads it: a function that may free the task holds no
//! reference into the cell (not even as an argument) when it does, so the
//! reference's validity never outlives the memory.
//!
//! User code runs here (the future's `poll` and destructor, the output's
//! destructor); none of its panics may unwind into the caller, which is a
//! worker's loop or a `JoinHandle`'s drop.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::{Context, Poll, Waker};

use super::core::{Cell, Schedule, Stage};
use super::error::JoinError;
use super::id;
use super::raw::RawTask;
use super::refs::Notified;
use super::state::{Snapshot, ToIdle, ToRunning};
use super::waker::borrowed_waker;

// ANCHOR: harness_poll
/// Polls the task once (or cancels it, or just lets go of a finished one).
///
/// # Safety
/// `task` is a `Cell<F, S>` and the caller hands over a `Notified` reference.
pub(super) unsafe fn poll<F: Future, S: Schedule>(task: RawTask) {
    // User code below (the future, its destructor, the output's) may ask
    // which task it runs in.
    let _current = id::enter(task.id());
    match task.header().state.transition_to_running() {
        ToRunning::Poll => {}
        // SAFETY: we hold RUNNING and hand our reference on.
        ToRunning::Cancel => return unsafe { cancel_and_complete::<F, S>(task) },
        // SAFETY: ours was the last reference.
        ToRunning::Done { dealloc: true } => return unsafe { dealloc::<F, S>(task) },
        ToRunning::Done { dealloc: false } => return,
    }
    // SAFETY: we hold RUNNING.
    match unsafe { poll_future::<F, S>(task) } {
        Poll::Pending => match task.header().state.transition_to_idle() {
            ToIdle::Idle { dealloc: false } => {}
            // SAFETY: ours was the last reference.
            ToIdle::Idle { dealloc: true } => unsafe { dealloc::<F, S>(task) },
            // SAFETY: the transition created the Notified's reference and left
            // ours, which we release once the scheduler has returned.
            ToIdle::Notified => unsafe {
                task.cell::<F, S>()
                    .scheduler
                    .yield_now(Notified::from_raw(task));
                task.drop_reference();
            },
            // SAFETY: still RUNNING, with our reference.
            ToIdle::Cancel => unsafe { cancel_and_complete::<F, S>(task) },
        },
        // SAFETY: still RUNNING, with our reference.
        Poll::Ready(output) => unsafe { complete::<F, S>(task, output) },
    }
}
// ANCHOR_END: harness_poll

/// Polls the future inside `catch_unwind`. When it is `Ready` the future has
/// been dropped; so it has when the poll panicked, and then *during* the
/// unwinding (as a destructor of the unwinding frame), so that destructors
/// that look at `std::thread::panicking()` see `true` and can roll back. A
/// destructor that panics too is caught right there, inside the guard (a
/// nested panic only aborts the process if it unwinds out of a destructor
/// that runs during unwinding); the poll's panic is the one reported.
///
/// # Safety
/// `task` is a live `Cell<F, S>` and the caller holds `RUNNING`.
unsafe fn poll_future<F: Future, S: Schedule>(task: RawTask) -> Poll<Result<F::Output, JoinError>> {
    /// Drops the future if the poll unwinds.
    struct DropOnUnwind<'a, F: Future, S>(&'a Cell<F, S>);
    impl<F: Future, S> Drop for DropOnUnwind<'_, F, S> {
        fn drop(&mut self) {
            // SAFETY: only alive while the poll runs, under RUNNING.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| unsafe {
                self.0.set_stage(Stage::Consumed)
            })) {
                drop_quietly(payload);
            }
        }
    }

    // SAFETY: live (the running reference) until after this returns.
    let cell = unsafe { task.cell::<F, S>() };
    let waker = borrowed_waker(task);
    let mut cx = Context::from_waker(&waker);
    let polled = catch_unwind(AssertUnwindSafe(|| {
        let guard = DropOnUnwind(cell);
        crate::coop::reset_budget();
        // SAFETY: RUNNING, and the stage is Running (we just took RUNNING).
        let res = unsafe { cell.poll_future(&mut cx) };
        std::mem::forget(guard);
        res
    }));
    match polled {
        Ok(Poll::Pending) => Poll::Pending,
        // SAFETY: RUNNING.
        Ok(Poll::Ready(output)) => Poll::Ready(match unsafe { drop_future(cell) } {
            Ok(()) => Ok(output),
            Err(panic) => {
                drop_quietly(output);
                Err(JoinError::panic(panic))
            }
        }),
        Err(panic) => Poll::Ready(Err(JoinError::panic(panic))),
    }
}

/// Drops the future (user code: may panic).
///
/// # Safety
/// The caller holds `RUNNING`.
unsafe fn drop_future<F: Future, S>(cell: &Cell<F, S>) -> Result<(), Box<dyn Any + Send>> {
    // SAFETY: exclusive access under RUNNING.
    catch_unwind(AssertUnwindSafe(|| unsafe {
        cell.set_stage(Stage::Consumed)
    }))
}

/// Drops a value that belongs to user code (an output, a stage) where no
/// panic may escape: a worker's loop or a `JoinHandle`'s drop.
fn drop_quietly<T>(value: T) {
    let mut value = Some(value);
    // Through `dyn`, so `catch_unwind` and the loop below are compiled once
    // rather than for every task's output and future type.
    run_quietly(&mut || drop(value.take()));
}

fn run_quietly(drop_value: &mut dyn FnMut()) {
    let Err(mut payload) = catch_unwind(AssertUnwindSafe(drop_value)) else {
        return;
    };
    // The payload is user data too, and its destructor may panic as well,
    // with yet another payload: drop until one goes quietly.
    while let Err(next) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        payload = next;
    }
}

/// Drops the future and completes with a cancellation error.
///
/// # Safety
/// `task` is a live `Cell<F, S>`; the caller holds `RUNNING` and hands over
/// the running reference.
unsafe fn cancel_and_complete<F: Future, S: Schedule>(task: RawTask) {
    let error = {
        // SAFETY: live while we hold our reference; not used past this block.
        let cell = unsafe { task.cell::<F, S>() };
        // SAFETY: RUNNING.
        match unsafe { drop_future(cell) } {
            Ok(()) => JoinError::cancelled(),
            Err(panic) => JoinError::panic(panic),
        }
    };
    // SAFETY: the caller's contract, passed on.
    unsafe { complete::<F, S>(task, Err(error)) }
}

// ANCHOR: complete
/// Stores the output, announces completion and releases the running
/// reference (and the owned list's).
///
/// # Safety
/// `task` is a live `Cell<F, S>` whose future is dropped; the caller holds
/// `RUNNING` and hands over the running reference.
unsafe fn complete<F: Future, S: Schedule>(task: RawTask, output: Result<F::Output, JoinError>) {
    let refs = {
        // SAFETY: live while we hold our reference; not used past this block.
        let cell = unsafe { task.cell::<F, S>() };
        // SAFETY: still RUNNING: exclusive access; the stage is Consumed, so
        // nothing is dropped by this write.
        unsafe { cell.set_stage(Stage::Finished(output)) };
        // Leave the owned list *before* announcing completion, so that whoever
        // awaits the JoinHandle sees the task gone from the runtime's counts.
        // We still hold the running reference, so the list's goes with ours.
        let refs = if cell.scheduler.release(task) { 2 } else { 1 };
        let prev = cell.header.state.transition_to_complete();
        if !prev.is_join_interested() {
            // Nobody will read the output: drop it here (user code).
            // SAFETY: without JOIN_INTEREST nobody else touches the stage.
            drop_quietly(unsafe { cell.take_stage() });
        } else if prev.is_join_waker_set() {
            // SAFETY: complete with JOIN_WAKER set: the slot is ours to read.
            unsafe { cell.wake_join() };
            let after = cell.header.state.unset_join_waker_after_complete();
            if !after.is_join_interested() {
                // The JoinHandle was dropped while we were waking: its waker is
                // ours to drop.
                // SAFETY: JOIN_WAKER is now clear and the handle is gone.
                unsafe { cell.set_join_waker(None) };
            }
        }
        refs
    };
    // No reference into the cell is alive any more: ours may be the last.
    if task.header().state.ref_dec_by(refs) {
        // SAFETY: those were the last references.
        unsafe { dealloc::<F, S>(task) }
    }
}
// ANCHOR_END: complete

/// Hands a `Notified` to the task's scheduler.
///
/// # Safety
/// `task` is a `Cell<F, S>`; the caller hands over a `Notified` reference and
/// holds another one across the call: the scheduler may give the task to a
/// thread that runs it to completion while `schedule` still runs on the `&S`
/// that lives in the cell.
pub(super) unsafe fn schedule<F: Future, S: Schedule>(task: RawTask) {
    // SAFETY: kept alive by the caller's other reference.
    let cell = unsafe { task.cell::<F, S>() };
    // SAFETY: the caller hands the reference over.
    cell.scheduler.schedule(unsafe { Notified::from_raw(task) });
}

/// Frees the cell, dropping whatever it still holds.
///
/// # Safety
/// The reference count reached zero: nobody else can reach the task, and
/// `task` is the pointer `Box::into_raw` returned for a `Cell<F, S>`.
pub(super) unsafe fn dealloc<F: Future, S>(task: RawTask) {
    // SAFETY: see the contract.
    let cell = unsafe { Box::from_raw(task.cell_ptr::<F, S>()) };
    // A task freed without having run (every reference dropped) still holds
    // its future: user code.
    drop_quietly(cell);
}

/// Cancels the task at runtime shutdown, consuming one reference.
///
/// # Safety
/// `task` is a live `Cell<F, S>` and the caller hands over a reference.
pub(super) unsafe fn shutdown<F: Future, S: Schedule>(task: RawTask) {
    if task.header().state.transition_to_shutdown() {
        let _current = id::enter(task.id());
        // We took RUNNING: the caller's reference serves as the running
        // reference, which completion releases.
        // SAFETY: see above.
        unsafe { cancel_and_complete::<F, S>(task) }
    } else {
        // Running elsewhere (it will see CANCELLED) or already complete.
        // SAFETY: the caller's reference, given up.
        unsafe { task.drop_reference() }
    }
}

/// The `JoinHandle`'s poll: moves the output into `dst` if the task is
/// complete, otherwise registers `waker`.
///
/// # Safety
/// `task` is a live `Cell<F, S>`, the caller is its `JoinHandle`, and `dst`
/// points at a `Poll<Result<F::Output, JoinError>>`.
pub(super) unsafe fn try_read_output<F: Future, S>(task: RawTask, dst: *mut (), waker: &Waker) {
    // SAFETY: live: the JoinHandle holds a reference.
    let cell = unsafe { task.cell::<F, S>() };
    let dst = dst as *mut Poll<Result<F::Output, JoinError>>;
    if can_read_output(cell, waker) {
        // SAFETY: complete and JOIN_INTEREST is ours: we own the stage now.
        match unsafe { cell.take_stage() } {
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
        // SAFETY: JOIN_WAKER set and not complete: nobody writes the slot.
        if unsafe { cell.join_waker_will_wake(waker) } {
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

fn set_join_waker<F: Future, S>(cell: &Cell<F, S>, waker: &Waker) -> Result<(), Snapshot> {
    // SAFETY: JOIN_WAKER is clear and we are the JoinHandle: the slot is ours.
    unsafe { cell.set_join_waker(Some(waker.clone())) };
    let result = cell.header.state.set_join_waker();
    if result.is_err() {
        // SAFETY: completion raced us; JOIN_WAKER stayed clear, so still ours.
        unsafe { cell.set_join_waker(None) };
    }
    result
}

/// Drops the `JoinHandle`: gives up the output (dropping it here if the task
/// is complete) and the handle's reference.
///
/// # Safety
/// `task` is a live `Cell<F, S>`; the caller is its `JoinHandle` and hands
/// over the handle's reference.
pub(super) unsafe fn drop_join_handle<F: Future, S>(task: RawTask) {
    {
        // SAFETY: live while we hold our reference; not used past this block.
        let cell = unsafe { task.cell::<F, S>() };
        let prev = cell.header.state.unset_join_interest();
        if prev.is_complete() {
            // The output is ours to drop (user code: must not unwind out of
            // JoinHandle::drop, possibly into a worker).
            // SAFETY: complete, and we held JOIN_INTEREST: exclusive access.
            drop_quietly(unsafe { cell.take_stage() });
            if !prev.is_join_waker_set() {
                // SAFETY: the runner has finished with the slot (it clears
                // JOIN_WAKER when done), so it is ours.
                unsafe { cell.set_join_waker(None) };
            }
        } else if prev.is_join_waker_set() {
            // SAFETY: we cleared JOIN_WAKER before completion: the slot is ours.
            unsafe { cell.set_join_waker(None) };
        }
    }
    // SAFETY: the handle's reference, given up.
    unsafe { task.drop_reference() }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::raw::{new_task, Notified, RawTask, Schedule};
    use super::super::test_util::Collect;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};

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

    /// A detached task (no JoinHandle, no owned-list reference) whose runner
    /// holds the last reference: completion frees the cell. Under miri this
    /// failed (Stacked and Tree Borrows) while the function freeing the cell
    /// still had a `&Cell` argument.
    #[test]
    fn detached_task_freed_by_its_runner() {
        let (task, notified, join) = new_task(async { 7 }, Collect::default(), 7);
        drop(task);
        drop(join);
        notified.run();
    }

    /// As above, on the cancellation path: shutdown of a detached, never-run
    /// task drops the future and frees the cell in one call.
    #[test]
    fn detached_task_freed_by_shutdown() {
        let (task, notified, join) = new_task(async { 7 }, Collect::default(), 8);
        drop(join);
        drop(notified);
        task.shutdown();
    }

    /// A scheduler that runs a task the moment it is handed one, then looks
    /// at itself: the task may be complete and freed by then, so the harness
    /// must keep the cell (where this scheduler lives) alive across the call.
    #[derive(Clone)]
    struct RunInline(Arc<AtomicUsize>);

    impl Schedule for RunInline {
        fn schedule(&self, task: Notified) {
            task.run();
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn release(&self, _task: RawTask) -> bool {
            false
        }
    }

    /// Pending on the first poll (waking itself, by value if `by_val`), ready
    /// on the second.
    fn wake_once(by_val: bool) -> impl Future<Output = ()> + Send {
        let mut first = true;
        std::future::poll_fn(move |cx| {
            if !first {
                return Poll::Ready(());
            }
            first = false;
            if by_val {
                #[allow(clippy::waker_clone_wake)] // the by-value path is the point
                cx.waker().clone().wake();
            } else {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
    }

    /// The yield path: woken during its poll, the task is handed to the
    /// scheduler by its runner, which runs it to completion inline.
    #[test]
    fn scheduler_outlives_a_yield_that_completes_the_task() {
        let count = Arc::new(AtomicUsize::new(0));
        let (task, notified, join) = new_task(wake_once(false), RunInline(count.clone()), 9);
        drop(task);
        drop(join);
        notified.run();
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    /// The by-value wake path: a waker woken from outside, whose reference is
    /// the only one left besides the one it creates for the scheduler.
    #[test]
    fn scheduler_outlives_a_wake_that_completes_the_task() {
        let count = Arc::new(AtomicUsize::new(0));
        let stash: Arc<Mutex<Option<Waker>>> = Default::default();
        let s2 = stash.clone();
        let mut first = true;
        let fut = std::future::poll_fn(move |cx| {
            if first {
                first = false;
                *s2.lock().unwrap() = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        });
        let (task, notified, join) = new_task(fut, RunInline(count.clone()), 10);
        drop(task);
        drop(join);
        notified.run();
        let waker = stash.lock().unwrap().take().unwrap();
        waker.wake();
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    /// Records, when dropped, whether the thread was panicking.
    struct PanickingProbe(Arc<Mutex<Option<bool>>>);

    impl Drop for PanickingProbe {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = Some(std::thread::panicking());
        }
    }

    /// A panicking task's future is dropped while the panic unwinds, so its
    /// destructors can tell failure from success (issue 10, item 5).
    #[test]
    fn panicking_future_is_dropped_during_unwinding() {
        // Not an async block: a panicking generator drops its own locals
        // while it unwinds; this is about what the harness drops.
        struct PanicOnPoll(#[allow(dead_code)] PanickingProbe);
        impl Future for PanicOnPoll {
            type Output = ();
            fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
                panic!("boom")
            }
        }
        let seen: Arc<Mutex<Option<bool>>> = Default::default();
        let (task, notified, mut join) = new_task(
            PanicOnPoll(PanickingProbe(seen.clone())),
            Collect::default(),
            11,
        );
        drop(task);
        notified.run();
        assert_eq!(*seen.lock().unwrap(), Some(true), "dropped after unwinding");
        match noop_cx(|cx| Pin::new(&mut join).poll(cx)) {
            Poll::Ready(Err(e)) => assert!(e.is_panic()),
            _ => panic!("expected a panic error"),
        }
    }

    /// A future whose poll panics and whose destructor, run while that panic
    /// unwinds, panics too: the process lives on and the first panic is the
    /// task's result.
    #[test]
    fn destructor_panicking_during_unwinding_is_caught() {
        struct PanicTwice;
        impl Drop for PanicTwice {
            fn drop(&mut self) {
                panic!("in drop");
            }
        }
        impl Future for PanicTwice {
            type Output = ();
            fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
                panic!("in poll")
            }
        }
        let (task, notified, mut join) = new_task(PanicTwice, Collect::default(), 16);
        drop(task);
        notified.run();
        match noop_cx(|cx| Pin::new(&mut join).poll(cx)) {
            Poll::Ready(Err(e)) => assert_eq!(e.to_string(), "task panicked: in poll"),
            _ => panic!("expected the poll's panic"),
        }
    }

    /// The counterpart: a future that completes, or is cancelled, is dropped
    /// on the success path.
    #[test]
    fn completed_and_cancelled_futures_are_dropped_normally() {
        let seen: Arc<Mutex<Option<bool>>> = Default::default();
        let probe = PanickingProbe(seen.clone());
        let (task, notified, join) = new_task(
            async move {
                let _probe = probe;
            },
            Collect::default(),
            12,
        );
        drop(task);
        notified.run();
        assert_eq!(*seen.lock().unwrap(), Some(false));
        drop(join);

        let seen: Arc<Mutex<Option<bool>>> = Default::default();
        let probe = PanickingProbe(seen.clone());
        let sched = Collect::default();
        let (task, notified, join) = new_task(
            async move {
                let _probe = probe;
                std::future::pending::<()>().await
            },
            sched.clone(),
            13,
        );
        drop(task);
        notified.run();
        join.abort();
        sched.pop().unwrap().run();
        assert_eq!(*seen.lock().unwrap(), Some(false));
    }

    /// An output whose destructor panics, with a panic payload whose
    /// destructor panics too.
    struct NastyOutput(Arc<AtomicBool>);

    struct NastyPayload;

    impl Drop for NastyPayload {
        fn drop(&mut self) {
            panic!("payload destructor");
        }
    }

    impl Drop for NastyOutput {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
            std::panic::panic_any(NastyPayload);
        }
    }

    /// No panic of an output's destructor escapes the harness: neither when
    /// nobody joins (dropped at completion) nor when the JoinHandle is
    /// dropped after completion (issue 10, item 12).
    #[test]
    fn panicking_output_destructor_does_not_escape() {
        let dropped = Arc::new(AtomicBool::new(false));
        let out = NastyOutput(dropped.clone());
        let (task, notified, join) = new_task(async move { out }, Collect::default(), 14);
        drop(task);
        drop(join);
        notified.run();
        assert!(dropped.load(Ordering::SeqCst));

        let dropped = Arc::new(AtomicBool::new(false));
        let out = NastyOutput(dropped.clone());
        let (task, notified, join) = new_task(async move { out }, Collect::default(), 15);
        drop(task);
        notified.run();
        assert!(!dropped.load(Ordering::SeqCst));
        drop(join);
        assert!(dropped.load(Ordering::SeqCst));
    }

    /// The same on a real runtime, both flavours: a detached task's output
    /// (dropped by the worker at completion) and a finished task's output
    /// dropped with its JoinHandle; the runtime keeps running tasks after.
    #[test]
    fn panicking_output_destructor_spares_the_workers() {
        let mut current = crate::Builder::new_current_thread();
        let mut multi = crate::Builder::new();
        multi.worker_threads(2);
        for builder in [&mut current, &mut multi] {
            let rt = builder.build().unwrap();
            rt.block_on(async {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                let detached = Arc::new(AtomicBool::new(false));
                let out = NastyOutput(detached.clone());
                drop(crate::spawn(async move { out }));
                while !detached.load(Ordering::SeqCst) {
                    assert!(std::time::Instant::now() < deadline, "output never dropped");
                    crate::task::yield_now().await;
                }
                let joined = Arc::new(AtomicBool::new(false));
                let out = NastyOutput(joined.clone());
                let handle = crate::spawn(async move { out });
                while !handle.is_finished() {
                    assert!(std::time::Instant::now() < deadline, "task never finished");
                    crate::task::yield_now().await;
                }
                drop(handle);
                assert!(joined.load(Ordering::SeqCst));
                for i in 0..8 {
                    assert_eq!(crate::spawn(async move { i }).await.unwrap(), i);
                }
            });
        }
    }
}
