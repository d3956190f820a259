//! Loom models of the task state machine, driven through the real harness.
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p runtime --lib --release loom_`.
//!
//! They fail if the protocol is weakened: e.g. in `State::transition_to_idle`,
//! drop the `NOTIFIED` check (release the reference and go idle), and
//! `loom_wake_during_poll` finds the interleaving where the wake is lost (the
//! future is never polled again: the final assertion fails); let
//! `transition_to_notified_by_ref` schedule while `RUNNING`, and loom reports
//! concurrent access to the future's cell (a double poll).
//!
//! `loom_shutdown_races_poll_and_join_drop` fails if `transition_to_shutdown`
//! takes `RUNNING` without checking that the task is idle: loom then reports
//! the shutdown thread dropping the future while the worker polls it
//! (concurrent access to the stage cell).

use super::raw::new_task;
use super::test_util::Collect;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex as StdMutex;
use std::task::{Context, Poll, Waker};

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

/// Runtime shutdown (the owned list's reference) racing a worker's poll and
/// the JoinHandle's drop: the future is dropped exactly once, the output
/// exactly once if it was produced, and the cell is freed.
#[test]
fn loom_shutdown_races_poll_and_join_drop() {
    struct Count(std::sync::Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    loom::model(|| {
        let sched = Collect::default();
        let future_drops = std::sync::Arc::new(AtomicUsize::new(0));
        let output_drops = std::sync::Arc::new(AtomicUsize::new(0));
        let polled = std::sync::Arc::new(AtomicUsize::new(0));
        let in_future = Count(future_drops.clone());
        let (out, p) = (output_drops.clone(), polled.clone());
        let (task, notified, join) = new_task(
            async move {
                let _in_future = in_future;
                p.fetch_add(1, Ordering::SeqCst);
                Count(out)
            },
            sched.clone(),
            5,
        );
        let worker = thread::spawn(move || notified.run());
        let joiner = thread::spawn(move || drop(join));
        task.shutdown();
        worker.join().unwrap();
        joiner.join().unwrap();
        drain(&sched);
        assert_eq!(future_drops.load(Ordering::SeqCst), 1, "future drops");
        assert_eq!(
            output_drops.load(Ordering::SeqCst),
            polled.load(Ordering::SeqCst),
            "output drops"
        );
        // The cell held the last clone of the scheduler: it was freed.
        assert_eq!(std::sync::Arc::strong_count(&sched.queue), 1, "task leaked");
    });
}
