//! A small multithreaded async runtime for Linux, written from scratch on
//! `epoll`.
//!
//! An echo server, complete:
//!
//! ```no_run
//! use runtime::net::TcpListener;
//!
//! fn main() -> std::io::Result<()> {
//!     let rt = runtime::Runtime::new()?;
//!     rt.block_on(async {
//!         let listener = TcpListener::bind("127.0.0.1:7000").await?;
//!         loop {
//!             let (mut stream, _peer) = listener.accept().await?;
//!             runtime::spawn(async move {
//!                 let mut buf = vec![0; 4096];
//!                 loop {
//!                     match stream.read(&mut buf).await {
//!                         Ok(0) | Err(_) => return,
//!                         Ok(n) => {
//!                             if stream.write_all(&buf[..n]).await.is_err() {
//!                                 return;
//!                             }
//!                         }
//!                     }
//!                 }
//!             });
//!         }
//!     })
//! }
//! ```
//!
//! # What is inside
//!
//! * [`reactor`](crate#architecture): one `epoll` instance per runtime, every
//!   socket registered once, edge-triggered, with separate read and write
//!   waker slots; timers in a deadline-ordered map that sets `epoll_wait`'s
//!   timeout; an `eventfd` to wake a blocked `epoll_wait`.
//! * [`Runtime`]: worker threads with bounded lock-free local run queues, a
//!   LIFO slot, a global inject queue and work stealing; one idle worker at a
//!   time sleeps in `epoll_wait`, the others on condition variables, and
//!   whoever leaves `epoll_wait` hands the reactor to an idle worker, so a
//!   long poll never leaves timers and sockets unserved while a worker is
//!   idle. A [current-thread](Builder::new_current_thread) flavour runs
//!   everything on the `block_on` thread.
//! * Tasks are one allocation each; [`JoinHandle`] awaits the output,
//!   [`JoinHandle::abort`] cancels; a panicking task becomes a [`JoinError`]
//!   and the worker lives on.
//! * [`net`]: `TcpListener`, `TcpStream`, split halves. [`time`]: `sleep`,
//!   `timeout`, `interval`. [`signal`]: Ctrl-C and SIGTERM as futures.
//!   [`spawn_blocking`]: a growable pool for blocking work.
//!
//! # Architecture
//!
//! One diagram of the whole runtime (tasks, queues, workers, the driver, the
//! reactor, timers) lives in `ARCHITECTURE.md` at the repository root, with a
//! map of the modules; it is kept in one place so it cannot drift from copies.
//! The book in `book/` walks through every part of it.
//!
//! # Using it
//!
//! ```toml
//! [dependencies]
//! runtime = { git = "<repository URL>" }        # or { path = "../runtime" }
//! # runtime = { git = "...", features = ["futures-io"] }
//! # the lean build, for a TCP service with timeouts:
//! # runtime = { git = "...", default-features = false, features = ["net", "time"] }
//! ```
//!
//! # Feature flags
//!
//! The default, `full`, is everything a server needs. The executor (both
//! flavours, [`spawn`], [`spawn_blocking`], [`task::JoinSet`],
//! [`task::LocalSet`], [`task_local!`], [`combinator::race`], [`cancel`]) is
//! in every build; the rest is opt-in with `default-features = false`.
//!
//! | feature | what it adds |
//! |---|---|
//! | `full` (default) | `net`, `time`, `signal`, `sync` |
//! | `net` | [`net`]: TCP, UDP and Unix sockets; [`io::AsyncFd`] for any fd, [`io::Interest`], [`io::Ready`] |
//! | `time` | [`time`]: `sleep`, `timeout`, `interval`, `now`; [`combinator::Deadline`] |
//! | `signal` | [`signal`]: `ctrl_c`, any Unix signal as a stream |
//! | `sync` | [`sync`]: `oneshot` and `mpsc` channels, `Notify`, `Semaphore`, `Mutex`; only wakers, so any executor runs them |
//! | `futures-io` (implies `net`) | `futures_io::AsyncRead`/`AsyncWrite` for [`net::TcpStream`], [`net::UnixStream`] and their halves, so `futures-util` extension traits, codecs and `futures::io::copy` work on our sockets |
//! | `test-util` (implies `time`) | a clock tests can stop and move: `time::pause`, `time::resume`, `time::advance`, `Builder::start_paused` (a paused clock jumps to the next timer when every worker is idle) |
//!
//! `net` costs the most to compile; the `build_cost` benchmark compares
//! `net,time` with tokio's `rt-multi-thread,net,time,macros`.
//!
//! Without features the only dependencies are `libc`, `slab`, `futures-task`
//! (for [`futures_task::Spawn`] on [`Handle`]) and
//! `pin-project-lite`.
//!
//! # Errors
//!
//! Everything that can fail returns [`std::io::Error`]. A failed system call
//! says what was being done ("bind 127.0.0.1:80: Permission denied (os error
//! 13)") and keeps the [`kind`](std::io::Error::kind) of the original, so
//! `AddrInUse`, `WouldBlock`, ... stay matchable. The original error is kept
//! too, as the [`source`](std::error::Error::source) of the message; std's
//! `raw_os_error()` cannot see through the added words, so ask
//! [`io::raw_os_error`] for the `errno`:
//!
//! ```
//! # #[cfg(feature = "net")] {
//! let rt = runtime::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let taken = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let err = runtime::net::TcpListener::bind(taken.local_addr().unwrap())
//!         .await
//!         .unwrap_err();
//!     assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
//!     assert!(err.to_string().starts_with("bind 127.0.0.1:"));
//!     assert_eq!(runtime::io::raw_os_error(&err), Some(libc::EADDRINUSE));
//!     let cause = std::error::Error::source(&err).unwrap();
//!     assert!(cause.downcast_ref::<std::io::Error>().is_some());
//! });
//! # }
//! ```
//!
//! # Coming from tokio
//!
//! | tokio | here |
//! |---|---|
//! | `tokio::runtime::Runtime::new()`, `Builder::new_multi_thread()` | [`Runtime::new()`], [`Builder::new()`] |
//! | `Builder::new_current_thread()` | [`Builder::new_current_thread()`] |
//! | `tokio::spawn`, `task::spawn_blocking`, `task::yield_now` | [`spawn`], [`spawn_blocking`], [`task::yield_now`] |
//! | `JoinHandle`, `JoinError` | [`JoinHandle`], [`JoinError`] (same methods) |
//! | `tokio::net::{TcpListener, TcpStream}`, `split`, `into_split` | [`net::TcpListener`], [`net::TcpStream`]: `read`/`write_all` are inherent methods, no extension traits |
//! | `tokio::net::{UdpSocket, TcpSocket, UnixListener, UnixStream, UnixDatagram}` | [`net::UdpSocket`], [`net::TcpSocket`], [`net::UnixListener`], [`net::UnixStream`], [`net::UnixDatagram`] |
//! | `tokio::io::unix::AsyncFd`, `tokio::io::{Interest, Ready}` | [`io::AsyncFd`] (guards with `try_io`), [`io::Interest`], [`io::Ready`] |
//! | `AsyncFdReadyGuard::{clear_ready, clear_ready_matching}` | [`io::AsyncFdReadyGuard::clear_ready_matching`] (also on [`io::AsyncFdReadyMutGuard`]): only bits the guard saw, never closed states |
//! | `io::Error::raw_os_error()` on a runtime's error | [`io::raw_os_error`] (see [Errors](#errors)) |
//! | `task::{JoinSet, AbortHandle, Id, id, try_id}`, `JoinHandle::abort_handle` | [`task::JoinSet`], [`task::AbortHandle`], [`task::Id`], [`task::id`], [`task::try_id`], [`JoinHandle::abort_handle`] |
//! | `task::{LocalSet, spawn_local}` (`!Send` futures) | [`task::LocalSet`], [`task::spawn_local`] (handle: [`task::LocalJoinHandle`], `!Send`) |
//! | `tokio::task_local!`, `task::LocalKey::{scope, sync_scope, with, try_with, get}` | [`task_local!`], [`task::LocalKey`] (same methods; scope future [`task::TaskLocalFuture`], error [`task::AccessError`]) |
//! | `Handle::block_on` | [`Handle::block_on`] |
//! | `Runtime::shutdown_timeout`, `Runtime::shutdown_background` | [`Runtime::shutdown_timeout`], [`Runtime::shutdown_background`] |
//! | `task::block_in_place` | [`task::block_in_place`] |
//! | `Builder::{on_thread_start, on_thread_stop, thread_name, thread_name_fn}` | [`Builder::on_thread_start`], [`Builder::on_thread_stop`], [`Builder::thread_name`], [`Builder::thread_name_fn`] |
//! | (no equivalent) | [`Builder::name`]: a name for the runtime, returned by [`Handle::name`] |
//! | `futures::task::Spawn` for a handle (tokio has none) | [`futures_task::Spawn`] for [`Handle`] |
//! | `tokio::time::{sleep, sleep_until, timeout, timeout_at, interval, interval_at}` | [`time::sleep`], [`time::sleep_until`], [`time::timeout`], [`time::timeout_at`], [`time::interval`], [`time::interval_at`] |
//! | `time::MissedTickBehavior`, `Interval::{reset, reset_immediately, reset_after, reset_at}` | [`time::MissedTickBehavior`], [`time::Interval`] (same methods) |
//! | `time::{pause, resume, advance}`, `Builder::start_paused` (`test-util`) | same names, `test-util` feature; read the clock with [`time::Instant::now()`](time::Instant::now) or [`time::now()`] |
//! | `tokio::signal::ctrl_c`, `unix::signal(SignalKind::terminate())` | [`signal::ctrl_c`], [`signal::signal`]`(SignalKind::terminate())` |
//! | `unix::SignalKind::{from_raw, hangup, interrupt, user_defined1, ...}`, `Signal::recv() -> Option<()>` | [`signal::SignalKind`] (same constructors, plus `real_time(n)`), [`signal::Signal::recv`] |
//! | `tokio::select! { biased; … }` over two futures | [`combinator::race`]`(a, b)`: polls `a` first, both of one output type, nest it for more (no macros) |
//! | `tokio_util::sync::CancellationToken` | [`cancel::CancellationToken`] |
//! | `tokio::sync::{oneshot, mpsc}` | `sync::oneshot`, `sync::mpsc` (feature `sync`; same methods and errors) |
//! | `tokio::sync::{Notify, Semaphore, SemaphorePermit, OwnedSemaphorePermit}` | `sync::Notify`, `sync::Semaphore`, ... (same semantics, FIFO) |
//! | `tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard}` | `sync::Mutex`, `sync::MutexGuard`, `sync::OwnedMutexGuard` (FIFO) |
//! | a `Sleep` that is `reset` on every bit of progress | [`combinator::Deadline`] (moves with a store; re-arms its timer only when it fires) |
//! | `Handle::current()`, `handle.enter()` | [`Handle::current()`], [`Handle::enter()`] |
//! | `#[tokio::main]` | `Runtime::new()?.block_on(async { ... })` (no macros) |
//! | `runtime.metrics()` (unstable there) | [`Runtime::metrics()`] (stable, no cfg flag) |

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(rust_2018_idioms)]
// The reactor keeps its registration, timer and signal plumbing in every
// build (the driver is one piece); a build without the feature that uses a
// part of it leaves that part unused. `full` (the default, what clippy checks)
// still reports dead code.
#![cfg_attr(not(feature = "full"), allow(dead_code, unused_imports))]
#![deny(clippy::undocumented_unsafe_blocks)]

mod context;
mod coop;
mod executor;
mod metrics;
mod primitives;
mod reactor;
mod sys;

pub mod cancel;
pub mod combinator;
pub mod io;
#[cfg(feature = "net")]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub mod net;
#[cfg(feature = "signal")]
#[cfg_attr(docsrs, doc(cfg(feature = "signal")))]
pub mod signal;
#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
pub mod sync;
pub mod task;
#[cfg(feature = "time")]
#[cfg_attr(docsrs, doc(cfg(feature = "time")))]
pub mod time;

pub use executor::{Builder, EnterGuard, Handle, Runtime};
pub use metrics::RuntimeMetrics;
pub use task::{spawn, spawn_blocking, JoinError, JoinHandle};
