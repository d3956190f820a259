//! Owned halves of a `TcpStream` against a plain `std` peer: what the peer
//! sees when a half is dropped or the halves are put back together.

mod runtime_support;

use std::io::{Read, Write};
use std::time::Duration;

use runtime::net::TcpStream;
use runtime_support::{bounded, multi};

/// Deadline for the std peer's blocking reads: a bug fails the test instead of
/// hanging it.
const PEER_DEADLINE: Duration = Duration::from_secs(30);

/// Dropping the `OwnedWriteHalf` shuts writing down (as tokio does): the std
/// peer reads what was written, then end of stream, while the read half still
/// receives the peer's reply.
#[test]
fn dropping_owned_write_half_sends_fin() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(PEER_DEADLINE)).unwrap();
        let mut got = Vec::new();
        // read_to_end returns only at end of stream (or fails at the deadline).
        s.read_to_end(&mut got)
            .expect("peer never saw end of stream");
        s.write_all(b"bye").unwrap();
        got
    });
    let rt = multi(2);
    rt.block_on(bounded("owned write half drop", async {
        let (mut r, mut w) = TcpStream::connect(addr).await.unwrap().into_split();
        w.write_all(b"hello").await.unwrap();
        drop(w);
        let mut reply = [0u8; 3];
        r.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"bye");
    }));
    assert_eq!(peer.join().unwrap(), b"hello");
}

/// `reunite` does not count as dropping the write half: the stream is whole
/// and can still write.
#[test]
fn reunited_stream_can_still_write() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(PEER_DEADLINE)).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let rt = multi(2);
    rt.block_on(bounded("reunite", async {
        let (r, mut w) = TcpStream::connect(addr).await.unwrap().into_split();
        w.write_all(b"one ").await.unwrap();
        let mut s = r.reunite(w).expect("same stream");
        s.write_all(b"two").await.expect("write after reunite");
        s.shutdown(std::net::Shutdown::Write).unwrap();
    }));
    assert_eq!(peer.join().unwrap(), b"one two");
}
