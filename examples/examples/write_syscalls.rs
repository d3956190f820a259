//! # write_syscalls: what one socket write costs, system call by system call
//!
//! What it teaches (the book's "hyper on our runtime"): that the system call
//! chosen for a write matters as much as the runtime around it. It writes
//! the same bytes to a loopback TCP connection five ways and prints the CPU
//! time each write costs the writing thread:
//!
//! * `send`: one buffer, `send(MSG_NOSIGNAL)`;
//! * `write`: one buffer, `write`;
//! * `sendmsg`: two buffers (an HTTP head and body, say), `sendmsg`;
//! * `writev`: the same two buffers, `writev` (what tokio does);
//! * `gather+send`: the two buffers copied into one on the stack, then `send`
//!   (what `runtime`'s vectored writes do up to 4 KiB in all).
//!
//! for three sizes: 100 bytes (89 + 11), 2 KiB (1,024 + 1,024) and 8 KiB
//! (4,096 + 4,096). A reader thread drains the other end. The whole process
//! is pinned to one CPU, so the kernel's work for the receiving side (which
//! runs in the sender's context on loopback) and the reader share it, the
//! same for every way; the modes run in alternation, several rounds, and the
//! table shows the median of the rounds.
//!
//! ```text
//! cargo run --release --example write_syscalls              # the table
//! cargo run --release --example write_syscalls -- 31 20000   # rounds, writes per round
//! cargo run --example write_syscalls -- --self-test         # every way delivers the bytes
//! ```

// Every `unsafe` block says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

use std::io::{self, Read};
use std::mem::MaybeUninit;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::thread;

/// The ways of writing `head` then `body`, in the order of the table.
const MODES: [&str; 5] = ["send", "write", "sendmsg", "writev", "gather+send"];
/// (head, body) sizes.
const SIZES: [(usize, usize); 3] = [(89, 11), (1024, 1024), (4096, 4096)];

/// CPU time this thread has used, in nanoseconds.
fn thread_cpu_ns() -> io::Result<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64)
}

/// Pins the whole process (every thread started later) to the CPU it is
/// running on now.
fn pin_to_this_cpu() -> io::Result<usize> {
    // SAFETY: plain system call, no pointers.
    let cpu = unsafe { libc::sched_getcpu() };
    if cpu < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: all-zero is a valid (empty) cpu_set_t; CPU_SET writes a bit of it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is a CPU number the kernel just gave us, below CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu as usize, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cpu as usize)
}

// ANCHOR: write_once
/// Writes `head` then `body` once, the way `mode` says; returns the bytes
/// written (all of them: the reader keeps the socket drained, and a blocking
/// socket waits for room).
fn write_once(
    mode: &str,
    fd: RawFd,
    head: &[u8],
    body: &[u8],
    stack: &mut [MaybeUninit<u8>],
) -> isize {
    let iov = [
        libc::iovec {
            iov_base: head.as_ptr() as *mut _,
            iov_len: head.len(),
        },
        libc::iovec {
            iov_base: body.as_ptr() as *mut _,
            iov_len: body.len(),
        },
    ];
    match mode {
        // One buffer: the head and body as one slice, as a caller that
        // already had them together would write them.
        "send" | "write" => {
            let one = gather(head, body, stack);
            // SAFETY: `one` is valid for reads of its length.
            unsafe {
                if mode == "send" {
                    libc::send(fd, one.as_ptr().cast(), one.len(), libc::MSG_NOSIGNAL)
                } else {
                    libc::write(fd, one.as_ptr().cast(), one.len())
                }
            }
        }
        "sendmsg" => {
            // SAFETY: all-zero is a valid msghdr; it then points at `iov`,
            // which outlives the call.
            unsafe {
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_iov = iov.as_ptr() as *mut _;
                msg.msg_iovlen = iov.len();
                libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL)
            }
        }
        // SAFETY: `iov` describes two readable buffers and outlives the call.
        "writev" => unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as libc::c_int) },
        _ => {
            let one = gather(head, body, stack);
            // SAFETY: `one` is valid for reads of its length.
            unsafe { libc::send(fd, one.as_ptr().cast(), one.len(), libc::MSG_NOSIGNAL) }
        }
    }
}
// ANCHOR_END: write_once

/// `head` and `body` copied end to end into `stack` (no zeroing first).
fn gather<'a>(head: &[u8], body: &[u8], stack: &'a mut [MaybeUninit<u8>]) -> &'a [u8] {
    stack[..head.len()].write_copy_of_slice(head);
    stack[head.len()..head.len() + body.len()].write_copy_of_slice(body);
    // SAFETY: the two copies wrote every byte of the prefix.
    unsafe { stack[..head.len() + body.len()].assume_init_ref() }
}

/// A connected loopback pair: the writing end, and a thread reading the
/// other end until EOF, checking that what arrives is `pattern` over and
/// over; it returns how many bytes it read.
fn connection(pattern: Vec<u8>) -> io::Result<(TcpStream, thread::JoinHandle<io::Result<u64>>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let writer = TcpStream::connect(listener.local_addr()?)?;
    writer.set_nodelay(true)?;
    let (mut reader, _) = listener.accept()?;
    let drain = thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            for (i, byte) in buf[..n].iter().enumerate() {
                let at = (total + i as u64) % pattern.len() as u64;
                if *byte != pattern[at as usize] {
                    return Err(io::Error::other(format!(
                        "wrong byte at offset {}",
                        total + i as u64
                    )));
                }
            }
            total += n as u64;
        }
    });
    Ok((writer, drain))
}

/// CPU nanoseconds per write of `mode` over `writes` writes to `writer`.
fn measure(
    writer: &TcpStream,
    mode: &str,
    head: &[u8],
    body: &[u8],
    writes: usize,
) -> io::Result<f64> {
    let mut stack = vec![MaybeUninit::<u8>::uninit(); head.len() + body.len()];
    let fd = writer.as_raw_fd();
    let started = thread_cpu_ns()?;
    for _ in 0..writes {
        let n = write_once(mode, fd, head, body, &mut stack);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != head.len() + body.len() {
            return Err(io::Error::other(format!(
                "{mode}: short write of {n} bytes"
            )));
        }
    }
    Ok((thread_cpu_ns()? - started) / writes as f64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let self_test = args.first().map(String::as_str) == Some("--self-test");
    let number = |i: usize, default: usize| -> io::Result<usize> {
        match args.get(i) {
            None => Ok(default),
            Some(a) => a.parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "usage: write_syscalls [ROUNDS [WRITES_PER_ROUND]] | --self-test",
                )
            }),
        }
    };
    let (rounds, writes) = if self_test {
        (1, 1000)
    } else {
        (number(0, 15)?, number(1, 20_000)?)
    };
    if rounds == 0 || writes == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "rounds and writes must be at least 1",
        ));
    }
    let cpu = pin_to_this_cpu()?;
    println!(
        "CPU time per write (ns), median of {rounds} rounds of {writes} writes; \
         writer and reader pinned to CPU {cpu}"
    );
    print!("{:>12}", "bytes");
    for mode in MODES {
        print!("{mode:>13}");
    }
    println!();
    for (h, b) in SIZES {
        let head: Vec<u8> = (0..h).map(|i| b'A' + (i % 26) as u8).collect();
        let body: Vec<u8> = (0..b).map(|i| b'a' + (i % 26) as u8).collect();
        // One connection per size, shared by every mode in turn, so that no
        // mode pays for a fresh connection's first segments.
        let (writer, drain) = connection([&head[..], &body[..]].concat())?;
        let mut results = vec![Vec::new(); MODES.len()];
        for _ in 0..rounds {
            for (i, mode) in MODES.iter().enumerate() {
                results[i].push(measure(&writer, mode, &head, &body, writes)?);
            }
        }
        drop(writer);
        let read = drain
            .join()
            .map_err(|_| io::Error::other("reader panicked"))??;
        let expected = (rounds * MODES.len() * writes * (h + b)) as u64;
        if read != expected {
            return Err(io::Error::other(format!(
                "{h}+{b}: reader got {read} of {expected} bytes"
            )));
        }
        print!("{:>12}", format!("{h}+{b}"));
        for r in results {
            print!("{:>13.0}", median(r));
        }
        println!();
    }
    if self_test {
        println!("write_syscalls: self-test passed");
    }
    Ok(())
}
