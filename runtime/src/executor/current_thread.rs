//! `block_on` for the current-thread flavour: the calling thread takes the
//! runtime's only core and runs the worker loop itself, interleaved with its
//! future. A second thread calling `block_on` meanwhile waits for its own
//! future or for the core, whichever comes first.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use super::block_on::ThreadWaker;
use super::park::Unparker;
use super::worker::{self, WorkerContext};
use super::Shared;
use crate::context;
use crate::coop;
use crate::primitives::lock;

/// Wakes the current-thread `block_on` future: sets a flag and unparks the
/// (only) worker, which is this thread, wherever it sleeps.
struct MainWaker {
    woken: std::sync::atomic::AtomicBool,
    unparker: Unparker,
}

impl Wake for MainWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.store(true, std::sync::atomic::Ordering::SeqCst);
        self.unparker.unpark();
    }
}

/// Puts the core back for the next `block_on` when dropped (also on unwind).
struct CoreReturn<'a> {
    shared: &'a Arc<Shared>,
    cx: &'a WorkerContext,
}

impl Drop for CoreReturn<'_> {
    fn drop(&mut self) {
        if let Some(core) = self.cx.core.borrow_mut().take() {
            lock(&self.shared.cores).push(core);
        }
        for w in lock(&self.shared.core_waiters).drain(..) {
            w.wake();
        }
    }
}

/// Takes this thread's entry off the list of threads waiting for the core.
fn remove_waiter(shared: &Shared, waker: &Waker) {
    lock(&shared.core_waiters).retain(|w| !w.will_wake(waker));
}

/// `block_on` for the current-thread flavour: this thread is the worker; it
/// alternates between the future and the run queue, and sleeps in the reactor.
pub(super) fn block_on_current_thread<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    let mut future = pin!(future);
    // Created on the first wait for the core, and registered at most once at a
    // time: the list is drained (and every entry woken) when the core comes
    // back, so a thread re-registers only after that, never per wake-up of
    // its own future.
    let mut waiting: Option<(Arc<ThreadWaker>, Waker)> = None;
    loop {
        let core = lock(&shared.cores).pop();
        let Some(core) = core else {
            // Another thread is running this runtime's `block_on`: wait for our
            // future or for the core, whichever comes first.
            let (parker, waker) = waiting.get_or_insert_with(|| {
                let parker = ThreadWaker::new(
                    #[cfg(feature = "test-util")]
                    None,
                );
                let waker = Waker::from(parker.clone());
                (parker, waker)
            });
            {
                let mut waiters = lock(&shared.core_waiters);
                if !waiters.iter().any(|w| w.will_wake(waker)) {
                    waiters.push(waker.clone());
                }
            }
            if lock(&shared.cores).is_empty() {
                coop::reset_budget();
                if let Poll::Ready(out) = future.as_mut().poll(&mut Context::from_waker(waker)) {
                    remove_waiter(shared, waker);
                    return out;
                }
                parker.wait();
            }
            continue;
        };
        if let Some((_, waker)) = waiting.take() {
            remove_waiter(shared, &waker);
        }
        let main = std::sync::Arc::new(MainWaker {
            woken: std::sync::atomic::AtomicBool::new(true),
            unparker: shared.remotes[0].unparker.clone(),
        });
        let waker = Waker::from(main.clone());
        let cx = WorkerContext::new(shared.clone(), Some(core));
        let _worker = context::enter_worker(&cx);
        let _return = CoreReturn { shared, cx: &cx };
        let is_woken = || main.woken.load(std::sync::atomic::Ordering::SeqCst);
        loop {
            if main.woken.swap(false, std::sync::atomic::Ordering::SeqCst) {
                coop::reset_budget();
                if let Poll::Ready(out) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
                    return out;
                }
            }
            let mut core = match cx.core.borrow_mut().take() {
                Some(core) => core,
                None => unreachable!("current-thread core missing"),
            };
            let mut worked = true;
            for _ in 0..worker::EVENT_INTERVAL {
                let (c, w) = cx.step(core);
                core = match c {
                    Some(core) => core,
                    // `block_in_place` refuses to run on a current-thread runtime.
                    None => unreachable!("current-thread core given away"),
                };
                worked = w;
                if !worked || is_woken() {
                    break;
                }
            }
            if !worked && !is_woken() {
                core = cx.park(core, &is_woken);
            }
            *cx.core.borrow_mut() = Some(core);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::mpsc;
    use std::task::{Context, Poll};

    use crate::primitives::lock;
    use crate::Builder;

    /// Wakes itself and returns `Pending` `n` times, then completes.
    struct YieldTimes(usize);

    impl Future for YieldTimes {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 == 0 {
                return Poll::Ready(());
            }
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[test]
    fn a_thread_waiting_for_the_core_keeps_one_waiter_entry() {
        let rt = Builder::new_current_thread().build().unwrap();
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        std::thread::scope(|s| {
            // Holds the core until released.
            let holder = s.spawn(|| {
                rt.block_on(async move {
                    started_tx.send(()).unwrap();
                    crate::spawn_blocking(move || release_rx.recv())
                        .await
                        .unwrap()
                        .unwrap();
                })
            });
            started_rx.recv().unwrap();
            // Every wake of this future used to push one more waker.
            rt.block_on(YieldTimes(10_000));
            let entries = lock(&rt.handle().shared.core_waiters).len();
            release_tx.send(()).unwrap();
            holder.join().unwrap();
            assert!(entries <= 1, "{entries} waiter entries for one thread");
        });
    }
}
