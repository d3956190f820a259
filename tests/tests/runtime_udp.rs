//! `runtime::net::UdpSocket` over loopback.

mod runtime_support;

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use runtime::net::UdpSocket;
use runtime_support::{bounded, current, multi};

/// Datagrams go both ways, with `send_to`/`recv_from` and on connected
/// sockets with `send`/`recv`; `peek_from` leaves the datagram queued.
#[test]
fn datagrams_both_ways() {
    let rt = multi(2);
    rt.block_on(bounded("udp both ways", async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        for i in 0..100u32 {
            a.send_to(&i.to_be_bytes(), &ba).await.unwrap();
            let mut buf = [0u8; 8];
            let (n, _) = b.peek_from(&mut buf).await.unwrap();
            assert_eq!(n, 4);
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&i.to_be_bytes()[..], aa));
        }
        a.connect(ba).await.unwrap();
        b.connect(aa).await.unwrap();
        b.send(b"reply").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(a.recv(&mut buf).await.unwrap(), 5);
        assert_eq!(&buf[..5], b"reply");
    }));
}

/// Two tasks receive on one shared socket; two datagrams; each gets one.
#[test]
fn two_receivers_on_one_socket_each_get_a_datagram() {
    let rt = current();
    rt.block_on(bounded("two receivers", async {
        let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = sock.local_addr().unwrap();
        let started = Arc::new(AtomicUsize::new(0));
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let (sock, started) = (sock.clone(), started.clone());
                runtime::spawn(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    let mut buf = [0u8; 8];
                    let (n, _) = sock.recv_from(&mut buf).await.unwrap();
                    buf[..n].to_vec()
                })
            })
            .collect();
        while started.load(Ordering::SeqCst) < 2 {
            runtime::task::yield_now().await;
        }
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.send_to(b"one", addr).unwrap();
        sender.send_to(b"two", addr).unwrap();
        let mut got = Vec::new();
        for r in receivers {
            got.push(r.await.unwrap());
        }
        got.sort();
        assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
    }));
}

/// `try_recv` says `WouldBlock` when nothing is queued, and the next
/// `readable()` waits for a datagram; `into_std` hands the socket back.
#[test]
fn try_variants_and_into_std() {
    let rt = current();
    rt.block_on(bounded("udp try", async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let err = b.try_recv_from(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
        a.writable().await.unwrap();
        a.try_send_to(b"x", b.local_addr().unwrap()).unwrap();
        b.readable().await.unwrap();
        assert_eq!(b.try_recv_from(&mut [0u8; 8]).unwrap().0, 1);
        let std_b = b.into_std().unwrap();
        a.send_to(b"y", std_b.local_addr().unwrap()).await.unwrap();
        std_b.set_nonblocking(false).unwrap();
        std_b
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        assert_eq!(std_b.recv(&mut [0u8; 8]).unwrap(), 1);
    }));
}

/// An ICMP "port unreachable" with `IP_RECVERR` leaves an entry in the error
/// queue: `EPOLLERR` stays up while `recv` says `EAGAIN`. The first `recv`
/// reports the error; the next one must wait (and time out) instead of
/// spinning on a sticky error bit. Runs on its own thread with a watchdog,
/// because a spinning poll never returns to let a timer fire.
#[test]
fn error_queue_entry_does_not_spin_recv() {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = current();
        let out = rt.block_on(async {
            // A port with nobody behind it.
            let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let dead = closed.local_addr().unwrap();
            drop(closed);
            let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let on: libc::c_int = 1;
            // SAFETY: passes a live c_int and its size for a valid option.
            let r = unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_IP,
                    libc::IP_RECVERR,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            assert_eq!(r, 0, "IP_RECVERR: {}", std::io::Error::last_os_error());
            sock.connect(dead).await.unwrap();
            sock.send(b"anyone?").await.unwrap();
            let first = sock.recv(&mut [0u8; 8]).await;
            let err = first.expect_err("ICMP error reported");
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
            // The error-queue entry is still there; nothing else will come.
            runtime::time::timeout(Duration::from_millis(50), sock.recv(&mut [0u8; 8]))
                .await
                .is_err()
        });
        let _ = done_tx.send(out);
    });
    match done_rx.recv_timeout(Duration::from_secs(30)) {
        Ok(timed_out) => assert!(timed_out, "a datagram arrived from nowhere"),
        Err(_) => panic!("recv spun on EPOLLERR instead of waiting"),
    }
}
