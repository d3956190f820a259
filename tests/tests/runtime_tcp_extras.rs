//! `TcpSocket` options before connect/listen, and the stream extras: linger,
//! peek, `ready` with closed states, vectored `try_` calls, `into_std`.

mod runtime_support;

use std::io::{ErrorKind, IoSlice, IoSliceMut, Read, Write};
use std::time::Duration;

use runtime::io::Interest;
use runtime::net::{TcpListener, TcpSocket, TcpStream};
use runtime_support::{bounded, current, multi};

/// Two listeners share one port with `SO_REUSEPORT`; a client bound to a
/// chosen source address with options set before `connect` reaches them.
#[test]
fn tcp_socket_reuseport_and_options_before_connect() {
    let rt = multi(2);
    rt.block_on(bounded("tcp socket", async {
        let first = TcpSocket::new_v4().unwrap();
        first.set_reuseport(true).unwrap();
        first.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = first.local_addr().unwrap();
        let second = TcpSocket::new_v4().unwrap();
        second.set_reuseport(true).unwrap();
        second
            .bind(addr)
            .expect("SO_REUSEPORT lets a second socket bind");
        let (l1, l2) = (first.listen(16).unwrap(), second.listen(16).unwrap());
        assert_eq!(l1.local_addr().unwrap(), l2.local_addr().unwrap());

        let client = TcpSocket::new_v4().unwrap();
        client.set_nodelay(true).unwrap();
        client.set_keepalive(true).unwrap();
        client.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let source = client.local_addr().unwrap();
        let stream = client.connect(addr).await.unwrap();
        assert!(stream.nodelay().unwrap());
        assert_eq!(stream.local_addr().unwrap(), source);
        // Whichever listener the kernel picked has the connection.
        let accepted = runtime::spawn(async move {
            let a = async { l1.accept().await.map(|(_, p)| p) };
            let b = async { l2.accept().await.map(|(_, p)| p) };
            race(a, b).await
        });
        assert_eq!(accepted.await.unwrap().unwrap(), source);
    }));
}

/// Without a listener, `TcpSocket::connect` is refused, with the address in
/// the message.
#[test]
fn tcp_socket_connect_refused() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let rt = current();
    let err = rt
        .block_on(bounded(
            "refused",
            TcpSocket::new_v4().unwrap().connect(addr),
        ))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

/// `set_linger(Some(ZERO))`: dropping the stream resets the connection, and
/// a std peer's read fails with `ConnectionReset` instead of seeing EOF.
#[test]
fn linger_zero_resets_on_drop() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let rt = current();
    rt.block_on(bounded("linger", async {
        let s = TcpStream::connect(&addr).await.unwrap();
        s.set_linger(Some(Duration::ZERO)).unwrap();
        assert_eq!(s.linger().unwrap(), Some(Duration::ZERO));
        drop(s);
    }));
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let err = peer.read(&mut [0u8; 8]).expect_err("expected a reset");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
}

/// `ready` reports the peer's half-close as `is_read_closed`; `peek` leaves
/// data for the next read; vectored `try_` calls move several buffers.
#[test]
fn ready_peek_and_vectored() {
    let rt = current();
    rt.block_on(bounded("ready/peek/vectored", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut s = TcpStream::connect(addr).await.unwrap();
        let (peer, _) = listener.accept().await.unwrap();

        s.writable().await.unwrap();
        let n = s
            .try_write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cde")])
            .unwrap();
        assert_eq!(n, 5);
        let mut peer_std = peer.into_std().unwrap();
        peer_std.set_nonblocking(false).unwrap();
        peer_std
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut got = [0u8; 5];
        peer_std.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"abcde");

        peer_std.write_all(b"0123456789").unwrap();
        let mut buf = [0u8; 10];
        let mut seen = 0;
        while seen < 10 {
            seen = s.peek(&mut buf).await.unwrap();
        }
        let (mut a, mut b) = ([0u8; 4], [0u8; 6]);
        let n = s
            .try_read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
            .unwrap();
        assert_eq!((n, &a, &b), (10, b"0123", b"456789"));

        peer_std.shutdown(std::net::Shutdown::Write).unwrap();
        loop {
            let ready = s.ready(Interest::READABLE).await.unwrap();
            if ready.is_read_closed() {
                break;
            }
            // Until the reactor has delivered the peer's FIN, the stream may
            // say readable (and even read end of stream) without the closed
            // bit: `ready` yields now and then, so the reactor does run.
            match s.try_read(&mut buf) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("try_read: {e}"),
            }
        }
        assert_eq!(s.read(&mut buf).await.unwrap(), 0);
    }));
}

/// `into_std` deregisters: the socket can be wrapped again with `from_std`.
#[test]
fn into_std_and_back() {
    let rt = current();
    rt.block_on(bounded("into_std", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listener = TcpListener::from_std(listener.into_std().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let s = TcpStream::connect(addr).await.unwrap();
        let mut s = TcpStream::from_std(s.into_std().unwrap()).unwrap();
        let (mut peer, _) = listener.accept().await.unwrap();
        s.write_all(b"round trip").await.unwrap();
        let mut buf = [0u8; 10];
        peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"round trip");
    }));
}

/// The first of two futures to finish.
async fn race<T, A: std::future::Future<Output = T>, B: std::future::Future<Output = T>>(
    a: A,
    b: B,
) -> T {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
            return std::task::Poll::Ready(v);
        }
        b.as_mut().poll(cx)
    })
    .await
}
