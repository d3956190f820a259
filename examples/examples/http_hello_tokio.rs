//! # http_hello_tokio: the same hyper server on tokio, for comparison
//!
//! What it teaches: nothing new about our runtime — it is the yardstick.
//! It is `http_hello` with tokio in place of `runtime`, set up the way
//! hyper's own documentation does it (`hyper_util::rt::{TokioIo,
//! TokioTimer}`): same service, same HTTP/1 builder options, same
//! `TCP_NODELAY`, one task per connection, worker threads = cores (or
//! `WORKERS`). `examples/http-load.sh` runs both under `wrk` and prints
//! their figures side by side.
//!
//! ```text
//! cargo run --release --example http_hello_tokio              # serve on 127.0.0.1:3001
//! cargo run --release --example http_hello_tokio -- 8081      # ... or on another port
//! cargo run --example http_hello_tokio -- --self-test         # port 0, drive it, exit 0
//! ```

use std::convert::Infallible;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"hello world"))))
}

async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, _peer) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .serve_connection(TokioIo::new(stream), service_fn(hello));
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

fn build_runtime() -> io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = std::env::var("WORKERS").ok().and_then(|w| w.parse().ok()) {
        builder.worker_threads(n);
    }
    builder.build()
}

fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--self-test") {
        return self_test();
    }
    let port: u16 = match arg {
        None => 3001,
        Some(p) => p.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "usage: http_hello_tokio [PORT | --self-test]",
            )
        })?,
    };
    let rt = build_runtime()?;
    rt.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!(
            "http_hello_tokio: hyper on tokio, listening on http://{} ({} workers)",
            listener.local_addr()?,
            rt.metrics().num_workers()
        );
        serve(listener).await
    })
}

/// A blocking client (plain `std::net`): 10 requests on one connection, the
/// last with `Connection: close`.
fn client(addr: SocketAddr) -> io::Result<()> {
    let stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    for i in 0..10 {
        let close = if i == 9 { "Connection: close\r\n" } else { "" };
        write!(writer, "GET / HTTP/1.1\r\nHost: {addr}\r\n{close}\r\n")?;
        let mut status = String::new();
        reader.read_line(&mut status)?;
        let mut length = None;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse::<usize>().ok();
                }
            }
        }
        let mut body = vec![0u8; length.unwrap_or(0)];
        reader.read_exact(&mut body)?;
        if status.trim_end() != "HTTP/1.1 200 OK" || body != b"hello world" {
            return Err(io::Error::other(format!(
                "request {i}: {status:?} {body:?}"
            )));
        }
    }
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest)?;
    if !rest.is_empty() {
        return Err(io::Error::other("unexpected bytes after the last response"));
    }
    Ok(())
}

fn self_test() -> io::Result<()> {
    let rt = build_runtime()?;
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    rt.spawn(serve(listener));
    let clients: Vec<_> = (0..20)
        .map(|_| std::thread::spawn(move || client(addr)))
        .collect();
    for c in clients {
        c.join()
            .map_err(|_| io::Error::other("client panicked"))??;
    }
    println!("http_hello_tokio: self-test passed (20 clients x 10 requests)");
    Ok(())
}
