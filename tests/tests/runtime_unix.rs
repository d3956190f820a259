//! `runtime::net::{UnixListener, UnixStream, UnixDatagram}` over real socket
//! files in a per-test temporary directory.

mod runtime_support;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use runtime::net::{UnixDatagram, UnixListener, UnixStream};
use runtime_support::{bounded, current, multi};

/// A fresh directory for one test's socket files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("rt-unix-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 20 clients echo through a listener served by 4 accept loops sharing it.
#[test]
fn echo_through_shared_listener() {
    let dir = TempDir::new("echo");
    let path = dir.path("echo.sock");
    let rt = multi(2);
    rt.block_on(bounded("unix echo", async {
        let listener = Arc::new(UnixListener::bind(&path).unwrap());
        for _ in 0..4 {
            let listener = listener.clone();
            runtime::spawn(async move {
                loop {
                    let (mut s, _) = listener.accept().await.unwrap();
                    runtime::spawn(async move {
                        let mut buf = [0u8; 1024];
                        loop {
                            match s.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => s.write_all(&buf[..n]).await.unwrap(),
                            }
                        }
                    });
                }
            });
        }
        let clients: Vec<_> = (0..20u8)
            .map(|i| {
                let path = path.clone();
                runtime::spawn(async move {
                    let mut s = UnixStream::connect(&path).await.unwrap();
                    let msg = vec![i; 10_000];
                    let (mut r, mut w) = s.split();
                    let mut back = vec![0u8; msg.len()];
                    let write = async { w.write_all(&msg).await.unwrap() };
                    let read = async { r.read_exact(&mut back).await.unwrap() };
                    join2(write, read).await;
                    assert_eq!(back, msg);
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
    }));
}

/// Dropping a Unix `OwnedWriteHalf` gives a std peer end of stream; the read
/// half still receives the reply. Peer credentials are our own process.
#[test]
fn owned_halves_and_peer_cred() {
    let dir = TempDir::new("halves");
    let path = dir.path("halves.sock");
    let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = std_listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got)
            .expect("peer never saw end of stream");
        s.write_all(b"reply").unwrap();
        got
    });
    let rt = current();
    rt.block_on(bounded("unix halves", async {
        let s = UnixStream::connect(&path).await.unwrap();
        let cred = s.peer_cred().unwrap();
        assert_eq!(cred.pid(), Some(std::process::id() as i32));
        let (mut r, mut w) = s.into_split();
        w.write_all(b"request").await.unwrap();
        drop(w);
        let mut buf = [0u8; 5];
        r.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"reply");
        assert_eq!(r.read(&mut buf).await.unwrap(), 0);
    }));
    assert_eq!(peer.join().unwrap(), b"request");
}

/// Connecting where nothing listens fails with the path in the message.
#[test]
fn connect_errors() {
    let dir = TempDir::new("errors");
    let rt = current();
    rt.block_on(async {
        let missing = dir.path("missing.sock");
        let err = UnixStream::connect(&missing).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert!(err.to_string().contains("missing.sock"), "{err}");
        let too_long = dir.path(&"x".repeat(200));
        let err = UnixStream::connect(&too_long).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    });
}

/// Datagrams between a bound and an unbound socket, and on a pair; two
/// receivers sharing a socket each get one datagram.
#[test]
fn datagrams() {
    let dir = TempDir::new("dgram");
    let path = dir.path("server.sock");
    let client_path = dir.path("client.sock");
    let rt = current();
    rt.block_on(bounded("unix datagrams", async {
        let server = Arc::new(UnixDatagram::bind(&path).unwrap());
        let client = UnixDatagram::bind(&client_path).unwrap();
        client.send_to(b"hello", &path).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from.as_pathname(), Some(client_path.as_path()));
        // Two receivers on one socket.
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let server = server.clone();
                runtime::spawn(async move {
                    let mut buf = [0u8; 16];
                    let n = server.recv(&mut buf).await.unwrap();
                    buf[..n].to_vec()
                })
            })
            .collect();
        runtime::task::yield_now().await;
        client.send_to(b"a", &path).await.unwrap();
        client.send_to(b"b", &path).await.unwrap();
        let mut got = Vec::new();
        for r in receivers {
            got.push(r.await.unwrap());
        }
        got.sort();
        assert_eq!(got, [b"a".to_vec(), b"b".to_vec()]);
        let (a, b) = UnixDatagram::pair().unwrap();
        a.send(b"xy").await.unwrap();
        assert_eq!(b.recv(&mut buf).await.unwrap(), 2);
        assert_eq!(
            b.try_recv(&mut buf).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
    }));
}

/// Polls two futures concurrently until both complete.
async fn join2<A: std::future::Future<Output = ()>, B: std::future::Future<Output = ()>>(
    a: A,
    b: B,
) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut a_done, mut b_done) = (false, false);
    std::future::poll_fn(|cx| {
        if !a_done {
            a_done = a.as_mut().poll(cx).is_ready();
        }
        if !b_done {
            b_done = b.as_mut().poll(cx).is_ready();
        }
        if a_done && b_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// With the `futures-io` feature, `UnixStream` and its halves work with the
/// `futures` extension traits: `close` sends end of stream.
#[test]
fn futures_io_on_unix_streams() {
    use futures::{AsyncReadExt, AsyncWriteExt};
    let rt = current();
    rt.block_on(bounded("futures-io unix", async {
        let (mut a, b) = UnixStream::pair().unwrap();
        let (mut r, _w) = b.into_split();
        a.write_all(b"through futures-io").await.unwrap();
        a.close().await.unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"through futures-io");
    }));
}

/// `peek` leaves data queued; vectored `try_` calls move several buffers.
#[test]
fn unix_peek_and_vectored() {
    use std::io::{IoSlice, IoSliceMut};
    let rt = current();
    rt.block_on(bounded("unix peek", async {
        let (mut a, b) = UnixStream::pair().unwrap();
        assert_eq!(
            b.try_write_vectored(&[IoSlice::new(b"01"), IoSlice::new(b"2345")])
                .unwrap(),
            6
        );
        let mut buf = [0u8; 6];
        let mut seen = 0;
        while seen < 6 {
            seen = a.peek(&mut buf).await.unwrap();
        }
        let (mut x, mut y) = ([0u8; 2], [0u8; 4]);
        let n = a
            .try_read_vectored(&mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)])
            .unwrap();
        assert_eq!((n, &x, &y), (6, b"01", b"2345"));
        drop(b);
        assert_eq!(a.read(&mut buf).await.unwrap(), 0);
    }));
}

/// A Linux abstract name unique to this test process and call (abstract
/// names live in the network namespace, not the file system: nothing to
/// clean up, but parallel test runs must not collide).
fn abstract_addr(test: &str) -> std::os::unix::net::SocketAddr {
    use std::os::linux::net::SocketAddrExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let name = format!("rt-unix-{test}-{}-{n}", std::process::id());
    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap()
}

/// A listener bound to an abstract name accepts a stream connected to it;
/// both ends report the name.
#[test]
fn stream_over_abstract_name() {
    use std::os::linux::net::SocketAddrExt;
    let addr = abstract_addr("stream");
    let name = addr.as_abstract_name().unwrap().to_vec();
    current().block_on(bounded("abstract stream", async {
        let listener = UnixListener::bind_addr(&addr).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_abstract_name(),
            Some(&name[..])
        );
        let connect = runtime::spawn({
            let addr = addr.clone();
            async move { UnixStream::connect_addr(&addr).await }
        });
        let (mut server, _) = listener.accept().await.unwrap();
        let mut client = connect.await.unwrap().unwrap();
        assert_eq!(
            client.peer_addr().unwrap().as_abstract_name(),
            Some(&name[..])
        );
        assert_eq!(
            server.local_addr().unwrap().as_abstract_name(),
            Some(&name[..])
        );
        client.write_all(b"hello").await.unwrap();
        let mut buf = [0; 5];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        // A name nobody listens on is refused, not a hang.
        let err = UnixStream::connect_addr(&abstract_addr("nobody"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    }));
}

/// Two datagram sockets bound to abstract names talk through `connect_addr`
/// and `send_to_addr`, and see each other's names.
#[test]
fn datagram_over_abstract_names() {
    use std::os::linux::net::SocketAddrExt;
    let (a_addr, b_addr) = (abstract_addr("dgram-a"), abstract_addr("dgram-b"));
    current().block_on(bounded("abstract datagram", async {
        let a = UnixDatagram::bind_addr(&a_addr).unwrap();
        let b = UnixDatagram::bind_addr(&b_addr).unwrap();
        let a_name = a_addr.as_abstract_name().unwrap();
        assert_eq!(a.local_addr().unwrap().as_abstract_name(), Some(a_name));
        a.send_to_addr(b"to b", &b_addr).await.unwrap();
        let mut buf = [0; 8];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(
            (&buf[..n], from.as_abstract_name()),
            (&b"to b"[..], Some(a_name))
        );
        b.connect_addr(&a_addr).unwrap();
        assert_eq!(b.peer_addr().unwrap().as_abstract_name(), Some(a_name));
        b.send(b"back").await.unwrap();
        assert_eq!(a.recv(&mut buf).await.unwrap(), 4);
        assert_eq!(&buf[..4], b"back");
    }));
}

/// `connect_addr` to an unnamed address is an error, not a panic; a path
/// address works like `connect`.
#[test]
fn connect_addr_unnamed_and_path() {
    let dir = TempDir::new("connect-addr");
    let path = dir.path("s.sock");
    current().block_on(bounded("connect_addr", async {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let unnamed = a.local_addr().unwrap();
        let err = UnixStream::connect_addr(&unnamed).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        let path_addr = std::os::unix::net::SocketAddr::from_pathname(&path).unwrap();
        let listener = UnixListener::bind_addr(&path_addr).unwrap();
        let client = UnixStream::connect_addr(&path_addr).await.unwrap();
        let (_server, _) = listener.accept().await.unwrap();
        assert_eq!(
            client.peer_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
    }));
}

/// As in tokio, a path that starts with a NUL byte names an abstract socket
/// (the NUL is not part of the name), for `bind`, `connect` and `send_to`.
#[test]
fn leading_nul_path_is_an_abstract_name() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("rt-unix-nul-path-{}", std::process::id());
    let path = format!("\0{name}");
    let dgram_path = format!("\0{name}-dgram");
    current().block_on(bounded("leading NUL", async {
        let listener = UnixListener::bind(&path).unwrap();
        let local = listener.local_addr().unwrap();
        assert_eq!(local.as_abstract_name(), Some(name.as_bytes()));
        let client = runtime::spawn({
            let path = path.clone();
            async move { UnixStream::connect(path).await }
        });
        let (_server, _) = listener.accept().await.unwrap();
        let client = client.await.unwrap().unwrap();
        assert_eq!(
            client.peer_addr().unwrap().as_abstract_name(),
            Some(name.as_bytes())
        );

        let server = UnixDatagram::bind(&dgram_path).unwrap();
        let unbound = UnixDatagram::unbound().unwrap();
        unbound.send_to(b"one", &dgram_path).await.unwrap();
        unbound.connect(&dgram_path).unwrap();
        unbound.send(b"two").await.unwrap();
        let mut buf = [0; 8];
        assert_eq!(server.recv(&mut buf).await.unwrap(), 3);
        assert_eq!(server.recv(&mut buf).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"two");
    }));
}
