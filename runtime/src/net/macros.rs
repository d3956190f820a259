//! The macros the socket families share: per-type doc examples for the
//! generated methods, and the descriptor trait impls every socket has.
//!
//! The families (`Tcp*`, `Unix*`, `UdpSocket`) have the same methods with the
//! same meaning; each is written once (`net::stream`, `net::datagram`,
//! `net::ready`, `net::split`) and stamped onto every type by a macro. The
//! public methods stay plain, non-generic inherent methods, so users see the
//! same API and their crates compile none of it: the code is generated and
//! compiled here, once per socket type.

/// The doc example of a generated method, run against the type it is
/// generated for. Each kind's hidden prelude makes `s` (the socket the method
/// is called on) and `peer` (connected to it), so one example body serves
/// every family. On a half (`half of TcpStream`) it is a link to the stream's
/// method instead: the same example on every half would be eight more
/// doctests per method for no new coverage (the halves reach the stream
/// through `AsStream::stream` alone).
macro_rules! example {
    (TcpStream, $method:literal, $body:expr) => {
        concat!(
            "\n```\n",
            "# let rt = runtime::Runtime::new().unwrap();\n",
            "# rt.block_on(async {\n",
            "# let l = runtime::net::TcpListener::bind(\"127.0.0.1:0\").await.unwrap();\n",
            "# let mut s = runtime::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();\n",
            "# let (mut peer, _) = l.accept().await.unwrap();\n",
            $body,
            "# });\n```\n"
        )
    };
    (UnixStream, $method:literal, $body:expr) => {
        concat!(
            "\n```\n",
            "# let rt = runtime::Runtime::new().unwrap();\n",
            "# rt.block_on(async {\n",
            "# let (mut s, mut peer) = runtime::net::UnixStream::pair().unwrap();\n",
            $body,
            "# });\n```\n"
        )
    };
    (UdpSocket, $method:literal, $body:expr) => {
        concat!(
            "\n```\n",
            "# let rt = runtime::Runtime::new().unwrap();\n",
            "# rt.block_on(async {\n",
            "# let s = runtime::net::UdpSocket::bind(\"127.0.0.1:0\").await.unwrap();\n",
            "# let peer = runtime::net::UdpSocket::bind(\"127.0.0.1:0\").await.unwrap();\n",
            "# s.connect(peer.local_addr().unwrap()).await.unwrap();\n",
            "# peer.connect(s.local_addr().unwrap()).await.unwrap();\n",
            $body,
            "# });\n```\n"
        )
    };
    (UnixDatagram, $method:literal, $body:expr) => {
        concat!(
            "\n```\n",
            "# let rt = runtime::Runtime::new().unwrap();\n",
            "# rt.block_on(async {\n",
            "# let (s, peer) = runtime::net::UnixDatagram::pair().unwrap();\n",
            $body,
            "# });\n```\n"
        )
    };
    (half of $stream:ident, $method:literal, $body:expr) => {
        concat!(
            "\nSame as [`",
            stringify!($stream),
            "::",
            $method,
            "`](crate::net::",
            stringify!($stream),
            "::",
            $method,
            "), which has an example."
        )
    };
}

/// `AsRawFd`, `AsFd` and `Debug` (the descriptor and the named address
/// getters, e.g. `"peer" peer_addr`) for a socket type whose field `io` is
/// an `AsyncFd`.
macro_rules! fd_impls {
    ($ty:ident $(, $field:literal $getter:ident)*) => {
        impl ::std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                self.io.as_raw_fd()
            }
        }

        impl ::std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                ::std::os::fd::AsFd::as_fd(self.io.get_ref())
            }
        }

        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("fd", &::std::os::fd::AsRawFd::as_raw_fd(self))
                    $(.field($field, &self.$getter().ok()))*
                    .finish()
            }
        }
    };
}

pub(crate) use {example, fd_impls};
