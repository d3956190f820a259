//! Helpers shared by the `ecosystem_*` tests (each test binary includes this
//! module with `mod ecosystem_support;`).
//!
//! These tests prove that executor-agnostic crates written by other people
//! (futures-util, futures-channel, async-channel, async-lock,
//! event-listener) run unchanged on our runtime.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;

use runtime::net::{TcpListener, TcpStream};

#[path = "../runtime_support/mod.rs"]
mod runtime_support;

// Each test binary uses a different subset.
#[allow(unused_imports)]
pub use runtime_support::{current, multi, TEST_TIMEOUT};

/// Runs `fut` to completion on `rt`, failing the test if it takes longer
/// than `TEST_TIMEOUT`.
pub fn run_bounded<F: Future>(rt: &runtime::Runtime, what: &str, fut: F) -> F::Output {
    rt.block_on(async {
        match runtime::time::timeout(TEST_TIMEOUT, fut).await {
            Ok(out) => out,
            Err(_) => panic!("{what}: did not finish within {TEST_TIMEOUT:?}"),
        }
    })
}

/// A connected pair of sockets over loopback: (client side, server side).
pub async fn socket_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let connect = runtime::spawn(async move { TcpStream::connect(addr).await });
    let (server, _) = listener.accept().await.expect("accept");
    let client = connect.await.expect("join").expect("connect");
    (client, server)
}

/// A listener on an ephemeral loopback port and its address.
pub async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().unwrap();
    (l, addr)
}

/// Deterministic pseudo-random bytes (xorshift), so corrupted, reordered or
/// lost data shows up in comparisons.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
