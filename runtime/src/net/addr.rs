//! Address resolution that never blocks a worker thread.
//!
//! Literal addresses (`"127.0.0.1:80"`, a `SocketAddr`, `(ip, port)`) resolve
//! immediately. Anything that needs a name lookup (`"localhost:80"`) runs
//! `getaddrinfo` on the blocking pool.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::primitives::plain::Mutex;
use crate::JoinError;

/// Something that resolves to one or more socket addresses, like
/// [`std::net::ToSocketAddrs`] but without blocking the runtime: host names are
/// looked up on the blocking pool.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let a = runtime::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let b = runtime::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
///     let c = runtime::net::TcpListener::bind("localhost:0").await.unwrap();
///     // A reference works as well as the address itself.
///     let addr = a.local_addr().unwrap();
///     let d = runtime::net::TcpStream::connect(&addr).await.unwrap();
///     # drop((a, b, c, d));
/// });
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use super::*;

    /// How the addresses are obtained.
    pub enum Resolve {
        Ready(io::Result<Vec<SocketAddr>>),
        Lookup(Lookup),
    }

    /// The answer of a name lookup running on the blocking pool.
    pub struct Lookup(pub(super) Arc<LookupSlot>);

    pub trait Sealed {
        fn resolve(self) -> Resolve;
    }
}

use sealed::{Resolve, Sealed};

pub(crate) async fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    match addr.resolve() {
        Resolve::Ready(r) => r,
        Resolve::Lookup(lookup) => lookup.await,
    }
}

/// Tries each resolved address in turn with `f`; the last error if none works.
pub(crate) async fn each_addr<A: ToSocketAddrs, R>(
    addr: A,
    mut f: impl FnMut(SocketAddr) -> io::Result<R>,
) -> io::Result<R> {
    let mut last = None;
    for a in resolve(addr).await? {
        match f(a) {
            Ok(r) => return Ok(r),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_address))
}

/// The error for a name that resolved to nothing.
pub(crate) fn no_address() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the address resolved to no socket address",
    )
}

/// Starts looking `host` up on the blocking pool. It runs there as a plain
/// closure rather than a `spawn_blocking` task: the answer comes back through
/// a [`LookupSlot`], and the crate compiles no task code for it.
fn lookup(host: String) -> Resolve {
    let slot = Arc::new(LookupSlot::default());
    let reply = Reply(Some(slot.clone()));
    let run = move || {
        let answer = std::panic::catch_unwind(|| {
            std::net::ToSocketAddrs::to_socket_addrs(&host)
                .map(Iterator::collect)
                .map_err(|e| crate::sys::context(e, format_args!("resolving {host:?}")))
        });
        // A panic is reported as a `spawn_blocking` task's would be.
        reply.send(answer.unwrap_or_else(|p| Err(io::Error::from(JoinError::panic(p)))));
    };
    crate::context::with_current("runtime::spawn_blocking", |h| {
        h.spawn_blocking_call(Box::new(run))
    });
    Resolve::Lookup(sealed::Lookup(slot))
}

/// Where a lookup leaves its answer, and the waker of the task awaiting it.
#[derive(Default)]
pub(crate) struct LookupSlot(Mutex<LookupState>);

#[derive(Default)]
struct LookupState {
    answer: Option<io::Result<Vec<SocketAddr>>>,
    waker: Option<Waker>,
}

impl LookupSlot {
    fn complete(&self, answer: io::Result<Vec<SocketAddr>>) {
        let waker = {
            let mut state = self.0.lock();
            state.answer = Some(answer);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The pool thread's end of a lookup. Dropped unsent (the pool shut down
/// before running it), it answers with the error a cancelled
/// `spawn_blocking` task gave.
struct Reply(Option<Arc<LookupSlot>>);

impl Reply {
    fn send(mut self, answer: io::Result<Vec<SocketAddr>>) {
        if let Some(slot) = self.0.take() {
            slot.complete(answer);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            slot.complete(Err(io::Error::from(JoinError::cancelled())));
        }
    }
}

impl Future for sealed::Lookup {
    type Output = io::Result<Vec<SocketAddr>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.0 .0.lock();
        match state.answer.take() {
            Some(answer) => Poll::Ready(answer),
            None => {
                match &mut state.waker {
                    Some(w) => w.clone_from(cx.waker()),
                    None => state.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

macro_rules! literal {
    ($($t:ty),*) => {$(
        impl ToSocketAddrs for $t {}
        impl Sealed for $t {
            fn resolve(self) -> Resolve {
                Resolve::Ready(std::net::ToSocketAddrs::to_socket_addrs(&self).map(Iterator::collect))
            }
        }
        // `connect(&addr)` as well as `connect(addr)`, as with std and tokio.
        impl ToSocketAddrs for &$t {}
        impl Sealed for &$t {
            fn resolve(self) -> Resolve {
                (*self).resolve()
            }
        }
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for &[SocketAddr] {}
impl Sealed for &[SocketAddr] {
    fn resolve(self) -> Resolve {
        Resolve::Ready(Ok(self.to_vec()))
    }
}

impl ToSocketAddrs for &str {}
impl Sealed for &str {
    fn resolve(self) -> Resolve {
        match self.parse::<SocketAddr>() {
            Ok(a) => Resolve::Ready(Ok(vec![a])),
            Err(_) => lookup(self.to_string()),
        }
    }
}

impl ToSocketAddrs for String {}
impl Sealed for String {
    fn resolve(self) -> Resolve {
        self.as_str().resolve()
    }
}

impl ToSocketAddrs for &String {}
impl Sealed for &String {
    fn resolve(self) -> Resolve {
        self.as_str().resolve()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl Sealed for (&str, u16) {
    fn resolve(self) -> Resolve {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => Resolve::Ready(Ok(vec![SocketAddr::new(ip, self.1)])),
            Err(_) => lookup(format!("{}:{}", self.0, self.1)),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl Sealed for (String, u16) {
    fn resolve(self) -> Resolve {
        (self.0.as_str(), self.1).resolve()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use super::{lookup, Resolve};

    /// A lookup still queued when the runtime shuts its blocking pool down
    /// fails as a cancelled `spawn_blocking` task did, instead of leaving its
    /// awaiter pending forever.
    #[test]
    fn queued_lookup_fails_when_the_pool_shuts_down() {
        let rt = crate::Builder::new()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        // Take the pool's only thread, so that the lookup stays queued.
        let (started_tx, started) = std::sync::mpsc::channel();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let _busy = rt.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            let _ = held.recv();
        });
        started.recv().unwrap();
        let mut pending = {
            let _guard = rt.handle().enter();
            match lookup("localhost:80".to_string()) {
                Resolve::Lookup(pending) => pending,
                Resolve::Ready(_) => unreachable!("a host name is looked up"),
            }
        };
        rt.shutdown_background();
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut pending).poll(&mut cx) {
            Poll::Ready(Err(e)) => assert_eq!(e.to_string(), "task was cancelled"),
            other => panic!("expected the cancellation error, got {other:?}"),
        }
        release.send(()).unwrap();
    }
}
