//! # global_queue: the simplest multithreaded executor
//!
//! What it teaches (the book's page "A pool with one global queue"):
//!
//! * an executor is a queue of tasks and threads that pop a task and poll
//!   it; here the queue is one `Mutex<VecDeque<Arc<Task>>>` shared by all
//!   threads, with a `Condvar` for idle threads to sleep on;
//! * a task is an `Arc` that owns its future; its waker is the same `Arc`
//!   (through `std::task::Wake`), and waking it means pushing it back onto
//!   the queue;
//! * a `scheduled` flag makes ten wakes of a waiting task one queue entry,
//!   and a wake that arrives *while* the task is being polled is not lost:
//!   it re-queues the task, which runs again after the current poll;
//! * why it is slow: every spawn, every wake and every pop takes the same
//!   lock, and a woken task runs on whichever thread pops it first.
//!
//! ```text
//! cargo run --release --example global_queue -- --self-test   # checks, exit 0
//! cargo run --release --example global_queue -- --bench       # vs our runtime
//! cargo run --release --example global_queue -- --bench --threads 2
//! ```

// Every `unsafe` block says why it is sound (there are none).
#![deny(clippy::undocumented_unsafe_blocks)]

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

// ANCHOR: task
/// One spawned future. The `Arc<Task>` is at the same time the queue entry,
/// the waker and the owner of the future.
struct Task {
    /// `None` once the future has completed. The mutex is only ever taken
    /// by the worker that polls the task (see `run`).
    future: Mutex<Option<BoxFuture>>,
    /// True while the task sits in the queue (or is about to): a second
    /// wake then has nothing to do.
    scheduled: AtomicBool,
    /// Where to push the task when it is woken.
    shared: Arc<Shared>,
}
// ANCHOR_END: task

// ANCHOR: shared
/// What all worker threads share: one queue, one lock, one condvar.
struct Shared {
    queue: Mutex<Queue>,
    /// Idle workers wait here for `queue.tasks` to become non-empty.
    available: Condvar,
}

struct Queue {
    tasks: VecDeque<Arc<Task>>,
    shutting_down: bool,
}

impl Shared {
    /// Appends a task and wakes one idle worker for it.
    fn push(&self, task: Arc<Task>) {
        let mut q = self.queue.lock().unwrap();
        q.tasks.push_back(task);
        drop(q);
        self.available.notify_one();
    }
}
// ANCHOR_END: shared

// ANCHOR: wake
impl Wake for Task {
    fn wake(self: Arc<Self>) {
        // Only the wake that flips `scheduled` from false to true queues
        // the task; later wakes see it already queued.
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            self.shared.push(self.clone());
        }
    }
}
// ANCHOR_END: wake

// ANCHOR: run
impl Task {
    /// Polls the task once. Called by a worker that popped it.
    fn run(self: Arc<Self>) {
        // Clear the flag *before* polling: a wake that arrives during the
        // poll (from this thread or any other) must queue the task again,
        // or it would be lost once the poll returns Pending.
        self.scheduled.store(false, Ordering::Release);
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        // If that wake-during-poll queued the task and another worker
        // popped it already, that worker waits here until this poll ends:
        // never two polls of one future at once.
        let mut slot = self.future.lock().unwrap();
        if let Some(future) = slot.as_mut() {
            if future.as_mut().poll(&mut cx).is_ready() {
                // Drop the finished future now, not when the last waker
                // clone goes away.
                *slot = None;
            }
        }
    }
}
// ANCHOR_END: run

// ANCHOR: pool
/// N worker threads around one shared queue.
struct Pool {
    shared: Arc<Shared>,
    workers: Vec<thread::JoinHandle<()>>,
}

impl Pool {
    fn new(threads: usize) -> Pool {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                tasks: VecDeque::new(),
                shutting_down: false,
            }),
            available: Condvar::new(),
        });
        let workers = (0..threads)
            .map(|_| {
                let shared = shared.clone();
                thread::spawn(move || worker_loop(&shared))
            })
            .collect();
        Pool { shared, workers }
    }

    fn spawner(&self) -> Spawner {
        Spawner {
            shared: self.shared.clone(),
        }
    }
}

// ANCHOR_END: pool

// ANCHOR: spawner
/// A cheap handle that spawns onto the pool, usable from inside tasks.
#[derive(Clone)]
struct Spawner {
    shared: Arc<Shared>,
}

impl Spawner {
    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        let task = Arc::new(Task {
            future: Mutex::new(Some(Box::pin(future))),
            scheduled: AtomicBool::new(true),
            shared: self.shared.clone(),
        });
        self.shared.push(task);
    }
}
// ANCHOR_END: spawner

// ANCHOR: worker_loop
fn worker_loop(shared: &Shared) {
    loop {
        let task = {
            let mut q = shared.queue.lock().unwrap();
            loop {
                if let Some(task) = q.tasks.pop_front() {
                    break task;
                }
                if q.shutting_down {
                    return;
                }
                // Releases the lock while asleep; a push's notify_one wakes
                // one sleeper. Spurious wake-ups just go round the loop.
                q = shared.available.wait(q).unwrap();
            }
        }; // the lock is released here, before the task runs
        task.run();
    }
}
// ANCHOR_END: worker_loop

impl Drop for Pool {
    /// Lets the workers finish what is queued, then joins them. Tasks still
    /// waiting for a wake-up are simply dropped with the queue.
    fn drop(&mut self) {
        self.shared.queue.lock().unwrap().shutting_down = true;
        self.shared.available.notify_all();
        for w in self.workers.drain(..) {
            w.join().unwrap();
        }
    }
}

/// Returns `Pending` once, after waking itself: the task goes to the back of
/// the queue and everything queued before it runs first.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// A one-shot flag that a task can await and any thread can set.
#[derive(Default)]
struct Signal {
    state: Mutex<(bool, Option<Waker>)>,
}

impl Signal {
    fn set(&self) {
        let waker = {
            let mut s = self.state.lock().unwrap();
            s.0 = true;
            s.1.take()
        };
        // Wake outside the lock: the woken task may run on another worker
        // and lock `state` straight away.
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn wait(self: &Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        let signal = self.clone();
        std::future::poll_fn(move |cx| {
            let mut s = signal.state.lock().unwrap();
            if s.0 {
                return Poll::Ready(());
            }
            // Keep the newest waker (the task may have been polled with a
            // different one since it last waited).
            s.1 = Some(cx.waker().clone());
            Poll::Pending
        })
    }
}

/// A future whose first poll hands its waker to a thread that wakes it
/// *while the poll is still running*, then returns Pending.
struct WakeDuringPoll {
    polls: usize,
}

impl Future for WakeDuringPoll {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.polls += 1;
        if self.polls > 1 {
            return Poll::Ready(self.polls);
        }
        let waker = cx.waker().clone();
        thread::spawn(move || waker.wake()).join().unwrap();
        // The wake has happened; the task is queued again already.
        Poll::Pending
    }
}

fn self_test() {
    let pool = Pool::new(4);
    let spawner = pool.spawner();
    let deadline = Duration::from_secs(20);

    // 1. Many tiny tasks, spawned from outside.
    let (tx, rx) = mpsc::channel();
    for i in 0..1000u64 {
        let tx = tx.clone();
        spawner.spawn(async move { tx.send(i).unwrap() });
    }
    let sum: u64 = (0..1000).map(|_| rx.recv_timeout(deadline).unwrap()).sum();
    assert_eq!(sum, 999 * 1000 / 2);
    println!("1,000 tasks spawned from outside: all ran");

    // 2. Tasks that spawn tasks, and yields that interleave them.
    let (tx, rx) = mpsc::channel();
    let inner = spawner.clone();
    spawner.spawn(async move {
        for _ in 0..100 {
            let tx = tx.clone();
            inner.spawn(async move {
                for _ in 0..100 {
                    yield_now().await;
                }
                tx.send(()).unwrap();
            });
        }
    });
    for _ in 0..100 {
        rx.recv_timeout(deadline).unwrap();
    }
    println!("100 tasks x 100 yields, spawned from a task: all finished");

    // 3. Cross-thread wakes: a relay of 200 tasks, each waiting for its own
    //    signal and then setting the next one (the wake usually lands on a
    //    different worker), started by a plain OS thread.
    let signals: Vec<Arc<Signal>> = (0..=200).map(|_| Arc::new(Signal::default())).collect();
    let (tx, rx) = mpsc::channel();
    for i in 0..200 {
        let (mine, next, tx) = (signals[i].clone(), signals[i + 1].clone(), tx.clone());
        spawner.spawn(async move {
            mine.wait().await;
            // Report first, then pass the baton: the next task may run on
            // another worker before `set` even returns.
            tx.send(i).unwrap();
            next.set();
        });
    }
    let first = signals[0].clone();
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(10));
        first.set();
    });
    let order: Vec<usize> = (0..200)
        .map(|_| rx.recv_timeout(deadline).unwrap())
        .collect();
    assert_eq!(order, (0..200).collect::<Vec<_>>(), "relay out of order");
    println!("relay of 200 cross-thread wakes: in order, none lost");

    // 4. Ten wakes of one waiting task queue it once.
    let polls = Arc::new(AtomicUsize::new(0));
    let signal = Arc::new(Signal::default());
    let (tx, rx) = mpsc::channel();
    {
        let (polls, signal) = (polls.clone(), signal.clone());
        spawner.spawn(async move {
            polls.fetch_add(1, Ordering::Relaxed);
            let mut first = true;
            std::future::poll_fn(|cx| {
                if first {
                    first = false;
                    for _ in 0..10 {
                        cx.waker().wake_by_ref();
                    }
                    return Poll::Pending;
                }
                polls.fetch_add(1, Ordering::Relaxed);
                Poll::Ready(())
            })
            .await;
            signal.wait().await;
            tx.send(()).unwrap();
        });
    }
    let waited = Instant::now();
    while polls.load(Ordering::Relaxed) < 2 {
        assert!(waited.elapsed() < deadline, "the woken task never ran");
        thread::sleep(Duration::from_millis(1));
    }
    // Give any (wrong) extra queue entries time to be polled.
    thread::sleep(Duration::from_millis(20));
    assert_eq!(
        polls.load(Ordering::Relaxed),
        2,
        "ten wakes, one extra poll"
    );
    signal.set();
    rx.recv_timeout(deadline).unwrap();
    println!("ten wakes of a pending task: polled once more, not ten times");

    // 5. A wake that arrives while the task is being polled.
    let (tx, rx) = mpsc::channel();
    spawner.spawn(async move {
        let polls = WakeDuringPoll { polls: 0 }.await;
        tx.send(polls).unwrap();
    });
    assert_eq!(rx.recv_timeout(deadline).unwrap(), 2);
    println!("wake during poll: the task ran again");

    drop(pool);
    println!("global_queue: self-test passed");
}

// ANCHOR: bench_shapes
/// Spawns `n` tiny tasks from inside one task and waits until all have run.
fn spawn_many_pool(pool: &Pool, n: usize) -> Duration {
    let (tx, rx) = mpsc::channel();
    let spawner = pool.spawner();
    let start = Instant::now();
    pool.spawner().spawn(async move {
        let left = Arc::new(AtomicUsize::new(n));
        for _ in 0..n {
            let (left, tx) = (left.clone(), tx.clone());
            spawner.spawn(async move {
                if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    tx.send(()).unwrap();
                }
            });
        }
    });
    rx.recv().unwrap();
    start.elapsed()
}

/// `tasks` tasks, each yielding `yields` times, spawned from outside.
fn yield_many_pool(pool: &Pool, tasks: usize, yields: usize) -> Duration {
    let (tx, rx) = mpsc::channel();
    let spawner = pool.spawner();
    let start = Instant::now();
    for _ in 0..tasks {
        let tx = tx.clone();
        spawner.spawn(async move {
            for _ in 0..yields {
                yield_now().await;
            }
            tx.send(()).unwrap();
        });
    }
    for _ in 0..tasks {
        rx.recv().unwrap();
    }
    start.elapsed()
}
// ANCHOR_END: bench_shapes

/// The same two shapes on our runtime.
fn spawn_many_runtime(rt: &runtime::Runtime, n: usize) -> Duration {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let _outer = rt.spawn(async move {
        let left = Arc::new(AtomicUsize::new(n));
        for _ in 0..n {
            let (left, tx) = (left.clone(), tx.clone());
            let _detached = runtime::spawn(async move {
                if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    tx.send(()).unwrap();
                }
            });
        }
    });
    rx.recv().unwrap();
    start.elapsed()
}

fn yield_many_runtime(rt: &runtime::Runtime, tasks: usize, yields: usize) -> Duration {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    for _ in 0..tasks {
        let tx = tx.clone();
        let _detached = rt.spawn(async move {
            for _ in 0..yields {
                runtime::task::yield_now().await;
            }
            tx.send(()).unwrap();
        });
    }
    for _ in 0..tasks {
        rx.recv().unwrap();
    }
    start.elapsed()
}

/// Median of `runs` measurements, after one warm-up run.
fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..runs).map(|_| f()).collect();
    times.sort();
    times[runs / 2]
}

fn bench(threads: usize, runs: usize) {
    const SPAWN: usize = 100_000;
    const TASKS: usize = 200;
    const YIELDS: usize = 1_000;
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    println!("global_queue --bench: {threads} worker threads, {cores} CPUs, median of {runs} runs");

    let pool = Pool::new(threads);
    let pool_spawn = median(runs, || spawn_many_pool(&pool, SPAWN));
    let pool_yield = median(runs, || yield_many_pool(&pool, TASKS, YIELDS));
    drop(pool);

    let rt = runtime::Builder::new()
        .worker_threads(threads)
        .build()
        .expect("runtime");
    let rt_spawn = median(runs, || spawn_many_runtime(&rt, SPAWN));
    let rt_yield = median(runs, || yield_many_runtime(&rt, TASKS, YIELDS));
    drop(rt);

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!();
    println!("| shape | global queue | runtime | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| spawn + join {SPAWN} tiny tasks | {:.1} ms | {:.1} ms | {:.1}x |",
        ms(pool_spawn),
        ms(rt_spawn),
        ms(pool_spawn) / ms(rt_spawn)
    );
    println!(
        "| {TASKS} tasks x {YIELDS} yields | {:.1} ms | {:.1} ms | {:.1}x |",
        ms(pool_yield),
        ms(rt_yield),
        ms(pool_yield) / ms(rt_yield)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse().expect("--threads N"))
        .unwrap_or(4);
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse().expect("--runs N"))
        .unwrap_or(5);
    match args.first().map(String::as_str) {
        Some("--self-test") => self_test(),
        Some("--bench") => bench(threads, runs),
        _ => {
            eprintln!("usage: global_queue --self-test | --bench [--threads N] [--runs N]");
            std::process::exit(2);
        }
    }
}
