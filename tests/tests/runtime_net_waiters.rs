//! Several tasks waiting on one socket direction: every one of them is woken.
//!
//! `accept`, `readable` and `writable` take `&self`, so any number of tasks may
//! wait on the same listener or stream. These tests run on the current-thread
//! runtime so that "every waiter has registered" is a fact (a spawned task
//! counts itself and polls the wait in the same turn) rather than a hope.

mod runtime_support;

use std::future::Future;
use std::io::Write;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;

use runtime::net::{TcpListener, TcpStream};
use runtime_support::{bounded, current};

/// Lets spawned tasks run until `count` reaches `n`: each task bumps it right
/// before it polls the wait, so when this returns every one is registered.
async fn until_started(count: &AtomicUsize, n: usize) {
    while count.load(Ordering::SeqCst) < n {
        runtime::task::yield_now().await;
    }
}

/// A connected pair: our stream (with no readiness left over) and a std peer.
async fn pair() -> (TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (peer, _) = listener.accept().unwrap();
    // Nothing was sent yet: this clears any initial read readiness.
    let err = ours.try_read(&mut [0u8; 1]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    (ours, peer)
}

/// 50 tasks each accept once on one shared listener; 50 clients connect;
/// every task gets a connection.
#[test]
fn fifty_accept_loops_on_one_listener_each_get_a_connection() {
    const TASKS: usize = 50;
    let rt = current();
    rt.block_on(bounded("50 acceptors", async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let started = Arc::new(AtomicUsize::new(0));
        let acceptors: Vec<_> = (0..TASKS)
            .map(|_| {
                let listener = listener.clone();
                let started = started.clone();
                runtime::spawn(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    listener.accept().await.map(|(_, peer)| peer)
                })
            })
            .collect();
        until_started(&started, TASKS).await;
        // The backlog completes these connects without our accept running.
        let clients: Vec<_> = (0..TASKS)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let mut peers = Vec::new();
        for a in acceptors {
            peers.push(a.await.unwrap().expect("accept"));
        }
        let mut locals: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        peers.sort();
        locals.sort();
        assert_eq!(peers, locals, "each client accepted exactly once");
    }));
}

/// Two tasks wait for `readable()` on one stream; one write wakes both.
#[test]
fn two_readable_waiters_both_wake_on_one_write() {
    let rt = current();
    rt.block_on(bounded("two readable waiters", async {
        let (ours, mut peer) = pair().await;
        let ours = Arc::new(ours);
        let started = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (ours, started) = (ours.clone(), started.clone());
                runtime::spawn(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    ours.readable().await
                })
            })
            .collect();
        until_started(&started, 2).await;
        peer.write_all(b"x").unwrap();
        for w in waiters {
            w.await.unwrap().expect("readable");
        }
    }));
}

/// A waiter whose future is dropped (cancelled, e.g. by a `select`) after
/// another task registered takes nobody's wake-up with it.
#[test]
fn cancelled_waiter_does_not_lose_the_other_waiters_wake_up() {
    let rt = current();
    rt.block_on(bounded("cancelled waiter", async {
        let (ours, mut peer) = pair().await;
        let ours = Arc::new(ours);
        let started = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (ours, started) = (ours.clone(), started.clone());
            runtime::spawn(async move {
                started.fetch_add(1, Ordering::SeqCst);
                ours.readable().await
            })
        };
        until_started(&started, 1).await;
        // Register a second wait from this task, then cancel it.
        {
            let mut cancelled = pin!(ours.readable());
            std::future::poll_fn(|cx| {
                assert!(cancelled.as_mut().poll(cx).is_pending(), "nothing sent yet");
                Poll::Ready(())
            })
            .await;
        }
        peer.write_all(b"x").unwrap();
        waiter.await.unwrap().expect("readable");
    }));
}

/// Many cancelled waits leave nothing behind: the next wait still works and a
/// write still wakes it (a leaked entry would not break this, but a dangling
/// one would).
#[test]
fn many_cancelled_waits_then_a_real_one() {
    let rt = current();
    rt.block_on(bounded("cancelled waits", async {
        let (ours, mut peer) = pair().await;
        for _ in 0..1000 {
            let mut cancelled = pin!(ours.readable());
            std::future::poll_fn(|cx| {
                assert!(cancelled.as_mut().poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
        }
        peer.write_all(b"x").unwrap();
        ours.readable().await.unwrap();
        assert_eq!(ours.try_read(&mut [0u8; 4]).unwrap(), 1);
    }));
}
