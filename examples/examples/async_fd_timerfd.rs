//! # async_fd_timerfd: any file descriptor on the reactor
//!
//! What it teaches: `runtime::io::AsyncFd` —
//!
//! * a descriptor the runtime knows nothing about (here a Linux `timerfd`,
//!   made with `libc`) is registered with `AsyncFd::with_interest`, for
//!   reading only (a timerfd is never writable; `AsyncFd::new` registers
//!   both directions);
//! * `readable().await` returns a guard; `guard.try_io(..)` runs the system
//!   call and, if it says `WouldBlock`, forgets the readiness so the next
//!   `readable()` sleeps until epoll reports a new edge;
//! * the same path serves every socket type of the crate: `TcpStream` and
//!   `UdpSocket` are `AsyncFd`s around `std` sockets.
//!
//! ```text
//! cargo run --example async_fd_timerfd                  # tick every 500 ms, 5 times
//! cargo run --example async_fd_timerfd -- --self-test   # 5 ticks of 10 ms, checked
//! ```

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use runtime::io::{AsyncFd, Interest};

/// A periodic, non-blocking timerfd on the monotonic clock.
fn timerfd(period: Duration) -> io::Result<OwnedFd> {
    // SAFETY: no pointers; valid flags.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let ts = libc::timespec {
        tv_sec: period.as_secs() as libc::time_t,
        tv_nsec: period.subsec_nanos() as libc::c_long,
    };
    let spec = libc::itimerspec {
        it_interval: ts,
        it_value: ts,
    };
    // SAFETY: `spec` is a valid itimerspec; the old value is not wanted.
    let r = unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// Reads the expiration count: `WouldBlock` if the timer has not fired since
/// the last read.
fn read_expirations(fd: &OwnedFd) -> io::Result<u64> {
    let mut count = 0u64;
    // SAFETY: reads 8 bytes into a live u64.
    let n = unsafe { libc::read(fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(count)
}

// ANCHOR: tick
/// Waits for the next expiration(s) of the timer; returns how many.
async fn tick(timer: &AsyncFd<OwnedFd>) -> io::Result<u64> {
    loop {
        let mut guard = timer.readable().await?;
        match guard.try_io(|fd| read_expirations(fd.get_ref())) {
            Ok(result) => return result,
            // Spurious: readiness is cleared, wait for the next edge.
            Err(_would_block) => continue,
        }
    }
}
// ANCHOR_END: tick

/// Counts `ticks` expirations of a `period` timer; returns the time taken.
async fn run(period: Duration, ticks: u64, verbose: bool) -> io::Result<Duration> {
    let timer = AsyncFd::with_interest(timerfd(period)?, Interest::READABLE)?;
    let start = Instant::now();
    let mut seen = 0;
    while seen < ticks {
        seen += tick(&timer).await?;
        if verbose {
            println!("tick {seen} at {:?}", start.elapsed());
        }
    }
    Ok(start.elapsed())
}

fn main() -> io::Result<()> {
    let rt = runtime::Runtime::new()?;
    if std::env::args().nth(1).as_deref() == Some("--self-test") {
        return rt.block_on(async {
            let period = Duration::from_millis(10);
            let took = run(period, 5, false).await?;
            // The kernel never fires a timer early; being late is allowed.
            if took < period * 5 {
                return Err(io::Error::other(format!("5 ticks of 10 ms in {took:?}")));
            }
            println!("async_fd_timerfd: self-test passed");
            Ok(())
        });
    }
    rt.block_on(run(Duration::from_millis(500), 5, true))
        .map(drop)
}
