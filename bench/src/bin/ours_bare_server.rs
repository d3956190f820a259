//! The reverse protocol on our runtime with nothing but the protocol: the same handler as
//! `tokio_server --pooled` (an idle connection is a task holding its socket and, at most, a
//! partial line; a 16 KiB read buffer is borrowed from a per-thread pool while reading), no
//! limits, timers, statistics or shutdown. Its idle memory per connection is what the
//! runtime itself costs; the production `server` minus this is the server's own state.
//!
//! Usage: `ours_bare_server [PORT] [--workers N] [--max-line N]`

#![deny(clippy::undocumented_unsafe_blocks)]

use bench::proto::{self, Action};
use runtime::net::{TcpListener, TcpStream};
use std::io;

fn main() {
    let mut port = 9090u16;
    let mut workers = 1usize;
    let mut max_line = proto::MAX_LINE;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let parsed = match a.as_str() {
            "--workers" => it.next().and_then(|v| v.parse().ok()).map(|w| workers = w),
            "--max-line" => it.next().and_then(|v| v.parse().ok()).map(|m| max_line = m),
            p if !p.starts_with('-') => p.parse().ok().map(|p| port = p),
            _ => None,
        };
        if parsed.is_none() || workers == 0 {
            eprintln!("usage: ours_bare_server [PORT] [--workers N] [--max-line N]");
            std::process::exit(2);
        }
    }
    let _ = bench::sys::raise_nofile();
    let rt = match runtime::Builder::new().worker_threads(workers).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ours_bare_server: cannot start runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(serve(port, max_line)) {
        eprintln!("ours_bare_server: {e}");
        std::process::exit(1);
    }
}

async fn serve(port: u16, max_line: usize) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                runtime::spawn(async move {
                    let _ = handle(stream, max_line).await;
                });
            }
            Err(e) => {
                // Out of descriptors, say: back off instead of spinning.
                eprintln!("ours_bare_server: accept: {e}");
                runtime::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

thread_local! {
    /// Read buffers of this worker thread, lent to one connection at a time.
    static POOL: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

async fn handle(stream: TcpStream, max_line: usize) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut partial: Vec<u8> = Vec::new();
    loop {
        stream.readable().await?;
        let mut out = Vec::new();
        let mut done = false;
        {
            // Borrowed for the reads only: no await while it is held.
            let mut buf = POOL
                .with(|p| p.borrow_mut().pop())
                .unwrap_or_else(|| vec![0; 16 * 1024]);
            loop {
                match stream.try_read(&mut buf) {
                    Ok(0) => {
                        proto::finish_tail(&partial, &mut out);
                        done = true;
                        break;
                    }
                    Ok(n) => {
                        partial.extend_from_slice(&buf[..n]);
                        let (used, action) = proto::process_lines(&partial, &mut out, max_line);
                        partial.drain(..used);
                        if action == Action::Close {
                            done = true;
                            break;
                        }
                        if n < buf.len() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            POOL.with(|p| p.borrow_mut().push(buf));
        }
        if partial.is_empty() {
            partial = Vec::new();
        }
        let mut written = 0;
        while written < out.len() {
            match stream.try_write(&out[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => stream.writable().await?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if done {
            // Dropping the stream closes it: every reply has been handed to the kernel.
            return Ok(());
        }
    }
}
