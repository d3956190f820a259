//! Address resolution that never blocks a worker thread.
//!
//! Literal addresses (`"127.0.0.1:80"`, a `SocketAddr`, `(ip, port)`) resolve
//! immediately. Anything that needs a name lookup (`"localhost:80"`) runs
//! `getaddrinfo` on the blocking pool.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::JoinHandle;

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
        Lookup(JoinHandle<io::Result<Vec<SocketAddr>>>),
    }

    pub trait Sealed {
        fn resolve(self) -> Resolve;
    }
}

use sealed::{Resolve, Sealed};

pub(crate) async fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    match addr.resolve() {
        Resolve::Ready(r) => r,
        Resolve::Lookup(handle) => handle.await.map_err(io::Error::from)?,
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

fn lookup(host: String) -> Resolve {
    let handle = crate::spawn_blocking(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&host)
            .map(Iterator::collect)
            .map_err(|e| crate::sys::context(e, format_args!("resolving {host:?}")))
    });
    Resolve::Lookup(handle)
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
