//! The blocking pool: threads for closures that block (file I/O, DNS, CPU-heavy
//! work), so they never stall a worker.
//!
//! Threads are started on demand up to `max_threads` and exit after
//! `keep_alive` without work. A blocking closure is wrapped in a task like any
//! other (one allocation, a real `JoinHandle` with `abort`) whose scheduler is
//! this pool's queue; it is polled exactly once, since the closure runs to
//! completion inside that poll.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::Handle;
use crate::context;
use crate::primitives::{lock, Arc, Condvar, Mutex};
use crate::task::raw::{new_task, Notified, RawTask, Schedule};
use crate::JoinHandle;

use super::threads::ThreadConfig;

pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    condvar: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    threads: ThreadConfig,
}

struct State {
    queue: VecDeque<Job>,
    threads: usize,
    /// Threads waiting for work that nobody has claimed yet.
    idle: usize,
    /// Wake-ups sent to idle threads that they have not consumed yet.
    notified: usize,
    shutdown: bool,
}

/// Work for a pool thread.
enum Job {
    /// A `spawn_blocking` closure, wrapped in a task.
    Task(Notified),
    /// One of the runtime's own closures (the name lookups of `net`), which
    /// reports its result itself: no task, so no task code is compiled for
    /// it. Dropped unrun if the pool shuts down first.
    Call(Box<dyn FnOnce() + Send>),
}

impl Job {
    fn run(self) {
        match self {
            Job::Task(task) => task.run(),
            Job::Call(f) => f(),
        }
    }

    /// The pool will not run it: fail a task's `JoinHandle`, drop a call.
    fn cancel(self) {
        match self {
            Job::Task(task) => task.shutdown(),
            Job::Call(f) => drop(f),
        }
    }
}

#[derive(Clone)]
struct BlockingSchedule(Arc<Inner>);

impl Schedule for BlockingSchedule {
    fn schedule(&self, task: Notified) {
        // Only reached through `abort` of a task that is neither queued nor
        // running, which cannot happen for a blocking task; queue it anyway so
        // the cancellation is carried out.
        let mut state = lock(&self.0.state);
        state.queue.push_back(Job::Task(task));
        drop(state);
        self.0.condvar.notify_one();
    }

    fn release(&self, _task: RawTask) -> bool {
        false
    }
}

/// Runs the closure when polled.
struct BlockingTask<F>(Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self.0.take().expect("blocking task polled twice");
        // A blocking closure may do anything for as long as it likes; the
        // cooperative budget is for async tasks.
        crate::coop::unconstrained();
        Poll::Ready(f())
    }
}

impl BlockingPool {
    pub(crate) fn new(
        max_threads: usize,
        keep_alive: Duration,
        threads: ThreadConfig,
    ) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    notified: 0,
                    shutdown: false,
                }),
                condvar: Condvar::new(),
                max_threads,
                keep_alive,
                threads,
            }),
        }
    }

    pub(crate) fn spawn<F, R>(&self, handle: &Handle, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let id = super::next_task_id();
        let (task, notified, join) = new_task(
            BlockingTask(Some(f)),
            BlockingSchedule(self.inner.clone()),
            id,
        );
        // Blocking tasks are in no owned list: shutdown cancels the queued ones
        // from the queue and lets running ones finish.
        drop(task);
        self.submit(handle, Job::Task(notified));
        join
    }

    /// Runs `f` on a pool thread, like `spawn` but without a task: `f` must
    /// report its own result, and is dropped unrun if the pool shuts down
    /// before a thread takes it.
    #[cfg(feature = "net")]
    pub(crate) fn spawn_call(&self, handle: &Handle, f: Box<dyn FnOnce() + Send>) {
        self.submit(handle, Job::Call(f));
    }

    /// Queues a blocking task and finds it a thread: the part of
    /// [`spawn`](Self::spawn) that does not depend on the closure's type, so
    /// it is compiled once rather than for every `spawn_blocking` call site.
    fn submit(&self, handle: &Handle, job: Job) {
        let mut state = lock(&self.inner.state);
        if state.shutdown {
            drop(state);
            job.cancel();
            return;
        }
        state.queue.push_back(job);
        if state.idle > 0 {
            state.idle -= 1;
            state.notified += 1;
            drop(state);
            self.inner.condvar.notify_one();
        } else if state.threads < self.inner.max_threads {
            state.threads += 1;
            drop(state);
            if let Err(e) = self.start_thread(handle.clone()) {
                // The task stays queued for an existing thread, if any.
                let mut state = lock(&self.inner.state);
                state.threads -= 1;
                if state.threads == 0 {
                    // Nobody will ever run it: fail it rather than hang.
                    let jobs: Vec<Job> = state.queue.drain(..).collect();
                    drop(state);
                    jobs.into_iter().for_each(Job::cancel);
                }
                eprintln!("runtime: could not start a blocking-pool thread: {e}");
            }
        }
    }

    fn start_thread(&self, handle: Handle) -> io::Result<()> {
        let inner = self.inner.clone();
        self.inner.threads.spawn(true, move || {
            let _guard = context::enter_handle(handle);
            run_thread(&inner);
        })?;
        Ok(())
    }

    /// Stops accepting work, cancels queued closures and lets idle threads
    /// exit. Closures already running are not waited for.
    pub(crate) fn shutdown(&self) {
        let jobs: Vec<Job> = {
            let mut state = lock(&self.inner.state);
            state.shutdown = true;
            state.queue.drain(..).collect()
        };
        self.inner.condvar.notify_all();
        jobs.into_iter().for_each(Job::cancel);
    }

    pub(crate) fn num_threads(&self) -> usize {
        lock(&self.inner.state).threads
    }

    pub(crate) fn queue_depth(&self) -> usize {
        lock(&self.inner.state).queue.len()
    }

    /// No closure queued or running (the paused clock's auto-advance).
    #[cfg(feature = "test-util")]
    pub(crate) fn is_idle(&self) -> bool {
        let state = lock(&self.inner.state);
        state.queue.is_empty() && state.threads == state.idle
    }
}

fn run_thread(inner: &Inner) {
    let mut state = lock(&inner.state);
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            job.run();
            state = lock(&inner.state);
            continue;
        }
        if state.shutdown {
            break;
        }
        state.idle += 1;
        let (s, timeout) = wait_timeout(&inner.condvar, state, inner.keep_alive);
        state = s;
        if state.notified > 0 {
            // A spawner claimed us (and already took us off `idle`).
            state.notified -= 1;
        } else {
            state.idle -= 1;
            if timeout && state.queue.is_empty() && !state.shutdown {
                break;
            }
        }
    }
    state.threads -= 1;
}

#[cfg(not(loom))]
fn wait_timeout<'a, T>(
    c: &Condvar,
    g: crate::primitives::MutexGuard<'a, T>,
    d: Duration,
) -> (crate::primitives::MutexGuard<'a, T>, bool) {
    c.wait_timeout(g, d)
}

#[cfg(loom)]
fn wait_timeout<'a, T>(
    c: &Condvar,
    g: loom::sync::MutexGuard<'a, T>,
    _d: Duration,
) -> (loom::sync::MutexGuard<'a, T>, bool) {
    (c.wait(g).unwrap(), false)
}
