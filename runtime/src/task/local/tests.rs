//! Unit tests of the set's bookkeeping, driven by hand (no runtime, no
//! syscalls, so miri can run them).

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use super::{spawn_local, LocalSet};

/// Counts how often the set's driver is woken.
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn drive(local: &mut LocalSet, waker: &Waker) -> Poll<()> {
    Pin::new(local).poll(&mut Context::from_waker(waker))
}

/// A task that never finishes, counting its polls and keeping its last waker.
fn parked(polls: Rc<Cell<u32>>, waker: Rc<RefCell<Option<Waker>>>) -> impl Future<Output = ()> {
    poll_fn(move |cx| {
        polls.set(polls.get() + 1);
        *waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    })
}

#[test]
fn a_stale_wake_does_not_poll_the_task_that_reused_the_slot() {
    let mut local = LocalSet::new();
    let noop = Waker::noop();
    let stale = Rc::new(RefCell::new(None));
    let s = Rc::clone(&stale);
    let _first = local.spawn_local(poll_fn(move |cx| {
        *s.borrow_mut() = Some(cx.waker().clone());
        Poll::Ready(())
    }));
    assert!(drive(&mut local, noop).is_ready());

    let polls = Rc::new(Cell::new(0));
    let _second = local.spawn_local(parked(Rc::clone(&polls), Rc::default()));
    assert!(drive(&mut local, noop).is_pending());
    assert_eq!(polls.get(), 1);

    // The finished task's waker still points at the slot the second reuses.
    stale.borrow_mut().take().unwrap().wake();
    assert!(drive(&mut local, noop).is_pending());
    assert_eq!(polls.get(), 1, "a stale wake polled another task");
}

#[test]
fn a_wake_from_another_thread_queues_the_task_and_wakes_the_driver_once() {
    let mut local = LocalSet::new();
    let driver = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let driver_waker = Waker::from(Arc::clone(&driver));
    let polls = Rc::new(Cell::new(0));
    let task_waker = Rc::new(RefCell::new(None));
    let _h = local.spawn_local(parked(Rc::clone(&polls), Rc::clone(&task_waker)));
    assert!(drive(&mut local, &driver_waker).is_pending());
    assert_eq!(polls.get(), 1);
    assert_eq!(driver.0.load(Ordering::SeqCst), 0);

    let w: Waker = task_waker.borrow_mut().take().unwrap();
    std::thread::spawn(move || {
        // Many wakes, one queued entry, one driver wake.
        for _ in 0..5 {
            w.wake_by_ref();
        }
    })
    .join()
    .unwrap();
    // Nothing ran off the set's thread: the task waits for the driver.
    assert_eq!(polls.get(), 1);
    assert_eq!(driver.0.load(Ordering::SeqCst), 1);
    assert!(drive(&mut local, &driver_waker).is_pending());
    assert_eq!(polls.get(), 2);
}

#[test]
fn an_abort_from_another_thread_wakes_the_driver_and_cancels_on_the_set_s_thread() {
    let mut local = LocalSet::new();
    let driver = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let driver_waker = Waker::from(Arc::clone(&driver));
    let polls = Rc::new(Cell::new(0));
    let handle = local.spawn_local(parked(Rc::clone(&polls), Rc::default()));
    assert!(drive(&mut local, &driver_waker).is_pending());
    let abort = handle.abort_handle();
    let remote = abort.clone();
    std::thread::spawn(move || {
        remote.abort();
        remote.abort(); // a second request queues nothing more
    })
    .join()
    .unwrap();
    assert_eq!(
        driver.0.load(Ordering::SeqCst),
        1,
        "the idle driver is woken"
    );
    assert!(!abort.is_finished(), "cancelled only when the set runs");
    assert!(drive(&mut local, &driver_waker).is_ready());
    assert_eq!(polls.get(), 1, "an aborted task is not polled again");
    assert!(abort.is_finished() && handle.is_finished());
}

#[test]
fn a_pass_is_bounded_and_asks_to_be_polled_again() {
    let mut local = LocalSet::new();
    let driver = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let driver_waker = Waker::from(Arc::clone(&driver));
    let polls = Rc::new(Cell::new(0u32));
    let p = Rc::clone(&polls);
    // Always ready to run again: it wakes itself on every poll.
    let _h = local.spawn_local(poll_fn(move |cx| {
        p.set(p.get() + 1);
        cx.waker().wake_by_ref();
        Poll::<()>::Pending
    }));
    assert!(drive(&mut local, &driver_waker).is_pending());
    assert_eq!(polls.get() as usize, super::PASS_BUDGET);
    // It yielded with work left, so it woke its driver itself.
    assert_eq!(driver.0.load(Ordering::SeqCst), 1);
}

#[test]
fn spawn_local_reaches_the_set_being_driven_and_nests() {
    let mut local = LocalSet::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    let o = Rc::clone(&order);
    let _h = local.spawn_local(async move {
        o.borrow_mut().push("outer");
        let o2 = Rc::clone(&o);
        spawn_local(async move { o2.borrow_mut().push("inner") })
            .await
            .unwrap();
        o.borrow_mut().push("outer done");
    });
    let mut rounds = 0;
    while drive(&mut local, Waker::noop()).is_pending() {
        rounds += 1;
        assert!(rounds < 10, "the set did not finish: {:?}", order.borrow());
    }
    assert_eq!(*order.borrow(), ["outer", "inner", "outer done"]);
}

#[test]
fn dropping_the_set_cancels_and_a_destructor_may_spawn() {
    struct SpawnOnDrop(Rc<Cell<bool>>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let flag = Rc::clone(&self.0);
            // The set is being dropped: this task is dropped unpolled.
            drop(spawn_local(async move { flag.set(true) }));
        }
    }
    let local = LocalSet::new();
    let ran = Rc::new(Cell::new(false));
    let guard = SpawnOnDrop(Rc::clone(&ran));
    let mut h = local.spawn_local(async move {
        let _guard = guard;
        std::future::pending::<()>().await
    });
    drop(local);
    assert!(!ran.get());
    let out = Pin::new(&mut h).poll(&mut Context::from_waker(Waker::noop()));
    assert!(matches!(out, Poll::Ready(Err(e)) if e.is_cancelled()));
}

#[test]
fn driving_the_set_leaves_the_host_s_coop_budget_alone() {
    // A plain thread runs unconstrained; a LocalSet driven on it gives each
    // task a budget of its own, and must not leave one behind.
    let mut local = LocalSet::new();
    let _h = local.spawn_local(async {});
    assert!(drive(&mut local, Waker::noop()).is_ready());
    let mut cx = Context::from_waker(Waker::noop());
    for i in 0..2 * crate::coop::BUDGET as usize {
        assert!(
            crate::coop::poll_proceed(&mut cx).is_ready(),
            "the host ran out of budget after {i} operations"
        );
    }
}

#[test]
fn a_detached_task_s_output_may_spawn_when_dropped() {
    struct SpawnOnDrop(Rc<Cell<bool>>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let flag = Rc::clone(&self.0);
            drop(spawn_local(async move { flag.set(true) }));
        }
    }
    let mut local = LocalSet::new();
    let ran = Rc::new(Cell::new(false));
    let r = Rc::clone(&ran);
    drop(local.spawn_local(async move { SpawnOnDrop(r) }));
    let mut rounds = 0;
    while drive(&mut local, Waker::noop()).is_pending() {
        rounds += 1;
        assert!(rounds < 10, "the set did not finish");
    }
    assert!(
        ran.get(),
        "the task spawned by the output's destructor did not run"
    );
}
