//! `accept` when the process is out of file descriptors. Alone in its
//! binary: it lowers the process-wide `RLIMIT_NOFILE` and fills the fd table.

mod runtime_support;

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use runtime::net::TcpListener;
use runtime_support::{bounded, multi, nofile_limit, open_fds, set_nofile_soft};

/// Opens `/dev/null` until the fd table is full (EMFILE); returns the fds.
fn fill_fd_table() -> Vec<OwnedFd> {
    let mut fds = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => fds.push(OwnedFd::from(f)),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => return fds,
            Err(e) => panic!("unexpected error filling the fd table: {e}"),
        }
        assert!(fds.len() < 100_000, "fd table never filled");
    }
}

/// Under EMFILE, `accept().await` returns the error to the caller (it does
/// not spin or hang), and accepting works again once fds are freed.
#[test]
fn accept_under_emfile_returns_error_then_recovers() {
    let (soft, _) = nofile_limit();
    let rt = multi(2);
    rt.block_on(bounded("accept under EMFILE", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Connect with plain std sockets (the kernel completes the handshake
        // into the backlog without an accept).
        let _c1 = std::net::TcpStream::connect(addr).unwrap();
        let _c2 = std::net::TcpStream::connect(addr).unwrap();
        // Leave little room, then fill it.
        set_nofile_soft((open_fds() + 32) as u64);
        let fillers = fill_fd_table();
        let t = Instant::now();
        let err = runtime::time::timeout(Duration::from_secs(10), listener.accept())
            .await
            .expect("accept under EMFILE hung instead of returning the error")
            .expect_err("accept succeeded with a full fd table");
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "got {err:?}");
        assert!(t.elapsed() < Duration::from_secs(5));
        // Again: still an error, still not a hang.
        let err = runtime::time::timeout(Duration::from_secs(10), listener.accept())
            .await
            .expect("second accept under EMFILE hung")
            .expect_err("accept succeeded with a full fd table");
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE));
        // Free the fds: the pending connections are accepted now (the
        // readiness was not lost while we were out of fds).
        drop(fillers);
        set_nofile_soft(soft);
        for _ in 0..2 {
            let (s, peer) = runtime::time::timeout(Duration::from_secs(10), listener.accept())
                .await
                .expect("accept hung after fds were freed")
                .expect("accept failed after fds were freed");
            assert!(peer.ip().is_loopback());
            drop(s);
        }
        // And a brand-new connection is accepted too.
        let _c3 = std::net::TcpStream::connect(addr).unwrap();
        let (_s, _) = runtime::time::timeout(Duration::from_secs(10), listener.accept())
            .await
            .expect("accept of a new connection hung")
            .unwrap();
    }));
    set_nofile_soft(soft);
}
