//! # proxy: a TCP proxy that copies both directions at once
//!
//! What it teaches:
//!
//! * **two directions, two tasks**: each accepted connection is paired with
//!   a fresh connection to the upstream server; both sockets are split with
//!   `into_split()`, and one task copies client → upstream while another
//!   copies upstream → client. Neither direction waits for the other.
//! * **half-close propagation**: when one side finishes sending (its `read`
//!   returns 0, i.e. it sent FIN), the proxy calls `shutdown()` on the write
//!   half towards the other side, forwarding the FIN — so protocols like
//!   "send the request, close your write side, read the whole answer" work
//!   through the proxy. The connection is fully closed only when both
//!   directions are done.
//! * a task's `JoinHandle` is awaited to learn how each direction ended.
//!
//! ```text
//! cargo run --example proxy                               # 127.0.0.1:7002 -> 127.0.0.1:7000
//! cargo run --example proxy -- 9002 127.0.0.1:9000        # LISTEN_PORT UPSTREAM_ADDR
//! cargo run --example proxy -- --self-test                # port 0, upstream + client in-process, exit 0
//! cargo run --example echo & cargo run --example proxy & nc 127.0.0.1 7002
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use runtime::net::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};

async fn serve(listener: TcpListener, upstream: SocketAddr) -> io::Result<()> {
    loop {
        let (client, peer) = listener.accept().await?;
        runtime::spawn(async move {
            match proxy(client, upstream).await {
                Ok((up, down)) => eprintln!("proxy: {peer}: {up} bytes up, {down} bytes down"),
                Err(e) => eprintln!("proxy: {peer}: {e}"),
            }
        });
    }
}

/// Connects to `upstream` and relays until both directions have finished.
/// Returns the bytes copied each way.
async fn proxy(client: TcpStream, upstream: SocketAddr) -> io::Result<(u64, u64)> {
    let server = TcpStream::connect(upstream).await?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = runtime::spawn(copy_then_shutdown(client_read, server_write));
    let down = runtime::spawn(copy_then_shutdown(server_read, client_write));
    let up = up.await.map_err(io::Error::other)?;
    let down = down.await.map_err(io::Error::other)?;
    // Both halves of both sockets are dropped here: the sockets close.
    Ok((up?, down?))
}

/// Copies `from` into `to` until `from` ends, then forwards the end of
/// stream (FIN) with `shutdown`.
async fn copy_then_shutdown(mut from: OwnedReadHalf, mut to: OwnedWriteHalf) -> io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                // Reset or error: close our side of the other socket too.
                let _ = to.shutdown();
                return Err(e);
            }
        };
        to.write_all(&buf[..n]).await?;
        total += n as u64;
    }
    to.shutdown()?;
    Ok(total)
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if first.as_deref() == Some("--self-test") {
        return self_test();
    }
    let usage = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "usage: proxy [LISTEN_PORT [UPSTREAM_ADDR]] | --self-test",
        )
    };
    let port: u16 = match first {
        None => 7002,
        Some(p) => p.parse().map_err(|_| usage())?,
    };
    let upstream: SocketAddr = match args.next() {
        None => "127.0.0.1:7000".parse().unwrap(),
        Some(a) => a.parse().map_err(|_| usage())?,
    };
    let rt = runtime::Runtime::new()?;
    rt.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!("proxy: {} -> {upstream}", listener.local_addr()?);
        serve(listener, upstream).await
    })
}

/// Upstream for the self-test: reads the whole request (until the client's
/// FIN, relayed by the proxy), then answers with a summary and the request
/// reversed, and closes. It only works if half-close crosses the proxy both
/// ways.
async fn upstream_server(listener: TcpListener) -> io::Result<()> {
    loop {
        let (mut s, _) = listener.accept().await?;
        runtime::spawn(async move {
            let mut request = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                    Err(_) => return,
                }
            }
            let header = format!("got {} bytes\n", request.len());
            request.reverse();
            let _ = s.write_all(header.as_bytes()).await;
            let _ = s.write_all(&request).await;
            // Dropping `s` closes it: the client sees end of stream.
        });
    }
}

fn self_test() -> io::Result<()> {
    let rt = runtime::Runtime::new()?;
    let test = async {
        let up = TcpListener::bind("127.0.0.1:0").await?;
        let up_addr = up.local_addr()?;
        runtime::spawn(upstream_server(up));
        let front = TcpListener::bind("127.0.0.1:0").await?;
        let front_addr = front.local_addr()?;
        runtime::spawn(serve(front, up_addr));

        // Several clients at once, 1 MiB each (more than the socket buffers
        // hold, so both directions must really flow concurrently).
        let clients: Vec<_> = (0..8u32)
            .map(|i| runtime::spawn(client(front_addr, i)))
            .collect();
        for c in clients {
            c.await.map_err(io::Error::other)??;
        }
        Ok::<_, io::Error>(())
    };
    rt.block_on(runtime::time::timeout(Duration::from_secs(30), test))??;
    println!("proxy: self-test passed");
    Ok(())
}

async fn client(proxy: SocketAddr, i: u32) -> io::Result<()> {
    let request: Vec<u8> = (0..1024 * 1024u32)
        .map(|n| (n.wrapping_mul(31) ^ i) as u8)
        .collect();
    let (mut r, mut w) = TcpStream::connect(proxy).await?.into_split();
    let body = request.clone();
    let sender = runtime::spawn(async move {
        w.write_all(&body).await?;
        w.shutdown() // "that's my whole request"
    });
    let mut response = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match r.read(&mut buf).await? {
            0 => break,
            n => response.extend_from_slice(&buf[..n]),
        }
    }
    sender.await.map_err(io::Error::other)??;
    let mut expected = format!("got {} bytes\n", request.len()).into_bytes();
    expected.extend(request.iter().rev());
    if response != expected {
        return Err(io::Error::other(format!(
            "client {i}: wrong response ({} bytes)",
            response.len()
        )));
    }
    Ok(())
}
