//! The reverse protocol (`line` framing) written idiomatically on tokio's multi-thread
//! runtime: one task per connection, an 8 KiB read buffer per connection, every complete line
//! in the buffer answered with one `write_all`. Used as the tokio column of the network
//! benchmarks.
//!
//! `--pooled` switches to the buffer policy of our `server`: an idle connection holds no
//! buffer; it waits for readability with nothing but its socket and a partial line (if any),
//! then borrows a 16 KiB read buffer from a per-thread pool only while it reads, and gives it
//! back before waiting again. The idle-memory benchmark runs both, so the difference between
//! the 8 KiB buffer and the runtime itself shows.
//!
//! Usage: `tokio_server [PORT] [--bind IP] [--workers N] [--max-line N] [--pooled]`

#![deny(clippy::undocumented_unsafe_blocks)]

use bench::proto::{self, Action};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Args {
    port: u16,
    bind: IpAddr,
    workers: usize,
    max_line: usize,
    pooled: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        port: 9090,
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        max_line: proto::MAX_LINE,
        pooled: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--workers" => {
                a.workers = val("--workers")?
                    .parse()
                    .map_err(|e| format!("--workers: {e}"))?
            }
            "--bind" => a.bind = val("--bind")?.parse().map_err(|e| format!("--bind: {e}"))?,
            "--max-line" => {
                a.max_line = val("--max-line")?
                    .parse()
                    .map_err(|e| format!("--max-line: {e}"))?
            }
            "--pooled" => a.pooled = true,
            "-h" | "--help" => {
                println!(
                    "usage: tokio_server [PORT] [--bind IP] [--workers N] [--max-line N] [--pooled]"
                );
                std::process::exit(0);
            }
            p if !p.starts_with('-') => a.port = p.parse().map_err(|e| format!("port: {e}"))?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if a.workers == 0 {
        return Err("--workers must be at least 1".into());
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tokio_server: {e}");
            std::process::exit(2);
        }
    };
    let _ = bench::sys::raise_nofile();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio_server: cannot start runtime: {e}");
            std::process::exit(1);
        }
    };
    let addr = SocketAddr::new(args.bind, args.port);
    if let Err(e) = rt.block_on(serve(addr, args.workers, args.max_line, args.pooled)) {
        eprintln!("tokio_server: {e}");
        std::process::exit(1);
    }
}

async fn serve(addr: SocketAddr, workers: usize, max_line: usize, pooled: bool) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    eprintln!("tokio_server listening on {addr}, {workers} workers, line framing");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                eprintln!("tokio_server: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if pooled {
            tokio::spawn(async move {
                let _ = handle_pooled(stream, max_line).await;
            });
        } else {
            tokio::spawn(async move {
                let _ = handle(stream, max_line).await;
            });
        }
    }
}

async fn handle(mut stream: TcpStream, max_line: usize) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 8 * 1024];
    let mut filled = 0;
    let mut out = Vec::new();
    loop {
        if filled == buf.len() {
            // Room for one maximal line (content + CR LF) plus a read's worth.
            let cap = (buf.len() * 2).min(max_line + 2 + 8 * 1024);
            buf.resize(cap, 0);
        }
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            out.clear();
            proto::finish_tail(&buf[..filled], &mut out);
            stream.write_all(&out).await?;
            return stream.shutdown().await;
        }
        filled += n;
        out.clear();
        let (used, action) = proto::process_lines(&buf[..filled], &mut out, max_line);
        if !out.is_empty() {
            stream.write_all(&out).await?;
        }
        if action == Action::Close {
            return stream.shutdown().await;
        }
        buf.copy_within(used..filled, 0);
        filled -= used;
    }
}

thread_local! {
    /// Read buffers of this worker thread, lent to one connection at a time.
    static POOL: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

const POOLED_READ: usize = 16 * 1024;

/// `--pooled`: our server's buffer policy on tokio (see the module comment).
async fn handle_pooled(mut stream: TcpStream, max_line: usize) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // Bytes of a line whose LF has not arrived yet; no capacity while there are none.
    let mut partial: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    loop {
        stream.readable().await?;
        out.clear();
        let mut eof = false;
        let mut close = false;
        {
            // Borrowed for the reads only: no await happens while it is held, so it never
            // travels to another thread or sits in an idle connection.
            let mut buf = POOL
                .with(|p| p.borrow_mut().pop())
                .unwrap_or_else(|| vec![0; POOLED_READ]);
            loop {
                match stream.try_read(&mut buf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        partial.extend_from_slice(&buf[..n]);
                        let (used, action) = proto::process_lines(&partial, &mut out, max_line);
                        partial.drain(..used);
                        if action == Action::Close {
                            close = true;
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
        if eof {
            proto::finish_tail(&partial, &mut out);
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
        }
        out = Vec::new();
        if eof || close {
            return stream.shutdown().await;
        }
    }
}
