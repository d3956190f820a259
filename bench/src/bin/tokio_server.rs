//! The reverse protocol (`line` framing) written idiomatically on tokio's multi-thread
//! runtime: one task per connection, an 8 KiB read buffer per connection, every complete line
//! in the buffer answered with one `write_all`. Used as the tokio column of the network
//! benchmarks.
//!
//! Usage: `tokio_server [PORT] [--bind IP] [--workers N] [--max-line N]`

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
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        port: 9090,
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        max_line: proto::MAX_LINE,
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
            "-h" | "--help" => {
                println!("usage: tokio_server [PORT] [--bind IP] [--workers N] [--max-line N]");
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
    if let Err(e) = rt.block_on(serve(addr, args.workers, args.max_line)) {
        eprintln!("tokio_server: {e}");
        std::process::exit(1);
    }
}

async fn serve(addr: SocketAddr, workers: usize, max_line: usize) -> io::Result<()> {
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
        tokio::spawn(async move {
            let _ = handle(stream, max_line).await;
        });
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
