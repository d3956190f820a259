//! # http_hello: hyper's HTTP/1 server on our runtime
//!
//! What it teaches: that `runtime` is a drop-in executor for software nobody
//! here wrote. hyper 1.x does not depend on any runtime: it asks for a few
//! small traits, and the module `rt_adapter` below implements them on ours
//! in about 100 lines —
//!
//! * `hyper::rt::Read` / `hyper::rt::Write` for our `TcpStream` (hyper reads
//!   into a possibly uninitialised buffer, which `poll_read_uninit` takes
//!   as it is, with no zeroing);
//! * `hyper::rt::Executor`, which spawns on our runtime (hyper's HTTP/2 and
//!   client use it for background tasks; here the accept loop uses it too);
//! * `hyper::rt::Timer`, on our `sleep`, so hyper's header-read timeout
//!   works.
//!
//! The server answers every request with `hello world`, keeping connections
//! alive. `examples/http-load.sh` drives it with `wrk` next to the same
//! server on tokio (`http_hello_tokio`).
//!
//! ```text
//! cargo run --release --example http_hello               # serve on 127.0.0.1:3000
//! cargo run --release --example http_hello -- 8080       # ... or on another port
//! WORKERS=2 cargo run --release --example http_hello     # worker threads (default: cores)
//! cargo run --example http_hello -- --self-test          # port 0, drive it with clients, exit 0
//! curl http://127.0.0.1:3000/
//! kill -USR1 <pid>                  # print the runtime's counters (one `metrics:` line)
//! ```

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::rt::Executor;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use runtime::net::{TcpListener, TcpStream};

/// The adapter between hyper's runtime traits and ours.
mod rt_adapter {
    use std::future::Future;
    use std::io;
    use std::net::Shutdown;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::{Duration, Instant};

    use hyper::rt::{ReadBufCursor, Sleep, Timer};
    use runtime::net::TcpStream;

    /// Our `TcpStream`, seen by hyper as a connection.
    pub struct HyperIo(pub TcpStream);

    // ANCHOR: hyper_read
    impl hyper::rt::Read for HyperIo {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            mut buf: ReadBufCursor<'_>,
        ) -> Poll<io::Result<()>> {
            // hyper's buffer may be uninitialised: a `&mut [u8]` over it
            // would be undefined behaviour even if `recv` only writes to it,
            // and zeroing it first (8 KiB, on every call, ready or not) cost
            // ~9 % more CPU per request than tokio (see the book's "hyper on
            // our runtime"). `poll_read_uninit` hands it to `recv` as is.
            // SAFETY: we never de-initialise anything: only the kernel
            // writes into the unfilled region, and we advance over exactly
            // the bytes it wrote.
            let n = std::task::ready!(self.0.poll_read_uninit(cx, unsafe { buf.as_mut() }))?;
            // SAFETY: `poll_read_uninit` initialised the first `n` bytes.
            unsafe { buf.advance(n) };
            Poll::Ready(Ok(()))
        }
    }
    // ANCHOR_END: hyper_read

    impl hyper::rt::Write for HyperIo {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.0.poll_write(cx, buf)
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.0.poll_write_vectored(cx, bufs)
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(())) // nothing buffered here: the kernel has it
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(match self.0.shutdown(Shutdown::Write) {
                Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                r => r,
            })
        }
    }

    /// Spawns hyper's futures as tasks of the current runtime.
    #[derive(Clone, Copy, Debug)]
    pub struct RtExecutor;

    impl<F> hyper::rt::Executor<F> for RtExecutor
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        fn execute(&self, fut: F) {
            runtime::spawn(fut);
        }
    }

    /// hyper's timer on our `runtime::time`.
    #[derive(Clone, Copy, Debug)]
    pub struct RtTimer;

    /// Our `Sleep` wrapped so it can implement hyper's `Sleep` trait.
    struct RtSleep(runtime::time::Sleep);

    impl Future for RtSleep {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            Pin::new(&mut self.0).poll(cx) // `runtime::time::Sleep` is `Unpin`
        }
    }

    impl Sleep for RtSleep {}

    impl Timer for RtTimer {
        fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
            Box::pin(RtSleep(runtime::time::sleep(duration)))
        }

        fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
            Box::pin(RtSleep(runtime::time::sleep_until(deadline)))
        }

        fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
            // Move the existing timer rather than allocating a new one.
            match sleep.as_mut().downcast_mut_pin::<RtSleep>() {
                Some(ours) => ours.get_mut().0.reset(new_deadline),
                None => *sleep = self.sleep_until(new_deadline),
            }
        }
    }
}

use rt_adapter::{HyperIo, RtExecutor, RtTimer};

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"hello world"))))
}

/// Accepts connections and hands each to hyper, as a task of our runtime.
async fn serve(listener: TcpListener) -> io::Result<()> {
    let executor = RtExecutor;
    loop {
        let (stream, _peer) = listener.accept().await?;
        // Responses are written whole; don't let Nagle hold back the last
        // segment of one while the client waits for it.
        let _ = stream.set_nodelay(true);
        let conn = http1::Builder::new()
            .timer(RtTimer)
            .header_read_timeout(Duration::from_secs(30))
            .serve_connection(HyperIo(stream), service_fn(hello));
        executor.execute(async move {
            // Errors here are a client's problem (reset, bad request...).
            let _ = conn.await;
        });
    }
}

/// Prints the runtime's counters, one `metrics: name=value ...` line, on
/// every SIGUSR1. `http-load.sh` asks before and after a load run and divides
/// the differences by the requests served: polls, parks and `epoll_wait`
/// calls per request, events per `epoll_wait`.
// ANCHOR: metrics_on_sigusr1
async fn metrics_on_sigusr1() -> io::Result<()> {
    use runtime::signal::{signal, SignalKind};
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let handle = runtime::Handle::current();
    while usr1.recv().await.is_some() {
        let m = handle.metrics();
        println!(
            "metrics: polls={} parks={} steals={} epoll_waits={} epoll_events={} tasks_spawned={}",
            m.polls, m.parks, m.steals, m.epoll_waits, m.epoll_events, m.tasks_spawned
        );
    }
    Ok(())
}
// ANCHOR_END: metrics_on_sigusr1

fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--self-test") {
        return self_test();
    }
    let port: u16 = match arg {
        None => 3000,
        Some(p) => p.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "usage: http_hello [PORT | --self-test]",
            )
        })?,
    };
    let mut builder = runtime::Builder::new();
    if let Some(n) = std::env::var("WORKERS").ok().and_then(|w| w.parse().ok()) {
        builder.worker_threads(n);
    }
    let rt = builder.build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!(
            "http_hello: hyper on runtime, listening on http://{} ({} workers)",
            listener.local_addr()?,
            rt.metrics().workers
        );
        runtime::spawn(metrics_on_sigusr1());
        serve(listener).await
    })
}

/// Reads one HTTP/1.1 response (head + `Content-Length` body) from `stream`,
/// with `buf` holding bytes already read; returns (status line, body).
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<(String, Vec<u8>)> {
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let status = lines.next().unwrap_or_default().to_string();
            let length: usize = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .ok_or_else(|| bad(format!("no content-length in {head:?}")))?;
            let start = end + 4;
            while buf.len() < start + length {
                read_more(stream, buf).await?;
            }
            let body = buf[start..start + length].to_vec();
            buf.drain(..start + length);
            return Ok((status, body));
        }
        read_more(stream, buf).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    match stream.read(&mut chunk).await? {
        0 => Err(io::ErrorKind::UnexpectedEof.into()),
        n => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
    }
}

/// One client: 10 requests on a kept-alive connection (two of them
/// pipelined), the last with `Connection: close`; every answer must be
/// `200 OK` / `hello world`, and the server must then close.
async fn client(addr: SocketAddr) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut buf = Vec::new();
    let get = |close: bool| {
        format!(
            "GET /{} HTTP/1.1\r\nHost: {addr}\r\n{}\r\n",
            if close { "bye" } else { "" },
            if close { "Connection: close\r\n" } else { "" }
        )
    };
    // Two pipelined requests in one write.
    stream
        .write_all((get(false) + &get(false)).as_bytes())
        .await?;
    let mut answered = 0;
    for i in 0..10 {
        if i >= 2 {
            stream.write_all(get(i == 9).as_bytes()).await?;
        }
        let (status, body) = read_response(&mut stream, &mut buf).await?;
        if status != "HTTP/1.1 200 OK" || body != b"hello world" {
            return Err(io::Error::other(format!(
                "request {i}: got {status:?} {:?}",
                String::from_utf8_lossy(&body)
            )));
        }
        answered += 1;
    }
    // After `Connection: close` the server hangs up.
    let mut rest = [0u8; 16];
    if stream.read(&mut rest).await? != 0 || answered != 10 {
        return Err(io::Error::other(
            "server did not close after Connection: close",
        ));
    }
    Ok(())
}

fn self_test() -> io::Result<()> {
    let rt = runtime::Runtime::new()?;
    let test = async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        runtime::spawn(serve(listener));
        let clients: Vec<_> = (0..20).map(|_| runtime::spawn(client(addr))).collect();
        for c in clients {
            c.await.map_err(io::Error::other)??;
        }
        Ok::<_, io::Error>(())
    };
    rt.block_on(runtime::time::timeout(Duration::from_secs(30), test))??;
    println!("http_hello: self-test passed (20 clients x 10 requests)");
    Ok(())
}
